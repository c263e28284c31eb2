"""Markdown rendering of a plan (for PR comments and docs)."""

from __future__ import annotations

import importlib

from planner.plan import Plan
from planner.render.tables import fmt_num, solver_line


def md_table(headers: list[str], rows: list[list[object]]) -> str:
    """A GitHub-flavoured markdown table; cells are formatted with :func:`fmt_num` and pipes escaped."""

    def cell(v: object) -> str:
        return (fmt_num(v) if not isinstance(v, str) else v).replace("|", "\\|")

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def render_markdown(plan: Plan) -> str:
    parts = [f"## {plan.kind} plan `{plan.name}`", "", f"Solver: {solver_line(plan)}", ""]
    try:
        module = importlib.import_module(f"planner.{plan.kind}.report")
    except ModuleNotFoundError:
        module = None
    if module is not None and hasattr(module, "markdown_sections"):
        for section in module.markdown_sections(plan):
            parts += [section, ""]
    parts += [
        "### Metrics",
        "",
        md_table(["metric", "value"], [[k, plan.metrics[k]] for k in sorted(plan.metrics)]),
    ]
    if plan.assumptions:
        parts += ["", "### Assumptions", ""]
        parts.append(
            md_table(["subject", "basis", "detail"], [[a.subject, a.basis, a.detail] for a in plan.assumptions])
        )
    if plan.warnings:
        parts += ["", "### Warnings", ""] + [f"- {w}" for w in plan.warnings]
    return "\n".join(parts) + "\n"
