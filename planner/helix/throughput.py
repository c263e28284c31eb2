"""Per-node throughput tables tp(k): the profiled Helix tables, or an analytic roofline where none exists.

``tp(type, k)`` is the "typical token throughput" (prompt and decode tokens counted alike) of a node holding ``k``
layers (Helix reference section 5). The paper's tables depend on the whole cluster's GPU mix, so a table is
selected by model *and* mix; they are not monotone in ``k`` and must be read at the exact ``k``.

For a GPU/model pair without a table, :func:`roofline_tp` derives tp(k) from the model architecture and the GPU
datasheet with the shared roofline of :mod:`planner.profiles.roofline` (per-layer FLOPs and bytes at a batch sized
by the KV reserve); every such figure is marked ``analytic``.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from planner.profiles.db import ProfileDB
from planner.profiles.roofline import (
    kv_bytes_per_token_layer,
    layer_decode_s,
    layer_flops_per_token,
    node_peaks,
    roofline_s,
)
from planner.profiles.schema import GpuProfile, ModelProfile
from planner.spec.sections.helix import RooflineOptions

TABLE = "helix_throughput"

#: Helix's workload when the spec has none: Azure conversation averages (reference section 5).
HELIX_INPUT_TOKENS = 750.0
HELIX_OUTPUT_TOKENS = 240.0


@dataclass(frozen=True)
class TableEntry:
    """One node type's profiled tp(k), k = 1..len(tp_tok_s)."""

    profile_gpu: str
    tp_tok_s: tuple[float, ...]
    source: str


def default_profile_name(gpu: str, gpus_per_node: int) -> str:
    """The Helix-style node-type name: ``L4`` for one GPU, ``L4x2`` for a node of two."""
    return gpu if gpus_per_node == 1 else f"{gpu}x{gpus_per_node}"


def mix_name(counts: Counter[str]) -> str:
    """``a100x4-l4x8-t4x12`` from node-type counts (order-insensitive comparison is done on parts)."""
    return "-".join(f"{t.lower()}x{n}" for t, n in sorted(counts.items()))


def _parts(mix: str) -> frozenset[str]:
    """Split a mix name into ``type x count`` parts; ``l4x2x4`` is one part (four L4x2 nodes)."""
    return frozenset(mix.lower().split("-"))


@dataclass(frozen=True)
class MixChoice:
    """Which table mix was used, and whether it is the cluster's own mix."""

    mix: str | None
    cluster_mix: str
    exact: bool


class ThroughputTables:
    """The ``helix_throughput`` profile table for one model, queried by (GPU type, GPUs per node) and mix."""

    def __init__(self, db: ProfileDB, model: str) -> None:
        self.model = model
        self.rows: dict[str, dict[tuple[str, int], TableEntry]] = {}
        if not db.has_table(TABLE):
            return
        df = db.table(TABLE)
        df = df[df["model"] == model]
        for (mix, gpu, _per_node), grp in df.groupby(["mix", "gpu", "gpus_per_node"], sort=True):
            grp = grp.sort_values("layers")
            ks = [int(k) for k in grp["layers"]]
            if ks != list(range(1, len(ks) + 1)):
                # A table with holes cannot be read at every k; treat it as absent rather than interpolate.
                continue
            sources = sorted(set(grp["source"]))
            self.rows.setdefault(str(mix), {})[(str(gpu), int(grp["gpus_per_node"].iloc[0]))] = TableEntry(
                profile_gpu=str(grp["profile_gpu"].iloc[0]),
                tp_tok_s=tuple(float(v) for v in grp["tokens_per_s"]),
                source="; ".join(sources),
            )

    @property
    def mixes(self) -> list[str]:
        return sorted(self.rows)

    def profile_name(self, gpu: str, gpus_per_node: int) -> str:
        """The name the tables use for this node type, or the default ``GPUxN`` name."""
        for mix in self.mixes:
            entry = self.rows[mix].get((gpu, gpus_per_node))
            if entry is not None:
                return entry.profile_gpu
        return default_profile_name(gpu, gpus_per_node)

    def choose_mix(self, node_types: list[tuple[str, int]], requested: str) -> MixChoice:
        """The cluster's own mix when a table exists for it, else the mix covering most node types.

        ``requested`` other than ``auto`` must name an existing mix (checked by the caller).
        """
        counts = Counter(self.profile_name(g, n) for g, n in node_types)
        own = mix_name(counts)
        if requested != "auto":
            return MixChoice(requested, own, _parts(requested) == _parts(own))
        for mix in self.mixes:
            if _parts(mix) == _parts(own):
                return MixChoice(mix, own, True)
        types = set(node_types)
        best: tuple[int, str] | None = None
        for mix in self.mixes:
            covered = len(types & set(self.rows[mix]))
            if covered and (best is None or covered > best[0]):
                best = (covered, mix)
        return MixChoice(best[1] if best else None, own, False)

    def entry(self, mix: str | None, gpu: str, gpus_per_node: int) -> TableEntry | None:
        if mix is None:
            return None
        return self.rows.get(mix, {}).get((gpu, gpus_per_node))


@dataclass(frozen=True)
class RooflineInputs:
    """Everything the analytic tp(k) rests on (recorded in the plan's assumptions)."""

    input_tokens: float
    output_tokens: float
    layer_weight_bytes: float
    options: RooflineOptions


def roofline_tp(
    gpu: GpuProfile, gpus_per_node: int, model: ModelProfile, k_max: int, inputs: RooflineInputs
) -> tuple[float, ...]:
    """Analytic tp(k) for k = 1..k_max, tokens/s (prompt + decode tokens, as the Helix tables count them).

    A node of ``g`` GPUs (tensor-parallel inside the node, ideal) holding ``k`` layers serves requests of ``I``
    prompt and ``O`` output tokens. KV bytes left after the weights, times the high-water fraction, fix the decode
    batch ``b`` (capped by ``max_batch``). Per request and node: prefill costs ``k * I * flops(I/2) / peak`` and
    each of its ``O`` decode steps a ``1/b`` share of ``k * max(b * flops(ctx) / peak, (W + b * ctx * kv) / hbm)``,
    with ``ctx = I + O/2``. tp(k) = (I + O) / time per request.
    """
    opts = inputs.options
    peaks = node_peaks(
        gpu, gpus_per_node, opts.compute_efficiency, opts.memory_efficiency, dtype_bytes=model.dtype_bytes
    )
    vram = gpus_per_node * gpu.vram_bytes
    weight = inputs.layer_weight_bytes
    kv_per_token_layer = kv_bytes_per_token_layer(model)
    i_tok, o_tok = inputs.input_tokens, inputs.output_tokens
    ctx = i_tok + o_tok / 2.0
    # Prefill is compute-bound at these lengths: no weight-read term (the shared roofline with zero bytes).
    prefill_layer = float(roofline_s(i_tok * layer_flops_per_token(model, i_tok / 2.0), 0.0, peaks))

    out: list[float] = []
    for k in range(1, k_max + 1):
        free = max(vram - k * weight, 0.0) * opts.kv_high_water
        per_seq = k * kv_per_token_layer * (i_tok + o_tok)
        batch = max(1, min(opts.max_batch, math.floor(free / per_seq) if per_seq > 0 else opts.max_batch))
        step = k * float(layer_decode_s(model, peaks, batch, ctx, weight))
        prefill = k * prefill_layer
        per_request = prefill + o_tok * step / batch
        out.append((i_tok + o_tok) / per_request)
    return tuple(out)
