"""Upper bounds on the max-flow throughput of any placement, and the single-pipeline construction (issue 8).

**Compute bound** (reference section 7): ``UB = sum_i max_k k * tp_i(k) / L``, the throughput if transfers were
free and every node ran at its best layers x throughput product.

**Layer-covering bound.** Under the strict chaining rule every unit of flow crosses every layer exactly once, so
the flows of the nodes holding layer ``l`` add up to the total flow ``F``, and no node carries more than
``min(tp_i(k_i), F)``. Summing over layers::

    L * F  <=  sum_i k_i * min(tp_i(k_i), F)  <=  sum_i max_k k * min(tp_i(k), F, in_i, out_i)

where ``in_i`` / ``out_i`` are the capacities of the links into / out of node ``i`` (a node cannot carry more than
its links can feed). The right-hand side divided by ``F`` does not increase with ``F``, so the largest ``F``
satisfying the inequality (found by bisection) is a valid upper bound. Partial inference covers every layer *at
least* once, so the same inequality holds there too.

**Link cuts.** Flow reaches the nodes of a region ``R`` only through its links. Each time a unit of flow enters
``R`` it runs through at most ``min(L, sum_{i in R} K_i)`` layers there (at most ``L - 1`` when it enters from a
compute node, because it has done a layer already), so the layer-work done in ``R`` is at most::

    min(L, K_R) * min(F, src_R) + min(L - 1, K_R) * cmp_in_R        (and likewise with the links leaving R)

with ``src_R`` the coordinator links into ``R`` and ``cmp_in_R`` the compute links from other regions (each edge
clipped at the throughput its endpoints can ever carry). The bound takes, per region, the smaller of the node
term and the link term; the report names the terms that bind ("which bound is active").

**Solo/shared blocks (strict mode).** Cut the layer axis at every boundary no flow-carrying node straddles. A
segment held by one node carries all of ``F`` through it ("solo": ``tp_i(k_i) >= F``); in every other segment each
layer is held by at least two flow-carrying nodes, each carrying less than ``F`` ("shared"). A shared segment of
``m`` layers therefore needs ``sum k_i >= 2 m`` layer slots and ``sum k_i f_i = m F`` layer-work. For any
``lambda in [0, 1]`` the convex combination of the two gives, per node, at most::

    v_i(F, lambda) = max( max{k : tp_i(k) >= F},  max_k k * (lambda * min(tp_i(k), F) / F + (1 - lambda) / 2) )

layers, and ``L <= sum_i v_i(F, lambda)`` must hold for every lambda. ``lambda = 1`` is the covering bound; smaller
lambda charges shared nodes for needing a partner. The largest feasible ``F`` is the *block bound* (it proves the
10-node optimum 286.587 that took the published solver an hour). When no region can hold the model alone and the
wide-area links are slower than ``F``, an all-solo plan would need one link to carry ``F``, so at least two nodes
are shared; charging the two cheapest proves the geo-distributed optimum.

**Single pipeline.** The largest ``F`` such that ``sum_i max{k <= K_i : tp_i(k) >= F} >= L`` admits a chain in
which every node sustains ``F`` (subset-sum over the admissible ``k`` to hit exactly ``L``). When its verified
flow meets the covering bound the placement is optimal and the solver stops at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from planner.helix.flow import Mode
from planner.helix.instance import CHECK_EVERY, SINK, SOURCE, HelixInstance, HelixNode
from planner.solver import checkpoint

#: What :func:`~planner.solver.checkpoint` names when the deadline passes inside a bound.
STAGE = "computing the upper bounds"


def compute_bound(inst: HelixInstance) -> float:
    """Reference section 7: ``sum_i max_k k * tp_i(k) / L`` tokens/s."""
    return sum(n.best_product for n in inst.nodes) / inst.layers


def edge_ceiling(inst: HelixInstance, src: str, dst: str, capacity: float) -> float:
    """The most flow an edge can ever carry: its capacity clipped at what its endpoints can process."""
    cap = capacity
    if src != SOURCE:
        cap = min(cap, max(inst.node(src).tp_tok_s, default=0.0))
    if dst != SINK:
        cap = min(cap, max(inst.node(dst).tp_tok_s, default=0.0))
    return cap


@dataclass
class CoveringBound:
    """The layer-covering bound and which of its terms bind at the optimum ``value``."""

    value: float
    compute_bound: float
    active: str
    binding_regions: list[str] = field(default_factory=list)
    link_limited_nodes: list[str] = field(default_factory=list)

    @property
    def describe(self) -> str:
        return self.active


@dataclass(frozen=True)
class _LinkLimit:
    """What a node's links let through: in total, and when it holds fewer than L layers (it then needs a compute
    neighbour upstream or downstream), and when it holds all L layers (coordinator links only)."""

    total: float
    partial: float
    whole: float

    def at(self, k: int, layers: int) -> float:
        return min(self.total, self.whole if k >= layers else self.partial)


def _node_link_limits(inst: HelixInstance) -> dict[str, _LinkLimit]:
    """Per node: min(total in, total out); a node holding k < L layers must use a compute link upstream (start >
    0) or downstream (end < L), so its flow is at most max(compute in, compute out); one holding all L layers uses
    only coordinator links (edges clipped at their ceilings)."""
    limits: dict[str, _LinkLimit] = {}
    for n in inst.nodes:
        checkpoint(STAGE)  # pragma: no mutate
        ins = [(e.src, edge_ceiling(inst, e.src, e.dst, e.capacity_tok_s)) for e in inst.in_edges[n.name]]
        outs = [(e.dst, edge_ceiling(inst, e.src, e.dst, e.capacity_tok_s)) for e in inst.out_edges[n.name]]
        total = min(sum(c for _, c in ins), sum(c for _, c in outs))
        cmp_in = sum(c for u, c in ins if u != SOURCE)
        cmp_out = sum(c for v, c in outs if v != SINK)
        src = sum(c for u, c in ins if u == SOURCE)
        snk = sum(c for v, c in outs if v == SINK)
        limits[n.name] = _LinkLimit(total, max(cmp_in, cmp_out), min(src, snk))
    return limits


def _no_limits(inst: HelixInstance) -> dict[str, _LinkLimit]:
    inf = float("inf")
    return {n.name: _LinkLimit(inf, inf, inf) for n in inst.nodes}


def _capped(node: HelixNode, limit: _LinkLimit, layers: int) -> tuple[float, ...]:
    """tp_i(k) capped by what the node's links can carry at that size."""
    return tuple(min(t, limit.at(k, layers)) for k, t in enumerate(node.tp_tok_s, start=1))


