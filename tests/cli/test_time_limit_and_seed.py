"""``--time-limit`` and ``--seed`` mean the same thing in every command (README "CLI conventions").

``--time-limit`` is the wall clock of the whole command (planner.solver.SolveOptions): a tiny limit on an instance
that needs longer stops early with the best plan so far (status ``time_limit`` or ``feasible``), or says the time
ran out; it never runs on. ``--seed`` seeds every sampler and solver: the same seed gives the same plan bytes.
The timing checks are deliberately loose (a factor of ten or more): they catch "ignored the limit", not jitter.
``plan simulate`` takes a seed but no time limit; its seed test is in test_simulate.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import planner.dynamo.model as dynamo_model
from planner.cli import app

from ..dynamo_specs import tiny_dynamo_spec

ROOT = Path(__file__).resolve().parents[2]
HET42 = str(ROOT / "cluster_specs" / "helix-het42-llama2-70b.yaml")
SINGLE24 = str(ROOT / "cluster_specs" / "helix-single24-llama2-70b.yaml")
CODING = str(ROOT / "cluster_specs" / "splitwise-bloom176b-coding.yaml")


def _plan(res) -> dict:
    assert res.exit_code == 0, res.stderr
    return json.loads(res.stdout)


def _stable(plan: dict) -> dict:
    """The plan without its volatile ``run`` block (wall time, host): what must be byte-identical."""
    return {k: v for k, v in plan.items() if k != "run"}


@pytest.mark.parametrize("command", ["helix", "splitwise", "dynamo"])
def test_every_solver_documents_one_meaning(runner, command: str) -> None:
    res = runner.invoke(app, [command, "--help"], terminal_width=200)
    assert res.exit_code == 0
    text = " ".join(res.stdout.split())
    assert "Wall clock of the whole command" in text
    assert "Random seed of every sampler and solver" in text


def test_helix_tiny_limit_stops_before_the_milp(runner) -> None:
    """het42 (42 nodes, 7 GPU types) needs the MILP to close its gap; with 2 s in all it returns the best
    construction, verified, instead of running on to the default 60 s."""
    plan = _plan(runner.invoke(app, ["helix", HET42, "--time-limit", "2", "-f", "json", "-q"]))
    assert plan["solver"]["status"] in ("time_limit", "feasible")
    assert plan["inputs"]["options"]["time_limit_s"] == 2.0
    assert plan["metrics"]["throughput_tok_s"] > 0
    assert plan["run"]["wall_s"] < 30.0


def test_helix_same_seed_same_bytes(runner) -> None:
    args = ["helix", SINGLE24, "--time-limit", "30", "--search-evaluations", "40", "-f", "json", "-q"]
    first = _plan(runner.invoke(app, [*args, "--seed", "5"]))
    again = _plan(runner.invoke(app, [*args, "--seed", "5"]))
    assert json.dumps(_stable(first), sort_keys=True) == json.dumps(_stable(again), sort_keys=True)
    assert first["inputs"]["options"]["seed"] == 5


def test_splitwise_tiny_limit_stops_the_search(runner) -> None:
    """Six designs at one-minute simulated traces take far longer than 0.05 s: the search stops at the deadline,
    with the best point so far (``time_limit``) or, when none was feasible yet, a one-line error (exit 1)."""
    args = ["splitwise", CODING, "--rps", "10", "--duration", "60s", "--workers", "1", "--time-limit", "0.05"]
    res = runner.invoke(app, [*args, "-f", "json", "-q"])
    if res.exit_code == 0:
        plan = json.loads(res.stdout)
        assert plan["solver"]["status"] == "time_limit"
        assert plan["run"]["wall_s"] < 30.0
    else:
        assert res.exit_code == 1
        assert res.stderr.startswith("error: time limit reached after ")
        assert "counts the whole command" in res.stderr


def test_splitwise_seed_changes_the_sample_and_holds_the_plan(runner) -> None:
    args = ["splitwise", CODING, "--rps", "6", "--designs", "HA", "--duration", "10s", "--workers", "1", "-f", "json"]
    three = _plan(runner.invoke(app, [*args, "--seed", "3", "-q"]))
    again = _plan(runner.invoke(app, [*args, "--seed", "3", "-q"]))
    other = _plan(runner.invoke(app, [*args, "--seed", "4", "-q"]))
    assert json.dumps(_stable(three), sort_keys=True) == json.dumps(_stable(again), sort_keys=True)
    assert three["plan"]["ledger"] != other["plan"]["ledger"]


@pytest.fixture
def day_spec(tmp_path: Path) -> Path:
    p = tmp_path / "day.yaml"
    p.write_text(tiny_dynamo_spec("seed-day"))
    return p


def test_dynamo_tiny_limit_keeps_the_epochs_solved(runner) -> None:
    """The shipped day has 288 epochs; 0.05 s for the whole command (less than loading the spec) plans the first
    epoch, then stops: status time_limit, the plan and its baselines cover that epoch only."""
    res = runner.invoke(app, ["dynamo", "--slo", "15s", "--time-limit", "0.05", "-f", "json", "-q"])
    plan = _plan(res)
    assert plan["solver"]["status"] == "time_limit"
    assert plan["solver"]["message"].startswith("time limit reached after 1 of 288 epochs")
    assert len(plan["plan"]["epochs"]) == 1
    assert any(w.startswith("time limit reached after 1 of 288 epochs") for w in plan["warnings"])


def test_dynamo_seed_reaches_scip_and_holds_the_plan(runner, day_spec: Path, monkeypatch) -> None:
    seeds: list[int] = []
    real = dynamo_model.solve_parameters

    def spy(time_limit_s: float, seed: int):
        params = real(time_limit_s, seed)
        seeds.append(params.random_seed)
        return params

    monkeypatch.setattr(dynamo_model, "solve_parameters", spy)
    monkeypatch.setattr(dynamo_model, "ENUMERATE", False)  # SCIP solves every epoch (else the enumeration does)
    args = ["dynamo", str(day_spec), "--mode", "joint", "-f", "json", "-q"]
    first = _plan(runner.invoke(app, [*args, "--seed", "7"]))
    assert seeds and set(seeds) == {7}
    again = _plan(runner.invoke(app, [*args, "--seed", "7"]))
    assert json.dumps(_stable(first), sort_keys=True) == json.dumps(_stable(again), sort_keys=True)
    assert first["inputs"]["options"]["seed"] == 7


def test_dynamo_joint_first_epoch_without_a_solution_is_a_time_limit(runner, day_spec: Path, monkeypatch) -> None:
    """An epoch MILP stopped by its time before any solution is the time limit, not "ended with status error": with
    no epoch planned the command ends with one line naming the epoch and exit 1 (as helix and splitwise do)."""
    import planner.dynamo.solve as dynamo_solve

    monkeypatch.setattr(dynamo_solve, "MIN_MILP_S", 0.0)  # 0.05 s is spent loading: SCIP gets zero seconds
    monkeypatch.setattr(dynamo_model, "ENUMERATE", False)  # SCIP's path (the enumeration takes no time limit)
    res = runner.invoke(app, ["dynamo", str(day_spec), "--mode", "joint", "--time-limit", "0.05", "-f", "json", "-q"])
    assert res.exit_code == 1, res.stderr
    assert res.stdout == ""
    assert res.stderr.splitlines() == [
        "time limit reached before epoch 00:00 had a feasible plan (0 of 12 epochs planned, no plan written; "
        "--time-limit 0.05 s counts the whole command: raise it)"
    ]
