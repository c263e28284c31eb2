"""Glue between ``plan helix`` and the solver: options -> instance -> solve -> plan document (+ plot, baselines)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from planner.errors import InfeasibleError, UsageError
from planner.helix.instance import HelixInstance, build_instance
from planner.helix.placement import read_placement
from planner.helix.plan_block import (
    assumptions,
    baselines_block,
    metric_name,
    metrics,
    placement_block,
    result_block,
)
from planner.helix.solve import HelixOptions, HelixResult, solve_helix
from planner.paths import display_path
from planner.plan import Plan, write_plan
from planner.render.console import err_line
from planner.runner import CommonOptions, Inputs_, assemble_plan
from planner.solver import SolveReport
from planner.spec.sections.helix import HelixSection


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
    max_token_latency_s: float | None = None
    pareto: bool = False


def solver_options(section: HelixSection, common: CommonOptions, cli: HelixCliOptions) -> HelixOptions:
    """Command line over the spec's ``helix:`` section over the defaults."""
    if cli.prune_threshold_bytes_s is not None and cli.prune_keep is None and section.prune_keep is None:
        raise UsageError("--prune-threshold needs --prune-keep")
    return HelixOptions(
        mode="partial" if (cli.partial_inference or section.partial_inference) else "strict",
        solver=cli.solver,
        formulation=cli.formulation,
        time_limit_s=common.time_limit_s,
        gap=cli.gap,
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
    )


def recorded_options(opts: HelixOptions, cli: HelixCliOptions) -> dict[str, Any]:
    """Every option that shaped the plan, for ``inputs.options`` (paths as displayed)."""
    out: dict[str, Any] = asdict(opts)
    out["placement"] = display_path(cli.placement) if cli.placement else None
    out["max_hops"] = cli.max_hops
    out["max_token_latency_s"] = cli.max_token_latency_s
    return out


def run_helix(inputs: Inputs_, common: CommonOptions, cli: HelixCliOptions) -> Plan:
    """Build the instance, solve (or evaluate ``--placement``), and assemble the plan document."""
    started = time.perf_counter()
    loaded, db = inputs.loaded, inputs.profiles
    section = loaded.spec.helix or HelixSection()
    inst = build_instance(loaded, db, section)
    opts = solver_options(section, common, cli)
    options = recorded_options(opts, cli)
    placement = None
    if cli.placement is not None:
        placement, file_mode = read_placement(cli.placement, inst)
        if file_mode is not None and file_mode != opts.mode and not cli.partial_inference:
            opts = HelixOptions(**{**asdict(opts), "mode": file_mode})
            options["mode"] = file_mode
    try:
        res = solve_helix(inst, opts, placement)
    except InfeasibleError as exc:
        exc.plan = _infeasible_plan(inputs, inst, opts, options, str(exc), started)
        raise
    plan = _plan(inputs, res, options, started, warnings=list(inst.warnings) + res.notes)
    if common.plot is not None:
        from planner.helix.plot import plot_plan

        plot_plan(plan, common.plot)
        if not common.quiet:
            err_line(f"plot written to {display_path(common.plot)}")
    if cli.emit_baselines is not None:
        written = emit_baselines(inputs, res, options, cli.emit_baselines, started)
        if not common.quiet:
            err_line(f"baseline plans written: {', '.join(written)}")
    return plan


def _plan(inputs: Inputs_, res: HelixResult, options: dict[str, Any], started: float, warnings: list[str]) -> Plan:
    return assemble_plan(
        "helix",
        inputs.loaded,
        inputs.profiles,
        res.report,
        result_block(res),
        metrics(res),
        assumptions(res),
        warnings,
        options,
        time.perf_counter() - started,
    )


def _infeasible_plan(
    inputs: Inputs_, inst: HelixInstance, opts: HelixOptions, options: dict[str, Any], message: str, started: float
) -> Plan:
    from planner.helix.flow import FlowResult

    empty = FlowResult(0.0, {}, {}, {})
    block = placement_block(inst, opts.mode, {}, empty)
    report = SolveReport(backend=opts.solver, status="infeasible", message=message)
    return assemble_plan(
        "helix",
        inputs.loaded,
        inputs.profiles,
        report,
        block,
        {"throughput_tok_s": 0.0},
        list(inst.assumptions),
        list(inst.warnings),
        options,
        time.perf_counter() - started,
    )


def emit_baselines(
    inputs: Inputs_, res: HelixResult, options: dict[str, Any], out_dir: Path, started: float
) -> list[str]:
    """One full plan JSON per baseline (``petals.json``, ``swarm.json``, ``separate-pipelines.json``)."""
    written = []
    for b in res.baselines:
        if not b.ranges or b.flow is None:
            continue
        block = placement_block(res.full, res.mode, b.ranges, b.flow)
        block["baselines"] = baselines_block(res.baselines)
        block["bounds"] = {"best_tok_s": res.best_bound_tok_s, "active": res.bound_source}
        block["search"] = {"chosen": f"baseline:{b.name}", "params": dict(b.params)}
        report = SolveReport(
            backend=f"baseline:{b.name}",
            status="feasible",
            objective=b.throughput_tok_s,
            best_bound=res.best_bound_tok_s,
            message=b.note or f"{b.name} placement evaluated with the same max flow",
        )
        value = b.throughput_tok_s
        mets: dict[str, float | None] = {
            "throughput_tok_s": value,
            "solver_bound_tok_s": res.best_bound_tok_s,
            "flow_vs_bound": value / res.best_bound_tok_s if res.best_bound_tok_s > 0 else None,
            metric_name(b.name): value,
        }
        warnings = [b.note] if b.note else []
        plan = assemble_plan(
            "helix",
            inputs.loaded,
            inputs.profiles,
            report,
            block,
            mets,
            assumptions(res),
            warnings,
            {**options, "baseline": b.name},
            time.perf_counter() - started,
        )
        path = out_dir / f"{b.name}.json"
        write_plan(plan, path)
        written.append(display_path(path))
    return written
