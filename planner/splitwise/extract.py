"""Solution -> the plan's splitwise block, its metrics, the solve report and what the figures rest on.

``extract`` picks the recommended design (:func:`chosen_outcome`: least objective at the rate, or most rate within
the budget; ties as :func:`planner.splitwise.model.tie_key`) and writes the block: the chosen point's pools (with
launch hints and any mixed-pool lending), its nine SLO values and latencies, every design's best point, the machine
table and the ledger of every simulated point. :func:`assumptions`, :func:`warnings_for` and :func:`shortfall`
(why nothing was feasible, from the design that came closest) complete the plan document. Reads the instance and the
solution only; the search is not run again (except to finish the closest point's simulation in ``shortfall``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from planner.errors import Shortfall
from planner.solver import Assumption, SolveReport, Status
from planner.spec.sections.splitwise import SplitwiseSection
from planner.splitwise.contract import SplitwisePlanBlock
from planner.splitwise.evaluate import PointResult
from planner.splitwise.instance import Instance
from planner.splitwise.launch import pool_hints, router_hint
from planner.splitwise.machines import Design, Machine
from planner.splitwise.model import Point, cost_usd_h, objective_value, power_kw, tie_key
from planner.splitwise.search import DesignOutcome
from planner.splitwise.solve import Solution

BACKEND = "splitwise-sim"


def chosen_outcome(inst: Instance, outcomes: list[DesignOutcome]) -> DesignOutcome | None:
    """The design the plan recommends: least objective (iso-throughput) or most rate (iso-budget); ties as model.py."""
    ok = [(i, o) for i, o in enumerate(outcomes) if o.best is not None]
    if not ok:
        return None

    def key(io: tuple[int, DesignOutcome]) -> tuple[float, ...]:
        i, o = io
        assert o.best is not None
        obj = tie_key(o.design, o.best.point, inst.objective if inst.mode == "iso-throughput" else "cost")
        if inst.mode == "iso-budget":
            return (-o.best.rate_rps, *obj, i)
        return (*obj, i)

    return min(ok, key=key)[1]


def _usd_per_mtok(cost: float, rate: float, tokens_per_request: float) -> float | None:
    """USD per million tokens served at ``rate`` (None when nothing is served)."""
    per_hour = rate * tokens_per_request * 3600.0 / 1e6
    return cost / per_hour if per_hour > 0 else None


def _design_row(inst: Instance, o: DesignOutcome, evaluated: int) -> dict[str, Any]:
    """One row of ``designs``: the design, how its search ended and its best point (None fields if none)."""
    d = o.design
    row: dict[str, Any] = {
        "design": d.name,
        "kind": d.kind,
        "prompt_machine": d.prompt.name,
        "token_machine": d.token.name if d.kind == "split" else None,
        "status": o.status,
        "note": o.note,
        "simulated_points": evaluated,
        "analytic_prompt": o.analytic_point.prompt if o.analytic_point else None,
        "analytic_token": o.analytic_point.token if o.analytic_point else None,
        "bound": o.bound,
    }
    b = o.best
    if b is not None:
        cost, power = cost_usd_h(d, b.point), power_kw(d, b.point)
        w = b.worst
        row.update(
            prompt=b.prompt,
            token=b.token,
            machines=b.prompt + b.token,
            cost_usd_h=cost,
            power_kw=power,
            throughput_rps=b.rate_rps,
            usd_per_mtok=_usd_per_mtok(cost, b.rate_rps, b.mean_prompt_tokens + b.mean_output_tokens),
            worst_slo=w.name if w else None,
            worst_slo_margin=w.margin if w else None,
        )
    else:
        row.update(
            prompt=None,
            token=None,
            machines=None,
            cost_usd_h=None,
            power_kw=None,
            throughput_rps=None,
            usd_per_mtok=None,
            worst_slo=None,
            worst_slo_margin=None,
        )
    return row


def _ledger_row(inst: Instance, r: PointResult) -> dict[str, Any]:
    """One simulated point of the ledger, with why it failed."""
    d = next(x for x in inst.designs if x.name == r.design)
    w = r.worst
    return {
        "design": r.design,
        "prompt": r.prompt,
        "token": r.token,
        "rate_rps": r.rate_rps,
        "feasible": r.feasible,
        "reason": r.reason,
        "cost_usd_h": cost_usd_h(d, r.point),
        "power_kw": power_kw(d, r.point),
        "worst_slo": w.name if w else None,
        "worst_slo_margin": w.margin if w else None,
        "stopped_early": r.stopped_early,
        "requests": r.requests,
    }


def _pools(inst: Instance, design: Design, best: PointResult) -> list[dict[str, Any]]:
    """The provisioned pools of the chosen point (prompt + token, or both), then the lent mixed pool if any."""
    model = inst.loaded.model
    roles: list[tuple[str, Machine, int]]
    if design.kind == "baseline":
        roles = [("both", design.prompt, best.prompt)]
    else:
        roles = [("prompt", design.prompt, best.prompt), ("token", design.token, best.token)]
    pools = []
    for role, m, count in roles:
        pools.append(
            {
                "role": role,
                "machine": m.name,
                "count": count,
                "instances": count * m.instances,
                "provisioned": True,
                "cost_usd_h": count * m.cost_usd_h,
                "power_kw": count * m.power_kw,
                "utilisation": best.utilisation.get(role),
                "kv_utilisation": best.kv_utilisation.get(role),
                "lent_peak": best.lent_peak.get(role, 0),
                "perf_basis": inst.profiles[m.name].provenance,
                "launch": pool_hints(role, model, m.tp, count * m.instances),
            }
        )
    lent_p, lent_t = best.lent_peak.get("prompt", 0), best.lent_peak.get("token", 0)
    if design.kind == "split" and (lent_p or lent_t):
        pools.append(_lent_pool(inst, design, lent_p, lent_t))
    return pools


def _lent_pool(inst: Instance, design: Design, lent_p: int, lent_t: int) -> dict[str, Any]:
    """The mixed pool at its peak: machines lent from the prompt and token pools (not provisioned, no cost)."""
    names = [m.name for m, n in ((design.prompt, lent_p), (design.token, lent_t)) if n]
    return {
        "role": "mixed",
        "machine": "+".join(dict.fromkeys(names)),
        "count": lent_p + lent_t,
        "instances": lent_p * design.prompt.instances + lent_t * design.token.instances,
        "provisioned": False,
        "lent_from": {"prompt": lent_p, "token": lent_t},
        "cost_usd_h": 0.0,
        "power_kw": 0.0,
        "utilisation": None,
        "kv_utilisation": None,
        "lent_peak": lent_p + lent_t,
        "perf_basis": None,
        "launch": pool_hints("mixed", inst.loaded.model, design.prompt.tp, 0),
    }


def extract(inst: Instance, sol: Solution) -> tuple[SplitwisePlanBlock, dict[str, float | None], SolveReport]:
    """The plan block (built as the splitwise contract), the metrics and the solve report of a finished search."""
    chosen = chosen_outcome(inst, sol.outcomes)
    best = chosen.best if chosen is not None else None
    block = _block(inst, sol, chosen)
    metrics: dict[str, float | None] = {"simulated_points_count": float(len(sol.ledger))}
    if chosen is not None and best is not None:
        block.update(_chosen_point(inst, chosen.design, best))
        metrics.update(_point_metrics(inst, chosen.design, best))
    bounds = [o.bound for o in sol.outcomes if o.bound is not None]
    report = _report(inst, sol, chosen, bounds)
    if report.best_bound is not None:
        key = {
            "iso-budget": "upper_bound_throughput_rps",
            "cost": "lower_bound_cost_usd_h",
            "power": "lower_bound_power_kw",
            "machines": "lower_bound_machines",
        }["iso-budget" if inst.mode == "iso-budget" else inst.objective]
        metrics[key] = report.best_bound
    return SplitwisePlanBlock.model_validate(block), metrics, report


def _block(inst: Instance, sol: Solution, chosen: DesignOutcome | None) -> dict[str, Any]:
    """The plan block without the chosen point's figures (empty pools, SLOs, latencies, workload and router)."""
    counts: dict[str, int] = {}
    for r in sol.ledger:
        counts[r.design] = counts.get(r.design, 0) + 1
    return {
        "design": chosen.design.name if chosen else None,
        "mode": inst.mode,
        "objective": inst.objective if inst.mode == "iso-throughput" else "throughput",
        "rate_rps": inst.rate_rps if inst.mode == "iso-throughput" else (chosen.rate_rps if chosen else None),
        "budget": {"cost_usd_h": inst.cost_budget_usd_h, "power_kw": inst.power_budget_kw},
        "power_basis": inst.section.power_basis,
        "pools": [],
        "designs": [_design_row(inst, o, counts.get(o.design.name, 0)) for o in sol.outcomes],
        "slos": [],
        "latency_ms": {},
        "machines": _machines(inst),
        "workload": {},
        "router": {},
        "ledger": [_ledger_row(inst, r) for r in sol.ledger],
        "search": {
            "duration_s": inst.section.duration,
            "batch_points": inst.section.search.batch_points,
            "neighbourhood": inst.section.search.neighbourhood,
            "rate_step_rps": inst.section.search.rate_step_rps,
            "max_machines": inst.section.search.max_machines,
            "mixed_pool": inst.section.mixed_pool.enabled,
            "simulated_points": len(sol.ledger),
        },
    }


