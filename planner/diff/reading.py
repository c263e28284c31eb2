"""Reading the two sides of a diff: which plan files can be compared, and the errors when they cannot."""

from __future__ import annotations

from pathlib import Path

from planner import FORMAT_VERSION
from planner.errors import PlannerError, SpecError
from planner.inputfiles import load_json_file
from planner.paths import display_path
from planner.plan import Plan, read_plan


class PlansNotComparable(PlannerError):
    """The two plans cannot be diffed: different kinds or an unsupported major ``format_version``. Exit 1."""

    exit_code = 1


class PlanReadError(PlannerError):
    """A plan file is missing or malformed. Exit 1 (not 2: under ``--detailed-exitcode`` 2 means "changed")."""

    exit_code = 1

    def __init__(self, lines: list[str]) -> None:
        self._lines = lines
        super().__init__("; ".join(lines))

    def lines(self) -> list[str]:
        return list(self._lines)


def load_plan_for_diff(path: Path) -> Plan:
    """Read a plan for diffing: a different major format version is refused (exit 1), read errors exit 1 too."""
    try:
        data = load_json_file(path, display_path(path), "plan")
    except SpecError as exc:
        raise PlanReadError(exc.lines()) from None
    if isinstance(data, dict) and "format_version" in data:
        major = str(data["format_version"]).split(".")[0]
        if major != FORMAT_VERSION.split(".")[0]:
            raise PlansNotComparable(
                f"refusing to diff: {display_path(path)} is plan format {data['format_version']}, this llmplan "
                f"reads {FORMAT_VERSION.split('.')[0]}.x (re-plan both sides with the same llmplan version)"
            )
    try:
        return read_plan(path)
    except SpecError as exc:
        raise PlanReadError(exc.lines()) from None


def check_comparable(old: Plan, new: Plan, old_label: str = "old", new_label: str = "new") -> list[str]:
    """Refuse plans of different kinds or major versions; return notes (e.g. a minor version difference)."""
    if old.kind != new.kind:
        raise PlansNotComparable(
            f"refusing to diff a {old.kind} plan ({old_label}) against a {new.kind} plan ({new_label}): "
            "plans must be of the same kind"
        )
    ma, mb = old.format_version.split(".")[0], new.format_version.split(".")[0]
    if ma != mb:
        raise PlansNotComparable(
            f"refusing to diff plan format {old.format_version} ({old_label}) against {new.format_version} "
            f"({new_label}): different major versions"
        )
    if old.format_version != new.format_version:
        return [f"plan formats differ ({old.format_version} vs {new.format_version}); fields only one has are listed"]
    return []
