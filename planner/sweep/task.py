"""What a worker receives (:class:`PointTask`) and what it sends back (:class:`PointOutcome`).

Both are plain, picklable data: the same objects travel through a local process pool and a Ray cluster. The worker
returns the plan as JSON text rather than writing it, so only the machine that runs ``plan sweep`` writes into the
output folder (a Ray worker on another host need not see it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

#: Exit code of a point stopped by Ctrl-C: the point is not finished, the sweep stops (see planner.sweep.run).
INTERRUPTED = 130


@dataclass(frozen=True)
class PointTask:
    """One point to plan: the single-plan command line (``argv`` after ``plan``) and where to run it from."""

    index: int
    key: str
    argv: tuple[str, ...]
    cwd: str


@dataclass(frozen=True)
class PointOutcome:
    """How a point ended.

    ``status`` is the plan's solver status (``optimal`` ... ``infeasible``) when a plan was written, else
    ``error``; ``error`` holds the command's one-line diagnostics when it did not succeed; ``crashed`` marks an
    unexpected exception (a bug), which is recorded but not cached, so a rerun tries the point again.
    """

    index: int
    key: str
    exit_code: int
    status: str
    error: str = ""
    plan_json: str | None = None
    wall_s: float = 0.0
    crashed: bool = False


#: The function a worker applies to each task (module-level, so that it pickles by reference).
PointFn = Callable[[PointTask], PointOutcome]
