"""A fixed reference workload, timed in the same run as every benchmark so that limits are ratios, not seconds.

The machine the benchmarks run on is shared and its speed varies several-fold within minutes; an absolute limit is
either far too loose on a quiet machine or fails on a busy one. Each benchmark therefore times this workload right
before its own command, in a child process like the command (interpreter start-up, importing the CLI, then fixed
work in pure Python, numpy and scipy's HiGHS LP), and asserts ``wall <= k * reference``, ``k`` read from the
documented figure (tests/bench/figures.py: 3x the quoted time over the reference's quoted 2.0 s), so a regression of
3x or more fails on any load. Runs under a time limit get that limit stretched by the reference's CPU share
(:func:`scaled_limit`, at most 10x), so a busy machine does not pass off as a slower solver. On the quiet
development machine the reference takes about 2.0 s (1.5 s of it the interpreter and the CLI import) and 180 MB.

Run as a script it does the work once and prints nothing.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def workload() -> float:
    """Fixed work (about a second on an idle core): sorting, a dict-heavy loop, a dense LP. Returns a checksum."""
    import numpy as np
    from scipy.optimize import linprog

    rng = random.Random(0)
    xs = [rng.random() for _ in range(200_000)]
    total = sum(sorted(xs)[::1000])
    counts: dict[int, int] = {}
    for i in range(400_000):
        counts[i % 997] = counts.get(i % 997, 0) + i
    gen = np.random.default_rng(0)
    a = gen.random((120, 160))
    res = linprog(-np.ones(160), A_ub=a, b_ub=np.ones(120), bounds=(0, None), method="highs")
    return total + len(counts) + float(res.fun)


@dataclass(frozen=True)
class Child:
    """A finished child process: exit code, output, wall time and its own peak resident memory."""

    returncode: int
    stdout: str
    stderr: str
    wall_s: float
    peak_mb: float
    cpu_s: float = 0.0

    @property
    def cpu_share(self) -> float:
        """The share of one core the child got (CPU time / wall time): about 1 on a quiet machine."""
        return self.cpu_s / self.wall_s if self.wall_s > 0 else 1.0


def run_child(cmd: list[str], cwd: Path = ROOT) -> Child:
    """Run ``cmd`` and measure that child alone (``os.wait4``: RUSAGE_CHILDREN would mix in earlier children)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        cpu = usage.ru_utime + usage.ru_stime
        return Child(proc.returncode, out.read(), err.read(), wall, usage.ru_maxrss / 1024.0, cpu)


def reference() -> Child:
    """Time the reference workload in a child process (interpreter, CLI import, fixed work)."""
    child = run_child([sys.executable, str(Path(__file__).resolve())])
    assert child.returncode == 0, child.stderr
    return child


def scaled_limit(limit_s: float, ref: Child, cap: float = 10.0) -> float:
    """A documented ``--time-limit`` stretched by how little of a core the reference got (at most ``cap`` times).

    A run under a time limit reaches its documented plan only with about the CPU time it had when the figure was
    recorded; on a machine shared with other work the same wall-clock limit buys a fraction of it. At a tenth of a
    core (load 14 on the 2-core machine, niced) a 3x stretch left the generated 100-node cluster at 17,161 tok/s
    against its documented 17,798.66, so the stretch goes up to 10x: a loaded machine makes the bench slower, never
    a weaker solver look like the documented one or the reverse.
    """
    return limit_s * min(cap, max(1.0, 1.0 / max(ref.cpu_share, 1e-3)))


def plan_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "planner", *args]


def check_time(name: str, wall_s: float, ref: Child, k: float, documented_s: float) -> None:
    """Print the figure and assert ``wall <= k * reference``."""
    print(
        f"  [{name}] wall {wall_s:.2f} s = {wall_s / ref.wall_s:.2f} x reference ({ref.wall_s:.2f} s); limit {k:g} x; "
        f"documented {documented_s:g} s"
    )
    assert wall_s <= k * ref.wall_s, (
        f"{name}: {wall_s:.2f} s is {wall_s / ref.wall_s:.2f} x the reference workload ({ref.wall_s:.2f} s), "
        f"limit {k:g} x (documented {documented_s:g} s)"
    )


def check_memory(name: str, peak_mb: float, ref: Child, k: float, documented_mb: float) -> None:
    """Print the figure and assert ``peak <= k * reference peak`` (the reference imports the CLI too)."""
    print(f"  [{name}] peak {peak_mb:.0f} MB = {peak_mb / ref.peak_mb:.2f} x reference ({ref.peak_mb:.0f} MB)")
    assert peak_mb <= k * ref.peak_mb, (
        f"{name}: peak {peak_mb:.0f} MB is {peak_mb / ref.peak_mb:.2f} x the reference ({ref.peak_mb:.0f} MB), "
        f"limit {k:g} x (documented {documented_mb:g} MB)"
    )


if __name__ == "__main__":
    import planner.cli.app  # noqa: F401  (every benchmarked command pays this import)

    workload()
