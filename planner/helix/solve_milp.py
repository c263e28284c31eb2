"""Solve a built Helix model (per-node or aggregated) with CP-SAT or MathOpt, and extract what it found.

The solve runs in a worker thread so the main thread can react to Ctrl-C (stop the search, keep the best
incumbent: status ``interrupted``) and to ``--stall`` (no improvement for that long: stop). CP-SAT with one worker
and a fixed seed is deterministic as long as no time-based stop fires.

Inside the served search the options carry :class:`~planner.helix.work.WorkLimits`: CP-SAT then stops at a
deterministic time (one thread, interleaved workers), SCIP / HiGHS at a node limit, ``--stall`` is not used, and the
wall clock (the command's deadline) is only the safety net, recorded when it fires.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from planner.helix.backends import CpSatBackend, MathOptBackend
from planner.helix.work import WorkLimits
from planner.solver import SolveOptions, Status, remaining_s, status_from_cpsat, status_from_mathopt

#: Virtual workers CP-SAT interleaves in one thread when --workers is 1 (deterministic portfolio search).
INTERLEAVED_WORKERS = 8


@dataclass
class RawResult:
    """What the backend returned: status, objective and bound in backend flow units, variable values."""

    status: Status
    objective: float | None
    bound: float | None
    values: Callable[[Any], float] | None
    wall_s: float
    incumbents: list[tuple[float, float]] = field(default_factory=list)
    message: str = ""
    interrupted: bool = False


def _watch(
    thread: threading.Thread,
    stop: Callable[[], None] | None,
    stall_s: float | None,
    cancel: Callable[[], bool],
    last_improvement: list[float],
) -> tuple[bool, str]:
    """Wait for the solve thread; stop it on Ctrl-C, the ``cancel`` hook or a stall. Returns (interrupted, reason).

    Ctrl-C is caught by a temporary SIGINT handler that only sets a flag (no exception unwinds through the
    solver). Without a ``stop`` (a backend that cannot be interrupted) Ctrl-C abandons the daemon thread at once and
    the caller keeps the best plan found before the MILP.
    """
    hit = threading.Event()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, lambda *_: hit.set())
    try:
        while thread.is_alive():
            thread.join(0.1)
            if hit.is_set() or cancel():
                if stop is not None:
                    stop()
                    thread.join()
                return True, "interrupted (Ctrl-C): best plan so far"
            if stop and stall_s is not None and time.perf_counter() - last_improvement[0] > stall_s:
                stop()
                thread.join()
                return False, f"no improvement for {stall_s:g} s (--stall)"
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    return False, ""


def solve_cpsat(backend: CpSatBackend, limits: SolveOptions) -> RawResult:
    """Run CP-SAT on ``backend.model`` until ``limits.deadline()``; incumbents are (seconds, flow-unit objective)."""
    from ortools.sat.python import cp_model  # loaded already by the backend; imported here for its types

    solver = cp_model.CpSolver()
    p = solver.parameters
    work = _work(limits)
    allowance = 0.0
    if work is not None:
        allowance = work.configure_cpsat(p, work.milp_det_s)
    else:
        p.max_time_in_seconds = max(remaining_s(limits.deadline()), 0.01)
    if work is not None:
        # One worker: a deterministic search whose work (not the portfolio's interleaving) the limit counts.
        p.num_workers = 1
    elif limits.workers == 1:
        # One thread, but CP-SAT's portfolio (LNS included) interleaved deterministically.
        p.interleave_search = True
        p.num_workers = INTERLEAVED_WORKERS
    else:
        p.num_workers = limits.workers
    p.random_seed = limits.seed
    p.relative_gap_limit = limits.rel_gap
    p.catch_sigint_signal = False
    start = time.perf_counter()
    last = [start]
    incumbents: list[tuple[float, float]] = []

    class _Progress(cp_model.CpSolverSolutionCallback):
        def on_solution_callback(self) -> None:
            now = time.perf_counter()
            obj = self.objective_value
            if not incumbents or obj > incumbents[-1][1]:
                last[0] = now
            incumbents.append((now - start, obj))

    box: dict[str, Any] = {}

    def run() -> None:
        box["status"] = solver.solve(backend.model, _Progress())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    stall = limits.stall_s if work is None else None  # a stall is timed: not a work limit
    interrupted, reason = _watch(thread, solver.stop_search, stall, limits.cancel, last)
    wall = time.perf_counter() - start
    if "status" not in box:
        return RawResult(Status.error, None, None, None, wall, incumbents, "the CP-SAT thread ended without a result")
    code = box["status"]
    name = solver.status_name(code)
    has = code in (cp_model.OPTIMAL, cp_model.FEASIBLE)
    # CP-SAT reports OPTIMAL when the gap limit is met, so FEASIBLE means a limit stopped it: the time limit, or
    # our stall watchdog (then "feasible", with the reason in the message), or the work limit.
    by_clock = True
    if work is not None and not interrupted:
        finished = name in ("OPTIMAL", "INFEASIBLE")
        by_clock = work.check_cpsat(solver, allowance, "MILP", finished)
        if not by_clock and not finished:
            reason = f"work limit ({work.milp_det_s:g} s of CP-SAT deterministic time)"
    status: Status = status_from_cpsat(name, has, limit_hit=not reason and by_clock)
    if interrupted:
        status = Status.interrupted
    return RawResult(
        status=status,
        objective=solver.objective_value if has else None,
        bound=solver.best_objective_bound if name not in ("MODEL_INVALID",) else None,
        values=(lambda v: float(solver.value(v))) if has else None,
        wall_s=wall,
        incumbents=incumbents,
        message=reason or name.lower(),
        interrupted=interrupted,
    )


def solve_mathopt(backend: MathOptBackend, limits: SolveOptions) -> RawResult:
    """Run SCIP or HiGHS through MathOpt with the backend's hints; Ctrl-C uses MathOpt's interrupter."""
    mathopt = backend.mathopt
    from ortools.util.python.solve_interrupter import SolveInterrupter

    solver_type = mathopt.SolverType.GSCIP if backend.name == "scip" else mathopt.SolverType.HIGHS
    work = _work(limits)
    allowance = max(work.left_s() if work is not None else remaining_s(limits.deadline()), 0.01)
    params = mathopt.SolveParameters(
        time_limit=timedelta(seconds=allowance),
        relative_gap_tolerance=limits.rel_gap,
        random_seed=limits.seed,
        node_limit=work.milp_nodes if work is not None else None,
    )
    if backend.name == "scip" and limits.workers > 1:
        params.threads = limits.workers
    model_params = None
    if backend.hints:
        hint = mathopt.SolutionHint(variable_values=dict(backend.hints))
        model_params = mathopt.ModelSolveParameters(solution_hints=[hint])
    # OR-Tools 9.15's SCIP event handler rejects MathOpt's interrupter (it logs errors), so SCIP runs without one.
    interrupter = SolveInterrupter() if backend.name == "highs" else None
    start = time.perf_counter()
    box: dict[str, Any] = {}

    def run() -> None:
        box["result"] = mathopt.solve(
            backend.model, solver_type, params=params, model_params=model_params, interrupter=interrupter
        )

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    stop = interrupter.interrupt if interrupter is not None else None
    interrupted, reason = _watch(thread, stop, None, limits.cancel, [start])
    wall = time.perf_counter() - start
    if "result" not in box:  # abandoned on Ctrl-C
        return RawResult(Status.interrupted, None, None, None, wall, [], reason, True)
    result = box["result"]
    has = result.has_primal_feasible_solution()
    reason_name = result.termination.reason.name
    limit = result.termination.limit.name if result.termination.limit is not None else None
    status: Status = Status.interrupted if interrupted else status_from_mathopt(reason_name, has)
    if work is not None and not interrupted:
        if limit == "NODE" and has:
            status, reason = Status.feasible, f"work limit ({work.milp_nodes} branch-and-bound nodes)"
        elif limit == "TIME":
            work.hit("MILP")
    bound = result.termination.objective_bounds.dual_bound
    values = result.variable_values() if has else None
    return RawResult(
        status=status,
        objective=result.objective_value() if has else None,
        bound=float(bound),
        values=(lambda v: float(values[v])) if values is not None else None,
        wall_s=wall,
        incumbents=[(wall, result.objective_value())] if has else [],
        message=reason or reason_name.lower(),
        interrupted=interrupted,
    )


def _work(limits: SolveOptions) -> WorkLimits | None:
    """The work limits a served search's sub-solve carries (none for ``--objective max-flow``)."""
    work = getattr(limits, "work", None)
    return work if isinstance(work, WorkLimits) else None
