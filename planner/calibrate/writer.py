"""Write a calibrated profile directory: rows the solvers read, each saying it is ``measured:<file>``.

Layout of ``DIR`` (usable as ``--profiles DIR``, layered over the shipped database; user rows win on key columns):

* ``tables/splitwise_perf.csv``: prompt and token iteration times of the fitted model on the Splitwise grid, keyed
  (model, hardware, tp, batch_tokens): the curves of ``plan splitwise``'s simulator and of ``plan accuracy``;
* ``tables/helix_layer_latency.csv``: the same model per layer (iteration time / layers), keyed (model, gpu, phase,
  tokens_in_batch) with the Helix node-type name (``H100-80Gx8`` for 8 GPUs), the table ``plan simulate`` reads;
* ``tables/dynamo_profile.csv``: for every (TP, clock) measured in runs that state a clock or carry power, the load
  sweeps of ``plan dynamo``'s profile (p99 TTFT / TBT / E2E and power per class) written by the fitted physical
  model (:mod:`planner.calibrate.dynamo_fit`); its sidecar declares ``replace_groups`` so each sweep replaces the
  shipped sweep of the same (model, gpu, class, tp, freq_mhz) whole;
* ``accuracy.yaml``: the leave-one-out error of each fit, the error band of plans resting on its rows;
* ``calibration.yaml``: per (gpu, tp, model) the fitted parameters, the files and runs behind them, the fit's
  residual and, when computed, the leave-one-out accuracy: the tracked accuracy error bands rest on;
* ``models.yaml`` / ``gpus.yaml``: only when the fit was made with a user profile directory that defines the model
  or GPU its rows name (``plan profiles add-model``): that definition is copied, so ``--profiles DIR`` alone (over
  the shipped database) reads the rows it was written with. An entry ``DIR`` already defines is left as it is.

An existing directory is updated: rows of other (gpu, tp, model) keys are kept, rows of a re-fitted key replaced.
The write is all or nothing: every file is first written into a folder staged beside ``DIR`` (:class:`Staged`), and
only once all are written does each replace its target (``os.replace``), or the staged folder become ``DIR`` when
there was none. A failure midway leaves ``DIR`` as it was; files of ``DIR`` this command does not write are kept.
"""

from __future__ import annotations

import errno
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from planner.calibrate.accuracy import AccuracyReport
from planner.calibrate.dynamo_fit import SECTION, DynamoFit, fit_key
from planner.calibrate.fit import FitResult
from planner.calibrate.itermodel import KNOTS
from planner.dynamo.classes import ClassScheme
from planner.helix.throughput import default_profile_name
from planner.profiles.db import ProfileDB
from planner.profiles.schema import ModelProfile
from planner.profiles.synth.dynamo_physics import DEFAULT_INPUT_TOKENS, DEFAULT_OUTPUT_TOKENS, profile_rows

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


DYNAMO_TABLE = "dynamo_profile"
DYNAMO_COLUMNS = ("model", "gpu", "class", "tp", "freq_mhz", "load_rps", "input_tokens", "output_tokens",
                  "ttft_p99_s", "tbt_p99_s", "e2e_p99_s", "power_w", "source")  # fmt: skip
DYNAMO_GROUPS = ("model", "gpu", "class", "tp", "freq_mhz")

#: Every file of ``DIR`` a calibration may write, relative to it: what the CLI checks before fitting.
PROFILE_FILES = (
    *(
        f"tables/{t}{ext}"
        for t in ("splitwise_perf", "helix_layer_latency", DYNAMO_TABLE)
        for ext in (".csv", ".meta.yaml")
    ),
    "accuracy.yaml",
    "calibration.yaml",
    "models.yaml",
    "gpus.yaml",
)


@dataclass(frozen=True)
class CalibratedDynamo:
    """One fitted (gpu, model) of the dynamo profile, with its leave-one-out accuracy when computed."""

    fit: DynamoFit
    loo: AccuracyReport | None = None

    @property
    def source(self) -> str:
        f = self.fit
        more = f" +{len(f.files) - 1} more file(s) in calibration.yaml" if len(f.files) > 1 else ""
        return (
            f"{f.provenance}:{f.files[0]}{more} (plan calibrate: dynamo physics fitted to {len(f.labels)} run(s) and "
            f"table(s), rms log error {f.rms_log_ratio:.3f})"
        )


