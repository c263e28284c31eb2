"""Rendering of a simulation document (``plan simulate``): terminal tables and markdown from
:mod:`planner.sim.report`'s data."""

from __future__ import annotations

from rich.console import Console

from planner.render.markdown import report_markdown
from planner.render.tables import draw_report
from planner.sim import report as sim_report
from planner.sim.document import SimulationDocument


def render_tables(doc: SimulationDocument, console: Console, verbose: bool = False) -> None:
    """Summary side by side, then nodes and busiest links (every placement with --verbose, else the first)."""
    draw_report(sim_report.report(doc, verbose), console)


def render_markdown(doc: SimulationDocument) -> str:
    """The same report as markdown (for PR comments)."""
    return "\n\n".join(["## Simulation", *report_markdown(sim_report.markdown_report(doc))]) + "\n"
