"""The plan document's ``plan`` block, metrics and assumptions for a solved day (README "Plan document").

Contract (other commands build on it): ``plan.epochs[]`` with ``start`` (HH:MM) and ``pools[]`` of ``class``,
``instances``, ``tp``, ``freq_mhz``, ``load_rps``, ``energy_wh``; metrics ``energy_kwh`` and
``baseline_singlepool_energy_kwh``. A pool holding several configurations lists them under ``configs``; its
``tp``/``freq_mhz`` are those of the configuration with the most GPUs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from planner.dynamo.baselines import Baseline
from planner.dynamo.contract import DynamoBaseline, DynamoPlanBlock
from planner.dynamo.contract import Totals as ContractTotals
from planner.dynamo.instance import DynamoProblem
from planner.dynamo.model import REL_GAP
from planner.dynamo.solution import DayResult, EpochResult, Group
from planner.profiles.schema import provenance_of
from planner.solver import Assumption


@dataclass(frozen=True)
class Totals:
    """Totals over the horizon (energy at the GPUs; PUE applies to electricity cost and carbon)."""

    energy_kwh: float
    avg_power_kw: float
    peak_power_kw: float
    p50_power_kw: float  # median and 99th percentile of the epochs' average power (the paper's cluster-power figures)
    p99_power_kw: float
    gpu_h: float
    peak_gpus: int
    gpu_cost_usd: float
    electricity_cost_usd: float
    carbon_kgco2: float | None
    requests: float

    @property
    def cost_usd(self) -> float:
        return self.gpu_cost_usd + self.electricity_cost_usd


def totals(problem: DynamoProblem, epochs: list[EpochResult]) -> Totals:
    energy_wh = sum(e.energy_wh for e in epochs)
    span_s = sum(e.epoch.length_s for e in epochs)
    gpu_h = sum(e.gpus * e.epoch.length_s / 3600.0 for e in epochs)
    carbon: float | None = None  # stays None when an epoch has no carbon intensity
    grams = 0.0
    for e in epochs:
        g = problem.carbon_g_per_kwh(e.epoch)
        if g is None:
            break
        grams += e.energy_wh / 1000.0 * problem.pue * g / 1000.0
    else:
        carbon = grams
    return Totals(
        energy_kwh=energy_wh / 1000.0,
        avg_power_kw=energy_wh * 3600.0 / span_s / 1000.0 if span_s else 0.0,
        peak_power_kw=max((e.avg_power_w for e in epochs), default=0.0) / 1000.0,
        p50_power_kw=_percentile([e.avg_power_w for e in epochs], 50.0) / 1000.0,
        p99_power_kw=_percentile([e.avg_power_w for e in epochs], 99.0) / 1000.0,
        gpu_h=gpu_h,
        peak_gpus=max((e.gpus for e in epochs), default=0),
        gpu_cost_usd=gpu_h * problem.gpu_usd_h,
        electricity_cost_usd=energy_wh / 1000.0 * problem.pue * problem.price_kwh,
        carbon_kgco2=carbon,
        requests=sum(sum(e.epoch.requests.values()) for e in epochs),
    )


def _percentile(values: list[float], q: float) -> float:
    """The q-th percentile of per-epoch figures (linear interpolation; 0 for no epochs)."""
    return float(np.percentile(values, q)) if values else 0.0


def _bucket(cuts: tuple[int, ...], i: int) -> list[int | None]:
    lo = 0 if i == 0 else cuts[i - 1]
    hi = cuts[i] if i < len(cuts) else None
    return [lo, hi]


def _config_entry(g: Group, length_s: float) -> dict[str, Any]:
    return {
        "tp": g.config.tp,
        "freq_mhz": g.config.freq_mhz,
        "instances": g.instances,
        "gpus": g.gpus,
        "load_rps": sum(g.served.values()) / length_s,
        "provisioned_rps": sum(g.load_rps.values()),
        "classes": {k: {"provisioned_rps": g.load_rps[k], "served_requests": g.served[k]} for k in sorted(g.load_rps)},
        "energy_wh": g.energy_wh,
        "idle_wh": g.idle_wh,
        "utilisation": g.utilisation,
    }


def _pool_entry(pool: str, groups: list[Group], length_s: float) -> dict[str, Any]:
    main = max(groups, key=lambda g: (g.gpus, sum(g.load_rps.values()), -g.config.tp, -g.config.freq_mhz))
    return {
        "class": pool,
        "instances": sum(g.instances for g in groups),
        "gpus": sum(g.gpus for g in groups),
        "tp": main.config.tp,
        "freq_mhz": main.config.freq_mhz,
        "load_rps": sum(sum(g.served.values()) for g in groups) / length_s,
        "provisioned_rps": sum(sum(g.load_rps.values()) for g in groups),
        "energy_wh": sum(g.energy_wh for g in groups),
        "configs": [_config_entry(g, length_s) for g in sorted(groups, key=lambda g: (g.config.tp, g.config.freq_mhz))],
    }


def epoch_entry(problem: DynamoProblem, res: EpochResult) -> dict[str, Any]:
    pools = sorted({g.pool for g in res.groups if g.instances > 0}, key=problem.classes.index)
    e = res.epoch
    entry: dict[str, Any] = {
        "start": e.label,
        "length_s": e.length_s,
        "status": res.status,
        "gpus": res.gpus,
        "energy_wh": res.energy_wh,
        "power_w": res.avg_power_w,
        "reconfig_wh": res.reconfig_wh,
        "parked_wh": res.parked_wh,
        "started_gpus": res.started_gpus,
        "resharded_gpus": res.resharded_gpus,
        "load_rps": sum(e.requests.values()) / e.length_s,
        "provisioned_rps": sum(problem.provisioned(e).values()),
        "pools": [_pool_entry(p, res.pool_groups(p), e.length_s) for p in pools],
    }
    carbon = problem.carbon_g_per_kwh(e)
    if carbon is not None:
        entry["carbon_g_per_kwh"] = carbon
    return entry


def _totals_entry(t: Totals) -> dict[str, Any]:
    return {
        "energy_kwh": t.energy_kwh,
        "avg_power_kw": t.avg_power_kw,
        "peak_power_kw": t.peak_power_kw,
        "p50_power_kw": t.p50_power_kw,
        "p99_power_kw": t.p99_power_kw,
        "gpu_h": t.gpu_h,
        "peak_gpus": t.peak_gpus,
        "cost_usd": t.cost_usd,
        "gpu_cost_usd": t.gpu_cost_usd,
        "electricity_cost_usd": t.electricity_cost_usd,
        "carbon_kgco2": t.carbon_kgco2,
    }


def savings(plan: Totals, ladder: dict[str, Totals | None], against: str) -> dict[str, Any]:
    """Savings over the reference SinglePool (``against``) and their attribution along the baseline ladder (see
    planner.dynamo.baselines); the saving over the other SinglePool is stated too."""
    single = ladder.get(against)
    out: dict[str, Any] = {"against": against}
    if single is None:
        return out
    total = single.energy_kwh - plan.energy_kwh
    out["vs_singlepool_kwh"] = total
    out["vs_singlepool_pct"] = 100.0 * total / single.energy_kwh if single.energy_kwh else None
    out["cost_vs_singlepool_pct"] = (
        100.0 * (single.cost_usd - plan.cost_usd) / single.cost_usd if single.cost_usd else None
    )
    for name in ("singlepool-fixed", "singlepool-peak"):
        t = ladder.get(name)
        if t is not None and t.energy_kwh:
            out[f"vs_{name.replace('-', '_')}_pct"] = 100.0 * (t.energy_kwh - plan.energy_kwh) / t.energy_kwh
    steps = ([against] if against == "singlepool-fixed" else []) + [
        "singlepool-peak",
        "static-pools-tp8",
        "static-pools",
        "plan-top-clock",
    ]
    names = {
        "singlepool-peak": "sizing",
        "static-pools-tp8": "pools",
        "static-pools": "tp",
        "plan-top-clock": "scaling",
    }
    rungs = {s: rung for s in steps if (rung := ladder.get(s)) is not None}
    if len(rungs) == len(steps):
        for a, b in zip(steps[:-1], steps[1:], strict=True):
            out[f"{names[b]}_kwh"] = rungs[a].energy_kwh - rungs[b].energy_kwh
        out["frequency_kwh"] = rungs["plan-top-clock"].energy_kwh - plan.energy_kwh
    return out


def profile_entries(problem: DynamoProblem) -> list[dict[str, Any]]:
    """Per class and configuration: capacity at SLO, energy per request at capacity, what binds (for plots)."""
    rows = []
    for k in problem.classes:
        for c in problem.configs:
            f = problem.figures[(k, c)]
            at_cap = problem.idle_w(c) / f.cap_rps / 3600.0 + f.energy_wh if f.cap_rps > 0 else None
            rows.append(
                {
                    "class": k,
                    "tp": c.tp,
                    "freq_mhz": c.freq_mhz,
                    "cap_rps": f.cap_rps,
                    "idle_w": problem.idle_w(c),
                    "marginal_wh": f.energy_wh if f.cap_rps > 0 else None,
                    "wh_per_request_at_cap": at_cap,
                    "binding": f.binding,
                }
            )
    return rows


def certificate(day: DayResult) -> dict[str, Any] | None:
    """The certificate of the plan's "optimal" label: written only when every epoch was proved optimal."""
    if not day.epochs or any(e.status != "optimal" for e in day.epochs):
        return None
    objective = sum(e.objective_wh or 0.0 for e in day.epochs)
    bound = sum(e.bound_wh if e.bound_wh is not None else (e.objective_wh or 0.0) for e in day.epochs)
    if day.mode != "joint":
        how = "each epoch's pool level solved by exact enumeration (cluster level: the fragmentation rule)"
        bound_name = "exact enumeration per epoch"
    elif not day.enumerated:
        how, bound_name = "each epoch's MILP closed by the solver's dual bound", "MILP dual bound per epoch"
    else:
        milp = max(0, len(day.epochs) - day.enumerated)
        how = (
            f"{day.enumerated} epochs solved by exact per-pool enumeration of the epoch MILP's feasible set (bound = "
            f"objective), {milp} epochs by the MILP closed by the solver's dual bound"
        )
        bound_name = "exact per-pool enumeration per epoch, else MILP dual bound"
    return {
        "label": "optimal (solver-certified)",
        "bound": bound_name,
        "epochs_proved": len(day.epochs),
        "epochs": len(day.epochs),
        "objective_wh": objective,
        "bound_wh": bound,
        "relative_gap": max(0.0, objective - bound) / objective if objective > 0 else 0.0,
        "gap_tolerance": REL_GAP,
        "derivation": f"{how} to a relative gap <= {REL_GAP:g}, given the previous epoch (rolling horizon); the "
        "verifier recomputes feasibility, SLOs and energy from the plan, and that the objective covers the "
        "recomputed energy, but not the dual bound itself",
    }


