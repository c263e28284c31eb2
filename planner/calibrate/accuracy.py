"""How far our predictions are from measured runs: per run, per figure, in aggregate, and leave-one-out.

The error of a figure is ``predicted / measured - 1`` (signed; + means we over-predict). A run is predicted by
replaying its own requests (:mod:`planner.calibrate.replay`) on the curves the planner would use: the current
profile database (shipped, with ``--profiles DIR`` layered over it), or, with leave-one-out, the iteration model
fitted on every *other* run of the same (gpu, tp, model), from the same first guess and starts as the fit on all
runs. A leave-one-out figure is the honest one: no run is judged by a model that has seen it. (Folds used to start
from the fit on all runs, for speed; on the MLPerf runs five of six folds then stopped where they started, so their
predictions were the in-sample fit's.)

Runs that state a locked clock or carry power (DVFS profile runs) are predicted by the model behind ``plan
dynamo``'s profile instead (:mod:`planner.calibrate.dynamo_fit`: p99 TTFT / TPOT / E2E, power, and the throughput
of open-loop runs), with the parameters of the current profile (a calibrated directory's fit, else the defaults the
shipped synthetic table was written with) or, with leave-one-out, the parameters fitted on the other runs.

Seeds: a run's Poisson arrivals are the replay's own draw (the client's are not saved), and a tail figure moves with
the draw. On the MLPerf Server runs, at the loads the submitters chose (the engines' batches about 70 % full),
six draws of the same replay give TTFT p99 values spread by 14-42 % (coefficient of variation; 503-1,326 ms on the
DGX H100 x2 run) while every other figure stays within 2.3 %. A prediction is therefore the median over
:data:`PREDICTION_SEEDS` draws, and each figure keeps its range over them (``RunAccuracy.spread``): the measured
figure is one draw of the same kind. Runs whose arrivals do not depend on the seed are replayed once.

Aggregate per figure: mean, median, p90 and max of the absolute errors over runs, and the count of runs measuring it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from planner.calibrate.dynamo_fit import (
    JUDGED,
    Observation,
    current_parameters,
    fit_dynamo,
    is_open_loop,
    observations,
    observations_by_hardware,
    predict_run,
)
from planner.calibrate.fit import FitResult, fit
from planner.calibrate.ingest import ALL_METRICS, IterationTable, MeasuredRun
from planner.calibrate.itermodel import Hardware, current_hardware, with_model
from planner.calibrate.replay import replay
from planner.executors import ExecutorConfig, available_cores
from planner.profiles.accuracy import Move, band_factors, band_for
from planner.profiles.db import ProfileDB
from planner.profiles.synth.dynamo_physics import Instance, Parameters


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
    #: per figure, the lowest and highest prediction over the arrival draws (module notes); equal when replayed once
    spread: dict[str, tuple[float, float]] = field(default_factory=dict)
    #: with ``--bands``: per figure, the (low, high) band a plan on the same rows would carry (:func:`_band`)
    band: dict[str, tuple[float, float]] = field(default_factory=dict)

    def within_band(self, metric: str) -> bool | None:
        """Whether the measured figure lies within the band around the prediction, ``predicted x (1 - low)`` to
        ``predicted x (1 + high)`` (None: no band or no error)."""
        if metric not in self.band or metric not in self.errors:
            return None
        low, high = self.band[metric]
        off = 1.0 / (1.0 + self.errors[metric]) - 1.0  # measured / predicted - 1
        return -low - 1e-12 <= off <= high + 1e-12


#: Arrival draws a prediction takes the median over (module notes).
PREDICTION_SEEDS = 5


@dataclass(frozen=True)
class Aggregate:
    """Absolute errors of one figure over runs."""

    metric: str
    runs: int
    mean_abs: float
    median_abs: float
    p90_abs: float
    max_abs: float
    #: with ``--bands``: runs whose measured figure lies within its band, of the runs that carry one
    within_band: int | None = None
    banded: int = 0


@dataclass(frozen=True)
class AccuracyReport:
    """Per-run results, the aggregate per figure, and how predictions were made (``current`` or ``loo``)."""

    mode: str
    runs: tuple[RunAccuracy, ...]
    aggregate: tuple[Aggregate, ...]
    fits: dict[str, FitResult] = field(default_factory=dict)
    #: labels of the runs leave-one-out could not predict: each the only one of its hardware and model
    alone: tuple[str, ...] = ()

    def why_alone(self) -> str | None:
        """Why the runs of :attr:`alone` were not judged (None when every run was)."""
        if not self.alone:
            return None
        return (
            "leave-one-out predicts a run from the other runs of its hardware and model, so it needs at least two "
            "runs (or a run and an iteration table) of the same hardware and model; alone: "
            + ", ".join(Path(a).name for a in self.alone)
        )

    def why_nothing_judged(self) -> str | None:
        """Why no figure was judged (None when one was): a CI gate must not pass on an empty report."""
        if self.aggregate:
            return None
        why = [w for w in [self.why_alone()] if w]
        if self.runs:
            why.append(f"the {len(self.runs)} run(s) predicted have no measured figure the prediction gives")
        return f"no figure judged: {'; '.join(why)}"

    def worst_mean_abs(self) -> tuple[str, float] | None:
        """The figure with the largest mean absolute error (the CI gate compares it with ``--fail-above``)."""
        if not self.aggregate:
            return None
        a = max(self.aggregate, key=lambda g: (g.mean_abs, g.metric))
        return a.metric, a.mean_abs

    def overall_mean_abs(self) -> float | None:
        errs = [abs(e) for r in self.runs for e in r.errors.values()]
        return float(np.mean(errs)) if errs else None

    def mean_abs_over(self, metrics: Sequence[str]) -> float | None:
        """Mean absolute error over the runs' figures named in ``metrics`` (None when no run measures one)."""
        errs = [abs(e) for r in self.runs for m, e in r.errors.items() if m in metrics]
        return float(np.mean(errs)) if errs else None