def _machines(inst: Instance) -> dict[str, dict[str, Any]]:
    """The machine table of every design's machine types (what verify.py recomputes costs and power from)."""
    return {
        m.name: {
            "short": m.short,
            "gpu": m.gpu,
            "gpus": m.gpus,
            "tp": m.tp,
            "cost_usd_h": m.cost_usd_h,
            "power_kw": m.power_kw,
            "kv_capacity_tokens": inst.kv_capacity[m.name],
            "interconnect_bytes_s": m.interconnect_bytes_s,
            "perf_basis": inst.profiles[m.name].provenance,
        }
        for m in _design_machines(inst)
    }


def _design_machines(inst: Instance) -> list[Machine]:
    """Every machine type of the instance's designs, by name."""
    return sorted({m.name: m for d in inst.designs for m in d.machines}.values(), key=lambda m: m.name)


def _chosen_point(inst: Instance, design: Design, best: PointResult) -> dict[str, Any]:
    """The block entries of the recommended point: pools, SLOs, latencies, workload and router."""
    out: dict[str, Any] = {
        "pools": _pools(inst, design, best),
        "slos": [{"name": v.name, "value": v.value, "limit": v.limit, "margin": v.margin} for v in best.slos],
        "latency_ms": dict(best.latency_ms),
        "workload": {
            "requests": best.requests,
            "mean_prompt_tokens": best.mean_prompt_tokens,
            "mean_output_tokens": best.mean_output_tokens,
            "source": inst.source.description,
        },
    }
    if design.kind == "split":
        out["router"] = router_hint(best.prompt * design.prompt.instances, best.token * design.token.instances)
    return out


