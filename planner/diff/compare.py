"""Plan x Plan -> :class:`~planner.diff.document.PlanDiff`: the walk over every section, metric deltas,
guardrail verdicts, the summary, and the Terraform-style exit code."""

from __future__ import annotations

from collections.abc import Iterable

from planner.diff.document import DEFAULT_REL_TOL, ElementCounts, PlanDiff, PlanRef, Reason, Section
from planner.diff.guardrails import Guardrail, evaluate_guardrail
from planner.diff.layouts import ASSUMPTIONS, PROFILES, layouts_of, normalise_block, scalar_reasons
from planner.diff.metrics import metric_deltas
from planner.diff.reading import check_comparable
from planner.diff.summary import summary
from planner.diff.walk import MISSING, Walker
from planner.plan import Plan


def diff_plans(
    old: Plan,
    new: Plan,
    guardrails: Iterable[Guardrail] = (),
    rel_tol: float = DEFAULT_REL_TOL,
    old_label: str = "old",
    new_label: str = "new",
) -> PlanDiff:
    """Diff two plans of the same kind: changes, metric deltas, guardrail verdicts and the one-line summary."""
    notes = check_comparable(old, new, old_label, new_label)
    kind = old.kind
    w = Walker(rel_tol)
    w.mapping(
        Section.plan,
        kind,
        normalise_block(kind, old.plan),
        normalise_block(kind, new.plan),
        layouts_of(kind),
        scalar_reasons(kind),
    )
    plan_counts = _counts(w)
    for name in ("backend", "status", "message"):
        a, b = getattr(old.solver, name), getattr(new.solver, name)
        w.value(Section.solver, f"solver.{name}", a, b, {"status": Reason.status})
    w.collection(
        Section.assumptions,
        "",
        [a.model_dump() for a in old.assumptions],
        [a.model_dump() for a in new.assumptions],
        ASSUMPTIONS,
    )
    _diff_warnings(w, old.warnings, new.warnings)
    _diff_inputs(w, old, new)
    for name in ("name", "format_version"):
        w.value(Section.document, name, getattr(old, name), getattr(new, name), {})

    deltas = metric_deltas(old, new, rel_tol)
    by_name = {d.name: d for d in deltas}
    results = [evaluate_guardrail(g, old, new, by_name) for g in guardrails]
    counted = [c for c in w.changes if c.counted]
    changed = bool(counted) or any(d.changed for d in deltas)
    text = summary(kind, plan_counts, len(w.moved), counted, by_name, old, new, changed)
    return PlanDiff(
        kind=kind,
        old=_ref(old, old_label),
        new=_ref(new, new_label),
        changed=changed,
        summary=text,
        counts=plan_counts,
        layer_moves=len(w.moved),
        changes=w.changes,
        metrics=deltas,
        guardrails=results,
        notes=notes,
    )


def _counts(w: Walker) -> dict[str, ElementCounts]:
    labels = set(w.added) | set(w.removed) | set(w.touched)
    out = {}
    for label in sorted(labels):
        added, removed = w.added.get(label, set()), w.removed.get(label, set())
        touched = w.touched.get(label, set()) - added - removed
        out[label] = ElementCounts(added=len(added), removed=len(removed), changed=len(touched))
    return out


def _diff_warnings(w: Walker, old: list[str], new: list[str]) -> None:
    """Warnings are a set of sentences: each one is added or removed, never "changed"."""
    for text in sorted(set(old) - set(new)):
        w.emit(Section.warnings, "warning", text, MISSING)
    for text in sorted(set(new) - set(old)):
        w.emit(Section.warnings, "warning", MISSING, text)


def _diff_inputs(w: Walker, old: Plan, new: Plan) -> None:
    a, b = old.inputs, new.inputs
    w.value(Section.inputs, "inputs.spec.path", a.spec.path, b.spec.path, {})
    w.value(Section.inputs, "inputs.spec.sha256", a.spec.sha256, b.spec.sha256, {})
    w.collection(
        Section.inputs,
        "inputs",
        [p.model_dump() for p in a.profiles],
        [p.model_dump() for p in b.profiles],
        PROFILES,
    )
    w.value(Section.inputs, "inputs.overrides", a.overrides, b.overrides, {})
    w.mapping(Section.inputs, "inputs.options", a.options, b.options, {}, {})


def _ref(p: Plan, label: str) -> PlanRef:
    return PlanRef(
        label=label,
        kind=p.kind,
        name=p.name,
        format_version=p.format_version,
        status=p.solver.status,
        spec=p.inputs.spec.path,
        spec_sha256=p.inputs.spec.sha256,
    )


def exit_code(diff: PlanDiff, detailed: bool) -> int:
    """Terraform-style: 3 when a guardrail is breached; with ``detailed``, 2 when changed, else 0."""
    if diff.breached:
        return 3
    if detailed and diff.changed:
        return 2
    return 0
