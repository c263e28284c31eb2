"""Re-check a dynamo plan without the solver (no ortools import): every epoch serves its load within capacity,
budget and SLOs, and every energy figure recomputes from the profile.

Checks (reference section 5.5, constraint names as in :mod:`planner.dynamo.model`):

* ``serve[k]``: the provisioned rate of every class is routed in full;
* ``capacity``: each group's mix uses at most its instances (``max_k sum_j x_j / cap_{j|k,c} <= n``, with
  interference between the classes present), and a group with one class meets that class's p99 latencies at its
  per-instance load, read directly from the profile sweep (a check independent of the capacity inversion);
* ``dominance``: a pool serves only classes it may serve;
* ``gpu_budget`` and node packing (TP divides the node size, so instances pack without fragmentation);
* hierarchical: every pool keeps its GPUs within a cluster window;
* energy: idle plus the load-dependent power of every group at its balanced operating point (the profile's power
  curves), parked GPUs, reconfiguration, totals.
"""

from __future__ import annotations

import numpy as np

from planner.dynamo.contract import DynamoPlanBlock
from planner.dynamo.instance import DynamoProblem
from planner.dynamo.load import Epoch
from planner.dynamo.profile import LATENCIES, Config
from planner.dynamo.solution import instance_dynamic_w
from planner.errors import VerificationError

REL = 1e-6


def _close(a: float, b: float, rel: float = REL) -> bool:
    return abs(a - b) <= rel * max(1.0, abs(a), abs(b))


def latency_at(problem: DynamoProblem, k: str, c: Config, load_rps: float) -> dict[str, float]:
    """p-th percentile latencies of class k on c at ``load_rps`` per instance, interpolated in the sweep."""
    sw = problem.profiles.sweeps[(k, c)]
    if load_rps > sw.load_rps[-1] * (1 + REL):
        return {m: float("inf") for m in LATENCIES}
    return {m: float(np.interp(load_rps, sw.load_rps, sw.lat[m])) for m in LATENCIES}