def _point_metrics(inst: Instance, design: Design, best: PointResult) -> dict[str, float | None]:
    """The plan's metrics of the recommended point (cost, power, throughput, $/Mtok, utilisation, latencies)."""
    cost, power = cost_usd_h(design, best.point), power_kw(design, best.point)
    tokens = best.mean_prompt_tokens + best.mean_output_tokens
    w = best.worst
    metrics: dict[str, float | None] = {
        "cost_usd_h": cost,
        "power_kw": power,
        "facility_power_kw": power * inst.loaded.spec.power.pue,
        "throughput_rps": best.rate_rps,
        "usd_per_mtok": _usd_per_mtok(cost, best.rate_rps, tokens),
        "output_usd_per_mtok": _usd_per_mtok(cost, best.rate_rps, best.mean_output_tokens),
        "prompt_machines": float(best.prompt if design.kind == "split" else 0),
        "token_machines": float(best.token if design.kind == "split" else 0),
        "total_machines": float(best.prompt + best.token),
        "worst_slo_margin_ratio": w.margin if w else None,
    }
    for role in ("prompt", "token", "both"):
        if best.utilisation.get(role) is not None:
            metrics[f"{role}_utilisation_ratio"] = best.utilisation[role]
        if best.kv_utilisation.get(role) is not None:
            metrics[f"{role}_kv_utilisation_ratio"] = best.kv_utilisation[role]
    metrics.update(best.latency_ms)
    return metrics


