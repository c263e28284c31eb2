"""Metric deltas: every metric of either plan, the solver's objective, bound and gap, and every SLO margin."""

from __future__ import annotations

from typing import Any, Literal

from planner.diff.document import DEFAULT_REL_TOL, MetricDelta
from planner.diff.units import direction_of, unit_of
from planner.diff.walk import natural_key, numeric_delta, records, same_value
from planner.plan import Plan


def slo_margins(plan: Plan) -> dict[str, Any]:
    """Every SLO-like record (a mapping with ``limit`` and ``margin``; margin >= 0 means met) -> its margin."""
    return {a: r.get("margin") for a, r in records(plan.kind, plan.plan) if "margin" in r and "limit" in r}


def metric_deltas(old: Plan, new: Plan, rel_tol: float = DEFAULT_REL_TOL) -> list[MetricDelta]:
    """Every metric of either plan, the solver's objective, bound and gap, and every SLO margin."""
    pairs: dict[str, tuple[Any, Any]] = {}
    for name in sorted(set(old.metrics) | set(new.metrics)):
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
            )
        )
    return out