def check_plan(problem: DynamoProblem, block: DynamoPlanBlock) -> list[str]:
    """All problems found in the typed plan block (empty list: the plan is consistent)."""
    errs: list[str] = []
    serves = problem.plan_serves()
    window = int(round(problem.epoch_s / problem.reshard_epoch_s))
    total_wh = 0.0
    prev_pool_gpus: dict[str, int] | None = None
    prev_tp: dict[tuple[str, int], int] | None = None
    for idx, ep in enumerate(block.epochs):
        where = f"epoch[{ep.start}]"
        epoch: Epoch = problem.epochs[idx]
        if epoch.label != ep.start:
            errs.append(f"{where}: epoch {idx} should start at {epoch.label}")
            continue
        lam = problem.provisioned(epoch)
        routed = {k: 0.0 for k in problem.classes}
        gpus, energy = 0, 0.0
        pool_gpus: dict[str, int] = {}
        tp_count: dict[tuple[str, int], int] = {}
        for pool in ep.pools:
            p = pool.class_
            for cfg in pool.configs:
                c = Config(cfg.tp, int(cfg.freq_mhz))
                n = cfg.instances
                if c not in problem.configs or c.freq_mhz != cfg.freq_mhz:  # profiled clocks are whole MHz
                    errs.append(f"{where}.pool[{p}]: configuration {c.key} is not allowed")
                    continue
                if problem.gpus_per_node % c.tp:
                    errs.append(f"{where}.pool[{p}]: TP {c.tp} does not divide the node size")
                usage = 0.0
                shares: dict[str, float] = {}
                for k, fig in cfg.classes.items():
                    x = fig.provisioned_rps
                    routed[k] += x
                    if k not in serves[p]:
                        errs.append(f"{where}.pool[{p}]: serves class {k} it may not serve (dominance)")
                    cap = problem.cap(k, c)
                    if x > 0 and cap <= 0:
                        errs.append(f"{where}.pool[{p}].{c.key}: class {k} cannot meet its SLO on this config")
                        continue
                    usage += x / cap if x > 0 else 0.0
                    expected_served = epoch.requests[k] * x / lam[k] if lam[k] > 0 else 0.0
                    if not _close(fig.served_requests, expected_served):
                        errs.append(f"{where}.pool[{p}].{c.key}: served requests of {k} do not match its share")
                    if n > 0 and expected_served > 0:
                        shares[k] = expected_served / epoch.length_s / (n * cap)
                loads = {k: float(fig.provisioned_rps) for k, fig in cfg.classes.items()}
                usage = max(usage, problem.usage(loads, c))  # with interference when classes share
                if usage > n * (1 + REL):
                    errs.append(f"{where}.pool[{p}].{c.key}: capacity exceeded ({usage:.6g} > {n} instances)")
                single = [k for k, fig in cfg.classes.items() if fig.provisioned_rps > 0]
                if len(single) == 1 and n > 0:
                    k = single[0]
                    lat = latency_at(problem, k, c, cfg.classes[k].provisioned_rps / n)
                    for m in LATENCIES:
                        lim = problem.slos[k].limit(m)
                        if lim is not None and lat[m] > lim * (1 + 1e-6):
                            errs.append(f"{where}.pool[{p}].{c.key}: p99 {m} {lat[m]:.4g}s > SLO {lim:.4g}s for {k}")
                idle = n * problem.idle_w(c) * epoch.length_s / 3600.0
                dyn = n * epoch.length_s / 3600.0 * instance_dynamic_w(shares, {k: problem.curve(k, c) for k in shares})
                if not _close(cfg.energy_wh, idle + dyn):
                    errs.append(f"{where}.pool[{p}].{c.key}: energy {cfg.energy_wh:.6g} Wh != {idle + dyn:.6g}")
                gpus += n * c.tp
                energy += idle + dyn
                pool_gpus[p] = pool_gpus.get(p, 0) + n * c.tp
                tp_count[(p, c.tp)] = tp_count.get((p, c.tp), 0) + n
        for k in problem.classes:
            if not _close(routed[k], lam[k]):
                errs.append(f"{where}: serve[{k}] routes {routed[k]:.6g} req/s of {lam[k]:.6g}")
        if gpus > problem.gpu_budget:
            errs.append(f"{where}: {gpus} GPUs exceed the budget of {problem.gpu_budget}")
        if gpus != ep.gpus:
            errs.append(f"{where}: gpus {ep.gpus} != {gpus}")
        if (
            problem.mode == "hierarchical"
            and idx % window
            and prev_pool_gpus is not None
            and pool_gpus != {p: g for p, g in prev_pool_gpus.items() if g}
        ):
            errs.append(f"{where}: pool GPUs changed inside a cluster window")
        started = resharded = 0
        if prev_pool_gpus is not None and prev_tp is not None:
            started = sum(max(0, g - prev_pool_gpus.get(p, 0)) for p, g in pool_gpus.items())
            resharded = sum(t * max(0, n - prev_tp.get((p, t), 0)) for (p, t), n in tp_count.items())
        reconf = started * problem.start_wh_per_gpu() + resharded * problem.reshard_wh_per_gpu()
        if not _close(ep.reconfig_wh, reconf):
            errs.append(f"{where}: reconfiguration {ep.reconfig_wh:.6g} Wh != {reconf:.6g}")
        reconf += problem.parked_wh(gpus, epoch.length_s)  # GPUs outside every instance (0 when released)
        if not _close(ep.energy_wh, energy + reconf):
            errs.append(f"{where}: energy {ep.energy_wh:.6g} Wh != {energy + reconf:.6g}")
        total_wh += energy + reconf
        prev_pool_gpus, prev_tp = pool_gpus, tp_count
    if block.totals is None:
        errs.append("totals: missing from a solved plan")
    elif not _close(block.totals.energy_kwh, total_wh / 1000.0):
        errs.append(f"totals.energy_kwh {block.totals.energy_kwh:.6g} != {total_wh / 1000.0:.6g}")
    errs += check_slo_limits(problem, block)
    errs += check_totals(problem, block, total_wh)
    errs += check_certificate(block, total_wh)
    return errs


def check_slo_limits(problem: DynamoProblem, block: DynamoPlanBlock) -> list[str]:
    """The SLO limits the plan states per class are the ones every group was checked against above."""
    errs: list[str] = []
    for row in block.classes or []:
        slo = problem.slos.get(row.class_)
        if slo is None:
            errs.append(f"classes[{row.class_}]: not a class of the problem")
            continue
        for m in ("ttft_s", "tbt_s", "e2e_s"):
            stated, limit = getattr(row, m), getattr(slo, m)
            if (stated is None) != (limit is None) or (
                stated is not None and limit is not None and not _close(stated, limit)
            ):
                errs.append(f"classes[{row.class_}].{m}: plan states {stated}, the SLO is {limit}")
    return errs


