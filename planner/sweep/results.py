"""The results table (one row per point) and the Pareto frontiers drawn from it.

Columns, in order: ``point``, one column per axis (named by its ``set`` path or ``--option``), ``status``,
``objective``, every metric of the plans (unit-suffixed names, as in the plan), then ``error``, ``plan`` (path
relative to the sweep folder) and ``key`` (the cache key). Written as ``results.parquet`` (pyarrow) and
``results.csv``.

A frontier keeps the points no other point beats on both of its figures (e.g. no cheaper point with at least the
same throughput). Only points with a plan that meets its constraints count (status optimal, feasible or
time_limit).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from planner.sweep.cache import Entry
from planner.sweep.points import Point
from planner.sweep.schema import Sweep
from planner.units import UnitError, parse_duration

#: Statuses whose plan meets every constraint (time_limit: the best plan found within the time limit).
USABLE = ("optimal", "feasible", "time_limit")


def build_table(sweep: Sweep, pts: list[Point], done: dict[int, Entry], out_dir: Path) -> pd.DataFrame:
    """One row per finished point, in point order."""
    rows: list[dict[str, Any]] = []
    for p in pts:
        entry = done.get(p.index)
        if entry is None:
            continue
        row: dict[str, Any] = {"point": p.index}
        for label, value in p.values:
            row[label] = json.dumps(value) if isinstance(value, (list, dict)) else value
        row["status"] = entry.status
        row["objective"] = None
        metrics: dict[str, Any] = {}
        if entry.plan is not None:
            plan = json.loads((out_dir / entry.plan).read_text(encoding="utf-8"))
            row["objective"] = plan["solver"].get("objective")
            metrics = plan.get("metrics") or {}
        row.update({f"m:{k}": v for k, v in metrics.items()})
        row["error"] = entry.error
        row["plan"] = entry.plan
        row["key"] = entry.key
        rows.append(row)
    labels = sweep.labels
    df = pd.DataFrame(rows)
    metric_cols = sorted(c for c in df.columns if c.startswith("m:"))
    cols = ["point", *labels, "status", "objective", *metric_cols, "error", "plan", "key"]
    df = df.reindex(columns=cols).rename(columns={c: c[2:] for c in metric_cols})
    for label in labels:
        df[label] = _one_type(df[label])
    df["objective"] = pd.to_numeric(df["objective"], errors="coerce").astype("float64")
    for c in metric_cols:
        df[c[2:]] = pd.to_numeric(df[c[2:]], errors="coerce").astype("float64")
    df["point"] = df["point"].astype("int64")
    return df.reset_index(drop=True)


def _one_type(col: pd.Series) -> pd.Series:
    """An axis column of one type (Parquet needs it): numbers stay numbers, anything mixed becomes text."""
    values = [v for v in col if v is not None and not (isinstance(v, float) and pd.isna(v))]
    if values and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        if all(isinstance(v, int) for v in values):
            return col.astype("int64") if len(values) == len(col) else col.astype("float64")
        return col.astype("float64")
    if values and all(isinstance(v, bool) for v in values):
        return col.astype("object")
    return col.map(lambda v: None if v is None else str(v)).astype("object")


def write_table(df: pd.DataFrame, out_dir: Path) -> list[Path]:
    """``results.parquet`` and ``results.csv`` in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    parquet, csv = out_dir / "results.parquet", out_dir / "results.csv"
    df.to_parquet(parquet, index=False)
    df.to_csv(csv, index=False)
    return [parquet, csv]


@dataclass(frozen=True)
class Frontier:
    """A Pareto frontier: the points no other point beats on both ``x`` and ``y``."""

    title: str
    x: str
    x_sense: str  # "min" or "max"
    y: str
    y_sense: str
    points: pd.DataFrame  # the frontier rows, sorted by x
    usable: pd.DataFrame  # every usable point with both figures (for the plot)


def pareto(df: pd.DataFrame, x: str, x_sense: str, y: str, y_sense: str) -> pd.DataFrame:
    """Rows of ``df`` not dominated on (``x``, ``y``); ``*_sense`` says which way is better (``min``/``max``)."""
    if df.empty:
        return df
    sx = 1.0 if x_sense == "min" else -1.0
    sy = 1.0 if y_sense == "min" else -1.0
    keyed = df.assign(_x=df[x].astype(float) * sx, _y=df[y].astype(float) * sy)
    keyed = keyed.sort_values(["_x", "_y", "point"], kind="mergesort")
    keep: list[int] = []
    best_y = float("inf")
    for idx, yv in zip(keyed.index, keyed["_y"], strict=True):
        if yv < best_y:
            keep.append(idx)
            best_y = yv
    return df.loc[keep].drop(columns=[], errors="ignore").reset_index(drop=True)


def _first(df: pd.DataFrame, names: list[str]) -> str | None:
    for n in names:
        if n in df.columns and df[n].notna().any():
            return n
    return None


def _as_seconds(col: pd.Series) -> pd.Series | None:
    """An axis of durations (``80ms``, ``15s``) as seconds, so that an SLO axis can be a frontier's figure."""
    try:
        return col.map(lambda v: None if v is None else parse_duration(v)).astype("float64")
    except UnitError:
        return None


def frontiers(df: pd.DataFrame, labels: list[str]) -> list[Frontier]:
    """The frontiers the table has figures for: cost vs throughput, energy vs SLO, machines vs rate."""
    ok = df[df["status"].isin(USABLE)] if "status" in df.columns else df
    numeric_axes: list[str] = []
    for lb in labels:
        if lb not in ok.columns:
            continue
        if pd.api.types.is_numeric_dtype(ok[lb]):
            numeric_axes.append(lb)
        elif (seconds := _as_seconds(ok[lb])) is not None:
            ok = ok.assign(**{f"{lb}_s": seconds})
            numeric_axes.append(f"{lb}_s")
    rate_axis = next((lb for lb in numeric_axes if "rate" in lb or lb.endswith(("rps", "--rps"))), None)
    slo_axis = next((lb for lb in numeric_axes if "slo" in lb.lower()), None)
    specs: list[tuple[str, str | None, str, str | None, str]] = [
        (
            "cost vs throughput",
            _first(ok, ["cost_usd_h", "cost_usd"]),
            "min",
            _first(ok, ["throughput_rps", "throughput_tok_s", "served_requests"]),
            "max",
        ),
        ("energy vs SLO", _first(ok, ["energy_kwh", "power_kw"]), "min", slo_axis, "min"),
        (
            "machines vs rate",
            _first(ok, ["total_machines", "peak_gpus", "active_nodes"]),
            "min",
            _first(ok, ["throughput_rps"]) or rate_axis or _first(ok, ["throughput_tok_s"]),
            "max",
        ),
    ]
    out: list[Frontier] = []
    for title, x, xs, y, ys in specs:
        if x is None or y is None:
            continue
        usable = ok.dropna(subset=[x, y])
        if usable.empty:
            continue
        out.append(Frontier(title, x, xs, y, ys, pareto(usable, x, xs, y, ys), usable))
    return out
