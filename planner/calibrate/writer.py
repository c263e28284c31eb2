"""Write a calibrated profile directory: rows the solvers read, each saying it is ``measured:<file>``.

Layout of ``DIR`` (usable as ``--profiles DIR``, layered over the shipped database; user rows win on key columns):

* ``tables/splitwise_perf.csv``: prompt and token iteration times of the fitted model on the Splitwise grid, keyed
  (model, hardware, tp, batch_tokens): the curves of ``plan splitwise``'s simulator and of ``plan accuracy``;
* ``tables/helix_layer_latency.csv``: the same model per layer (iteration time / layers), keyed (model, gpu, phase,
  tokens_in_batch) with the Helix node-type name (``H100-80Gx8`` for 8 GPUs), the table ``plan simulate`` reads;
* ``accuracy.yaml``: the leave-one-out error of each fit, the error band of plans resting on its rows;
* ``calibration.yaml``: per (gpu, tp, model) the fitted parameters, the files and runs behind them, the fit's
  residual and, when computed, the leave-one-out accuracy: the tracked accuracy error bands rest on.

An existing directory is updated: rows of other (gpu, tp, model) keys are kept, rows of a re-fitted key replaced.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from planner.calibrate.accuracy import AccuracyReport
from planner.calibrate.fit import FitResult
from planner.calibrate.itermodel import KNOTS
from planner.helix.throughput import default_profile_name
from planner.profiles.schema import ModelProfile

SPLITWISE_COLUMNS = ("model", "hardware", "tp", "batch_tokens", "prompt_ms", "token_ms", "samples", "source")
HELIX_COLUMNS = ("model", "gpu", "phase", "tokens_in_batch", "ms_per_layer", "source")
HELIX_PROMPT_GRID = (0, 1, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192)
HELIX_DECODE_GRID = (0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512)

_META = {
    "splitwise_perf": {
        "description": "Splitwise iteration time (ms) by batch tokens, prompt and token phase, per model/hardware/TP",
        "keys": ["model", "hardware", "tp", "batch_tokens"],
        "units": {"batch_tokens": "tokens", "prompt_ms": "ms", "token_ms": "ms", "samples": "runs"},
        "licence": "calibrated by plan calibrate from the user's own benchmark files",
    },
    "helix_layer_latency": {
        "description": "Helix per-layer latency (ms/layer) by batch tokens, prompt and decode, per GPU node type",
        "keys": ["model", "gpu", "phase", "tokens_in_batch"],
        "units": {"tokens_in_batch": "tokens", "ms_per_layer": "ms"},
        "licence": "calibrated by plan calibrate from the user's own benchmark files",
    },
}


@dataclass(frozen=True)
class Calibrated:
    """One fitted (gpu, tp, model) ready to write."""

    gpu: str
    tp: int
    model: ModelProfile
    perf_hardware: str
    fit: FitResult
    files: tuple[str, ...]
    provenance: str  # "measured" unless any input was synthetic
    loo: AccuracyReport | None = None

    @property
    def source(self) -> str:
        files = self.files[0] + (
            f" +{len(self.files) - 1} more file(s), see calibration.yaml" if len(self.files) > 1 else ""
        )
        return (
            f"{self.provenance}:{files} (plan calibrate: {len(self.fit.runs)} run(s), {len(self.fit.tables)} "
            f"table(s), rms log error {self.fit.rms_log_ratio:.3f})"
        )


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _merge(path: Path, new: pd.DataFrame, keys: list[str], header: str) -> None:
    if path.exists():
        old = pd.read_csv(path, comment="#")
        replaced = set(map(tuple, new[keys].astype(str).values.tolist()))
        keep = [tuple(row) not in replaced for row in old[keys].astype(str).values.tolist()]
        new = pd.concat([old[keep], new], ignore_index=True)
    new = new.sort_values(keys, kind="stable").reset_index(drop=True)
    _atomic_write(path, header + new.to_csv(index=False, float_format="%.6f", lineterminator="\n"))


def _splitwise_rows(c: Calibrated) -> pd.DataFrame:
    x = np.asarray(KNOTS, dtype=float)
    return pd.DataFrame(
        {
            "model": c.model.name,
            "hardware": c.perf_hardware,
            "tp": c.tp,
            "batch_tokens": [int(v) for v in x],
            "prompt_ms": c.fit.model.prompt_ms(x),
            "token_ms": c.fit.model.token_ms(x),
            "samples": len(c.fit.runs) + len(c.fit.tables),
            "source": c.source,
        },
        columns=list(SPLITWISE_COLUMNS),
    )


def _helix_rows(c: Calibrated) -> pd.DataFrame:
    gpu = default_profile_name(c.gpu, c.tp)
    layers = c.model.layers
    rows: list[dict[str, Any]] = []
    for phase, grid, fn in (
        ("prompt", HELIX_PROMPT_GRID, c.fit.model.prompt_ms),
        ("decode", HELIX_DECODE_GRID, c.fit.model.token_ms),
    ):
        for n in grid:
            ms = 0.0 if n == 0 else float(fn(float(n))) / layers
            rows.append({"model": c.model.name, "gpu": gpu, "phase": phase, "tokens_in_batch": n,
                         "ms_per_layer": ms, "source": c.source})  # fmt: skip
    return pd.DataFrame(rows, columns=list(HELIX_COLUMNS))


def _accuracy_block(rep: AccuracyReport) -> dict[str, Any]:
    return {
        "mode": rep.mode,
        "runs": len(rep.runs),
        "mean_abs_error": {a.metric: round(a.mean_abs, 4) for a in rep.aggregate},
        "p90_abs_error": {a.metric: round(a.p90_abs, 4) for a in rep.aggregate},
    }


def _write_bands(out: Path, calibrated: list[Calibrated]) -> None:
    """``accuracy.yaml`` entries (the ``accuracy`` catalogue) giving each fit's leave-one-out error as its band."""
    path = out / "accuracy.yaml"
    doc: dict[str, Any] = {}
    if path.exists():
        doc = yaml.safe_load(path.read_text()) or {}
    for c in calibrated:
        if c.loo is None or c.loo.overall_mean_abs() is None:
            continue  # no leave-one-out figure: plans fall back to the shipped measured band
        doc[f"calibrated:{c.perf_hardware}/tp{c.tp}/{c.model.name}"] = {
            "basis": c.provenance,
            "err_ratio": round(float(c.loo.overall_mean_abs() or 0.0), 4),
            "method": f"plan calibrate: mean absolute leave-one-out error over {len(c.loo.runs)} run(s) ({c.files[0]})",
        }
    if doc:
        _atomic_write(path, yaml.safe_dump(dict(sorted(doc.items())), sort_keys=False, width=200))


