"""The optional ``splitwise:`` section of a cluster spec (options of ``plan splitwise``).

Everything here has a default taken from the Splitwise paper (ISCA 2024) or its artifact SplitwiseSim, so a spec
needs only ``model:`` and ``workload:`` to run. The machine catalogue entry type (:class:`MachineEntry`) lives here
too because a spec may add or override machines with exactly the fields of ``profiles/machines.yaml``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field, model_validator

from planner.spec.types import MAX_RATE_RPS, MAX_TOKENS, MAX_USD_H, STRICT_CONFIG, BandwidthBytesPerS, DurationS
from planner.units import UnitError, parse_size

#: Longest simulated trace per search point (seconds); also the bound of ``plan splitwise --duration``.
MAX_SPLITWISE_DURATION_S = 3600.0

#: Designs compared when neither the spec nor ``--designs`` names any (the paper's six, section VI-A).
DEFAULT_DESIGNS: tuple[str, ...] = ("baseline-a100", "baseline-h100", "AA", "HH", "HA", "HHcap")


def _size_bytes(value: object) -> float:
    try:
        return parse_size(value)
    except UnitError as exc:
        raise ValueError(str(exc)) from None


SizeBytes = Annotated[float, BeforeValidator(_size_bytes), Field(gt=0, le=1e15, description="size, e.g. 80GiB or 80GB")]


class _Strict(BaseModel):
    model_config = STRICT_CONFIG


class DeriveFrom(_Strict):
    """Scale another machine's iteration-time curves (how SplitwiseSim builds its power-capped H100 profile)."""

    machine: str = Field(description="machine whose curves are scaled")
    prompt_time_factor: float = Field(default=1.0, gt=0, le=1000, description="prompt iteration time multiplier")
    token_time_factor: float = Field(default=1.0, gt=0, le=1000, description="token iteration time multiplier")


class MachineEntry(_Strict):
    """One machine type (``profiles/machines.yaml`` entry, or ``splitwise.machines.<name>`` in a spec)."""

    aliases: tuple[str, ...] = ()
    short: str = Field(pattern=r"^[A-Z][A-Za-z0-9]*$", description="letters used in design names (A, H, Hcap)")
    gpu: str = Field(description="GPU type from gpus.yaml")
    gpus: int = Field(default=8, ge=1, le=64, description="GPUs per machine")
    tp: int | None = Field(default=None, ge=1, le=64, description="tensor parallelism; default: gpus")
    gpu_memory: SizeBytes | None = Field(default=None, description="HBM per GPU; default: gpus.yaml vram_gb")
    cost_usd_h: float | None = Field(
        default=None, ge=0, le=MAX_USD_H, description="USD per machine-hour; default: gpus x GPU price"
    )
    power_factor: float = Field(default=1.0, gt=0, le=1.0, description="provisioned share of rated power")
    machine_tdp_kw: float | None = Field(default=None, gt=0, le=1e4, description="rated machine power (SKU TDP), kW")
    interconnect: BandwidthBytesPerS | None = Field(
        default=None, description="KV-transfer bandwidth of the machine; default: gpus x GPU nic_gbps"
    )
    perf_hardware: str | None = Field(default=None, description="hardware name in tables/splitwise_perf.csv")
    derive_from: DeriveFrom | None = None
    source: str = Field(default="user: spec", min_length=1)

    @model_validator(mode="after")
    def _tp_fits(self) -> MachineEntry:
        if self.tp is not None and self.gpus % self.tp:
            raise ValueError("gpus must be a multiple of tp")
        return self


class QuantileLimits(_Strict):
    """Slowdown limits at the 50th, 90th and 99th percentile (multiples of the request alone on the reference)."""

    p50: float = Field(gt=0, le=1e6)
    p90: float = Field(gt=0, le=1e6)
    p99: float = Field(gt=0, le=1e6)


class SplitwiseSlo(_Strict):
    """The nine SLOs of Splitwise Table VI: slowdown of TTFT, TBT and E2E at P50/P90/P99."""

    ttft: QuantileLimits = QuantileLimits(p50=2.0, p90=3.0, p99=6.0)
    tbt: QuantileLimits = QuantileLimits(p50=1.25, p90=1.5, p99=5.0)
    e2e: QuantileLimits = QuantileLimits(p50=1.25, p90=1.5, p99=5.0)


