"""The shared solver vocabulary: Status order and tiers, SolveOptions' deadline."""

from __future__ import annotations

import json
import time

import pytest

from planner.solver import SolveOptions, Status, remaining_s


def test_status_is_ordered_best_to_worst_and_serialises_as_its_word() -> None:
    assert [s.value for s in Status] == ["optimal", "feasible", "time_limit", "interrupted", "infeasible", "error"]
    assert Status.worst(["optimal", "time_limit", "feasible"]) == Status.time_limit
    assert Status.worst([], default=Status.optimal) is Status.optimal
    with pytest.raises(ValueError):
        Status.worst([])
    assert Status.optimal == "optimal" and json.dumps({"s": Status.time_limit}) == '{"s": "time_limit"}'
    # plan diff's tiers: cut short by the clock or by Ctrl-C is the same tier; so is having no plan.
    assert Status.time_limit.tier == Status.interrupted.tier > Status.feasible.tier > Status.optimal.tier
    assert Status.infeasible.tier == Status.error.tier > Status.interrupted.tier


def test_deadline_counts_from_the_command_start() -> None:
    started = time.monotonic() - 5.0  # the command started 5 s ago
    opts = SolveOptions(time_limit_s=8.0, started_at=started)
    assert opts.deadline() == started + 8.0
    assert 0.0 < remaining_s(opts.deadline()) <= 3.0
    assert remaining_s(SolveOptions(time_limit_s=1.0, started_at=started).deadline()) == 0.0
    assert not SolveOptions().cancel()
