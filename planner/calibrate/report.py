"""Accuracy and calibration results as report data (tables of formatted cells) and as JSON; no rich, no printing.

``plan accuracy`` draws :func:`accuracy_report` (terminal or markdown) or dumps :func:`accuracy_json`; ``plan
calibrate`` draws :func:`calibration_report`.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from planner.calibrate.accuracy import PREDICTION_SEEDS, AccuracyReport
from planner.calibrate.dynamo_fit import FITTED
from planner.calibrate.ingest import EXTRA_METRICS, METRICS
from planner.calibrate.writer import Calibrated, CalibratedDynamo
from planner.plan import canonical
from planner.report_data import Column, Report, Table, Text, fmt_num

#: Short column labels of the figures (the table must fit 80 columns).
SHORT = {
    "request_throughput_rps": "req/s",
    "output_tok_s": "tok/s",
    "ttft_p50_ms": "TTFT p50",
    "ttft_p99_ms": "TTFT p99",
    "tpot_p50_ms": "TPOT p50",
    "tpot_p99_ms": "TPOT p99",
    "e2e_p99_ms": "E2E p99",
    "e2e_p50_ms": "E2E p50",
    "power_w": "power",
}


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:+.1f}%"


def accuracy_report(rep: AccuracyReport, threshold: float | None = None) -> Report:
    """Per-run signed errors, then the aggregate of absolute errors per figure."""
    how = "leave-one-out (each run predicted by the fit on the others)" if rep.mode == "loo" else "current profiles"
    # the figures some run measured (a DVFS or published-table run judges fewer; all-dash columns only cost width)
    shown = tuple(m for m in METRICS + EXTRA_METRICS if any(m in r.errors for r in rep.runs)) or METRICS
    runs = Table(
        f"Prediction error per run ({how})",
        (Column("run", wrap=True), *(Column(SHORT[m], numeric=True) for m in shown)),
        tuple((Path(r.label).name, *(_pct(r.errors.get(m)) for m in shown)) for r in rep.runs),
        notes=(
            *(f"{n} run(s) predicted from {src}" for src, n in Counter(r.rests_on for r in rep.runs).most_common()),
            *_draws_note(rep),
            *((f"{len(rep.alone)} run(s) not judged: {rep.why_alone()}",) if rep.alone and rep.aggregate else ()),
        ),
        compact=True,
    )
    banded = any(a.banded for a in rep.aggregate)
    agg = Table(
        "Absolute error over runs",
        (
            Column("figure"),
            Column("runs", numeric=True),
            Column("mean", numeric=True),
            Column("median", numeric=True),
            Column("p90", numeric=True),
            Column("max", numeric=True),
            *((Column("in band", numeric=True),) if banded else ()),
        ),  # fmt: skip
        tuple(
            (
                a.metric,
                str(a.runs),
                *(f"{v * 100:.1f}%" for v in (a.mean_abs, a.median_abs, a.p90_abs, a.max_abs)),
                *((f"{a.within_band}/{a.banded}" if a.banded else "-",) if banded else ()),
            )
            for a in rep.aggregate
        ),
        notes=(
            (
                "in band: runs whose measured figure is within the band a plan on the same rows would carry "
                "(the rows' band, or the figure's move with every iteration time x(1 -+ band) if more)",
            )
            if banded
            else ()
        ),
    )
    blocks: list[Any] = [runs, agg]
    overall = rep.overall_mean_abs()
    if overall is not None:
        blocks.append(Text(f"overall mean absolute error: {overall * 100:.2f}% over {len(rep.runs)} run(s)"))
    nothing = rep.why_nothing_judged()
    if nothing is not None:
        gate = f" (--fail-above {threshold * 100:g}% fails: it judged nothing)" if threshold is not None else ""
        blocks.append(Text(nothing + gate, tone="plain" if threshold is None else "error"))
    worst = rep.worst_mean_abs()
    if threshold is not None and worst is not None:
        ok = worst[1] <= threshold
        verdict = "within" if ok else "ABOVE"
        blocks.append(
            Text(
                f"{verdict} --fail-above {threshold * 100:g}%: worst figure {worst[0]} at {worst[1] * 100:.1f}% mean",
                tone="plain" if ok else "error",
            )
        )
    return Report.of(blocks)


def _draws_note(rep: AccuracyReport) -> tuple[str, ...]:
    """Where the arrival draws moved a prediction most (each prediction is their median; see the accuracy module),
    among the figures judged: a run that never measured a figure is not judged on it, so its spread says nothing."""
    widest: tuple[float, str, str, tuple[float, float]] | None = None
    for r in rep.runs:
        for m, (lo, hi) in sorted(r.spread.items()):
            mid = r.predicted.get(m) if m in r.errors else None
            if mid and hi > lo and (widest is None or (hi - lo) / mid > widest[0]):
                widest = ((hi - lo) / mid, m, Path(r.label).name, (lo, hi))
    if widest is None:
        return ()
    _, m, run, (lo, hi) = widest
    return (
        f"predictions: median of {PREDICTION_SEEDS} arrival draws; the widest range, {m} of {run}: "
        f"{lo:,.4g} to {hi:,.4g} (JSON: predicted_range)",
    )


def accuracy_json(rep: AccuracyReport, threshold: float | None = None) -> dict[str, Any]:
    """The report as a JSON-ready document (canonical floats), for CI."""
    worst = rep.worst_mean_abs()
    doc = {
        "mode": rep.mode,
        "runs": [
            {
                "label": r.label,
                "gpu": r.key[0],
                "tp": r.key[1],
                "model": r.key[2],
                "provenance": r.provenance,
                "measured": r.measured,
                "predicted": r.predicted,
                "predicted_range": {m: list(v) for m, v in r.spread.items()},
                "band": {m: list(v) for m, v in r.band.items()},
                "errors": r.errors,
                "rests_on": r.rests_on,
                "oom": r.oom,
            }  # fmt: skip
            for r in rep.runs
        ],
        "aggregate": {
            a.metric: {
                "runs": a.runs,
                "mean_abs": a.mean_abs,
                "median_abs": a.median_abs,
                "p90_abs": a.p90_abs,
                "max_abs": a.max_abs,
                "within_band": a.within_band,
                "banded": a.banded,
            }  # fmt: skip
            for a in rep.aggregate
        },
        "overall_mean_abs": rep.overall_mean_abs(),
        "worst": {"metric": worst[0], "mean_abs": worst[1]} if worst else None,
        "fail_above": threshold,
        "failed": threshold is not None and (worst is None or worst[1] > threshold),
        "not_judged": list(rep.alone),
        "nothing_judged": rep.why_nothing_judged(),
    }
    out = canonical(doc)
    assert isinstance(out, dict)  # canonical keeps a dict a dict
    return out


def calibration_report(
    calibrated: list[Calibrated], written: list[str], dynamo: list[CalibratedDynamo] | None = None
) -> Report:
    """The fitted parameters per (gpu, tp, model), their fit and leave-one-out errors, and the files written."""
    rows = []
    for c in calibrated:
        p = c.fit.model
        loo = c.loo.overall_mean_abs() if c.loo is not None else None
        rows.append(
            (
                f"{c.gpu} tp{c.tp} {c.model.name}",
                str(len(c.fit.runs) + len(c.fit.tables)),
                f"{fmt_num(p.prompt_base_ms)} + {fmt_num(p.prompt_ms_per_ktok)} k"
                f" + {fmt_num(p.prompt_ms_per_ktok2)} k^2",
                f"{fmt_num(p.token_base_ms)} + {fmt_num(p.token_ms_per_100seq)} b/100",
                f"{c.fit.rms_log_ratio * 100:.1f}%",
                "-" if loo is None else f"{loo * 100:.1f}%",
            )
        )
    table = Table(
        "Calibrated iteration model (prompt ms at k = tokens/1000, token ms at b sequences)",
        (
            Column("hardware / model", wrap=True),
            Column("inputs", numeric=True),
            Column("prompt ms", wrap=True),
            Column("token ms", wrap=True),
            Column("fit rms", numeric=True),
            Column("LOO mean", numeric=True),
        ),  # fmt: skip
        tuple(rows),
        notes=() if dynamo else tuple(f"wrote {w}" for w in written),
    )
    blocks: list[Any] = [table] if calibrated else []
    if dynamo:
        drows = []
        for d in dynamo:
            f = d.fit
            loo = d.loo.overall_mean_abs() if d.loo is not None else None
            configs = ", ".join(f"tp{tp}@{fr}" for tp, fr in f.configs)
            drows.append(
                (
                    f"{f.gpu} {f.model}",
                    configs,
                    str(len(f.labels)),
                    ", ".join(f"{k} {fmt_num(v)}" for k, v in f.fitted().items()),
                    f"{f.rms_log_ratio * 100:.1f}%",
                    "-" if loo is None else f"{loo * 100:.1f}%",
                )
            )
        blocks.append(
            Table(
                f"Calibrated dynamo profile (physics parameters {', '.join(FITTED)}; rows written per class)",
                (
                    Column("gpu / model", wrap=True),
                    Column("tp@MHz", wrap=True),
                    Column("inputs", numeric=True),
                    Column("parameters", wrap=True),
                    Column("fit rms", numeric=True),
                    Column("LOO mean", numeric=True),
                ),  # fmt: skip
                tuple(drows),
                notes=tuple(f"wrote {w}" for w in written),
            )
        )
    return Report.of(blocks)