def predicted_shares(block: DynamoPlanBlock) -> dict[str, float]:
    """Per cost figure of the metrics (the plan's ``cost_usd``, each ``baseline_<name>_cost_usd``), the share of it
    that is predicted: the electricity, beside GPU-hours at a fixed price, which the plan sets. The cost's error
    band is the electricity's scaled by this share (:func:`planner.profiles.accuracy.with_bands`)."""
    sides: list[tuple[str, ContractTotals | DynamoBaseline | None]] = [("cost_usd", block.totals)]
    sides += [(f"baseline_{b.name.replace('-', '_')}_cost_usd", b) for b in block.baselines or []]
    return {
        name: t.electricity_cost_usd / t.cost_usd
        for name, t in sides
        if t is not None and t.cost_usd and t.electricity_cost_usd is not None
    }


def plan_block(
    problem: DynamoProblem, day: DayResult, baselines: list[Baseline]
) -> tuple[DynamoPlanBlock, dict[str, float | None], Totals]:
    """The plan block (built as the dynamo contract), the metrics and the day's totals."""
    plan_t = totals(problem, day.epochs)
    ladder: dict[str, Totals | None] = {
        b.name: (totals(problem, b.epochs) if b.epochs is not None else None) for b in baselines
    }
    sc = problem.scheme
    classes = []
    for rc in sc.classes:
        slo = problem.slos[rc.name]
        classes.append(
            {
                "class": rc.name,
                "input_tokens": _bucket(sc.input_cuts, rc.input_bucket),
                "output_tokens": _bucket(sc.output_cuts, rc.output_bucket),
                "share": problem.load_source.mix.get(rc.name, 0.0),
                "ttft_s": slo.ttft_s,
                "tbt_s": slo.tbt_s,
                "e2e_s": slo.e2e_s,
                "slo_source": dict(sorted(slo.source.items())),
            }
        )
    block: dict[str, Any] = {
        "model": problem.model,
        "gpu": problem.gpu.name,
        "mode": problem.mode,
        "epoch_s": problem.epoch_s,
        "reshard_epoch_s": problem.reshard_epoch_s,
        "gpu_budget": problem.gpu_budget,
        "headroom": problem.headroom,
        "dominance": problem.dominance,
        "homogeneous_pools": problem.homogeneous,
        "percentile": problem.profiles.percentile,
        "classes": classes,
        "epochs": [epoch_entry(problem, e) for e in day.epochs],
        "totals": _totals_entry(plan_t),
        **({"certificate": c} if (c := certificate(day)) is not None else {}),
        "baselines": [
            {
                "name": b.name,
                "description": b.description,
                "gpus": b.gpus,
                "note": b.note,
                **(_totals_entry(t) if (t := ladder[b.name]) is not None else {}),
            }
            for b in baselines
        ],
        "savings": savings(plan_t, ladder, problem.savings_against),
        "profile": profile_entries(problem),
    }
    metrics: dict[str, float | None] = {
        "energy_kwh": plan_t.energy_kwh,
        "avg_power_kw": plan_t.avg_power_kw,
        "peak_power_kw": plan_t.peak_power_kw,
        "p50_power_kw": plan_t.p50_power_kw,
        "p99_power_kw": plan_t.p99_power_kw,
        "allocated_gpu_h": plan_t.gpu_h,
        "peak_gpus": float(plan_t.peak_gpus),
        "cost_usd": plan_t.cost_usd,
        "gpu_cost_usd": plan_t.gpu_cost_usd,
        "electricity_cost_usd": plan_t.electricity_cost_usd,
        "carbon_kgco2": plan_t.carbon_kgco2,
        "served_requests": plan_t.requests,
        "energy_per_request_wh": plan_t.energy_kwh * 1000.0 / plan_t.requests if plan_t.requests else None,
        "reconfig_energy_kwh": sum(e.reconfig_wh for e in day.epochs) / 1000.0,
        "epochs_count": float(len(day.epochs)),
        "gpu_budget_gpus": float(problem.gpu_budget),
    }
    for b in baselines:
        t = ladder[b.name]
        key = b.name.replace("-", "_")
        metrics[f"baseline_{key}_energy_kwh"] = t.energy_kwh if t else None
        if b.name in ("singlepool-fixed", "singlepool-peak", "static-pools"):
            metrics[f"baseline_{key}_peak_power_kw"] = t.peak_power_kw if t else None
            metrics[f"baseline_{key}_gpu_h"] = t.gpu_h if t else None
            metrics[f"baseline_{key}_cost_usd"] = t.cost_usd if t else None
            metrics[f"baseline_{key}_carbon_kgco2"] = t.carbon_kgco2 if t else None
    ref = ladder.get(problem.savings_against)
    metrics["baseline_singlepool_energy_kwh"] = ref.energy_kwh if ref else None  # the reference SinglePool
    metrics["baseline_singlepool_gpu_h"] = ref.gpu_h if ref else None
    metrics["baseline_singlepool_avg_power_kw"] = ref.avg_power_kw if ref else None
    metrics["baseline_singlepool_p50_power_kw"] = ref.p50_power_kw if ref else None
    metrics["baseline_singlepool_p99_power_kw"] = ref.p99_power_kw if ref else None
    sv = block["savings"]
    metrics["savings_vs_singlepool_pct"] = sv.get("vs_singlepool_pct")
    metrics["savings_vs_singlepool_fixed_pct"] = sv.get("vs_singlepool_fixed_pct")
    metrics["savings_vs_singlepool_peak_pct"] = sv.get("vs_singlepool_peak_pct")
    metrics["cost_savings_vs_singlepool_pct"] = sv.get("cost_vs_singlepool_pct")
    for part in ("sizing", "pools", "tp", "scaling", "frequency"):
        metrics[f"savings_{part}_kwh"] = sv.get(f"{part}_kwh")
    return DynamoPlanBlock.model_validate(block), metrics, plan_t