def _report(inst: Instance, sol: Solution, chosen: DesignOutcome | None, bounds: list[float]) -> SolveReport:
    """Status, objective and analytic bound of the run (optimality is never claimed: the grid is not exhausted)."""
    n = len(sol.ledger)
    how = (
        "bisection on total machines along the analytic split, then local search on the split"
        if inst.mode == "iso-throughput"
        else "bisection on the request rate over budget-filling splits near the analytic balance"
    )
    msg = (
        f"{n} points simulated over {len(inst.designs)} designs; {how}; optimality not proved "
        "(assumes SLOs near-monotone in machine counts); bound from the analytic capacity model"
    )
    if chosen is None or chosen.best is None:
        # No feasible point: proved infeasible only when the search was not cut short by the time limit.
        status = Status.time_limit if sol.status == Status.time_limit else Status.infeasible
        return SolveReport(backend=BACKEND, status=status, message=msg, wall_s=sol.wall_s)
    if inst.mode == "iso-throughput":
        objective = objective_value(chosen.design, chosen.best.point, inst.objective)
        bound = min(bounds) if bounds else None
    else:
        objective = chosen.best.rate_rps
        bound = max(bounds) if bounds else None
    status = sol.status if sol.status in (Status.time_limit, Status.interrupted) else Status.feasible
    if sol.status == "interrupted":
        # A design interrupted before its capacity bound (or never reached) could beat every bound we have.
        if any(o.status == "interrupted" and o.bound is None for o in sol.outcomes):
            bound = None
        skipped = [o.design.name for o in sol.outcomes if o.note == "not searched (interrupted)"]
        msg = (
            f"search interrupted (Ctrl-C) after {n} simulated points: best feasible point so far"
            + (f"; designs not searched: {', '.join(skipped)}" if skipped else "")
            + f"; {how}; optimality not proved"
        )
    return SolveReport(
        backend=BACKEND, status=status, objective=objective, best_bound=bound, message=msg, wall_s=sol.wall_s
    )


def assumptions(inst: Instance) -> list[Assumption]:
    """What every figure of the plan rests on."""
    out: list[Assumption] = []
    for name, prof in sorted(inst.profiles.items()):
        out.append(Assumption(subject=f"perf[{name}]", basis=prof.provenance, detail=prof.source))
    out.append(
        Assumption(
            subject="slo reference",
            basis=inst.reference.provenance,
            detail=f"slowdowns vs the request alone on {inst.reference.machine} (Splitwise Table VI, artifact)",
        )
    )
    wl = inst.loaded.spec.workload
    out.append(
        Assumption(
            subject="workload",
            basis="measured" if wl is not None and wl.trace else "synthetic",
            detail=f"{inst.source.description}; {inst.section.duration:g} s simulated per point",
        )
    )
    limits = ", ".join(f"{lim.name} < {lim.limit:g}x" for lim in inst.limits)
    default = inst.section.slo == SplitwiseSection().slo
    out.append(Assumption(subject="slo limits", basis="paper" if default else "option", detail=limits))
    model = inst.loaded.model
    out.append(
        Assumption(
            subject="kv transfer",
            basis="analytic",
            detail=(
                f"{model.kv_bytes_per_token} B/token (GQA-correct, {model.kv_heads} KV heads) / the slower side's "
                "interconnect, serialized after the prompt (no layer-wise overlap)"
            ),
        )
    )
    out.append(
        Assumption(
            subject="kv memory",
            basis="analytic",
            detail="; ".join(
                f"{n}: {c} tokens after {model.weight_bytes / 1e9:.1f} GB of weights"
                for n, c in sorted(inst.kv_capacity.items())
            ),
        )
    )
    basis = "GPU TDP x GPUs x power factor" if inst.section.power_basis == "gpu_tdp" else "machine TDP x power factor"
    out.append(
        Assumption(
            subject="cost and power",
            basis="paper",
            detail=f"per machine from the catalogue ({basis}); "
            + "; ".join(f"{m.name} ${m.cost_usd_h:g}/h {m.power_kw:g} kW" for m in _design_machines(inst)),
        )
    )
    out.append(
        Assumption(
            subject="search",
            basis="default",
            detail="simulator + near-monotone grid search; the bound is the analytic capacity model's, not proved",
        )
    )
    return out


