"""The one-line summary of a diff: ``Plan: 2 pools changed, 5 layer moves; throughput -3.1%, cost +4.0%``."""

from __future__ import annotations

from collections.abc import Mapping

from planner.diff.document import Action, Change, ElementCounts, MetricDelta, Section
from planner.diff.guardrails import resolve_metric
from planner.diff.layouts import all_collections, summary_order
from planner.diff.units import short
from planner.plan import Plan

#: Headline figures of the one-line summary, in order.
#: A helix plan's served throughput (its predicted decode tokens/s, what the default objective maximises) comes first;
#: ``throughput`` is then its max flow.
HEADLINE = ("served", "throughput", "cost", "power", "energy")


def _plural(n: int, label: str, plural: str) -> str:
    return f"{n} {label if n == 1 else plural}"


def summary(
    kind: str,
    counts: Mapping[str, ElementCounts],
    moves: int,
    counted: list[Change],
    deltas: Mapping[str, MetricDelta],
    old: Plan,
    new: Plan,
    changed: bool,
) -> str:
    """``Plan: 2 pools changed, 5 layer moves; throughput -3.1%, cost +4.0%, energy -2.2%``."""
    if not changed:
        return "Plan: no changes"
    layouts = {c.label: c for c in all_collections(kind)}
    parts = [_scalar_phrase(ch) for ch in counted if _is_top_scalar(ch)]
    for label in summary_order(kind):
        c = counts.get(label)
        if c is None:
            continue
        plural = layouts[label].plural_label if label in layouts else f"{label}s"
        others = c.changed
        if label == "node" and moves:
            parts.append(_plural(moves, "layer move", "layer moves"))
            others -= moves
        phrases = [(n, verb) for n, verb in ((c.added, "added"), (c.removed, "removed"), (others, "changed")) if n > 0]
        for i, (n, verb) in enumerate(phrases):
            parts.append(f"{_plural(n, label, plural) if i == 0 else n} {verb}")
    if old.solver.status != new.solver.status:
        parts.append(f"status {old.solver.status} -> {new.solver.status}")
    summarised = set(summary_order(kind))
    rest = [
        c
        for c in counted
        if c.address != "solver.status"
        and not _is_top_scalar(c)
        and not (c.section is Section.plan and _top_label(c.address) in summarised)
    ]
    if rest:
        parts.append(f"{_plural(len(rest), 'other change', 'other changes')}")
    head = ", ".join(parts) if parts else "no structural changes"
    figures = []
    for alias in HEADLINE:
        metric = resolve_metric(alias, deltas)
        if metric is None:
            continue
        d = deltas[metric]
        if d.within_band and d.delta_pct is not None and d.band is not None:
            figures.append(f"{alias} {d.delta_pct:+.1f}% (noise: within the +-{_pct(d.band)}% error band)")
        elif d.delta_pct is not None:
            figures.append(f"{alias} {d.delta_pct:+.1f}%")
        elif d.before is None:
            figures.append(f"{alias} new")
        elif d.after is None:
            figures.append(f"{alias} gone")
        else:
            figures.append(f"{alias} {short(d.before)} -> {short(d.after)}")
    return f"Plan: {head}" + (f"; {', '.join(figures)}" if figures else "")


def _pct(band: float) -> str:
    """A band in percent with one decimal: at that precision a change judged inside the band (unrounded) never
    prints as outside it (whole percent turned a +6.2 % change inside a 6.3 % band into "within +-6 %")."""
    return f"{band * 100:.1f}"


def _top_label(address: str) -> str:
    """``helix.route[a->b].weight`` -> ``route``: the collection a plan-block address starts in."""
    return address.split(".", 1)[-1].split("[", 1)[0].split(".", 1)[0]


def _is_top_scalar(ch: Change) -> bool:
    """A change to a top-level field of the plan block such as ``splitwise.design`` or ``helix.mode``."""
    return ch.section is Section.plan and ch.address.count(".") == 1 and "[" not in ch.address


def _scalar_phrase(ch: Change) -> str:
    """``design HH -> HA`` for a short top-level value, ``mode added`` / ``totals changed`` otherwise."""
    name = ch.address.split(".", 1)[1]
    scalar = (str, int, float)
    if ch.action is Action.change and isinstance(ch.before, scalar) and isinstance(ch.after, scalar):
        return f"{name} {short(ch.before)} -> {short(ch.after)}"
    return f"{name} {ch.reason.value if ch.action is not Action.change else 'changed'}"
