"""Evaluate a batch of grid points on a process pool sized to the available cores, deterministically.

The search decides *which* points to evaluate in fixed-size batches (``search.batch_points``) without looking at
the number of workers, and reads the results back in submission order; the pool only changes how long a batch
takes. The plan is therefore byte-identical with 1 worker or 16.

Ctrl-C: a terminal delivers SIGINT to the whole foreground process group, workers included. Workers ignore it, so
only the parent sees a KeyboardInterrupt (while it waits for a result); it then terminates the workers at once
(points in flight are dropped, a simulation can take many seconds) and re-raises, leaving no process behind.
Results are yielded in submission order as they arrive, so the caller keeps every point finished before the
interrupt.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from types import TracebackType

from planner.splitwise.evaluate import Evaluator, PointResult
from planner.splitwise.model import Point

Task = tuple[str, Point, float]

_WORKER_EVALUATOR: Evaluator | None = None


def _init(evaluator: Evaluator) -> None:
    global _WORKER_EVALUATOR
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle (module doc)
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

    def run(self, tasks: list[Task]) -> Iterator[PointResult]:
        """Results in the order of ``tasks``, each as soon as it and those before it are done."""
        if self.workers == 1 or len(tasks) <= 1:
            for t in tasks:
                yield self.evaluator.evaluate(*t)
            return
        if self._pool is None:
            ctx = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=ctx, initializer=_init, initargs=(self.evaluator,)
            )
        try:
            futures = [self._pool.submit(_run, t) for t in tasks]
            for f in futures:
                yield f.result()
        except KeyboardInterrupt:
            self.terminate()
            raise

    def terminate(self) -> None:
        """Stop the pool now: cancel queued points, kill the workers (running points are lost), reap them."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        # ProcessPoolExecutor has no public way to stop running tasks before Python 3.14 (terminate_workers()).
        procs = list((getattr(pool, "_processes", None) or {}).values())
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
        pool.shutdown(wait=True, cancel_futures=True)
        for proc in procs:
            proc.join(timeout=5)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> PointRunner:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None and issubclass(exc_type, KeyboardInterrupt):
            self.terminate()
        else:
            self.close()
