"""The dynamo plan block (the ``plan`` section of a ``kind: dynamo`` plan document), as a pydantic contract.

Written by :func:`planner.dynamo.extract.plan_block`; read by ``plan diff`` (element keys and change reasons come
from the :class:`~planner.contract_base.Keyed` annotations below), the report, the verifier and the test fixtures;
the shipped JSON Schema is generated from it. See docs/dynamo.md, "Plan document".

A solved day carries every block; an infeasible run writes only ``mode``, an empty ``epochs`` and ``infeasible``
(the shortfall in words).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from planner.contract_base import Block, Keyed, Number


class RequestClass(Block):
    """One request class: token-length buckets ``[lo, hi)`` (hi null: unbounded), share of the load, SLOs."""

    class_: str = Field(alias="class")
    input_tokens: list[int | None]
    output_tokens: list[int | None]
    share: Number
    ttft_s: Number | None
    tbt_s: Number | None
    e2e_s: Number | None
    slo_source: dict[str, str] = Field(description="where each SLO comes from (paper, spec, ...)")


class ClassLoad(Block):
    provisioned_rps: Number
    served_requests: Number


class PoolConfig(Block):
    """One (TP, clock) configuration inside a pool."""

    tp: int
    freq_mhz: Number
    instances: int
    gpus: int
    load_rps: Number
    provisioned_rps: Number
    classes: dict[str, ClassLoad]
    energy_wh: Number
    idle_wh: Number
    utilisation: Number | None


class DynamoPool(Block):
    """A pool serving one class (or a merged group); ``tp``/``freq_mhz`` are its largest configuration's."""

    class_: str = Field(alias="class")
    instances: int
    gpus: int
    tp: int
    freq_mhz: Number
    load_rps: Number
    provisioned_rps: Number
    energy_wh: Number
    configs: list[PoolConfig]


_POOL_REASONS = {
    "instances": "resized",
    "tp": "parallelism",
    "freq_mhz": "frequency",
    "load_rps": "load",
    "energy_wh": "energy",
}


class Epoch(Block):
    """One epoch of the day (``start`` HH:MM) and its pools."""

    start: str
    length_s: Number
    status: str
    gpus: int
    energy_wh: Number
    power_w: Number
    reconfig_wh: Number
    parked_wh: Number = Field(description="idle draw of GPUs parked rather than released (0 when released)")
    started_gpus: int
    resharded_gpus: int
    load_rps: Number
    provisioned_rps: Number
    pools: Annotated[list[DynamoPool], Keyed("pool", ("{class}",), _POOL_REASONS, summary=True)]
    carbon_g_per_kwh: Number | None = Field(default=None, description="written only with a carbon intensity")


class Totals(Block):
    """Totals over the horizon (energy at the GPUs; PUE applies to electricity cost and carbon)."""

    energy_kwh: Number
    avg_power_kw: Number
    peak_power_kw: Number
    p50_power_kw: Number | None = None  # median / 99th percentile of the epochs' average power
    p99_power_kw: Number | None = None
    gpu_h: Number
    peak_gpus: int
    cost_usd: Number
    gpu_cost_usd: Number
    electricity_cost_usd: Number
    carbon_kgco2: Number | None


class DynamoBaseline(Block):
    """A baseline of the ladder (SinglePool, static pools, ...); its totals are absent when it has no solution."""

    name: str
    description: str
    gpus: int | None
    note: str
    energy_kwh: Number | None = None
    avg_power_kw: Number | None = None
    peak_power_kw: Number | None = None
    p50_power_kw: Number | None = None
    p99_power_kw: Number | None = None
    gpu_h: Number | None = None
    peak_gpus: int | None = None
    cost_usd: Number | None = None
    gpu_cost_usd: Number | None = None
    electricity_cost_usd: Number | None = None
    carbon_kgco2: Number | None = None


class Savings(Block):
    """Savings over SinglePool and their attribution along the baseline ladder (absent without a SinglePool).

    ``against`` names the SinglePool the headline saving is measured against (``dynamo.savings_against``)."""

    against: str | None = None
    vs_singlepool_fixed_pct: Number | None = None
    vs_singlepool_peak_pct: Number | None = None
    sizing_kwh: Number | None = None
    vs_singlepool_kwh: Number | None = None
    vs_singlepool_pct: Number | None = None
    cost_vs_singlepool_pct: Number | None = None
    pools_kwh: Number | None = None
    tp_kwh: Number | None = None
    scaling_kwh: Number | None = None
    frequency_kwh: Number | None = None


class ProfileRow(Block):
    """Per class and configuration: capacity at SLO, energy per request at capacity, what binds."""

    class_: str = Field(alias="class")
    tp: int
    freq_mhz: Number
    cap_rps: Number
    idle_w: Number
    marginal_wh: Number | None
    wh_per_request_at_cap: Number | None
    binding: str


class DynamoCertificate(Block):
    """What the "optimal" label of a dynamo plan rests on: every epoch's optimum proved by the solver (in joint mode
    the exact per-pool enumeration of the epoch MILP, or the MILP's dual bound where the MILP solved it; exact
    enumeration in hierarchical mode). The verifier recomputes the plan's feasibility and energy, not the bound, so
    the label is "solver-certified"."""

    label: str = Field(description='"optimal (solver-certified)": the verifier refuses any other label')
    bound: str = Field(description="what proves each epoch optimal")
    epochs_proved: int = Field(ge=0)
    epochs: int = Field(ge=0)
    objective_wh: Number = Field(
        description="sum of the epoch objectives (energy + reconfiguration penalty + tie-break)"
    )
    bound_wh: Number = Field(description="sum of the epoch dual bounds")
    relative_gap: Number = Field(ge=0, description="(objective - bound) / objective")
    gap_tolerance: Number = Field(ge=0, description="the relative gap the solver closed each epoch to")
    derivation: str


class DynamoPlanBlock(Block):
    """The ``plan`` block of a dynamo plan document."""

    model: str | None = None
    gpu: str | None = None
    mode: str | None = Field(description="hierarchical or joint; null when an infeasible run never got that far")
    epoch_s: Number | None = None
    reshard_epoch_s: Number | None = None
    gpu_budget: int | None = None
    headroom: Number | None = None
    dominance: bool | None = None
    homogeneous_pools: bool | None = None
    percentile: Number | None = None
    classes: list[RequestClass] | None = None
    epochs: Annotated[list[Epoch], Keyed("epoch", ("{start}",), summary=True)]
    totals: Totals | None = None
    baselines: list[DynamoBaseline] | None = None
    savings: Savings | None = None
    profile: list[ProfileRow] | None = None
    infeasible: str | None = Field(default=None, description="an infeasible run: which constraint fails, by how much")
    certificate: DynamoCertificate | None = Field(default=None, description="written when every epoch is optimal")
