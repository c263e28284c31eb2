"""Pydantic schema of a cluster spec: one format shared by every solver.

Each solver reads the sections it needs (``model``, ``nodes``, ``network``, ``workload``, ``slo``, ``pricing``,
``power``) plus its own optional section (``helix:``, ``splitwise:``, ``dynamo:``), and says which required section
is missing. ``extra="forbid"`` everywhere turns typos into errors with a did-you-mean.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from planner.spec.sections.dynamo import DynamoSection
from planner.spec.sections.helix import HelixSection
from planner.spec.sections.splitwise import SplitwiseSection
from planner.spec.types import (
    MAX_RATE_RPS,
    MAX_SEED,
    MAX_TOKENS,
    MAX_USD_H,
    STRICT_CONFIG,
    BandwidthBytesPerS,
    DurationS,
)

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class Strict(BaseModel):
    """Base for every spec section: unknown keys are errors, values are immutable."""

    model_config = STRICT_CONFIG


class NodeGroup(Strict):
    """``count`` identical nodes expanded into names ``<name>-0``, ``<name>-1``, ...

    A node is what the planner places work on: one machine with ``gpus_per_node`` GPUs of type ``gpu``.
    """

    name: str = Field(pattern=NAME_PATTERN, description="group name; nodes are named <name>-<i>")
    gpu: str = Field(description="GPU type from the profile database (gpus.yaml), e.g. A100-40G")
    gpus_per_node: int = Field(default=1, ge=1, le=64, description="GPUs in one node")
    count: int = Field(default=1, ge=1, le=100_000, description="number of identical nodes")
    region: str = Field(default="default", pattern=NAME_PATTERN, description="region the nodes sit in")


class LinkClass(Strict):
    """Default bandwidth and latency for a class of links."""

    bandwidth: BandwidthBytesPerS
    latency: DurationS = 0.0


class CoordinatorLinks(Strict):
    """The coordinator (request source and sink) and its links to every node."""

    region: str | None = Field(default=None, description="region of the coordinator; default: first region")
    bandwidth: BandwidthBytesPerS | None = Field(
        default=None, description="default bandwidth of coordinator<->node links; default: the region class"
    )
    latency: DurationS | None = None


class LinkOverride(Strict):
    """Override (or remove) the links between two endpoints.

    An endpoint is a node name (``a100-0``), a group name (``a100``: every node of the group), ``region:<r>``
    (every node of region r) or ``coordinator``. Later overrides win over earlier ones.
    """

    between: tuple[str, str]
    bandwidth: BandwidthBytesPerS | None = None
    latency: DurationS | None = None
    disabled: bool = Field(default=False, description="remove the link(s) instead of changing them")

    @model_validator(mode="after")
    def _something(self) -> LinkOverride:
        if not self.disabled and self.bandwidth is None and self.latency is None:
            raise ValueError("a link override needs bandwidth, latency or disabled: true")
        return self


class Network(Strict):
    """Links default to a complete graph: every pair of nodes, and every node with the coordinator."""

    intra_region: LinkClass = Field(description="links between two nodes of the same region")
    inter_region: LinkClass | None = Field(
        default=None, description="links between nodes of different regions; required with several regions"
    )
    coordinator: CoordinatorLinks = Field(default_factory=CoordinatorLinks)
    links: tuple[LinkOverride, ...] = ()


class LengthDistribution(Strict):
    """A token-length distribution, sampled with the workload's seed."""

    distribution: Literal["fixed", "uniform", "normal", "lognormal"] = "fixed"
    mean: float | None = Field(default=None, gt=0, le=MAX_TOKENS)
    std: float | None = Field(default=None, ge=0, le=MAX_TOKENS)
    min: int = Field(default=1, ge=1, le=MAX_TOKENS)
    max: int | None = Field(default=None, ge=1, le=MAX_TOKENS)

    @model_validator(mode="after")
    def _params(self) -> LengthDistribution:
        if self.distribution in ("fixed", "normal", "lognormal") and self.mean is None:
            raise ValueError(f"a {self.distribution} distribution needs mean")
        if self.distribution in ("normal", "lognormal") and self.std is None:
            raise ValueError(f"a {self.distribution} distribution needs std")
        if self.distribution == "uniform" and self.max is None:
            raise ValueError("a uniform distribution needs min and max")
        if self.max is not None and self.max < self.min:
            raise ValueError("max must be >= min")
        return self


