"""Ctrl-C through the CLI (README "CLI conventions"): exit 130, and the best plan so far is still emitted and written.

The interrupt is simulated in-process: the solver's per-epoch / per-point step raises KeyboardInterrupt once.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planner.cli import app
from planner.plan import Plan

from ..dynamo_specs import tiny_dynamo_spec

ROOT = Path(__file__).resolve().parents[2]
CODING = str(ROOT / "cluster_specs" / "splitwise-bloom176b-coding.yaml")
DYNAMO = tiny_dynamo_spec("cli-dynamo-interrupt", dynamo="  mode: joint\n")


def raise_once(monkeypatch: pytest.MonkeyPatch, owner: type, name: str, call: int) -> None:
    """``owner.name`` raises KeyboardInterrupt on its ``call``-th call (1-based) and works normally otherwise."""
    real = getattr(owner, name)
    calls = [0]

    def wrapped(self: object, *args: object, **kwargs: object) -> object:
        calls[0] += 1
        if calls[0] == call:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(owner, name, wrapped)


@pytest.fixture
def dynamo_spec(tmp_path: Path) -> Path:
    p = tmp_path / "dynamo.yaml"
    p.write_text(DYNAMO)
    return p


def test_dynamo_interrupted_writes_the_plan_and_exits_130(runner, dynamo_spec: Path, tmp_path: Path, monkeypatch):
    from planner.dynamo.model import EpochModel

    raise_once(monkeypatch, EpochModel, "solve", 3)
    out = tmp_path / "plan.json"
    res = runner.invoke(app, ["dynamo", str(dynamo_spec), "--out", str(out), "--format", "json", "--quiet"])
    assert res.exit_code == 130, res.stderr
    assert res.stderr.startswith("interrupted: interrupted after 2 of 12 epochs")
    assert len(res.stderr.strip().splitlines()) == 1
    written = Plan.model_validate(json.loads(out.read_text()))
    assert written.solver.status == "interrupted" and len(written.plan["epochs"]) == 2
    assert json.loads(res.stdout)["plan"]["epochs"] == written.plan["epochs"]  # stdout shows the same plan


def test_splitwise_interrupted_writes_the_plan_and_exits_130(runner, tmp_path: Path, monkeypatch):
    from planner.splitwise.evaluate import Evaluator

    real = Evaluator.evaluate
    feasible: list[object] = []

    def evaluate(self: Evaluator, *args: object, **kwargs: object) -> object:
        if feasible:
            raise KeyboardInterrupt
        res = real(self, *args, **kwargs)  # type: ignore[arg-type]
        if res.feasible:
            feasible.append(res)
        return res

    monkeypatch.setattr(Evaluator, "evaluate", evaluate)
    out = tmp_path / "plan.json"
    args = ["splitwise", CODING, "--rps", "8", "--designs", "HH", "--duration", "20s", "--workers", "1"]
    res = runner.invoke(app, [*args, "--out", str(out), "--quiet"])
    assert res.exit_code == 130, res.stderr
    assert res.stderr.startswith("interrupted: search interrupted (Ctrl-C) after ")
    assert "Designs" in res.stdout  # the table was rendered as usual
    plan = json.loads(out.read_text())
    assert plan["solver"]["status"] == "interrupted" and plan["plan"]["design"] == "HH"
    (point,) = feasible
    assert plan["metrics"]["total_machines"] == point.prompt + point.token  # type: ignore[attr-defined]


def test_interrupt_with_nothing_to_keep_writes_nothing(runner, dynamo_spec: Path, tmp_path: Path, monkeypatch):
    from planner.dynamo.model import EpochModel

    raise_once(monkeypatch, EpochModel, "solve", 1)
    out = tmp_path / "plan.json"
    res = runner.invoke(app, ["dynamo", str(dynamo_spec), "--out", str(out), "--quiet"])
    assert res.exit_code == 130 and res.stderr.strip() == "interrupted" and res.stdout == ""
    assert not out.exists()


def test_dynamo_ctrl_c_caught_by_scip_still_interrupts(runner, dynamo_spec: Path, tmp_path: Path, monkeypatch):
    """SCIP catches SIGINT itself while it solves and ends that solve with limit INTERRUPTED; the day must stop
    there (exit 130, plan of the epochs before), not run on to '12/12 epochs proved optimal' with exit 0."""
    import dataclasses

    from ortools.math_opt.python import mathopt

    from planner.dynamo import model as dynamo_model

    real = dynamo_model.mathopt.solve
    calls = [0]

    def solve(*args: object, **kwargs: object) -> object:
        result = real(*args, **kwargs)
        calls[0] += 1
        if calls[0] == 3:  # the third MILP solve is "interrupted" by SCIP's own handler
            termination = dataclasses.replace(result.termination, limit=mathopt.Limit.INTERRUPTED)
            return dataclasses.replace(result, termination=termination)
        return result

    monkeypatch.setattr(dynamo_model.mathopt, "solve", solve)
    out = tmp_path / "plan.json"
    res = runner.invoke(app, ["dynamo", str(dynamo_spec), "--out", str(out), "--format", "json", "--quiet"])
    assert res.exit_code == 130, res.stderr
    assert res.stderr.startswith("interrupted: interrupted after 2 of 12 epochs")
    assert Plan.model_validate(json.loads(out.read_text())).solver.status == "interrupted"
