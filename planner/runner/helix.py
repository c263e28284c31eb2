"""``plan helix`` below the CLI: instance -> solve (or evaluate a placement) -> latency -> plan document(s).

The CLI (:mod:`planner.cli.helix`) resolves the options and writes the files; this module returns the plan and,
when asked, one plan per baseline placement (for ``plan simulate --compare``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from planner.errors import InfeasibleError, Shortfall
from planner.executors import ExecutorConfig
from planner.helix.baselines import force_loaded_flow
from planner.helix.contract import (
    HelixBounds,
    HelixLatency,
    HelixSearch,
    ParetoPoint,
    ServedConfirmation,
    ServedRefinement,
)
from planner.helix.extract import (
    assumptions,
    baselines_block,
    metric_name,
    metrics,
    placement_block,
    result_block,
)
from planner.helix.flow import FlowResult, Mode, max_flow
from planner.helix.instance import HelixInstance, build_instance
from planner.helix.latency import LatencyReport, LayerLatency, hop_counts, latency_report
from planner.helix.objective import ServedCandidate, ServedSearch, served_search
from planner.helix.placement import plan_reserve, read_placement
from planner.helix.served import (
    Prediction,
    ServedModel,
    served_assumption,
    served_block,
    served_metrics,
    served_model_for,
)
from planner.helix.solve import HelixOptions, HelixResult, solve
from planner.helix.work import WorkLimits
from planner.paths import display_path
from planner.plan import Plan
from planner.runner import SolverInputs, assemble_plan
from planner.runner.helix_confirm import confirm_choice
from planner.runner.helix_pareto import Frontier, frontier, frontier_context
from planner.solver import Assumption, SolveReport, Status, remaining_s, stop_scope
from planner.spec.sections.helix import HelixSection


@dataclass
class HelixRun:
    """The plan of a ``plan helix`` run, the baseline placements' plans and the frontier points' plans (by file
    name, ``--pareto-dir``) when they were asked for."""

    plan: Plan
    baselines: dict[str, Plan] = field(default_factory=dict)
    pareto: dict[str, Plan] = field(default_factory=dict)
    #: Why each baseline asked for was not written, by name (it carries no flow: ``plan simulate`` would refuse it).
    skipped_baselines: dict[str, str] = field(default_factory=dict)


#: The share of the time limit kept for the ``--pareto`` frontier (the plan's own search stops at the rest).
PARETO_SHARE = 0.25


def recorded_options(
    opts: HelixOptions,
    placement: Path | None,
    max_token_latency_s: float | None,
    pareto: bool,
    objective: str = "served",
) -> dict[str, Any]:
    """Every option that shaped the plan, for ``inputs.options`` (paths as displayed; ``--gap`` as ``gap``)."""
    out: dict[str, Any] = {f.name: getattr(opts, f.name) for f in fields(opts) if f.name not in UNRECORDED}
    out["gap"] = out.pop("rel_gap")
    out["placement"] = display_path(placement) if placement else None
    out["max_token_latency_s"] = max_token_latency_s
    out["pareto"] = pareto
    out["objective"] = objective
    return out


def run_helix(
    inputs: SolverInputs,
    opts: HelixOptions,
    *,
    placement_file: Path | None = None,
    mode_from_command_line: bool = False,
    max_token_latency_s: float | None = None,
    pareto: bool = False,
    baselines: bool = False,
    objective: str = "served",
    pareto_plans: bool = False,
    executor: ExecutorConfig | None = None,
    confirm: int = 0,
) -> HelixRun:
    """Build the instance, solve (or evaluate ``placement_file``), and assemble the plan document(s).

    ``opts`` already merges the command line over the spec's ``helix:`` section; a placement file's own mode
    (strict/partial) wins unless the command line chose the mode (``mode_from_command_line``).
    ``objective`` ``served`` (default) searches for the placement predicted to serve the most decode tokens
    (:mod:`planner.helix.objective`); ``max-flow`` is the paper's objective. Every plan carries the prediction.
    ``pareto`` adds the frontier (:mod:`planner.runner.helix_pareto`), its points run on ``executor`` (default: in
    this process) within the last :data:`PARETO_SHARE` of the time limit or whatever the plan's search left;
    ``pareto_plans`` also assembles one plan per frontier point. ``confirm`` N > 1 simulates the served search's best
    placements before one is recommended (:mod:`planner.runner.helix_confirm`).
    """
    started = time.perf_counter()
    if opts.started_at is None:
        opts = replace(opts, started_at=time.monotonic())
    loaded, db = inputs.loaded, inputs.profiles
    section = loaded.spec.helix or HelixSection()
    # A served plan given as --placement is evaluated at the KV reserve it was planned at (the served search tries
    # reserves below the spec's, so its placement may hold more layers than the spec's reserve admits).
    planned_at = plan_reserve(placement_file) if placement_file is not None else None
    spec_reserve = section.kv_reserve_fraction
    if planned_at is not None and planned_at != spec_reserve:
        section = reserve_section(section, planned_at)
    with stop_scope(opts):  # building the instance counts against --time-limit (no plan exists yet)
        inst = build_instance(loaded, db, section)
    if planned_at is not None and planned_at != spec_reserve and placement_file is not None:
        inst.warnings.append(
            f"--placement {display_path(placement_file)}: evaluated at the KV reserve the plan was searched at "
            f"({planned_at:g}), not the spec's ({spec_reserve:g})"
        )
    options = recorded_options(opts, placement_file, max_token_latency_s, pareto, objective)
    options["confirm"] = confirm
    frontier_opts = opts
    if pareto:
        opts = replace(opts, time_limit_s=opts.time_limit_s * (1 - PARETO_SHARE))
    latency_limit_s = max_token_latency_s
    if latency_limit_s is None:
        latency_limit_s = section.max_token_latency
        options["max_token_latency_s"] = latency_limit_s
    lat_model = LayerLatency(db, loaded.model, inst.layer_weight_bytes)
    placement = None
    if placement_file is not None:
        placement, file_mode = read_placement(placement_file, inst)
        if file_mode is not None and file_mode != opts.mode and not mode_from_command_line:
            opts = replace(opts, mode=file_mode)
            options["mode"] = file_mode
    served_model = served_model_for(loaded, db)
    search: ServedSearch | None = None
    confirmation: ServedConfirmation | None = None
    try:
        if objective == "served" and placement is None:
            # Every stage of the served search, the max-flow run first, stops at a work limit (the same plan at any
            # load); the command's deadline is the safety net, recorded in the plan when it fires.
            opts = replace(opts, work=WorkLimits(opts.deadline()))
            first = solve(inst, opts)
            search = served_search(
                lambda r: build_instance(loaded, db, reserve_section(section, r)),
                section.kv_reserve_fraction,
                opts,
                served_model,
                first=first,
            )
            if confirm > 1 and search.interrupted:  # Ctrl-C: the best so far, as the prediction ranks it
                search.best.result.notes.append(f"--confirm {confirm} not run: interrupted (Ctrl-C) before")
            elif confirm > 1 and remaining_s(opts.deadline()) > 0:
                try:
                    confirmation = _confirmed(inputs, search, confirm, options, started, lat_model, opts.seed)
                except KeyboardInterrupt:  # the prediction's choice, unconfirmed, and the plan says so
                    best = search.best.result
                    note = f"--confirm {confirm} interrupted (Ctrl-C): the plan is the prediction's choice"
                    best.report = replace(best.report, status=Status.interrupted, message=note)
                    best.notes.append(note)
            elif confirm > 1:  # the safety net: the plan is the prediction's choice, and says so
                note = f"--confirm {confirm} not run: the time limit was reached before the candidates were simulated"
                best = search.best.result
                best.report = replace(best.report, status=Status.time_limit, message=f"{best.report.message}; {note}")
                best.notes.append(note)
            res = search.best.result
        else:
            res = solve(inst, opts, placement)
        lat = latency_of(res, lat_model)
        if latency_limit_s is not None and placement is None:
            res, lat = _meet_latency(inst, opts, res, lat, lat_model, latency_limit_s)
    except InfeasibleError as exc:
        exc.plan = _infeasible_plan(inputs, inst, opts, options, str(exc), started)
        raise
    # The float residue of a max flow on float capacities (node-model tp(k)) is no route (as for the baselines).
    res.flow = without_float_noise(res.flow)
    if search is not None and res is search.best.result and search.best.latency:
        prediction = search.best.prediction  # already the full prediction (with the online latency) of this plan
    else:
        prediction = served_model.predict(res.full, res.ranges, res.flow)
    if search is not None and res is search.best.result:
        res = named_after(search.best)
    rejected = search.rejected if search is not None else []
    front: Frontier | None = None
    if pareto:
        context = frontier_context(
            inputs, inst, frontier_opts, options, served_model, lat_model, objective, pareto_plans
        )  # fmt: skip
        front = frontier(context, executor or ExecutorConfig())
        if front.interrupted:  # the plan is complete; the frontier is not: say so as Ctrl-C does (exit 130)
            message = front.notes[-1].removeprefix("--pareto: ")
            res = replace(res, report=replace(res.report, status=Status.interrupted, message=message))
    left_out = [f"served search left out candidate {r} (the search's own hop limit, not this run's)" for r in rejected]
    # Baselines as the spec and options define them (the served search's hop-limited runs evaluate them differently):
    # the plan reports the placements --emit-baselines writes, whatever KV reserve the recommended placement has.
    base = search.candidates[0].result if search is not None else res
    plan = _plan(
        inputs, spec_baselines(res, base), lat, front.rows if front is not None else None, options, started,
        warnings=list(inst.warnings) + res.notes + lat.notes + left_out + (front.notes if front is not None else []),
        prediction=prediction, search=search, objective=objective, confirmation=confirmation,
    )  # fmt: skip
    written, skipped = baseline_plans(inputs, base, options, started, served_model) if baselines else ({}, {})
    return HelixRun(plan, written, front.plans if front is not None else {}, skipped)


#: How :func:`planner.helix.solve.solve` words a placement it was given to evaluate (``--placement``, and every
#: placement the served search evaluates: baselines, local searches, reroutings).
EVALUATED = "evaluated placement"


def named_after(winner: ServedCandidate) -> HelixResult:
    """The served search's winning result, named after the candidate that won (``plan.search.chosen`` and the
    solver message). The search evaluates most of its placements as given ones, so their results call themselves
    "placement" / "evaluated placement", which read as if the user had passed ``--placement``; the candidate's
    source (also ``plan.served.search.chosen``) says where the plan came from. A copy: the search's own result (and
    what it recorded) is left as it is."""
    res = winner.result
    message = res.report.message
    if message.startswith(EVALUATED):
        message = winner.source + message.removeprefix(EVALUATED)
    elif EVALUATED in message:  # after a certificate's label ("optimal (...): evaluated placement meets ...")
        message = message.replace(EVALUATED, winner.source, 1)
    return replace(res, chosen=winner.source, report=replace(res.report, message=message))


def spec_baselines(res: HelixResult, base: HelixResult) -> HelixResult:
    """``res`` carrying the baselines of ``base``, the spec's run, so that the plan's baseline table and
    ``baseline_*_tok_s`` describe the placements ``--emit-baselines`` writes (and Targets / Agreement compare
    against). When the recommended placement comes from another KV reserve, its max flow and bounds are of that
    reserve's instance (its K, its tp(k)); each baseline's note says so, since the figures are then not comparable
    one to one."""
    if base is res:
        return res
    spec_r, own_r = base.full.kv_reserve_fraction, res.full.kv_reserve_fraction
    if spec_r == own_r:
        return replace(res, baselines=list(base.baselines))
    say = f"at the spec's KV reserve {spec_r:g} (this plan's max flow and bounds: reserve {own_r:g})"
    return replace(res, baselines=[replace(b, note=f"{b.note}; {say}" if b.note else say) for b in base.baselines])


def _confirmed(
    inputs: SolverInputs,
    search: ServedSearch,
    n: int,
    options: dict[str, Any],
    started: float,
    lat_model: LayerLatency,
    seed: int,
) -> ServedConfirmation | None:
    """``--confirm N``: simulate the search's best placements and make the one that serves the most its ``best``
    (its full prediction, with the online latency, is computed when the plan is written); a candidate the simulator
    refuses is left out with a warning in the plan (None: none could be simulated, the prediction's choice stands)."""

    def plan_of(c: ServedCandidate) -> Plan:
        res = replace(c.result, flow=without_float_noise(c.result.flow))
        return point_plan(inputs, res, latency_of(res, lat_model), options, started, c.prediction, "served")

    chosen, record, notes = confirm_choice(search, n, plan_of, inputs.profiles, seed)
    if chosen is not search.best:
        search.best = chosen
    chosen.result.notes.extend(notes)
    return record


def reserve_section(section: HelixSection, reserve: float) -> HelixSection:
    """The spec's helix section with another KV reserve (a grid point of the served search). Below the spec's
    reserve tp(k) comes from the node model, whose K is the memory's, not where a paper table's rows stop."""
    update: dict[str, Any] = {"kv_reserve_fraction": reserve}
    if reserve < section.kv_reserve_fraction:
        update["throughput"] = "node-model"
    return section.model_copy(update=update)


#: Options the plan does not record: how the run is stopped, not what it computes.
UNRECORDED = ("cancel", "started_at", "work")


def _construction_only(opts: HelixOptions, hops: int) -> HelixOptions:
    """Constructions (no MILP) under a hop limit, each given an eighth of the limit (at least 2 s), but never past
    the command's deadline by more than that floor."""
    budget = max(min(opts.time_limit_s / 8, remaining_s(opts.deadline())), 2.0)
    return replace(opts, max_hops=hops, milp=False, time_limit_s=budget, started_at=None)


def latency_of(res: HelixResult, lat_model: LayerLatency) -> LatencyReport:
    """The latency report of a result's placement and flow (per path, at the instance's request lengths)."""
    i_tok, o_tok = res.full.request_tokens
    return latency_report(res.full, res.ranges, res.flow, lat_model, i_tok, o_tok)


def point_plan(
    inputs: SolverInputs,
    res: HelixResult,
    lat: LatencyReport,
    options: dict[str, Any],
    started: float,
    prediction: Prediction,
    objective: str,
) -> Plan:
    """The plan of one ``--pareto`` point: the same document and contract as the command's own plan."""
    warnings = list(res.full.warnings) + res.notes + lat.notes
    return _plan(inputs, res, lat, None, options, started, warnings, prediction=prediction, objective=objective)


def _meet_latency(
    inst: HelixInstance,
    opts: HelixOptions,
    res: HelixResult,
    lat: LatencyReport,
    lat_model: LayerLatency,
    limit_s: float,
) -> tuple[HelixResult, LatencyReport]:
    """Shorter pipelines until every path's decode latency is within the limit (highest throughput first)."""
    limit_ms = limit_s * 1e3
    best_ms = lat.block()["decode_ms_per_token_max"]
    if best_ms <= limit_ms:
        return res, lat
    start = lat.max_hops - 1 if opts.max_hops is None else min(opts.max_hops, lat.max_hops) - 1
    for hops in sorted((h for h in hop_counts(inst) if h <= start), reverse=True):
        sub = _construction_only(opts, hops)
        try:
            cand = solve(inst, sub)
        except InfeasibleError:
            continue
        cand_lat = latency_of(cand, lat_model)
        ms = cand_lat.block()["decode_ms_per_token_max"]
        best_ms = min(best_ms, ms)
        if ms <= limit_ms and cand.flow.value > 0:
            cand.notes.append(f"--max-token-latency {limit_ms:g} ms met with at most {hops} nodes per path")
            return cand, cand_lat
    raise InfeasibleError(
        Shortfall(
            constraint="max_token_latency",
            limit=limit_ms,
            best=best_ms,
            unit="ms",
            detail="decode latency per token of the slowest path, even with the shortest pipelines tried",
        )
    )


def _plan(
    inputs: SolverInputs,
    res: HelixResult,
    lat: LatencyReport,
    pareto: list[dict[str, Any]] | None,
    options: dict[str, Any],
    started: float,
    warnings: list[str],
    prediction: Prediction | None = None,
    search: ServedSearch | None = None,
    objective: str = "max-flow",
    confirmation: ServedConfirmation | None = None,
) -> Plan:
    lb = HelixLatency.model_validate(lat.block())
    block = result_block(res, lb, None if pareto is None else [ParetoPoint.model_validate(p) for p in pareto])
    if prediction is not None:
        served = served_block(prediction, search, objective)
        if search is not None and served.search is not None:
            rows = [ServedRefinement.model_validate(r) for r in search.refinement_rows()]
            update: dict[str, Any] = {"local_search": rows, "confirmation": confirmation}
            served = served.model_copy(update={"search": served.search.model_copy(update=update)})
        block = block.model_copy(update={"served": served})
    mets = metrics(res)
    mets.update(
        {
            "pipeline_depth_hops": float(lb.max_hops),
            "decode_latency_ms": lb.decode_ms_per_token_mean,
            "max_decode_latency_ms": lb.decode_ms_per_token_max,
            "prompt_latency_ms": lb.prompt_ms_mean,
            "in_flight_requests": lb.in_flight_requests,
        }
    )
    extra = Assumption(
        subject="latency",
        basis="measured" if lb.basis.startswith("measured") else "analytic",
        detail=f"{lb.basis}; decode batch per node from Little's law at the planned flow, requests of "
        f"{lb.request_tokens.input:g} + {lb.request_tokens.output:g} tokens (docs/helix.md, Latency)",
    )
    extras: list[Assumption] = []
    if prediction is not None:
        mets.update(served_metrics(prediction, search))
        extras.append(served_assumption(prediction))
    return assemble_plan(
        "helix",
        inputs.loaded,
        inputs.profiles,
        res.report,
        block,
        mets,
        [*assumptions(res), extra, *extras],
        warnings,
        options,
        time.perf_counter() - started,
    )


def _infeasible_plan(
    inputs: SolverInputs, inst: HelixInstance, opts: HelixOptions, options: dict[str, Any], message: str, started: float
) -> Plan:
    from planner.helix.flow import FlowResult

    empty = FlowResult(0.0, {}, {}, {})
    block = placement_block(inst, opts.mode, {}, empty)
    report = SolveReport(backend=opts.solver, status=Status.infeasible, message=message)
    return assemble_plan(
        "helix",
        inputs.loaded,
        inputs.profiles,
        report,
        block,
        {"throughput_tok_s": 0.0},
        list(inst.assumptions),
        list(inst.warnings),
        options,
        time.perf_counter() - started,
    )


#: Edge flows below this (tokens/s) are float residue of the max flow, not routes: a plan never writes them.
FLOW_NOISE_TOK_S = 1e-6


def without_float_noise(flow: FlowResult) -> FlowResult:
    """``flow`` with the float residue of the max flow (edges below ``FLOW_NOISE_TOK_S``) set to zero.

    Preflow-push on float capacities can leave a few 1e-9 tokens/s on an edge into a node whose way out carries
    none; written into a plan, that edge sends requests into a node they cannot leave (``plan simulate`` refuses
    it: "requests would be stranded"). Found on a generated 50-node cluster's Petals baseline.
    """
    if all(f == 0.0 or f >= FLOW_NOISE_TOK_S for f in flow.edge_flow.values()):
        return flow
    edge_flow = {k: (f if f >= FLOW_NOISE_TOK_S else 0.0) for k, f in flow.edge_flow.items()}
    return replace(flow, edge_flow=edge_flow)


def baseline_plans(
    inputs: SolverInputs,
    res: HelixResult,
    options: dict[str, Any],
    started: float,
    served: ServedModel | None = None,
) -> tuple[dict[str, Plan], dict[str, str]]:
    """One full plan per baseline placement (``petals``, ``swarm``, ``separate-pipelines``), by name, and why each
    baseline left out was left out.

    Every one is a plan ``plan simulate`` accepts. Separate pipelines may ask a node for more layers than its K; as
    the paper's simulator does, such a plan is written force-loaded (the node holds them; its KV capacity decides
    what it admits), each pipeline routed at the node model's throughput of its slowest node. Petals' ranges
    overlap: when they chain nowhere strictly, the plan is written in partial mode (its own). A baseline that still
    carries no flow (no path crosses every layer) is left out: ``plan simulate`` would refuse its plan.
    """
    plans: dict[str, Plan] = {}
    skipped: dict[str, str] = {}
    for b in res.baselines:
        if not b.ranges or b.flow is None:
            skipped[b.name] = f"no placement ({b.note or 'none built'})"
            continue
        fits, flow = dict(b.ranges), b.flow
        if any(r[1] - r[0] > res.full.node(n).max_layers for n, r in b.ranges.items()) and served is not None:
            wl = served.workload.node_workload
            cap = {n: served.perf(res.full.node(n)).throughput_tok_s(r[1] - r[0], wl) for n, r in fits.items()}
            flow = force_loaded_flow(res.full, fits, cap)
        else:
            # A node asked for more layers than it can hold is shown holding nothing.
            fits = {n: r for n, r in b.ranges.items() if r[1] - r[0] <= res.full.node(n).max_layers}
        mode: Mode = res.mode
        if flow.value <= 0 and b.partial_flow_tok_s > 0:
            mode, flow = "partial", max_flow(res.full, fits, "partial")
        flow = without_float_noise(flow)
        if flow.value <= 0:
            skipped[b.name] = f"its placement carries no flow (no path crosses all {res.full.layers} layers)"
            continue
        block = placement_block(
            res.full,
            mode,
            fits,
            flow,
            baselines=baselines_block(res.baselines),
            bounds=HelixBounds(best_tok_s=res.best_bound_tok_s, active=res.bound_source),
            search=HelixSearch(chosen=f"baseline:{b.name}", params=dict(b.params)),
        )
        # The plan reports the max flow of the placement as written (force-loaded, or in its own partial mode),
        # which is what it carries and what `plan simulate` takes as its bound; for the others it is the baseline's.
        value = flow.value
        report = SolveReport(
            backend=f"baseline:{b.name}",
            status=Status.feasible,
            objective=value,
            best_bound=res.best_bound_tok_s,
            message=b.note or f"{b.name} placement evaluated with the same max flow",
        )
        mets: dict[str, float | None] = {
            "throughput_tok_s": value,
            "solver_bound_tok_s": res.best_bound_tok_s,
            "flow_vs_bound": value / res.best_bound_tok_s if res.best_bound_tok_s > 0 else None,
            metric_name(b.name): value,
        }
        extra: list[Assumption] = []
        if served is not None:
            pred = served.predict(res.full, fits, flow)
            block = block.model_copy(update={"served": served_block(pred, None, f"baseline:{b.name}")})
            mets.update(served_metrics(pred, None))
            extra.append(served_assumption(pred))
        warnings = [b.note] if b.note else []
        plan = assemble_plan(
            "helix",
            inputs.loaded,
            inputs.profiles,
            report,
            block,
            mets,
            [*assumptions(res), *extra],
            warnings,
            {**options, "baseline": b.name},
            time.perf_counter() - started,
        )
        plans[b.name] = plan
    return plans, skipped
