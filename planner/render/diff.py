"""Rendering of ``plan diff``: a rich terminal table, versioned JSON, and a markdown PR comment.

The markdown starts with a hidden marker line (``<!-- llmplan-diff:... -->``) so that a CI bot can find and update
one sticky comment instead of adding a new one per push (see docs/ci.md); the long change list is folded in
``<details>`` so the comment shows the summary, guardrails and headline figures first.
"""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.text import Text as RichText

from planner.diff import Action, Change, GuardrailResult, MetricDelta, PlanDiff
from planner.plan import canonical
from planner.render.markdown import md_table
from planner.render.tables import draw_fitted
from planner.report_data import Column, fmt_num

#: Change rows shown in a markdown comment (GitHub caps a comment at 65,536 characters).
MARKDOWN_MAX_ROWS = 150

_ACTION_STYLE = {Action.add: "green", Action.remove: "red", Action.change: "yellow"}
_VERDICT_STYLE = {"better": "green", "worse": "red"}


def diff_json(diff: PlanDiff) -> str:
    """Canonical JSON (sorted keys, floats rounded like plans), newline-terminated."""
    data = canonical(diff.model_dump(mode="json"))
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def default_marker(diff: PlanDiff) -> str:
    """The hidden marker a bot looks for: one sticky comment per plan kind and name."""
    return f"llmplan-diff:{diff.kind}:{diff.new.name}"


# ------------------------------------------------------------------------------------------------ values


