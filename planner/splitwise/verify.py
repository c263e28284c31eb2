"""Re-check a splitwise plan from the plan document alone (no solver objects, no ortools).

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
from typing import Any

from planner.errors import VerificationError
from planner.plan import Plan

SLO_COUNT = 9
REL = 1e-6


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=REL, abs_tol=1e-9)


def _fail(msg: str) -> None:
    raise VerificationError(f"splitwise plan verification failed: {msg}")


def _objective(row: dict[str, Any], objective: str) -> float:
    if objective == "cost":
        return float(row["cost_usd_h"])
    if objective == "power":
        return float(row["power_kw"])
    return float(row["prompt"] + row["token"])


def _key(row: dict[str, Any], objective: str) -> tuple[float, int, int]:
    return (round(_objective(row, objective), 9), row["prompt"] + row["token"], row["prompt"])


def verify_plan(plan: Plan) -> None:
    """Raise VerificationError when the plan's figures do not follow from its own contents."""
    b = plan.plan
    if b.get("design") is None:
        return  # an infeasible plan claims nothing to check
    machines: dict[str, dict[str, Any]] = b["machines"]
    mode, objective = b["mode"], b["objective"]
    provisioned = [p for p in b["pools"] if p["provisioned"]]
    roles = sorted(p["role"] for p in provisioned)
    if roles not in (["both"], ["prompt", "token"]):
        _fail(f"provisioned pools must be 'both' or 'prompt'+'token', got {roles}")
    cost = power = 0.0
    for p in provisioned:
        m = machines[p["machine"]]
        if p["count"] < 1:
            _fail(f"pool {p['role']} has {p['count']} machines")
        if not _close(p["cost_usd_h"], p["count"] * m["cost_usd_h"]):
            _fail(f"pool {p['role']} cost {p['cost_usd_h']} != {p['count']} x {m['cost_usd_h']}")
        cost += p["count"] * m["cost_usd_h"]
        power += p["count"] * m["power_kw"]
    metrics = plan.metrics
    if not _close(metrics.get("cost_usd_h"), cost):
        _fail(f"cost_usd_h {metrics.get('cost_usd_h')} != sum of pools {cost}")
    if not _close(metrics.get("power_kw"), power):
        _fail(f"power_kw {metrics.get('power_kw')} != sum of pools {power}")
    budget = b.get("budget") or {}
    if mode == "iso-budget":
        if budget.get("cost_usd_h") is not None and cost > budget["cost_usd_h"] * (1 + REL):
            _fail(f"cost {cost} exceeds the budget {budget['cost_usd_h']}")
        if budget.get("power_kw") is not None and power > budget["power_kw"] * (1 + REL):
            _fail(f"power {power} exceeds the budget {budget['power_kw']}")
    slos = b["slos"]
    if len(slos) != SLO_COUNT:
        _fail(f"expected {SLO_COUNT} SLOs, got {len(slos)}")
    for s in slos:
        if s["value"] is None or not s["value"] < s["limit"]:
            _fail(f"SLO {s['name']} not met: {s['value']} vs {s['limit']}")
        if not _close(s["margin"], 1.0 - s["value"] / s["limit"]):
            _fail(f"SLO {s['name']} margin {s['margin']} != 1 - value/limit")
    rate = b["rate_rps"]
    by_role = {p["role"]: p["count"] for p in provisioned}
    prompt = by_role.get("prompt", by_role.get("both", 0))
    token = by_role.get("token", 0)
    here = [r for r in b["ledger"] if r["design"] == b["design"] and r["rate_rps"] == rate]
    if not any(r["prompt"] == prompt and r["token"] == token and r["feasible"] for r in here):
        _fail(f"chosen point {prompt}P+{token}T of {b['design']} at {rate} req/s is not a feasible ledger point")
    for row in b["designs"]:
        if row.get("prompt") is None:
            continue
        at = [
            r
            for r in b["ledger"]
            if r["design"] == row["design"] and r["rate_rps"] == row["throughput_rps"] and r["feasible"]
        ]
        key = "cost" if mode == "iso-budget" else objective
        better = [r for r in at if _key(r, key) < _key(row, key)]
        if better:
            r = better[0]
            _fail(f"design {row['design']}: ledger point {r['prompt']}P+{r['token']}T is better than the reported one")
    feasible_rows = [r for r in b["designs"] if r.get("prompt") is not None]
    chosen = next(r for r in feasible_rows if r["design"] == b["design"])
    for r in feasible_rows:
        if mode == "iso-budget":
            if r["throughput_rps"] > chosen["throughput_rps"] + 1e-9:
                _fail(f"design {r['design']} sustains more ({r['throughput_rps']}) than the chosen one")
        elif _objective(r, objective) < _objective(chosen, objective) - 1e-9:
            _fail(f"design {r['design']} is cheaper than the chosen one")
    wl = b.get("workload") or {}
    tokens = wl.get("mean_prompt_tokens", 0.0) + wl.get("mean_output_tokens", 0.0)
    if tokens > 0 and rate:
        expect = cost / (rate * tokens * 3600.0 / 1e6)
        if not _close(metrics.get("usd_per_mtok"), expect):
            _fail(f"usd_per_mtok {metrics.get('usd_per_mtok')} != {expect}")
