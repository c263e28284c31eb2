"""``plan splitwise``: build the instance, search every design, extract and verify the plan.

``build`` resolves the spec + profiles + options into an :class:`Instance` (machines, designs, performance
profiles, request stream, SLO limits, the target). ``solve`` runs the simulator-driven search of ``search.py`` per
design (Ctrl-C keeps the best feasible point simulated so far: status ``interrupted``). ``extract`` turns the
outcomes into the plan document's blocks. ``run`` chains them, verifies the plan (``verify.py``) and raises
:class:`~planner.errors.InfeasibleError` (with the plan) when no design meets the target.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from planner.errors import InfeasibleError, Shortfall, SpecError, UsageError
from planner.plan import Plan
from planner.profiles.db import ProfileDB
from planner.runner import assemble_plan
from planner.solver import Assumption, SolveReport, Status
from planner.spec.loader import LoadedSpec
from planner.spec.sections.splitwise import DEFAULT_DESIGNS, SplitwiseSection
from planner.splitwise.analytic import AnalyticModel, Capacity, MachinePerf, Workload, capacity
from planner.splitwise.evaluate import Evaluator, PointResult, kv_capacity_tokens
from planner.splitwise.launch import pool_hints, router_hint
from planner.splitwise.machines import Design, Machine, find_machine, parse_design, resolve_machines
from planner.splitwise.model import Objective, Point, cost_usd_h, objective_value, power_kw, tie_key
from planner.splitwise.parallel import PointRunner, available_cores
from planner.splitwise.perf import PerfProfile, build_profile
from planner.splitwise.requests import RequestSource, request_source
from planner.splitwise.search import DesignOutcome, Search, SearchSettings
from planner.splitwise.slo import SloLimit, reference_latencies, slo_limits
from planner.splitwise.verify import verify_plan

BACKEND = "splitwise-sim"
#: Requests the analytic model averages over (a prefix of the simulated stream).
ANALYTIC_SAMPLE = 4000
Mode = Literal["iso-throughput", "iso-budget"]


@dataclass
class SplitwiseOptions:
    """Command-line options of ``plan splitwise`` (``None``: take the spec's value)."""

    rps: float | None = None
    objective: Objective | None = None
    cost_target_usd_h: float | None = None
    power_target_kw: float | None = None
    designs: list[str] | None = None
    duration_s: float | None = None
    workers: int = 1  # 0: one per available core
    time_limit_s: float = 60.0
    seed: int = 0

    def recorded(self) -> dict[str, Any]:
        """The options that shape the plan (``workers`` only changes how fast it comes, so it is left out)."""
        return {k: v for k, v in asdict(self).items() if k != "workers"}


@dataclass
class Instance:
    """Everything one run of the planner decides with."""

    loaded: LoadedSpec
    section: SplitwiseSection
    machines: dict[str, Machine]
    designs: list[Design]
    profiles: dict[str, PerfProfile]
    reference: PerfProfile
    source: RequestSource
    limits: list[SloLimit]
    mode: Mode
    objective: Objective
    rate_rps: float | None
    cost_budget_usd_h: float | None
    power_budget_kw: float | None
    kv_capacity: dict[str, int]
    evaluator: Evaluator
    workload: Workload
    options: SplitwiseOptions
    seed: int


@dataclass
class Solution:
    outcomes: list[DesignOutcome]
    ledger: list[PointResult]
    status: Status
    wall_s: float
    workers: int
    unusable: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------------- build
def build(loaded: LoadedSpec, db: ProfileDB, options: SplitwiseOptions) -> Instance:
    """Resolve spec, profiles and options into an :class:`Instance`; input errors raise (exit 2)."""
    section = loaded.spec.splitwise or SplitwiseSection()
    if options.duration_s is not None:
        section = section.model_copy(update={"duration": options.duration_s})
    machines = resolve_machines(db, loaded, section)
    designs = _designs(loaded, section, options, machines)
    ref_machine = find_machine(machines, section.reference_machine)
    if ref_machine is None:
        raise SpecError(
            [loaded.problem(("splitwise", "reference_machine"), f"unknown machine '{section.reference_machine}'")]
        )
    model = loaded.model
    used = {ref_machine.name: ref_machine}
    for d in designs:
        for m in d.machines:
            used[m.name] = m
    profiles = {name: build_profile(db, model, m, machines, section.analytic) for name, m in sorted(used.items())}
    mode, rate, cost_budget, power_budget = _target(loaded, section, options)
    objective: Objective = options.objective or section.objective
    wl = loaded.spec.workload
    seed = (wl.seed if wl is not None else 0) + options.seed
    source = request_source(loaded, section.resample, options.seed)
    limits = slo_limits(section.slo)
    kv_cap = {name: kv_capacity_tokens(m, model.weight_bytes, model.kv_bytes_per_token) for name, m in used.items()}
    evaluator = Evaluator.from_section(
        source,
        section,
        {d.name: d for d in designs},
        profiles,
        profiles[ref_machine.name],
        limits,
        float(model.kv_bytes_per_token),
        kv_cap,
    )
    sample = source.sample(ANALYTIC_SAMPLE / section.duration, section.duration)
    if len(sample) == 0:
        raise SpecError([loaded.problem(("workload",), "the workload produced no requests")])
    workload = Workload(sample.input_tokens[:ANALYTIC_SAMPLE], sample.output_tokens[:ANALYTIC_SAMPLE])
    return Instance(
        loaded=loaded,
        section=section,
        machines=machines,
        designs=designs,
        profiles=profiles,
        reference=profiles[ref_machine.name],
        source=source,
        limits=limits,
        mode=mode,
        objective=objective,
        rate_rps=rate,
        cost_budget_usd_h=cost_budget,
        power_budget_kw=power_budget,
        kv_capacity=kv_cap,
        evaluator=evaluator,
        workload=workload,
        options=options,
        seed=seed,
    )


def _designs(
    loaded: LoadedSpec, section: SplitwiseSection, options: SplitwiseOptions, machines: dict[str, Machine]
) -> list[Design]:
    if options.designs:
        names, from_spec = options.designs, False
    elif section.designs:
        names, from_spec = list(section.designs), True
    else:
        names, from_spec = list(DEFAULT_DESIGNS), False
    out: list[Design] = []
    seen: set[str] = set()
    problems = []
    for i, name in enumerate(names):
        if not name.strip():
            continue
        try:
            d = parse_design(name, machines)
        except UsageError as exc:
            if from_spec:
                problems.append(loaded.problem(("splitwise", "designs", i), str(exc)))
                continue
            raise UsageError(f"--designs: {exc}") from None
        if d.name not in seen:
            seen.add(d.name)
            out.append(d)
    if problems:
        raise SpecError(problems)
    if not out:
        raise UsageError("--designs: no design given")
    return out


def _target(
    loaded: LoadedSpec, section: SplitwiseSection, options: SplitwiseOptions
) -> tuple[Mode, float | None, float | None, float | None]:
    """Iso-budget when a cost or power target is given (command line first), else iso-throughput at a rate."""
    cli_budget = options.cost_target_usd_h is not None or options.power_target_kw is not None
    if cli_budget and options.rps is not None:
        raise UsageError("give either --rps (least cost at a rate) or --cost-target/--power-target (most throughput)")
    if cli_budget:
        if options.objective is not None:
            raise UsageError("--objective applies to --rps; with a budget the objective is the request rate")
        return "iso-budget", None, options.cost_target_usd_h, options.power_target_kw
    if options.rps is not None:
        return "iso-throughput", options.rps, None, None
    spec_budget = section.cost_target_usd_h is not None or section.power_target_kw is not None
    if spec_budget:
        if section.rate_rps is not None:
            raise SpecError(
                [loaded.problem(("splitwise", "rate_rps"), "give rate_rps or a cost/power target, not both")]
            )
        return "iso-budget", None, section.cost_target_usd_h, section.power_target_kw
    wl = loaded.spec.workload
    rate = section.rate_rps or (wl.rate_rps if wl is not None else None)
    if rate is None:
        raise UsageError("no target: give --rps, --cost-target or --power-target (or workload.rate_rps in the spec)")
    return "iso-throughput", rate, None, None


# ---------------------------------------------------------------------------------------------------- solve
def _machine_perf(inst: Instance, m: Machine) -> MachinePerf:
    return MachinePerf(m.name, inst.profiles[m.name], inst.kv_capacity[m.name], m.interconnect_bytes_s)


def analytic_model(inst: Instance, design: Design) -> tuple[AnalyticModel, tuple[Capacity, Capacity]]:
    """The analytic model of one design over the instance's workload sample."""
    s = inst.section
    wl = inst.workload
    ref = reference_latencies(wl.prompt, wl.output, inst.reference)
    pm, tm = _machine_perf(inst, design.prompt), _machine_perf(inst, design.token)
    model = AnalyticModel(
        wl,
        ref,
        inst.limits,
        pm,
        tm,
        design.kind == "baseline",
        float(inst.loaded.model.kv_bytes_per_token),
        s.max_batch_tokens,
        s.max_batch_requests,
        s.mixed_batch_factor,
    )
    caps = (
        capacity(wl, pm, s.max_batch_tokens, s.max_batch_requests),
        capacity(wl, tm, s.max_batch_tokens, s.max_batch_requests),
    )
    return model, caps


def resolve_workers(requested: int) -> int:
    return available_cores() if requested <= 0 else requested


def solve(inst: Instance, clock: Any = time.monotonic) -> Solution:
    """Search every design; returns the outcomes and every simulated point.

    Ctrl-C (KeyboardInterrupt) stops the search: the design being searched keeps its best feasible point so far,
    designs not reached are marked not searched, and the solution's status is ``interrupted`` (README "CLI
    conventions": exit 130 keeping the best plan found so far). With no feasible point yet the interrupt propagates.
    The worker pool is stopped either way (``parallel.py``).
    """
    start = clock()
    s = inst.section.search
    settings = SearchSettings(
        objective=inst.objective,
        batch_points=s.batch_points,
        max_machines=s.max_machines,
        neighbourhood=s.neighbourhood,
        rate_step_rps=s.rate_step_rps,
        split_window=s.split_window,
        deadline=start + inst.options.time_limit_s,
    )
    workers = min(resolve_workers(inst.options.workers), s.batch_points)
    outcomes: list[DesignOutcome] = []
    unusable: dict[str, str] = {}
    with PointRunner(inst.evaluator, workers) as runner:
        search = Search(runner, settings, clock=clock)
        try:
            for design in inst.designs:
                if search.interrupted:
                    break
                outcomes.append(_search_design(inst, search, design, unusable))
        except KeyboardInterrupt:  # outside a design's search (the search itself keeps its incumbent)
            search.interrupted = True
    if search.interrupted:
        outcomes += [
            DesignOutcome(design=d, status=Status.interrupted, note="not searched (interrupted)")
            for d in inst.designs[len(outcomes) :]
        ]
        if not any(o.best is not None for o in outcomes):
            raise KeyboardInterrupt  # nothing feasible to keep
    ledger = sorted(search.ledger.values(), key=lambda r: (r.design, r.rate_rps, r.prompt, r.token))
    if search.interrupted:
        status: Status = Status.interrupted
    elif any(o.status == "time_limit" for o in outcomes):
        status = Status.time_limit
    elif any(o.best is not None for o in outcomes):
        status = Status.feasible
    else:
        status = Status.infeasible
    return Solution(outcomes, ledger, status, clock() - start, workers, unusable)


def _search_design(inst: Instance, search: Search, design: Design, unusable: dict[str, str]) -> DesignOutcome:
    problem = _unusable(inst, design)
    if problem:
        unusable[design.name] = problem
        return DesignOutcome(design=design, status=Status.infeasible, note=problem)
    model, caps = analytic_model(inst, design)
    lending = inst.section.mixed_pool.enabled
    if inst.mode == "iso-throughput":
        assert inst.rate_rps is not None
        return search.min_objective(design, inst.rate_rps, model, caps, lending)
    return search.max_rate(design, inst.cost_budget_usd_h, inst.power_budget_kw, model, caps, lending)


def _unusable(inst: Instance, design: Design) -> str:
    model = inst.loaded.model
    for m in design.machines:
        if inst.kv_capacity[m.name] <= 0:
            return (
                f"{model.name} weights ({model.weight_bytes / 1e9:.1f} GB) leave no KV memory on a {m.name} instance "
                f"({m.instance_memory_bytes / 1e9:.1f} GB)"
            )
    return ""


# -------------------------------------------------------------------------------------------------- extract
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
    per_hour = rate * tokens_per_request * 3600.0 / 1e6
    return cost / per_hour if per_hour > 0 else None


def _design_row(inst: Instance, o: DesignOutcome, evaluated: int) -> dict[str, Any]:
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
        names = [m.name for m, n in ((design.prompt, lent_p), (design.token, lent_t)) if n]
        pools.append(
            {
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
                "launch": pool_hints("mixed", model, design.prompt.tp, 0),
            }
        )
    return pools


def extract(inst: Instance, sol: Solution) -> tuple[dict[str, Any], dict[str, float | None], SolveReport]:
    """The plan block, the metrics and the solve report of a finished search."""
    chosen = chosen_outcome(inst, sol.outcomes)
    counts: dict[str, int] = {}
    for r in sol.ledger:
        counts[r.design] = counts.get(r.design, 0) + 1
    designs = [_design_row(inst, o, counts.get(o.design.name, 0)) for o in sol.outcomes]
    machines = {
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
        for m in sorted({m.name: m for d in inst.designs for m in d.machines}.values(), key=lambda m: m.name)
    }
    block: dict[str, Any] = {
        "design": chosen.design.name if chosen else None,
        "mode": inst.mode,
        "objective": inst.objective if inst.mode == "iso-throughput" else "throughput",
        "rate_rps": inst.rate_rps if inst.mode == "iso-throughput" else (chosen.rate_rps if chosen else None),
        "budget": {"cost_usd_h": inst.cost_budget_usd_h, "power_kw": inst.power_budget_kw},
        "power_basis": inst.section.power_basis,
        "pools": [],
        "designs": designs,
        "slos": [],
        "latency_ms": {},
        "machines": machines,
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
    metrics: dict[str, float | None] = {"simulated_points_count": float(len(sol.ledger))}
    bounds = [o.bound for o in sol.outcomes if o.bound is not None]
    if chosen is not None and chosen.best is not None:
        best, design = chosen.best, chosen.design
        cost, power = cost_usd_h(design, best.point), power_kw(design, best.point)
        tokens = best.mean_prompt_tokens + best.mean_output_tokens
        block["pools"] = _pools(inst, design, best)
        block["slos"] = [{"name": v.name, "value": v.value, "limit": v.limit, "margin": v.margin} for v in best.slos]
        block["latency_ms"] = dict(best.latency_ms)
        block["workload"] = {
            "requests": best.requests,
            "mean_prompt_tokens": best.mean_prompt_tokens,
            "mean_output_tokens": best.mean_output_tokens,
            "source": inst.source.description,
        }
        if design.kind == "split":
            block["router"] = router_hint(best.prompt * design.prompt.instances, best.token * design.token.instances)
        w = best.worst
        metrics.update(
            cost_usd_h=cost,
            power_kw=power,
            facility_power_kw=power * inst.loaded.spec.power.pue,
            throughput_rps=best.rate_rps,
            usd_per_mtok=_usd_per_mtok(cost, best.rate_rps, tokens),
            output_usd_per_mtok=_usd_per_mtok(cost, best.rate_rps, best.mean_output_tokens),
            prompt_machines=float(best.prompt if design.kind == "split" else 0),
            token_machines=float(best.token if design.kind == "split" else 0),
            total_machines=float(best.prompt + best.token),
            worst_slo_margin_ratio=w.margin if w else None,
        )
        for role in ("prompt", "token", "both"):
            if best.utilisation.get(role) is not None:
                metrics[f"{role}_utilisation_ratio"] = best.utilisation[role]
            if best.kv_utilisation.get(role) is not None:
                metrics[f"{role}_kv_utilisation_ratio"] = best.kv_utilisation[role]
        for k, v in best.latency_ms.items():
            metrics[k] = v
    report = _report(inst, sol, chosen, bounds)
    if report.best_bound is not None:
        key = {
            "iso-budget": "upper_bound_throughput_rps",
            "cost": "lower_bound_cost_usd_h",
            "power": "lower_bound_power_kw",
            "machines": "lower_bound_machines",
        }["iso-budget" if inst.mode == "iso-budget" else inst.objective]
        metrics[key] = report.best_bound
    return block, metrics, report


def _report(inst: Instance, sol: Solution, chosen: DesignOutcome | None, bounds: list[float]) -> SolveReport:
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
        return SolveReport(backend=BACKEND, status=Status.infeasible, message=msg, wall_s=sol.wall_s)
    if inst.mode == "iso-throughput":
        objective = objective_value(chosen.design, chosen.best.point, inst.objective)
        bound = min(bounds) if bounds else None
    else:
        objective = chosen.best.rate_rps
        bound = max(bounds) if bounds else None
    status: Status = sol.status if sol.status in ("time_limit", "interrupted") else "feasible"
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
            + "; ".join(
                f"{m.name} ${m.cost_usd_h:g}/h {m.power_kw:g} kW"
                for m in sorted({m.name: m for d in inst.designs for m in d.machines}.values(), key=lambda m: m.name)
            ),
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


def warnings_for(inst: Instance, sol: Solution) -> list[str]:
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
    return Point(1, 0) if design.kind == "baseline" else Point(1, 1)


# ------------------------------------------------------------------------------------------------------ run
@dataclass
class RunResult:
    plan: Plan
    instance: Instance
    solution: Solution


def run(loaded: LoadedSpec, db: ProfileDB, options: SplitwiseOptions) -> RunResult:
    """Build, solve, extract and verify; raises InfeasibleError (carrying the plan) when nothing is feasible."""
    start = time.perf_counter()
    inst = build(loaded, db, options)
    sol = solve(inst)
    block, metrics, report = extract(inst, sol)
    plan = assemble_plan(
        "splitwise",
        loaded,
        db,
        report,
        block,
        metrics,
        assumptions(inst),
        warnings_for(inst, sol),
        options.recorded(),
        time.perf_counter() - start,
    )
    if report.status == "infeasible":
        raise InfeasibleError(shortfall(inst, sol), plan=plan)
    verify_plan(plan)
    return RunResult(plan, inst, sol)
