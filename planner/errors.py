"""The expected failures of llmplan and the one place that maps them to exit codes.

Expected failures (bad input, an infeasible problem) are typed and print one line without a traceback.
Anything else is a bug and is allowed to crash loudly with its traceback.

Exit codes (see README "Exit codes"):
    0  success
    1  infeasible problem or runtime failure (a plan JSON with its status is still written when asked)
    2  usage, YAML, schema or missing-profile error (nothing is written)
    130 interrupted
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class PlannerError(Exception):
    """Base of every expected failure. ``exit_code`` decides the process exit status."""

    exit_code: int = 1

    def lines(self) -> list[str]:
        """The one-line messages printed to stderr, one per problem."""
        return [str(self)]


@dataclass(frozen=True)
class SpecProblem:
    """One problem in an input file, located by YAML path and source position."""

    file: str
    path: str
    message: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.path or '<root>'}: {self.message}"


class SpecError(PlannerError):
    """A cluster spec, profile file, trace or override is malformed.

    Raised by the loaders before any solver runs, so nothing has been written. The CLI prints one line per
    problem as ``file:line:col: dotted.path: message`` and exits 2.
    """

    exit_code = 2

    def __init__(self, problems: list[SpecProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))

    @classmethod
    def single(
        cls, file: str, path: str, message: str, line: int | None = None, column: int | None = None
    ) -> SpecError:
        return cls([SpecProblem(file=file, path=path, message=message, line=line, column=column)])

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems]


class UsageError(PlannerError):
    """A command-line option is malformed (bad unit, unknown name, contradictory flags). Exit 2."""

    exit_code = 2


#: How to fill a profile gap, whatever the command: the data itself.
ADD_A_TABLE = "add a table under profiles/ (see README)"


class ProfileMissingError(PlannerError):
    """The profile database has no data for a query and no estimator was allowed to fill the gap.

    Raised instead of inventing a number. The message names the GPU, model and phase (and any extra key) and
    how to proceed (add a profile table, or choose an analytic estimator where the solver offers one). Exit 2.
    """

    exit_code = 2

    def __init__(self, what: str, gpu: str | None = None, model: str | None = None, **keys: Any) -> None:
        self.what, self.gpu, self.model, self.keys = what, gpu, model, keys
        super().__init__(self._message(ADD_A_TABLE))

    def _message(self, how: str) -> str:
        parts = [f"gpu={self.gpu}" if self.gpu else "", f"model={self.model}" if self.model else ""]
        parts += [f"{k}={v}" for k, v in sorted(self.keys.items())]
        detail = ", ".join(p for p in parts if p)
        return f"no profile data for {self.what} ({detail}); {how}"

    def or_else(self, option: str) -> ProfileMissingError:
        """The same gap, naming the command's own way past it (``option``) beside adding a table."""
        err = ProfileMissingError(self.what, self.gpu, self.model, **self.keys)
        err.args = (err._message(f"{option}, or {ADD_A_TABLE}"),)
        return err


@dataclass
class Shortfall:
    """How far an infeasible constraint is from being met."""

    constraint: str
    limit: float | None = None
    best: float | None = None
    unit: str = ""
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        msg = f"{self.constraint}"
        if self.limit is not None and self.best is not None:
            gap = abs(self.best - self.limit)
            u = f" {self.unit}" if self.unit else ""
            msg += f" limit {_fmt(self.limit)}{u}, best achievable {_fmt(self.best)}{u} (short by {_fmt(gap)}{u})"
        if self.detail:
            msg += f": {self.detail}" if msg else self.detail
        return msg


def _fmt(x: float) -> str:
    return f"{x:.4g}" if abs(x) < 1e6 else f"{x:.6g}"


class InfeasibleError(PlannerError):
    """The problem has no solution under the given constraints.

    Carries which constraint cannot be met and by how much, and optionally the plan document (with status
    ``infeasible``) so that the CLI can still write it with ``--out``. Exit 1.
    """

    exit_code = 1

    def __init__(self, shortfall: Shortfall, plan: Any = None) -> None:
        self.shortfall = shortfall
        self.plan = plan
        super().__init__(f"infeasible: {shortfall.describe()}")


class SolverFailure(PlannerError):
    """The solver stopped without any usable answer (error, time limit with no incumbent). Exit 1."""

    exit_code = 1

    def __init__(self, message: str, plan: Any = None) -> None:
        self.plan = plan
        super().__init__(message)


class TimeLimitReached(SolverFailure):
    """``--time-limit`` ran out while the instance was still being built, before any plan existed. Exit 1.

    Raised by :func:`planner.solver.checkpoint`; a solve that already holds a plan never raises it (it returns the
    plan with status ``time_limit`` instead).
    """

    def __init__(self, stage: str, time_limit_s: float, message: str | None = None) -> None:
        self.stage = stage
        # ``message`` replaces the generic line where the solver can say more (DynamoLLM names the epoch).
        super().__init__(
            message
            or f"time limit reached while {stage}, before any plan existed "
            f"(--time-limit {time_limit_s:g} s counts the whole command)"
        )


class VerificationError(PlannerError):
    """The independent verifier disagrees with the solver. This is a bug in llmplan; it fails loudly (exit 1)."""

    exit_code = 1


def did_you_mean(word: str, choices: list[str] | tuple[str, ...] | set[str]) -> str:
    """Suffix ``" (did you mean 'x'?)"`` when a close match exists, else the list of known names."""
    import difflib

    pool = sorted(choices)
    close = difflib.get_close_matches(word, pool, n=1, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in pool}
        if word.lower() in lowered:
            close = [lowered[word.lower()]]
    if close:
        return f" (did you mean '{close[0]}'?)"
    shown = ", ".join(pool[:20]) + (", ..." if len(pool) > 20 else "")
    return f" (known: {shown})"