def _node_work(tp: tuple[float, ...], flow: float) -> float:
    """max_k k * min(tp(k), F): the most layer-work the node can add at total flow F."""
    return max((k * min(t, flow) for k, t in enumerate(tp, start=1)), default=0.0)


@dataclass
class _RegionLinks:
    nodes: list[HelixNode]
    k_sum: int
    src: float
    sink: float
    cmp_in: float
    cmp_out: float


def _regions(inst: HelixInstance) -> dict[str, _RegionLinks]:
    out: dict[str, _RegionLinks] = {}
    region_of = {n.name: n.region for n in inst.nodes}
    for r in inst.regions:
        members = [n for n in inst.nodes if n.region == r]
        out[r] = _RegionLinks(members, sum(n.max_layers for n in members), 0.0, 0.0, 0.0, 0.0)
    for i, e in enumerate(inst.edges):
        if i % CHECK_EVERY == 0:  # pragma: no mutate
            checkpoint(STAGE)  # pragma: no mutate
        cap = edge_ceiling(inst, e.src, e.dst, e.capacity_tok_s)
        if e.src == SOURCE:
            out[region_of[e.dst]].src += cap
        elif e.dst == SINK:
            out[region_of[e.src]].sink += cap
        elif region_of[e.src] != region_of[e.dst]:
            out[region_of[e.dst]].cmp_in += cap
            out[region_of[e.src]].cmp_out += cap
    return out


