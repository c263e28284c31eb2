"""The served-throughput objective (``--objective served``, the default): a search, each candidate evaluated exactly.

Candidate generation + exact evaluation (issue 13):

* **generation**: the max-flow method (:func:`planner.helix.solve.solve`: bounds, constructions, stage
  layouts, region blocks, the MILP) run under a grid of *hop limits* (at most H compute nodes per path: shorter
  pipelines, lower per-token latency) and of *KV reserves* (the share of VRAM kept for the KV cache, which caps the
  layers per node and therefore the requests a node can hold); plus the unrestricted max-flow plan;
* **baselines**: the Petals, Swarm and separate-pipeline placements (within each node's memory limit, idle nodes
  parked), so that the plan is never predicted to serve less than a baseline;
* **evaluation**: every candidate's served decode throughput from :class:`planner.helix.served.ServedModel` (the
  shared node model, KV-bounded requests in flight, Little's law);
* **local search** (:mod:`planner.helix.refine`) from the best few distinct candidates: layer boundaries shift,
  layers move between stages, stages split and merge, nodes relocate and swap, each neighbour scored by the same
  prediction, under an evaluation budget;
* **routing** (:mod:`planner.helix.routing`): the best few distinct placements once more under another of their max
  flows, the centre of those of least link time (the plan's flows are the scheduler's weights, so the routing is
  part of what a plan serves).

The best candidate wins, ties to the earlier one (deterministic order). Every stage is bounded by work, not by the
clock (:mod:`planner.helix.work`): the grid runs every point, each sub-solve at work limits, the local searches to
their evaluation budget, so the plan does not depend on the machine's load; the command's deadline is a safety net
whose firing the plan reports (status ``time_limit``).

The max-flow value and bound of the chosen placement are kept and reported second. The upper bound on served
throughput (:func:`planner.helix.served_bound.served_upper_bound`) holds within the node model for any placement.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from planner.errors import InfeasibleError, Shortfall, TimeLimitReached, VerificationError
from planner.helix.baselines import all_baselines
from planner.helix.flow import FlowResult, Ranges
from planner.helix.instance import HelixInstance
from planner.helix.latency import hop_counts
from planner.helix.placement import park_idle
from planner.helix.refine import Refined, refine, throughput_model
from planner.helix.routing import least_time_flow
from planner.helix.served import Prediction, ServedModel
from planner.helix.served_bound import served_upper_bound
from planner.helix.solve import HelixOptions, HelixResult, evaluate, problem_bound, solve
from planner.helix.work import WorkLimits
from planner.solver import Status, remaining_s, stop_scope

#: KV reserves tried on top of the spec's (share of VRAM kept for KV cache; more reserve, fewer layers per node).
EXTRA_RESERVES = (0.1, 0.2)

#: KV reserves tried below the spec's (less reserve, more layers per node): the spec's reserve is a device of the
#: max-flow formulation, while the served prediction counts the KV a node keeps after its weights itself, so a node
#: may hold more layers when the KV left still admits requests (the simulator admits any node whose weights fit in
#: ``0.9 x VRAM``; the paper's separate pipelines hold 20 layers per A100-40G on geo-24). The runner builds these
#: instances with node-model tp(k), so that K is not capped by where the paper's tables stop.
LOWER_RESERVES = (0.2, 0.3)

#: A reserve below this is not tried (K would reach the weights-only limit, where no KV is left).
MIN_RESERVE = 0.1

#: The grid's size limit in (nodes x grid points): 24 nodes run 41 points, 42 nodes 23, 100 nodes 10.
GRID_NODE_POINTS = 1000

#: Grid points run on any cluster, however large.
GRID_MIN_POINTS = 8

#: The best this many distinct placements are also predicted under the least-link-time routing of their max flow.
REROUTE_TOP = 4

#: Local searches start from this many distinct candidates (:func:`_diverse_starts`), raced by successive halving.
REFINE_STARTS = 8


def refine_budget(nodes: int, time_limit_s: float) -> int:
    """Neighbour evaluations of all local searches together. One evaluation costs a max flow and a prediction, both
    growing with the cluster (about 25 ms on 24 nodes, 0.3 s on 200, on one unloaded core), so the budget shrinks
    with the cluster and grows with the time limit: at most 240 / nodes evaluations per second of the limit (a few
    times slower than measured, so that on a loaded machine the budget, not the clock, usually ends the search and
    the plan does not depend on the load), and never more than 48,000 / nodes (at 50-100 nodes the race's first
    rounds need a few dozen evaluations per start to tell the starts apart: 24,000 / nodes left generated 50 at
    1.14x, 48,000 at 1.28x). The budget depends on ``--time-limit`` (an option recorded in the plan): the same
    limit gives the same plan; another limit may give another. ``--search-evaluations N`` sets the budget itself, so
    that a longer safety net (a slow or shared machine) keeps the plan of the documented limit."""
    return max(20, min(48_000 // max(nodes, 1), int(time_limit_s * 240 / max(nodes, 1))))


#: Share of the time limit (at most ``WRAP_UP_MAX_S``) kept after the local searches for writing the plan: the
#: chosen placement's verification, its latency and full prediction (the online replay: seconds under load), the
#: baseline plans with theirs.
WRAP_UP_SHARE = 0.15
WRAP_UP_MAX_S = 15.0


@dataclass
class ServedCandidate:
    source: str
    kv_reserve_fraction: float
    max_hops: int | None
    result: HelixResult
    prediction: Prediction
    #: Whether ``prediction`` includes the online latency (computed for the chosen candidate only: it replays the
    #: workload's arrivals, about a second a call, where decode throughput alone takes milliseconds).
    latency: bool = False
    #: Whether the routing is already the least-link-time one (:func:`_routed_least_time`).
    rerouted: bool = False

    def row(self) -> dict[str, object]:
        return {
            "source": self.source,
            "kv_reserve_fraction": self.kv_reserve_fraction,
            "max_hops": self.max_hops,
            "max_flow_tok_s": self.result.flow.value,
            "predicted_decode_tok_s": self.prediction.decode_tok_s,
            "predicted_total_tok_s": self.prediction.total_tok_s,
            "predicted_token_latency_p50_ms": self.prediction.token_latency_p50_ms if self.latency else None,
        }


def placement_key(c: ServedCandidate) -> tuple[tuple[str, tuple[int, int]], ...]:
    """What makes two candidates the same placement: their layer ranges (the routing may differ)."""
    return tuple(sorted(c.result.ranges.items()))


@dataclass
class ServedSearch:
    best: ServedCandidate
    candidates: list[ServedCandidate]
    upper_bound_tok_s: float | None
    wall_s: float
    skipped: int = 0
    rejected: list[str] = field(default_factory=list)
    refinements: list[tuple[str, Refined]] = field(default_factory=list)
    #: Ctrl-C stopped the search: ``best`` is the best candidate finished by then (and is not confirmed).
    interrupted: bool = False

    def refinement_rows(self) -> list[dict[str, object]]:
        return [
            {
                "start": start,
                "start_decode_tok_s": r.start_decode_tok_s,
                "decode_tok_s": r.prediction.decode_tok_s,
                "evaluations": r.evaluations,
                "moves": len(r.moves),
                "stopped": r.stopped,
            }
            for start, r in self.refinements
        ]


def label_of(reserve: float, hops: int | None) -> str:
    return f"reserve {reserve:g}, " + (f"<= {hops} hops" if hops is not None else "max flow")


def served_search(
    instance_for: Callable[[float], HelixInstance],
    base_reserve: float,
    opts: HelixOptions,
    model: ServedModel,
    first: HelixResult | None = None,
) -> ServedSearch:
    """Candidates (max flow, baselines, hop limits x KV reserves), then local searches from the best of them;
    return the candidate with the highest predicted decode throughput."""
    started = time.perf_counter()
    work = opts.work if opts.work is not None else WorkLimits(opts.deadline())
    opts = replace(opts, work=work)
    full_model, model = model, throughput_model(model)  # candidates are ranked by decode throughput alone
    above = [round(base_reserve + d, 6) for d in EXTRA_RESERVES if base_reserve + d < 0.95]
    below = [round(base_reserve - d, 6) for d in LOWER_RESERVES if base_reserve - d >= MIN_RESERVE]
    # the spec's reserve, then larger ones (the candidates of the earlier releases), then the smaller ones
    reserves = [base_reserve, *above, *below]
    insts: dict[float, HelixInstance] = {}
    skipped = 0
    try:
        with stop_scope(opts):  # building an instance stops at the command's deadline; the rest is not tried
            for r in reserves:
                insts[r] = instance_for(r)
    except TimeLimitReached as exc:
        skipped += len(reserves) - len(insts)
        if first is None:
            raise
        work.hit(exc.stage)
    base = insts.get(base_reserve, first.full if first is not None else None)
    assert base is not None  # the spec's instance is built first; without it and without `first` we raised
    plan: list[tuple[float, int | None]] = []
    for r in insts:
        inst = insts[r]
        plan += [(r, h) for h in hop_counts(inst) if h < len(inst.nodes)]
        plan.append((r, None))
    # Shortest hop limits first, every reserve of one limit before the next limit (the reserves in the order above;
    # no limit last): served throughput favours short pipelines (the best plans measured start from <= 9-12 hops),
    # and the safety net (the command's deadline), should it fire, cuts the grid's end.
    order = {r: i for i, r in enumerate(insts)}
    plan.sort(key=lambda rh: (rh[1] if rh[1] is not None else len(base.nodes) + 1, order[rh[0]]))
    # A grid point's sub-solve costs about in proportion to the cluster: the grid keeps its first
    # GRID_NODE_POINTS / nodes points (at least GRID_MIN_POINTS), a work limit that drops the longest hop limits of
    # large clusters (served throughput favours short pipelines) whatever the machine's speed.
    plan = plan[: max(GRID_MIN_POINTS, GRID_NODE_POINTS // max(len(base.nodes), 1))]
    deadline = opts.deadline()  # the whole command's (SolveOptions.time_limit_s): the safety net only
    cands: list[ServedCandidate] = []
    if first is not None:
        pred = model.predict(first.full, first.ranges, first.flow)
        cands.append(ServedCandidate("max-flow", base_reserve, opts.max_hops, first, pred))
    rejected: list[str] = []
    # Ctrl-C (or a max-flow run Ctrl-C already stopped) ends the search with the best candidate finished so far, as
    # the max-flow objective keeps its incumbent: the plan is written with status ``interrupted``.
    interrupted = first is not None and first.report.status == Status.interrupted
    try:
        if not interrupted:
            # Baselines within the spec's memory limits (ranges beyond them dropped, idle nodes parked), and where
            # they ask for more than that, also whole on the loosest instance built (a force-loaded baseline that
            # fits in memory).
            cands += _baseline_candidates(base, base_reserve, opts, model, first)
            loose = min(insts) if insts else base_reserve
            if loose < base_reserve:
                cands += _baseline_candidates(insts[loose], loose, opts, model, first, only_beyond=base)
            skipped += _grid_candidates(plan, insts, first, base_reserve, opts, work, model, cands, rejected)
    except KeyboardInterrupt:
        interrupted = True
    if not cands:
        if interrupted:
            raise KeyboardInterrupt
        raise InfeasibleError(Shortfall(constraint="served", detail="no candidate placement carries flow"))
    refinements: list[tuple[str, Refined, ServedCandidate | None]] = []
    if not interrupted:
        wrap_up = min(WRAP_UP_SHARE * opts.time_limit_s, WRAP_UP_MAX_S)
        try:
            refinements, rerouted_on_the_way = _refine_best(
                insts, base, base_reserve, cands, opts, model, deadline - wrap_up
            )
            cands += [c for _, _, c in refinements if c is not None]
            cands += rerouted_on_the_way
            cands += _rerouted(cands, opts, model)
        except KeyboardInterrupt:
            interrupted = True
    best = cands[0]
    for c in cands[1:]:
        if c.prediction.decode_tok_s > best.prediction.decode_tok_s * (1 + 1e-9):
            best = c
    if interrupted:
        note = f"interrupted (Ctrl-C): the best of the {len(cands)} candidates the served search had finished"
        best.result.report = replace(best.result.report, status=Status.interrupted, message=note)
    elif work.hits:  # the safety net fired: the plan is the best so far, and depends on the machine's speed
        note = work.note()
        best.result.report = replace(
            best.result.report, status=Status.time_limit, message=f"{best.result.report.message}; {note}"
        )
        best.result.notes.append(note)
    best.prediction = full_model.predict(best.result.full, best.result.ranges, best.result.flow)
    best.latency = True
    # The smallest KV reserve leaves the most layers per node: the loosest bound (the base instance if the time limit
    # stopped the others from being built).
    ub = served_upper_bound(insts[min(insts)] if insts else best.result.full, model)
    rows = [(start, r) for start, r, _ in refinements]
    return ServedSearch(best, cands, ub, time.perf_counter() - started, skipped, rejected, rows, interrupted)


def _grid_candidates(
    plan: list[tuple[float, int | None]],
    insts: dict[float, HelixInstance],
    first: HelixResult | None,
    base_reserve: float,
    opts: HelixOptions,
    work: WorkLimits,
    model: ServedModel,
    cands: list[ServedCandidate],
    rejected: list[str],
) -> int:
    """The grid's candidates (hop limits x KV reserves), appended to ``cands`` as each is solved (so Ctrl-C keeps
    those finished). Every grid point runs, each sub-solve bounded by work (planner.helix.work), not by a share of
    the clock: the candidates, hence the plan, do not depend on the machine's load. Only the command's deadline (the
    safety net) stops the grid early, and the plan then says so. Returns the grid points skipped."""
    skipped = 0
    for r, hops in plan:
        if first is not None and r == base_reserve and hops == opts.max_hops:
            continue
        if opts.max_hops is not None and (hops is None or hops > opts.max_hops):
            continue
        if work.out_of_time("candidate grid"):
            skipped += 1
            continue
        inst = insts[r]
        # constructions only: the MILP (max flow, not served throughput) ran once, in the max-flow run (`first`)
        sub = replace(opts, max_hops=hops, milp=opts.milp and hops is None and first is None)
        try:
            res = solve(inst, sub)
        except InfeasibleError:
            continue
        except TimeLimitReached as exc:
            work.hit(exc.stage)
            skipped += 1  # the command's deadline passed before it had a plan
            continue
        except VerificationError as exc:
            # A hop-limited flow whose paths cannot be re-verified within the limit: not a plan to recommend.
            rejected.append(f"{label_of(r, hops)}: {exc}")
            continue
        if res.flow.value <= 0:
            continue
        pred = model.predict(res.full, res.ranges, res.flow)
        cands.append(ServedCandidate(label_of(r, hops), r, hops, _bound_of_the_command(res, hops, opts), pred))
    return skipped


def _bound_of_the_command(res: HelixResult, hops: int | None, opts: HelixOptions) -> HelixResult:
    """A grid point's result with the max-flow bound of the command's problem (its own hop limit, or none) instead
    of the grid point's hop-limited one, which bounds only the grid point's sub-problem: a plan recommended from a
    grid point reported "hop-limited covering bound (<= 1 nodes per path)" that the search's own max-flow candidate
    exceeded, and could be labelled optimal against it. The flow and its prediction are unchanged."""
    if hops is None or hops == opts.max_hops or not res.bound_source.startswith("hop-limited"):
        return res
    bound, source, _, _ = problem_bound(res.full, res.covering, res.block_bound_tok_s, opts.max_hops)
    bound = max(bound, res.flow.value)
    status = Status.feasible if res.report.status == Status.optimal else res.report.status
    message = f"best from {res.chosen} (<= {hops} nodes per path, a grid point of the served search); bound: {source}"
    report = replace(res.report, status=status, best_bound=bound, message=message)
    return replace(res, report=report, best_bound_tok_s=bound, bound_source=source, certificate=None)


def _evaluate_placement(
    inst: HelixInstance, reserve: float, opts: HelixOptions, source: str, ranges: Ranges, model: ServedModel
) -> ServedCandidate | None:
    """A placement as a verified result (its max flow under the command's hop limit) with its prediction."""
    sub = replace(opts, time_limit_s=max(remaining_s(opts.deadline()), 1.0), started_at=None)
    try:
        res = solve(inst, sub, placement=dict(ranges))
    except (InfeasibleError, VerificationError):
        return None
    except TimeLimitReached as exc:
        if opts.work is not None:
            opts.work.hit(exc.stage)
        return None
    if res.flow.value <= 0:
        return None
    return ServedCandidate(source, reserve, opts.max_hops, res, model.predict(res.full, res.ranges, res.flow))


def _baseline_candidates(
    inst: HelixInstance,
    reserve: float,
    opts: HelixOptions,
    model: ServedModel,
    first: HelixResult | None,
    only_beyond: HelixInstance | None = None,
) -> list[ServedCandidate]:
    """Petals, Swarm and separate pipelines as candidates: ranges beyond a node's memory limit are dropped and
    idle nodes parked (as the max-flow method does), so a baseline's own placement is always in the race.
    ``only_beyond``: only the baselines asking some node for more layers than it may hold there (on ``inst``, a
    looser instance, they race whole), named with their reserve."""
    baselines = first.baselines if first is not None else all_baselines(inst, opts.mode, opts.petals_seed)
    out: list[ServedCandidate] = []
    for b in baselines:
        if not b.ranges:
            continue
        name = f"baseline:{b.name}"
        if only_beyond is not None:
            if all(r[1] - r[0] <= only_beyond.node(n).max_layers for n, r in b.ranges.items()):
                continue
            name += f", reserve {reserve:g}"
        fits = {n: r for n, r in b.ranges.items() if r[1] - r[0] <= inst.node(n).max_layers}
        c = _evaluate_placement(inst, reserve, opts, name, park_idle(inst, fits), model)
        if c is not None:
            out.append(c)
    return out


def _rerouted(cands: list[ServedCandidate], opts: HelixOptions, model: ServedModel) -> list[ServedCandidate]:
    """The best ``REROUTE_TOP`` distinct placements once more, routed by the centre of their max flows of least
    link time (:func:`planner.helix.routing.least_time_flow`): the same placement and max flow, other routing
    weights, predicted like every candidate; the better prediction wins as for any two candidates. Not under
    ``--max-hops`` (that routing may take longer paths than the limit allows)."""
    if opts.max_hops is not None:
        return []
    out: list[ServedCandidate] = []
    seen: set[tuple[tuple[str, tuple[int, int]], ...]] = set()
    tried = 0
    for c in sorted(cands, key=lambda c: -c.prediction.decode_tok_s):
        key = placement_key(c)
        if key in seen:
            continue
        seen.add(key)
        if c.rerouted:  # met rerouted in the race (:func:`_reroute_climb`): nothing to add
            continue
        tried += 1
        if tried > REROUTE_TOP:
            break
        routed = _routed_least_time(c, model, f"{c.source}, least-time routing")
        if routed is not None:
            out.append(routed)
    return out


def _routed_least_time(c: ServedCandidate, model: ServedModel, source: str) -> ServedCandidate | None:
    """``c`` with the routing of :func:`planner.helix.routing.least_time_flow`, predicted; None if there is no
    such routing or it carries less than the max flow."""
    res = c.result
    flow = least_time_flow(res.full, res.ranges, res.mode, res.flow)
    if flow is None or flow.value < res.flow.value * (1 - 1e-6):
        return None
    message = f"{res.report.message}; routed by the centre of its max flows of least link time"
    routed = replace(res, flow=flow, report=replace(res.report, message=message))
    # max_hops None: the least-time routing is not hop-limited, whatever limit built the placement
    prediction = model.predict(routed.full, routed.ranges, flow)
    return ServedCandidate(source, c.kv_reserve_fraction, None, routed, prediction, rerouted=True)


def _evaluator(inst: HelixInstance, opts: HelixOptions) -> Callable[[Ranges], FlowResult]:
    """How the local search routes a neighbour: its max flow on ``inst`` (hop-limited under a limit)."""
    return lambda rg: evaluate(inst, rg, opts.mode, opts.max_hops, cut=False)


@dataclass
class _Climb:
    """One start of the race: where its climb stands (merged over the rounds it climbed)."""

    start: ServedCandidate
    reserve: float
    inst: HelixInstance
    ranges: dict[str, tuple[int, int]]
    refined: Refined | None = None
    #: The best of its placements so far routed by the least link time (:func:`_routed_least_time`).
    routed: ServedCandidate | None = None
    #: The last placement solved as a candidate, and that candidate (None: it did not solve), so that rerouting it
    #: after a round and ranking the climb's end do not solve the same placement twice.
    solved: tuple[dict[str, tuple[int, int]], ServedCandidate | None] | None = None

    def candidate(self, opts: HelixOptions, model: ServedModel) -> ServedCandidate | None:
        """Its current placement as a verified, predicted candidate (:func:`_evaluate_placement`), solved once."""
        if self.solved is None or self.solved[0] != self.ranges:
            source = f"local search from {self.start.source}"
            self.solved = (
                dict(self.ranges),
                _evaluate_placement(self.inst, self.reserve, opts, source, self.ranges, model),
            )
        return self.solved[1]

    @property
    def decode(self) -> float:
        return self.refined.prediction.decode_tok_s if self.refined is not None else self.start.prediction.decode_tok_s

    @property
    def outlook(self) -> float:
        """What the search can make of the climb so far: the better of its two routings (the search reroutes its
        best placements at the end, :func:`_rerouted`, and that routing moves a placement's prediction by -20 % to
        +35 % on the shipped specs)."""
        return max(self.decode, self.routed.prediction.decode_tok_s if self.routed is not None else 0.0)

    @property
    def done(self) -> bool:
        return self.refined is not None and self.refined.stopped == "local optimum"

    def merge(self, r: Refined) -> None:
        if self.refined is None:
            self.refined = r
            return
        prev = self.refined
        self.refined = Refined(
            r.ranges, r.flow, r.prediction, prev.start_decode_tok_s, prev.evaluations + r.evaluations, r.stopped,
            prev.moves + r.moves,
        )  # fmt: skip


def _reroute_climb(c: _Climb, opts: HelixOptions, model: ServedModel, deadline: float) -> None:
    """Predict the climb's current placement under the least-link-time routing and keep it if it is the climb's
    best so far. The climbs move placements under their max-flow routing, and the search reroutes its best
    placements only at the end; a race judged on the max-flow routing alone sends on the climb that looks best
    before rerouting. On het-42 the recommended placement (885.7 predicted, 930.1 simulated) is a climb stopped after
    33 evaluations and rerouted at the end (659.4 before); with a prediction a few per cent different that climb won
    its halving, went on for 162 evaluations to a placement that rerouting did not lift (696.0), and the plan served
    16 % less (docs/helix.md, "What changed (eighteenth session)")."""
    if c.refined is None or not c.refined.moves or remaining_s(deadline) <= 0:
        return
    if c.solved is not None and c.solved[0] == c.ranges:  # not moved since it was last rerouted
        return
    cand = c.candidate(opts, model)
    source = f"local search from {c.start.source} ({c.refined.evaluations} evaluations), least-time routing"
    routed = _routed_least_time(cand, model, source) if cand is not None else None
    if routed is not None and (c.routed is None or routed.prediction.decode_tok_s > c.routed.prediction.decode_tok_s):
        c.routed = routed


def _diverse_starts(cands: list[ServedCandidate], n: int) -> list[ServedCandidate]:
    """Up to ``n`` distinct placements, best predicted first within each family (a KV reserve's grid points, the
    baselines), the best of every family before any family's second: the race then sees every region of the grid,
    not only the one the start's own prediction favours."""
    order = sorted(range(len(cands)), key=lambda i: (-cands[i].prediction.decode_tok_s, i))
    families: dict[str, list[int]] = {}
    seen: set[tuple[tuple[str, tuple[int, int]], ...]] = set()
    for i in order:
        key = placement_key(cands[i])
        if key in seen:
            continue
        seen.add(key)
        family = "baselines" if cands[i].source.startswith("baseline:") else f"{cands[i].kv_reserve_fraction:g}"
        families.setdefault(family, []).append(i)
    picked: list[int] = []
    depth = 0
    while len(picked) < n and any(len(f) > depth for f in families.values()):
        picked += sorted((f[depth] for f in families.values() if len(f) > depth), key=order.index)[: n - len(picked)]
        depth += 1
    return [cands[i] for i in sorted(picked, key=order.index)]


def _refine_best(
    insts: dict[float, HelixInstance],
    base: HelixInstance,
    base_reserve: float,
    cands: list[ServedCandidate],
    opts: HelixOptions,
    model: ServedModel,
    deadline: float,
) -> tuple[list[tuple[str, Refined, ServedCandidate | None]], list[ServedCandidate]]:
    """Local searches (:func:`planner.helix.refine.refine`) from up to ``REFINE_STARTS`` distinct candidates
    (:func:`_diverse_starts`), raced by *successive halving*: every start climbs a short way, the better half (by the
    predicted decode throughput its climb has reached, under the better of its two routings: :func:`_reroute_climb`)
    climbs on from where it stopped, and so on until one start is left, which gets what remains of the budget. A
    start is thus ranked by where its climb gets, not by its own prediction. Each round has an equal share of the
    evaluation budget, split among the climbs still racing (a climb at a local optimum stops and leaves its share to
    the others). Returns the climbs, and the rerouted placements met on the way (candidates as any other).

    Each start climbs on the instance of its reserve if that is below the spec's (more layers per node), else on the
    spec's instance (a larger reserve only lowers the memory limits)."""
    starts = _diverse_starts(cands, REFINE_STARTS)
    total = opts.search_evaluations or refine_budget(len(base.nodes), opts.time_limit_s)
    climbs: list[_Climb] = []
    for start in starts:
        reserve = min(start.kv_reserve_fraction, base_reserve)
        inst = insts.get(reserve, base)
        ranges = {n.name: start.result.ranges[n.name] for n in inst.nodes if n.name in start.result.ranges}
        climbs.append(_Climb(start, reserve, inst, ranges))
    rounds = 1 + math.ceil(math.log2(len(climbs))) if len(climbs) > 1 else 1
    racing = list(range(len(climbs)))
    used = 0
    stopped_by_clock = False
    for rnd in range(rounds):
        last = rnd == rounds - 1
        budget = total - used if last else (total - used) // (rounds - rnd)
        spent = 0
        active = [i for i in racing if not climbs[i].done]
        for pos, i in enumerate(active):
            if remaining_s(deadline) <= 0:
                stopped_by_clock = True
                break
            allowance = (budget - spent) // (len(active) - pos)
            if allowance < 2:
                continue
            c = climbs[i]
            r = refine(
                c.inst, c.ranges, opts.mode, model,
                _evaluator(c.inst, opts),
                max_evaluations=allowance, deadline=deadline, seed=opts.seed + rnd,
            )  # fmt: skip
            spent += r.evaluations
            c.ranges = r.ranges
            c.merge(r)
            if r.stopped == "time limit":
                stopped_by_clock = True
        used += spent
        if stopped_by_clock:
            break
        if opts.max_hops is None:  # the least-time routing is not hop-limited (as :func:`_rerouted`)
            for i in active:
                _reroute_climb(climbs[i], opts, model, deadline)
        # the better half, by the better of its routings, races on (ties: the earlier start)
        keep = max(1, math.ceil(len(racing) / 2))
        racing = sorted(racing, key=lambda i: (-climbs[i].outlook, i))[:keep]
        racing.sort()
    if stopped_by_clock and opts.work is not None:
        opts.work.hit("local search")
    out: list[tuple[str, Refined, ServedCandidate | None]] = []
    for c in climbs:
        done = c.refined
        if done is None:  # the deadline came first
            continue
        cand = c.candidate(opts, model) if done.moves else None
        if cand is None:  # already a local optimum (or cut at once): recorded, nothing new to rank
            out.append((c.start.source, done, None))
            continue
        cand.result.chosen = cand.source
        cand.result.report = replace(
            cand.result.report,
            message=f"local search from {c.start.source} ({len(done.moves)} moves, {done.evaluations} evaluations, "
            f"{done.stopped}); max-flow bound: {cand.result.bound_source}",
        )
        out.append((c.start.source, done, cand))
    return out, [c.routed for c in climbs if c.routed is not None]
