"""``plan sweep --summary`` as data: the counts by status and one table per Pareto frontier (render draws them)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from planner.report_data import Column, Report, Text, table
from planner.sweep.results import Frontier, frontiers


def _value(v: Any) -> Any:
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return None
    return v.item() if hasattr(v, "item") else v


def summary(df: pd.DataFrame, labels: list[str]) -> Report:
    """Status counts, then each frontier the table has figures for (cost vs throughput, energy vs SLO, ...)."""
    blocks: list[Any] = []
    counts = df["status"].value_counts().sort_index() if not df.empty else pd.Series(dtype="int64")
    blocks.append(Text("points by status: " + (", ".join(f"{k} {v}" for k, v in counts.items()) or "none")))
    found = frontiers(df, labels) if not df.empty else []
    if not found:
        blocks.append(Text("no Pareto frontier: no usable point has the figures (cost, throughput, energy, ...)"))
    for f in found:
        blocks.append(frontier_table(f, labels))
    return Report.of(blocks)


def frontier_table(f: Frontier, labels: list[str]) -> Any:
    """The frontier's points: their figures, then the axis values that produced them."""
    arrow = {"min": "lower is better", "max": "higher is better"}
    shown = [c for c in labels if c not in (f.x, f.y)]
    cols = [Column("point", numeric=True), Column(f.x, numeric=True), Column(f.y, numeric=True)]
    cols += [Column(c, numeric=pd.api.types.is_numeric_dtype(f.points[c])) for c in shown]
    rows = [
        [_value(r["point"]), _value(r[f.x]), _value(r[f.y]), *(_value(r[c]) for c in shown)]
        for _, r in f.points.iterrows()
    ]
    note = (
        f"{len(f.points)} of {len(f.usable)} usable points are on the frontier "
        f"({f.x}: {arrow[f.x_sense]}; {f.y}: {arrow[f.y_sense]})"
    )
    return table(f"Pareto frontier: {f.title}", cols, rows, notes=[note], compact=True)
