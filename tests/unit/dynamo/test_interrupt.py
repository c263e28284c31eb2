"""Ctrl-C during the epoch loop: the epochs solved so far become the plan (status ``interrupted``).

The interrupt is simulated deterministically: the per-epoch MILP solve raises KeyboardInterrupt once, on a given
call; later calls (the baselines' sizing MILPs) run normally.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.dynamo.instance import DynamoOptions
from planner.dynamo.model import EpochModel
from planner.dynamo.solve import solve
from planner.runner import load_inputs
from planner.runner.dynamo import plan_dynamo
from planner.solver import SolveOptions

from .conftest import TINY, tiny_problem


def interrupt_on_call(monkeypatch: pytest.MonkeyPatch, call: int) -> None:
    """Make ``EpochModel.solve`` raise KeyboardInterrupt on its ``call``-th call (1-based), once."""
    real = EpochModel.solve
    calls = [0]

    def solve(self: EpochModel, *args: object, **kwargs: object) -> object:
        calls[0] += 1
        if calls[0] == call:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(EpochModel, "solve", solve)


def interrupt_reshard_on_call(monkeypatch: pytest.MonkeyPatch, call: int) -> None:
    """Make the hierarchical pool level (one call per epoch) raise KeyboardInterrupt on its ``call``-th call."""
    import planner.dynamo.solve as solve_mod

    real = solve_mod._reshard_epoch
    calls = [0]

    def reshard_epoch(*args: object, **kwargs: object) -> object:
        calls[0] += 1
        if calls[0] == call:
            raise KeyboardInterrupt
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(solve_mod, "_reshard_epoch", reshard_epoch)


# joint: one MILP per epoch, so call 3 is epoch 3; hierarchical: one pool-level re-shard per epoch.
@pytest.mark.parametrize(("mode", "call", "kept"), [("joint", 3, 2), ("hierarchical", 3, 2)])
def test_solve_day_keeps_the_solved_epochs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode, call, kept) -> None:
    pb = tiny_problem(tmp_path, mode=mode)
    if mode == "joint":
        interrupt_on_call(monkeypatch, call)
    else:
        interrupt_reshard_on_call(monkeypatch, call)
    day = solve(pb, SolveOptions())
    assert day.interrupted and day.planned == len(pb.epochs) == 12
    assert [e.epoch.label for e in day.epochs] == [e.label for e in pb.epochs[:kept]]
    assert all(e.status == "optimal" and e.gpus > 0 for e in day.epochs)


def test_interrupt_before_any_epoch_propagates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pb = tiny_problem(tmp_path, mode="joint")
    interrupt_on_call(monkeypatch, 1)
    with pytest.raises(KeyboardInterrupt):
        solve(pb, SolveOptions())


def test_interrupted_plan_covers_the_solved_epochs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY)
    inputs = load_inputs(spec)
    whole = plan_dynamo(inputs, DynamoOptions(mode="joint"))
    interrupt_on_call(monkeypatch, 4)
    plan = plan_dynamo(inputs, DynamoOptions(mode="joint"))  # verified inside (planner.dynamo.verify)
    assert plan.solver.status == "interrupted"
    assert plan.solver.message.startswith("interrupted after 3 of 12 epochs")
    epochs = plan.plan["epochs"]
    assert [e["start"] for e in epochs] == ["00:00", "00:05", "00:10"]
    assert epochs == whole.plan["epochs"][:3]  # rolling horizon: the same epochs as the whole day's plan
    assert plan.metrics["epochs_count"] == 3
    assert plan.metrics["energy_kwh"] == pytest.approx(sum(e["energy_wh"] for e in epochs) / 1000.0)
    assert plan.metrics["energy_kwh"] < whole.metrics["energy_kwh"]
    # the baselines cover the same 15 minutes, so the saving compares like with like
    assert plan.metrics["baseline_singlepool_energy_kwh"] < whole.metrics["baseline_singlepool_energy_kwh"]
    assert plan.solver.objective is not None and plan.solver.objective < whole.solver.objective
    assert any("cover 00:00 to 00:15 only" in w for w in plan.warnings)


def test_cancel_hook_stops_like_ctrl_c(tmp_path: Path) -> None:
    """SolveOptions.cancel is polled before every epoch MILP; True keeps the epochs solved so far (interrupted)."""
    pb = tiny_problem(tmp_path, mode="joint")
    polls = [0]

    def cancel() -> bool:
        polls[0] += 1
        return polls[0] > 2

    day = solve(pb, SolveOptions(cancel=cancel))
    assert day.interrupted and not day.timed_out
    assert [e.epoch.label for e in day.epochs] == [e.label for e in pb.epochs[:2]]