def covering_bound(inst: HelixInstance, mode: Mode = "strict", links: bool = True) -> CoveringBound:
    """The layer-covering bound, with node-link and region-link cuts when ``links`` (see module docstring)."""
    layers = inst.layers
    ub = compute_bound(inst)
    if not inst.nodes or ub <= 0:
        return CoveringBound(0.0, ub, "no node can hold a layer")
    limits = _node_link_limits(inst) if links else _no_limits(inst)
    capped = {n.name: _capped(n, limits[n.name], layers) for n in inst.nodes}
    regions = _regions(inst) if links else {}

    def region_terms(flow: float) -> dict[str, tuple[float, float]]:
        terms: dict[str, tuple[float, float]] = {}
        for r, reg in (regions or {"*": _RegionLinks(list(inst.nodes), 0, 0, 0, 0, 0)}).items():
            work = sum(_node_work(capped[n.name], flow) for n in reg.nodes)
            if not regions:
                terms[r] = (work, float("inf"))
                continue
            run = reg.k_sum if mode == "partial" else min(layers, reg.k_sum)
            run_in = reg.k_sum if mode == "partial" else min(layers - 1, reg.k_sum)
            via_in = run * min(flow, reg.src) + run_in * reg.cmp_in
            via_out = run * min(flow, reg.sink) + run_in * reg.cmp_out
            terms[r] = (work, min(via_in, via_out))
        return terms

    def slack(flow: float) -> float:
        # A relative tolerance keeps float rounding from cutting below a bound met with equality (it only loosens).
        return sum(min(w, c) for w, c in region_terms(flow).values()) - layers * flow * (1 - 1e-9)

    # The coordinator's links are a cut: every unit of flow leaves the source and reaches the sink through them.
    src_cut = sum(edge_ceiling(inst, e.src, e.dst, e.capacity_tok_s) for e in inst.out_edges[SOURCE])
    sink_cut = sum(edge_ceiling(inst, e.src, e.dst, e.capacity_tok_s) for e in inst.in_edges[SINK])
    if min(src_cut, sink_cut) < ub:
        ub_cut = min(src_cut, sink_cut)
        if ub_cut <= 0 or slack(ub_cut * (1 + 1e-12)) >= 0:
            return CoveringBound(ub_cut, ub, "coordinator link cut")
    lo, hi = 0.0, ub * (1 + 1e-12) + 1e-9
    if slack(hi) >= 0:
        lo = hi
    else:
        for _ in range(200):
            checkpoint(STAGE)  # pragma: no mutate
            mid = (lo + hi) / 2
            if slack(mid) >= 0:
                lo = mid
            else:
                hi = mid
            if hi - lo <= 1e-12 * max(hi, 1.0):
                break
    value = hi
    terms = region_terms(value)
    binding = sorted(r for r, (w, c) in terms.items() if c < w)
    limited = sorted(n.name for n in inst.nodes if _node_work(capped[n.name], value) < _node_work(n.tp_tok_s, value))
    if binding:
        active = "layer covering with link cuts (" + ", ".join(f"region {r}" for r in binding) + ")"
    elif limited:
        active = f"layer covering with node link limits ({len(limited)} nodes)"
    else:
        active = "layer covering (node throughput)"
    return CoveringBound(value, ub, active, binding, limited)


def _lambda_min(values: Callable[[float], float]) -> float:
    """min over lambda in [0, 1] of a convex piecewise-linear function (ternary search plus the end points)."""
    lo, hi = 0.0, 1.0
    for _ in range(80):
        a, b = lo + (hi - lo) / 3, hi - (hi - lo) / 3
        if values(a) <= values(b):
            hi = b
        else:
            lo = a
    return min(values(lo), values(0.0), values(1.0))


