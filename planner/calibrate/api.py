"""The two operations the CLI exposes, as plain functions: calibrate files into a profile directory, and measure
accuracy. No printing, no typer: the CLI renders what these return.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from planner.calibrate.accuracy import (
    AccuracyReport,
    Progress,
    combined,
    fits_and_folds,
    leave_one_out,
    leave_one_out_dynamo,
    predict_current,
    predict_current_dynamo,
)
from planner.calibrate.dynamo_fit import calibrate_dynamo
from planner.calibrate.ingest import IterationTable, MeasuredRun, Warn, load_all
from planner.calibrate.itermodel import current_hardware
from planner.calibrate.writer import Calibrated, CalibratedDynamo, write_profile_dir
from planner.errors import UsageError
from planner.executors import ExecutorConfig
from planner.profiles.db import ProfileDB


def default_clock(
    runs: list[MeasuredRun], tables: list[IterationTable]
) -> tuple[list[MeasuredRun], list[IterationTable]]:
    """The runs and tables of the default-clock iteration model: those that state no locked clock."""
    return [r for r in runs if r.freq_mhz is None], [t for t in tables if t.freq_mhz is None]


def refuse_duplicates(paths: list[Path]) -> None:
    """Refuse a benchmark file given twice (by another name, through a link, or as a byte-identical copy): its runs
    would count twice, so a leave-one-out fold would still see the run it predicts and the band written for the fit
    would collapse. Names both arguments as given; an unreadable file is left to the loader to name."""
    seen: dict[object, int] = {}
    for i, p in enumerate(paths):
        try:
            st = os.stat(p)
            keys: list[tuple[str, object]] = [("file", (st.st_dev, st.st_ino))]
            if p.is_file():
                keys.append(("bytes", hashlib.sha256(p.read_bytes()).hexdigest()))
        except OSError:
            continue
        for kind, key in keys:
            j = seen.setdefault((kind, key), i)
            if j != i:
                same = "the same file as" if kind == "file" else "the same bytes as"
                raise UsageError(
                    f"{p}: {same} {paths[j]} (benchmark files {j + 1} and {i + 1}); give each benchmark file once"
                )


def calibrate_files(
    paths: list[Path],
    db: ProfileDB,
    out: Path,
    describe: dict[str, Any] | None = None,
    loo: bool = True,
    where: ExecutorConfig | None = None,
    on_done: Progress | None = None,
    warn: Warn | None = None,
) -> tuple[list[Calibrated], list[CalibratedDynamo], list[Path]]:
    """Fit every (gpu, tp, model) found in ``paths`` (and every (gpu, model) of the DVFS runs among them, for the
    dynamo profile) and write the profile directory ``out`` (all files or none). The fits and leave-one-out folds
    run on ``where`` (default: here, one after another); the directory written does not depend on it. ``warn``:
    told of files used that deserve a look (:func:`~planner.calibrate.ingest.load_runs`)."""
    calibrated, dynamo = fit_files(paths, db, describe, loo, where, on_done, warn)
    return calibrated, dynamo, write_profile_dir(out, calibrated, dynamo, db)


def fit_files(
    paths: list[Path],
    db: ProfileDB,
    describe: dict[str, Any] | None = None,
    loo: bool = True,
    where: ExecutorConfig | None = None,
    on_done: Progress | None = None,
    warn: Warn | None = None,
) -> tuple[list[Calibrated], list[CalibratedDynamo]]:
    """The fits :func:`calibrate_files` writes, without writing them (the CLI writes them itself, to report a
    failing write in one line)."""
    if not paths:
        raise UsageError("no benchmark files given")
    refuse_duplicates(paths)
    all_runs, all_tables = load_all(paths, db, describe, warn)
    dynamo: list[CalibratedDynamo] = []
    for dfit, observed in calibrate_dynamo(all_runs, all_tables, db):
        dloo: AccuracyReport | None = None
        if loo and len(observed) >= 2:
            g_runs = [o.run for o in observed if o.run is not None]
            g_tabs = [o.table for o in observed if o.table is not None]
            dloo = combined("loo", g_runs, leave_one_out_dynamo(g_runs, g_tabs, db, where, on_done), {})
        dynamo.append(CalibratedDynamo(dfit, dloo))
    runs, tables = default_clock(all_runs, all_tables)
    keyed = fits_and_folds(runs, tables, db, lambda group, tabs: loo and len(group) + len(tabs) >= 2 and bool(group),
                           where, on_done)  # fmt: skip
    calibrated: list[Calibrated] = []
    for key, (result, report) in keyed.items():
        group = [r for r in runs if r.key() == key]
        tabs = [t for t in tables if (t.gpu, t.tp, t.model) == key]
        hw = current_hardware(db, *key)
        files = tuple(dict.fromkeys([r.file for r in group] + [t.file for t in tabs]))
        synthetic = any(r.provenance == "synthetic" for r in group) or any(t.provenance == "synthetic" for t in tabs)
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
    if not calibrated and not dynamo:
        raise UsageError("nothing to calibrate in the files given")
    return calibrated, dynamo


def accuracy_files(
    paths: list[Path],
    db: ProfileDB,
    describe: dict[str, Any] | None = None,
    loo: bool = False,
    where: ExecutorConfig | None = None,
    on_done: Progress | None = None,
    bands: bool = False,
    warn: Warn | None = None,
) -> AccuracyReport:
    """Predict every run in ``paths`` with the current profiles (or leave-one-out) and measure the errors; the
    predictions and folds run on ``where`` (default: here), with the same results wherever they run. ``bands``:
    each figure also gets the error band a plan would carry, and the report counts the measured figures within it.
    ``warn``: told of files used that deserve a look (:func:`~planner.calibrate.ingest.load_runs`)."""
    if not paths:
        raise UsageError("no benchmark files given")
    refuse_duplicates(paths)
    all_runs, all_tables = load_all(paths, db, describe, warn)
    if not all_runs:
        raise UsageError("no end-to-end runs to predict (iteration CSVs are inputs to a fit, not runs)")
    runs = [r for r in all_runs if not r.dvfs]
    tables = [t for t in all_tables if t.freq_mhz is None]
    if loo:
        base = leave_one_out(runs, db, tables, where, on_done, bands) if runs else None
        parts = leave_one_out_dynamo(all_runs, all_tables, db, where, on_done)
    else:
        base = predict_current(runs, db, where, on_done, bands) if runs else None
        parts = predict_current_dynamo(all_runs, db)
    if not parts and base is not None:
        report = base
    else:
        report = combined("loo" if loo else "current", all_runs, [*(base.runs if base else ()), *parts],
                          base.fits if base else {})  # fmt: skip
    judged = {a.label for a in report.runs}
    return replace(report, alone=tuple(r.label for r in all_runs if r.label not in judged) if loo else ())
