"""``plan validate``: load a spec with its profiles and summarise it (:mod:`planner.spec.summary`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from planner.cli.common import Format, FormatOpt, MaxNodesOpt, ProfilesOpt, SetOpt, handle_errors
from planner.profiles.db import ProfileDB
from planner.render.console import out_text, stdout
from planner.spec.loader import DEFAULT_MAX_NODES, load_spec


def validate_command(
    spec: Annotated[Path, typer.Argument(help="Cluster spec YAML.", dir_okay=False)],
    profiles: ProfilesOpt = None,
    overrides: SetOpt = None,
    fmt: FormatOpt = Format.table,
    max_nodes: MaxNodesOpt = DEFAULT_MAX_NODES,
) -> None:
    """Load a spec with its profiles and summarise it: nodes, VRAM, links, which solvers it can feed."""
    from planner.render.validate import render_summary
    from planner.spec.summary import summarize

    with handle_errors():
        db = ProfileDB.load(profiles)
        loaded = load_spec(spec, db, list(overrides or []), max_nodes=max_nodes)
        summary = summarize(loaded, db)
        if fmt == Format.json:
            out_text(json.dumps(summary.as_dict(), indent=2, sort_keys=True))
        else:
            render_summary(summary, stdout, markdown=fmt == Format.markdown)
