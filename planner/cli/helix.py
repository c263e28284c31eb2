"""``plan helix``: option declarations, one call into :mod:`planner.runner.helix`, then the files asked for."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import typer

from planner.cli.common import (
    CommonOptions,
    Deferred,
    ExecutorKind,
    ExecutorOpt,
    Format,
    FormatOpt,
    MaxNodesOpt,
    OutOpt,
    PlotOpt,
    ProfilesOpt,
    QuietOpt,
    RayAddressOpt,
    SeedOpt,
    SetOpt,
    SpecArg,
    TimeLimitOpt,
    VerboseOpt,
    common_options,
    execute,
    executor_config,
    handle_errors,
    parse_seconds_option,
)
from planner.cli.outputs import Output
from planner.errors import UsageError
from planner.executors import ExecutorConfig
from planner.helix.solve import HelixOptions
from planner.paths import display_path
from planner.plan import Plan, write_plan
from planner.render.console import err_line
from planner.runner import SolverInputs
from planner.runner.helix import run_helix
from planner.runner.helix_pareto import POINT_FILE_GLOB
from planner.spec.loader import DEFAULT_MAX_NODES
from planner.spec.sections.helix import HelixSection
from planner.units import UnitError, parse_bandwidth


class SolverChoice(enum.StrEnum):
    cpsat = "cpsat"
    scip = "scip"
    highs = "highs"


class FormulationChoice(enum.StrEnum):
    auto = "auto"
    per_node = "per-node"
    aggregated = "aggregated"


#: ``--confirm``'s default: the two best searched placements and the best baseline are simulated before one is
#: recommended (docs/helix.md, "Confirmed by simulation").
CONFIRM_DEFAULT = 3


@dataclass(frozen=True)
class HelixCliOptions:
    """The helix-specific command-line options (None: take the spec's ``helix:`` section or the default)."""

    solver: Literal["cpsat", "scip", "highs"] = "cpsat"
    formulation: Literal["auto", "per-node", "aggregated"] = "auto"
    workers: int = 1
    stall_s: float | None = None
    gap: float = 1e-3
    partial_inference: bool = False
    prune_keep: int | None = None
    prune_threshold_bytes_s: float | None = None
    no_prune: bool = False
    swarm_stages: int | None = None
    placement: Path | None = None
    emit_baselines: Path | None = None
    resolution_tok_s: float = 1e-3
    max_hops: int | None = None
    search_evaluations: int | None = None
    max_token_latency_s: float | None = None
    pareto: bool = False
    objective: Literal["served", "max-flow"] = "served"
    pareto_dir: Path | None = None
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    confirm: int = CONFIRM_DEFAULT


def solver_options(section: HelixSection, common: CommonOptions, cli: HelixCliOptions) -> HelixOptions:
    """Command line over the spec's ``helix:`` section over the defaults."""
    if cli.prune_threshold_bytes_s is not None and cli.prune_keep is None and section.prune_keep is None:
        raise UsageError("--prune-threshold needs --prune-keep")
    return HelixOptions(
        mode="partial" if (cli.partial_inference or section.partial_inference) else "strict",
        solver=cli.solver,
        formulation=cli.formulation,
        time_limit_s=common.time_limit_s,
        started_at=common.started_at,
        rel_gap=cli.gap,
        stall_s=cli.stall_s,
        workers=cli.workers,
        seed=common.seed,
        prune_keep=cli.prune_keep if cli.prune_keep is not None else section.prune_keep,
        prune_threshold_bytes_s=cli.prune_threshold_bytes_s
        if cli.prune_threshold_bytes_s is not None
        else section.prune_threshold,
        no_prune=cli.no_prune,
        resolution_tok_s=cli.resolution_tok_s,
        swarm_stages=cli.swarm_stages if cli.swarm_stages is not None else section.swarm_stages,
        petals_seed=section.petals_seed,
        max_hops=cli.max_hops if cli.max_hops is not None else section.max_hops,
        search_evaluations=cli.search_evaluations,
    )


#: What ``--emit-baselines DIR`` writes inside DIR (checked against the command's inputs before solving).
BASELINE_FILES = ("petals.json", "swarm.json", "separate-pipelines.json")


def skipped_baseline(folder: Path, name: str, why: str) -> str:
    """The warning for a baseline not written. A file of its name left by an earlier run is removed,
    so that the folder holds this plan's baselines only (``plan simulate --compare DIR/*.json`` compares them); the
    name was checked before solving to be a regular file and no input of the command (``BASELINE_FILES``)."""
    stale = folder / f"{name}.json"
    removed = ""
    if stale.is_file():
        stale.unlink()
        removed = f"; the earlier {display_path(stale)} was removed"
    return f"{name}.json not written: {why}{removed}"


def run(inputs: SolverInputs, common: CommonOptions, cli: HelixCliOptions) -> tuple[Plan, list[Deferred]]:
    """Solve; ``--plot`` and ``--emit-baselines`` are returned as writers run after the plan is written."""
    section = inputs.loaded.spec.helix or HelixSection()
    result = run_helix(
        inputs,
        solver_options(section, common, cli),
        placement_file=cli.placement,
        mode_from_command_line=cli.partial_inference,
        max_token_latency_s=cli.max_token_latency_s,
        pareto=cli.pareto,
        baselines=cli.emit_baselines is not None,
        objective=cli.objective,
        pareto_plans=cli.pareto_dir is not None,
        executor=cli.executor,
        confirm=cli.confirm,
    )
    plan = result.plan
    deferred: list[Deferred] = []
    plot = common.plot
    if plot is not None:

        def draw() -> None:
            from planner.render.plots import write_helix
            from planner.render.registry import helix_figure

            write_helix(helix_figure(plan), plot)
            if not common.quiet:
                err_line(f"plot written to {display_path(plot)}")

        deferred.append(("--plot", plot, draw))
    folder = cli.emit_baselines
    if folder is not None:

        def baselines() -> None:
            written = []
            for name, baseline in result.baselines.items():
                path = folder / f"{name}.json"
                write_plan(baseline, path)
                written.append(display_path(path))
            for name, why in result.skipped_baselines.items():
                err_line(f"warning: --emit-baselines: {skipped_baseline(folder, name, why)}")
            if not common.quiet:
                err_line(f"baseline plans written: {', '.join(written) or 'none'}")

        deferred.append(("--emit-baselines", folder, baselines))
    pareto_dir = cli.pareto_dir
    if pareto_dir is not None:

        def frontier_plans() -> None:
            for name in sorted(result.pareto):
                write_plan(result.pareto[name], pareto_dir / name)
            if not common.quiet:
                err_line(f"{len(result.pareto)} frontier plans written to {display_path(pareto_dir)}")

        deferred.append(("--pareto-dir", pareto_dir, frontier_plans))
    return plan, deferred


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
    max_nodes: MaxNodesOpt = DEFAULT_MAX_NODES,
    solver: Annotated[SolverChoice, typer.Option("--solver", help="MILP backend.")] = SolverChoice.cpsat,
    formulation: Annotated[
        FormulationChoice,
        typer.Option("--formulation", help="MILP after the constructions: per-node (auto) or type-aggregated."),
    ] = FormulationChoice.auto,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Solver threads (1: deterministic interleaved search).")
    ] = 1,
    stall: Annotated[
        str | None, typer.Option("--stall", help="Stop the MILP after this long without a better plan (CP-SAT).")
    ] = None,
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
        Path | None,
        typer.Option(
            "--emit-baselines",
            help="Write the plan's baselines here (petals/swarm/separate-pipelines JSONs; one without flow is not).",
        ),
    ] = None,
    resolution: Annotated[
        float, typer.Option("--resolution", min=1e-9, help="CP-SAT flow resolution, tokens/s per integer unit.")
    ] = 1e-3,
    max_hops: Annotated[
        int | None, typer.Option("--max-hops", min=1, help="At most this many nodes on any path carrying flow.")
    ] = None,
    search_evaluations: Annotated[
        int | None,
        typer.Option(
            "--search-evaluations",
            min=2,
            help="Served search: local-search evaluations in all (default: sized from the cluster and --time-limit).",
        ),
    ] = None,
    max_token_latency: Annotated[
        str | None, typer.Option("--max-token-latency", help="Per-token decode latency limit (e.g. 250ms).")
    ] = None,
    pareto: Annotated[
        bool, typer.Option("--pareto", help="Print the throughput-versus-latency frontier (verified plans).")
    ] = False,
    pareto_dir: Annotated[
        Path | None,
        typer.Option("--pareto-dir", help="With --pareto: write each frontier point's plan JSON in this folder."),
    ] = None,
    jobs: Annotated[
        int,
        typer.Option(
            "--jobs", "-j", min=0, help="Frontier points planned at once (0: one per core). Plans do not change."
        ),
    ] = 0,
    executor: ExecutorOpt = ExecutorKind.local,
    ray_address: RayAddressOpt = None,
    objective: Annotated[
        str,
        typer.Option(
            "--objective",
            help="served: most predicted decode tokens/s (KV- and latency-aware); max-flow: the paper's objective.",
        ),
    ] = "served",
    confirm: Annotated[
        int | None,
        typer.Option(
            "--confirm",
            min=0,
            help="Served search: simulate the N best placements (N - 1 searched, the best baseline) offline on "
            "a request sample of their own and recommend the one that serves the most "
            f"(default {CONFIRM_DEFAULT} with the served search; 0 or 1: the prediction decides).",
        ),
    ] = None,
) -> None:
    """Place contiguous layer ranges on every node for the most served decode tokens/s (``--objective served``, the
    default) or the paper's max flow (``max-flow``), and prove how close the max flow is to its bound."""
    common = common_options(out, fmt, profiles, overrides, time_limit, seed, quiet, verbose, plot, max_nodes)

    def solve(inputs: SolverInputs) -> tuple[Plan, list[Deferred]]:
        threshold = None
        if prune_threshold is not None:
            try:
                threshold = parse_bandwidth(prune_threshold)
            except UnitError as exc:
                raise UsageError(f"--prune-threshold: {exc}") from None
        token_latency = _duration("--max-token-latency", max_token_latency)
        objectives: dict[str, Literal["served", "max-flow"]] = {"served": "served", "max-flow": "max-flow"}
        if objective not in objectives:
            raise UsageError(f"--objective: expected served or max-flow, got '{objective}'")
        if pareto_dir is not None and not pareto:
            raise UsageError("--pareto-dir needs --pareto")
        searched = objective == "served" and placement is None
        if confirm is not None and confirm > 1 and not searched:
            raise UsageError("--confirm confirms the served search: it needs --objective served and no --placement")
        cli = HelixCliOptions(
            solver=solver.value,
            formulation=formulation.value,
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
            search_evaluations=search_evaluations,
            max_token_latency_s=token_latency,
            pareto=pareto,
            objective=objectives[objective],
            pareto_dir=pareto_dir,
            executor=where,
            confirm=confirm if confirm is not None else (CONFIRM_DEFAULT if searched else 0),
        )
        return run(inputs, common, cli)

    with handle_errors():
        where = executor_config(executor, jobs, ray_address)

    execute(
        "helix",
        spec,
        common,
        solve,
        inputs=(placement,),
        outputs=(
            Output("--emit-baselines", emit_baselines, "dir", BASELINE_FILES),
            Output("--pareto-dir", pareto_dir, "dir", pattern=POINT_FILE_GLOB),
        ),
    )
