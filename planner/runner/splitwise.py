"""``plan splitwise`` below the CLI: build the instance, solve, extract, assemble and verify the plan document.

Each step lives in its own room of :mod:`planner.splitwise` (``instance.py``, ``solve.py``, ``extract.py``,
``verify.py``); this module, in the plan layer above the solvers, only chains them and assembles the document.
Raises :class:`~planner.errors.InfeasibleError` (carrying the plan) when no design meets the target.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from planner.contracts import parse_block
from planner.errors import InfeasibleError, SolverFailure, VerificationError
from planner.plan import Plan
from planner.profiles.accuracy import plan_band
from planner.profiles.db import ProfileDB
from planner.runner import assemble_plan
from planner.solver import Status
from planner.spec.loader import LoadedSpec
from planner.splitwise.contract import SplitwisePlanBlock
from planner.splitwise.extract import assumptions, band_rests_on, chosen_outcome, extract, shortfall, warnings_for
from planner.splitwise.instance import Instance, SplitwiseOptions, build
from planner.splitwise.sensitivity import latency_moves
from planner.splitwise.solve import Solution, solve
from planner.splitwise.verify import verify_plan


@dataclass
class RunResult:
    """The plan, its typed block, and the instance and solution it came from (``--plot`` draws from the
    solution's ledger and the analytic model)."""

    plan: Plan
    block: SplitwisePlanBlock
    instance: Instance
    solution: Solution


def verify_document(plan: Plan) -> None:
    """Verify a splitwise plan document: its block read through the contract, and its metrics
    (:func:`planner.splitwise.verify.verify_plan`). Raises ``VerificationError``.

    A splitwise plan never claims optimality (the grid of machine counts is searched, not exhausted, and no bound
    is met): one labelled ``optimal`` carries no certificate and is refused."""
    if plan.solver.status == Status.optimal:
        raise VerificationError(
            "splitwise plan verification failed: labelled optimal, but the search proves no optimum (no certificate)"
        )
    verify_plan(parse_block("splitwise", plan.plan), plan.metrics)


def _unpropagated(skipped: bool) -> list[str]:
    """The warning of a plan whose latency bands were not propagated, so its reader knows they are the flat ones."""
    return (
        ["latency bands not propagated (the search stopped early): the latency figures carry the flat profile band"]
        if skipped
        else []
    )


def run(loaded: LoadedSpec, db: ProfileDB, options: SplitwiseOptions) -> RunResult:
    """Build, solve, extract and verify; raises InfeasibleError (carrying the plan) when nothing is feasible."""
    start = time.perf_counter()
    inst = build(loaded, db, options)
    sol = solve(inst, options)
    block, metrics, report = extract(inst, sol)
    assumed = assumptions(inst)
    chosen = chosen_outcome(inst, sol.outcomes)
    rests_on = band_rests_on(assumed, chosen)
    band = plan_band(db, rests_on)
    best = chosen.best if chosen is not None else None
    # Two more simulations of the chosen point; not after Ctrl-C or the time limit, which promise to stop now.
    stopped = sol.status in (Status.interrupted, Status.time_limit)
    moves = latency_moves(inst, best, band.err_ratio) if best and band and not stopped else {}
    plan = assemble_plan(
        "splitwise",
        loaded,
        db,
        report,
        block,
        metrics,
        assumed,
        warnings_for(inst, sol) + _unpropagated(stopped and best is not None and band is not None),
        options.recorded(),
        time.perf_counter() - start,
        band_rests_on=rests_on,
        propagated=moves,
    )
    if report.status == Status.infeasible:
        raise InfeasibleError(shortfall(inst, sol), plan=plan)
    if report.objective is None:  # the time limit ran out before any design had a feasible point
        raise SolverFailure(
            f"time limit reached after {len(sol.ledger)} simulated points with no feasible design yet "
            f"(--time-limit {options.time_limit_s:g} s counts the whole command)",
            plan=plan,
        )
    verify_plan(block, plan.metrics)
    return RunResult(plan, block, inst, sol)
