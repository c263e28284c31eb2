"""How far our predictions are from measured runs: per run, per figure, in aggregate, and leave-one-out.

The error of a figure is ``predicted / measured - 1`` (signed; + means we over-predict). A run is predicted by
replaying its own requests (:mod:`planner.calibrate.replay`) on the curves the planner would use: the current
profile database (shipped, with ``--profiles DIR`` layered over it), or, with leave-one-out, the iteration model
fitted on every *other* run of the same (gpu, tp, model) (warm-started from the fit on all runs, so folds are fast
and deterministic). A leave-one-out figure is the honest one: no run is judged by a model that has seen it.

Aggregate per figure: mean, median, p90 and max of the absolute errors over runs, and the count of runs measuring it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from planner.calibrate.fit import FitResult, fit
from planner.calibrate.ingest import METRICS, IterationTable, MeasuredRun
from planner.calibrate.itermodel import Hardware, current_hardware, with_model
from planner.calibrate.replay import replay
from planner.profiles.db import ProfileDB


@dataclass(frozen=True)
class RunAccuracy:
    """One run: measured and predicted figures, the signed errors, and what the prediction rested on."""

    label: str
    key: tuple[str, int, str]
    provenance: str
    measured: dict[str, float]
    predicted: dict[str, float]
    errors: dict[str, float]
    rests_on: str
    oom: int


@dataclass(frozen=True)
class Aggregate:
    """Absolute errors of one figure over runs."""

    metric: str
    runs: int
    mean_abs: float
    median_abs: float
    p90_abs: float
    max_abs: float


@dataclass(frozen=True)
class AccuracyReport:
    """Per-run results, the aggregate per figure, and how predictions were made (``current`` or ``loo``)."""

    mode: str
    runs: tuple[RunAccuracy, ...]
    aggregate: tuple[Aggregate, ...]
    fits: dict[str, FitResult] = field(default_factory=dict)

    def worst_mean_abs(self) -> tuple[str, float] | None:
        """The figure with the largest mean absolute error (the CI gate compares it with ``--fail-above``)."""
        if not self.aggregate:
            return None
        a = max(self.aggregate, key=lambda g: (g.mean_abs, g.metric))
        return a.metric, a.mean_abs

    def overall_mean_abs(self) -> float | None:
        errs = [abs(e) for r in self.runs for e in r.errors.values()]
        return float(np.mean(errs)) if errs else None


def errors(measured: dict[str, float], predicted: dict[str, float]) -> dict[str, float]:
    """Signed relative errors of every figure both sides have (measured > 0)."""
    return {
        m: predicted[m] / measured[m] - 1.0 for m in METRICS if m in measured and m in predicted and measured[m] > 0
    }


def aggregate(runs: Sequence[RunAccuracy]) -> tuple[Aggregate, ...]:
    out: list[Aggregate] = []
    for m in METRICS:
        vals = np.asarray([abs(r.errors[m]) for r in runs if m in r.errors], dtype=float)
        if vals.size == 0:
            continue
        out.append(
            Aggregate(
                metric=m,
                runs=int(vals.size),
                mean_abs=float(vals.mean()),
                median_abs=float(np.median(vals)),
                p90_abs=float(np.percentile(vals, 90)),
                max_abs=float(vals.max()),
            )
        )
    return tuple(out)


def _group(runs: Sequence[MeasuredRun]) -> dict[tuple[str, int, str], list[MeasuredRun]]:
    groups: dict[tuple[str, int, str], list[MeasuredRun]] = {}
    for r in runs:
        groups.setdefault(r.key(), []).append(r)
    return groups


def _one(run: MeasuredRun, hw: Hardware) -> RunAccuracy:
    pred = replay(run, hw)
    return RunAccuracy(
        label=run.label,
        key=run.key(),
        provenance=run.provenance,
        measured=dict(run.metrics),
        predicted=pred.metrics,
        errors=errors(run.metrics, pred.metrics),
        rests_on=f"{hw.provenance}: {hw.source}",
        oom=pred.oom,
    )


def predict_current(runs: Sequence[MeasuredRun], db: ProfileDB) -> AccuracyReport:
    """Every run predicted with the profiles the planner uses today (``db``: shipped plus any ``--profiles``)."""
    hws: dict[tuple[str, int, str], Hardware] = {}
    out: list[RunAccuracy] = []
    for r in runs:
        if r.key() not in hws:
            hws[r.key()] = current_hardware(db, r.gpu, r.tp, r.model)
        out.append(_one(r, hws[r.key()]))
    return AccuracyReport(mode="current", runs=tuple(out), aggregate=aggregate(out))


def leave_one_out(runs: Sequence[MeasuredRun], db: ProfileDB, tables: Sequence[IterationTable] = ()) -> AccuracyReport:
    """Each run predicted by the model fitted on the other runs (and tables) of its (gpu, tp, model)."""
    out: list[RunAccuracy] = []
    fits: dict[str, FitResult] = {}
    for key, group in _group(runs).items():
        hw = current_hardware(db, *key)
        tabs = [t for t in tables if (t.gpu, t.tp, t.model) == key]
        full = fit(group, tabs, hw)
        fits["/".join(map(str, key))] = full
        for i, run in enumerate(group):
            rest = group[:i] + group[i + 1 :]
            if not rest and not tabs:
                continue  # a lone run cannot be predicted from the others
            fold = fit(rest, tabs, hw, start=full.model)
            src = f"fit on {len(rest)} other run(s)" + (f" and {len(tabs)} table(s)" if tabs else "")
            out.append(_one(run, with_model(hw, fold.model, run.provenance, src)))
    order = {r.label: i for i, r in enumerate(runs)}
    out.sort(key=lambda a: order.get(a.label, 0))
    return AccuracyReport(mode="loo", runs=tuple(out), aggregate=aggregate(out), fits=fits)
