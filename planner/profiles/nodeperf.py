"""The node performance model shared by ``plan helix`` (served-throughput objective) and ``plan simulate``.

One node = ``g`` GPUs of one type holding ``k`` consecutive layers of a model. Everything here depends on that
node alone (GPU, GPUs per node, k, the model and the workload's mean lengths), never on the rest of the cluster's
GPU mix (the paper's tp(k) tables do; they stay available as ``helix.throughput: paper-table``).

* **Per-layer latency** of a batch: the measured ``helix_layer_latency`` table by the node's Helix profile name
  (``A100``, ``L4x2``), linear between grid points and never extrapolated; where the table has no rows, the
  roofline of :mod:`planner.profiles.roofline`, labelled ``roofline``. A node iteration over ``P`` prompt tokens
  and ``D`` decode tokens takes ``k x (t_prompt(P) + t_decode(D))`` (Helix profile model).
* **KV capacity** in token-layers (one token's K and V in one layer): ``(g x VRAM x u - k x W) / kv``, with ``u``
  the usable share of memory (vLLM's ``gpu_memory_utilization``, 0.9), ``W`` the layer's weight bytes and ``kv``
  the KV bytes of one token in one layer (GQA-aware).
* **Admitted batch**: the sequences whose KV fits at the workload's lengths,
  ``floor(hwm x capacity / (k x (I + O)))`` (a request reserves its prompt plus its expected output, as the
  simulator's admission does), capped by the largest measured decode batch.
* **Node throughput** (prompt + decode tokens/s) of the node alone at that batch:
  ``(I + O) / (k x t_prompt(I) + O x k x t_decode(b) / b)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from planner.errors import ProfileMissingError
from planner.profiles.db import ProfileDB
from planner.profiles.roofline import (
    RooflineParams,
    kv_bytes_per_token_layer,
    layer_decode_s,
    layer_prompt_s,
    node_peaks,
)
from planner.profiles.schema import GpuProfile, ModelProfile

TABLE = "helix_layer_latency"
#: Usable share of VRAM for weights + KV cache (vLLM's default ``gpu_memory_utilization``).
GPU_MEMORY_UTILIZATION = 0.9


@dataclass(frozen=True)
class LayerLatency:
    """Per-layer time, in seconds, of a batch of ``n`` tokens, indexed by ``n`` (dense lookup lists).

    ``prompt_s[n]`` and ``decode_s[n]`` are defined for ``0 <= n <= max_*_tokens``; dense lists make the
    simulator's lookup O(1) (the A100 prompt grid reaches 11,250 tokens: ~90 kB per list).
    """

    model: str
    gpu: str
    prompt_s: tuple[float, ...]
    decode_s: tuple[float, ...]
    provenance: str

    @property
    def max_prompt_tokens(self) -> int:
        return len(self.prompt_s) - 1

    @property
    def max_decode_tokens(self) -> int:
        return len(self.decode_s) - 1

    def batch_s(self, layers: int, prompt_tokens: int, decode_tokens: int) -> float:
        """Time for ``layers`` layers over a batch of ``prompt_tokens`` + ``decode_tokens`` (Helix profile model)."""
        return layers * (self.prompt_s[prompt_tokens] + self.decode_s[decode_tokens])

    def prompt_at(self, tokens: float) -> float:
        """Per-layer prompt time at a fractional token count (linear between integers, clamped to the grid)."""
        return _at(self.prompt_s, tokens)

    def decode_at(self, tokens: float) -> float:
        """Per-layer decode time at a fractional batch (linear between integers, clamped to the grid)."""
        return _at(self.decode_s, tokens)


def _at(values: tuple[float, ...], x: float) -> float:
    if x <= 0:
        return 0.0
    top = len(values) - 1
    if x >= top:
        return values[top]
    lo = int(x)
    frac = x - lo
    return values[lo] * (1.0 - frac) + values[lo + 1] * frac


def _dense(tokens: np.ndarray, ms: np.ndarray) -> tuple[float, ...]:
    """Seconds per layer for every batch size 0..max(tokens), linear between grid points.

    Below the first measured non-empty batch the first measured time applies (a batch of one token still reads
    every weight of the layer); the table's ``0 tokens -> 0 ms`` row only means "an empty batch costs nothing".
    """
    order = np.argsort(tokens, kind="stable")
    tokens, ms = tokens[order], ms[order]
    positive = tokens > 0
    grid_t, grid_ms = tokens[positive], ms[positive]
    n = np.arange(int(tokens.max()) + 1, dtype=float)
    dense = np.interp(n, grid_t, grid_ms)  # np.interp clamps to grid_ms[0] below the first point
    dense[0] = 0.0
    return tuple(float(v) / 1000.0 for v in dense)


def load_layer_latency(db: ProfileDB, model: str, gpu: str) -> LayerLatency:
    """The measured latency profile of ``gpu`` (a Helix profile name such as ``A100`` or ``L4x2``) for ``model``.

    Raises :class:`ProfileMissingError` when either phase has no rows: a measured figure is never guessed.
    """
    df = db.table(TABLE)
    want_model = db.resolve_model(model) or model
    models = {m: (db.resolve_model(str(m)) or str(m)) for m in df["model"].unique()}
    rows = df[df["model"].map(models).eq(want_model) & df["gpu"].astype(str).str.lower().eq(gpu.lower())]
    phases = {}
    for phase in ("prompt", "decode"):
        sub = rows[rows["phase"] == phase]
        if (sub["tokens_in_batch"] > 0).sum() == 0:
            raise ProfileMissingError(f"per-layer {phase} latency (table {TABLE})", gpu=gpu, model=want_model)
        phases[phase] = _dense(sub["tokens_in_batch"].to_numpy(dtype=float), sub["ms_per_layer"].to_numpy(float))
    provenances = sorted(set(rows["provenance"].astype(str)))
    return LayerLatency(
        model=want_model,
        gpu=gpu,
        prompt_s=phases["prompt"],
        decode_s=phases["decode"],
        provenance="+".join(provenances),
    )


def roofline_layer_latency(
    model: ModelProfile,
    gpu: GpuProfile,
    gpus_per_node: int,
    prompt_context: float,
    decode_context: float,
    max_prompt_tokens: int,
    params: RooflineParams,
) -> LayerLatency:
    """Per-layer time of ``n`` prompt / decode tokens from the GPU's datasheet peaks (provenance ``roofline``).

    :func:`planner.profiles.roofline.layer_prompt_s` and :func:`~planner.profiles.roofline.layer_decode_s` at the
    typical contexts (prompt: half the mean prompt; decode: mean prompt + half the mean output).
    """
    peaks = node_peaks(
        gpu, gpus_per_node, params.compute_efficiency, params.memory_efficiency, dtype_bytes=model.dtype_bytes
    )
    prompt = layer_prompt_s(model, peaks, np.arange(max_prompt_tokens + 1, dtype=float), prompt_context)
    decode = layer_decode_s(model, peaks, np.arange(params.max_decode_batch + 1, dtype=float), decode_context)
    prompt[0] = decode[0] = 0.0
    return LayerLatency(
        model=model.name,
        gpu=f"{gpu.name}x{gpus_per_node}" if gpus_per_node > 1 else gpu.name,
        prompt_s=tuple(float(v) for v in prompt),
        decode_s=tuple(float(v) for v in decode),
        provenance="roofline",
    )


def kv_capacity_token_layers(
    model: ModelProfile, vram_bytes: float, layers: int, gpu_memory_utilization: float
) -> tuple[float, float, float]:
    """(capacity in token-layers, weight bytes, usable bytes) of a node of ``vram_bytes`` holding ``layers`` layers.

    A node whose weights leave no room gets capacity 0: it can admit nothing.
    """
    usable = vram_bytes * gpu_memory_utilization
    weights = layers * model.layer_weight_bytes
    return max(0.0, (usable - weights) / kv_bytes_per_token_layer(model)), weights, usable


@dataclass(frozen=True)
class Workload:
    """Mean prompt and output lengths of the requests a node serves (tokens)."""

    input_tokens: float
    output_tokens: float

    @property
    def tokens(self) -> float:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True)
class NodePerf:
    """The performance of one node type (GPU x GPUs per node) for one model; see the module docstring."""

    model: ModelProfile
    gpu: GpuProfile
    gpus_per_node: int
    latency: LayerLatency
    gpu_memory_utilization: float = GPU_MEMORY_UTILIZATION

    @property
    def provenance(self) -> str:
        return self.latency.provenance

    @property
    def vram_bytes(self) -> float:
        return self.gpu.vram_bytes * self.gpus_per_node

    def kv_capacity(self, layers: int) -> float:
        """KV capacity in token-layers when holding ``layers`` layers."""
        return kv_capacity_token_layers(self.model, self.vram_bytes, layers, self.gpu_memory_utilization)[0]

    def admitted_batch(self, layers: int, workload: Workload, hwm: float = 1.0) -> int:
        """Sequences whose KV (prompt + output) fits under ``hwm`` of the capacity, capped by the largest batch."""
        per_seq = layers * workload.tokens
        if per_seq <= 0:
            return 0
        fits = math.floor(hwm * self.kv_capacity(layers) / per_seq)
        return max(0, min(fits, self.latency.max_decode_tokens))

    def throughput_tok_s(self, layers: int, workload: Workload, hwm: float = 1.0) -> float:
        """Prompt + decode tokens/s of the node alone at its admitted batch (0 when no sequence fits)."""
        b = self.admitted_batch(layers, workload, hwm)
        if b <= 0 or layers <= 0:
            return 0.0
        prompt = layers * self.latency.prompt_at(workload.input_tokens)
        decode = workload.output_tokens * layers * self.latency.decode_at(b) / b
        return workload.tokens / (prompt + decode)


def profile_name(gpu: str, gpus_per_node: int) -> str:
    """The Helix-style node-type name: ``L4`` for one GPU, ``L4x2`` for a node of two."""
    return gpu if gpus_per_node == 1 else f"{gpu}x{gpus_per_node}"


def node_perf(
    db: ProfileDB,
    model: ModelProfile,
    gpu: str,
    gpus_per_node: int,
    profile_gpu: str,
    workload: Workload,
    mode: str = "auto",
    roofline: RooflineParams | None = None,
    max_prompt_tokens: int = 2048,
) -> NodePerf:
    """The node model of ``gpus_per_node`` x ``gpu`` (table rows under ``profile_gpu``).

    ``mode``: ``table`` (measured only; :class:`ProfileMissingError` without rows), ``auto`` (table, else roofline),
    ``roofline`` (roofline for every node).
    """
    params = roofline or RooflineParams()
    lat: LayerLatency | None = None
    if mode != "roofline":
        try:
            lat = load_layer_latency(db, model.name, profile_gpu)
        except ProfileMissingError:
            if mode == "table":
                raise
    if lat is None:
        lat = roofline_layer_latency(
            model,
            db.gpu(gpu),
            gpus_per_node,
            workload.input_tokens / 2.0,
            workload.input_tokens + workload.output_tokens / 2.0,
            max(max_prompt_tokens, int(math.ceil(workload.input_tokens))),
            params,
        )
    return NodePerf(model=model, gpu=db.gpu(gpu), gpus_per_node=gpus_per_node, latency=lat)
