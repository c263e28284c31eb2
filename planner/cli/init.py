"""``plan init``: option declarations and one call into :mod:`planner.scaffold`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from planner.cli.common import ProfilesOpt, handle_errors
from planner.cli.outputs import Output, check_outputs, write_output
from planner.errors import UsageError
from planner.paths import display_path
from planner.plan import write_json_atomic
from planner.profiles.db import ProfileDB
from planner.render.console import err_line, out_text
from planner.scaffold import SOLVER_DEFAULTS, SOLVERS, capacity_warnings, parse_gpus, render_spec


def _complete_solver(incomplete: str) -> list[str]:
    return [s for s in SOLVERS if s.startswith(incomplete)]


def init_command(
    solver: Annotated[
        str, typer.Option("--solver", help="helix | splitwise | dynamo", autocompletion=_complete_solver)
    ] = "helix",
    gpus: Annotated[
        str | None,
        typer.Option("--gpus", help="Nodes: count x [gpus per node x] GPU [@region], comma-separated."),
    ] = None,
    model: Annotated[str | None, typer.Option("--model", help="Model name from the profile database.")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the spec here (default: stdout).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing --out file.")] = False,
    profiles: ProfilesOpt = None,
) -> None:
    """Write a complete, commented cluster spec for your hardware."""
    with handle_errors():
        db = ProfileDB.load(profiles)
        default_gpus, default_model = SOLVER_DEFAULTS.get(solver, SOLVER_DEFAULTS["helix"])
        groups = parse_gpus(default_gpus if gpus is None else gpus, db)
        model_name = default_model if model is None else model
        text = render_spec(solver, groups, model_name, db)
        for warning in capacity_warnings(solver, groups, model_name, db):
            err_line(warning)
        if out is None:
            out_text(text)
            return
        check_outputs((Output("--out", out),), ())
        if out.exists() and not force:
            raise UsageError(f"{display_path(out)} exists (use --force to overwrite)")
        write_output("--out", out, lambda: write_json_atomic(text, out))
        err_line(
            f"wrote {display_path(out)}; next: plan validate {display_path(out)} && plan {solver} {display_path(out)}"
        )
