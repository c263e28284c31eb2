"""``--seed`` is honoured (issue 14, item 7): it is SCIP's random seed in every epoch the MILP solves, and epochs the
exact per-pool enumeration solves do not depend on it (the enumeration is deterministic)."""

from __future__ import annotations

from pathlib import Path

import pytest

import planner.dynamo.model as dynamo_model
from planner.dynamo.solve import solve
from planner.solver import SolveOptions

from .conftest import tiny_problem


def test_seed_reaches_scip_in_milp_epochs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pb = tiny_problem(tmp_path, mode="joint")
    monkeypatch.setattr(dynamo_model, "ENUMERATE", False)
    seen: list[int | None] = []
    real = dynamo_model.mathopt.solve

    def spy(model, solver_type, *, params=None, **kw):  # type: ignore[no-untyped-def]
        seen.append(None if params is None else params.random_seed)
        return real(model, solver_type, params=params, **kw)

    monkeypatch.setattr(dynamo_model.mathopt, "solve", spy)
    day = solve(pb, SolveOptions(time_limit_s=600.0, seed=7))
    assert day.solves == len(pb.epochs) and day.enumerated == 0
    assert seen and set(seen) == {7}


def test_enumerated_epochs_do_not_depend_on_the_seed(tmp_path: Path) -> None:
    pb = tiny_problem(tmp_path, mode="joint")
    a = solve(pb, SolveOptions(time_limit_s=600.0, seed=0))
    b = solve(pb, SolveOptions(time_limit_s=600.0, seed=12345))
    assert a.enumerated == b.enumerated == len(pb.epochs) and a.solves == b.solves == 0
    assert [e.objective_wh for e in a.epochs] == [e.objective_wh for e in b.epochs]
    assert [[(g.pool, g.config, g.instances) for g in e.groups] for e in a.epochs] == [
        [(g.pool, g.config, g.instances) for g in e.groups] for e in b.epochs
    ]
