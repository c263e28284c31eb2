"""Pareto frontiers, the summary report and the plot, on a hand-made results table."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from planner.sweep.report import summary
from planner.sweep.results import frontiers, pareto


def table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "point": [0, 1, 2, 3, 4],
            "workload.rate_rps": [10.0, 20.0, 30.0, 40.0, 50.0],
            "status": ["feasible", "feasible", "feasible", "infeasible", "feasible"],
            "cost_usd_h": [100.0, 150.0, 150.0, 90.0, 400.0],
            "throughput_rps": [10.0, 20.0, 18.0, 99.0, 50.0],
            "total_machines": [2.0, 3.0, 3.0, 1.0, 8.0],
        }
    )


def test_pareto_keeps_only_undominated_points() -> None:
    front = pareto(table(), "cost_usd_h", "min", "throughput_rps", "max")
    # point 2 costs as much as point 1 for less throughput; point 3 is kept here (pareto() does not filter status)
    assert front["point"].tolist() == [3]  # cheapest and fastest: it dominates every other point
    ok = table()[table()["status"] == "feasible"]
    assert pareto(ok, "cost_usd_h", "min", "throughput_rps", "max")["point"].tolist() == [0, 1, 4]


def test_frontiers_use_usable_points_and_the_figures_present() -> None:
    found = {f.title: f for f in frontiers(table(), ["workload.rate_rps"])}
    assert set(found) == {"cost vs throughput", "machines vs rate"}  # no energy and no SLO axis here
    assert found["cost vs throughput"].points["point"].tolist() == [0, 1, 4]
    assert (found["machines vs rate"].x, found["machines vs rate"].y) == ("total_machines", "throughput_rps")
    assert len(found["cost vs throughput"].usable) == 4


def test_summary_and_plot(tmp_path: Path) -> None:
    from planner.render.sweep import write_sweep

    report = summary(table(), ["workload.rate_rps"])
    texts = [getattr(b, "text", None) for b in report.blocks]
    assert texts[0] == "points by status: feasible 4, infeasible 1"
    tables = [b for b in report.blocks if hasattr(b, "rows")]
    assert tables[0].title == "Pareto frontier: cost vs throughput"
    assert [r[0] for r in tables[0].rows] == ["0", "1", "4"]
    assert tables[0].notes == ("3 of 4 usable points are on the frontier (cost_usd_h: lower is better; "
                               "throughput_rps: higher is better)",)  # fmt: skip
    png = tmp_path / "front.png"
    labels = write_sweep(frontiers(table(), ["workload.rate_rps"]), "test", png)
    assert png.stat().st_size > 0
    assert labels == [("cost_usd_h", "throughput_rps"), ("total_machines", "throughput_rps")]


def test_energy_vs_a_duration_slo_axis() -> None:
    df = pd.DataFrame(
        {
            "point": [0, 1, 2],
            "slo.tbt": ["80ms", "100ms", "150ms"],
            "status": ["optimal"] * 3,
            "energy_kwh": [345.1, 343.4, 343.4],
        }
    )
    (f,) = frontiers(df, ["slo.tbt"])
    assert (f.title, f.x, f.y) == ("energy vs SLO", "energy_kwh", "slo.tbt_s")
    # 150 ms costs as much energy as 100 ms: the tighter SLO dominates it
    assert f.points["point"].tolist() == [1, 0] and f.points["slo.tbt_s"].tolist() == [0.1, 0.08]
