"""Ctrl-C during the served search keeps the best placement finished so far (README, "Ctrl-C"): the plan is
printed and written with status ``interrupted``, then one ``interrupted: ...`` line and exit 130, as the max-flow
objective keeps its incumbent. Ctrl-C is simulated by making one stage of the search raise ``KeyboardInterrupt``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import planner.helix.objective as objective
import planner.runner.helix as runner_helix
from planner.cli import app

SPEC = Path(__file__).resolve().parents[2] / "cluster_specs" / "helix-10node-llama30b.yaml"


def _interrupt(*_args: object, **_kwargs: object) -> object:
    raise KeyboardInterrupt


def _interrupted_plan(runner, tmp_path: Path) -> dict:
    out = tmp_path / "plan.json"
    res = runner.invoke(app, ["helix", str(SPEC), "-q", "-f", "json", "-o", str(out), "--search-evaluations", "10"])
    assert res.exit_code == 130, res.output
    assert "interrupted: " in res.output
    assert "Traceback" not in res.output
    plan = json.loads(out.read_text())
    assert plan["solver"]["status"] == "interrupted"
    return plan


@pytest.mark.parametrize("stage", ["_grid_candidates", "_refine_best"])
def test_ctrl_c_in_the_served_search_writes_the_best_so_far(
    runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stage: str
) -> None:
    """Ctrl-C in the candidate grid (only the max flow and the baselines are finished) or in the local searches (the
    whole grid is): the plan is the best of those by the prediction, not confirmed by simulation, and says so."""
    monkeypatch.setattr(objective, stage, _interrupt)
    plan = _interrupted_plan(runner, tmp_path)
    search = plan["plan"]["served"]["search"]
    assert "the served search had finished" in plan["solver"]["message"]
    assert "confirmation" not in search or not search["confirmation"]
    sources = [c["source"] for c in search["candidates"]]
    if stage == "_grid_candidates":
        assert all(s == "max-flow" or s.startswith("baseline:") for s in sources)
    else:
        assert any(s.startswith("reserve ") for s in sources)
    assert not any(s.startswith("local search") for s in sources)
    assert plan["metrics"]["predicted_decode_tok_s"] > 0


def test_ctrl_c_in_the_confirmation_keeps_the_prediction_choice(
    runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner_helix, "_confirmed", _interrupt)
    plan = _interrupted_plan(runner, tmp_path)
    assert "interrupted (Ctrl-C): the plan is the prediction's choice" in plan["solver"]["message"]
    assert plan["plan"]["served"]["search"]["chosen"]
