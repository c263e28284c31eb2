"""Metric deltas: every metric of either plan, the solver's objective, bound and gap, and every SLO margin."""

from __future__ import annotations

from typing import Any, Literal

from planner.diff.document import DEFAULT_REL_TOL, MetricDelta
from planner.diff.units import direction_of, unit_of
from planner.diff.walk import natural_key, numeric_delta, records, same_value
from planner.plan import Plan
from planner.profiles.accuracy import BAND_SUFFIXES, err_ratio_of


def slo_margins(plan: Plan) -> dict[str, Any]:
    """Every SLO-like record (a mapping with ``limit`` and ``margin``; margin >= 0 means met) -> its margin."""
    return {a: r.get("margin") for a, r in records(plan.kind, plan.plan) if "margin" in r and "limit" in r}


def band_of(name: str, old: Plan, new: Plan) -> float | None:
    """The wider error band (a ratio) of metric ``name`` in either plan (docs/accuracy.md), None when neither has
    one: a change inside it cannot be told from the prediction's own error."""
    bands = [b for p in (old, new) for b in [err_ratio_of(p.metrics, name)] if b is not None]
    return max(bands) if bands else None


def metric_deltas(old: Plan, new: Plan, rel_tol: float = DEFAULT_REL_TOL) -> list[MetricDelta]:
    """Every metric of either plan, the solver's objective, bound and gap, and every SLO margin. A metric's band
    entries (``<metric>_err_ratio`` ...) are not figures of their own: they are its :attr:`MetricDelta.band`."""
    pairs: dict[str, tuple[Any, Any]] = {}
    for name in sorted(set(old.metrics) | set(new.metrics)):
        if not name.endswith(BAND_SUFFIXES):
            pairs[name] = (old.metrics.get(name), new.metrics.get(name))
    for name in ("objective", "best_bound", "gap"):
        pairs[f"solver.{name}"] = (getattr(old.solver, name), getattr(new.solver, name))
    margins_old, margins_new = slo_margins(old), slo_margins(new)
    for address in sorted(set(margins_old) | set(margins_new), key=natural_key):
        pairs[f"{address}.margin"] = (margins_old.get(address), margins_new.get(address))
    out = []
    for name, (a, b) in pairs.items():
        if a is None and b is None:
            continue
        delta, pct = numeric_delta(a, b)
        changed = not same_value(a, b, rel_tol)
        direction = direction_of(name)
        verdict: Literal["better", "worse", "same", ""] = ""
        if not changed:
            verdict = "same"
        elif direction and delta is not None:
            verdict = "better" if (delta > 0) == (direction == "higher_is_better") else "worse"
        unit = "" if name.endswith("gap") else unit_of(name)
        band = band_of(name, old, new)
        out.append(
            MetricDelta(
                name=name,
                unit=unit,
                before=a,
                after=b,
                delta=delta,
                delta_pct=pct,
                changed=changed,
                direction=direction,
                verdict=verdict,
                band=band,
                within_band=abs(pct) < band * 100 if band is not None and pct is not None else None,
            )
        )
    return out
