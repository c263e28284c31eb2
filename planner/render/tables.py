"""Rich terminal rendering of a plan: a generic header, the solver's report (data) drawn as tables, metrics and
assumptions.

The solver's report comes from :mod:`planner.render.registry` as :mod:`planner.report_data` blocks; this module
is the only one that turns them into rich output.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text as RichText

from planner.plan import Plan
from planner.profiles.accuracy import BAND_SUFFIXES, err_pair_of, err_ratio_of
from planner.render.chart import range_chart_lines
from planner.render.fit import fit_table, fold_command
from planner.render.registry import reports_for
from planner.report_data import (
    Block,
    Bullets,
    Code,
    Column,
    Heading,
    RangeChart,
    Report,
    Table,
    Text,
    fmt_band,
    fmt_num,
)

__all__ = ["draw_fitted", "draw_report", "fmt_num", "render_plan", "solver_line"]

_TONE_STYLE = {"plain": "", "strong": "bold", "warning": "yellow", "error": "red"}


def solver_line(plan: Plan) -> str:
    s = plan.solver
    parts = [f"status {s.status}"]
    if s.objective is not None:
        parts.append(f"objective {fmt_num(s.objective)}")
    if s.best_bound is not None:
        parts.append(f"bound {fmt_num(s.best_bound)}")
    if s.gap is not None:
        parts.append(f"gap {s.gap * 100:.2f}%")
    return f"{s.backend}: " + ", ".join(parts) + (f" ({s.message})" if s.message else "")


def metrics_table(plan: Plan) -> Table:
    """Every figure, with its error band beside it (the ``*_err_ratio`` entries are not listed on their own)."""
    m = plan.metrics
    return Table(
        "Metrics",
        (Column("metric"), Column("value", numeric=True)),
        tuple(
            (key, fmt_band(m[key], err_ratio_of(m, key), pair=err_pair_of(m, key)))
            for key in sorted(m)
            if not any(key.endswith(s) and key.removesuffix(s) in m for s in BAND_SUFFIXES)
        ),
    )


def assumptions_table(plan: Plan) -> Table:
    return Table(
        "What the figures rest on",
        (Column("subject"), Column("basis"), Column("detail", wrap=True)),
        tuple((a.subject, a.basis, a.detail) for a in plan.assumptions),
    )


def render_plan(plan: Plan, console: Console, verbose: bool = False) -> None:
    """Print the whole report for ``plan``."""
    console.print(
        RichText.assemble((plan.kind, "bold"), " plan ", (plan.name, "bold"), f"  (format {plan.format_version})")
    )
    console.print(solver_line(plan))
    reports = reports_for(plan.kind)
    if reports is not None:
        draw_report(reports.terminal(plan, verbose), console)
    draw_report(Report.of([metrics_table(plan)] + ([assumptions_table(plan)] if plan.assumptions else [])), console)
    for w in plan.warnings:
        console.print(RichText.assemble(("warning:", "yellow"), f" {w}"))


# ------------------------------------------------------------------------------------------------ blocks


def draw_report(report: Report, console: Console) -> None:
    """Draw every block of ``report`` on ``console``."""
    for block in report.blocks:
        draw_block(block, console)


def draw_block(block: Block, console: Console) -> None:
    if isinstance(block, Table):
        _draw_table(block, console)
    elif isinstance(block, Text):
        _draw_text(block, console)
    elif isinstance(block, Heading):
        console.print(RichText(block.text, style="bold"))
    elif isinstance(block, Bullets):
        for item in block.items:
            _draw_text(Text(f"  - {item}", hang=4), console)
    elif isinstance(block, Code):
        for line in block.lines:
            rows = fold_command(line, console.width, block.indent) if block.shell else [" " * block.indent + line]
            for row in rows:
                console.print(RichText(row))
    elif isinstance(block, RangeChart):
        for row in range_chart_lines(block, console.width):
            console.print(RichText(row))
    else:  # pragma: no cover - the Block union is closed
        raise TypeError(f"unknown report block {block!r}")


def _draw_text(block: Text, console: Console) -> None:
    style = _TONE_STYLE[block.tone]
    if block.hang and cell_len(block.text) > console.width:
        for line in textwrap.wrap(block.text, console.width, subsequent_indent=" " * block.hang):
            console.print(RichText(line, style=style))
        return
    console.print(RichText(block.text, style=style))


def _draw_table(t: Table, console: Console) -> None:
    draw_fitted(t.title, t.columns, [[RichText(c) for c in row] for row in t.rows], console, compact=t.compact)
    for note in t.notes:
        _draw_text(Text(note, hang=2), console)


def draw_fitted(
    title: str | None,
    columns: Sequence[Column],
    rows: Sequence[Sequence[RichText]],
    console: Console,
    compact: bool = False,
    key: int = 0,
) -> None:
    """Draw a table of (possibly styled) cells fitted to the console's width (:func:`planner.render.fit.fit_table`);
    columns that do not fit move under it, one line per row, named by the row's cell in column ``key``."""
    fit = fit_table(columns, [[cell.plain for cell in row] for row in rows], console.width)
    rt = RichTable(title=title, title_justify="left", box=box.SIMPLE_HEAD if compact else box.HEAVY_HEAD)
    for k, i in enumerate(fit.keep):
        c = columns[i]
        rt.add_column(
            c.name,
            justify="right" if c.numeric else "left",
            overflow="fold" if c.wrap else "ellipsis",
            width=None if fit.widths is None else fit.widths[k],
        )
    for row in rows:
        rt.add_row(*(row[i] for i in fit.keep))
    console.print(rt)
    for row in rows:
        moved = [f"{columns[i].name}: {row[i].plain}" for i in fit.moved if row[i].plain not in ("", "-")]
        if moved:
            _draw_text(Text(f"  {row[key].plain} - " + "; ".join(moved), hang=4), console)