def errors(measured: dict[str, float], predicted: dict[str, float]) -> dict[str, float]:
    """Signed relative errors of every figure both sides have (measured > 0)."""
    return {
        m: predicted[m] / measured[m] - 1.0 for m in ALL_METRICS if m in measured and m in predicted and measured[m] > 0
    }


def aggregate(runs: Sequence[RunAccuracy]) -> tuple[Aggregate, ...]:
    out: list[Aggregate] = []
    for m in ALL_METRICS:
        vals = np.asarray([abs(r.errors[m]) for r in runs if m in r.errors], dtype=float)
        if vals.size == 0:
            continue
        inside = [w for r in runs for w in [r.within_band(m)] if w is not None]
        out.append(
            Aggregate(
                metric=m,
                runs=int(vals.size),
                mean_abs=float(vals.mean()),
                median_abs=float(np.median(vals)),
                p90_abs=float(np.percentile(vals, 90)),
                max_abs=float(vals.max()),
                within_band=sum(inside) if inside else None,
                banded=len(inside),
            )
        )
    return tuple(out)


def _group(runs: Sequence[MeasuredRun]) -> dict[tuple[str, int, str], list[MeasuredRun]]:
    groups: dict[tuple[str, int, str], list[MeasuredRun]] = {}
    for r in runs:
        groups.setdefault(r.key(), []).append(r)
    return groups


def _seeds(run: MeasuredRun) -> range:
    """The arrival draws a run's prediction replays: one when its arrivals do not depend on the seed."""
    drawn = run.request_rate_rps is not None or run.limits.scheduler_steps > 1
    return range(PREDICTION_SEEDS if drawn else 1)


def _median(run: MeasuredRun, hw: Hardware) -> tuple[dict[str, float], dict[str, tuple[float, float]], int]:
    """The prediction (median over the arrival draws) of every figure, its range over the draws, and the most
    requests a draw could not fit in the KV cache."""
    preds = [replay(run, hw, seed=s) for s in _seeds(run)]
    figures = [m for m in ALL_METRICS if all(m in p.metrics for p in preds)]
    predicted = {m: float(np.median([p.metrics[m] for p in preds])) for m in figures}
    spread = {m: (min(p.metrics[m] for p in preds), max(p.metrics[m] for p in preds)) for m in figures}
    return predicted, spread, max(p.oom for p in preds)


