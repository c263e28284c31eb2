"""An epoch MILP whose share of ``--time-limit`` runs out before any solution, while the command still has time,
is not a solver error: it is solved again with the rest of the command's time (found by the hash-seed test on a busy
machine: epoch 15:30 of a day ended "joint MILP ... ended with status error" and the whole plan was lost, exit 1)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from planner.dynamo.model import EpochModel, EpochSolution
from planner.dynamo.solve import solve
from planner.errors import TimeLimitReached
from planner.solver import SolveOptions, Status

from .conftest import tiny_problem


def share_runs_out_on_call(monkeypatch: pytest.MonkeyPatch, call: int) -> list[float]:
    """Make ``EpochModel.solve`` come back empty-handed on its ``call``-th call (1-based); returns the limits seen."""
    real = EpochModel.solve
    limits: list[float] = []

    def fake(self: EpochModel, data: object, time_limit_s: float = 60.0, seed: int = 0) -> EpochSolution:
        limits.append(time_limit_s)
        if len(limits) == call:
            return EpochSolution(Status.time_limit, None, None, message="no solution within 0.5 s")
        return real(self, data, time_limit_s, seed)  # type: ignore[arg-type]

    monkeypatch.setattr(EpochModel, "solve", fake)
    return limits


def test_an_epoch_cut_short_by_its_share_is_solved_again_with_the_rest(tmp_path: Path, monkeypatch) -> None:
    pb = tiny_problem(tmp_path, mode="joint")
    whole = solve(pb, SolveOptions(time_limit_s=600.0))
    limits = share_runs_out_on_call(monkeypatch, 3)
    day = solve(pb, SolveOptions(time_limit_s=600.0))
    assert not day.timed_out and not day.interrupted
    assert len(day.epochs) == len(pb.epochs) == 12
    assert day.solves == whole.solves + 1
    assert limits[3] > limits[2]  # the retry gets what is left of the command, more than the share
    assert [e.objective_wh for e in day.epochs] == [e.objective_wh for e in whole.epochs]


def test_out_of_time_after_some_epochs_keeps_them(tmp_path: Path, monkeypatch) -> None:
    pb = tiny_problem(tmp_path, mode="joint")
    share_runs_out_on_call(monkeypatch, 3)
    share_runs_out_on_call(monkeypatch, 4)  # the retry of the same epoch comes back empty too
    day = solve(pb, SolveOptions(time_limit_s=600.0))
    assert day.timed_out and len(day.epochs) == 2


def test_first_epoch_without_a_solution_at_the_deadline_says_so(tmp_path: Path, monkeypatch) -> None:
    pb = tiny_problem(tmp_path, mode="joint")
    share_runs_out_on_call(monkeypatch, 1)
    spent = SolveOptions(time_limit_s=1.0, started_at=time.monotonic() - 5.0)
    with pytest.raises(TimeLimitReached, match="before epoch 00:00 had a feasible plan"):
        solve(pb, spent)
