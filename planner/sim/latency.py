"""Per-layer execution time of a batch, from the Helix latency profiles (``helix_layer_latency`` table).

Helix models a node's iteration over a mixed batch as ``layers x (t_prompt(P) + t_decode(D))``, where ``t_prompt``
and ``t_decode`` are the measured per-layer times for ``P`` prompt tokens and ``D`` decode tokens in the batch
(Helix reference README section 5 "profile model", and the simulator's ``get_typical_token_throughput``). The
table's grid is sparse (every 250 prompt tokens, every 2-20 decode tokens); between grid points time is linear.

Two rules keep the figures honest (STYLE rule 10, never invent a number; the analytic
:func:`roofline_layer_latency` is used only when asked for, and says so):

* no extrapolation: a batch never exceeds the largest measured size (the engine caps batches at
  :attr:`LayerLatency.max_prompt_tokens` / :attr:`LayerLatency.max_decode_tokens`);
* below the first measured non-empty batch the first measured time applies (a batch of one token still reads
  every weight of the layer); the table's ``0 tokens -> 0 ms`` row only means "an empty batch costs nothing".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from planner.errors import ProfileMissingError
from planner.profiles.db import ProfileDB
from planner.profiles.schema import GpuProfile, ModelProfile

TABLE = "helix_layer_latency"


@dataclass(frozen=True)
class LayerLatency:
    """Per-layer time, in seconds, of a batch of ``n`` tokens, indexed by ``n`` (dense lookup lists).

    ``prompt_s[n]`` and ``decode_s[n]`` are defined for ``0 <= n <= max_*_tokens``; dense lists make the engine's
    lookup O(1) (the prompt grid of the A100 reaches 11,250 tokens: ~90 kB per list).
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


def _dense(tokens: np.ndarray, ms: np.ndarray) -> tuple[float, ...]:
    """Seconds per layer for every batch size 0..max(tokens), linear between grid points (see module notes)."""
    order = np.argsort(tokens, kind="stable")
    tokens, ms = tokens[order], ms[order]
    positive = tokens > 0
    grid_t, grid_ms = tokens[positive], ms[positive]
    n = np.arange(int(tokens.max()) + 1, dtype=float)
    dense = np.interp(n, grid_t, grid_ms)  # np.interp clamps to grid_ms[0] below the first point
    dense[0] = 0.0
    return tuple(float(v) / 1000.0 for v in dense)


def load_layer_latency(db: ProfileDB, model: str, gpu: str) -> LayerLatency:
    """The latency profile of ``gpu`` (a Helix profile name such as ``A100`` or ``L4x2``) for ``model``.

    Raises :class:`ProfileMissingError` when either phase has no rows: the simulator never guesses a latency.
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


@dataclass(frozen=True)
class RooflineLatency:
    """Inputs of the analytic per-layer latency (``--latency roofline|auto``), recorded in the assumptions.

    The same roofline as ``plan helix``'s analytic tp(k) (``helix.roofline`` defaults: 50 % of peak TFLOP/s, 80 % of
    peak HBM bandwidth, at most 128 sequences per decode step): a layer costs ``2 x params`` FLOPs per token plus
    attention over the context, and reads its weights (and, decoding, the batch's KV cache) once per iteration.
    """

    compute_efficiency: float = 0.5
    memory_efficiency: float = 0.8
    max_decode_batch: int = 128


def roofline_layer_latency(
    model: ModelProfile,
    gpu: GpuProfile,
    gpus_per_node: int,
    prompt_context: float,
    decode_context: float,
    max_prompt_tokens: int,
    params: RooflineLatency,
) -> LayerLatency:
    """Per-layer time of ``n`` prompt / decode tokens from the GPU's datasheet peaks (provenance ``roofline``).

    ``t_prompt(P) = max(P x F(c_p) / peak, W / hbm)`` and ``t_decode(D) = max(D x F(c_d) / peak, (W + D x c_d x kv) /
    hbm)`` with ``F(c)`` the FLOPs of one token in one layer at context ``c`` (typical prompt: half the mean prompt;
    typical decode: mean prompt + half the mean output), ``W`` the layer's weight bytes and ``kv`` its KV bytes per
    token; peaks are the node's GPUs times the efficiencies (ideal tensor parallelism inside the node).
    """
    peak = gpus_per_node * gpu.bf16_tflops * 1e12 * params.compute_efficiency
    hbm = gpus_per_node * gpu.hbm_gb_s * 1e9 * params.memory_efficiency
    weight = model.layer_weight_bytes
    kv = model.kv_bytes_per_token / model.layers
    f_prompt = model.flops_per_token(int(round(prompt_context))) / model.layers
    f_decode = model.flops_per_token(int(round(decode_context))) / model.layers
    p = np.arange(max_prompt_tokens + 1, dtype=float)
    d = np.arange(params.max_decode_batch + 1, dtype=float)
    prompt = np.maximum(p * f_prompt / peak, weight / hbm)
    decode = np.maximum(d * f_decode / peak, (weight + d * decode_context * kv) / hbm)
    prompt[0] = decode[0] = 0.0
    return LayerLatency(
        model=model.name,
        gpu=f"{gpu.name}x{gpus_per_node}" if gpus_per_node > 1 else gpu.name,
        prompt_s=tuple(float(v) for v in prompt),
        decode_s=tuple(float(v) for v in decode),
        provenance="roofline",
    )
