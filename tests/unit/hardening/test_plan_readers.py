"""Root cause 7 of issue 18: every plan reader (simulate, diff) fails in one located line on a directory, a huge
integer, a plan block of the wrong types, or an unusable bound, instead of a traceback or exit 0."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planner.cli import app

ROOT = Path(__file__).resolve().parents[3]
HELIX = ROOT / "tests" / "golden" / "helix-10node-llama30b.json"


def _plan(tmp_path: Path, mutate) -> Path:
    data = json.loads(HELIX.read_text())
    data["run"] = {"wall_s": 0.0, "started_at": "2026-01-01T00:00:00Z", "host": "h", "python": "3", "versions": {}}
    mutate(data)
    p = tmp_path / "p.json"
    p.write_text(json.dumps(data))
    return p


@pytest.mark.parametrize("command", ["simulate", "diff"])
def test_directory_as_plan(runner, tmp_path: Path, command: str) -> None:
    args = [command, str(tmp_path)] + ([str(HELIX)] if command == "diff" else [])
    res = runner.invoke(app, args)
    assert res.exit_code in (1, 2), res.output
    assert "is a directory, expected a plan file" in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["plan"].update(layers=int("9" * 5000)), "not a plan JSON"),  # int() refuses: written by hand
        (lambda d: d["plan"]["nodes"][0].update(layer_start="zz"), "plan.nodes[0].layer_start: invalid plan document"),
        (lambda d: d["plan"].update(nodes="zz"), "plan.nodes: invalid plan document"),
        (lambda d: d.update(metrics=[1, 2]), "metrics: invalid plan document"),
    ],
)
@pytest.mark.parametrize("command", ["simulate", "diff"])
def test_malformed_plans_are_one_line(runner, tmp_path: Path, command: str, mutate, message: str) -> None:
    try:
        p = _plan(tmp_path, mutate)
    except ValueError:  # json.dumps itself refuses the 5,000-digit integer: write it by hand
        data = json.loads(HELIX.read_text())
        text = json.dumps(data).replace('"layers": 60', '"layers": ' + "9" * 5000, 1)
        p = tmp_path / "p.json"
        p.write_text(text)
    args = [command, str(p)] + ([str(HELIX)] if command == "diff" else ["--duration", "5s"])
    res = runner.invoke(app, args)
    assert res.exit_code in (1, 2), res.output
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
