"""Option declarations and the run/emit/exit-code logic shared by every ``plan`` command.

Commands are option declarations plus one call to :func:`execute`; this module alone turns expected failures into
exit codes (via :data:`planner.errors.PlannerError.exit_code`) and decides what goes to stdout and stderr.
"""

from __future__ import annotations

import enum
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import typer

from planner.cli.outputs import Output, check_outputs, write_output
from planner.errors import InfeasibleError, PlannerError, SolverFailure, UsageError
from planner.executors import ExecutorConfig
from planner.paths import display_path
from planner.plan import Plan, plan_json, write_plan
from planner.render.console import err_line, out_text, progress, stdout
from planner.runner import SolverInputs, load_inputs, spec_note
from planner.spec.loader import DEFAULT_MAX_NODES, LoadedSpec
from planner.units import UnitError, format_duration, parse_duration

OutputFormat = Literal["table", "json", "markdown"]


@dataclass
class CommonOptions:
    """Options every solver command accepts (see README "CLI conventions")."""

    out: Path | None = None
    format: OutputFormat = "table"
    profiles: Path | None = None
    overrides: list[str] = field(default_factory=list)
    time_limit_s: float = 60.0
    seed: int = 0
    quiet: bool = False
    verbose: bool = False
    plot: Path | None = None
    max_nodes: int = DEFAULT_MAX_NODES
    #: ``time.monotonic()`` when the command started: ``--time-limit`` is the wall clock of the whole command.
    started_at: float = field(default_factory=time.monotonic)


class Format(enum.StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


def complete_spec(incomplete: str) -> list[str]:
    """Shell completion for spec paths: folders and YAML files matching what was typed, plus shipped examples."""
    from planner.paths import SHIPPED_SPECS

    head, _, _ = incomplete.rpartition("/")
    base = Path(head) if head else Path(".")
    found: list[str] = []
    if base.is_dir():
        for p in sorted(base.iterdir()):
            text = f"{head}/{p.name}" if head else p.name
            if not text.startswith(incomplete) or p.name.startswith("."):
                continue
            if p.is_dir():
                found.append(text + "/")
            elif p.suffix in (".yaml", ".yml"):
                found.append(text)
    shipped = sorted(display_path(p) for p in SHIPPED_SPECS.glob("*.yaml"))
    return found + [s for s in shipped if s.startswith(incomplete) and s not in found]


SpecArg = Annotated[
    Path | None,
    typer.Argument(
        help="Cluster spec YAML. Default: the solver's shipped example spec.",
        show_default=False,
        dir_okay=False,
        autocompletion=complete_spec,
    ),
]
OutOpt = Annotated[Path | None, typer.Option("--out", "-o", help="Write the plan JSON here (atomically).")]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="What goes to stdout.")]
ProfilesOpt = Annotated[
    Path | None,
    typer.Option("--profiles", help="A profile directory layered over the shipped one (user rows win)."),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a spec value: dotted.path=value (repeatable; the path must exist)."),
]
TimeLimitOpt = Annotated[
    str,
    typer.Option("--time-limit", help="Wall clock of the whole command: seconds, or with a unit (90s, 5m)."),
]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed of every sampler and solver (same seed, same plan).")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress display or notes on stderr.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="More detail in the report.")]
PlotOpt = Annotated[Path | None, typer.Option("--plot", help="Write a PNG figure of the plan here.")]
MaxNodesOpt = Annotated[
    int,
    typer.Option(
        "--max-nodes",
        min=1,
        help="Refuse specs with more nodes than this (memory grows with the square of the node count).",
    ),
]


class ExecutorKind(enum.StrEnum):
    """``--executor``: where independent work runs (:mod:`planner.executors`)."""

    local = "local"
    ray = "ray"


ExecutorOpt = Annotated[
    ExecutorKind, typer.Option("--executor", help="local: a process pool here; ray: a Ray cluster.")
]
RayAddressOpt = Annotated[
    str | None,
    typer.Option("--ray-address", help="With --executor ray: auto, or ray://HOST:PORT. Default: start Ray here."),
]


def executor_config(kind: ExecutorKind, jobs: int, ray_address: str | None) -> ExecutorConfig:
    """``--executor``, ``--jobs`` and ``--ray-address`` as one choice (``--ray-address`` needs ``--executor ray``)."""
    if ray_address is not None and kind != ExecutorKind.ray:
        raise UsageError("--ray-address needs --executor ray")
    return ExecutorConfig(kind.value, jobs, ray_address)


def parse_seconds_option(
    flag: str, text: str, *, bare_seconds: bool = True, positive: bool = True, maximum: float | None = None
) -> float:
    """A duration option: ``90s`` / ``5m`` (and a bare ``60`` as seconds when allowed); a usage error otherwise.

    ``inf`` and ``nan`` are refused like any other non-duration; ``maximum`` (seconds) caps options whose cost
    grows with the value (simulated time).
    """
    try:
        if not bare_seconds:
            raise ValueError
        value = float(text)
    except ValueError:
        try:
            value = parse_duration(text)
        except UnitError as exc:
            raise UsageError(f"{flag}: {exc}") from None
    if not math.isfinite(value) or value < 0:
        raise UsageError(f"{flag} must be a finite, non-negative duration, got {text!r}")
    if positive and value <= 0:
        raise UsageError(f"{flag} must be positive")
    if maximum is not None and value > maximum:
        raise UsageError(f"{flag} {text} is above the largest accepted {format_duration(maximum)}")
    return value


