"""The search: every design's best grid point, found with the simulator and bounded by the analytic model.

``solve(inst, options)`` runs :class:`~planner.splitwise.search.Search` design by design over one pool of worker
processes (``--workers``; the result never depends on how many) and returns a :class:`Solution`: each design's
outcome, every simulated point (the ledger) and the run's status. Ctrl-C keeps the best feasible point simulated so
far (status ``interrupted``); the command's wall-clock deadline (``options.time_limit_s`` from its start) ends the
search with the incumbent (``time_limit``). :func:`analytic_model` builds a design's capacity bound and latency
model (``analytic.py``) beside it. Turning the solution into the plan block is :mod:`planner.splitwise.extract`'s job.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from planner.solver import SolveOptions, Status
from planner.splitwise.analytic import AnalyticModel, Capacity, MachinePerf, capacity
from planner.splitwise.evaluate import PointResult
from planner.splitwise.instance import Instance
from planner.splitwise.machines import Design, Machine
from planner.splitwise.parallel import PointRunner, available_cores
from planner.splitwise.search import DesignOutcome, Search, SearchSettings
from planner.splitwise.slo import reference_latencies


@dataclass
class Solution:
    """What the search found: per design outcomes (in the instance's order) and every simulated point."""

    outcomes: list[DesignOutcome]
    ledger: list[PointResult]
    status: Status
    wall_s: float
    workers: int
    unusable: dict[str, str] = field(default_factory=dict)


def _machine_perf(inst: Instance, m: Machine) -> MachinePerf:
    """What the analytic model needs about one machine type."""
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
    """Worker processes for ``--workers requested`` (0: one per available core)."""
    return available_cores() if requested <= 0 else requested


def solve(inst: Instance, options: SolveOptions, clock: Any = time.monotonic) -> Solution:
    """Search every design until ``options``' deadline; returns the outcomes and every simulated point.

    The deadline is the command's: ``options.time_limit_s`` after ``options.started_at`` (the time spent before
    the search, building the instance, counts), or after the call when no start was stamped. ``options.cancel``
    is polled between designs and stops the search like Ctrl-C.

    Ctrl-C (KeyboardInterrupt) stops the search: the design being searched keeps its best feasible point so far,
    designs not reached are marked not searched, and the solution's status is ``interrupted`` (README "CLI
    conventions": exit 130 keeping the best plan found so far). With no feasible point yet the interrupt propagates.
    The worker pool is stopped either way (``parallel.py``).
    """
    start = clock()
    spent = time.monotonic() - options.started_at if options.started_at is not None else 0.0
    workers = min(resolve_workers(options.workers), inst.section.search.batch_points)
    outcomes: list[DesignOutcome] = []
    unusable: dict[str, str] = {}
    with PointRunner(inst.evaluator, workers) as runner:
        search = Search(runner, _settings(inst, start + options.time_limit_s - spent), clock=clock)
        try:
            for design in inst.designs:
                if options.cancel():
                    search.interrupted = True
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
    status = _status(outcomes, search.interrupted)
    return Solution(outcomes, ledger, status, clock() - start, workers, unusable)


def _settings(inst: Instance, deadline: float) -> SearchSettings:
    """The search's knobs from the spec's ``splitwise.search`` block and the deadline from ``--time-limit``."""
    s = inst.section.search
    return SearchSettings(
        objective=inst.objective,
        batch_points=s.batch_points,
        max_machines=s.max_machines,
        neighbourhood=s.neighbourhood,
        rate_step_rps=s.rate_step_rps,
        split_window=s.split_window,
        deadline=deadline,
    )


def _status(outcomes: list[DesignOutcome], interrupted: bool) -> Status:
    """The run's status: interrupted, else time limit if a design hit it, else feasible if any design is."""
    if interrupted:
        return Status.interrupted
    if any(o.status == "time_limit" for o in outcomes):
        return Status.time_limit
    if any(o.best is not None for o in outcomes):
        return Status.feasible
    return Status.infeasible


def _search_design(inst: Instance, search: Search, design: Design, unusable: dict[str, str]) -> DesignOutcome:
    """One design: least objective at the rate (iso-throughput) or most rate within the budget (iso-budget)."""
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
    """Why the model cannot run on one of the design's machines at all (no KV memory after weights), or ""."""
    model = inst.loaded.model
    for m in design.machines:
        if inst.kv_capacity[m.name] <= 0:
            return (
                f"{model.name} weights ({model.weight_bytes / 1e9:.1f} GB) leave no KV memory on a {m.name} instance "
                f"({m.instance_memory_bytes / 1e9:.1f} GB)"
            )
    return ""
