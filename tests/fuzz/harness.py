"""Run fuzz cases in-process and check the promises of issue 18 on every one.

For each case: exit code 0, 1 or 2 only; no traceback (an uncaught exception is a failure whatever the code);
error lines that name the mangled file (or the option at fault); no input file changed (only declared outputs may
appear); and a bounded time per case (a case still running after :data:`CASE_TIMEOUT_S` counts as a hang). The
memory bound is the process's peak RSS over the whole run, which bounds every case.

The shipped profile database is parsed once and handed out as a fresh copy (``ProfileDB.load`` costs ~0.1 s of
YAML parsing per call, which would dominate 10,000 cases); a user ``--profiles`` layer is still read for real.
"""

from __future__ import annotations

import copy
import hashlib
import os
import resource
import shutil
import signal
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from tests.fuzz.cases import Case, Generator

#: A case still running after this long is a hang (the slowest legitimate case, a small solve, takes ~5 s).
CASE_TIMEOUT_S = 60.0


class CaseTimeout(BaseException):
    """Raised by the alarm inside a case that ran past :data:`CASE_TIMEOUT_S` (BaseException: not swallowed)."""


@dataclass
class Failure:
    index: int
    kind: str
    args: list[str]
    problem: str


@dataclass
class Summary:
    cases: int = 0
    exit_codes: Counter[int] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    tracebacks: int = 0
    hangs: int = 0
    changed_inputs: int = 0
    bad_messages: int = 0
    bad_exit_codes: int = 0
    slowest_s: float = 0.0
    slowest_case: int = -1
    wall_s: float = 0.0
    peak_rss_mb: float = 0.0
    failures: list[Failure] = field(default_factory=list)

    def line(self) -> str:
        codes = ", ".join(f"exit {c}: {n}" for c, n in sorted(self.exit_codes.items()))
        return (
            f"{self.cases} cases in {self.wall_s:.0f} s ({codes}); tracebacks {self.tracebacks}, hangs {self.hangs}, "
            f"changed inputs {self.changed_inputs}, unnamed/multi-line errors {self.bad_messages}, other exit codes "
            f"{self.bad_exit_codes}; slowest case {self.slowest_s:.2f} s (#{self.slowest_case}); "
            f"peak RSS {self.peak_rss_mb:.0f} MB"
        )


@contextmanager
def cached_profiles() -> Iterator[None]:
    """``ProfileDB.load`` with the shipped root parsed once (see module docstring)."""
    from planner.profiles.db import ProfileDB

    real = ProfileDB.load.__func__  # type: ignore[attr-defined]
    base = real(ProfileDB)

    def load(cls: type[ProfileDB], user_dir: Path | None = None, base_dir: Path | None = None) -> ProfileDB:
        if base_dir is not None:
            return real(cls, user_dir, base_dir)
        db = copy.deepcopy(base)
        if user_dir is not None:
            from planner.errors import SpecError

            if not user_dir.is_dir():
                raise SpecError.single(str(user_dir), "", "profile directory not found")
            db.roots.append(user_dir)
            db._load_root(user_dir)
        return db

    ProfileDB.load = classmethod(load)  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        ProfileDB.load = classmethod(real)  # type: ignore[method-assign,assignment]


@contextmanager
def cached_command() -> Iterator[None]:
    """typer's test runner rebuilds the click command from the app on every invoke (~0.25 s): build it once."""
    import typer.testing

    real = typer.testing._get_command
    cache: dict[int, Any] = {}

    def get(app: Any) -> Any:
        if id(app) not in cache:
            cache[id(app)] = real(app)
        return cache[id(app)]

    typer.testing._get_command = get  # type: ignore[assignment]
    try:
        yield
    finally:
        typer.testing._get_command = real


def _snapshot(folder: Path) -> dict[str, str]:
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not p.is_symlink():
            out[str(p.relative_to(folder))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _alarm(_signum: int, _frame: object) -> None:
    raise CaseTimeout


def _message_problem(case: Case, code: int, stderr: str) -> str | None:
    """Errors must be one line each and name the mangled file (or the option, or be click's usage box)."""
    if code == 0 or case.subject is None or "Usage:" in stderr:
        return None
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    if not lines:
        return "failed without a message"
    name = Path(case.subject).name
    for ln in lines:
        if ln.startswith(("--", "warning:", "interrupted", "guardrail", "note:")) or name in ln:
            continue
        if code == 1 and ln.startswith(("infeasible:", "error:")):
            continue  # a solver verdict on a valid input names a constraint, not a file
        return f"error line does not name {name}: {ln[:200]}"
    return None


def run_case(runner: CliRunner, case: Case, work: Path, summary: Summary) -> None:
    from planner.cli import app

    folder = work / f"case{case.index}"
    folder.mkdir()
    for d in case.dirs:
        (folder / d).mkdir(parents=True, exist_ok=True)
    for rel, data in case.files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    before = _snapshot(folder)
    cwd = os.getcwd()
    os.chdir(folder)
    start = time.perf_counter()
    problem = None
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, CASE_TIMEOUT_S)
    try:
        result = runner.invoke(app, case.args, catch_exceptions=True)
        signal.setitimer(signal.ITIMER_REAL, 0)
    except CaseTimeout:
        summary.hangs += 1
        problem = f"hang: still running after {CASE_TIMEOUT_S:g} s"
        result = None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        os.chdir(cwd)
    elapsed = time.perf_counter() - start
    if elapsed > summary.slowest_s:
        summary.slowest_s, summary.slowest_case = elapsed, case.index
    summary.cases += 1
    summary.kinds[case.kind] += 1
    if result is not None:
        code = result.exit_code
        summary.exit_codes[code] += 1
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            summary.tracebacks += 1
            problem = f"traceback: {type(result.exception).__name__}: {str(result.exception)[:200]}"
        elif code not in (0, 1, 2):
            summary.bad_exit_codes += 1
            problem = f"exit code {code}: {result.output[-300:]}"
        else:
            msg = _message_problem(case, code, result.stderr)
            if msg:
                summary.bad_messages += 1
                problem = msg
    after = _snapshot(folder)
    changed = [f for f, h in before.items() if after.get(f) != h and f not in case.outputs]
    if changed:
        summary.changed_inputs += 1
        problem = (problem + "; " if problem else "") + f"inputs changed: {changed}"
    created = sorted(set(after) - set(before) - set(case.outputs))
    if created:
        summary.changed_inputs += 1
        problem = (problem + "; " if problem else "") + f"undeclared files written: {created}"
    if problem:
        summary.failures.append(Failure(case.index, case.kind, case.args, problem))
    shutil.rmtree(folder, ignore_errors=True)


def run(count: int, seed: int = 0, start: int = 0) -> Summary:
    """Generate and run ``count`` cases (indices ``start`` ..) of ``seed``; returns what was found."""
    generator = Generator(seed)
    runner = CliRunner()
    summary = Summary()
    t0 = time.perf_counter()
    with cached_profiles(), cached_command(), tempfile.TemporaryDirectory(prefix="llmplan-fuzz-") as tmp:
        for index in range(start, start + count):
            run_case(runner, generator.case(index), Path(tmp), summary)
    summary.wall_s = time.perf_counter() - t0
    summary.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return summary
