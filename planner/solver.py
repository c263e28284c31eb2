"""The vocabulary every solver shares: options, statuses, reports and the assumptions figures rest on.

This module sits at the bottom of the solver layer (it imports only pydantic and :mod:`planner.profiles.schema`), so
every solver package, the plan document and the CLI speak the same words:

* :class:`SolveOptions`: one options object for every solver's entry point ``solve(instance, options)``;
* :class:`Status`: ``optimal`` < ``feasible`` < ``time_limit`` < ``interrupted`` < ``infeasible`` < ``error``,
  ordered from best to worst so a run made of several solves reports its worst part (:meth:`Status.worst`);
* :class:`SolveReport`: what a solver proved (status, objective, bound, gap, wall time);
* :class:`Assumption`: what one figure rests on (measured, synthetic, analytic, an option, the paper).
"""

from __future__ import annotations

import enum
import math
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from planner.errors import TimeLimitReached
from planner.profiles.schema import Provenance


class Status(enum.StrEnum):
    """How a solve ended; the members are ordered from best to worst."""

    # A StrEnum: ``Status.optimal == "optimal"`` and the plan JSON holds the plain word.
    # optimal: proved optimal (within the solver's gap tolerance); feasible: a verified plan, optimality not proved
    # (a heuristic search, or stopped by --gap / --stall); time_limit: stopped by --time-limit with the best plan so
    # far (one MILP of a rolling horizon may also end time_limit before any solution: its caller keeps the epochs
    # solved so far or, with none, raises TimeLimitReached); interrupted: stopped by Ctrl-C (the SolveOptions.cancel
    # hook) with the best plan so far; infeasible: no plan meets the constraints (the report says which one fails and
    # by how much); error: the backend failed.
    optimal = "optimal"
    feasible = "feasible"
    time_limit = "time_limit"
    interrupted = "interrupted"
    infeasible = "infeasible"
    error = "error"

    @property
    def rank(self) -> int:
        """Position in the best-to-worst order (0 = optimal)."""
        return _STATUS_ORDER.index(self)

    @property
    def tier(self) -> int:
        """How usable the result is, coarser than the order: 0 proved optimal, 1 a verified plan, 2 cut short (time
        limit or Ctrl-C) with the best plan so far, 3 no plan. ``plan diff`` flags a move to a higher tier."""
        return _STATUS_TIER[self]

    @classmethod
    def worst(cls, statuses: Iterable[str], default: Status | None = None) -> Status:
        """The worst of several statuses (a day of epochs, a cluster and a pool level): what the whole run reports."""
        found = [cls(s) for s in statuses]
        if not found:
            if default is None:
                raise ValueError("Status.worst of no statuses needs a default")
            return default
        return max(found, key=lambda s: s.rank)


_STATUS_ORDER: tuple[Status, ...] = tuple(Status)
_STATUS_TIER: dict[Status, int] = {
    Status.optimal: 0,
    Status.feasible: 1,
    Status.time_limit: 2,
    Status.interrupted: 2,
    Status.infeasible: 3,
    Status.error: 3,
}


def never_cancelled() -> bool:
    """The default :attr:`SolveOptions.cancel` hook: nothing asks the solver to stop early."""
    return False


@dataclass(frozen=True)
class SolveOptions:
    """Options every solver's entry point ``solve(instance, options)`` receives; recorded in ``inputs.options``.

    Each solver's own options (``HelixOptions``, ``SplitwiseOptions``, ``DynamoOptions``) extend this class, so the
    four shared knobs have one name and one meaning everywhere:

    * ``time_limit_s``: the wall clock of the *whole command*, counted from ``started_at`` (the CLI stamps the
      moment the command started; without a stamp, from the moment the solve starts). Helix stops its constructions
      and MILP at that deadline, Splitwise's search stops at it, DynamoLLM splits what remains across the epochs
      still to solve and stops (status ``time_limit``) when it runs out;
    * ``seed``: seeds every random choice: solver backends (CP-SAT, SCIP) and every sampler. Same inputs and seed,
      same plan bytes;
    * ``workers``: threads or processes; ``1`` plus a fixed seed is what makes a MILP byte-identical between runs;
    * ``rel_gap``: stop once the best plan is within this relative gap of the proven bound (where a solver proves
      bounds);
    * ``cancel``: polled between units of work (the MILP watch loop, designs, epochs); returning True stops the
      solve like Ctrl-C does (status ``interrupted``, best plan so far kept). Library callers (a sweep, a test)
      stop a solve with it; on the command line Ctrl-C arrives as ``KeyboardInterrupt`` with the same effect.
    """

    time_limit_s: float = 60.0
    seed: int = 0
    workers: int = 1
    rel_gap: float = 1e-3
    stall_s: float | None = None
    cancel: Callable[[], bool] = field(default=never_cancelled, compare=False, repr=False)
    started_at: float | None = field(default=None, compare=False, repr=False)

    def deadline(self) -> float:
        """The ``time.monotonic()`` instant the whole command must finish by."""
        start = self.started_at if self.started_at is not None else time.monotonic()
        return start + self.time_limit_s

    def shared(self) -> dict[str, object]:
        """The shared options as recorded in a plan (``cancel`` and ``started_at`` are not options of the result)."""
        return {"time_limit_s": self.time_limit_s, "seed": self.seed, "workers": self.workers, "rel_gap": self.rel_gap}


