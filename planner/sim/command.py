"""``plan simulate``: option declarations and one call into the simulator."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from planner.cli_common import handle_errors
from planner.errors import SolverFailure


def simulate_command(
    plan: Annotated[Path, typer.Argument(help="A Helix plan JSON written by `plan helix --out`.")],
) -> None:
    """Replay requests through a Helix plan (discrete-event simulation)."""
    with handle_errors():
        raise SolverFailure("plan simulate is not implemented yet")
