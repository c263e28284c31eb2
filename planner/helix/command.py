"""``plan helix``: option declarations and one call into the solver (see docs/helix.md)."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from planner.cli_common import (
    Format,
    FormatOpt,
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
from planner.helix.run import HelixCliOptions, run_helix
from planner.plan import Plan
from planner.runner import SolverInputs
from planner.units import UnitError, parse_bandwidth


class SolverChoice(enum.StrEnum):
    cpsat = "cpsat"
    scip = "scip"
    highs = "highs"


class FormulationChoice(enum.StrEnum):
    auto = "auto"
    per_node = "per-node"
    aggregated = "aggregated"


def _duration(flag: str, text: str | None) -> float | None:
    return None if text is None else parse_seconds_option(flag, text)


def _gap(text: str) -> float:
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise UsageError(f"--gap: expected a fraction (0.001) or a percentage (0.1%), got {text!r}") from None
    if not 0 <= value < 1:
        raise UsageError("--gap must be in [0, 1)")
    return value


def helix_command(
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
    solver: Annotated[SolverChoice, typer.Option("--solver", help="MILP backend.")] = SolverChoice.cpsat,
    formulation: Annotated[
        FormulationChoice,
        typer.Option("--formulation", help="MILP after the constructions: per-node (auto) or type-aggregated."),
    ] = FormulationChoice.auto,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Solver threads (1: deterministic interleaved search).")
    ] = 1,
    stall: Annotated[str | None, typer.Option("--stall", help="Stop after this long without improvement.")] = None,
    gap: Annotated[str, typer.Option("--gap", help="Stop within this gap of the proven bound (0.001 or 0.1%).")] = (
        "0.1%"
    ),
    partial_inference: Annotated[
        bool, typer.Option("--partial-inference", help="Allow overlapping ranges (start_j <= end_i < end_j).")
    ] = False,
    prune_keep: Annotated[
        int | None, typer.Option("--prune-keep", min=1, help="Keep each node's K fastest links.")
    ] = None,
    prune_threshold: Annotated[
        str | None, typer.Option("--prune-threshold", help="With --prune-keep: also keep links this fast (10Gbps).")
    ] = None,
    no_prune: Annotated[bool, typer.Option("--no-prune", help="Never prune (overrides the default rule).")] = False,
    swarm_stages: Annotated[
        int | None, typer.Option("--swarm-stages", min=1, help="Stages of the Swarm baseline (default: best).")
    ] = None,
    placement: Annotated[
        Path | None, typer.Option("--placement", help="Evaluate this placement (YAML/JSON or a helix plan).")
    ] = None,
    emit_baselines: Annotated[
        Path | None, typer.Option("--emit-baselines", help="Write petals/swarm/separate-pipelines plan JSONs here.")
    ] = None,
    resolution: Annotated[
        float, typer.Option("--resolution", min=1e-9, help="CP-SAT flow resolution, tokens/s per integer unit.")
    ] = 1e-3,
    max_hops: Annotated[
        int | None, typer.Option("--max-hops", min=1, help="At most this many nodes on any path carrying flow.")
    ] = None,
    max_token_latency: Annotated[
        str | None, typer.Option("--max-token-latency", help="Per-token decode latency limit (e.g. 250ms).")
    ] = None,
    pareto: Annotated[
        bool, typer.Option("--pareto", help="Print the throughput-versus-latency frontier (verified plans).")
    ] = False,
) -> None:
    """Place contiguous layer ranges on every node to maximise the max-flow throughput, and prove how close it is."""
    common = common_options(out, fmt, profiles, overrides, time_limit, seed, quiet, verbose, plot)

    def solve(inputs: SolverInputs) -> Plan:
        threshold = None
        if prune_threshold is not None:
            try:
                threshold = parse_bandwidth(prune_threshold)
            except UnitError as exc:
                raise UsageError(f"--prune-threshold: {exc}") from None
        token_latency = _duration("--max-token-latency", max_token_latency)
        cli = HelixCliOptions(
            solver=solver.value,  # type: ignore[arg-type]
            formulation=formulation.value,  # type: ignore[arg-type]
            workers=workers,
            stall_s=_duration("--stall", stall),
            gap=_gap(gap),
            partial_inference=partial_inference,
            prune_keep=prune_keep,
            prune_threshold_bytes_s=threshold,
            no_prune=no_prune,
            swarm_stages=swarm_stages,
            placement=placement,
            emit_baselines=emit_baselines,
            resolution_tok_s=resolution,
            max_hops=max_hops,
            max_token_latency_s=token_latency,
            pareto=pareto,
        )
        return run_helix(inputs, common, cli)

    execute("helix", spec, common, solve)