def remaining_s(deadline: float) -> float:
    """Seconds left until a ``time.monotonic()`` deadline (never negative)."""
    return max(deadline - time.monotonic(), 0.0)


#: The solves whose instance is being built, innermost last (see :func:`stop_scope`).
_BUILDING: ContextVar[tuple[SolveOptions, ...]] = ContextVar("llmplan_building", default=())


@contextmanager
def stop_scope(opts: SolveOptions) -> Iterator[None]:
    """Make :func:`checkpoint` honour ``opts`` (its deadline and ``cancel`` hook) inside the ``with`` block.

    Building an instance (link tables, bounds, baselines, pruning) takes minutes on a thousand nodes and happens
    before the solver's own time-limited loops, so it must stop at the command's deadline too. The options travel
    in a context variable rather than through every bound and table builder's signature: those functions are also
    called outside any solve (tests, ``plan simulate``), where no deadline applies. Scopes nest (a sub-solve inside
    the command); every enclosing deadline is honoured. ``opts.started_at`` must be set (the command's start).
    """
    token = _BUILDING.set((*_BUILDING.get(), opts))
    try:
        yield
    finally:
        _BUILDING.reset(token)


def checkpoint(stage: str) -> None:
    """Stop here if a solve in scope was cancelled (``KeyboardInterrupt``, like Ctrl-C) or its deadline passed
    (:class:`~planner.errors.TimeLimitReached`, naming ``stage``). A no-op outside :func:`stop_scope`.

    Called in the loops of instance construction, where no plan exists yet: the caller that holds a plan catches
    :class:`~planner.errors.TimeLimitReached` and returns that plan with status ``time_limit`` instead.
    """
    scopes = _BUILDING.get()
    if not scopes:
        return
    now = time.monotonic()
    for opts in scopes:
        if opts.cancel():
            raise KeyboardInterrupt
        if opts.started_at is not None and now >= opts.started_at + opts.time_limit_s:
            raise TimeLimitReached(stage, scopes[0].time_limit_s)


@dataclass(frozen=True)
class SolveReport:
    """What the solver proved. ``gap`` is (bound - objective) / objective for maximisation."""

    backend: str
    status: Status
    objective: float | None = None
    best_bound: float | None = None
    message: str = ""
    wall_s: float = 0.0

    @property
    def gap(self) -> float | None:
        return relative_gap(self.objective, self.best_bound)

    def describe(self) -> str:
        """``optimal`` / ``feasible, gap 2.1%`` / ``time_limit, gap 5.0%`` / ``infeasible``."""
        gap = self.gap
        if self.status in (Status.feasible, Status.time_limit, Status.interrupted) and gap is not None:
            return f"{self.status}, gap {gap * 100:.2f}%"
        return str(self.status)


class Assumption(BaseModel):
    """What one figure (or family of figures) rests on."""

    # Defined here, below the solvers, so they can state their assumptions without importing the plan document;
    # planner.plan re-exports it.

    model_config = ConfigDict(extra="forbid")

    subject: str = Field(description="the figure or input this is about, e.g. tp[A100-40G]")
    basis: Provenance | Literal["default", "option", "paper"] = Field(description="measured, analytic, ...")
    detail: str = ""


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    """Relative optimality gap |bound - objective| / max(|objective|, 1e-9); None when either is unknown."""
    if objective is None or bound is None or not math.isfinite(bound) or not math.isfinite(objective):
        return None
    gap = abs(bound - objective) / max(abs(objective), 1e-9)
    # Floating-point noise (bound and objective computed along different paths) is not a gap.
    return 0.0 if gap < 1e-9 else gap


def status_from_cpsat(name: str, has_solution: bool, limit_hit: bool = True) -> Status:
    """Map a CP-SAT status name (``OPTIMAL``, ``FEASIBLE``, ``INFEASIBLE``, ``UNKNOWN``, ``MODEL_INVALID``)."""
    if name == "OPTIMAL":
        return Status.optimal
    if name == "FEASIBLE":
        return Status.time_limit if limit_hit else Status.feasible
    if name == "INFEASIBLE":
        return Status.infeasible
    if name == "UNKNOWN":
        return Status.time_limit if has_solution else Status.error
    return Status.error


def status_from_mathopt(reason: str, has_solution: bool, limit: str | None = None) -> Status:
    """Map a MathOpt ``TerminationReason`` name (``OPTIMAL``, ``FEASIBLE``, ``NO_SOLUTION_FOUND``, ...).

    ``limit`` is the ``Limit`` name of a stop by a limit (``TIME``, ``NODE``, ...). SCIP stopped by its time limit
    before any solution ends ``NO_SOLUTION_FOUND`` with limit ``TIME``: that is the time limit (``time_limit``, no
    plan to keep; the caller says so), not a backend failure. Without ``limit`` such a stop stays ``error``.
    """
    if reason == "OPTIMAL":
        return Status.optimal
    if reason in ("INFEASIBLE", "INFEASIBLE_OR_UNBOUNDED"):
        return Status.infeasible
    if reason == "FEASIBLE":
        return Status.time_limit
    if reason == "NO_SOLUTION_FOUND":
        return Status.time_limit if has_solution or limit == "TIME" else Status.error
    return Status.error
