"""Solver options and the status vocabulary every solver reports in (one place maps backend statuses).

Plans and reports state results in the same words every time: ``optimal``, ``feasible`` (stopped with a gap),
``time_limit`` (stopped by the time limit with an incumbent), ``infeasible``, ``error``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Status = Literal["optimal", "feasible", "time_limit", "infeasible", "interrupted", "error"]


@dataclass(frozen=True)
class SolveOptions:
    """Options shared by every solver; recorded in the plan's ``inputs.options``.

    ``workers=1`` plus a fixed ``seed`` is what makes the plan byte-identical between runs; more workers may
    find better answers faster but CP-SAT's parallel search is not deterministic.
    """

    time_limit_s: float = 60.0
    seed: int = 0
    workers: int = 1
    rel_gap: float = 1e-3
    stall_s: float | None = None


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
        if self.status in ("feasible", "time_limit", "interrupted") and gap is not None:
            return f"{self.status}, gap {gap * 100:.2f}%"
        return self.status


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
        return "optimal"
    if name == "FEASIBLE":
        return "time_limit" if limit_hit else "feasible"
    if name == "INFEASIBLE":
        return "infeasible"
    if name == "UNKNOWN":
        return "time_limit" if has_solution else "error"
    return "error"


def status_from_mathopt(reason: str, has_solution: bool) -> Status:
    """Map a MathOpt ``TerminationReason`` name (``OPTIMAL``, ``FEASIBLE``, ``NO_SOLUTION_FOUND``, ...)."""
    if reason == "OPTIMAL":
        return "optimal"
    if reason in ("INFEASIBLE", "INFEASIBLE_OR_UNBOUNDED"):
        return "infeasible"
    if reason == "FEASIBLE":
        return "time_limit"
    if reason == "NO_SOLUTION_FOUND":
        return "time_limit" if has_solution else "error"
    return "error"
