"""``plan sweep SWEEP.yaml --out DIR``: plan every point of a scenario sweep, locally or on a Ray cluster.

A sweep point runs the single-plan command itself, ``plan <solver> SPEC --set ... --out FILE``: the worker calls
the ``plan`` app in-process with the point's command line (its output discarded, its diagnostics kept as the
point's error), then returns the plan JSON the command wrote. So a sweep's plan is, byte for byte outside ``run``,
the plan ``plan splitwise ... --set ...`` writes, and any change to a command reaches sweeps with no second code
path to keep in step. The sweep machinery itself (file, points, cache, executors, table) is :mod:`planner.sweep`,
which imports nothing from the CLI: this module hands it :func:`run_point` and :func:`check_option`.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text as RichText
from typer.core import TyperCommand, TyperGroup

from planner.cli.common import (
    ExecutorKind,
    ExecutorOpt,
    QuietOpt,
    RayAddressOpt,
    complete_spec,
    executor_config,
    handle_errors,
)
from planner.executors import LocalExecutor
from planner.paths import display_path
from planner.render import console
from planner.render.console import err_line
from planner.sweep.points import option_argv
from planner.sweep.run import SweepRun, run_sweep
from planner.sweep.schema import DEFAULT_MAX_POINTS, Sweep, load_sweep
from planner.sweep.task import INTERRUPTED, PointOutcome, PointTask

#: Output options that never change a plan: machine-readable stdout, no progress display.
OUTPUT_ARGS = ("--format", "json", "--quiet")


@functools.cache
def _plan_group() -> TyperGroup:
    """The ``plan`` app as a click group, built once per process.

    ``app(argv)`` rebuilds it from the typer declarations on every call (about 20 ms of CPU, a fifth of a small
    Splitwise point); a sweep worker runs hundreds of points through the same commands, so it keeps one.
    """
    import typer.main

    from planner.cli import app

    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)  # the app has several commands, so typer builds a group of them
    return group


def _command(solver: str) -> TyperCommand:
    command = _plan_group().commands[solver]
    assert isinstance(command, TyperCommand)
    return command


def has_option(solver: str, name: str) -> bool:
    """Whether ``plan <solver>`` has ``--name``."""
    return any(f"--{name}" in p.opts for p in _command(solver).params)


def check_option(solver: str, name: str, value: Any) -> str | None:
    """Why ``plan <solver> --name value`` would be refused by the command's parser, or None."""
    from typer.exceptions import TyperException

    cmd = _command(solver)
    flags = sorted(o for p in cmd.params for o in p.opts if o.startswith("--"))
    if f"--{name}" not in flags:
        from planner.errors import did_you_mean

        return f"no such option --{name} for plan {solver}{did_you_mean(f'--{name}', flags)}"
    try:
        cmd.make_context(solver, ["spec.yaml", *option_argv(name, value)], resilient_parsing=False)
    except TyperException as exc:
        return _message(exc)
    return None


def _message(exc: Exception) -> str:
    fmt = getattr(exc, "format_message", None)
    return str(fmt() if callable(fmt) else exc)


def run_point(task: PointTask) -> PointOutcome:
    """Plan one point through the ``plan`` app; never raises for a failing point (Ctrl-C excepted)."""
    from typer.exceptions import TyperException

    if task.cwd and os.getcwd() != task.cwd and os.path.isdir(task.cwd):
        os.chdir(task.cwd)  # paths in the plan are shown relative to the working directory
    start = time.perf_counter()
    out, err = io.StringIO(), io.StringIO()
    with tempfile.TemporaryDirectory(prefix="llmplan-point-") as tmp:
        plan_file = Path(tmp) / "plan.json"
        argv = [*task.argv, "--out", str(plan_file), *OUTPUT_ARGS]
        crashed = False
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = _plan_group().main(argv, standalone_mode=False)
        except TyperException as exc:  # the command line did not parse: a usage error, as `plan` reports it
            code = int(getattr(exc, "exit_code", 2) or 2)
            err.write(f"error: {_message(exc)}\n")
        except KeyboardInterrupt:
            code = INTERRUPTED
        except Exception as exc:  # a bug in a solver: recorded for this point, not fatal to the sweep
            code, crashed = 1, True
            err.write(f"crash: {type(exc).__name__}: {exc}\n")
        exit_code = int(code or 0)
        text = plan_file.read_text(encoding="utf-8") if plan_file.is_file() else None
    status = str(json.loads(text)["solver"]["status"]) if text is not None else "error"
    lines = [ln.strip() for ln in err.getvalue().splitlines() if ln.strip()]
    error = " | ".join(lines[-3:]) if exit_code != 0 else ""
    return PointOutcome(
        index=task.index,
        key=task.key,
        exit_code=exit_code,
        status=status,
        error=error,
        plan_json=text,
        wall_s=round(time.perf_counter() - start, 3),
        crashed=crashed,
    )


