"""``plan sweep``: exit codes, files written, rerun from the cache, and the errors before anything runs."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from planner.cli import app
from planner.cli.sweep import check_option
from planner.paths import REPO_ROOT
from planner.sweep.schema import load_sweep

SPEC = REPO_ROOT / "cluster_specs" / "splitwise-bloom176b-coding.yaml"


def two_points(tmp_path: Path) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(
        f"spec: {SPEC}\nsolver: splitwise\noptions: {{designs: HH, duration: 5s}}\n"
        "axes:\n  - set: workload.rate_rps\n    values: [2, 4]\n",
        encoding="utf-8",
    )
    return path


def test_sweep_writes_table_plans_summary_and_plot_then_resumes(tmp_path: Path, runner) -> None:
    out, png = tmp_path / "out", tmp_path / "front.png"
    args = ["sweep", str(two_points(tmp_path)), "--out", str(out), "--jobs", "1", "--summary", "--plot", str(png)]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "2 points, 0 cached, 2 to plan (local x1)" in res.stderr
    assert "2 of 2 points (feasible 2); 0 from the cache, 2 planned in" in res.stderr
    assert "Pareto frontier: cost vs throughput" in res.stdout
    table = pd.read_parquet(out / "results.parquet")
    assert table["workload.rate_rps"].tolist() == [2, 4]
    assert sorted(p.name for p in (out / "plans").iterdir()) == sorted(Path(p).name for p in table["plan"])
    assert (out / "results.csv").is_file() and png.stat().st_size > 0

    again = runner.invoke(app, [*args[:6], "--quiet"])
    assert again.exit_code == 0 and again.stderr == ""
    assert pd.read_parquet(out / "results.parquet").equals(table)


def test_bad_sweep_file_is_one_line_exit_2_nothing_written(tmp_path: Path, runner) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text(f"spec: {SPEC}\nsolver: splitwise\naxes:\n  - set: workload.rate_rpz\n    values: [1]\n")
    res = runner.invoke(app, ["sweep", str(path), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2
    assert res.stderr == (
        f"{path}:4:10: axes[0].set: workload.rate_rpz: path does not exist (did you mean 'rate_rps'?)\n"
    )
    assert not (tmp_path / "out").exists()


def test_ray_options_are_checked(tmp_path: Path, runner, monkeypatch) -> None:
    path = two_points(tmp_path)
    res = runner.invoke(app, ["sweep", str(path), "--out", str(tmp_path / "o"), "--ray-address", "auto"])
    assert res.exit_code == 2 and res.stderr == "error: --ray-address needs --executor ray\n"
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the optional extra were not installed
    res = runner.invoke(app, ["sweep", str(path), "--out", str(tmp_path / "o"), "--executor", "ray"])
    assert res.exit_code == 2
    assert res.stderr == "error: the Ray executor needs the optional extra llmplan[ray] (pip install 'llmplan[ray]')\n"
    assert not (tmp_path / "o").exists()


def test_shipped_sweep_is_valid() -> None:
    sweep = load_sweep(REPO_ROOT / "cluster_specs" / "sweep-splitwise-rates.yaml", check_option)
    assert sweep.count() == 40
    assert sweep.labels == ["workload.rate_rps", "--designs"]
