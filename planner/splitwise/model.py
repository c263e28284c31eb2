r"""The Splitwise provisioning problem, written next to the paper (Splitwise, ISCA 2024, section IV-D).

The paper's cluster-level provisioning (section IV-D; reference README section 3) takes a design, a performance
model, a short trace, the nine SLOs, a target and an objective, simulates the 2-D grid of (prompt machines, token
machines) and keeps the best point meeting all nine SLOs. This module holds the formulation and its closed-form
parts (objective, budgets, ties); the SLO terms come from the simulator.

Symbol table
------------

==============  ==============================================  ============================================
paper           meaning                                         code
==============  ==============================================  ============================================
d = (X, Y)      design: prompt machine type X, token type Y     ``machines.Design`` (``prompt``, ``token``)
Baseline-X      one type X runs both phases, mixed batching     ``Design.kind == "baseline"``
(P, T)          grid point: prompt and token machines           :class:`Point` (``prompt``, ``token``)
N               machines of a baseline (P = N, T = 0)           ``Point.prompt`` (``token == 0``)
c_X             cost of one machine of type X, USD per hour     ``Machine.cost_usd_h``
w_X             provisioned (nameplate) power of one X, kW      ``Machine.power_kw``
r               request rate, requests per second               ``rate_rps``
k               one of the nine (metric, percentile) pairs      ``slo.SLO_NAMES``
SLO_k(P, T, r)  slowdown quantile k measured by the simulator   ``evaluate.Evaluator.evaluate``
L_k             its limit (Table VI: TTFT 2/3/6x, TBT, E2E      ``slo.SloLimit.limit``
                1.25/1.5/5x; slowdown vs the request alone)
C, W            cost and power budgets (iso-cost, iso-power)    ``cost_budget_usd_h``, ``power_budget_kw``
==============  ==============================================  ============================================

Iso-throughput (section IV-D "optimise for cost / power at a throughput target", Fig. 12):

.. math::  \min_{P,T} \; c_X P + c_Y T  \quad (\text{or } w_X P + w_Y T, \text{ or } P + T)
           \quad\text{s.t.}\quad SLO_k(P, T, r) < L_k \;\; \forall k

(objective: :func:`objective_value` on :func:`cost_usd_h` / :func:`power_kw`; constraint: ``PointResult.feasible``,
every SLO strictly below its limit, as the artifact's selection functions.)

Iso-budget (sections VI-B/C, "iso-power" and "iso-cost" clusters, Figs. 16-18):

.. math::  \max_{r, P, T} \; r \quad\text{s.t.}\quad SLO_k(P, T, r) < L_k \;\forall k,\;
           c_X P + c_Y T \le C,\; w_X P + w_Y T \le W

(budget constraints: :func:`within_budget`; the budget-filling points: :func:`budget_line`.)

Budget arithmetic (reference README section 3.1): with the budget fixed, the split decides the rest,
T(P) = floor((C - c_X P) / c_Y) (:func:`token_machines_within`); e.g. by power 40 DGX-H100 = floor(224 kW / 3.2 kW)
= 70 DGX-A100, by cost floor(1523.2 / 17.68) = 86 DGX-A100 (:func:`baseline_machines_within`).

SLO_k has no closed form; the simulator (``sim.py``) evaluates it at a point. The search (``search.py``, run by
``solve.py``) uses that SLO_k is *nearly* monotone non-increasing in P and T and non-decreasing in r, with the
analytic capacity model (``analytic.py``) for bounds and a starting point, instead of the paper's full grid sweep.
Ties (:func:`tie_key`): the objective, then fewer machines, then fewer prompt machines (the paper's plots take the
first row in (P ascending, T ascending) order).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from planner.splitwise.machines import Design

Objective = Literal["cost", "power", "machines"]
#: Slack when flooring budget divisions, so that 224 / 3.2 = 69.999999... still gives 70 machines.
FLOOR_EPS = 1e-9


@dataclass(frozen=True, order=True)
class Point:
    """A grid point of one design: prompt and token machine counts (baseline: ``token == 0``)."""

    prompt: int
    token: int

    @property
    def machines(self) -> int:
        return self.prompt + self.token


def cost_usd_h(design: Design, point: Point) -> float:
    """Cost of the point's machines, USD per hour."""
    return point.prompt * design.prompt.cost_usd_h + point.token * design.token.cost_usd_h


def power_kw(design: Design, point: Point) -> float:
    """Provisioned power of the point's machines, kW (on the run's power basis)."""
    return point.prompt * design.prompt.power_kw + point.token * design.token.power_kw


def objective_value(design: Design, point: Point, objective: Objective) -> float:
    """The iso-throughput objective at a point: c_X P + c_Y T, w_X P + w_Y T, or P + T."""
    if objective == "cost":
        return cost_usd_h(design, point)
    if objective == "power":
        return power_kw(design, point)
    return float(point.machines)


def tie_key(design: Design, point: Point, objective: Objective) -> tuple[float, int, int]:
    """Order of preference among points of one design: objective, then fewer machines, then fewer prompt machines."""
    return (round(objective_value(design, point, objective), 9), point.machines, point.prompt)


def floor_div(amount: float, unit: float) -> int:
    """``floor(amount / unit)`` robust to binary rounding (224 / 3.2 is 70, not 69)."""
    if unit <= 0:
        return 0
    return max(0, math.floor(amount / unit + FLOOR_EPS))


def token_machines_within(
    design: Design, prompt: int, cost_budget_usd_h: float | None, power_budget_kw: float | None
) -> int:
    """Largest T with (prompt, T) within every budget: the artifact's ``floor(budget_left / unit)``."""
    limits = []
    if cost_budget_usd_h is not None:
        limits.append(floor_div(cost_budget_usd_h - prompt * design.prompt.cost_usd_h, design.token.cost_usd_h))
    if power_budget_kw is not None:
        limits.append(floor_div(power_budget_kw - prompt * design.prompt.power_kw, design.token.power_kw))
    return min(limits) if limits else 0


def baseline_machines_within(design: Design, cost_budget_usd_h: float | None, power_budget_kw: float | None) -> int:
    """Largest N of a one-pool design within every budget."""
    limits = []
    if cost_budget_usd_h is not None:
        limits.append(floor_div(cost_budget_usd_h, design.prompt.cost_usd_h))
    if power_budget_kw is not None:
        limits.append(floor_div(power_budget_kw, design.prompt.power_kw))
    return min(limits) if limits else 0


def budget_line(design: Design, cost_budget_usd_h: float | None, power_budget_kw: float | None) -> list[Point]:
    """Every budget-filling point of a design: (P, T(P)) with T(P) >= 1, or (N, 0) for a baseline."""
    if design.kind == "baseline":
        n = baseline_machines_within(design, cost_budget_usd_h, power_budget_kw)
        return [Point(n, 0)] if n >= 1 else []
    out = []
    prompt = 1
    while True:
        t = token_machines_within(design, prompt, cost_budget_usd_h, power_budget_kw)
        if t < 1:
            break
        out.append(Point(prompt, t))
        prompt += 1
    return out


def within_budget(design: Design, point: Point, cost_budget_usd_h: float | None, power_budget_kw: float | None) -> bool:
    """The iso-budget constraints c_X P + c_Y T <= C and w_X P + w_Y T <= W (with binary-rounding slack)."""
    ok = True
    if cost_budget_usd_h is not None:
        ok &= cost_usd_h(design, point) <= cost_budget_usd_h * (1 + FLOOR_EPS)
    if power_budget_kw is not None:
        ok &= power_kw(design, point) <= power_budget_kw * (1 + FLOOR_EPS)
    return ok