# ------------------------------------------------------------------------------------------------ the command


class _RateColumn(ProgressColumn):
    """Points per second over the run so far."""

    def render(self, task: Task) -> RichText:
        speed = task.finished_speed or task.speed
        return RichText("-- points/s" if speed is None else f"{speed:.2f} points/s")


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console.stderr,
        transient=True,
    )


def sweep_command(
    sweep_file: Annotated[
        Path,
        typer.Argument(
            help="Sweep YAML: base spec, solver, options, axes.", dir_okay=False, autocompletion=complete_spec
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for results.parquet, results.csv, plans/ and the cache.")
    ],
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", min=0, help="Points planned at once (0: one per core; Ray: its CPUs).")
    ] = 0,
    executor: ExecutorOpt = ExecutorKind.local,
    ray_address: RayAddressOpt = None,
    summary: Annotated[bool, typer.Option("--summary", help="Print the Pareto frontiers after the sweep.")] = False,
    plot: Annotated[Path | None, typer.Option("--plot", help="Draw the Pareto frontiers to this PNG.")] = None,
    max_points: Annotated[
        int, typer.Option("--max-points", min=1, help="Refuse sweeps with more points than this.")
    ] = DEFAULT_MAX_POINTS,
    quiet: QuietOpt = False,
) -> None:
    """Plan every point of a sweep; finished points are cached in --out, so a rerun resumes."""
    with handle_errors():
        where = executor_config(executor, jobs, ray_address)
        sweep = load_sweep(sweep_file, check_option, max_points)
        runner = where.make()
        # a sweep is parallel across points, not inside one (no MILP threads, no pool of frontier points per point)
        defaults = {name: 1 for name in ("workers", "jobs") if has_option(sweep.solver, name)}
        if isinstance(runner, LocalExecutor):
            runner.start(run_point)  # fork the workers before the progress display starts its thread
        else:
            runner.start()
        bar = None if quiet or not console.stderr.is_terminal else _progress()
        task_id = None

        def on_start(total: int, cached: int) -> None:
            nonlocal task_id
            if not quiet:
                where = f"{runner.name} x{getattr(runner, 'jobs', None) or '?'}"
                err_line(f"{sweep.display}: {total} points, {cached} cached, {total - cached} to plan ({where})")
            if bar is not None:
                bar.start()
                task_id = bar.add_task(sweep.name, total=total - cached)

        def on_result(outcome: PointOutcome, done: int, total: int) -> None:
            if bar is not None and task_id is not None:
                bar.advance(task_id)

        try:
            result = run_sweep(sweep, out, runner, run_point, defaults=defaults, on_start=on_start, on_result=on_result)
        finally:
            if bar is not None:
                bar.stop()
            runner.close()
        _report(sweep, out, result, summary, plot, quiet)
        if result.interrupted:
            err_line(
                f"interrupted: {len(result.table)} of {result.total} points finished and kept; "
                "rerun the same command to plan the rest"
            )
            raise typer.Exit(130)


def _report(sweep: Sweep, out: Path, result: SweepRun, summary: bool, plot: Path | None, quiet: bool) -> None:
    table = result.table
    if not quiet:
        counts: dict[str, int] = {}
        if not table.empty:
            counts = {str(k): int(v) for k, v in table["status"].value_counts().sort_index().items()}
        by_status = ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"
        err_line(
            f"{len(table)} of {result.total} points ({by_status}); {result.cached} from the cache, "
            f"{result.ran} planned in {result.wall_s:.1f} s"
        )
        err_line(f"results: {display_path(out / 'results.parquet')}, {display_path(out / 'results.csv')}")
    if summary:
        from planner.render.tables import draw_report
        from planner.sweep.report import summary as summary_report

        draw_report(summary_report(table, sweep.labels), console.stdout)
    if plot is not None:
        from planner.render.sweep import write_sweep
        from planner.sweep.results import frontiers

        write_sweep(frontiers(table, sweep.labels) if not table.empty else [], f"sweep {sweep.name}", plot)
        if not quiet:
            err_line(f"plot written to {display_path(plot)}")
