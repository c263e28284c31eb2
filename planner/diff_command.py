"""``plan diff``: option declarations and one call into :mod:`planner.diff`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from planner.cli_common import handle_errors
from planner.errors import SolverFailure


def diff_command(
    old: Annotated[Path, typer.Argument(help="The old plan JSON.")],
    new: Annotated[Path, typer.Argument(help="The new plan JSON.")],
) -> None:
    """Show what changed between two plans of the same kind."""
    with handle_errors():
        raise SolverFailure("plan diff is not implemented yet")
