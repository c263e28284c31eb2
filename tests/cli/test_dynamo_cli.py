"""``plan dynamo`` through the CLI: exit codes 0/1/2, one-line errors, options, plot, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planner.cli import app
from planner.plan import Plan

from ..dynamo_specs import tiny_dynamo_spec

ROOT = Path(__file__).resolve().parents[2]
SPEC = tiny_dynamo_spec("cli-dynamo", top="power: {pue: 1.5}\n")


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    p = tmp_path / "cli-dynamo.yaml"
    p.write_text(SPEC)
    return p


def run_json(runner, *args: str) -> dict:
    res = runner.invoke(app, ["dynamo", *args, "--format", "json", "--quiet"])
    assert res.exit_code == 0, res.stderr
    return json.loads(res.stdout)


def test_default_spec_with_slo_as_typed(runner) -> None:
    """`plan dynamo --slo 15s`: the shipped day, 288 five-minute epochs, each proved optimal."""
    res = runner.invoke(app, ["dynamo", "--slo", "15s", "--format", "json"])
    assert res.exit_code == 0, res.stderr
    assert "using cluster_specs/dynamo-llama2-70b-h100.yaml (default" in res.stderr
    plan = json.loads(res.stdout)
    assert plan["kind"] == "dynamo" and plan["solver"]["status"] == "optimal"
    assert plan["solver"]["message"].startswith("288/288 epochs proved optimal")
    epochs = plan["plan"]["epochs"]
    assert len(epochs) == 288 and epochs[96]["start"] == "08:00"
    assert all(c["e2e_s"] == 15.0 for c in plan["plan"]["classes"])
    pool = epochs[0]["pools"][0]
    assert {"class", "instances", "tp", "freq_mhz", "load_rps", "energy_wh"} <= set(pool)
    m = plan["metrics"]
    assert m["energy_kwh"] > 0 and m["baseline_singlepool_energy_kwh"] > 0
    assert max(e["gpus"] for e in epochs) <= 88


@pytest.mark.parametrize("mode", ["joint", "hierarchical"])
def test_modes_and_epochs(runner, spec: Path, mode: str) -> None:
    plan = run_json(runner, str(spec), "--mode", mode, "--epoch", "20m", "--reshard-epoch", "10m")
    block = plan["plan"]
    assert block["mode"] == mode and [e["start"] for e in block["epochs"]] == ["00:00", "00:10", "00:20", "00:30",
                                                                                "00:40", "00:50"]  # fmt: skip
    assert plan["inputs"]["options"]["reshard_epoch_s"] == 600.0


def test_impossible_slo_exit_1_names_class_and_smallest_slo(runner, spec: Path, tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    res = runner.invoke(app, ["dynamo", str(spec), "--slo", "2s", "--out", str(out)])
    assert res.exit_code == 1
    line = res.stderr.strip()
    assert line.startswith("infeasible: slo_e2e[SL] limit 2 s, best achievable 14.1")
    assert "class SL needs a p99 E2E SLO above 14.1" in line and "\n" not in line
    written = Plan.model_validate(json.loads(out.read_text()))
    assert written.solver.status == "infeasible" and written.plan["epochs"] == []


def test_impossible_budget_exit_1_names_smallest_budget(runner, spec: Path) -> None:
    res = runner.invoke(app, ["dynamo", str(spec), "--gpu-budget", "8", "--mode", "joint"])
    assert res.exit_code == 1
    line = res.stderr.strip()
    assert line.startswith("infeasible: gpu_budget limit 8 GPUs, best achievable ")
    need = int(line.split("best achievable ")[1].split(" ")[0])
    assert f"the smallest budget that serves every epoch is {need} GPUs" in line
    assert runner.invoke(app, ["dynamo", str(spec), "--gpu-budget", str(need), "--mode", "joint", "-q"]).exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--epoch", "7m"], "--epoch (420s) must be a whole multiple of --reshard-epoch (300s)"),
        (["--mode", "fast"], "--mode must be joint or hierarchical, got 'fast'"),
        (["--slo", "15"], "--slo: cannot read duration '15'"),
    ],
)
def test_usage_errors_exit_2(runner, spec: Path, args: list[str], message: str) -> None:
    res = runner.invoke(app, ["dynamo", str(spec), *args])
    assert res.exit_code == 2 and message in res.stderr and res.stdout == ""


def test_carbon_series_and_price_change_the_figures(runner, spec: Path, tmp_path: Path) -> None:
    ci = tmp_path / "ci.csv"
    ci.write_text("time,gco2_per_kwh\n00:00,100\n00:30,300\n")
    plan = run_json(runner, str(spec), "--carbon", str(ci), "--price-kwh", "0.5")
    m, block = plan["metrics"], plan["plan"]
    expected = sum(e["energy_wh"] / 1e3 * 1.5 * e["carbon_g_per_kwh"] / 1e3 for e in block["epochs"])
    assert m["carbon_kgco2"] == pytest.approx(expected)
    assert {e["carbon_g_per_kwh"] for e in block["epochs"]} == {100.0, 300.0}
    assert m["electricity_cost_usd"] == pytest.approx(m["energy_kwh"] * 1.5 * 0.5)
    bad = tmp_path / "bad.csv"
    bad.write_text("t,g\n")
    res = runner.invoke(app, ["dynamo", str(spec), "--carbon", str(bad)])
    assert res.exit_code == 2 and "expected columns time,gco2_per_kwh" in res.stderr


def test_plot_and_reports(runner, spec: Path, tmp_path: Path) -> None:
    from planner.render.plots import write_dynamo
    from planner.render.registry import dynamo_figure

    png = tmp_path / "day.png"
    res = runner.invoke(app, ["dynamo", str(spec), "--plot", str(png), "-q"])
    assert res.exit_code == 0, res.stderr
    assert png.stat().st_size > 10_000
    assert "Plan versus baselines" in res.stdout and "Where it comes" in res.stdout
    plan = Plan.model_validate(run_json(runner, str(spec)))
    labels = write_dynamo(dynamo_figure(plan), tmp_path / "again.png")
    assert ("SM clock (MHz)", "Wh per request at SLO capacity") in labels
    assert any(y == "GPUs per pool" for _x, y in labels) and any(y == "power (kW)" for _x, y in labels)
    md = runner.invoke(app, ["dynamo", str(spec), "--format", "markdown", "-q"]).stdout
    assert "### Plan versus baselines" in md and "### Where the saving comes from" in md


def test_same_inputs_byte_identical_plan(runner, spec: Path) -> None:
    a, b = run_json(runner, str(spec)), run_json(runner, str(spec))
    a.pop("run"), b.pop("run")
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


@pytest.mark.parametrize("name", ["dynamo-llama2-70b-h100.yaml", "dynamo-llama2-70b-h100-coding.yaml"])
def test_shipped_specs_validate(runner, name: str) -> None:
    res = runner.invoke(app, ["validate", str(ROOT / "cluster_specs" / name), "--format", "json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["solvers"]["dynamo"] == []


def test_measured_rows_layer_over_the_synthetic_table(runner, spec: Path, tmp_path: Path) -> None:
    """A user table in the same schema (--profiles DIR) replaces shipped rows by key; the plan says so."""
    shipped = (ROOT / "profiles" / "tables" / "dynamo_profile.csv").read_text().splitlines()
    header = next(line for line in shipped if line.startswith("model,"))
    rows = [line for line in shipped if line.startswith("llama2-70b,H100-80G,SS,2,800,")]
    measured = [",".join([*r.split(",")[:-2], str(float(r.split(",")[-2]) * 1.1), "measured:lab run 42"]) for r in rows]
    user = tmp_path / "my-profiles" / "tables"
    user.mkdir(parents=True)
    (user / "dynamo_profile.csv").write_text("\n".join([header, *measured]) + "\n")
    plan = run_json(runner, str(spec), "--profiles", str(user.parent))
    assert sum("profile override" in w and "class=SS" in w for w in plan["warnings"]) == len(rows) == 14
    profile = next(a for a in plan["assumptions"] if a["subject"] == "profile")
    assert "measured" in profile["detail"] and "synthetic" in profile["detail"]
    ss = next(r for r in plan["plan"]["profile"] if (r["class"], r["tp"], r["freq_mhz"]) == ("SS", 2, 800))
    assert ss["idle_w"] == pytest.approx(130.24 * 1.1, rel=1e-3)