def check_totals(problem: DynamoProblem, block: DynamoPlanBlock, total_wh: float) -> list[str]:
    """GPU-hours, cost, carbon and power totals recomputed from the epochs (energy from the recomputed sum)."""
    errs: list[str] = []
    epochs, t = block.epochs, block.totals
    for ep in epochs:
        if not _close(ep.power_w, ep.energy_wh * 3600.0 / ep.length_s):
            errs.append(f"epoch[{ep.start}]: power {ep.power_w:.6g} W != energy / length")
    if t is None:
        return errs
    span_s = sum(ep.length_s for ep in epochs)
    gpu_h = sum(ep.gpus * ep.length_s / 3600.0 for ep in epochs)
    gpu_cost = gpu_h * problem.gpu_usd_h
    electricity = total_wh / 1000.0 * problem.pue * problem.price_kwh
    grams: float | None = 0.0
    for idx, ep in enumerate(epochs):
        g = problem.carbon_g_per_kwh(problem.epochs[idx])
        if g is None or grams is None:
            grams = None
            continue
        grams += ep.energy_wh / 1000.0 * problem.pue * g / 1000.0
    peak_w = max((ep.energy_wh * 3600.0 / ep.length_s for ep in epochs), default=0.0)
    expected: dict[str, tuple[float | None, float | None]] = {
        "gpu_h": (t.gpu_h, gpu_h),
        "peak_gpus": (float(t.peak_gpus), float(max((ep.gpus for ep in epochs), default=0))),
        "avg_power_kw": (t.avg_power_kw, total_wh * 3600.0 / span_s / 1000.0 if span_s else 0.0),
        "peak_power_kw": (t.peak_power_kw, peak_w / 1000.0),
        "gpu_cost_usd": (t.gpu_cost_usd, gpu_cost),
        "electricity_cost_usd": (t.electricity_cost_usd, electricity),
        "cost_usd": (t.cost_usd, gpu_cost + electricity),
        "carbon_kgco2": (t.carbon_kgco2, grams),
    }
    for key, (stated, value) in expected.items():
        if value is None or stated is None:
            if value is not stated:
                errs.append(f"totals.{key} {stated} != {value}")
        elif not _close(float(stated), value):
            errs.append(f"totals.{key} {float(stated):.6g} != {value:.6g}")
    return errs


def check_certificate(block: DynamoPlanBlock, total_wh: float) -> list[str]:
    """An optimal label (every epoch ``optimal``) carries a consistent certificate; one that says more is refused.

    The dual bound itself is the solver's word (the label says "solver-certified"); what is checked here is that
    the certificate covers every epoch, its bound does not exceed its objective, its gap is within the tolerance it
    names, and its objective covers the energy recomputed above (the objective is energy plus non-negative
    penalties, so an objective below the plan's energy belongs to another plan).
    """
    errs: list[str] = []
    epochs = block.epochs
    proved = sum(ep.status == "optimal" for ep in epochs)
    cert = block.certificate
    if cert is None:
        if epochs and proved == len(epochs):
            errs.append("every epoch is labelled optimal, but the plan carries no certificate")
        return errs
    if cert.label != "optimal (solver-certified)":
        errs.append(f"certificate label {cert.label!r}: a dual bound is only solver-certified")
    if cert.epochs != len(epochs) or cert.epochs_proved != proved or proved != len(epochs):
        errs.append(f"certificate covers {cert.epochs_proved}/{cert.epochs} epochs, plan has {proved}/{len(epochs)}")
    objective, bound = float(cert.objective_wh), float(cert.bound_wh)
    if bound > objective * (1 + REL) + 1e-9:
        errs.append(f"certificate bound {bound:.10g} Wh exceeds its objective {objective:.10g} Wh")
    gap = max(0.0, objective - bound) / objective if objective > 0 else 0.0
    if abs(gap - float(cert.relative_gap)) > 1e-9 or gap > float(cert.gap_tolerance) + 1e-12:
        errs.append(
            f"certificate gap {float(cert.relative_gap):.3g} (recomputed {gap:.3g}) against tolerance "
            f"{float(cert.gap_tolerance):.3g}"
        )
    if objective < total_wh * (1 - REL) - 1e-6:
        errs.append(
            f"certificate objective {objective:.10g} Wh is below the plan's recomputed energy {total_wh:.10g} Wh"
        )
    return errs


def verify_plan(problem: DynamoProblem, block: DynamoPlanBlock) -> None:
    """Raise :class:`VerificationError` listing the first problems (a bug in llmplan if it ever fires)."""
    errs = check_plan(problem, block)
    if errs:
        more = f" (+{len(errs) - 5} more)" if len(errs) > 5 else ""
        raise VerificationError("dynamo plan failed verification: " + "; ".join(errs[:5]) + more)