def assumptions(problem: DynamoProblem) -> list[Assumption]:
    prof = problem.profiles
    basis = provenance_of(prof.provenance[0]) if len(prof.provenance) == 1 else "synthetic"
    out = [
        Assumption(
            subject="profile",
            basis=basis,
            detail=f"{prof.model} on {prof.gpu}: p{prof.percentile:g} latency and power load sweeps per class, TP "
            f"and clock ({', '.join(prof.provenance)}); capacity at SLO interpolated between profiled loads; "
            "instance power = the sweep's power at the instance's balanced load (piecewise-linear operating points)",
        ),
        Assumption(
            subject="load",
            basis="measured" if "trace" in problem.load_source.detail else "user",
            detail=problem.load_source.detail + f"; provisioned at (1 + {problem.headroom:g}) x each epoch's peak",
        ),
        Assumption(
            subject="slo",
            basis="paper" if any("isolated" in v for s in problem.slos.values() for v in s.source.values()) else "user",
            detail="; ".join(sorted({f"{m}: {src}" for s in problem.slos.values() for m, src in s.source.items()})),
        ),
        Assumption(
            subject="capacity_mixing",
            basis="analytic",
            detail=(
                "classes sharing an instance slow each other: max_k sum_j x_j / cap[j|k] <= instances, cap[j|k] the "
                "load of j that keeps k's SLO (short prefills queue behind long ones, decode at the shared TBT; "
                "estimated from each class's own sweep); the SinglePool baselines are sized by throughput (linear "
                "mixing) like the paper's static deployment and their notes say which SLOs they miss"
                if problem.interference
                else "classes sharing an instance use capacity linearly (sum_k x_k / cap_k <= instances); "
                "interference between lengths is off (dynamo.interference: false)"
            ),
        ),
        Assumption(
            subject="energy_boundary",
            basis="analytic",
            detail=f"energy at the GPUs (reference section 2); PUE {problem.pue:g} applies to electricity cost and "
            "carbon only; "
            + (
                "released GPUs draw nothing"
                if problem.released == "release"
                else f"GPUs outside every instance stay parked at {problem.parked_w_per_gpu:.4g} W each"
            )
            + f"; savings against {problem.savings_against}",
        ),
        Assumption(
            subject="reconfiguration",
            basis="default",
            detail=f"a GPU joining a pool costs {problem.start_s:g} s at idle power, a re-sharded GPU "
            f"{problem.reshard_s:g} s; weight {problem.penalty_weight:g} in the MILP; the first epoch starts free",
        ),
        Assumption(
            subject="horizon",
            basis="analytic",
            detail=f"{problem.mode} mode, rolling horizon: each epoch's MILP is optimal given the previous epoch",
        ),
        Assumption(
            subject="pricing",
            basis="default" if "default" in problem.price_source else "user",
            detail=f"GPU {problem.gpu_usd_h:g} USD/GPU-h, electricity {problem.price_kwh:g} USD/kWh "
            f"({problem.price_source})",
        ),
    ]
    if problem.carbon is not None:
        out.append(Assumption(subject="carbon", basis="user", detail=f"grid intensity series {problem.carbon.source}"))
    elif problem.carbon_constant is not None:
        out.append(
            Assumption(subject="carbon", basis="user", detail=f"constant {problem.carbon_constant:g} gCO2/kWh (spec)")
        )
    return out
