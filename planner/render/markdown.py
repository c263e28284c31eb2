"""Markdown rendering of a plan and of a simulation document (for PR comments and docs).

Blocks (:mod:`planner.report_data`) are separated by one blank line; a table's title becomes a ``###`` heading.
"""

from __future__ import annotations

from collections.abc import Sequence

from planner.plan import Plan
from planner.render.chart import range_chart_lines
from planner.render.registry import reports_for
from planner.render.tables import solver_line
from planner.report_data import Block, Bullets, Code, Heading, RangeChart, Report, Table, Text, fmt_num


def md_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured markdown table; cells are formatted with :func:`fmt_num` and pipes escaped."""

    def cell(v: object) -> str:
        return (fmt_num(v) if not isinstance(v, str) else v).replace("|", "\\|")

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def block_markdown(block: Block) -> str:
    """One block as markdown text (no surrounding blank lines)."""
    if isinstance(block, Table):
        body = md_table([c.name for c in block.columns], [list(r) for r in block.rows])
        parts = ([f"### {block.title}"] if block.title else []) + [body] + list(block.notes)
        return "\n\n".join(parts)
    if isinstance(block, Text):
        return f"**{block.text}**" if block.tone == "strong" else block.text
    if isinstance(block, Heading):
        return f"### {block.text}"
    if isinstance(block, Bullets):
        return "\n".join(f"- {item}" for item in block.items)
    if isinstance(block, Code):
        return "```\n" + "\n".join(block.lines) + "\n```"
    if isinstance(block, RangeChart):
        return "```\n" + "\n".join(range_chart_lines(block)) + "\n```"
    raise TypeError(f"unknown report block {block!r}")  # pragma: no cover - the Block union is closed


def report_markdown(report: Report) -> list[str]:
    return [block_markdown(b) for b in report.blocks]


def render_markdown(plan: Plan) -> str:
    parts = [f"## {plan.kind} plan `{plan.name}`", f"Solver: {solver_line(plan)}"]
    reports = reports_for(plan.kind)
    if reports is not None:
        parts += report_markdown(reports.markdown(plan))
    parts += [
        "### Metrics",
        md_table(["metric", "value"], [[k, plan.metrics[k]] for k in sorted(plan.metrics)]),
    ]
    if plan.assumptions:
        parts += [
            "### Assumptions",
            md_table(["subject", "basis", "detail"], [[a.subject, a.basis, a.detail] for a in plan.assumptions]),
        ]
    if plan.warnings:
        parts += ["### Warnings", "\n".join(f"- {w}" for w in plan.warnings)]
    return "\n\n".join(parts) + "\n"