def band_rests_on(assumed: list[Assumption], chosen: DesignOutcome | None) -> list[Assumption]:
    """The profile rows the recommended point's figures rest on, out of the plan's ``assumed``: the chosen
    design's machines' curves (its latencies and throughput are simulated on those alone; the other candidates'
    rows, synthetic ones included, only ranked it). All of them when none was chosen."""
    if chosen is None:
        return list(assumed)
    used = {m.name for m in chosen.design.machines}
    return [a for a in assumed if not a.subject.startswith("perf[") or a.subject[5:-1] in used]


def warnings_for(inst: Instance, sol: Solution) -> list[str]:
    """What the plan's reader should know: ignored spec blocks, skipped designs, searches cut short."""
    out = []
    if inst.loaded.spec.slo is not None:
        out.append("the spec's top-level slo: block is not used by plan splitwise (it uses splitwise.slo slowdowns)")
    for name, why in sol.unusable.items():
        out.append(f"design {name} skipped: {why}")
    for o in sol.outcomes:
        if o.status == "time_limit":
            out.append(f"design {o.design.name}: search stopped by --time-limit; the point shown may not be best")
        elif o.status == "interrupted":
            shown = "; the point shown may not be best" if o.best is not None else ""
            out.append(f"design {o.design.name}: {o.note}{shown}")
    return out


def shortfall(inst: Instance, sol: Solution) -> Shortfall:
    """Why no design met the target, from the design that came closest."""
    if inst.mode == "iso-budget":
        affordable = [
            o for o in sol.outcomes if "budget does not buy" not in o.note and o.design.name not in sol.unusable
        ]
        if not affordable:
            return _budget_shortfall(inst, sol)
    closest = [o.closest for o in sol.outcomes if o.closest is not None]
    capped = [o for o in sol.outcomes if o.capacity_rps is not None]
    if not closest and capped and inst.rate_rps is not None:
        top = max(capped, key=lambda o: o.capacity_rps or 0.0)
        m = inst.section.search.max_machines
        return Shortfall(
            constraint=f"throughput [{top.design.name}, capacity of {m} machines, splitwise.search.max_machines]",
            limit=inst.rate_rps,
            best=top.capacity_rps,
            unit="req/s",
        )
    if not closest:
        notes = "; ".join(f"{o.design.name}: {o.note}" for o in sol.outcomes if o.note)
        return Shortfall(constraint="designs", detail=notes or "no design could be evaluated")
    return _slo_shortfall(inst, closest)


def _budget_shortfall(inst: Instance, sol: Solution) -> Shortfall:
    """The budget does not buy even the smallest point of any design: by how much, on the cheapest one."""
    cheapest = min(sol.outcomes, key=lambda o: cost_usd_h(o.design, _smallest(o.design)) if o.design else 0.0)
    d = cheapest.design
    if inst.cost_budget_usd_h is not None:
        return Shortfall(
            constraint=f"cost budget [{d.name}, smallest point]",
            limit=inst.cost_budget_usd_h,
            best=cost_usd_h(d, _smallest(d)),
            unit="USD/h",
        )
    assert inst.power_budget_kw is not None
    return Shortfall(
        constraint=f"power budget [{d.name}, smallest point]",
        limit=inst.power_budget_kw,
        best=power_kw(d, _smallest(d)),
        unit="kW",
    )


def _slo_shortfall(inst: Instance, closest: list[PointResult]) -> Shortfall:
    """The SLO the nearest-to-feasible simulated point misses, and by how much (its run finished if stopped early)."""

    def score(r: PointResult) -> float:
        w = r.worst
        return w.margin if w is not None and w.margin is not None else -np.inf

    best = max(closest, key=score)
    if best.stopped_early:  # the run stopped at the first sure violation: finish it to say by how much
        best = inst.evaluator.evaluate(best.design, best.point, best.rate_rps, early_stop=False)
    w = best.worst
    where = f"[{best.design} {best.prompt}P+{best.token}T at {best.rate_rps:g} req/s]"
    if best.token == 0:
        where = f"[{best.design} {best.prompt} machines at {best.rate_rps:g} req/s]"
    if w is not None and w.value is not None:
        return Shortfall(constraint=f"slo {w.name} slowdown {where}", limit=w.limit, best=w.value, unit="x")
    return Shortfall(constraint=f"slo {where}", detail=best.reason)


def _smallest(design: Design) -> Point:
    """The smallest point of a design: one machine (baseline) or one prompt and one token machine."""
    return Point(1, 0) if design.kind == "baseline" else Point(1, 1)