def write_profile_dir(out: Path, calibrated: list[Calibrated]) -> list[Path]:
    """Write (or update) ``out`` with the calibrated rows; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    header = (
        "# Calibrated by plan calibrate from measured benchmark files (see calibration.yaml); do not edit by hand.\n"
    )
    if calibrated:
        sw = pd.concat([_splitwise_rows(c) for c in calibrated], ignore_index=True)
        hx = pd.concat([_helix_rows(c) for c in calibrated], ignore_index=True)
        for table, df in (("splitwise_perf", sw), ("helix_layer_latency", hx)):
            path = out / "tables" / f"{table}.csv"
            _merge(path, df, list(_META[table]["keys"]), header)
            meta = path.with_suffix(".meta.yaml")
            _atomic_write(meta, yaml.safe_dump(_META[table], sort_keys=False))
            written += [path, meta]
    _write_bands(out, calibrated)
    cal_path = out / "calibration.yaml"
    doc: dict[str, Any] = {}
    if cal_path.exists():
        doc = yaml.safe_load(cal_path.read_text()) or {}
    entries = doc.setdefault("fits", {})
    for c in calibrated:
        entry: dict[str, Any] = {
            "gpu": c.gpu,
            "tp": c.tp,
            "model": c.model.name,
            "perf_hardware": c.perf_hardware,
            "helix_gpu": default_profile_name(c.gpu, c.tp),
            "provenance": c.provenance,
            "files": list(c.files),
            "runs": list(c.fit.runs),
            "tables": list(c.fit.tables),
            "parameters": c.fit.model.as_dict(),
            "rms_log_error": round(c.fit.rms_log_ratio, 5),
            "optimiser": c.fit.status,
        }
        if c.loo is not None:
            entry["accuracy"] = _accuracy_block(c.loo)
        entries[f"{c.gpu}/tp{c.tp}/{c.model.name}"] = entry
    doc["fits"] = dict(sorted(entries.items()))
    _atomic_write(cal_path, yaml.safe_dump(doc, sort_keys=False))
    written.append(cal_path)
    return written
