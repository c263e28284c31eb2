"""SCIP stopped by its time limit before any solution is the time limit, not a solver error.

Found by a benchmark run: ``plan dynamo --mode joint`` ended "joint MILP for epoch 00:20 ended with status error"
(exit 1, no plan) when an epoch's share of ``--time-limit`` ran out before SCIP had a solution. MathOpt reports that
stop as ``NO_SOLUTION_FOUND`` with limit ``TIME``; the shared mapping turned it into ``error``. These tests drive
the real SCIP with a zero-second limit (it stops before any solution every time: deterministic, and quick).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import planner.dynamo.model as dynamo_model
import planner.dynamo.solve as dynamo_solve
from planner.dynamo.model import EpochModel
from planner.dynamo.solve import _data, milp_instance, solve
from planner.errors import TimeLimitReached
from planner.runner.dynamo import partial_note, solver_report
from planner.solver import SolveOptions, Status, status_from_mathopt

from .conftest import tiny_problem
from .test_share_retry import share_runs_out_on_call


def test_no_solution_at_the_time_limit_maps_to_time_limit() -> None:
    assert status_from_mathopt("NO_SOLUTION_FOUND", False, "TIME") == Status.time_limit
    assert status_from_mathopt("NO_SOLUTION_FOUND", True, "TIME") == Status.time_limit
    # other limits without a solution, and a stop whose limit is not known, stay errors
    assert status_from_mathopt("NO_SOLUTION_FOUND", False, "NODE") == Status.error
    assert status_from_mathopt("NO_SOLUTION_FOUND", False) == Status.error
    assert status_from_mathopt("OTHER_ERROR", False, "TIME") == Status.error


def test_scip_with_no_time_ends_time_limit_without_a_solution(tmp_path: Path) -> None:
    pb = tiny_problem(tmp_path, mode="joint")
    model = EpochModel(milp_instance(pb, pb.configs, budget=pb.gpu_budget), name="dynamo-joint", exact=False)
    sol = model.solve(_data(pb, pb.epochs[0], None), time_limit_s=0.0)
    assert sol.status == Status.time_limit
    assert sol.objective_wh is None and not sol.instances
    assert sol.message == "no solution within 0 s"


def test_first_epoch_without_a_solution_names_it_and_says_raise_the_limit(tmp_path: Path, monkeypatch) -> None:
    pb = tiny_problem(tmp_path, mode="joint")
    monkeypatch.setattr(dynamo_solve, "MIN_MILP_S", 0.0)  # the spent deadline gives every MILP zero seconds
    monkeypatch.setattr(dynamo_model, "ENUMERATE", False)  # SCIP's path (the enumeration takes no time limit)
    spent = SolveOptions(time_limit_s=1.0, started_at=time.monotonic() - 5.0)
    with pytest.raises(TimeLimitReached) as info:
        solve(pb, spent)
    assert str(info.value) == (
        "time limit reached before epoch 00:00 had a feasible plan (0 of 12 epochs planned, no plan written; "
        "--time-limit 1 s counts the whole command: raise it)"
    )
    assert info.value.exit_code == 1


def test_a_later_epoch_without_a_solution_keeps_the_day_so_far_and_names_it(tmp_path: Path, monkeypatch) -> None:
    pb = tiny_problem(tmp_path, mode="joint")
    share_runs_out_on_call(monkeypatch, 3)
    share_runs_out_on_call(monkeypatch, 4)  # its retry with the rest of the command's time comes back empty too
    day = solve(pb, SolveOptions(time_limit_s=600.0))
    assert day.timed_out and len(day.epochs) == 2 and day.stopped_at == pb.epochs[2].label
    note = partial_note(day)
    assert note == (
        f"time limit reached after 2 of 12 epochs (--time-limit), before epoch {pb.epochs[2].label} had a feasible "
        "plan (raise --time-limit to plan the whole horizon)"
    )
    report = solver_report(day, 1.0)
    assert report.status == Status.time_limit and report.message.startswith(note)


def test_hierarchical_mode_has_no_milp_to_run_out_of_time(tmp_path: Path) -> None:
    """The hierarchical loop runs no MILP (pool level by enumeration): with the deadline already spent it plans the
    first epoch and stops there, status time_limit, never a solver error."""
    pb = tiny_problem(tmp_path, mode="hierarchical")
    day = solve(pb, SolveOptions(time_limit_s=1.0, started_at=time.monotonic() - 5.0))
    assert day.timed_out and len(day.epochs) == 1 and day.stopped_at == pb.epochs[1].label
    assert all(e.status == Status.optimal for e in day.epochs)
