"""Region-block construction for clusters whose wide-area links bind (the geo-distributed case).

When a link between regions carries far less than a node, a good placement runs a contiguous block of layers in
each region and crosses between regions where *groups* of nodes meet: the flow that can cross from region ``r``
to region ``q`` at a boundary is at most ``(#nodes of r ending there) x (#nodes of q starting there) x c_rq``.

For a target ``F`` and an order of regions, feasibility is an integer program over the stage patterns of
:mod:`planner.helix.stages`, restricted to each region's own nodes (CP-SAT, one worker)::

    y[r, p] in Z>=0                          stages of pattern p in region r's block
    sum_{r, p} m_p y[r, p] = L               the blocks tile the model, in the given region order
    sum_p n_pt y[r, p] <= N_t                nodes of each (region-specific) type
    last[r, p], first[q, p] in {0, 1}        which stage sits at each region border
    |last(r)| * |first(q)| * c_rq >= F       the border groups can carry F across (multiplication constraint)

``F`` is found by bisection; every result is re-evaluated with the exact max flow.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass

from planner.helix.bounds import edge_ceiling
from planner.helix.instance import SINK, SOURCE, HelixInstance
from planner.helix.stages import Pattern, StagePlan, _patterns
from planner.helix.work import WorkLimits, solve_feasibility

#: Most region orders tried per target flow (ordered subsets, shortest first).
MAX_ORDERS = 40


@dataclass
class _Region:
    name: str
    types: list[tuple[tuple[float, ...], list[str]]]
    k_total: int


def _regions(inst: HelixInstance) -> list[_Region]:
    out = []
    for r in inst.regions:
        groups: dict[tuple[float, ...], list[str]] = {}
        for n in inst.nodes:
            if n.region == r:
                groups.setdefault(n.tp_tok_s, []).append(n.name)
        out.append(_Region(r, list(groups.items()), sum(n.max_layers for n in inst.nodes if n.region == r)))
    return out


def _link_caps(inst: HelixInstance) -> dict[tuple[str, str], float]:
    """Slowest clipped link between two regions (a construction must work on every pair it may use)."""
    region_of = {n.name: n.region for n in inst.nodes}
    caps: dict[tuple[str, str], float] = {}
    for e in inst.edges:
        if e.src == SOURCE or e.dst == SINK:
            continue
        key = (region_of[e.src], region_of[e.dst])
        cap = edge_ceiling(inst, e.src, e.dst, e.capacity_tok_s)
        caps[key] = min(caps.get(key, cap), cap)
    return caps


def _orders(regions: list[_Region], layers: int) -> list[tuple[int, ...]]:
    """Ordered subsets of regions whose nodes can hold the model, fewest regions first."""
    out: list[tuple[int, ...]] = []
    for size in range(1, len(regions) + 1):
        for combo in itertools.permutations(range(len(regions)), size):
            if sum(regions[i].k_total for i in combo) >= layers:
                out.append(combo)
            if len(out) >= MAX_ORDERS:
                return out
    return out


def _feasible(
    regions: list[_Region],
    order: tuple[int, ...],
    caps: dict[tuple[str, str], float],
    layers: int,
    flow: float,
    time_limit_s: float,
    seed: int = 0,
    work: WorkLimits | None = None,
) -> list[tuple[int, list[Pattern], Pattern | None, Pattern | None]] | None:
    from ortools.sat.python import cp_model

    model = cp_model.CpModel()
    tiles = []
    per_region = []
    for pos, ri in enumerate(order):
        reg = regions[ri]
        pats = _patterns(reg.types, flow, 3)
        if not pats:
            return None
        y = [model.new_int_var(0, layers // m, "") for m, _ in pats]
        model.add(sum(m * v for (m, _), v in zip(pats, y, strict=True)) >= 1)
        tiles += [m * v for (m, _), v in zip(pats, y, strict=True)]
        for t, (_, names) in enumerate(reg.types):
            model.add(sum(c[t] * v for (_, c), v in zip(pats, y, strict=True) if c[t]) <= len(names))
        first = [model.new_bool_var("") for _ in pats] if pos > 0 else []
        last = [model.new_bool_var("") for _ in pats] if pos < len(order) - 1 else []
        stages = model.new_int_var(1, layers, "")
        model.add(stages == sum(y))
        single = model.new_bool_var("")
        model.add(stages == 1).only_enforce_if(single)
        model.add(stages >= 2).only_enforce_if(~single)
        for i, v in enumerate(y):
            is_first = first[i] if first else 0
            is_last = last[i] if last else 0
            model.add(is_first + is_last <= v + single)
            if first:
                model.add(first[i] <= v)
            if last:
                model.add(last[i] <= v)
        if first:
            model.add_exactly_one(first)
        if last:
            model.add_exactly_one(last)
        per_region.append((pats, y, first, last))
    model.add(sum(tiles) == layers)
    for pos in range(len(order) - 1):
        r, q = regions[order[pos]], regions[order[pos + 1]]
        cap = caps.get((r.name, q.name), 0.0)
        if cap <= 0:
            return None
        need = math.ceil(flow / cap - 1e-9)
        pats_r, _, _, last_r = per_region[pos]
        pats_q, _, first_q, _ = per_region[pos + 1]
        size_r = model.new_int_var(1, 10_000, "")
        size_q = model.new_int_var(1, 10_000, "")
        model.add(size_r == sum(sum(c) * b for (_, c), b in zip(pats_r, last_r, strict=True)))
        model.add(size_q == sum(sum(c) * b for (_, c), b in zip(pats_q, first_q, strict=True)))
        prod = model.new_int_var(1, 100_000_000, "")
        model.add_multiplication_equality(prod, [size_r, size_q])
        model.add(prod >= need)
    solver, found = solve_feasibility(model, seed, work, time_limit_s, "region blocks")
    if not found:
        return None
    out = []
    for ri, (pats, y, first, last) in zip(order, per_region, strict=True):
        chosen: list[Pattern] = []
        for p, v in zip(pats, y, strict=True):
            chosen += [p] * int(solver.value(v))
        f = next((p for p, b in zip(pats, first, strict=True) if solver.value(b)), None) if first else None
        lst = next((p for p, b in zip(pats, last, strict=True) if solver.value(b)), None) if last else None
        out.append((ri, chosen, f, lst))
    return out


def _layout(
    inst: HelixInstance, regions: list[_Region], blocks: list[tuple[int, list[Pattern], Pattern | None, Pattern | None]]
) -> StagePlan:
    named: list[tuple[int, list[str]]] = []
    for ri, stages, first, last in blocks:
        reg = regions[ri]
        pools = [list(names) for _, names in reg.types]
        rest = list(stages)
        ordered: list[Pattern] = []
        if first is not None:
            rest.remove(first)
            ordered.append(first)
        tail = []
        if last is not None and last in rest:
            rest.remove(last)
            tail.append(last)
        ordered += sorted(rest, key=lambda p: (-p[0], p[1])) + tail
        for m, counts in ordered:
            members: list[str] = []
            for t, c in enumerate(counts):
                members += pools[t][:c]
                del pools[t][:c]
            named.append((m, members))
    ranges: dict[str, tuple[int, int]] = {}
    start = 0
    flows = []
    for m, members in named:
        for name in members:
            ranges[name] = (start, start + m)
        flows.append(sum(inst.node(x).tp(m) for x in members))
        start += m
    return StagePlan(min(flows), named, ranges)


def best_region_blocks(
    inst: HelixInstance,
    lower_tok_s: float,
    upper_tok_s: float,
    time_limit_s: float = 10.0,
    seed: int = 0,
    work: WorkLimits | None = None,
) -> StagePlan | None:
    """Bisection on F over region orders (module docstring); None when nothing beats ``lower_tok_s``.

    With ``work``: at most ``work.bisection_steps`` steps and ``work.region_checks`` checks in all, each
    ``work.check_det_s`` of CP-SAT deterministic time; ``time_limit_s`` is not used (the command's deadline is the
    safety net)."""
    regions = _regions(inst)
    if len(regions) < 2:
        return None
    caps = _link_caps(inst)
    orders = _orders(regions, inst.layers)
    deadline = time.perf_counter() + time_limit_s
    best = None
    lo, hi = lower_tok_s, upper_tok_s
    steps = checks = 0

    def more() -> bool:
        if work is not None:
            within = steps < work.bisection_steps and checks < work.region_checks
            return within and not work.out_of_time("region blocks")
        return time.perf_counter() < deadline

    while hi - lo > 1e-4 * max(hi, 1.0) and more():
        steps += 1
        mid = (lo + hi) / 2 if best is not None or lo > 0 else hi / 2
        found = None
        for order in orders:
            left = deadline - time.perf_counter()
            if work is not None and (checks >= work.region_checks or work.out_of_time("region blocks")):
                break
            checks += 1
            if work is None and left <= 0:
                break
            found = _feasible(regions, order, caps, inst.layers, mid, min(1.0, left), seed=seed, work=work)
            if found is not None:
                break
        if found is not None:
            best, lo = found, mid
        else:
            hi = mid
    if best is None:
        return None
    return _layout(inst, regions, best)
