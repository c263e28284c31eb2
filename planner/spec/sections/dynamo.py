"""The optional ``dynamo:`` section of a cluster spec (options of ``plan dynamo``; see docs/dynamo.md).

Every field has a default, so a spec with ``nodes`` and a ``workload`` runs without this section. Command-line
options (``--mode``, ``--epoch``, ``--reshard-epoch``, ``--gpu-budget``, ``--slo``, ``--carbon``, ``--price-kwh``)
override the matching fields.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

from planner.spec.types import STRICT_CONFIG, DurationS


class _Strict(BaseModel):
    model_config = STRICT_CONFIG


class DynamoClasses(_Strict):
    """Request classes: input x output length buckets (DynamoLLM reference section 3)."""

    input_cuts: tuple[int, ...] = Field(default=(256, 1024), description="input-token cut points, increasing")
    output_cuts: tuple[int, ...] = Field(default=(100, 350), description="output-token cut points, increasing")
    input_labels: tuple[str, ...] = Field(default=("S", "M", "L"), description="input bucket labels, shortest first")
    output_labels: tuple[str, ...] = Field(default=("S", "M", "L"), description="output bucket labels")

    @model_validator(mode="after")
    def _consistent(self) -> DynamoClasses:
        for cuts, labels, what in (
            (self.input_cuts, self.input_labels, "input"),
            (self.output_cuts, self.output_labels, "output"),
        ):
            if list(cuts) != sorted(set(cuts)) or any(c <= 0 for c in cuts):
                raise ValueError(f"{what}_cuts must be positive and strictly increasing")
            if len(labels) != len(cuts) + 1:
                raise ValueError(f"{what}_labels needs {len(cuts) + 1} labels for {len(cuts)} cut points")
            if len(set(labels)) != len(labels):
                raise ValueError(f"{what}_labels must be distinct")
        return self


class ClassSlo(_Strict):
    """Latency targets of one class (p-th percentile, ``slo.percentile`` of the spec)."""

    ttft: DurationS | None = None
    tbt: DurationS | None = None
    e2e: DurationS | None = None


class DynamoSlo(_Strict):
    """Per-class SLOs. Precedence: ``classes.<name>`` > the spec's top-level ``slo`` > the isolated-latency rule."""

    isolated_multiple: float | None = Field(
        default=5.0,
        gt=1.0,
        description="default TTFT and TBT target = this x the class's isolated latency on the reference config "
        "(DynamoLLM: 5x); null = no default",
    )
    reference_tp: int | None = Field(
        default=None, ge=1, le=64, description="TP of the reference config (default: largest)"
    )
    reference_freq_mhz: int | None = Field(
        default=None, gt=0, le=100_000, description="clock of the reference (default: max)"
    )
    classes: dict[str, ClassSlo] = Field(default_factory=dict, description="class name -> targets")


class Reconfiguration(_Strict):
    """What changing the deployment costs, charged against the previous epoch so that plans do not thrash."""

    instance_start: DurationS = Field(
        default=120.0, description="a GPU joining a pool loads weights this long at idle power before serving"
    )
    reshard: DurationS = Field(default=5.0, description="a GPU of a newly formed instance of a TP pauses this long")
    penalty_weight: float = Field(
        default=1.0, ge=0, le=1e6, description="multiplier of the reconfiguration energy in the MILP"
    )


class DynamoSection(_Strict):
    """Options of the dynamo solver that belong with the cluster rather than on the command line."""

    mode: Literal["joint", "hierarchical"] = Field(
        default="hierarchical",
        description="hierarchical: instances per pool every epoch, TP mix every reshard_epoch, clock per instance; "
        "joint: one MILP over instances x TP x clock every reshard_epoch",
    )
    epoch: DurationS = Field(default=1800.0, gt=0, description="cluster-level period (instances per pool)")
    reshard_epoch: DurationS = Field(default=300.0, gt=0, description="pool-level period (TP mix); plan granularity")
    horizon: DurationS | None = Field(
        default=None,
        gt=0,
        le=86400,
        description="planned span, at most 24h; default: 24h for a load curve, the trace span (up to 24h) for a replay",
    )
    load_interpolation: Literal["step", "linear"] = Field(
        default="step", description="how workload.load_curve is read between its points"
    )
    gpu_budget: int | None = Field(
        default=None, ge=1, le=1_000_000, description="GPUs available; default: all GPUs of nodes"
    )
    headroom: float = Field(default=0.1, ge=0, le=10, description="provision (1 + headroom) x the peak rate")
    tp: tuple[int, ...] | None = Field(default=None, description="TP degrees allowed (default: all profiled)")
    freqs_mhz: tuple[int, ...] | None = Field(default=None, description="SM clocks allowed (default: all profiled)")
    dominance: bool = Field(default=False, description="a pool of a longer class may also serve shorter classes")
    homogeneous_pools: bool = Field(default=False, description="at most one (TP, clock) configuration per pool")
    classes: DynamoClasses = Field(default_factory=DynamoClasses)
    slo: DynamoSlo = Field(default_factory=DynamoSlo)
    reconfiguration: Reconfiguration = Field(default_factory=Reconfiguration)
    carbon_intensity: str | None = Field(
        default=None, description="CSV of grid intensity over the day (time,gco2_per_kwh); path relative to the spec"
    )
    profile_table: str = Field(default="dynamo_profile", description="profile table to read")
    savings_against: Literal["singlepool-fixed", "singlepool-peak"] = Field(
        default="singlepool-fixed",
        description="the SinglePool the saving is stated against: the whole budget all day (the paper's fixed "
        "cluster) or sized for the day's peak; both are reported",
    )
    interference: bool = Field(
        default=True,
        description="classes sharing an instance slow each other (short prefills queue behind long ones, decode "
        "slows with co-running prefills): each class's SLO caps the others' load; false = linear mixing only",
    )
    released_gpus: Literal["release", "park"] = Field(
        default="release",
        description="GPUs of the budget outside every instance: release (0 W, the default) or park (they draw idle "
        "power at the lowest profiled clock); the same rule for the plan and every baseline",
    )

    @model_validator(mode="after")
    def _periods(self) -> DynamoSection:
        ratio = self.epoch / self.reshard_epoch
        if abs(ratio - round(ratio)) > 1e-9 or round(ratio) < 1:
            raise ValueError("epoch must be a whole multiple of reshard_epoch")
        return self