def _dynamo_classes(db: ProfileDB, gpu: str, model: str) -> dict[str, tuple[int, int]]:
    """The classes (and representative tokens) of the current dynamo table for (gpu, model); the defaults else."""
    if db.has_table(DYNAMO_TABLE):
        df = db.table(DYNAMO_TABLE)
        sel = df[(df["model"] == model) & (df["gpu"] == gpu)]
        if not sel.empty:
            first = sel.groupby("class", sort=True).first()
            return {str(k): (int(r["input_tokens"]), int(r["output_tokens"])) for k, r in first.iterrows()}
    return {c.name: (DEFAULT_INPUT_TOKENS[c.name[0]], DEFAULT_OUTPUT_TOKENS[c.name[1]]) for c in ClassScheme().classes}


def _dynamo_rows(c: CalibratedDynamo, db: ProfileDB) -> pd.DataFrame:
    f = c.fit
    classes = _dynamo_classes(db, f.gpu, f.model)
    rows: list[dict[str, object]] = []
    for tp, freq in f.configs:
        rows += profile_rows(db.gpu(f.gpu), db.model(f.model), classes, (tp,), (float(freq),), c.source, f.params)
    return pd.DataFrame(rows, columns=list(DYNAMO_COLUMNS))


_DYNAMO_META: dict[str, Any] = {
    "description": "DynamoLLM-style profile calibrated by plan calibrate: p99 TTFT/TBT/E2E and instance power vs "
    "load, per class, TP and SM clock",
    "keys": ["model", "gpu", "class", "tp", "freq_mhz", "load_rps"],
    "replace_groups": list(DYNAMO_GROUPS),
    "units": {"tp": "GPUs", "freq_mhz": "MHz", "load_rps": "requests/s", "input_tokens": "tokens",
              "output_tokens": "tokens", "ttft_p99_s": "s", "tbt_p99_s": "s", "e2e_p99_s": "s", "power_w": "W"},
    "licence": "calibrated by plan calibrate from the user's own benchmark files",
}  # fmt: skip


