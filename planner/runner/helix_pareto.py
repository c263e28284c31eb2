"""``plan helix --pareto``: the throughput-versus-latency frontier, one complete plan per point, on an executor.

Each point is an independent run: the method's constructions (no MILP) under one hop limit from
:func:`~planner.helix.latency.hop_counts`, the latency report and the served prediction of what it finds, and the
point's own plan document (the same assembly as the command's plan). Points share nothing but the instance, so they
run on the executors of :mod:`planner.executors` (``--jobs N`` local workers, or Ray with ``--executor ray``): the
instance and inputs go to each worker once (the executor's initializer), each task is just a hop limit, and the
results are put back in hop order, so the frontier and every point's plan are the same bytes (outside ``run``)
wherever and in whatever order the points ran.

The command's time limit (``SolveOptions.time_limit_s``) covers the frontier too: the points run before the
command's deadline (a wall-clock instant, so that it means the same in every worker), each with at most an eighth
of the limit (at least 2 s when that much is left); a point that would start with less than
:data:`MIN_POINT_S` left is not tried and is named in the plan's warnings.

Which points make the frontier depends on the objective: with ``served`` (default) a point stays unless another
predicts at least its decode tokens/s at no worse p50 and no worse p99 per-token latency; with ``max-flow`` (the
paper's) the max flow against the slowest path's static decode latency, as before the served prediction existed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

from planner.errors import InfeasibleError, TimeLimitReached
from planner.executors import ExecutorConfig, LocalExecutor, available_cores
from planner.helix.instance import HelixInstance
from planner.helix.latency import LayerLatency, hop_counts
from planner.helix.served import ServedModel
from planner.helix.solve import HelixOptions, solve
from planner.plan import Plan
from planner.runner import SolverInputs
from planner.solver import never_cancelled

#: A point is not started with less than this left before the command's deadline.
MIN_POINT_S = 0.5


def point_file(hops: int) -> str:
    """The file name of the frontier point planned with at most ``hops`` nodes per path (``--pareto-dir``)."""
    return f"pareto-max-hops-{hops}.json"


#: What :func:`point_file` names, as a glob (the CLI checks existing files of this shape before solving).
POINT_FILE_GLOB = "pareto-max-hops-*.json"


@dataclass(frozen=True)
class FrontierContext:
    """Everything a frontier point needs, sent once to each worker (picklable: no hooks, no clocks but one)."""

    inputs: SolverInputs
    inst: HelixInstance
    opts: HelixOptions
    options: dict[str, Any]
    served: ServedModel
    lat_model: LayerLatency
    objective: str
    #: ``time.time()`` instant of the command's deadline (a wall clock means the same in every worker process)
    deadline_unix: float
    #: assemble each point's plan document (``--pareto-dir``), not only its row
    plans: bool


@dataclass(frozen=True)
class PointOutcome:
    """One hop limit's result: its row of ``plan.pareto`` and its plan, or why there is none."""

    hops: int
    row: dict[str, Any] | None = None
    plan: Plan | None = None
    skipped: str = ""


@dataclass
class Frontier:
    """The frontier (rows by hop limit, the fewest first), each row's plan by file name, and what was not computed."""

    rows: list[dict[str, Any]]
    plans: dict[str, Plan] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    interrupted: bool = False


_CONTEXT: FrontierContext | None = None


def _init(context: FrontierContext) -> None:
    global _CONTEXT
    _CONTEXT = context


def _point(hops: int) -> PointOutcome:
    """Plan one frontier point (module-level, so it pickles by reference to a worker)."""
    from planner.runner.helix import latency_of, point_plan

    ctx = _CONTEXT
    assert ctx is not None, "the executor's initializer hands the context over"
    started = time.perf_counter()
    left = ctx.deadline_unix - time.time()
    if left < MIN_POINT_S:
        return PointOutcome(hops, skipped="time limit")
    budget = min(max(ctx.opts.time_limit_s / 8, 2.0), left)
    opts = replace(ctx.opts, max_hops=hops, milp=False, time_limit_s=budget, started_at=time.monotonic())
    try:
        res = solve(ctx.inst, opts)
    except InfeasibleError as exc:
        return PointOutcome(hops, skipped=f"infeasible ({exc})")
    except TimeLimitReached:  # the point's share ran out before its first plan: skipped, as one not started
        return PointOutcome(hops, skipped="time limit")
    if res.flow.value <= 0:
        return PointOutcome(hops, skipped="no flow")
    lat = latency_of(res, ctx.lat_model)
    prediction = ctx.served.predict(res.full, res.ranges, res.flow)
    block = lat.block()
    row: dict[str, Any] = {
        "max_hops": hops,
        "throughput_tok_s": res.flow.value,
        "bound_tok_s": res.best_bound_tok_s,
        "pipeline_depth_hops": block["max_hops"],
        "decode_ms_per_token_max": block["decode_ms_per_token_max"],
        "prompt_ms_mean": block["prompt_ms_mean"],
        "in_flight_requests": block["in_flight_requests"],
        "source": res.chosen,
        "predicted_decode_tok_s": prediction.decode_tok_s,
        "predicted_token_latency_p50_ms": prediction.token_latency_p50_ms,
        "predicted_token_latency_p99_ms": prediction.token_latency_p99_ms,
    }
    plan = None
    if ctx.plans:
        row["plan_file"] = point_file(hops)
        options = {**ctx.options, "max_hops": hops, "milp": False, "pareto": False, "pareto_point": hops}
        plan = point_plan(ctx.inputs, res, lat, options, started, prediction, f"pareto:max-hops={hops}")
    return PointOutcome(hops, row, plan)


