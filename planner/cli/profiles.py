"""``plan profiles list|show``: inspect the (layered) profile database."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from planner.cli.calibrate import add_model_command
from planner.cli.common import Format, FormatOpt, ProfilesOpt, handle_errors
from planner.profiles.db import ProfileDB
from planner.render.console import out_text, stdout

profiles_app = typer.Typer(help="Inspect the profile database.", no_args_is_help=True)


@profiles_app.command("list")
def profiles_list(profiles: ProfilesOpt = None, fmt: FormatOpt = Format.table) -> None:
    """List GPUs, models, catalogues and tables in the (layered) profile database."""
    from planner.render.profiles import render_profile_list

    with handle_errors():
        db = ProfileDB.load(profiles)
        if fmt == Format.json:
            out_text(json.dumps(db.summary, indent=2, sort_keys=True))
        else:
            render_profile_list(db, stdout)


@profiles_app.command("show")
def profiles_show(
    name: Annotated[str, typer.Argument(help="A GPU, model, catalogue entry or table name.")],
    profiles: ProfilesOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Show one GPU, model or table."""
    from planner.render.profiles import profile_entry, render_profile_entry

    with handle_errors():
        db = ProfileDB.load(profiles)
        entry = profile_entry(db, name)
        if fmt == Format.json:
            out_text(json.dumps(entry, indent=2, sort_keys=True, default=str))
        else:
            render_profile_entry(entry, stdout)


profiles_app.command("add-model")(add_model_command)