@dataclass
class Staged:
    """The files one calibration writes into ``out``, held in the folder ``tmp`` beside it until all are written.

    Readers of the directory see either the old files or the new ones, never half of a calibration: a fit whose
    ``calibration.yaml`` is missing or older than its tables would be trusted on rows it does not describe.
    """

    out: Path
    tmp: Path
    files: list[str] = field(default_factory=list)

    @classmethod
    def beside(cls, out: Path) -> Staged:
        """A new staging folder in the folder that holds (or will hold) ``out``, on the same file system, so each
        move is a rename; its parents are not created yet, so a failed write leaves no new folder anywhere."""
        target = out.resolve()
        parent = target.parent
        while not parent.exists():
            parent = parent.parent
        tmp = parent / f".{target.name}.{uuid.uuid4().hex[:12]}.tmp"
        tmp.mkdir()  # not mkdtemp: its 0700 would become out's mode
        return cls(out, tmp)

    def current(self, rel: str) -> Path:
        """``rel`` as this calibration leaves it so far: the staged copy once written, else ``out``'s own."""
        return self.tmp / rel if rel in self.files else self.out / rel

    def write(self, rel: str, text: str) -> None:
        path = self.tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if rel not in self.files:
            self.files.append(rel)

    def commit(self) -> list[Path]:
        """Move every staged file into ``out`` (the whole folder when ``out`` does not exist); the files written."""
        if not self.out.exists():
            target = self.out.resolve()
            target.parent.mkdir(parents=True, exist_ok=True)
            os.rename(self.tmp, target)
            return [self.out / rel for rel in self.files]
        for rel in self.files:  # every target checked first, so no move is left undone by a bad one
            dest = self.out / rel
            if dest.is_dir():
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(dest))
            if dest.parent.exists() and not dest.parent.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(dest.parent))
        for rel in self.files:
            (self.out / rel).parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.tmp / rel, self.out / rel)
        return [self.out / rel for rel in self.files]

    def discard(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def _read_csv(stage: Staged, rel: str) -> pd.DataFrame | None:
    path = stage.current(rel)
    return pd.read_csv(path, comment="#") if path.exists() else None


def _merge_groups(stage: Staged, rel: str, new: pd.DataFrame, groups: list[str], keys: list[str], header: str) -> None:
    """Like :func:`_merge`, replacing whole groups (sweeps) of an existing file."""
    old = _read_csv(stage, rel)
    if old is not None:
        replaced = set(map(tuple, new[groups].astype(str).values.tolist()))
        keep = [tuple(row) not in replaced for row in old[groups].astype(str).values.tolist()]
        new = pd.concat([old[keep], new], ignore_index=True)
    new = new.sort_values(keys, kind="stable").reset_index(drop=True)
    stage.write(rel, header + new.to_csv(index=False, float_format="%.6g", lineterminator="\n"))


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


def _carry_definitions(stage: Staged, db: ProfileDB, names: dict[str, set[str]]) -> None:
    """Copy into ``out`` the catalogue entries (``models``, ``gpus``) among ``names`` that the fit read from a user
    profile directory, so ``out`` does not depend on that directory."""
    for catalogue, wanted in names.items():
        rel = f"{catalogue}.yaml"
        have = _yaml_mapping(stage.current(rel))
        carried: dict[str, Any] = {}
        for root in db.roots[1:]:
            if root.resolve() == stage.out.resolve():
                continue
            for key, entry in _yaml_mapping(root / rel).items():
                if key in wanted and key not in have:
                    carried[key] = entry
        if carried:
            stage.write(rel, yaml.safe_dump({**have, **dict(sorted(carried.items()))}, sort_keys=False))


def _yaml_mapping(path: Path) -> dict[str, Any]:
    """The mapping a catalogue file holds ({} when there is no file; the database validated it when it loaded)."""
    if not path.exists():
        return {}
    loaded = yaml.safe_load(path.read_text())
    return loaded if isinstance(loaded, dict) else {}


def _yaml_doc(path: Path) -> dict[str, Any]:
    return (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}


def _merge(stage: Staged, rel: str, new: pd.DataFrame, keys: list[str], header: str) -> None:
    old = _read_csv(stage, rel)
    if old is not None:
        replaced = set(map(tuple, new[keys].astype(str).values.tolist()))
        keep = [tuple(row) not in replaced for row in old[keys].astype(str).values.tolist()]
        new = pd.concat([old[keep], new], ignore_index=True)
    new = new.sort_values(keys, kind="stable").reset_index(drop=True)
    stage.write(rel, header + new.to_csv(index=False, float_format="%.6f", lineterminator="\n"))


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


#: The figures a fit's band is taken from: what the iteration curves set directly. The tails (p99) are left out:
#: they amplify the curves' error near capacity, which a plan's latency bands propagate from this band
#: (:mod:`planner.splitwise.sensitivity`); counting them here as well would count that amplification twice.
ROW_FIGURES = ("request_throughput_rps", "output_tok_s", "ttft_p50_ms", "tpot_p50_ms", "e2e_p50_ms")


def _write_bands(stage: Staged, calibrated: list[Calibrated]) -> None:
    """``accuracy.yaml`` entries (the ``accuracy`` catalogue) giving each fit's leave-one-out error as its band."""
    doc = _yaml_doc(stage.current("accuracy.yaml"))
    for c in calibrated:
        rows = c.loo.mean_abs_over(ROW_FIGURES) if c.loo is not None else None
        if c.loo is None or rows is None:
            continue  # no leave-one-out figure: plans fall back to the shipped measured band
        doc[f"calibrated:{c.perf_hardware}/tp{c.tp}/{c.model.name}"] = {
            "basis": c.provenance,
            "err_ratio": round(rows, 4),
            "method": f"plan calibrate: mean absolute leave-one-out error of the throughputs and medians over "
            f"{len(c.loo.runs)} run(s) ({c.files[0]})",
        }
    if doc:
        stage.write("accuracy.yaml", yaml.safe_dump(dict(sorted(doc.items())), sort_keys=False, width=200))


def _write_dynamo_bands(stage: Staged, dynamo: list[CalibratedDynamo]) -> None:
    """``accuracy.yaml`` entries ``calibrated:dynamo/<gpu>/<model>``: the leave-one-out error of each dynamo fit."""
    doc = _yaml_doc(stage.current("accuracy.yaml"))
    for d in dynamo:
        overall = d.loo.overall_mean_abs() if d.loo is not None else None
        if overall is None or d.loo is None:
            continue
        doc[f"calibrated:dynamo/{d.fit.gpu}/{d.fit.model}"] = {
            "basis": d.fit.provenance,
            "err_ratio": round(float(overall), 4),
            "method": f"plan calibrate: mean absolute leave-one-out error of the dynamo fit over {len(d.loo.runs)} "
            f"run(s) ({d.fit.files[0]})",
        }
    if doc:
        stage.write("accuracy.yaml", yaml.safe_dump(dict(sorted(doc.items())), sort_keys=False, width=200))


def write_profile_dir(
    out: Path, calibrated: list[Calibrated], dynamo: list[CalibratedDynamo] | None = None, db: ProfileDB | None = None
) -> list[Path]:
    """Write (or update) ``out`` with the calibrated rows, all files or none (:class:`Staged`); returns the files
    written."""
    stage = Staged.beside(out)
    try:
        _stage_profile_dir(stage, calibrated, dynamo or [], db)
        return stage.commit()
    finally:
        stage.discard()


def _stage_profile_dir(
    stage: Staged, calibrated: list[Calibrated], dynamo: list[CalibratedDynamo], db: ProfileDB | None
) -> None:
    header = (
        "# Calibrated by plan calibrate from measured benchmark files (see calibration.yaml); do not edit by hand.\n"
    )
    if calibrated:
        sw = pd.concat([_splitwise_rows(c) for c in calibrated], ignore_index=True)
        hx = pd.concat([_helix_rows(c) for c in calibrated], ignore_index=True)
        for table, df in (("splitwise_perf", sw), ("helix_layer_latency", hx)):
            _merge(stage, f"tables/{table}.csv", df, list(_META[table]["keys"]), header)
            stage.write(f"tables/{table}.meta.yaml", yaml.safe_dump(_META[table], sort_keys=False))
    _write_bands(stage, calibrated)
    if dynamo:
        assert db is not None, "the dynamo rows need the profile database (GPU, model, classes)"
        df = pd.concat([_dynamo_rows(c, db) for c in dynamo], ignore_index=True)
        rel = f"tables/{DYNAMO_TABLE}.csv"
        _merge_groups(stage, rel, df, list(DYNAMO_GROUPS), list(_DYNAMO_META["keys"]), header)
        stage.write(f"tables/{DYNAMO_TABLE}.meta.yaml", yaml.safe_dump(_DYNAMO_META, sort_keys=False, width=200))
        _write_dynamo_bands(stage, dynamo)
    if db is not None:
        names = {"models": {c.model.name for c in calibrated} | {d.fit.model for d in dynamo},
                 "gpus": {c.gpu for c in calibrated} | {d.fit.gpu for d in dynamo}}  # fmt: skip
        _carry_definitions(stage, db, names)
    doc = _yaml_doc(stage.current("calibration.yaml"))
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
    dyn: dict[str, Any] = dict(doc.get(SECTION) or {})
    for d in dynamo:
        f = d.fit
        dentry: dict[str, Any] = {
            "gpu": f.gpu,
            "model": f.model,
            "provenance": f.provenance,
            "configs": [{"tp": tp, "freq_mhz": fr} for tp, fr in f.configs],
            "files": list(f.files),
            "observations": list(f.labels),
            "parameters": f.fitted(),
            "residuals": f.residuals,
            "rms_log_error": round(f.rms_log_ratio, 5),
            "optimiser": f.status,
        }
        if d.loo is not None:
            dentry["accuracy"] = _accuracy_block(d.loo)
        dyn[fit_key(f.gpu, f.model)] = dentry
    if dyn:
        doc[SECTION] = dict(sorted(dyn.items()))
    stage.write("calibration.yaml", yaml.safe_dump(doc, sort_keys=False))
