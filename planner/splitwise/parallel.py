"""Evaluate a batch of grid points on the local process pool of :mod:`planner.executors`, deterministically.

The search decides *which* points to evaluate in fixed-size batches (``search.batch_points``) without looking at
the number of workers, and reads the results back in submission order; the pool only changes how long a batch
takes. The plan is therefore byte-identical with 1 worker or 16.

The pool is the one ``plan sweep`` runs its points on (:class:`~planner.executors.LocalExecutor`): workers
receive the evaluator once, when they start, and ignore SIGINT, so only the parent sees Ctrl-C (while it waits for
a result); it then terminates the workers at once (points in flight are dropped, a simulation can take many
seconds) and re-raises, leaving no process behind. Results are yielded in submission order as they arrive, so the
caller keeps every point finished before the interrupt.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import TracebackType

from planner.executors import LocalExecutor, available_cores
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


class PointRunner:
    """Runs batches in-process (1 worker) or on a lazily started local process pool."""

    def __init__(self, evaluator: Evaluator, workers: int) -> None:
        self.evaluator = evaluator
        self.workers = max(1, workers)
        self._pool = LocalExecutor(self.workers, initializer=_init, initargs=(evaluator,))

    def run(self, tasks: list[Task]) -> Iterator[PointResult]:
        """Results in the order of ``tasks``, each as soon as it and those before it are done."""
        if self.workers == 1 or len(tasks) <= 1:
            for t in tasks:
                yield self.evaluator.evaluate(*t)
            return
        yield from self._pool.imap(_run, tasks)

    def terminate(self) -> None:
        """Stop the pool now: cancel queued points, kill the workers (running points are lost), reap them."""
        self._pool.terminate()

    def close(self) -> None:
        self._pool.close()

    def __enter__(self) -> PointRunner:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None and issubclass(exc_type, KeyboardInterrupt):
            self.terminate()
        else:
            self.close()


__all__ = ["PointRunner", "Task", "available_cores"]
