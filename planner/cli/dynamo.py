"""``plan dynamo``: option declarations, one call into :mod:`planner.runner.dynamo`, then ``--plot``."""

from __future__ import annotations

import math
from pathlib import Path
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
    from planner.dynamo.instance import DynamoOptions  # imported when the command runs: the solver loads slowly

ModeOpt = Annotated[
    str | None,
    typer.Option("--mode", help="joint (one MILP per epoch) or hierarchical (cluster/pool/instance levels)."),
]
EpochOpt = Annotated[str | None, typer.Option("--epoch", help="Cluster-level period, e.g. 30m (instances per pool).")]
ReshardOpt = Annotated[
    str | None, typer.Option("--reshard-epoch", help="Pool-level period and plan granularity, e.g. 5m (TP mix).")
]
BudgetOpt = Annotated[int | None, typer.Option("--gpu-budget", min=1, help="GPUs available (default: the spec's).")]
SloOpt = Annotated[
    str | None, typer.Option("--slo", help="End-to-end latency bound for every class, e.g. 15s (p99 unless stated).")
]
CarbonOpt = Annotated[
    Path | None, typer.Option("--carbon", dir_okay=False, help="Grid carbon intensity CSV (time,gco2_per_kwh).")
]
PriceOpt = Annotated[float | None, typer.Option("--price-kwh", min=0.0, help="Electricity price, USD/kWh.")]
MaxEpochsOpt = Annotated[
    int,
    typer.Option("--max-epochs", min=1, help="Refuse plans of more epochs than this (one MILP per epoch)."),
]


def _duration(flag: str, text: str | None) -> float | None:
    return None if text is None else parse_seconds_option(flag, text, bare_seconds=False)


def dynamo_command(
    spec: SpecArg = None,
    out: OutOpt = None,
    fmt: FormatOpt = Format.table,
    profiles: ProfilesOpt = None,
    overrides: SetOpt = None,
    time_limit: TimeLimitOpt = "60",
    seed: SeedOpt = 0,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    plot: PlotOpt = None,
    max_nodes: MaxNodesOpt = DEFAULT_MAX_NODES,
    mode: ModeOpt = None,
    epoch: EpochOpt = None,
    reshard_epoch: ReshardOpt = None,
    gpu_budget: BudgetOpt = None,
    slo: SloOpt = None,
    carbon: CarbonOpt = None,
    price_kwh: PriceOpt = None,
    max_epochs: MaxEpochsOpt = 1440,
) -> None:
    """Run the dynamo solver on SPEC (default: the shipped example)."""
    from planner.cli.common import handle_errors

    common = common_options(out, fmt, profiles, overrides, time_limit, seed, quiet, verbose, plot, max_nodes)
    with handle_errors():
        from planner.dynamo.instance import DynamoOptions

        if price_kwh is not None and not math.isfinite(price_kwh):
            raise UsageError(f"--price-kwh must be a finite number, got {price_kwh}")
        if mode is not None and mode not in ("joint", "hierarchical"):
            raise UsageError(f"--mode must be joint or hierarchical, got '{mode}'")
        opts = DynamoOptions(
            mode=mode,
            epoch_s=_duration("--epoch", epoch),
            reshard_epoch_s=_duration("--reshard-epoch", reshard_epoch),
            gpu_budget=gpu_budget,
            slo_e2e_s=_duration("--slo", slo),
            carbon=carbon,
            price_kwh=price_kwh,
            time_limit_s=common.time_limit_s,
            seed=seed,
            max_epochs=max_epochs,
            started_at=common.started_at,
        )
    execute("dynamo", spec, common, lambda inputs: _solve(inputs, opts, common), inputs=(carbon,))


def _solve(inputs: SolverInputs, opts: DynamoOptions, common: CommonOptions) -> tuple[Plan, list[Deferred]]:
    from planner.runner.dynamo import plan_dynamo

    plan = plan_dynamo(inputs, opts)
    plot = common.plot
    if plot is None:
        return plan, []

    def draw() -> None:
        from planner.render.plots import write_dynamo
        from planner.render.registry import dynamo_figure

        write_dynamo(dynamo_figure(plan), plot)

    return plan, [("--plot", plot, draw)]