def _band(run: MeasuredRun, hw: Hardware, predicted: dict[str, float], band: float) -> dict[str, tuple[float, float]]:
    """The (low, high) band each figure would carry in a plan resting on ``hw``'s rows: on each side the larger of
    the rows' band and the figure's move that way when every iteration time is scaled by ``1 -+ band`` (as ``plan
    splitwise``'s latency bands, :mod:`planner.splitwise.sensitivity`)."""
    out = {m: Move(band, band) for m, v in predicted.items() if v > 0}
    for factor in band_factors(band):
        moved, _, _ = _median(run, replace(hw, prompt=hw.prompt.scaled(factor), token=hw.token.scaled(factor)))
        for m in out:
            if m in moved:
                out[m] = out[m].widened(moved[m] / predicted[m] - 1.0)
    return {m: (v.down, v.up) for m, v in out.items()}


def _one(run: MeasuredRun, hw: Hardware, band: float | None = None) -> RunAccuracy:
    predicted, spread, oom = _median(run, hw)
    return RunAccuracy(
        label=run.label,
        key=run.key(),
        provenance=run.provenance,
        measured=dict(run.metrics),
        predicted=predicted,
        errors=errors(run.metrics, predicted),
        rests_on=f"{hw.provenance}: {hw.source}",
        oom=oom,
        spread=spread,
        band=_band(run, hw, predicted, band) if band else {},
    )


# ------------------------------------------------------------------------------------- independent pieces of work
@dataclass(frozen=True)
class Work:
    """One independent fit or prediction of a calibration or accuracy run.

    It names its inputs by position (``key`` and an index into that key's runs) rather than carrying them, so that
    a task sent to a worker process or a Ray worker is a few bytes: the runs, tables and profiles go to each worker
    once (:func:`_share`). ``kind``: ``fit`` (the fit on every run and table of ``key``), ``fold`` (the fit on all
    but run ``index``, then that run predicted), ``predict`` (run ``index`` predicted with the current profiles),
    ``dynamo-fold`` (the dynamo fit on all observations of ``key`` = (gpu, model) but ``index``, then it predicted).
    """

    kind: str
    key: tuple[str | int, ...]
    index: int = -1


@dataclass(frozen=True)
class _Inputs:
    runs: tuple[MeasuredRun, ...]
    tables: tuple[IterationTable, ...]
    db: ProfileDB
    bands: bool = False


#: ``on_done(finished, total)``: told as each piece of work finishes (the CLI's progress display).
Progress = Callable[[int, int], None]

#: The inputs of the pieces of work this process runs (set once per worker by :func:`_share`).
_SHARED: _Inputs | None = None


def _share(inputs: _Inputs | None) -> None:
    global _SHARED
    _SHARED = inputs


def _do(work: Work) -> tuple[Work, FitResult | RunAccuracy]:
    """Run one piece of work on the shared inputs; the same result in any process, on any executor."""
    inputs = _SHARED
    assert inputs is not None, "no inputs shared with this worker"
    if work.kind == "dynamo-fold":
        gpu, model = str(work.key[0]), str(work.key[1])
        seen = observations_by_hardware(inputs.runs, inputs.tables, inputs.db)[(gpu, model)]
        o = seen[work.index]
        assert o.run is not None
        others = seen[: work.index] + seen[work.index + 1 :]
        # From the current parameters, as the full fit: a fold must not start where a fit that saw the run ended.
        params = fit_dynamo(others, inputs.db, gpu, model)[0]
        src = f"{o.run.provenance}: dynamo fit on {len(others)} other run(s)/table(s)"
        return work, _one_dynamo(o, inputs.db, params, src)
    key = (str(work.key[0]), int(work.key[1]), str(work.key[2]))
    group = [r for r in inputs.runs if r.key() == key]
    tabs = [t for t in inputs.tables if (t.gpu, t.tp, t.model) == key]
    hw = current_hardware(inputs.db, *key)
    if work.kind == "fit":
        return work, fit(group, tabs, hw)
    run = group[work.index]
    if work.kind == "predict":
        return work, _one(run, hw, _rows_band(inputs, hw))
    rest = group[: work.index] + group[work.index + 1 :]
    fold = fit(rest, tabs, hw)  # from the first guess, as the full fit: a fold must not start where it saw run
    src = f"fit on {len(rest)} other run(s)" + (f" and {len(tabs)} table(s)" if tabs else "")
    folded = with_model(hw, fold.model, run.provenance, src)
    return work, _one(run, folded, _rows_band(inputs, folded))


