"""The splitwise plan block (the ``plan`` section of a ``kind: splitwise`` plan document), as a pydantic contract.

Written by :func:`planner.splitwise.solve.extract`; read by ``plan diff`` (element keys and change reasons come
from the :class:`~planner.contract_base.Keyed` annotations below), the report and the test fixtures; the shipped
JSON Schema is generated from it. See docs/splitwise.md, "Plan document".

When no design meets the SLOs the block still lists every design and the search ledger; ``pools``, ``slos``,
``latency_ms``, ``workload`` and ``router`` are then empty.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from planner.contract_base import NOT_DIFFED, Block, ChangeReason, Empty, Keyed, Number


class Budget(Block):
    """The iso-budget targets (null when the run is iso-throughput)."""

    cost_usd_h: Number | None
    power_kw: Number | None


class Pool(Block):
    """A pool of machines of one role (``prompt``, ``token``, ``both`` for a baseline, ``mixed`` for lent ones)."""

    role: str
    machine: str
    count: int
    instances: int
    provisioned: bool
    lent_from: dict[str, int] | None = Field(default=None, description="mixed pool: machines lent per role")
    cost_usd_h: Number
    power_kw: Number
    utilisation: Number | None
    kv_utilisation: Number | None
    lent_peak: int
    perf_basis: str | None
    launch: dict[str, str] = Field(description="engine launch hints (vLLM, SGLang) or a note")


class DesignRow(Block):
    """One compared design and the best point found for it (nulls when it has none)."""

    design: str
    kind: str
    prompt_machine: str
    token_machine: str | None
    status: str
    note: str
    simulated_points: int
    analytic_prompt: int | None
    analytic_token: int | None
    bound: Number | None
    prompt: int | None
    token: int | None
    machines: int | None
    cost_usd_h: Number | None
    power_kw: Number | None
    throughput_rps: Number | None
    usd_per_mtok: Number | None
    worst_slo: str | None
    worst_slo_margin: Number | None


class Slo(Block):
    """One Table VI SLO at the chosen point: slowdown ``value`` against ``limit``; ``margin`` >= 0 means met."""

    name: str
    value: Number | None
    limit: Number
    margin: Number | None


class Machine(Block):
    """A machine type a design uses, with what its figures rest on."""

    short: str
    gpu: str
    gpus: int
    tp: int
    cost_usd_h: Number
    power_kw: Number
    kv_capacity_tokens: int
    interconnect_bytes_s: Number
    perf_basis: str


class Workload(Block):
    """The simulated trace at the chosen point."""

    requests: int
    mean_prompt_tokens: Number
    mean_output_tokens: Number
    source: str


class LedgerRow(Block):
    """One simulated grid point and why it passed or failed (``reason``)."""

    design: str
    prompt: int
    token: int
    rate_rps: Number
    feasible: bool
    reason: str
    cost_usd_h: Number
    power_kw: Number
    worst_slo: str | None
    worst_slo_margin: Number | None
    stopped_early: bool
    requests: int


class Search(Block):
    """The search's settings and effort."""

    duration_s: Number
    batch_points: int
    neighbourhood: int
    rate_step_rps: Number
    max_machines: int
    mixed_pool: bool
    simulated_points: int


_SLO_REASONS = {"value": "slo", "margin": "slo", "limit": "slo"}


class SplitwisePlanBlock(Block):
    """The ``plan`` block of a splitwise plan document."""

    design: Annotated[str | None, ChangeReason("design")] = Field(description="the chosen design; null if none")
    mode: Literal["iso-throughput", "iso-budget"]
    objective: str
    rate_rps: Number | None
    budget: Budget
    power_basis: str
    pools: Annotated[
        list[Pool],
        Keyed("pool", ("{role}", "{role}:{machine}"), {"count": "resized", "machine": "hardware"}, summary=True),
    ]
    designs: Annotated[list[DesignRow], Keyed("design", ("{design}", "{name}", "{design}:{objective}"))]
    slos: Annotated[list[Slo], Keyed("slo", ("{name}",), _SLO_REASONS, plural="SLOs")]
    latency_ms: dict[str, Number]
    machines: dict[str, Machine]
    workload: Workload | Empty = Field(description="empty when no design meets the SLOs")
    router: dict[str, str] = Field(description="split designs: the router launch hints")
    # Every evaluated grid point with why it failed: an audit trail of the search, not the deployment.
    ledger: Annotated[list[LedgerRow], NOT_DIFFED]
    search: Search
