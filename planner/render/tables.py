"""Rich terminal rendering of a plan: a generic header, the solver's own tables, metrics and assumptions."""

from __future__ import annotations

import importlib
from typing import Any

from rich.console import Console
from rich.table import Table

from planner.plan import Plan


def fmt_num(value: Any) -> str:
    """Human formatting for a figure: thousands separators, 4 significant digits for small numbers."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:
            return "nan"
        if abs(value) >= 1000:
            return f"{value:,.1f}"
        if abs(value) >= 1:
            return f"{value:.3f}".rstrip("0").rstrip(".")
        return f"{value:.4g}"
    return str(value)


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
    t = Table(title="Metrics", title_justify="left")
    t.add_column("metric")
    t.add_column("value", justify="right")
    for key in sorted(plan.metrics):
        t.add_row(key, fmt_num(plan.metrics[key]))
    return t


def assumptions_table(plan: Plan) -> Table:
    t = Table(title="What the figures rest on", title_justify="left")
    t.add_column("subject")
    t.add_column("basis")
    t.add_column("detail", overflow="fold")
    for a in plan.assumptions:
        t.add_row(a.subject, a.basis, a.detail)
    return t


def render_plan(plan: Plan, console: Console, verbose: bool = False) -> None:
    """Print the whole report for ``plan``."""
    console.print(f"[bold]{plan.kind}[/bold] plan [bold]{plan.name}[/bold]  (format {plan.format_version})")
    console.print(solver_line(plan))
    try:
        module = importlib.import_module(f"planner.{plan.kind}.report")
    except ModuleNotFoundError:
        module = None
    if module is not None and hasattr(module, "render_tables"):
        module.render_tables(plan, console, verbose=verbose)
    console.print(metrics_table(plan))
    if plan.assumptions:
        console.print(assumptions_table(plan))
    for w in plan.warnings:
        console.print(f"[yellow]warning:[/yellow] {w}")