def _rows_band(inputs: _Inputs, hw: Hardware) -> float | None:
    """With ``--bands``: the error band of the rows a prediction rests on (the ``accuracy`` catalogue, as a plan's)."""
    band = band_for(inputs.db, hw.provenance, hw.source) if inputs.bands else None
    return band.err_ratio if band is not None else None


def run_work(
    works: Sequence[Work],
    runs: Sequence[MeasuredRun],
    tables: Sequence[IterationTable],
    db: ProfileDB,
    where: ExecutorConfig | None = None,
    on_done: Progress | None = None,
    bands: bool = False,
) -> dict[Work, FitResult | RunAccuracy]:
    """Every piece of work on ``where`` (default: here, one after another); the results do not depend on where.
    ``on_done(finished, total)`` is called as each piece finishes (a progress display).

    Local pools get no more workers than pieces. A fit is deterministic on any CPU (:mod:`planner.calibrate.gridded`),
    so a result computed in a worker is the one computed here, byte for byte.
    """
    where = where or ExecutorConfig()
    if where.kind == "local":
        where = replace(where, jobs=max(1, min(where.jobs or available_cores(), len(works))))
    inputs = _Inputs(tuple(runs), tuple(tables), db, bands)
    executor = where.make(_share, (inputs,))
    done: dict[Work, FitResult | RunAccuracy] = {}
    try:
        for work, result in executor.imap_unordered(_do, list(works)):
            done[work] = result
            if on_done is not None:
                on_done(len(done), len(works))
        return done
    finally:
        executor.close()
        _share(None)


def _fitted(result: FitResult | RunAccuracy) -> FitResult:
    assert isinstance(result, FitResult)
    return result


def _predicted(result: FitResult | RunAccuracy) -> RunAccuracy:
    assert isinstance(result, RunAccuracy)
    return result


def predict_current(
    runs: Sequence[MeasuredRun],
    db: ProfileDB,
    where: ExecutorConfig | None = None,
    on_done: Progress | None = None,
    bands: bool = False,
) -> AccuracyReport:
    """Every run predicted with the profiles the planner uses today (``db``: shipped plus any ``--profiles``);
    with ``bands``, each figure also with the band a plan would carry (:func:`_band`)."""
    seen: dict[tuple[str, int, str], int] = {}
    works: list[Work] = []
    for r in runs:  # in the order of runs: the i-th run of its (gpu, tp, model)
        works.append(Work("predict", r.key(), seen.get(r.key(), 0)))
        seen[r.key()] = works[-1].index + 1
    done = run_work(works, runs, (), db, where, on_done, bands)
    out = [_predicted(done[w]) for w in works]
    return AccuracyReport(mode="current", runs=tuple(out), aggregate=aggregate(out))


def _order(runs: Sequence[MeasuredRun]) -> Callable[[RunAccuracy], int]:
    order = {r.label: i for i, r in enumerate(runs)}
    return lambda a: order.get(a.label, 0)


def fits_and_folds(
    runs: Sequence[MeasuredRun],
    tables: Sequence[IterationTable],
    db: ProfileDB,
    loo: Callable[[list[MeasuredRun], list[IterationTable]], bool],
    where: ExecutorConfig | None = None,
    on_done: Progress | None = None,
    bands: bool = False,
) -> dict[tuple[str, int, str], tuple[FitResult, AccuracyReport | None]]:
    """Per (gpu, tp, model) of ``runs`` and ``tables``: the fit on all of them and, where ``loo(group, tables)``
    says so, the leave-one-out report (each run predicted by the fit on the others), all on one executor."""
    keys: dict[tuple[str, int, str], None] = dict.fromkeys([r.key() for r in runs])
    keys.update(dict.fromkeys((t.gpu, t.tp, t.model) for t in tables))
    works: list[Work] = []
    folds: dict[tuple[str, int, str], list[Work]] = {}
    for key in keys:
        group = [r for r in runs if r.key() == key]
        tabs = [t for t in tables if (t.gpu, t.tp, t.model) == key]
        works.append(Work("fit", key))
        if loo(group, tabs):
            foldable = len(group) > 1 or bool(tabs)  # a lone run cannot be predicted from the others
            folds[key] = [Work("fold", key, i) for i in range(len(group))] if foldable else []
            works.extend(folds[key])
    done = run_work(works, runs, tables, db, where, on_done, bands)
    out: dict[tuple[str, int, str], tuple[FitResult, AccuracyReport | None]] = {}
    for key in keys:
        full = _fitted(done[Work("fit", key)])
        report = None
        if key in folds:
            parts = [_predicted(done[w]) for w in folds[key]]
            report = AccuracyReport("loo", tuple(parts), aggregate(parts), {"/".join(map(str, key)): full})
        out[key] = (full, report)
    return out


