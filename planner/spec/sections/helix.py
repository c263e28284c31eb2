"""The optional ``helix:`` section of a cluster spec (options of ``plan helix`` that belong with the cluster).

Everything here has a command-line twin or a documented default; the command line wins. See docs/helix.md.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field, model_validator

from planner.spec.types import MAX_SEED, MAX_TOKENS, STRICT_CONFIG, BandwidthBytesPerS, DurationS
from planner.units import parse_size

SizeBytes = Annotated[
    float,
    BeforeValidator(parse_size),
    Field(gt=0, le=1e15, description="size with unit, e.g. 1.53GB or 1.5GiB; stored as bytes"),
]


class _Strict(BaseModel):
    model_config = STRICT_CONFIG


class RooflineOptions(_Strict):
    """Analytic tp(k) for GPU/model pairs without a profiled table (Helix reference section 5 inputs).

    The node runs ``k`` layers on a batch sized by its KV reserve; a layer costs ``2 * params`` FLOPs per token and
    reads its weights (plus the batch's KV cache) once per decode step. Efficiencies scale the datasheet peaks.
    """

    compute_efficiency: float = Field(default=0.5, gt=0, le=1, description="fraction of peak TFLOP/s reached")
    memory_efficiency: float = Field(default=0.8, gt=0, le=1, description="fraction of peak HBM GB/s reached")
    kv_high_water: float = Field(
        default=0.3, gt=0, le=1, description="fraction of the KV reserve the typical batch occupies (Helix: 0.3)"
    )
    max_batch: int = Field(default=128, ge=1, le=1_000_000, description="most sequences a node decodes in one step")
    input_tokens: float | None = Field(
        default=None,
        gt=0,
        le=MAX_TOKENS,
        description="typical prompt length; default: the workload's mean, else 750 (Helix)",
    )
    output_tokens: float | None = Field(
        default=None,
        gt=0,
        le=MAX_TOKENS,
        description="typical output length; default: the workload's mean, else 240 (Helix)",
    )


class HelixSection(_Strict):
    """Options of the helix solver that belong with the cluster rather than on the command line."""

    throughput: Literal["auto", "paper-table", "table", "node-model", "analytic"] = Field(
        default="auto",
        description="tp(k) source: paper-table (the paper's static per-mix Helix tables, error when missing; "
        "'table' is the same), node-model (the shared node model: this node alone, KV-bounded batch at the "
        "workload's lengths), analytic (roofline), auto (paper table where one exists, else analytic, said in the "
        "plan's assumptions)",
    )
    table_mix: str = Field(
        default="auto",
        description="which Helix table mix to use (e.g. a100x4-l4x8-t4x12); auto: the cluster's own mix",
    )
    kv_reserve_fraction: float = Field(
        default=0.5, ge=0, lt=1, description="fraction of node VRAM kept for the KV cache (Helix: half)"
    )
    layer_weight_bytes: SizeBytes | None = Field(
        default=None,
        description="weight bytes of one layer; default: derived from the model architecture",
    )
    token_bytes: int | None = Field(
        default=None, ge=1, le=8, description="bytes of one token id on coordinator links; default 2 or 4 by vocab"
    )
    partial_inference: bool = Field(default=False, description="allow overlapping layer ranges (start_j <= end_i)")
    prune_keep: int | None = Field(
        default=None,
        ge=1,
        le=1_000_000,
        description="keep each node's K fastest links; default: 12 when the cluster has > 32 nodes",
    )
    prune_threshold: BandwidthBytesPerS | None = Field(
        default=None, description="with prune_keep: also keep links at least this fast"
    )
    swarm_stages: int | None = Field(
        default=None, ge=1, le=1_000_000, description="Swarm baseline stages; default: best divisor"
    )
    petals_seed: int = Field(default=0, ge=0, le=MAX_SEED, description="seed of the Petals baseline's node shuffle")
    heuristic_order: tuple[str, ...] | None = Field(
        default=None,
        description="node names in the order the seeded baselines see them (the paper's node ids); default: spec order",
    )
    max_hops: int | None = Field(
        default=None, ge=1, le=1_000_000, description="at most this many compute nodes on any path"
    )
    max_token_latency: DurationS | None = Field(
        default=None, description="per-token decode latency limit of every path that carries flow"
    )
    roofline: RooflineOptions = Field(default_factory=RooflineOptions)

    @model_validator(mode="after")
    def _threshold_needs_keep(self) -> HelixSection:
        if self.prune_threshold is not None and self.prune_keep is None:
            raise ValueError("prune_threshold needs prune_keep")
        return self
