"""Spec + profiles + options -> the frozen :class:`Instance` one ``plan splitwise`` run decides with.

Everything that depends only on the inputs is resolved here, once, before any search: the machine catalogue, the
designs asked for, a performance profile per machine type in use (and the SLO reference machine's), the seeded
request source, the nine SLO limits, the target (iso-throughput at a rate, or iso-budget under a cost and/or power
budget), the KV capacity of each machine type and the workload sample the analytic model averages over. Input
errors raise here (:class:`~planner.errors.SpecError` / :class:`~planner.errors.UsageError`, exit 2), so the
search never starts on a bad spec.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Literal

from planner.errors import SpecError, UsageError
from planner.profiles.db import ProfileDB
from planner.solver import SolveOptions
from planner.spec.loader import LoadedSpec
from planner.spec.sections.splitwise import DEFAULT_DESIGNS, SplitwiseSection
from planner.splitwise.analytic import Workload
from planner.splitwise.evaluate import Evaluator, kv_capacity_tokens
from planner.splitwise.machines import Design, Machine, find_machine, parse_design, resolve_machines
from planner.splitwise.model import Objective
from planner.splitwise.perf import PerfProfile, build_profile
from planner.splitwise.requests import RequestSource, request_source
from planner.splitwise.slo import SloLimit, slo_limits

#: Requests the analytic model averages over (a prefix of the simulated stream).
ANALYTIC_SAMPLE = 4000


Mode = Literal["iso-throughput", "iso-budget"]


@dataclass(frozen=True)
class SplitwiseOptions(SolveOptions):
    """Command-line options of ``plan splitwise`` (``None``: take the spec's value).

    From :class:`~planner.solver.SolveOptions`: ``time_limit_s`` is the search's deadline, counted from the
    command's start; ``seed`` seeds the request sampler; ``workers`` is processes simulating points (0: one per
    available core; the plan never depends on it).
    """

    rps: float | None = None
    objective: Objective | None = None
    cost_target_usd_h: float | None = None
    power_target_kw: float | None = None
    designs: list[str] | None = None
    duration_s: float | None = None

    def recorded(self) -> dict[str, Any]:
        """The options that shape the plan: its own, plus the time limit and seed (no gap is proved here, and
        ``workers`` only changes how fast the plan comes)."""
        keep = ("time_limit_s", "seed")
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name in keep or f.name not in _SHARED}


#: The fields every solver's options share (planner.solver.SolveOptions).
_SHARED = frozenset(f.name for f in fields(SolveOptions))


@dataclass(frozen=True)
class Instance:
    """Everything one run of the planner decides with (fixed once built; no search state).

    ``evaluator`` is the picklable point evaluator the search hands to its workers; it caches request streams and
    lookup tables per rate, which never changes what it returns.
    """

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


def build(loaded: LoadedSpec, db: ProfileDB, options: SplitwiseOptions) -> Instance:
    """Resolve spec, profiles and options into an :class:`Instance`; input errors raise (exit 2)."""
    section = loaded.spec.splitwise or SplitwiseSection()
    if options.duration_s is not None:
        section = section.model_copy(update={"duration": options.duration_s})
    machines = resolve_machines(db, loaded, section)
    designs = _designs(loaded, section, options, machines)
    ref_machine = _reference_machine(loaded, section, machines)
    model = loaded.model
    used = _used_machines(ref_machine, designs)
    profiles = {name: build_profile(db, model, m, machines, section.analytic) for name, m in sorted(used.items())}
    mode, rate, cost_budget, power_budget = _target(loaded, section, options)
    wl = loaded.spec.workload
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
        objective=options.objective or section.objective,
        rate_rps=rate,
        cost_budget_usd_h=cost_budget,
        power_budget_kw=power_budget,
        kv_capacity=kv_cap,
        evaluator=evaluator,
        workload=_workload_sample(loaded, source, section.duration),
        options=options,
        seed=(wl.seed if wl is not None else 0) + options.seed,
    )


def _reference_machine(loaded: LoadedSpec, section: SplitwiseSection, machines: dict[str, Machine]) -> Machine:
    """The machine the SLO slowdowns are measured against (Splitwise Table VI: DGX-A100)."""
    ref = find_machine(machines, section.reference_machine)
    if ref is None:
        raise SpecError(
            [loaded.problem(("splitwise", "reference_machine"), f"unknown machine '{section.reference_machine}'")]
        )
    return ref


def _used_machines(reference: Machine, designs: list[Design]) -> dict[str, Machine]:
    """The reference machine and every machine type of the designs, by name (first seen first)."""
    used = {reference.name: reference}
    for d in designs:
        for m in d.machines:
            used[m.name] = m
    return used


def _workload_sample(loaded: LoadedSpec, source: RequestSource, duration_s: float) -> Workload:
    """The first ``ANALYTIC_SAMPLE`` requests of the stream: what the analytic model averages over."""
    sample = source.sample(ANALYTIC_SAMPLE / duration_s, duration_s)
    if len(sample) == 0:
        raise SpecError([loaded.problem(("workload",), "the workload produced no requests")])
    return Workload(sample.input_tokens[:ANALYTIC_SAMPLE], sample.output_tokens[:ANALYTIC_SAMPLE])


def _designs(
    loaded: LoadedSpec, section: SplitwiseSection, options: SplitwiseOptions, machines: dict[str, Machine]
) -> list[Design]:
    """The designs to search: ``--designs``, else the spec's, else the paper's six; duplicates dropped."""
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
