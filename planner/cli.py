"""The ``plan`` command line: option declarations and one domain call per command, nothing more.

Results go to stdout (tables, ``--format json`` or ``markdown``); diagnostics go to stderr. Exit codes are decided
in :mod:`planner.cli_common` from :mod:`planner.errors`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from planner import FORMAT_VERSION, __version__
from planner.cli_common import Format, FormatOpt, ProfilesOpt, SetOpt, handle_errors
from planner.diff_command import diff_command
from planner.dynamo.command import dynamo_command
from planner.helix.command import helix_command
from planner.init_command import init_command
from planner.profiles.db import ProfileDB
from planner.render.console import out_text, stdout
from planner.sim.command import simulate_command
from planner.spec.loader import load_spec
from planner.splitwise.command import splitwise_command

app = typer.Typer(
    name="plan",
    help="Plan LLM deployments on GPU clusters (Helix, Splitwise, DynamoLLM) and prove the numbers.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
profiles_app = typer.Typer(help="Inspect the profile database.", no_args_is_help=True)
app.add_typer(profiles_app, name="profiles")

app.command("helix", help="Helix: place layer ranges on heterogeneous nodes to maximise max-flow throughput.")(
    helix_command
)
app.command("splitwise", help="Splitwise: size prompt and token pools under SLOs and cost/power targets.")(
    splitwise_command
)
app.command("dynamo", help="DynamoLLM: instances x TP x GPU frequency per class, minimising energy.")(dynamo_command)
app.command("init", help="Write a complete, commented cluster spec for your hardware.")(init_command)
app.command(
    "diff",
    help="Diff two plans for CI: changes, metric deltas, guardrails, PR comment.",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
)(diff_command)
app.command("simulate", help="Replay requests through a Helix plan: achieved throughput and latency.")(simulate_command)


def _version(value: bool) -> None:
    if value:
        out_text(f"llmplan {__version__} (plan format {FORMAT_VERSION})")
        raise typer.Exit(0)


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Plan LLM deployments on GPU clusters and prove the figures."""


@app.command("validate")
def validate(
    spec: Annotated[Path, typer.Argument(help="Cluster spec YAML.", dir_okay=False)],
    profiles: ProfilesOpt = None,
    overrides: SetOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Load a spec with its profiles and summarise it: nodes, VRAM, links, which solvers it can feed."""
    from planner.render.validate import render_summary
    from planner.spec.summary import summarize

    with handle_errors():
        db = ProfileDB.load(profiles)
        loaded = load_spec(spec, db, list(overrides or []))
        summary = summarize(loaded, db)
        if fmt == Format.json:
            out_text(json.dumps(summary.as_dict(), indent=2, sort_keys=True))
        else:
            render_summary(summary, stdout, markdown=fmt == Format.markdown)


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


@app.command("schema")
def schema() -> None:
    """Print the JSON Schema of the plan document."""
    from planner.plan import plan_json_schema

    out_text(json.dumps(plan_json_schema(), indent=2, sort_keys=True))


if __name__ == "__main__":  # pragma: no cover
    app()