def leave_one_out(
    runs: Sequence[MeasuredRun],
    db: ProfileDB,
    tables: Sequence[IterationTable] = (),
    where: ExecutorConfig | None = None,
    on_done: Progress | None = None,
    bands: bool = False,
) -> AccuracyReport:
    """Each run predicted by the model fitted on the other runs (and tables) of its (gpu, tp, model)."""
    keyed = fits_and_folds(list(runs), [t for t in tables if any(r.key() == (t.gpu, t.tp, t.model) for r in runs)],
                           db, lambda group, tabs: True, where, on_done, bands)  # fmt: skip
    fits = {"/".join(map(str, key)): full for key, (full, _report) in keyed.items()}
    out = sorted((a for _full, report in keyed.values() if report for a in report.runs), key=_order(runs))
    return AccuracyReport(mode="loo", runs=tuple(out), aggregate=aggregate(out), fits=fits)


# ----------------------------------------------------------------------------------------------- dynamo profile
def _one_dynamo(o: Observation, db: ProfileDB, params: Parameters, rests_on: str) -> RunAccuracy:
    run = o.run
    assert run is not None
    inst = Instance(db.gpu(run.gpu), db.model(run.model), o.tp, float(o.freq_mhz), params)
    pred = predict_run(run, inst)
    judged = set(JUDGED) - (set() if is_open_loop(run) else {"request_throughput_rps", "output_tok_s"})
    measured = {k: v for k, v in run.metrics.items() if k in judged}
    return RunAccuracy(
        label=run.label,
        key=run.key(),
        provenance=run.provenance,
        measured=measured,
        predicted=pred,
        errors=errors(measured, pred),
        rests_on=rests_on,
        oom=0 if "ttft_p99_ms" in pred else run.completed,  # beyond the stable rate: every request counted as lost
    )


def predict_current_dynamo(runs: Sequence[MeasuredRun], db: ProfileDB) -> list[RunAccuracy]:
    """Every DVFS run predicted with the dynamo profile's current parameters."""
    out: list[RunAccuracy] = []
    for o in observations(runs, (), db):
        assert o.run is not None
        params, basis, source = current_parameters(db, o.run.gpu, o.run.model)
        out.append(_one_dynamo(o, db, params, f"{basis}: {source}"))
    return out


def leave_one_out_dynamo(
    runs: Sequence[MeasuredRun],
    tables: Sequence[IterationTable],
    db: ProfileDB,
    where: ExecutorConfig | None = None,
    on_done: Progress | None = None,
) -> list[RunAccuracy]:
    """Each DVFS run predicted by the dynamo fit on the other runs and tables of its (gpu, model)."""
    works = [
        Work("dynamo-fold", (gpu, model), i)
        for (gpu, model), group in observations_by_hardware(runs, tables, db).items()
        for i, o in enumerate(group)
        if o.run is not None and len(group) > 1
    ]
    if not works:
        return []
    done = run_work(works, runs, tables, db, where, on_done)
    return [_predicted(done[w]) for w in works]


def combined(
    mode: str, runs: Sequence[MeasuredRun], parts: Sequence[RunAccuracy], fits: dict[str, FitResult]
) -> AccuracyReport:
    """One report over iteration-model and dynamo predictions, in the order of ``runs``."""
    order = {r.label: i for i, r in enumerate(runs)}
    out = sorted(parts, key=lambda a: order.get(a.label, 0))
    return AccuracyReport(mode=mode, runs=tuple(out), aggregate=aggregate(out), fits=fits)
