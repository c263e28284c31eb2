"""Root cause 4 of issue 18: text from specs, plans and profiles is shown as written, never parsed as rich markup
(a spec named ``[/bold]`` crashed ``plan validate`` and every solver's table after the plan was written)."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.cli import app

ROOT = Path(__file__).resolve().parents[2]
NAME = "[/bold] [red]x[/red] [link=http://e]y"
SETNAME = ["--set", f"name='{NAME}'"]

CASES = {
    "validate": ["validate", "cluster_specs/helix-10node-llama30b.yaml", *SETNAME],
    "helix": ["helix", "cluster_specs/helix-10node-llama30b.yaml", *SETNAME, "--search-evaluations", "10"],
    "splitwise": [
        "splitwise",
        "cluster_specs/splitwise-bloom176b-coding.yaml",
        *SETNAME,
        *("--rps", "5", "--designs", "HH", "--duration", "10s", "--workers", "1"),
    ],
    "dynamo": ["dynamo", "cluster_specs/dynamo-llama2-70b-h100.yaml", *SETNAME, "--set", "dynamo.horizon=1h"],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_names_with_markup_print_verbatim(runner, case: str, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    res = runner.invoke(app, [*CASES[case], "-q"] if case != "validate" else CASES[case])
    assert res.exit_code == 0, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    assert NAME in res.output


def test_diff_of_plans_with_markup_names(runner, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    base = [
        "helix",
        "cluster_specs/helix-10node-llama30b.yaml",
        *SETNAME,
        "--search-evaluations",
        "10",
        "-q",
        "-f",
        "json",
    ]
    assert runner.invoke(app, [*base, "--out", str(a)]).exit_code == 0
    assert runner.invoke(app, [*base, "--out", str(b), "--set", "helix.kv_reserve_fraction=0.6"]).exit_code == 0
    res = runner.invoke(app, ["diff", str(a), str(b)])
    assert res.exit_code == 0, res.output
    assert NAME in res.output