class MixedPool(_Strict):
    """SplitwiseSim's ``mixed_pool`` scheduler: lend machines across pools when a pool's queues grow (section IV-B)."""

    enabled: bool = Field(
        default=False,
        description="off by default: vLLM and SGLang deploy static prefill/decode pools and cannot lend machines",
    )
    long_queue_tokens: int = Field(
        default=8192, ge=1, description="a prompt queue is long when non-empty and pending + prompt exceed this"
    )


class SearchOptions(_Strict):
    """How the (prompt, token) grid is searched; every choice here changes which points are simulated."""

    batch_points: int = Field(
        default=2, ge=1, le=16, description="points evaluated per search round (run in parallel); fixed for determinism"
    )
    max_machines: int = Field(default=256, ge=2, le=100_000, description="largest total machine count tried")
    rate_step_rps: float = Field(
        default=1.0, gt=0, le=MAX_RATE_RPS, description="resolution of the max-rate search (budget mode)"
    )
    neighbourhood: int = Field(default=2, ge=1, le=10, description="radius of the local search around the best point")
    split_window: int = Field(default=3, ge=0, le=20, description="splits tried either side of the analytic split")


class AnalyticProfile(_Strict):
    """Roofline-style iteration times for (model, machine) pairs with no profile rows (marked ``analytic``)."""

    mfu: float = Field(default=0.5, gt=0, le=1, description="achieved share of peak FLOP/s in prompt batches")
    mbu: float = Field(default=0.5, gt=0, le=1, description="achieved share of HBM bandwidth in token batches")
    overhead: DurationS = Field(default=0.005, description="fixed time per iteration")


class SplitwiseSection(_Strict):
    """Options of the splitwise solver that belong with the cluster rather than on the command line."""

    designs: tuple[str, ...] | None = Field(
        default=None, description="designs to compare (baseline-a100, AA, HA, ...); default: the paper's six"
    )
    rate_rps: float | None = Field(
        default=None, gt=0, le=MAX_RATE_RPS, description="iso-throughput target; default workload.rate_rps"
    )
    objective: Literal["cost", "power", "machines"] = "cost"
    cost_target_usd_h: float | None = Field(default=None, gt=0, le=1e9, description="iso-cost budget, USD/h")
    power_target_kw: float | None = Field(default=None, gt=0, le=1e7, description="iso-power budget, kW provisioned")
    power_basis: Literal["gpu_tdp", "machine_tdp"] = Field(
        default="gpu_tdp", description="provisioned power: GPU TDPs (artifact, 40 H100 = 70 A100) or SKU TDP"
    )
    duration: DurationS = Field(
        default=120.0,
        gt=0,
        le=MAX_SPLITWISE_DURATION_S,
        description="length of the simulated trace (the paper: 2 minutes); at most 1h, since every search point "
        "simulates it and memory grows with it",
    )
    resample: Literal["independent", "joint"] = Field(
        default="independent", description="draw prompt and output sizes independently (artifact) or as trace rows"
    )
    slo: SplitwiseSlo = SplitwiseSlo()
    reference_machine: str = Field(default="DGX-A100", description="machine the slowdowns are measured against")
    max_batch_tokens: int = Field(
        default=2048, ge=1, le=MAX_TOKENS, description="prompt tokens per batch (larger prompts run alone)"
    )
    max_batch_requests: int = Field(default=512, ge=1, le=1_000_000, description="requests per batch")
    mixed_batch_factor: float = Field(default=1.1, ge=1.0, le=100, description="mixed batch time / prompt time")
    max_preemptions: int = Field(
        default=4, ge=0, description="times a decode may be paused for prompts in a mixed batch before it has priority"
    )
    mixed_pool: MixedPool = MixedPool()
    machines: dict[str, MachineEntry] = Field(default_factory=dict, description="machines added to the catalogue")
    search: SearchOptions = SearchOptions()
    analytic: AnalyticProfile = AnalyticProfile()
