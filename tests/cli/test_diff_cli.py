"""plan diff OLD NEW through the CLI: exit codes (0/1/2/3), stdout formats, stderr one-liners."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from planner.cli import app
from planner.paths import display_path

PLANS = Path(__file__).resolve().parents[1] / "fixtures" / "plans"


def plans(kind: str) -> list[str]:
    return [str(PLANS / f"{kind}_old.json"), str(PLANS / f"{kind}_new.json")]


def test_default_exit_0_with_summary_first(runner) -> None:
    res = runner.invoke(app, ["diff", *plans("splitwise")])
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines()[0].startswith("Plan: design HH -> HA, 1 pool removed, 2 changed")
    assert "splitwise.design" in res.stdout and "DGX-A100" in res.stdout  # the table (80 columns here)
    assert res.stderr == ""


@pytest.mark.parametrize(("kind", "same", "code"), [("helix", False, 2), ("helix", True, 0), ("dynamo", False, 2)])
def test_detailed_exitcode(runner, kind: str, same: bool, code: int) -> None:
    old, new = plans(kind)
    res = runner.invoke(app, ["diff", old, old if same else new, "--detailed-exitcode", "--format", "json"])
    assert res.exit_code == code, res.output
    assert json.loads(res.stdout)["changed"] is (not same)


def test_unchanged_copy_with_other_run_block_is_no_change(runner, tmp_path: Path) -> None:
    data = json.loads((PLANS / "dynamo_old.json").read_text())
    data["run"] = {"wall_s": 1234.5, "host": "somewhere-else", "started_at": "2030-01-01T00:00:00Z"}
    copy = tmp_path / "copy.json"
    copy.write_text(json.dumps(data))
    res = runner.invoke(app, ["diff", str(PLANS / "dynamo_old.json"), str(copy), "--detailed-exitcode"])
    assert res.exit_code == 0 and res.stdout.startswith("Plan: no changes")


def test_guardrail_breach_exit_3_and_says_which(runner) -> None:
    res = runner.invoke(
        app, ["diff", *plans("splitwise"), "--fail-on", "throughput<-5%,cost>+3%,energy>+3%,slo", "--detailed-exitcode"]
    )
    assert res.exit_code == 3
    assert "guardrail breached: cost>+3%: cost_usd_h +4.0% (1000 -> 1040 USD/h)" in res.stderr
    assert "note: guardrail energy>+3% not applicable: neither splitwise plan has energy" in res.stderr
    assert "throughput<-5%" not in res.stderr  # passed: not reported as breached


def test_guardrails_pass_exit_0(runner) -> None:
    res = runner.invoke(app, ["diff", *plans("dynamo"), "--fail-on", "energy>+3%,slo", "--quiet"])
    assert res.exit_code == 0 and res.stderr == ""


def test_fail_on_typo_exit_2_with_accepted_forms(runner) -> None:
    res = runner.invoke(app, ["diff", *plans("helix"), "--fail-on", "thruput<-5%"])
    assert res.exit_code == 2 and res.stdout == ""
    line = res.stderr.strip()
    assert "\n" not in line
    assert line.startswith("--fail-on: unknown metric 'thruput' in 'thruput<-5%' (did you mean 'throughput'?)")
    assert "accepted forms:" in line


def test_different_kinds_refused_exit_1(runner) -> None:
    res = runner.invoke(app, ["diff", str(PLANS / "helix_old.json"), str(PLANS / "splitwise_new.json")])
    assert res.exit_code == 1 and res.stdout == ""
    assert res.stderr.strip() == (
        f"refusing to diff a helix plan ({display_path(PLANS / 'helix_old.json')}) against a splitwise plan "
        f"({display_path(PLANS / 'splitwise_new.json')}): plans must be of the same kind"
    )


def test_other_major_version_refused_exit_1(runner, tmp_path: Path) -> None:
    data = json.loads((PLANS / "helix_new.json").read_text())
    data["format_version"] = "2.1.0"
    future = tmp_path / "future.json"
    future.write_text(json.dumps(data))
    res = runner.invoke(app, ["diff", str(PLANS / "helix_old.json"), str(future), "--detailed-exitcode"])
    assert res.exit_code == 1
    assert "refusing to diff" in res.stderr and "plan format 2.1.0" in res.stderr


def test_missing_plan_exit_1_even_with_detailed_exitcode(runner, tmp_path: Path) -> None:
    res = runner.invoke(
        app, ["diff", str(PLANS / "helix_old.json"), str(tmp_path / "nope.json"), "--detailed-exitcode"]
    )
    assert res.exit_code == 1
    assert res.stderr.strip() == f"{display_path(tmp_path / 'nope.json')}: <root>: plan file not found"


def test_usage_errors_exit_2(runner) -> None:
    res = runner.invoke(app, ["diff", str(PLANS / "helix_old.json")])
    assert res.exit_code == 2 and "plan diff needs OLD.json NEW.json, or --base-ref REF SPEC" in res.stderr
    res = runner.invoke(app, ["diff", *plans("helix"), "--time-limit", "5"])
    assert res.exit_code == 2 and "--time-limit: only with --base-ref" in res.stderr


def test_json_format_and_out_file(runner, tmp_path: Path) -> None:
    out = tmp_path / "diff.json"
    res = runner.invoke(app, ["diff", *plans("dynamo"), "--format", "json", "--out", str(out)])
    assert res.exit_code == 0
    assert out.read_text() == res.stdout
    data = json.loads(res.stdout)
    assert data["diff_format_version"] == "1.1.0"
    freq = next(c for c in data["changes"] if c["address"] == "dynamo.epoch[08:00].pool[LL].freq_mhz")
    assert (freq["action"], freq["before"], freq["after"], freq["delta"], freq["unit"]) == (
        "~",
        1980,
        1600,
        -380.0,
        "MHz",
    )
    energy = next(m for m in data["metrics"] if m["name"] == "energy_kwh")
    assert (energy["delta"], energy["delta_pct"], energy["unit"]) == (-2.2, -2.2, "kWh")


def test_markdown_format_with_marker(runner) -> None:
    res = runner.invoke(app, ["diff", *plans("helix"), "--format", "markdown", "--marker", "llmplan-diff:ci"])
    assert res.exit_code == 0
    assert res.stdout.startswith("<!-- llmplan-diff:ci -->\n### plan diff: helix `tiny`\n")
    assert "<details><summary>48 changes</summary>" in res.stdout


def test_same_bytes_twice(runner, tmp_path: Path) -> None:
    """Deterministic: the diff JSON of the same plans is byte-identical, wherever the plans live."""
    a = runner.invoke(app, ["diff", *plans("helix"), "--format", "json"]).stdout
    for name in ("helix_old.json", "helix_new.json"):
        shutil.copy(PLANS / name, tmp_path / name)
    b = runner.invoke(app, ["diff", str(tmp_path / "helix_old.json"), str(tmp_path / "helix_new.json"), "-f", "json"])
    da, db = json.loads(a), json.loads(b.stdout)
    for d in (da, db):
        d.pop("old"), d.pop("new")
    assert da == db
    assert a == runner.invoke(app, ["diff", *plans("helix"), "--format", "json"]).stdout
