"""A sweep point runs the single-plan command itself: ``plan <solver> SPEC --set ... --out FILE``.

The worker calls the ``plan`` app in-process with the point's command line (its output discarded, its diagnostics
kept as the point's error), then reads back the plan JSON the command wrote. So a sweep's plan is, byte for byte
outside ``run``, the plan ``plan splitwise ... --set ...`` writes, and any change to a command reaches sweeps with
no second code path to keep in step. This module is the one place the sweep touches the CLI; it is handed to the
executors by the CLI layer.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from planner.sweep.points import option_argv
from planner.sweep.task import INTERRUPTED, PointOutcome, PointTask

#: Output options that never change a plan: machine-readable stdout, no progress display.
OUTPUT_ARGS = ("--format", "json", "--quiet")


def _command(solver: str) -> Any:
    import typer.main

    from planner.cli import app

    group = typer.main.get_command(app)
    return group.commands[solver]  # type: ignore[attr-defined]


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

    from planner.cli import app

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
                code = app(argv, standalone_mode=False)
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
