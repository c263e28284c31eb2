"""Which report belongs to which plan kind: an explicit table, so the import graph shows every dependency.

:mod:`planner.render.tables` and :mod:`planner.render.markdown` look a plan's kind up here; a solver's
``report.py`` returns data (:mod:`planner.report_data`) and imports nothing from render, so there is no loop.

This module is also where the plan document is unpacked for the reports: a solver's ``report.py`` sits below the
plan layer, so it takes its typed plan block (read through :func:`planner.contracts.parse_block`) and the plan's
metrics, never :class:`~planner.plan.Plan` itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from planner.contracts import parse_block
from planner.dynamo import report as dynamo_report
from planner.dynamo.report import DynamoFigure
from planner.helix import report as helix_report
from planner.helix.report import HelixFigure
from planner.plan import Plan
from planner.report_data import Report
from planner.splitwise import report as splitwise_report


@dataclass(frozen=True)
class PlanReports:
    """A solver's two report functions on a plan document: the terminal one (with ``verbose``) and the markdown
    one."""

    terminal: Callable[[Plan, bool], Report]
    markdown: Callable[[Plan], Report]


def _helix_terminal(plan: Plan, verbose: bool) -> Report:
    return helix_report.report(parse_block("helix", plan.plan), plan.metrics, verbose)


def _helix_markdown(plan: Plan) -> Report:
    return helix_report.markdown_report(parse_block("helix", plan.plan), plan.metrics)


def _splitwise_terminal(plan: Plan, verbose: bool) -> Report:
    return splitwise_report.report(parse_block("splitwise", plan.plan), plan.metrics, verbose)


def _splitwise_markdown(plan: Plan) -> Report:
    return splitwise_report.markdown_report(parse_block("splitwise", plan.plan), plan.metrics)


def _dynamo_terminal(plan: Plan, verbose: bool) -> Report:
    return dynamo_report.report(parse_block("dynamo", plan.plan), plan.metrics, verbose)


def _dynamo_markdown(plan: Plan) -> Report:
    return dynamo_report.markdown_report(parse_block("dynamo", plan.plan), plan.metrics)


REPORTS: dict[str, PlanReports] = {
    "helix": PlanReports(_helix_terminal, _helix_markdown),
    "splitwise": PlanReports(_splitwise_terminal, _splitwise_markdown),
    "dynamo": PlanReports(_dynamo_terminal, _dynamo_markdown),
}


def reports_for(kind: str) -> PlanReports | None:
    """The reports of plan ``kind``; ``None`` for a kind without one (the generic header, metrics and
    assumptions are still drawn)."""
    return REPORTS.get(kind)


def helix_figure(plan: Plan) -> HelixFigure:
    """The data of ``plan helix --plot`` for a helix plan document."""
    return helix_report.figure_data(parse_block("helix", plan.plan), plan.metrics)


def dynamo_figure(plan: Plan) -> DynamoFigure:
    """The data of ``plan dynamo --plot`` for a dynamo plan document."""
    return dynamo_report.figure_data(parse_block("dynamo", plan.plan), plan.name)
