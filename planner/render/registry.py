"""Which report belongs to which plan kind: an explicit table, so the import graph shows every dependency.

:mod:`planner.render.tables` and :mod:`planner.render.markdown` look a plan's kind up here; a solver's
``report.py`` returns data (:mod:`planner.report_data`) and imports nothing from render, so there is no loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from planner.dynamo import report as dynamo_report
from planner.helix import report as helix_report
from planner.plan import Plan
from planner.report_data import Report
from planner.splitwise import report as splitwise_report


@dataclass(frozen=True)
class PlanReports:
    """A solver's two report functions: the terminal one (with ``verbose``) and the markdown one."""

    terminal: Callable[[Plan, bool], Report]
    markdown: Callable[[Plan], Report]


REPORTS: dict[str, PlanReports] = {
    "helix": PlanReports(helix_report.report, helix_report.markdown_report),
    "splitwise": PlanReports(splitwise_report.report, splitwise_report.markdown_report),
    "dynamo": PlanReports(dynamo_report.report, dynamo_report.markdown_report),
}


def reports_for(kind: str) -> PlanReports | None:
    """The reports of plan ``kind``; ``None`` for a kind without one (the generic header, metrics and
    assumptions are still drawn)."""
    return REPORTS.get(kind)