def parse_time_limit(text: str) -> float:
    """``60`` (seconds) or ``90s`` / ``5m``; a usage error otherwise."""
    return parse_seconds_option("--time-limit", text)


def common_options(
    out: Path | None,
    fmt: Format,
    profiles: Path | None,
    overrides: list[str] | None,
    time_limit: str,
    seed: int,
    quiet: bool,
    verbose: bool,
    plot: Path | None = None,
    max_nodes: int = DEFAULT_MAX_NODES,
) -> CommonOptions:
    """The options every solver command shares; a malformed one is a usage error (one line, exit 2)."""
    with handle_errors():
        time_limit_s = parse_time_limit(time_limit)
    return CommonOptions(
        out=out,
        format=fmt.value,
        profiles=profiles,
        overrides=list(overrides or []),
        time_limit_s=time_limit_s,
        seed=seed,
        quiet=quiet,
        verbose=verbose,
        plot=plot,
        max_nodes=max_nodes,
    )


@contextmanager
def handle_errors() -> Iterator[None]:
    """Map expected failures to one stderr line each and their exit code; let bugs raise."""
    try:
        yield
    except PlannerError as exc:
        for line in exc.lines():
            err_line(line if line.startswith(("infeasible", "error")) or ": " in line else f"error: {line}")
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        err_line("interrupted")
        raise typer.Exit(130) from None


#: A file written after the plan: (option, path, writer). Plots and baseline plans are deferred so that a failing
#: one never costs the plan (see :mod:`planner.cli.outputs`).
Deferred = tuple[str, Path, Callable[[], object]]


def write_plan_out(plan: Plan, out: Path) -> None:
    """``--out``: the plan, atomically; a write failure is one line and exit 1."""
    write_output("--out", out, lambda: write_plan(plan, out))


def spec_inputs(loaded: LoadedSpec) -> list[Path]:
    """Files a spec names (trace, carbon series): inputs that no output may replace."""
    spec = loaded.spec
    named = [spec.workload.trace if spec.workload is not None else None]
    named.append(spec.dynamo.carbon_intensity if spec.dynamo is not None else None)
    return [loaded.resolve(p) for p in named if p]


def emit(plan: Plan, common: CommonOptions) -> None:
    """Write ``--out`` (atomically), then render the requested format to stdout."""
    if common.out is not None:
        write_plan_out(plan, common.out)
    if common.format == "json":
        out_text(plan_json(plan))
    elif common.format == "markdown":
        from planner.render.markdown import render_markdown

        out_text(render_markdown(plan))
    else:
        from planner.render.tables import render_plan

        render_plan(plan, stdout, verbose=common.verbose)
    if common.out is not None and not common.quiet:
        err_line(f"plan written to {display_path(common.out)}")


def execute(
    solver: str,
    spec: Path | None,
    common: CommonOptions,
    solve: Callable[[SolverInputs], Plan | tuple[Plan, list[Deferred]]],
    *,
    inputs: tuple[Path | None, ...] = (),
    outputs: tuple[Output, ...] = (),
) -> None:
    """Load inputs, check the output paths, run ``solve``, emit the plan, then write deferred files (plots, baseline
    plans); infeasible plans are still written, then exit 1.

    ``inputs`` and ``outputs`` are the command's own files besides the spec, ``--profiles``, ``--out`` and ``--plot``;
    no output may replace an input or a non-regular file (:func:`planner.cli.outputs.check_outputs`, exit 2).

    A solver that catches Ctrl-C and returns its best plan so far (status ``interrupted``) has that plan emitted
    as usual (stdout and ``--out``), then one ``interrupted: <message>`` line and exit 130; a Ctrl-C that escapes
    ``solve`` writes nothing and exits 130 too (:func:`handle_errors`).
    """
    with handle_errors():
        path, note = spec_note(spec, solver)
        if note and not common.quiet:
            err_line(note)
        loaded = load_inputs(path, common.profiles, common.overrides, common.max_nodes)
        check_outputs(
            (Output("--out", common.out), Output("--plot", common.plot, "png"), *outputs),
            (path, *spec_inputs(loaded.loaded), *inputs),
            (common.profiles,),
        )
        try:
            with progress(f"planning with {solver} ...", common.quiet):
                result = solve(loaded)
        except (InfeasibleError, SolverFailure) as exc:
            if exc.plan is not None and common.out is not None:
                write_plan_out(exc.plan, common.out)
            raise
        plan, deferred = result if isinstance(result, tuple) else (result, [])
        emit(plan, common)
        for flag, target, write in deferred:
            write_output(flag, target, write)
        if plan.solver.status == "interrupted":
            err_line(f"interrupted: {plan.solver.message}")
            raise typer.Exit(130)
        if plan.solver.status in ("infeasible", "error"):
            err_line(f"error: {solver} finished with status {plan.solver.status}: {plan.solver.message}")
            raise typer.Exit(1)
