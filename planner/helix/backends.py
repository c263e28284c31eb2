"""Thin adapters so the per-node formulation in :mod:`planner.helix.model` is written once for every backend.

* :class:`CpSatBackend`: OR-Tools CP-SAT. Flows are integers in units of ``resolution`` tokens/s; capacities are
  rounded *up*, so the integer model is a relaxation of the real one within one unit per arc and its proven bound
  stays valid (the placement it returns is then re-evaluated exactly); implications are native enforcement
  literals (indicator constraints, no big-M).
* :class:`MathOptBackend`: OR-Tools MathOpt with SCIP or HiGHS. Flows are continuous tokens/s; implications use
  big-M with the smallest valid M (the reference formulation, section 6).
* :class:`CountingBackend`: builds nothing and counts variables and constraints (pruning reports "before/after").
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

Sense = Literal["<=", ">=", "=="]


@dataclass
class Expr:
    """A linear expression ``sum(coef * var) + const`` in backend-neutral form."""

    terms: list[tuple[float, Any]] = field(default_factory=list)
    const: float = 0.0

    def __add__(self, other: Expr | float) -> Expr:
        if isinstance(other, Expr):
            return Expr(self.terms + other.terms, self.const + other.const)
        return Expr(list(self.terms), self.const + other)

    def __sub__(self, other: Expr | float) -> Expr:
        if isinstance(other, Expr):
            return Expr(self.terms + [(-c, v) for c, v in other.terms], self.const - other.const)
        return Expr(list(self.terms), self.const - other)

    def scaled(self, factor: float) -> Expr:
        return Expr([(c * factor, v) for c, v in self.terms], self.const * factor)


def var(v: Any, coef: float = 1.0) -> Expr:
    return Expr([(coef, v)])


def total(items: list[Expr]) -> Expr:
    out = Expr()
    for e in items:
        out = out + e
    return out


class Backend:
    """What the formulation needs from a solver library."""

    name = "abstract"
    integer_flows = False

    def int_var(self, lb: int, ub: int, name: str) -> Any:
        raise NotImplementedError

    def bool_var(self, name: str) -> Any:
        raise NotImplementedError

    def flow_var(self, ub: float, name: str) -> Any:
        raise NotImplementedError

    def flow_value(self, tok_s: float) -> float:
        """A capacity in the backend's flow unit (integer units for CP-SAT, rounded up)."""
        return tok_s

    def add(self, lhs: Expr, sense: Sense, rhs: float, name: str) -> None:
        raise NotImplementedError

    def add_if(self, lit: Any, lhs: Expr, sense: Sense, rhs: float, name: str, big_m: float) -> None:
        """``lit = 1  =>  lhs sense rhs``; ``big_m`` bounds |lhs - rhs| for backends without indicators."""
        raise NotImplementedError

    def maximize(self, objective: Expr) -> None:
        raise NotImplementedError

    def hint(self, v: Any, value: float) -> None:
        """Solution hint (CP-SAT hints, MathOpt solution hints); ignored when unsupported."""


class CountingBackend(Backend):
    """Counts variables by kind and constraints by family (the part of the name before ``[``)."""

    name = "count"

    def __init__(self) -> None:
        self.variables: Counter[str] = Counter()
        self.constraints: Counter[str] = Counter()
        self._next = 0

    def _v(self, kind: str) -> int:
        self.variables[kind] += 1
        self._next += 1
        return self._next

    def int_var(self, lb: int, ub: int, name: str) -> Any:
        return self._v("integer")

    def bool_var(self, name: str) -> Any:
        return self._v("binary")

    def flow_var(self, ub: float, name: str) -> Any:
        return self._v("continuous")

    def add(self, lhs: Expr, sense: Sense, rhs: float, name: str) -> None:
        self.constraints[name.split("[")[0]] += 1

    def add_if(self, lit: Any, lhs: Expr, sense: Sense, rhs: float, name: str, big_m: float) -> None:
        self.constraints[name.split("[")[0]] += 2 if sense == "==" else 1

    def maximize(self, objective: Expr) -> None:
        pass

    @property
    def n_variables(self) -> int:
        return sum(self.variables.values())

    @property
    def n_constraints(self) -> int:
        return sum(self.constraints.values())


