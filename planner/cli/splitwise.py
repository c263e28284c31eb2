"""``plan splitwise``: option declarations, one call into :mod:`planner.runner.splitwise`, then ``--plot``."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Annotated

import typer

from planner.cli.common import (
    CommonOptions,
    Deferred,
    Format,
    FormatOpt,
    MaxNodesOpt,
    OutOpt,
    PlotOpt,
    ProfilesOpt,
    QuietOpt,
    SeedOpt,
    SetOpt,
    SpecArg,
    TimeLimitOpt,
    VerboseOpt,
    common_options,
    execute,
    parse_seconds_option,
)
from planner.errors import UsageError
from planner.plan import Plan
from planner.runner import SolverInputs
from planner.spec.loader import DEFAULT_MAX_NODES

if TYPE_CHECKING:
    from planner.splitwise.instance import SplitwiseOptions


class ObjectiveChoice(enum.StrEnum):
    cost = "cost"
    power = "power"
    machines = "machines"


RpsOpt = Annotated[
    float | None, typer.Option("--rps", help="Iso-throughput: the request rate to serve at least cost (req/s).")
]
ObjectiveOpt = Annotated[
    ObjectiveChoice | None,
    typer.Option("--objective", help="What --rps minimises: cost (USD/h), power (kW) or machines. Default: cost."),
]
CostTargetOpt = Annotated[
    float | None,
    typer.Option("--cost-target", help="Iso-cost: highest request rate within this budget (USD/h)."),
]
PowerTargetOpt = Annotated[
    float | None,
    typer.Option("--power-target", help="Iso-power: highest request rate within this provisioned power (kW)."),
]


def complete_designs(incomplete: str) -> list[str]:
    """Shell completion for --designs: baseline-<machine> and every prompt/token pair of the shipped catalogue.

    Completes the last comma-separated item, keeping what was typed before it.
    """
    from planner.profiles.db import ProfileDB

    head, _, last = incomplete.rpartition(",")
    prefix = f"{head}," if head else ""
    catalog = ProfileDB.load().catalog("machines")
    shorts = [str(v.get("short", k)) for k, v in sorted(catalog.items())]
    aliases = [str((v.get("aliases") or [k])[0]) for k, v in sorted(catalog.items())]
    names = [f"baseline-{a}" for a in aliases] + [a + b for a in shorts for b in shorts]
    return [prefix + n for n in names if n.startswith(last)]


DesignsOpt = Annotated[
    str | None,
    typer.Option(
        "--designs",
        help="Comma-separated designs: baseline-<machine> or prompt+token shorts (AA, HH, HA, HHcap) or X/Y.",
        autocompletion=complete_designs,
    ),
]
DurationOpt = Annotated[
    str | None, typer.Option("--duration", help="Simulated trace length per point (e.g. 30s, 2m). Default: spec.")
]
WorkersOpt = Annotated[
    int,
    typer.Option("--workers", help="Processes simulating points in parallel (0 = one per core). Plans do not change."),
]


def _options(
    rps: float | None,
    objective: ObjectiveChoice | None,
    cost_target: float | None,
    power_target: float | None,
    designs: str | None,
    duration: str | None,
    workers: int,
    common: CommonOptions,
) -> SplitwiseOptions:
    from planner.spec.sections.splitwise import MAX_SPLITWISE_DURATION_S
    from planner.spec.types import MAX_RATE_RPS
    from planner.splitwise.instance import SplitwiseOptions

    for flag, value, cap in (
        ("--rps", rps, MAX_RATE_RPS),
        ("--cost-target", cost_target, 1e9),
        ("--power-target", power_target, 1e7),
    ):
        if value is not None and not 0 < value <= cap:  # also refuses nan and inf
            raise UsageError(f"{flag} must be positive and at most {cap:g}, got {value}")
    duration_s = (
        None
        if duration is None
        else parse_seconds_option("--duration", duration, bare_seconds=False, maximum=MAX_SPLITWISE_DURATION_S)
    )
    if workers < 0:
        raise UsageError("--workers must be >= 0")
    return SplitwiseOptions(
        rps=rps,
        objective=objective.value if objective else None,
        cost_target_usd_h=cost_target,
        power_target_kw=power_target,
        designs=[d.strip() for d in designs.split(",")] if designs is not None else None,
        duration_s=duration_s,
        workers=workers,
        time_limit_s=common.time_limit_s,
        seed=common.seed,
        started_at=common.started_at,
    )


def splitwise_command(
    spec: SpecArg = None,
    rps: RpsOpt = None,
    objective: ObjectiveOpt = None,
    cost_target: CostTargetOpt = None,
    power_target: PowerTargetOpt = None,
    designs: DesignsOpt = None,
    duration: DurationOpt = None,
    workers: WorkersOpt = 0,
    out: OutOpt = None,
    fmt: FormatOpt = Format.table,
    profiles: ProfilesOpt = None,
    overrides: SetOpt = None,
    time_limit: TimeLimitOpt = "300",
    seed: SeedOpt = 0,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    plot: PlotOpt = None,
    max_nodes: MaxNodesOpt = DEFAULT_MAX_NODES,
) -> None:
    """Size prompt/token pools under the nine Splitwise SLOs (default spec: BLOOM-176B, coding trace)."""
    common = common_options(out, fmt, profiles, overrides, time_limit, seed, quiet, verbose, plot, max_nodes)

    def solve(inputs: SolverInputs) -> tuple[Plan, list[Deferred]]:
        from planner.runner.splitwise import run

        options = _options(rps, objective, cost_target, power_target, designs, duration, workers, common)
        result = run(inputs.loaded, inputs.profiles, options)
        plot = common.plot
        if plot is None:
            return result.plan, []

        def draw() -> None:
            from planner.render.plots import write_splitwise
            from planner.splitwise.plots import plot_data

            write_splitwise(plot_data(result), plot)

        return result.plan, [("--plot", plot, draw)]

    execute("splitwise", spec, common, solve)