def fmt_value(value: Any, width: int = 60) -> str:
    """One-line text of a before/after value: numbers via fmt_num, whole elements as ``k=v, ...``."""
    if isinstance(value, dict):
        text = ", ".join(f"{k}={fmt_value(v, width)}" for k, v in value.items())
    elif isinstance(value, list):
        text = "[" + ", ".join(fmt_value(v, width) for v in value) + "]"
    else:
        text = fmt_num(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def fmt_delta(delta: float | None, pct: float | None, unit: str) -> str:
    """``-9.3 tok/s (-3.1%)``; '' when the values are not numbers."""
    if delta is None:
        return ""
    u = f" {unit}" if unit else ""
    sign = "+" if delta > 0 else ""
    text = f"{sign}{fmt_num(delta)}{u}"
    if pct is not None:
        text += f" ({pct:+.1f}%)"
    return text


def _change_cells(c: Change, width: int = 60) -> list[str]:
    before, after = fmt_value(c.before, width), fmt_value(c.after, width)
    return [c.action.value, c.address, before, after, fmt_delta(c.delta, c.delta_pct, c.unit)]


def _metric_cells(m: MetricDelta) -> list[str]:
    unit = f" {m.unit}" if m.unit else ""
    return [m.name, fmt_num(m.before) + unit, fmt_num(m.after) + unit, fmt_delta(m.delta, m.delta_pct, m.unit)]


def _guardrail_result(g: GuardrailResult) -> str:
    if not g.applicable:
        return "n/a"
    return "BREACHED" if g.breached else "ok"


# ------------------------------------------------------------------------------------------------ terminal


def render_table(diff: PlanDiff, console: Console, verbose: bool = False) -> None:
    """Summary line first, then changes, metric deltas, guardrails; context (inputs) with ``--verbose``.

    Tables fit the console's width (:func:`planner.render.tables.draw_fitted`): long addresses and values fold,
    and the ``why`` column moves under the changes when there is no room for it.
    """
    console.print(RichText(diff.summary, style="bold"), soft_wrap=True)  # one line, whatever the width: CI greps it
    console.print(
        RichText(
            f"{diff.kind} plan {diff.old.name!r}: {diff.old.label} ({diff.old.status}) -> {diff.new.label} "
            f"({diff.new.status})"
        )
    )
    for note in diff.notes:
        console.print(RichText(f"note: {note}"))
    counted = diff.counted_changes
    if counted:
        columns = [
            Column(""),
            Column("address", wrap=True),
            Column("before", numeric=True, wrap=True),
            Column("after", numeric=True, wrap=True),
            Column("change", numeric=True, wrap=True),
        ]
        if verbose:
            columns.append(Column("why", wrap=True, detail=True))
        rows = []
        for c in counted:
            cells = [RichText(x) for x in _change_cells(c, width=24)]
            cells[0].stylize(_ACTION_STYLE[c.action])
            rows.append(cells + ([RichText(c.reason.value)] if verbose else []))
        draw_fitted(f"Changes ({len(counted)})", columns, rows, console, key=1)
    shown = [m for m in diff.metrics if m.changed or verbose]
    if shown:
        rows = []
        for m in shown:
            cells = [RichText(x) for x in _metric_cells(m)]
            style = _VERDICT_STYLE.get(m.verdict)
            if style:
                cells[3].stylize(style)
            rows.append(cells)
        columns = [Column("metric", wrap=True)] + [Column(c, numeric=True) for c in ("before", "after", "change")]
        draw_fitted("Metrics", columns, rows, console)
    if diff.guardrails:
        rows = []
        for g in diff.guardrails:
            result = _guardrail_result(g)
            style = {"BREACHED": "bold red", "ok": "green"}.get(result, "dim")
            rows.append([RichText(g.rule), RichText(result, style=style), RichText(g.detail)])
        columns = [Column("rule", wrap=True), Column("result"), Column("detail", wrap=True)]
        draw_fitted("Guardrails", columns, rows, console)
    context = [c for c in diff.changes if not c.counted]
    if context and verbose:
        columns = [Column(""), Column("address", wrap=True)] + [Column(c, wrap=True) for c in ("before", "after")]
        rows = [[RichText(x) for x in _change_cells(c)[:4]] for c in context]
        draw_fitted("Context (not counted as changes)", columns, rows, console)
    elif context:
        names = ", ".join(sorted({c.address.split("[")[0] for c in context}))
        console.print(RichText(f"context, not counted: {names} (--verbose lists them)"))


# ------------------------------------------------------------------------------------------------ markdown


def render_markdown(diff: PlanDiff, marker: str | None = None) -> str:
    """A PR comment: hidden marker, summary, guardrails, metrics; changes and context folded."""
    mark = default_marker(diff) if marker is None else marker
    parts = [f"<!-- {mark} -->"] if mark else []
    parts += [
        f"### plan diff: {diff.kind} `{diff.new.name}`",
        "",
        f"**{_md_escape(diff.summary)}**",
        "",
        f"`{diff.old.label}` ({diff.old.status}) &rarr; `{diff.new.label}` ({diff.new.status})",
    ]
    parts += [f"> note: {n}" for n in diff.notes]
    if diff.guardrails:
        breached = diff.breached
        head = (
            f"**{len(breached)} guardrail{'s' if len(breached) != 1 else ''} breached**"
            if breached
            else "All guardrails passed."
        )
        rows: list[list[object]] = [[f"`{g.rule}`", _md_result(g), g.detail] for g in diff.guardrails]
        parts += ["", head, "", md_table(["guardrail", "result", "detail"], rows)]
    changed = [m for m in diff.metrics if m.changed]
    same = [m for m in diff.metrics if not m.changed]
    if changed:
        metric_rows: list[list[object]] = [list(_metric_cells(m)) for m in changed]
        parts += ["", md_table(["metric", "before", "after", "change"], metric_rows)]
    counted = diff.counted_changes
    if counted:
        change_rows: list[list[object]] = [[*_md_change(c), c.reason.value] for c in counted[:MARKDOWN_MAX_ROWS]]
        parts += [
            "",
            f"<details><summary>{len(counted)} change{'s' if len(counted) != 1 else ''}</summary>",
            "",
            md_table(["", "address", "before", "after", "change", "why"], change_rows),
        ]
        if len(counted) > MARKDOWN_MAX_ROWS:
            parts += ["", f"... and {len(counted) - MARKDOWN_MAX_ROWS} more (see `plan diff --format json`)"]
        parts += ["", "</details>"]
    if same:
        parts += [
            "",
            f"<details><summary>{len(same)} unchanged metric{'s' if len(same) != 1 else ''}</summary>",
            "",
            md_table(
                ["metric", "value"], [[m.name, fmt_num(m.after) + (f" {m.unit}" if m.unit else "")] for m in same]
            ),
            "",
            "</details>",
        ]
    context = [c for c in diff.changes if not c.counted]
    if context:
        context_rows: list[list[object]] = [list(_md_change(c)[:4]) for c in context[:MARKDOWN_MAX_ROWS]]
        parts += [
            "",
            f"<details><summary>context: {len(context)} input change{'s' if len(context) != 1 else ''} "
            "(not counted)</summary>",
            "",
            md_table(["", "address", "before", "after"], context_rows),
            "",
            "</details>",
        ]
    return "\n".join(parts) + "\n"


def _md_change(c: Change) -> list[str]:
    cells = _change_cells(c)
    return [cells[0], f"`{cells[1]}`", _md_escape(cells[2]), _md_escape(cells[3]), cells[4]]


def _md_result(g: GuardrailResult) -> str:
    return {"BREACHED": ":x: breached", "ok": ":white_check_mark: ok"}.get(_guardrail_result(g), "n/a")


def _md_escape(text: str) -> str:
    """Keep user text from opening markdown or HTML constructs inside a comment."""
    return text.replace("<", "&lt;").replace(">", "&gt;").replace("*", "\\*").replace("_", "\\_")