def _forced_shared_above(inst: HelixInstance) -> float | None:
    """Above which flow a plan needs at least two shared nodes (None: never forced).

    If no region's nodes can hold all L layers and every link between regions carries less than F, an all-solo
    plan is impossible: all-solo means a single chain of nodes each carrying F, which must cross from one region to
    another over one link. So at least one layer is shared, hence at least two shared nodes.
    """
    if len(inst.regions) < 2:
        return None
    k_region: dict[str, int] = {}
    for n in inst.nodes:
        k_region[n.region] = k_region.get(n.region, 0) + n.max_layers
    if max(k_region.values()) >= inst.layers:
        return None
    region_of = {n.name: n.region for n in inst.nodes}
    fastest = 0.0
    for i, e in enumerate(inst.edges):
        if i % CHECK_EVERY == 0:  # pragma: no mutate
            checkpoint(STAGE)  # pragma: no mutate
        if e.src != SOURCE and e.dst != SINK and region_of[e.src] != region_of[e.dst]:
            fastest = max(fastest, edge_ceiling(inst, e.src, e.dst, e.capacity_tok_s))
    return fastest


def _largest_passing(passes: Callable[[float], bool], upper: float) -> float:
    """Smallest flow F (to 1e-11 relative) such that every flow above F fails ``passes``: a valid upper bound.

    ``passes(F)`` says F is not excluded by the bound's argument; it is monotone (once excluded, larger flows are too),
    so bisection on ``[0, upper]`` finds the threshold. Returns the upper end of the final bracket, never below it.
    """
    lo, hi = 0.0, upper * (1 + 1e-12) + 1e-9
    if passes(hi):
        return hi
    for _ in range(200):
        checkpoint(STAGE)  # pragma: no mutate
        mid = (lo + hi) / 2
        if passes(mid):
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-11 * max(hi, 1.0):
            break
    return hi


def block_bound(inst: HelixInstance, upper: float, links: bool = True) -> float:
    """The solo/shared block bound (strict mode; module docstring), searched below ``upper``.

    With regions that cannot hold the model alone and wide-area links slower than F, at least two nodes must be
    shared (:func:`_forced_shared_above`); the two nodes that lose least by it are charged their shared value.
    """
    layers = inst.layers
    limits = _node_link_limits(inst) if links else _no_limits(inst)
    groups: dict[tuple[float, ...], int] = {}
    for n in inst.nodes:
        key = _capped(n, limits[n.name], layers)
        groups[key] = groups.get(key, 0) + 1
    items = list(groups.items())
    forced_above = _forced_shared_above(inst) if links else None

    def enough(flow: float) -> bool:
        if flow <= 0:
            return True
        solo = [max((k for k, t in enumerate(tp, start=1) if t >= flow), default=0) for tp, _ in items]
        forced = 2 if forced_above is not None and flow > forced_above else 0

        def total_layers(lam: float) -> float:
            out = 0.0
            penalties: list[float] = []
            for (tp, count), s in zip(items, solo, strict=True):
                shared = max(k * (lam * min(t, flow) / flow + (1 - lam) / 2) for k, t in enumerate(tp, start=1))
                out += count * max(s, shared)
                if forced:
                    penalties += [max(s, shared) - shared] * min(count, forced)
            return out - sum(sorted(penalties)[:forced])

        if not forced:
            return _lambda_min(total_layers) >= layers * (1 - 1e-9)
        # Not convex in lambda any more: any lambda that falls short is a valid certificate, so scan a grid.
        return min(total_layers(i / 200) for i in range(201)) >= layers * (1 - 1e-9)

    return _largest_passing(enough, upper)


