"""``plan splitwise`` through the CLI: exit codes, one-line errors, formats, plots, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planner.cli import app

ROOT = Path(__file__).resolve().parents[2]
CODING = str(ROOT / "cluster_specs" / "splitwise-bloom176b-coding.yaml")
QUICK = ["--duration", "10s", "--workers", "1", "--quiet"]


def test_least_cost_at_a_rate_json(runner) -> None:
    res = runner.invoke(app, ["splitwise", CODING, "--rps", "6", "--designs", "HH,HA", "--format", "json", *QUICK])
    assert res.exit_code == 0, res.stderr
    plan = json.loads(res.stdout)
    assert plan["kind"] == "splitwise" and plan["plan"]["design"] in ("HH", "HA")
    assert plan["plan"]["objective"] == "cost" and plan["metrics"]["throughput_rps"] == 6
    assert plan["inputs"]["options"]["rps"] == 6 and "workers" not in plan["inputs"]["options"]


def test_default_spec_is_announced(runner) -> None:
    res = runner.invoke(app, ["splitwise", "--rps", "4", "--designs", "AA", "--duration", "10s", "--workers", "1"])
    assert res.exit_code == 0, res.stderr
    assert "using cluster_specs/splitwise-bloom176b-coding.yaml (default" in res.stderr
    assert "Designs" in res.stdout and "Launch hints" in res.stdout


def test_markdown_and_plot(runner, tmp_path: Path) -> None:
    png = tmp_path / "sw.png"
    args = ["splitwise", CODING, "--rps", "6", "--designs", "HH", "--format", "markdown", "--plot", str(png), *QUICK]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.stderr
    assert "### Designs" in res.stdout and "### SLOs" in res.stdout and "--disaggregation-mode prefill" in res.stdout
    assert png.stat().st_size > 10_000


def test_figure_axes_are_labelled(profile_db) -> None:
    from planner.render.plots import splitwise_figure
    from planner.runner.splitwise import run
    from planner.spec.loader import load_spec
    from planner.splitwise.instance import SplitwiseOptions
    from planner.splitwise.plots import plot_data

    db = profile_db
    result = run(load_spec(Path(CODING), db), db, SplitwiseOptions(rps=6, designs=["HH"], duration_s=10, workers=1))
    fig = splitwise_figure(plot_data(result))
    heat, pareto = fig.axes[:2]
    assert heat.get_xlabel() == "prompt machines (P)" and heat.get_ylabel() == "token machines (T)"
    assert pareto.get_xlabel() == "throughput (req/s)" and pareto.get_ylabel() == "cost (USD/h)"


def test_same_seed_same_plan(runner) -> None:
    def plan(seed: str) -> dict:
        args = ["splitwise", CODING, "--rps", "6", "--designs", "HA", "--seed", seed, "-f", "json", *QUICK]
        data = json.loads(runner.invoke(app, args).stdout)
        data.pop("run")
        return data

    assert plan("3") == plan("3")
    assert plan("3")["plan"]["ledger"] != plan("4")["plan"]["ledger"]


def test_malformed_trace_names_the_row(runner, tmp_path: Path) -> None:
    trace = tmp_path / "trace.csv"
    trace.write_text(
        "TIMESTAMP,ContextTokens,GeneratedTokens\n"
        "2023-11-16 18:17:03.9799600,4808,10\n"
        "2023-11-16 18:17:04.0000000,lots,10\n"
    )
    spec = tmp_path / "s.yaml"
    spec.write_text(f"model: bloom-176b\nworkload: {{trace: {trace.name}, rate_rps: 5}}\n")
    res = runner.invoke(app, ["splitwise", str(spec), *QUICK])
    assert res.exit_code == 2
    assert res.stderr.strip() == f"{trace}:3: row 2.ContextTokens: expected non-negative integer, got 'lots'"
    assert res.stdout == ""


def test_unmeetable_target_exits_1_with_the_shortfall_and_writes_the_plan(runner, tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    res = runner.invoke(app, ["splitwise", CODING, "--cost-target", "15", "--out", str(out), *QUICK])
    assert res.exit_code == 1
    line = res.stderr.strip().splitlines()[-1]
    assert line.startswith("infeasible: cost budget [") and "limit 15 USD/h, best achievable 17.68 USD/h" in line
    written = json.loads(out.read_text())
    assert written["solver"]["status"] == "infeasible" and written["plan"]["design"] is None


def test_slo_shortfall_says_by_how_much(runner) -> None:
    res = runner.invoke(app, ["splitwise", CODING, "--cost-target", "20", "--designs", "baseline-a100", *QUICK])
    assert res.exit_code == 1
    line = res.stderr.strip().splitlines()[-1]
    assert line.startswith("infeasible: slo ") and "slowdown [baseline-a100 1 machines at 1 req/s] limit" in line
    assert "best achievable" in line and "(short by" in line


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rps", "5", "--cost-target", "100"], "give either --rps"),
        (["--designs", "HX"], "--designs: unknown design 'HX'"),
        (["--rps", "-1"], "--rps must be positive"),
        (["--duration", "5"], "--duration: cannot read duration"),
        (["--power-target", "300", "--objective", "power"], "--objective applies to --rps"),
    ],
)
def test_usage_errors_exit_2(runner, args: list[str], message: str) -> None:
    res = runner.invoke(app, ["splitwise", CODING, *args, "--quiet"])
    assert res.exit_code == 2
    assert message in res.stderr and len(res.stderr.strip().splitlines()) == 1
