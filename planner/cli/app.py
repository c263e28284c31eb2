"""The ``plan`` typer app: one registration per command; each command lives in its own module of this package.

Results go to stdout (tables, ``--format json`` or ``markdown``); diagnostics go to stderr. Exit codes are decided
in :mod:`planner.cli.common` from :mod:`planner.errors`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from planner import FORMAT_VERSION, __version__
from planner.cli.calibrate import accuracy_command, calibrate_command
from planner.cli.diff import diff_command
from planner.cli.dynamo import dynamo_command
from planner.cli.helix import helix_command
from planner.cli.init import init_command
from planner.cli.profiles import profiles_app
from planner.cli.schema import schema_command
from planner.cli.simulate import simulate_command
from planner.cli.splitwise import splitwise_command
from planner.cli.sweep import sweep_command
from planner.cli.validate import validate_command
from planner.render.console import out_text

app = typer.Typer(
    name="plan",
    help="Plan LLM deployments on GPU clusters (Helix, Splitwise, DynamoLLM) and prove the numbers.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.add_typer(profiles_app, name="profiles")

app.command(
    "helix",
    help="Helix: layer placement for served throughput (default) or the paper's max flow, with proven bounds.",
)(helix_command)
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
app.command(
    "sweep", help="Plan every point of a scenario sweep (axes over a base spec) on a process pool or a Ray cluster."
)(sweep_command)
app.command("calibrate", help="Fit the iteration latency model to measured benchmarks; write a profile directory.")(
    calibrate_command
)
app.command("accuracy", help="Predict measured benchmark runs and report the errors (CI gate: --fail-above).")(
    accuracy_command
)
app.command("validate")(validate_command)
app.command("schema")(schema_command)


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


if __name__ == "__main__":  # pragma: no cover
    app()
