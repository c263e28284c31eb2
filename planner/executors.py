"""Where independent work runs: an embedded process pool (default, no service) or a Ray cluster.

Used by ``plan sweep`` for its points, by splitwise for its grid of simulated points, by ``plan helix --pareto``
for its frontier points and by ``plan calibrate`` / ``plan accuracy`` for their fits and leave-one-out folds; it
sits at the bottom layer (it imports only planner.errors) so that a solver can use it without importing the sweep
package above it.

Both take a module-level function and a list of picklable tasks and yield results as they finish (any order):
the function is the same, so a point's plan is the same wherever it ran (outside the plan's ``run`` block). Both
take an ``initializer(*initargs)`` run once per worker before its first task: a caller hands its large shared
context over that way (Splitwise's evaluator, Helix's frontier instance) instead of pickling it with every task.

* :class:`LocalExecutor`: ``jobs`` worker processes on this machine; ``jobs=1`` runs in this process. Workers are
  forked from the parent when it is safe (one thread), so they start with llmplan already imported; otherwise
  they are spawned (a fresh interpreter each, which imports what it needs: seconds per worker, more than a whole
  ``--pareto`` frontier of a small cluster takes). A helper thread that can stop and restart (the terminal spinner
  of :func:`planner.render.console.progress`) registers a pause with :func:`fork_pause`: it is paused while the
  workers start, so that they can still be forked.
* :class:`RayExecutor`: one Ray task per point (``num_cpus=1``) on the cluster at ``address`` (``auto``,
  ``ray://HOST:PORT``) or, without an address, on a Ray instance started in this process. ``ray`` is an optional
  dependency (``pip install 'llmplan[ray]'``); without it a clear error names the extra. The initializer's
  arguments go to the object store once (``ray.put``) and each worker process runs the initializer once.

Ctrl-C: pool workers ignore SIGINT, so only the parent sees it; the executor then stops its workers at once (points
in flight are lost, finished ones were already yielded) and re-raises.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, TypeVar

from planner.errors import UsageError

T = TypeVar("T")
R = TypeVar("R")

RAY_EXTRA_HINT = "the Ray executor needs the optional extra llmplan[ray] (pip install 'llmplan[ray]')"


class Executor(Protocol):
    """Runs ``fn`` over tasks, yielding each result as it finishes."""

    name: str

    def imap_unordered(self, fn: Callable[[T], R], tasks: Sequence[T]) -> Iterator[R]: ...

    def close(self) -> None: ...


def available_cores() -> int:
    """Cores this process may use (the affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


#: Pauses of helper threads that may be stopped while workers are forked (see :func:`fork_pause`).
_FORK_PAUSES: list[Callable[[], AbstractContextManager[None]]] = []


@contextmanager
def fork_pause(pause: Callable[[], AbstractContextManager[None]]) -> Iterator[None]:
    """While this block runs, a pool about to start its workers enters ``pause()`` first.

    ``pause()`` stops a helper thread (a spinner) and restarts it on exit; with every other thread gone the
    workers are forked rather than spawned.
    """
    _FORK_PAUSES.append(pause)
    try:
        yield
    finally:
        _FORK_PAUSES.remove(pause)


@contextmanager
def _helpers_paused() -> Iterator[None]:
    """Enter every registered pause, then wait (at most a second) for their threads to end."""
    with ExitStack() as stack:
        for pause in list(_FORK_PAUSES):
            stack.enter_context(pause())
        deadline = time.monotonic() + 1.0
        while _FORK_PAUSES and threading.active_count() > 1 and time.monotonic() < deadline:
            time.sleep(0.005)
        yield


def _worker_init(initializer: Callable[..., None] | None, initargs: tuple[Any, ...]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle (module doc)
    if initializer is not None:
        initializer(*initargs)


class LocalExecutor:
    """A process pool of ``jobs`` workers on this machine (``jobs=1``: in this process, no pool).

    ``initializer(*initargs)`` runs once in each worker (Splitwise hands its evaluator over this way, once per
    worker rather than once per point); with ``jobs=1`` it runs once in this process before the first task.
    """

    name = "local"

    def __init__(
        self, jobs: int = 1, initializer: Callable[..., None] | None = None, initargs: tuple[Any, ...] = ()
    ) -> None:
        self.jobs = max(1, jobs)
        self.initializer = initializer
        self.initargs = initargs
        self._pool: ProcessPoolExecutor | None = None
        self._initialised_here = False

    def _context(self) -> multiprocessing.context.BaseContext:
        # fork only while this process has one thread (forking a threaded process can deadlock the child);
        # otherwise spawn, which leaves no server process behind (forkserver would) and imports llmplan afresh.
        if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
            return multiprocessing.get_context("fork")
        return multiprocessing.get_context("spawn")

    def start(self, fn: Callable[..., Any]) -> None:
        """Start the workers now (before a progress display starts its thread, so they can be forked).

        Forked workers share this process's memory copy-on-write, but a garbage collection in a worker writes to
        the header of every object it examines, copying the pages they sit on. The objects alive at the fork are
        frozen (``gc.freeze``) while the workers start, so the workers' collections leave them alone; this process
        unfreezes them once the workers are running. On a 60-point Splitwise sweep with 2 workers this cut the
        pages the workers copied by a third (40,600 -> 27,000 faults) and their CPU overhead over one in-process
        worker from about 9 % to about 3 %.
        """
        if self.jobs > 1 and self._pool is None:
            with _helpers_paused():
                self._launch()

    def _launch(self) -> None:
        context = self._context()
        pool = self._pool = ProcessPoolExecutor(
            max_workers=self.jobs,
            mp_context=context,
            initializer=_worker_init,
            initargs=(self.initializer, self.initargs),
        )
        frozen = context.get_start_method() == "fork"
        if frozen:
            gc.freeze()
        try:  # launch every worker now: with fork they copy this process as it is at this moment
            for f in [pool.submit(os.getpid) for _ in range(self.jobs)]:
                f.result()
        except BaseException:  # Ctrl-C while the workers start: leave none behind
            self.terminate()
            raise
        finally:
            if frozen:
                gc.unfreeze()

    def _in_process(self, fn: Callable[[T], R], tasks: Sequence[T]) -> Iterator[R]:
        if self.initializer is not None and not self._initialised_here:
            self.initializer(*self.initargs)
            self._initialised_here = True
        for t in tasks:
            yield fn(t)

    def imap(self, fn: Callable[[T], R], tasks: Sequence[T]) -> Iterator[R]:
        """Results in the order of ``tasks``, each as soon as it and those before it are done.

        Leaving the loop early cancels the tasks not yet started and keeps the workers for the next call.
        """
        if self.jobs == 1 or len(tasks) <= 1:
            yield from self._in_process(fn, tasks)
            return
        self.start(fn)
        assert self._pool is not None
        futures: list[Future[R]] = []
        try:
            futures = [self._pool.submit(fn, t) for t in tasks]
            for f in futures:
                yield f.result()
        except KeyboardInterrupt:
            self.terminate()
            raise
        finally:
            for f in futures:
                f.cancel()

    def imap_unordered(self, fn: Callable[[T], R], tasks: Sequence[T]) -> Iterator[R]:
        """Results as they finish (any order); Ctrl-C, or leaving the loop early, stops the workers at once."""
        if self.jobs == 1 or len(tasks) <= 1:
            yield from self._in_process(fn, tasks)
            return
        self.start(fn)
        assert self._pool is not None
        pending: set[Future[R]] = set()
        try:
            pending = {self._pool.submit(fn, t) for t in tasks}
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in done:
                    yield f.result()
        except BaseException:
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

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            self.terminate()
        else:
            self.close()


def import_ray() -> Any:
    """``import ray``, or a usage error (exit 2) naming the optional extra that provides it."""
    try:
        import ray
    except ImportError:
        raise UsageError(RAY_EXTRA_HINT) from None
    return ray


class RayExecutor:
    """One Ray task per point on a Ray cluster (``address``) or a Ray instance started here (no address).

    ``jobs`` caps the points in flight (default: two per CPU of the cluster), so Ctrl-C has little to cancel and a
    huge sweep does not flood the scheduler. ``initializer(*initargs)`` runs once in each Ray worker process that
    receives a task, before its first one (the arguments travel once, through the object store).
    """

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        jobs: int | None = None,
        initializer: Callable[..., None] | None = None,
        initargs: tuple[Any, ...] = (),
    ) -> None:
        self.ray = import_ray()
        self.address = address
        self.jobs = jobs
        self.initializer = initializer
        self.initargs = initargs
        self._started = False

    def start(self, fn: Callable[..., Any] | None = None) -> None:
        ray = self.ray
        if ray.is_initialized():
            return
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if self.address is None and self.jobs:
            kwargs["num_cpus"] = self.jobs
        try:
            ray.init(address=self.address, **kwargs)
        except ConnectionError as exc:
            raise UsageError(f"--ray-address {self.address}: cannot connect to a Ray cluster ({exc})") from None
        self._started = True

    def imap_unordered(self, fn: Callable[[T], R], tasks: Sequence[T]) -> Iterator[R]:
        if not tasks:
            return
        self.start(fn)
        ray = self.ray
        window = self.jobs or max(2, 2 * int(ray.cluster_resources().get("CPU", 1)))
        queue = list(tasks)
        queue.reverse()
        in_flight: list[Any] = []
        if self.initializer is None:
            remote = ray.remote(num_cpus=1, max_retries=0)(fn)

            def submit(task: T) -> Any:
                return remote.remote(task)
        else:
            wrapped = ray.remote(num_cpus=1, max_retries=0)(_ray_call)
            # boxed in a list so that Ray hands the reference over unresolved: a worker fetches it only once
            context = (self.initializer, [ray.put(self.initargs)], uuid.uuid4().hex)

            def submit(task: T) -> Any:
                return wrapped.remote(fn, task, context)

        try:
            while queue or in_flight:
                while queue and len(in_flight) < window:
                    in_flight.append(submit(queue.pop()))
                done, in_flight = ray.wait(in_flight, num_returns=1)
                for ref in done:
                    yield ray.get(ref)
        except BaseException:
            for ref in in_flight:
                ray.cancel(ref, force=True)
            raise

    def close(self) -> None:
        if self._started and self.ray.is_initialized():
            self.ray.shutdown()
        self._started = False

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


#: The initializer run last in this Ray worker process (by context id), so that it runs once per worker.
_RAY_INITIALISED: dict[str, str] = {}


def _ray_call(fn: Callable[[T], R], task: T, context: tuple[Callable[..., None], list[Any], str]) -> R:
    """Run ``fn(task)`` in a Ray worker, after the executor's initializer if this worker has not run it yet."""
    initializer, boxed, token = context
    if _RAY_INITIALISED.get("context") != token:
        initializer(*import_ray().get(boxed[0]))
        _RAY_INITIALISED["context"] = token
    return fn(task)


def make_executor(
    kind: str,
    jobs: int | None = None,
    ray_address: str | None = None,
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
) -> LocalExecutor | RayExecutor:
    """The executor ``--executor`` names (``local`` or ``ray``); ``jobs`` 0 or None: one per core (Ray: its CPUs)."""
    if kind == "local":
        return LocalExecutor(jobs if jobs else available_cores(), initializer, initargs)
    if kind == "ray":
        return RayExecutor(ray_address, jobs or None, initializer, initargs)
    raise UsageError(f"--executor must be local or ray (got {kind!r})")


@dataclass(frozen=True)
class ExecutorConfig:
    """Where a command's inner loop runs, as its options say (``--executor``, ``--jobs``, ``--ray-address``).

    Handed down to a runner that builds the executor only when it has work for it, with its own initializer.
    ``jobs`` 0: one worker per core (Ray: the cluster's CPUs); 1 with ``local``: in this process, no pool.
    """

    kind: str = "local"
    jobs: int = 1
    ray_address: str | None = None

    def make(
        self, initializer: Callable[..., None] | None = None, initargs: tuple[Any, ...] = ()
    ) -> LocalExecutor | RayExecutor:
        return make_executor(self.kind, self.jobs, self.ray_address, initializer, initargs)
