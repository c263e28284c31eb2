"""Evaluate a batch of grid points on a process pool sized to the available cores, deterministically.

The search decides *which* points to evaluate in fixed-size batches (``search.batch_points``) without looking at
the number of workers, and reads the results back in submission order; the pool only changes how long a batch
takes. The plan is therefore byte-identical with 1 worker or 16.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from types import TracebackType

from planner.splitwise.evaluate import Evaluator, PointResult
from planner.splitwise.model import Point

Task = tuple[str, Point, float]

_WORKER_EVALUATOR: Evaluator | None = None


def _init(evaluator: Evaluator) -> None:
    global _WORKER_EVALUATOR
    _WORKER_EVALUATOR = evaluator


def _run(task: Task) -> PointResult:
    assert _WORKER_EVALUATOR is not None
    design, point, rate = task
    return _WORKER_EVALUATOR.evaluate(design, point, rate)


def available_cores() -> int:
    """Cores this process may use (the affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class PointRunner:
    """Runs batches in-process (1 worker) or on a lazily started ``spawn`` process pool."""

    def __init__(self, evaluator: Evaluator, workers: int) -> None:
        self.evaluator = evaluator
        self.workers = max(1, workers)
        self._pool: ProcessPoolExecutor | None = None

    def run(self, tasks: list[Task]) -> list[PointResult]:
        if self.workers == 1 or len(tasks) <= 1:
            return [self.evaluator.evaluate(*t) for t in tasks]
        if self._pool is None:
            ctx = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=ctx, initializer=_init, initargs=(self.evaluator,)
            )
        return list(self._pool.map(_run, tasks))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> PointRunner:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