class LoadPoint(Strict):
    """One point of a load curve: request rate from time ``at`` (HH:MM) until the next point."""

    at: str = Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="time of day, HH:MM")
    rps: float = Field(ge=0, le=MAX_RATE_RPS, description="requests per second")


class Workload(Strict):
    """Requests: a trace in the Azure LLM trace schema, or length distributions; plus a rate or load curve."""

    trace: str | None = Field(
        default=None,
        description="CSV with TIMESTAMP,ContextTokens,GeneratedTokens; path relative to the spec",
    )
    input_tokens: LengthDistribution | None = None
    output_tokens: LengthDistribution | None = None
    rate_rps: float | None = Field(default=None, gt=0, le=MAX_RATE_RPS, description="mean request rate, requests/s")
    arrival: Literal["poisson", "trace"] = Field(
        default="poisson",
        description="poisson: seeded Poisson arrivals at rate_rps; trace: replay timestamps",
    )
    load_curve: tuple[LoadPoint, ...] | None = Field(default=None, description="request rate over the day")
    seed: int = Field(default=0, ge=0, le=MAX_SEED)

    @model_validator(mode="after")
    def _source(self) -> Workload:
        has_dist = self.input_tokens is not None or self.output_tokens is not None
        if self.trace and has_dist:
            raise ValueError("give either trace or input_tokens/output_tokens, not both")
        if has_dist and (self.input_tokens is None or self.output_tokens is None):
            raise ValueError("length distributions need both input_tokens and output_tokens")
        if self.arrival == "trace" and not self.trace:
            raise ValueError("arrival: trace needs a trace file")
        if self.load_curve is not None:
            times = [p.at for p in self.load_curve]
            if times != sorted(times) or len(set(times)) != len(times):
                raise ValueError("load_curve times must be strictly increasing")
        return self


class Slo(Strict):
    """Latency targets. Solvers that need finer SLOs read them from their own section."""

    ttft: DurationS | None = Field(default=None, description="time to first token")
    tbt: DurationS | None = Field(default=None, description="time between tokens")
    e2e: DurationS | None = Field(default=None, description="end-to-end request latency")
    percentile: float = Field(default=99.0, gt=0, le=100, description="percentile the targets apply to")


class Pricing(Strict):
    """Price overrides; defaults come from the profile database."""

    gpu_usd_h: dict[str, Annotated[float, Field(ge=0, le=MAX_USD_H)]] = Field(
        default_factory=dict, description="GPU type -> USD per GPU-hour"
    )
    electricity_usd_kwh: float = Field(default=0.10, ge=0, le=1000, description="energy price, USD/kWh")


class Power(Strict):
    """Power overrides and facility figures."""

    gpu_tdp_w: dict[str, Annotated[float, Field(gt=0, le=1e5)]] = Field(
        default_factory=dict, description="GPU type -> power limit, W"
    )
    pue: float = Field(default=1.0, ge=1.0, le=3.0, description="facility power usage effectiveness")
    carbon_g_per_kwh: float | None = Field(default=None, ge=0, le=1e5, description="grid carbon intensity")


class ClusterSpec(Strict):
    """A cluster spec (see README "Spec format")."""

    name: str | None = Field(default=None, description="short name used in reports")
    description: str | None = None
    model: str = Field(description="model name from the profile database (models.yaml), e.g. llama2-70b")
    nodes: tuple[NodeGroup, ...] = ()
    network: Network | None = None
    workload: Workload | None = None
    slo: Slo | None = None
    pricing: Pricing = Field(default_factory=Pricing)
    power: Power = Field(default_factory=Power)
    helix: HelixSection | None = None
    splitwise: SplitwiseSection | None = None
    dynamo: DynamoSection | None = None

    @model_validator(mode="after")
    def _unique_names(self) -> ClusterSpec:
        names = [g.name for g in self.nodes]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"node group names must be unique: {', '.join(dup)}")
        regions = {g.region for g in self.nodes}
        if self.network is not None and len(regions) > 1 and self.network.inter_region is None:
            raise ValueError("several regions need network.inter_region")
        return self
