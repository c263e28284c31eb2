"""``plan dynamo`` below the CLI: resolve the problem, solve the day, verify, compare with baselines, assemble the plan.

References: Stojkovic et al., "DynamoLLM: Designing LLM Inference Clusters for Performance and Energy Efficiency",
HPCA 2025 (arXiv 2408.00741); the formulation actually solved is documented in :mod:`planner.dynamo.model`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from planner.dynamo.baselines import all_baselines
from planner.dynamo.contract import DynamoPlanBlock
from planner.dynamo.extract import assumptions, plan_block, predicted_shares
from planner.dynamo.instance import DynamoOptions, DynamoProblem, prepare
from planner.dynamo.model import BACKEND_NAME, REL_GAP
from planner.dynamo.solution import DayResult
from planner.dynamo.solve import solve
from planner.dynamo.verify import verify_plan
from planner.errors import InfeasibleError
from planner.plan import Plan
from planner.runner import SolverInputs, assemble_plan, stopwatch
from planner.solver import SolveReport, Status


def _options_record(problem: DynamoProblem, opts: DynamoOptions) -> dict[str, Any]:
    return {
        "mode": problem.mode,
        "epoch_s": problem.epoch_s,
        "reshard_epoch_s": problem.reshard_epoch_s,
        "gpu_budget": problem.gpu_budget,
        "slo_e2e_s": opts.slo_e2e_s,
        "carbon": problem.carbon.source if problem.carbon is not None else None,
        "price_kwh": problem.price_kwh,
        "time_limit_s": opts.time_limit_s,
        "seed": opts.seed,
    }


def partial_note(day: DayResult) -> str:
    """``interrupted after k of n epochs`` / ``time limit reached after k of n epochs`` (empty for a whole day)."""
    if day.interrupted:
        return f"interrupted after {len(day.epochs)} of {day.planned} epochs (Ctrl-C)"
    if day.timed_out:
        before = f", before epoch {day.stopped_at} had a feasible plan" if day.stopped_at else ""
        return (
            f"time limit reached after {len(day.epochs)} of {day.planned} epochs (--time-limit){before} "
            "(raise --time-limit to plan the whole horizon)"
        )
    return ""


def solver_report(day: DayResult, wall_s: float) -> SolveReport:
    """Worst status over the epochs, summed objectives and bounds, and how many epochs were proved optimal.

    A day cut short by Ctrl-C reports status ``interrupted``, one cut short by the time limit ``time_limit``; their
    objective and bound cover the solved epochs only.
    """
    status = Status.worst((e.status for e in day.epochs), default=Status.optimal)
    proved = sum(e.status == "optimal" for e in day.epochs)
    objective = sum(e.objective_wh or 0.0 for e in day.epochs)
    bound = sum(e.bound_wh if e.bound_wh is not None else (e.objective_wh or 0.0) for e in day.epochs)
    if day.mode == "joint":
        message = (
            f"{proved}/{len(day.epochs)} epochs proved optimal ({day.enumerated} by exact per-pool enumeration of the "
            f"joint MILP, no gap; {day.solves} joint MILP solves, {day.screened} after exact screening, relative gap "
            f"<= {REL_GAP:g}); objective = sum of epoch objectives in Wh (energy + reconfiguration penalty + "
            "tie-break); rolling horizon: each epoch is optimal given the previous one, not the day jointly"
        )
    else:
        levels = (
            "cluster level: fragmentation rule per window; pool level: exact re-shard by enumeration per epoch; "
            "clock per instance group"
        )
        message = (
            f"{proved}/{len(day.epochs)} epochs proved optimal ({day.solves} MILP solves, {levels}; "
            f"{day.screened} solved after exact screening; relative gap <= {REL_GAP:g}); objective = sum of epoch "
            "MILP objectives in Wh (energy + reconfiguration penalty + tie-break); rolling horizon: each epoch is "
            "optimal given the previous one, not the day jointly"
        )
    if day.interrupted:
        status = Status.interrupted
    elif day.timed_out:
        status = Status.worst((status, Status.time_limit))
    if day.partial:
        message = f"{partial_note(day)}; the plan covers those epochs only; {message}"
    return SolveReport(
        backend=day.backend,
        status=status,
        objective=objective,
        best_bound=bound,
        message=message,
        wall_s=wall_s,
    )


def _infeasible_plan(
    inputs: SolverInputs, opts: DynamoOptions, problem: DynamoProblem | None, exc: InfeasibleError, wall_s: float
) -> Plan:
    """The plan document written with ``--out`` when no plan exists: status infeasible and the reason."""
    report = SolveReport(backend=BACKEND_NAME, status=Status.infeasible, message=str(exc))
    block = DynamoPlanBlock(mode=problem.mode if problem else opts.mode, epochs=[], infeasible=exc.shortfall.describe())
    return assemble_plan(
        "dynamo",
        inputs.loaded,
        inputs.profiles,
        report,
        block,
        {},
        assumptions(problem) if problem else [],
        list(problem.warnings) if problem else [],
        _options_record(problem, opts) if problem else {"slo_e2e_s": opts.slo_e2e_s, "mode": opts.mode},
        wall_s,
    )


def plan_dynamo(inputs: SolverInputs, opts: DynamoOptions) -> Plan:
    """Solve and return the plan document (raises InfeasibleError with an infeasible plan attached)."""
    loaded, db = inputs.loaded, inputs.profiles
    problem: DynamoProblem | None = None
    with stopwatch() as t:
        try:
            problem = prepare(loaded, db, opts)
            day = solve(problem, opts)
        except InfeasibleError as exc:
            exc.plan = _infeasible_plan(inputs, opts, problem, exc, t[0])
            raise
        assert problem is not None
        # A partial day is compared with baselines over the same epochs (sized for their peak, not the day's).
        covered = replace(problem, epochs=problem.epochs[: len(day.epochs)]) if day.partial else problem
        baselines = all_baselines(covered, day.epochs, opts)
        block, metrics, _totals = plan_block(problem, day, baselines)
        verify_plan(problem, block)
    warnings = list(problem.warnings)
    if day.partial:
        end = problem.epochs[len(day.epochs)].label
        warnings.append(
            f"{partial_note(day)}: the plan and its baselines cover {day.epochs[0].epoch.label} to {end} only"
        )
    for b in baselines:
        if b.epochs is None:
            warnings.append(f"baseline {b.name} unavailable: {b.note}")
        elif b.gpus > problem.gpu_budget and b.name != "plan-top-clock":
            warnings.append(f"baseline {b.name} needs {b.gpus} GPUs, more than the budget of {problem.gpu_budget}")
    if "synthetic" in problem.profiles.provenance:
        warnings.append(
            "profile rows are SYNTHETIC (physical model, docs/dynamo.md): figures show the planner's behaviour, "
            "not measured DynamoLLM results"
        )
    return assemble_plan(
        "dynamo",
        loaded,
        db,
        solver_report(day, t[0]),
        block,
        metrics,
        assumptions(problem),
        warnings,
        _options_record(problem, opts),
        t[0],
        shares=predicted_shares(block),
    )