def _dominates(a: dict[str, Any], b: dict[str, Any], better: tuple[tuple[str, int], ...]) -> bool:
    """Whether ``a`` is at least as good as ``b`` on every axis (sense +1: higher is better) and not the same
    point (equal on every axis: the one with fewer hops wins)."""
    if any(sense * (a[k] - b[k]) < 0 for k, sense in better):
        return False
    return any(sense * (a[k] - b[k]) > 0 for k, sense in better) or a["max_hops"] < b["max_hops"]


def _on_frontier(rows: list[dict[str, Any]], objective: str) -> list[dict[str, Any]]:
    """The non-dominated rows (see module docstring for the axes), by hop limit, the fewest first.

    The order is the input's (each row has its own hop limit), not a computed figure's: sorted by latency, two points
    whose predictions are close swapped places from one run to the next when a loaded machine cut a point's
    time-limited constructions elsewhere."""
    axes: tuple[tuple[str, int], ...]
    if objective == "served":
        axes = (
            ("predicted_decode_tok_s", 1),
            ("predicted_token_latency_p50_ms", -1),
            ("predicted_token_latency_p99_ms", -1),
        )
    else:
        axes = (("throughput_tok_s", 1), ("decode_ms_per_token_max", -1))
    kept = [r for r in rows if not any(_dominates(o, r, axes) for o in rows if o is not r)]
    return sorted(kept, key=lambda r: int(r["max_hops"]))


def _workers(where: ExecutorConfig, points: int) -> ExecutorConfig:
    """No more local workers than points (0: one per core); one point or one worker runs in this process."""
    if where.kind != "local":
        return where
    jobs = where.jobs or available_cores()
    return replace(where, jobs=max(1, min(jobs, points)))


def frontier(ctx: FrontierContext, where: ExecutorConfig) -> Frontier:
    """Every hop limit's point on ``where``, then the frontier; Ctrl-C keeps the points finished before it."""
    hops = hop_counts(ctx.inst)
    outcomes: dict[int, PointOutcome] = {}
    interrupted = False
    executor = _workers(where, len(hops)).make(_init, (ctx,))
    try:
        for outcome in executor.imap_unordered(_point, hops):
            outcomes[outcome.hops] = outcome
    except KeyboardInterrupt:
        interrupted = True
        if isinstance(executor, LocalExecutor):
            executor.terminate()
    finally:
        executor.close()
        _init_none()
    done = [outcomes[h] for h in sorted(outcomes)]
    front = _on_frontier([o.row for o in done if o.row is not None], ctx.objective)
    kept = {r["max_hops"] for r in front}
    plans = {point_file(o.hops): o.plan for o in done if o.plan is not None and o.hops in kept}
    notes = [f"--pareto: no point with at most {o.hops} nodes per path: {o.skipped}" for o in done if o.skipped]
    if interrupted:
        notes.append(f"--pareto: interrupted (Ctrl-C) with {len(done)} of {len(hops)} points finished")
    return Frontier(front, plans, notes, interrupted)


def _init_none() -> None:
    """Forget the context in this process (the serial path ran the points here)."""
    global _CONTEXT
    _CONTEXT = None


def frontier_context(
    inputs: SolverInputs,
    inst: HelixInstance,
    opts: HelixOptions,
    options: dict[str, Any],
    served: ServedModel,
    lat_model: LayerLatency,
    objective: str,
    plans: bool,
) -> FrontierContext:
    """The context of a frontier run: the command's options without its hooks, its deadline as a wall clock."""
    from planner.solver import remaining_s

    deadline_unix = time.time() + remaining_s(opts.deadline())
    bare = replace(opts, cancel=never_cancelled, started_at=None)
    return FrontierContext(inputs, inst, bare, dict(options), served, lat_model, objective, deadline_unix, plans)
