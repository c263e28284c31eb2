"""The two operations the CLI exposes, as plain functions: calibrate files into a profile directory, and measure
accuracy. No printing, no typer: the CLI renders what these return.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from planner.calibrate.accuracy import AccuracyReport, leave_one_out, predict_current
from planner.calibrate.fit import fit
from planner.calibrate.ingest import IterationTable, MeasuredRun, load_all
from planner.calibrate.itermodel import current_hardware
from planner.calibrate.writer import Calibrated, write_profile_dir
from planner.errors import UsageError
from planner.profiles.db import ProfileDB


def _keys(runs: list[MeasuredRun], tables: list[IterationTable]) -> list[tuple[str, int, str]]:
    seen: dict[tuple[str, int, str], None] = {}
    for r in runs:
        seen.setdefault(r.key(), None)
    for t in tables:
        seen.setdefault((t.gpu, t.tp, t.model), None)
    return list(seen)


def calibrate_files(
    paths: list[Path], db: ProfileDB, out: Path, describe: dict[str, Any] | None = None, loo: bool = True
) -> tuple[list[Calibrated], list[Path]]:
    """Fit every (gpu, tp, model) found in ``paths`` and write the profile directory ``out``."""
    if not paths:
        raise UsageError("no benchmark files given")
    runs, tables = load_all(paths, db, describe)
    calibrated: list[Calibrated] = []
    for key in _keys(runs, tables):
        group = [r for r in runs if r.key() == key]
        tabs = [t for t in tables if (t.gpu, t.tp, t.model) == key]
        hw = current_hardware(db, *key)
        result = fit(group, tabs, hw)
        files = tuple(dict.fromkeys([r.file for r in group] + [t.file for t in tabs]))
        synthetic = any(r.provenance == "synthetic" for r in group) or any(t.provenance == "synthetic" for t in tabs)
        report: AccuracyReport | None = None
        if loo and len(group) + len(tabs) >= 2 and group:
            report = leave_one_out(group, db, tabs)
        calibrated.append(
            Calibrated(
                gpu=key[0],
                tp=key[1],
                model=hw.model,
                perf_hardware=hw.perf_hardware,
                fit=result,
                files=files,
                provenance="synthetic" if synthetic else "measured",
                loo=report,
            )
        )
    return calibrated, write_profile_dir(out, calibrated)


def accuracy_files(
    paths: list[Path], db: ProfileDB, describe: dict[str, Any] | None = None, loo: bool = False
) -> AccuracyReport:
    """Predict every run in ``paths`` with the current profiles (or leave-one-out) and measure the errors."""
    if not paths:
        raise UsageError("no benchmark files given")
    runs, tables = load_all(paths, db, describe)
    if not runs:
        raise UsageError("no end-to-end runs to predict (iteration CSVs are inputs to a fit, not runs)")
    return leave_one_out(runs, db, tables) if loo else predict_current(runs, db)
