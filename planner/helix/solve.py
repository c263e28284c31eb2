"""``plan helix`` end to end: bounds, constructions, MILP, verification -- returning one verified placement.

Order of work (each step is cheap before the next is tried):

1. prune the graph when asked or when it is large (:mod:`planner.helix.prune`);
2. baselines (Petals, Swarm, separate pipelines) and the bounds: compute, layer-covering with link cuts, and in
   strict mode the solo/shared block bound (:mod:`planner.helix.bounds`);
3. constructions: the single pipeline and the best stage layout (:mod:`planner.helix.stages`); when the best of
   them meets the bound within ``--gap`` the run stops with status ``optimal`` and says why;
4. the MILP (per-node by default, or the type-aggregated interval model), warm-started from the best placement so
   far, with the bound as an objective cut, until the time limit, the gap, a stall or Ctrl-C;
5. the independent max flow of the chosen placement (:mod:`planner.helix.verify`); the plan reports that value.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Literal

from planner.errors import InfeasibleError, Shortfall, TimeLimitReached, VerificationError
from planner.helix import aggregated as agg
from planner.helix.backends import CpSatBackend, MathOptBackend
from planner.helix.baselines import Baseline, all_baselines
from planner.helix.bounds import (
    CoveringBound,
    block_bound,
    compute_bound,
    covering_bound,
    hop_bound,
    single_pipeline,
)
from planner.helix.flow import FlowResult, Mode, Ranges, flow_value, max_flow
from planner.helix.instance import HelixInstance
from planner.helix.latency import fewest_hops, hop_limited_flow, longest_path_hops
from planner.helix.model import add_full_hint, build, model_size
from planner.helix.placement import park_idle
from planner.helix.prune import AUTO_PRUNE_KEEP, AUTO_PRUNE_NODES, PruneReport, link_key, prune
from planner.helix.regions import best_region_blocks
from planner.helix.solve_milp import RawResult, solve_cpsat, solve_mathopt
from planner.helix.stages import best_stages
from planner.helix.verify import BoundCheck, check_bound, check_objective, check_solver_flows, verify
from planner.helix.work import WorkLimits
from planner.solver import SolveOptions, SolveReport, Status, stop_scope

SolverName = Literal["cpsat", "scip", "highs"]
Formulation = Literal["auto", "per-node", "aggregated"]

#: Relative (and absolute, tokens/s) slack between a verified flow and a proven bound before the bound is a bug.
_BOUND_TOL = 1e-6

#: Above this many nodes the per-node MILP is not attempted (its model would not fit the time limit).
PER_NODE_MAX_NODES = 300


@dataclass(frozen=True)
class HelixOptions(SolveOptions):
    """Everything that shapes a helix run (recorded in the plan's ``inputs.options``).

    The shared knobs come from :class:`~planner.solver.SolveOptions`: ``time_limit_s`` bounds the whole command
    (constructions and MILP stop at its deadline), ``rel_gap`` is ``--gap``, ``stall_s`` is ``--stall``, ``seed``
    seeds CP-SAT / SCIP and the stage searches, ``workers`` is the MILP's threads.
    """

    mode: Mode = "strict"
    solver: SolverName = "cpsat"
    formulation: Formulation = "auto"
    prune_keep: int | None = None
    prune_threshold_bytes_s: float | None = None
    no_prune: bool = False
    resolution_tok_s: float = 1e-3
    swarm_stages: int | None = None
    petals_seed: int = 0
    max_hops: int | None = None
    milp: bool = True
    #: Neighbour evaluations of the served search's local searches (``--search-evaluations``); None: sized from the
    #: cluster and ``time_limit_s`` (:func:`planner.helix.objective.refine_budget`).
    search_evaluations: int | None = None
    work: WorkLimits | None = field(default=None, compare=False, repr=False)


@dataclass
class Candidate:
    """A placement found along the way, with its verified strict/partial max flow on the plan's graph."""

    source: str
    ranges: dict[str, tuple[int, int]]
    flow_tok_s: float
    at_s: float


@dataclass
class HelixResult:
    """What a run found and proved; :mod:`planner.helix.extract` turns it into the plan document."""

    full: HelixInstance
    inst: HelixInstance
    mode: Mode
    ranges: dict[str, tuple[int, int]]
    flow: FlowResult
    report: SolveReport
    baselines: list[Baseline]
    compute_bound_tok_s: float
    covering: CoveringBound
    block_bound_tok_s: float | None
    solver_bound_tok_s: float | None
    best_bound_tok_s: float
    bound_source: str
    chosen: str
    prune: PruneReport | None = None
    candidates: list[Candidate] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    milp: dict[str, object] = field(default_factory=dict)
    certificate: BoundCheck | None = None


def _prune_step(
    inst: HelixInstance, opts: HelixOptions, protect: set[tuple[str, str]] | None = None
) -> tuple[HelixInstance, PruneReport | None]:
    if opts.no_prune:
        return inst, None
    keep, reason = opts.prune_keep, "--prune-keep"
    if keep is None and len(inst.nodes) > AUTO_PRUNE_NODES:
        keep, reason = AUTO_PRUNE_KEEP, f"default: more than {AUTO_PRUNE_NODES} nodes"
    if keep is None:
        return inst, None
    return prune(inst, keep, opts.prune_threshold_bytes_s, opts.mode, reason, protect)


def check_memory(inst: HelixInstance) -> Shortfall | None:
    """Can the cluster hold the model at all? (sum of K_i against L, and the bytes behind it)."""
    if inst.total_max_layers >= inst.layers:
        return None
    need_gb = inst.layers * inst.layer_weight_bytes / 1e9
    have_gb = inst.total_max_layers * inst.layer_weight_bytes / 1e9
    return Shortfall(
        constraint="memory[cluster]",
        limit=float(inst.layers),
        best=float(inst.total_max_layers),
        unit="layers",
        detail=f"the nodes hold {have_gb:.4g} GB of weights next to a {inst.kv_reserve_fraction:.0%} KV reserve, "
        f"the model needs {need_gb:.4g} GB",
    )


def no_flow_shortfall(inst: HelixInstance, max_hops: int | None, hop_free_bound: float) -> Shortfall:
    """Why no flow can cross all layers. When the bound without the hop limit allows flow, the limit is what fails
    (named with the fewest nodes a path needs, so the user knows what to ask for), not the links: reporting a
    too-small ``--max-hops`` as a connectivity failure sent users looking at their network."""
    if max_hops is None or hop_free_bound <= 1e-9:
        return Shortfall(
            constraint="connectivity",
            detail="no flow can cross all layers: the coordinator links or node links leave no usable path",
        )
    fewest = fewest_hops(inst)
    if fewest <= max_hops:  # memory allows such a path; the hop-limited bound (throughput tables) does not
        return Shortfall(
            constraint="max_hops",
            detail=f"no path of at most {max_hops} nodes can carry flow through all {inst.layers} layers",
        )
    largest = sum(sorted((n.max_layers for n in inst.nodes), reverse=True)[:max_hops])
    return Shortfall(
        constraint="max_hops",
        limit=float(max_hops),
        best=float(fewest),
        unit="hops",
        detail=f"the {max_hops} nodes holding the most layers hold {largest} of the model's {inst.layers}; "
        f"a path must cross at least {fewest} nodes",
    )


def problem_bound(
    inst: HelixInstance, cov: CoveringBound, block: float | None, max_hops: int | None
) -> tuple[float, str, str, float]:
    """The best proven max-flow bound of ``inst`` under ``max_hops``: (value, source, kind, the bound without the hop
    limit). The covering bound, the block bound where it is tighter, then the hop-limited covering bound where a
    hop limit makes it tighter still."""
    bound, source = cov.value, cov.active
    kind = "coordinator_cut" if cov.active == "coordinator link cut" else "covering"
    if block is not None and block < bound * (1 - 1e-12):
        bound, source, kind = block, "solo/shared block bound", "block"
    hop_free = bound
    if max_hops is not None:
        hb = hop_bound(inst, max_hops, bound)
        if hb < bound * (1 - 1e-12):
            bound, source, kind = hb, f"hop-limited covering bound (<= {max_hops} nodes per path)", "hop"
    return bound, source, kind, hop_free


class _Clock:
    """Seconds since the solve started, and seconds left until the command's deadline."""

    def __init__(self, deadline: float, max_hops: int | None = None) -> None:
        self.start = time.monotonic()
        self.deadline = deadline
        self.max_hops = max_hops

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start

    @property
    def left(self) -> float:
        return max(self.deadline - time.monotonic(), 0.0)


def evaluate(inst: HelixInstance, ranges: Ranges, mode: Mode, max_hops: int | None, cut: bool = True) -> FlowResult:
    """The max flow of a placement, over paths of at most ``max_hops`` nodes when a hop limit is set (``cut``: see
    :func:`planner.helix.flow.max_flow`)."""
    if max_hops is not None and longest_path_hops(inst, ranges, mode) > max_hops:
        return hop_limited_flow(inst, ranges, mode, max_hops)
    return max_flow(inst, ranges, mode, cut=cut)


def _add(
    cands: list[Candidate], inst: HelixInstance, mode: Mode, source: str, ranges: Ranges, clock: _Clock
) -> Candidate:
    hops = clock.max_hops
    value = evaluate(inst, ranges, mode, hops).value if hops is not None else flow_value(inst, ranges, mode)
    c = Candidate(source, dict(ranges), value, clock.elapsed)
    cands.append(c)
    return c


def _best(cands: list[Candidate]) -> Candidate:
    """Highest flow; ties go to the earliest candidate (deterministic)."""
    best = cands[0]
    for c in cands[1:]:
        if c.flow_tok_s > best.flow_tok_s * (1 + 1e-12) + 1e-9:
            best = c
    return best


def solve(
    full: HelixInstance,
    opts: HelixOptions,
    placement: dict[str, tuple[int, int]] | None = None,
    *,
    building: SolveOptions | None = None,
) -> HelixResult:
    """Run the whole method (module docstring); with ``placement`` only evaluate that placement.

    Everything stops at ``opts.deadline()``: the command's start (``opts.started_at``, else now) plus
    ``opts.time_limit_s``. The work before the first plan exists (baselines, bounds, first constructions) stops at
    the deadline of ``building`` instead when given (the whole command's, when ``opts`` is only a share of it), with
    :class:`~planner.errors.TimeLimitReached`; after that the best plan so far is returned with status
    ``time_limit``.
    """
    if opts.started_at is None:
        opts = replace(opts, started_at=time.monotonic())
    building = building or opts
    clock = _Clock(opts.deadline(), opts.max_hops)
    mode = opts.mode
    # Pruning only shrinks the per-node MILP (it happens there); every placement is evaluated on the full graph.
    inst = full
    prune_report: PruneReport | None = None
    notes: list[str] = []

    short = check_memory(inst)
    if short is not None:
        raise InfeasibleError(short)

    # Baselines and bounds come before any plan: past the deadline they stop with TimeLimitReached (no plan yet).
    with stop_scope(building):
        if opts.work is not None:  # the served search's grid points share one instance's baselines and bounds
            key = (id(inst), mode, opts.petals_seed, opts.swarm_stages)
            baselines = opts.work.cached(
                ("baselines", *key), lambda: all_baselines(inst, mode, opts.petals_seed, opts.swarm_stages)
            )
            cov = opts.work.cached(("covering", *key), lambda: covering_bound(inst, mode))
            block = opts.work.cached(
                ("block", *key), lambda: block_bound(inst, cov.value) if mode == "strict" else None
            )
        else:
            baselines = all_baselines(inst, mode, opts.petals_seed, opts.swarm_stages)
            cov = covering_bound(inst, mode)
            block = block_bound(inst, cov.value) if mode == "strict" else None
        ub = compute_bound(inst)
        # milp_cut: the hop-free bound, valid for the per-node MILP, which knows nothing of hop limits
        bound, bound_source, bound_kind, milp_cut = problem_bound(inst, cov, block, opts.max_hops)
    if bound <= 1e-9:
        raise InfeasibleError(no_flow_shortfall(inst, opts.max_hops, milp_cut))

    cands: list[Candidate] = []
    raw_status: Status | None = None
    try:
        with stop_scope(building):
            for b in baselines:
                if b.ranges:
                    # Separate pipelines may ask a node for more than K layers (the paper force-loads them); as a
                    # candidate such nodes are parked instead, which can only add flow to what the baseline reports.
                    fits = {n: r for n, r in b.ranges.items() if r[1] - r[0] <= inst.node(n).max_layers}
                    _add(cands, inst, mode, f"baseline:{b.name}", park_idle(inst, fits), clock)
            if placement is not None:
                chosen = _add(cands, inst, mode, "placement", placement, clock)
            sp = None if placement is not None else single_pipeline(inst, max_hops=opts.max_hops)
            if sp is not None:
                _add(cands, inst, mode, "single-pipeline", park_idle(inst, sp.ranges), clock)
    except TimeLimitReached as exc:
        if not cands or placement is not None:
            raise
        # A plan exists: it is the answer, with status time_limit (the rest of the method is skipped below).
        notes.append(f"{exc.stage} stopped at the time limit")
        raw_status, sp = Status.time_limit, None
        if opts.work is not None:
            opts.work.hit(exc.stage)
    if placement is not None:
        return _finish(
            full,
            inst,
            mode,
            opts,
            chosen,
            cands,
            baselines,
            ub,
            cov,
            block,
            None,
            bound,
            bound_source,
            prune_report,
            notes,
            {},
            clock,
            evaluated=True,
            bound_kind=bound_kind,
        )

    best = _best(cands)
    if raw_status is None and best.flow_tok_s < bound * (1 - opts.rel_gap):
        lower = max(best.flow_tok_s, sp.target_tok_s if sp else 0.0)
        stages = best_stages(
            inst,
            lower,
            bound,
            time_limit_s=min(10.0, max(clock.left / 4, 0.5)),
            max_stages=opts.max_hops,
            seed=opts.seed,
            work=opts.work,
        )
        if stages is not None:
            _add(cands, inst, mode, "stages", stages.ranges, clock)
        best = _best(cands)
        if len(inst.regions) > 1 and agg.links_may_bind(inst) and best.flow_tok_s < bound * (1 - opts.rel_gap):
            regional = best_stages(
                inst,
                lower,
                bound,
                time_limit_s=min(10.0, max(clock.left / 4, 0.5)),
                regional=True,
                max_stages=opts.max_hops,
                seed=opts.seed,
                work=opts.work,
            )
            if regional is not None:
                _add(cands, inst, mode, "regional-stages", regional.ranges, clock)
            best = _best(cands)
            blocks = best_region_blocks(
                inst,
                best.flow_tok_s,
                bound,
                time_limit_s=min(20.0, max(clock.left / 3, 0.5)),
                seed=opts.seed,
                work=opts.work,
            )
            if blocks is not None:
                _add(cands, inst, mode, "region-blocks", park_idle(inst, blocks.ranges), clock)
    best = _best(cands)

    milp: dict[str, object] = {}
    solver_bound = None
    # Under work limits the MILP runs whatever the clock says (its deterministic limit ends it), unless the command's
    # deadline has passed (the safety net, recorded).
    time_left = clock.left > 0.5 if opts.work is None else not opts.work.out_of_time("MILP")
    if raw_status is None and opts.milp and best.flow_tok_s < bound * (1 - opts.rel_gap) and time_left:
        used = {link_key(u, v) for (u, v), f in max_flow(inst, best.ranges, mode).edge_flow.items() if f > 0}
        try:
            with stop_scope(opts):
                milp_inst, prune_report = _prune_step(inst, opts, used)
        except TimeLimitReached as exc:
            notes.append(f"{exc.stage} stopped at the time limit; MILP not attempted")
            raw_status = Status.time_limit
            if opts.work is not None:
                opts.work.hit(exc.stage)
        else:
            raw_status, solver_bound, milp = _run_milp(inst, milp_inst, mode, opts, best, milp_cut, cands, clock, notes)
        if opts.max_hops is not None:
            solver_bound = None  # a bound of the hop-free MILP says nothing more under a hop limit
    analytic = (bound_kind, bound)
    if solver_bound is not None and solver_bound < bound * (1 - 1e-9):
        bound, bound_source = solver_bound, f"{milp.get('formulation')} MILP bound ({opts.solver})"
        bound_kind = "milp"
    best = _best(cands)
    return _finish(full, inst, mode, opts, best, cands, baselines, ub, cov, block, solver_bound, bound,
                   bound_source, prune_report, notes, milp, clock, raw_status=raw_status, bound_kind=bound_kind,
                   analytic=analytic)  # fmt: skip


def _run_milp(
    full: HelixInstance,
    inst: HelixInstance,
    mode: Mode,
    opts: HelixOptions,
    hint: Candidate,
    bound: float,
    cands: list[Candidate],
    clock: _Clock,
    notes: list[str],
) -> tuple[Status | None, float | None, dict[str, object]]:
    formulation = opts.formulation
    if formulation == "auto":
        formulation = "per-node"
    if formulation == "aggregated" and mode == "partial":
        notes.append("the aggregated formulation is strict-only; used the per-node model")
        formulation = "per-node"
    if formulation == "per-node" and len(inst.nodes) > PER_NODE_MAX_NODES:
        notes.append(
            f"per-node MILP skipped: {len(inst.nodes)} nodes exceed {PER_NODE_MAX_NODES}; "
            "the plan is the best construction with its proven bound"
        )
        return None, None, {"formulation": "none"}
    info: dict[str, object] = {"formulation": formulation}
    if formulation == "aggregated":
        by_region = agg.links_may_bind(inst) and len(inst.regions) > 1
        am = agg.build(inst, bound, opts.resolution_tok_s, by_region)
        info["variables"], info["constraints"] = am.size
        hint_flow = _node_flows(inst, hint.ranges, mode)
        agg.hint(am, hint.ranges, hint_flow)
        raw = agg.solve(am, opts)
        ranges = agg.disaggregate(am, raw)
        scale = am.scale
        if ranges is not None:
            _add(cands, full, mode, "milp:aggregated", park_idle(inst, ranges), clock)
        exact = inst is full and not by_region and not agg.links_may_bind(inst)
        return _milp_outcome(raw, scale, info, bound, exact=exact)
    backend = CpSatBackend(opts.resolution_tok_s) if opts.solver == "cpsat" else MathOptBackend(opts.solver)
    m = build(inst, mode, backend, bound)
    info["variables"], info["constraints"] = model_size(inst, mode)
    hinted = add_full_hint(m, hint.ranges)
    info["warm_start"] = hint.source
    info["warm_start_tok_s"] = hinted
    if inst is not full:
        on_pruned = flow_value(inst, hint.ranges, mode)
        if on_pruned < hint.flow_tok_s * (1 - 1e-9):
            notes.append(
                f"warm start {hint.source} carries {hint.flow_tok_s:.6g} tokens/s on the full graph but only "
                f"{on_pruned:.6g} on the pruned graph the MILP sees"
            )
    if isinstance(backend, CpSatBackend):  # exactly when --solver cpsat
        raw = solve_cpsat(backend, opts)
        scale = backend.flow_value(1.0)
    else:
        if opts.stall_s is not None:
            notes.append("--stall is honoured by cpsat only")
        raw = solve_mathopt(backend, opts)
        scale = 1.0
    if raw.values is not None:
        ranges = {}
        for node in inst.nodes:
            s = int(round(raw.values(m.v.start[node.name])))
            k = next(k for k, h in m.v.hold[node.name].items() if raw.values(h) > 0.5)
            ranges[node.name] = (s, s + k)
        flows = {key: raw.values(v) / scale for key, v in m.v.flow.items()}
        objective = (raw.objective or 0.0) / scale
        tol = (len(inst.nodes) + 1) / scale if backend.integer_flows else 1e-6 * max(objective, 1.0)
        check_solver_flows(inst, ranges, mode, flows, objective, tol)
        cut_binds = objective >= bound * (1 - 1e-9)  # then the flows need not be a max flow of the placement
        # "optimal" from a solver with a relative gap limit (--gap) is optimal within that gap: its flows need not be
        # the placement's max flow by up to the gap (helix-tiny with 3 L4s: 240.261 reported, 240.5 recomputed).
        within = tol + opts.rel_gap * max(objective, bound)
        check_objective(flow_value(inst, ranges, mode), objective, raw.status == "optimal" and not cut_binds, within)
        _add(cands, full, mode, "milp:per-node", ranges, clock)
        info["objective_tok_s"] = objective
    return _milp_outcome(raw, scale, info, bound, exact=inst is full)


def _milp_outcome(
    raw: RawResult, scale: float, info: dict[str, object], bound: float, exact: bool
) -> tuple[Status, float | None, dict[str, object]]:
    info["status"] = raw.status
    info["wall_s"] = round(raw.wall_s, 3)
    info["incumbents"] = [(round(t, 3), o / scale) for t, o in raw.incumbents[-20:]]
    info["message"] = raw.message
    solver_bound = None
    if raw.bound is not None and exact:
        # The MILP carries the bound as a cut and rounds capacities up, so its bound is valid and never looser.
        solver_bound = min(bound, raw.bound / scale)
    return raw.status, solver_bound, info


def _node_flows(inst: HelixInstance, ranges: dict[str, tuple[int, int]], mode: Mode) -> dict[str, float]:
    return max_flow(inst, ranges, mode).node_inflow


def _finish(
    full: HelixInstance,
    inst: HelixInstance,
    mode: Mode,
    opts: HelixOptions,
    best: Candidate,
    cands: list[Candidate],
    baselines: list[Baseline],
    ub: float,
    cov: CoveringBound,
    block: float | None,
    solver_bound: float | None,
    bound: float,
    bound_source: str,
    prune_report: PruneReport | None,
    notes: list[str],
    milp: dict[str, object],
    clock: _Clock,
    raw_status: Status | None = None,
    evaluated: bool = False,
    bound_kind: str = "covering",
    analytic: tuple[str, float] | None = None,
) -> HelixResult:
    flow = verify(inst, best.ranges, mode, best.flow_tok_s, opts.max_hops)
    value = flow.value
    if value > bound * (1 + _BOUND_TOL) + _BOUND_TOL:
        # A verified flow above a proven bound means the bound (or the verifier) is wrong: never relabel, fail loudly.
        raise VerificationError(
            f"verified max flow {value:.10g} tokens/s exceeds the {bound_source} {bound:.10g} tokens/s "
            f"(by {value - bound:.6g}): a bound is wrong; this is a bug in llmplan"
        )
    bound = max(bound, value)  # within float tolerance of the verified flow: the bound is met
    if value > 0 and bound - value <= 1e-8 * value:
        bound = value  # met within the bisections' float tolerance: report the proven optimum exactly
    gap = (bound - value) / value if value > 0 else None
    if value <= 0:
        status: Status = Status.infeasible if not evaluated else Status.feasible
        message = "the placement carries no flow" if evaluated else "no placement found that carries flow"
    elif raw_status == "interrupted":
        status, message = Status.interrupted, "interrupted (Ctrl-C): best plan so far"
    elif gap is not None and gap <= max(opts.rel_gap, 1e-9):
        status = Status.optimal
        how = "meets" if gap == 0 else f"is within --gap {opts.rel_gap:.2%} of"
        message = f"{best.source} {how} the {bound_source} ({bound:.6g} tokens/s)"
        if evaluated:
            message = f"evaluated placement {how} the {bound_source}"
    elif evaluated:
        status, message = Status.feasible, f"evaluated placement; {bound_source} {bound:.6g} tokens/s"
    elif raw_status in ("time_limit", "error", None):
        status = Status.time_limit if raw_status == Status.time_limit else Status.feasible
        message = f"best from {best.source}; bound: {bound_source}"
        if raw_status is None and (milp.get("formulation") == "none" or not opts.milp):
            message += "; MILP not attempted"
    else:
        status, message = Status.feasible, f"best from {best.source}; {milp.get('message', '')}; bound: {bound_source}"
    certificate = None
    if status == Status.optimal:
        certificate = _certify(inst, mode, opts, value, bound, bound_kind, analytic)
        message = f"{certificate.label}: {message}"
    report = SolveReport(
        backend=opts.solver if milp.get("formulation") not in (None, "none") else "bounds+constructions",
        status=status,
        objective=value,
        best_bound=bound,
        message=message,
        wall_s=clock.elapsed,
    )
    return HelixResult(
        full=full,
        inst=inst,
        mode=mode,
        ranges=best.ranges,
        flow=flow,
        report=report,
        baselines=baselines,
        compute_bound_tok_s=ub,
        covering=cov,
        block_bound_tok_s=block,
        solver_bound_tok_s=solver_bound,
        best_bound_tok_s=bound,
        bound_source=bound_source,
        chosen=best.source,
        prune=prune_report,
        candidates=cands,
        notes=notes,
        milp=milp,
        certificate=certificate,
    )


def _certify(
    inst: HelixInstance,
    mode: Mode,
    opts: HelixOptions,
    value: float,
    bound: float,
    kind: str,
    analytic: tuple[str, float] | None,
) -> BoundCheck:
    """The certificate of an optimal label, checked by the solver-free verifier before the label is written.

    An analytic bound that meets the plan within ``--gap`` is recomputed independently (the label says so); a MILP
    dual bound cannot be, and the label says "solver-certified". A bound the verifier cannot confirm raises
    :class:`~planner.errors.VerificationError`: the plan is refused rather than labelled.
    """
    if kind == "milp" and analytic is not None:
        a_kind, a_bound = analytic
        if a_bound - value <= max(opts.rel_gap, 1e-9) * value:
            return check_bound(inst, mode, a_kind, max(a_bound, value), opts.max_hops)
    return check_bound(inst, mode, kind, bound, opts.max_hops)