class CpSatBackend(Backend):
    """CP-SAT: integer flows in units of ``resolution`` tokens/s, native enforcement literals."""

    name = "cpsat"
    integer_flows = True

    def __init__(self, resolution_tok_s: float) -> None:
        from ortools.sat.python import cp_model

        self.cp_model = cp_model
        self.model = cp_model.CpModel()
        self.scale = 1.0 / resolution_tok_s

    def int_var(self, lb: int, ub: int, name: str) -> Any:
        return self.model.new_int_var(lb, ub, name)

    def bool_var(self, name: str) -> Any:
        return self.model.new_bool_var(name)

    def flow_value(self, tok_s: float) -> float:
        return float(math.ceil(tok_s * self.scale - 1e-9))

    def flow_var(self, ub: float, name: str) -> Any:
        return self.model.new_int_var(0, int(ub), name)

    def _lin(self, e: Expr) -> Any:
        expr = self.cp_model.LinearExpr.weighted_sum([v for _, v in e.terms], [int(round(c)) for c, _ in e.terms])
        return expr + int(round(e.const))

    def _constraint(self, lhs: Expr, sense: Sense, rhs: float) -> Any:
        left = self._lin(lhs)
        r = int(round(rhs))
        if sense == "<=":
            return self.model.add(left <= r)
        if sense == ">=":
            return self.model.add(left >= r)
        return self.model.add(left == r)

    def add(self, lhs: Expr, sense: Sense, rhs: float, name: str) -> None:
        self._constraint(lhs, sense, rhs).with_name(name)

    def add_if(self, lit: Any, lhs: Expr, sense: Sense, rhs: float, name: str, big_m: float) -> None:
        self._constraint(lhs, sense, rhs).only_enforce_if(lit).with_name(name)

    def maximize(self, objective: Expr) -> None:
        self.model.maximize(self._lin(objective))

    def hint(self, v: Any, value: float) -> None:
        self.model.add_hint(v, int(round(value)))


class MathOptBackend(Backend):
    """MathOpt (SCIP / HiGHS): continuous flows in tokens/s, big-M implications."""

    integer_flows = False

    def __init__(self, solver: Literal["scip", "highs"]) -> None:
        from ortools.math_opt.python import mathopt

        self.mathopt = mathopt
        self.name = solver
        self.model = mathopt.Model(name="helix")
        self.hints: dict[Any, float] = {}

    def int_var(self, lb: int, ub: int, name: str) -> Any:
        return self.model.add_integer_variable(lb=lb, ub=ub, name=name)

    def bool_var(self, name: str) -> Any:
        return self.model.add_binary_variable(name=name)

    def flow_var(self, ub: float, name: str) -> Any:
        return self.model.add_variable(lb=0.0, ub=ub, name=name)

    def _lin(self, e: Expr) -> Any:
        return self.mathopt.LinearSum([c * v for c, v in e.terms]) + e.const

    def add(self, lhs: Expr, sense: Sense, rhs: float, name: str) -> None:
        left = self._lin(lhs)
        if sense == "<=":
            self.model.add_linear_constraint(left <= rhs, name=name)
        elif sense == ">=":
            self.model.add_linear_constraint(left >= rhs, name=name)
        else:
            self.model.add_linear_constraint(left == rhs, name=name)

    def add_if(self, lit: Any, lhs: Expr, sense: Sense, rhs: float, name: str, big_m: float) -> None:
        # lit = 1 => lhs <= rhs   becomes   lhs - rhs <= M (1 - lit)
        relax = Expr([(-big_m, lit)], big_m)
        if sense in ("<=", "=="):
            self.add(lhs - relax, "<=", rhs, name + ("/le" if sense == "==" else ""))
        if sense in (">=", "=="):
            self.add(lhs + relax, ">=", rhs, name + ("/ge" if sense == "==" else ""))

    def maximize(self, objective: Expr) -> None:
        self.model.maximize(self._lin(objective))

    def hint(self, v: Any, value: float) -> None:
        self.hints[v] = value
