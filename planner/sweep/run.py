"""Run a sweep: skip cached points, run the rest on an executor, record every outcome, write the results table.

Nothing about one point can stop the others: an infeasible point, a bad value or even a crash is recorded with
its status and error. Ctrl-C stops the sweep (points in flight are dropped); every point finished before it is
already in the cache, and the results table is written for them, so rerunning the same command resumes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from planner.executors import LocalExecutor, RayExecutor
from planner.sweep.cache import Cache, Entry, KeyMaker
from planner.sweep.points import Point, points
from planner.sweep.results import build_table, write_table
from planner.sweep.schema import Sweep
from planner.sweep.task import INTERRUPTED, PointFn, PointOutcome, PointTask


@dataclass
class SweepRun:
    """What a sweep did: the table (one row per finished point) and the counts behind the summary line."""

    table: pd.DataFrame
    total: int
    cached: int
    ran: int
    interrupted: bool
    wall_s: float
    files: list[Path] = field(default_factory=list)


#: ``on_result(outcome, done, total)`` after each point finishes (the CLI draws its progress bar from it).
ProgressHook = Callable[[PointOutcome, int, int], None]


def plan_tasks(
    sweep: Sweep, cache: Cache, defaults: dict[str, Any] | None = None
) -> tuple[list[Point], dict[int, Entry], list[PointTask]]:
    """Every point, the ones already in the cache (by index) and the tasks still to run."""
    keys = KeyMaker(sweep)
    pts = list(points(sweep, defaults))
    done: dict[int, Entry] = {}
    todo: list[PointTask] = []
    cwd = os.getcwd()
    for p in pts:
        key = keys.key(p)
        hit = cache.get(key)
        if hit is not None:
            done[p.index] = hit
        else:
            todo.append(PointTask(index=p.index, key=key, argv=tuple(p.argv(sweep)), cwd=cwd))
    return pts, done, todo


def run_sweep(
    sweep: Sweep,
    out_dir: Path,
    executor: LocalExecutor | RayExecutor,
    point_fn: PointFn,
    *,
    defaults: dict[str, Any] | None = None,
    on_result: ProgressHook | None = None,
    on_start: Callable[[int, int], None] | None = None,
) -> SweepRun:
    """Run every point not in ``out_dir``'s cache; write ``results.parquet`` and ``results.csv`` (also on Ctrl-C)."""
    start = time.perf_counter()
    cache = Cache(out_dir)
    pts, done, todo = plan_tasks(sweep, cache, defaults)
    cached = len(done)
    if on_start is not None:
        on_start(len(pts), cached)
    interrupted = False
    ran = 0
    try:
        for outcome in executor.imap_unordered(point_fn, todo):
            if outcome.exit_code == INTERRUPTED:
                raise KeyboardInterrupt
            done[outcome.index] = cache.put(outcome)
            ran += 1
            if on_result is not None:
                on_result(outcome, len(done), len(pts))
    except KeyboardInterrupt:
        interrupted = True
    table = build_table(sweep, pts, done, out_dir)
    files = write_table(table, out_dir)
    return SweepRun(
        table=table,
        total=len(pts),
        cached=cached,
        ran=ran,
        interrupted=interrupted,
        wall_s=time.perf_counter() - start,
        files=files,
    )
