"""Work-based limits for the served search: the same inputs and seed give the same plan on any machine, at any load.

The served search (:mod:`planner.helix.objective`) runs the max-flow method dozens of times (a grid of hop limits
and KV reserves), then local searches. Every one of those sub-solves used to stop at a share of the wall clock, so a
loaded machine cut different sub-solves than a quiet one and the plan changed with the load. Under
:class:`WorkLimits` every stage is bounded by *work* instead:

* CP-SAT (stage layouts, region blocks, the MILP) stops at ``max_deterministic_time``, CP-SAT's own count of work
  done (roughly seconds on one unloaded core, but counted, not timed), with a fixed number of workers;
* SCIP / HiGHS (``--solver scip|highs``) stop at a node limit;
* bisections stop after a fixed number of steps; the grid runs every point; the local searches stop at their
  evaluation budget.

The command's wall-clock deadline (``--time-limit``) stays as a safety net only. When it stops anything, the stop is
recorded here (:attr:`WorkLimits.hits`) and the plan says so: status ``time_limit`` and a note that the plan then
depends on the machine's speed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

T = TypeVar("T")

#: CP-SAT's deterministic time counts work in units of about a second on one unloaded core; a CP-SAT stop whose
#: wall time reached this share of its wall-clock allowance was the clock's, not the work limit's.
_CLOCK_SHARE = 0.98


@dataclass(frozen=True)
class WorkLimits:
    """Work budgets of one served search, and the safety stops that fired (shared by every sub-solve)."""

    #: The command's deadline (``time.monotonic()``): the safety net.
    deadline: float
    #: CP-SAT deterministic time of one stage-layout or region-block feasibility check.
    check_det_s: float = 0.1
    #: Steps of a bisection on the target flow (stage layouts, region blocks).
    bisection_steps: int = 8
    #: CP-SAT deterministic time of one MILP (per-node or aggregated).
    milp_det_s: float = 0.5
    #: Branch-and-bound nodes of one MILP under SCIP or HiGHS.
    milp_nodes: int = 200
    #: Feasibility checks of one region-block search, over all its region orders and bisection steps (each order is
    #: a CP-SAT model of its own: on 100 nodes in 3 regions an unbounded search made 120 checks per grid point).
    region_checks: int = 16
    #: What the safety net stopped (stage names), in order; empty when work alone ended every stage.
    hits: list[str] = field(default_factory=list, compare=False)
    #: What every grid point of one instance shares (baselines, bounds), by (what, id(instance), ...): the search
    #: keeps its instances alive, so their ids are stable while it runs.
    cache: dict[tuple[object, ...], Any] = field(default_factory=dict, compare=False)

    def cached(self, key: tuple[object, ...], make: Callable[[], T]) -> T:
        """``make()``, computed once per ``key`` in this search."""
        if key not in self.cache:
            self.cache[key] = make()
        return cast(T, self.cache[key])

    def left_s(self) -> float:
        """Wall-clock seconds left before the safety net."""
        return max(self.deadline - time.monotonic(), 0.0)

    def out_of_time(self, stage: str) -> bool:
        """True (and recorded) when the command's deadline has passed: ``stage`` is not started or stops here."""
        if self.left_s() > 0:
            return False
        self.hit(stage)
        return True

    def hit(self, stage: str) -> None:
        if stage not in self.hits:
            self.hits.append(stage)

    def configure_cpsat(self, params: Any, det_s: float) -> float:
        """Set a CP-SAT solver's limits: ``det_s`` of deterministic time, the safety deadline as its wall-clock
        limit. Returns the wall-clock allowance (for :meth:`check_cpsat`)."""
        allowance = max(self.left_s(), 0.01)
        params.max_deterministic_time = det_s
        params.max_time_in_seconds = allowance
        return allowance

    def check_cpsat(self, solver: Any, allowance: float, stage: str, finished: bool) -> bool:
        """Record (and return True for) a CP-SAT run that the wall clock, not its work budget, stopped
        (``finished``: it proved its answer, so no limit stopped it)."""
        if not finished and float(solver.wall_time) >= _CLOCK_SHARE * allowance:
            self.hit(stage)
            return True
        return False

    def note(self) -> str:
        """The plan's note when the safety net fired."""
        return (
            "the command's --time-limit stopped the served search's work-limited stages ("
            + ", ".join(self.hits)
            + "): this plan depends on the machine's speed and load; a longer --time-limit gives the reproducible one"
        )


def solve_feasibility(
    model: Any, seed: int, work: WorkLimits | None, time_limit_s: float, stage: str
) -> tuple[Any, bool]:
    """Solve one CP-SAT feasibility check of the constructions (stage layouts, region blocks) on one worker, seeded:
    under ``work`` at its deterministic-time budget (a stop by the wall clock is recorded as ``stage``), else at
    ``time_limit_s`` of wall clock. Returns the solver (to read the values) and whether a solution was found."""
    from ortools.sat.python import cp_model

    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.catch_sigint_signal = False  # CP-SAT would leave SIGINT at SIG_DFL: Ctrl-C must reach Python
    solver.parameters.random_seed = seed
    allowance = 0.0
    if work is not None:
        allowance = work.configure_cpsat(solver.parameters, work.check_det_s)
    else:
        solver.parameters.max_time_in_seconds = max(time_limit_s, 0.01)
    status = solver.solve(model)
    if work is not None:
        work.check_cpsat(solver, allowance, stage, status != cp_model.UNKNOWN)
    return solver, status in (cp_model.OPTIMAL, cp_model.FEASIBLE)
