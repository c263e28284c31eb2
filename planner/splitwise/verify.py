"""Re-check a splitwise plan from its own contents alone (no solver objects, no ortools).

Takes the typed plan block (:class:`~planner.splitwise.contract.SplitwisePlanBlock`) and the plan's metrics; the
runner above the plan layer unpacks the document (:func:`planner.runner.splitwise.verify_document`).

What a plan claims and how it is checked:

* every pool count, cost and power adds up from the plan's own ``machines`` table (budget arithmetic included);
* the chosen point meets all nine SLOs: each ``value < limit`` and ``margin == 1 - value / limit``;
* the chosen point is in the ledger and the ledger says it is feasible;
* within each design, no feasible ledger point at the design's rate is preferred to the reported one
  (objective, then fewer machines, then fewer prompt machines) - the search reports the best it simulated;
* the chosen design is the best of ``designs`` (least objective, or most rate under a budget);
* ``usd_per_mtok`` follows from cost, rate and the mean tokens per request.

Any mismatch is a bug and raises :class:`~planner.errors.VerificationError`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import NoReturn

from planner.errors import VerificationError
from planner.splitwise.contract import DesignRow, LedgerRow, SplitwisePlanBlock, Workload

SLO_COUNT = 9
REL = 1e-6


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=REL, abs_tol=1e-9)


def _fail(msg: str) -> NoReturn:
    raise VerificationError(f"splitwise plan verification failed: {msg}")


def _objective(row: DesignRow | LedgerRow, objective: str) -> float:
    cost, power = row.cost_usd_h, row.power_kw
    if objective == "cost" and cost is not None:
        return float(cost)
    if objective == "power" and power is not None:
        return float(power)
    if objective in ("cost", "power") or row.prompt is None or row.token is None:
        _fail(f"design {row.design} has no {objective} to compare")
    return float(row.prompt + row.token)


def _key(row: DesignRow | LedgerRow, objective: str) -> tuple[float, int, int]:
    return (round(_objective(row, objective), 9), (row.prompt or 0) + (row.token or 0), row.prompt or 0)


def verify_plan(block: SplitwisePlanBlock, metrics: Mapping[str, float | None]) -> None:
    """Raise VerificationError when the plan's figures do not follow from its own contents."""
    b = block
    if b.design is None:
        return  # an infeasible plan claims nothing to check
    machines = b.machines
    mode, objective = b.mode, b.objective
    provisioned = [p for p in b.pools if p.provisioned]
    roles = sorted(p.role for p in provisioned)
    if roles not in (["both"], ["prompt", "token"]):
        _fail(f"provisioned pools must be 'both' or 'prompt'+'token', got {roles}")
    cost = power = 0.0
    for p in provisioned:
        m = machines[p.machine]
        if p.count < 1:
            _fail(f"pool {p.role} has {p.count} machines")
        if not _close(p.cost_usd_h, p.count * m.cost_usd_h):
            _fail(f"pool {p.role} cost {p.cost_usd_h} != {p.count} x {m.cost_usd_h}")
        cost += p.count * m.cost_usd_h
        power += p.count * m.power_kw
    if not _close(metrics.get("cost_usd_h"), cost):
        _fail(f"cost_usd_h {metrics.get('cost_usd_h')} != sum of pools {cost}")
    if not _close(metrics.get("power_kw"), power):
        _fail(f"power_kw {metrics.get('power_kw')} != sum of pools {power}")
    budget = b.budget
    if mode == "iso-budget":
        if budget.cost_usd_h is not None and cost > budget.cost_usd_h * (1 + REL):
            _fail(f"cost {cost} exceeds the budget {budget.cost_usd_h}")
        if budget.power_kw is not None and power > budget.power_kw * (1 + REL):
            _fail(f"power {power} exceeds the budget {budget.power_kw}")
    slos = b.slos
    if len(slos) != SLO_COUNT:
        _fail(f"expected {SLO_COUNT} SLOs, got {len(slos)}")
    for s in slos:
        if s.value is None or not s.value < s.limit:
            _fail(f"SLO {s.name} not met: {s.value} vs {s.limit}")
        elif not _close(s.margin, 1.0 - s.value / s.limit):
            _fail(f"SLO {s.name} margin {s.margin} != 1 - value/limit")
    rate = b.rate_rps
    by_role = {p.role: p.count for p in provisioned}
    prompt = by_role.get("prompt", by_role.get("both", 0))
    token = by_role.get("token", 0)
    here = [r for r in b.ledger if r.design == b.design and r.rate_rps == rate]
    if not any(r.prompt == prompt and r.token == token and r.feasible for r in here):
        _fail(f"chosen point {prompt}P+{token}T of {b.design} at {rate} req/s is not a feasible ledger point")
    for row in b.designs:
        if row.prompt is None:
            continue
        at = [r for r in b.ledger if r.design == row.design and r.rate_rps == row.throughput_rps and r.feasible]
        key = "cost" if mode == "iso-budget" else objective
        better = [r for r in at if _key(r, key) < _key(row, key)]
        if better:
            pt = better[0]
            _fail(f"design {row.design}: ledger point {pt.prompt}P+{pt.token}T is better than the reported one")
    feasible_rows = [d for d in b.designs if d.prompt is not None]
    chosen = next(d for d in feasible_rows if d.design == b.design)
    for d in feasible_rows:
        if mode == "iso-budget":
            if (d.throughput_rps or 0.0) > (chosen.throughput_rps or 0.0) + 1e-9:
                _fail(f"design {d.design} sustains more ({d.throughput_rps}) than the chosen one")
        elif _objective(d, objective) < _objective(chosen, objective) - 1e-9:
            _fail(f"design {d.design} is cheaper than the chosen one")
    wl = b.workload
    tokens = wl.mean_prompt_tokens + wl.mean_output_tokens if isinstance(wl, Workload) else 0.0
    if tokens > 0 and rate:
        expect = cost / (rate * tokens * 3600.0 / 1e6)
        if not _close(metrics.get("usd_per_mtok"), expect):
            _fail(f"usd_per_mtok {metrics.get('usd_per_mtok')} != {expect}")