def hop_bound(inst: HelixInstance, max_hops: int, upper: float) -> float:
    """Covering bound when no path may use more than ``max_hops`` nodes.

    Each unit of flow covers L layers on at most H nodes, so with node flows f_i: ``sum_i k_i f_i >= L F`` and
    ``sum_i f_i <= H F``. For any ``mu in [0, L / H]``: ``(L - mu H) F <= sum_i max(0, max_k (k - mu) min(tp_i(k),
    F))``; the largest F meeting this for every mu is an upper bound (found by bisection, mu by ternary search).
    """
    layers = inst.layers
    groups: dict[tuple[float, ...], int] = {}
    for n in inst.nodes:
        groups[n.tp_tok_s] = groups.get(n.tp_tok_s, 0) + 1
    items = list(groups.items())

    def ok(flow: float) -> bool:
        if flow <= 0:
            return True

        def margin(frac: float) -> float:
            mu = frac * layers / max_hops
            work = sum(
                count * max(0.0, max((k - mu) * min(t, flow) for k, t in enumerate(tp, start=1))) for tp, count in items
            )
            return work - (layers - mu * max_hops) * flow * (1 - 1e-9)

        return _lambda_min(margin) >= 0

    return _largest_passing(ok, upper)


@dataclass
class SinglePipeline:
    """A chain where every node sustains ``target_tok_s`` (before checking links), and its layout."""

    target_tok_s: float
    chain: list[tuple[str, int]]  # (node, layers) in pipeline order
    ranges: dict[str, tuple[int, int]]


def _admissible(node: HelixNode, flow: float) -> list[int]:
    return [k for k, t in enumerate(node.tp_tok_s, start=1) if t >= flow]


def _chain_at(inst: HelixInstance, flow: float, max_hops: int | None = None) -> list[tuple[str, int]] | None:
    """Subset-sum: nodes and sizes k with tp(k) >= flow summing to exactly L, fewest nodes, deterministic."""
    layers = inst.layers
    inf = len(inst.nodes) + 1
    best = [0] + [inf] * layers  # fewest nodes reaching each layer count
    choice: list[list[tuple[int, int] | None]] = []
    for idx, node in enumerate(inst.nodes):
        checkpoint("searching a single pipeline")  # pragma: no mutate
        ks = _admissible(node, flow)
        nxt = list(best)
        pick: list[tuple[int, int] | None] = [None] * (layers + 1)
        for s in range(layers + 1):
            if best[s] >= inf:
                continue
            for k in ks:
                t = s + k
                if t <= layers and best[s] + 1 < nxt[t]:
                    nxt[t] = best[s] + 1
                    pick[t] = (idx, k)
        choice.append(pick)
        best = nxt
    if best[layers] >= inf or (max_hops is not None and best[layers] > max_hops):
        return None
    chain: list[tuple[str, int]] = []
    s = layers
    for idx in range(len(inst.nodes) - 1, -1, -1):
        p = choice[idx][s]
        if p is not None:
            chain.append((inst.nodes[p[0]].name, p[1]))
            s -= p[1]
        if s == 0:
            break
    return chain if s == 0 else None


def single_pipeline(
    inst: HelixInstance,
    order_key: Callable[[tuple[str, int]], tuple[int, int]] | None = None,
    max_hops: int | None = None,
) -> SinglePipeline | None:
    """The single-pipeline construction (module docstring), with at most ``max_hops`` nodes; None when no chain can
    cover L layers."""
    candidates = sorted({t for n in inst.nodes for t in n.tp_tok_s if t > 0}, reverse=True)
    if not candidates:
        return None
    lo, hi = 0, len(candidates) - 1  # find the first (largest) candidate with a chain; feasibility grows downward
    if _chain_at(inst, candidates[hi], max_hops) is None:
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        if _chain_at(inst, candidates[mid], max_hops) is not None:
            hi = mid
        else:
            lo = mid + 1
    flow = candidates[lo]
    chain = _chain_at(inst, flow, max_hops)
    assert chain is not None
    position = {n.name: i for i, n in enumerate(inst.nodes)}
    region_rank = {r: i for i, r in enumerate(dict.fromkeys(n.region for n in inst.nodes))}

    def by_region(item: tuple[str, int]) -> tuple[int, int]:
        return region_rank[inst.node(item[0]).region], position[item[0]]

    chain.sort(key=order_key or by_region)
    ranges: dict[str, tuple[int, int]] = {}
    start = 0
    for name, k in chain:
        ranges[name] = (start, start + k)
        start += k
    return SinglePipeline(flow, chain, ranges)
