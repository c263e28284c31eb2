"""Stage construction: the best placement made of *stages* (groups of nodes holding the same layer range).

A stage of ``m`` layers whose nodes' throughputs ``tp_i(m)`` add up to at least ``F`` carries ``F``; a sequence of
stages whose lengths add up to ``L`` carries ``F`` end to end on a complete graph. This generalises both the single
pipeline (one node per stage) and Swarm (equal stages), and finds strong warm starts in milliseconds.

Feasibility of a target ``F`` is a small integer program over *stage patterns* ``p = (m, counts per type)`` that
carry ``F`` and are minimal (dropping their weakest node breaks them): every multiset of at most ``max_mixed``
nodes, every homogeneous group, and every two-type mix. With ``y_p`` the number of stages of pattern ``p``
(CP-SAT, one worker, deterministic)::

    sum_p m_p * y_p  = L              (stages tile the model)
    sum_p n_pt * y_p <= N_t           (nodes of each type)

*Two-lane blocks* generalise a stage: ``m`` layers held by two parallel lanes, each a chain of ``m / j`` nodes of one
type holding ``j`` layers apiece (a thick chain next to a thin node holding all ``m``, for instance); the block
carries ``tp_a(j_a) + tp_b(j_b)``. They enter the same integer program as extra patterns.

The largest feasible ``F`` is found by bisection between a known feasible value and an upper bound.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass

from planner.helix.instance import HelixInstance
from planner.helix.work import WorkLimits, solve_feasibility

#: Flow resolution of the stage feasibility model (tokens/s per integer unit).
STAGE_RESOLUTION_TOK_S = 1e-3


@dataclass
class StagePlan:
    """Stages in pipeline order: (layers, node names), the flow they were built for, and the ranges."""

    target_tok_s: float
    stages: list[tuple[int, list[str]]]
    ranges: dict[str, tuple[int, int]]


def _types(inst: HelixInstance, regional: bool = False) -> list[tuple[tuple[float, ...], list[str]]]:
    """Nodes grouped by tp(k) table (and by region when ``regional``: stages then never mix regions)."""
    groups: dict[tuple[tuple[float, ...], str], list[str]] = {}
    for n in inst.nodes:
        groups.setdefault((n.tp_tok_s, n.region if regional else ""), []).append(n.name)
    return [(key[0], names) for key, names in groups.items()]


Pattern = tuple[int, tuple[int, ...]]  # (layers m, nodes per type)
Lanes = tuple[tuple[int, int], tuple[int, int]]  # ((type a, layers per node j_a), (type b, j_b))
Block = tuple[int, tuple[int, ...], Lanes | None]  # a stage (lanes None) or a two-lane block


def _patterns(
    types: list[tuple[tuple[float, ...], list[str]]], flow: float, max_mixed: int, groups: list[str] | None = None
) -> list[Pattern]:
    """Minimal stage patterns that carry ``flow`` (module docstring); types of different ``groups`` never mix."""
    n_types = len(types)
    group = groups or [""] * n_types
    counts = [len(names) for _, names in types]
    out: set[Pattern] = set()
    lengths = sorted({m for tp, _ in types for m in range(1, len(tp) + 1)})

    def cap(ti: int, m: int) -> float:
        tp = types[ti][0]
        return tp[m - 1] if m <= len(tp) else 0.0

    for m in lengths:
        holders = [ti for ti in range(n_types) if cap(ti, m) > 0]
        for ti in holders:  # homogeneous groups
            g = math.ceil(flow / cap(ti, m) - 1e-12)
            if g <= counts[ti]:
                out.add((m, tuple(g if t == ti else 0 for t in range(n_types))))
        for a_i, a in enumerate(holders):  # two-type mixes, any counts
            for b in holders[a_i + 1 :]:
                if group[a] != group[b]:
                    continue
                for ga in range(1, min(counts[a], math.ceil(flow / cap(a, m)))):
                    gb = math.ceil((flow - ga * cap(a, m)) / cap(b, m) - 1e-12)
                    if 1 <= gb <= counts[b]:
                        out.add((m, tuple(ga if t == a else gb if t == b else 0 for t in range(n_types))))
        for size in range(3, max_mixed + 1):  # small mixed multisets of three or more types
            for combo in itertools.combinations_with_replacement(holders, size):
                if len(set(combo)) < 3 or len({group[t] for t in combo}) > 1:
                    continue
                caps = sorted(cap(t, m) for t in combo)
                if sum(caps) >= flow and sum(caps) - caps[0] < flow:
                    c = tuple(combo.count(t) for t in range(n_types))
                    if all(c[t] <= counts[t] for t in range(n_types)):
                        out.add((m, c))
    return sorted(out)


def _lane_patterns(
    types: list[tuple[tuple[float, ...], list[str]]], flow: float, layers: int, groups: list[str] | None = None
) -> list[Block]:
    """Two-lane blocks carrying ``flow`` where neither lane could alone (module docstring)."""
    n_types = len(types)
    counts = [len(names) for _, names in types]
    group = groups or [""] * n_types
    out: list[Block] = []

    def cap(ti: int, m: int) -> float:
        tp = types[ti][0]
        return tp[m - 1] if m <= len(tp) else 0.0

    longest = max((len(tp) for tp, _ in types), default=0)
    for m in range(2, layers + 1):
        lanes = [
            (a, j, m // j, cap(a, j))
            for a in range(n_types)
            for j in range(1, min(m, longest) + 1)
            if m % j == 0 and 0 < cap(a, j) < flow and m // j <= counts[a]
        ]
        for x, (a, ja, qa, ca) in enumerate(lanes):
            for b, jb, qb, cb in lanes[x:]:
                if ca + cb < flow or (qa == 1 and qb == 1) or group[a] != group[b]:
                    continue
                c = [0] * n_types
                c[a] += qa
                c[b] += qb
                if c[a] <= counts[a] and c[b] <= counts[b]:
                    out.append((m, tuple(c), ((a, ja), (b, jb))))
    return out


def _feasible(
    types: list[tuple[tuple[float, ...], list[str]]],
    layers: int,
    flow: float,
    time_limit_s: float,
    max_mixed: int,
    groups: list[str] | None = None,
    max_stages: int | None = None,
    lanes: bool = True,
    seed: int = 0,
    work: WorkLimits | None = None,
) -> list[Block] | None:
    """Stages and blocks carrying ``flow``, or None when none was found in time (in ``work``'s deterministic time
    when given: then the answer does not depend on the machine's speed)."""
    from ortools.sat.python import cp_model

    patterns: list[Block] = [(m, c, None) for m, c in _patterns(types, flow, max_mixed, groups)]
    if lanes:
        patterns += _lane_patterns(types, flow, layers, groups)
    if not patterns:
        return None
    model = cp_model.CpModel()
    y = [model.new_int_var(0, layers // p[0], f"y[{i}]") for i, p in enumerate(patterns)]
    model.add(sum(p[0] * v for p, v in zip(patterns, y, strict=True)) == layers)
    if max_stages is not None:  # every path crosses every stage: stages = hops
        model.add(sum(y) <= max_stages)
    for t, (_, names) in enumerate(types):
        model.add(sum(p[1][t] * v for p, v in zip(patterns, y, strict=True) if p[1][t]) <= len(names))
    solver, found = solve_feasibility(model, seed, work, time_limit_s, "stage layouts")
    if not found:
        return None
    out: list[Block] = []
    for p, v in zip(patterns, y, strict=True):
        out += [p] * int(solver.value(v))
    return out


def best_stages(
    inst: HelixInstance,
    lower_tok_s: float,
    upper_tok_s: float,
    time_limit_s: float = 10.0,
    max_mixed: int = 3,
    regional: bool = False,
    max_stages: int | None = None,
    seed: int = 0,
    work: WorkLimits | None = None,
) -> StagePlan | None:
    """Bisection on F between ``lower`` (feasible, e.g. the single pipeline) and ``upper`` (a proven bound).

    With ``regional`` every stage stays inside one region (for clusters whose wide-area links bind). With ``work``
    the bisection takes at most ``work.bisection_steps`` steps, each check ``work.check_det_s`` of CP-SAT
    deterministic time, and ``time_limit_s`` is not used (the command's deadline is the safety net).
    """
    types = _types(inst, regional)
    region = {n.name: n.region for n in inst.nodes}
    groups = [region[names[0]] for _, names in types] if regional else None
    deadline = time.perf_counter() + time_limit_s
    best: list[Block] | None = None
    lo, hi = lower_tok_s, upper_tok_s
    steps = 0

    def check(flow: float) -> list[Block] | None:
        nonlocal steps
        steps += 1
        left = min(2.0, max(deadline - time.perf_counter(), 0.01))
        return _feasible(types, inst.layers, flow, left, max_mixed, groups, max_stages, seed=seed, work=work)

    def more() -> bool:
        if work is not None:
            return steps < work.bisection_steps and not work.out_of_time("stage layouts")
        return time.perf_counter() < deadline

    found = check(lo) if lo > 0 else None
    if found is None and max_stages is None and lo > 0:
        return None
    if found is None:  # the lower value is out of reach under the hop limit: search below it
        lo, hi = 0.0, lo if lo > 0 else hi
    else:
        best = found
    while hi - lo > 1e-6 * max(hi, 1.0) and more():
        mid = (lo + hi) / 2
        found = check(mid)
        if found is not None:
            best, lo = found, _stage_flow(types, found)
            lo = max(lo, mid)
        else:
            hi = mid
    if best is None:
        return None
    return _layout(inst, types, best)


def _block_flow(types: list[tuple[tuple[float, ...], list[str]]], block: Block) -> float:
    m, counts, lanes = block
    if lanes is not None:
        return sum(types[t][0][j - 1] for t, j in lanes)
    return sum(c * types[ti][0][m - 1] for ti, c in enumerate(counts) if c)


def _stage_flow(types: list[tuple[tuple[float, ...], list[str]]], stages: list[Block]) -> float:
    return min(_block_flow(types, b) for b in stages)


Slot = tuple[str, int, int]  # (node, offset inside the block, layers held)


def _layout(inst: HelixInstance, types: list[tuple[tuple[float, ...], list[str]]], stages: list[Block]) -> StagePlan:
    """Name the nodes and order the blocks so that the pipeline crosses regions as rarely and as widely as possible.

    Each block goes whole to one region when some region has the nodes (the current one first); blocks are then
    grouped by region, with each region's largest blocks at its borders (the flow crossing a border is limited by
    the number of node pairs that meet there). Unused nodes are parked next to the weakest stage they can join.
    """
    region = {n.name: n.region for n in inst.nodes}
    order_of = {r: i for i, r in enumerate(dict.fromkeys(n.region for n in inst.nodes))}
    pools = [sorted(names, key=lambda x: (order_of[region[x]], x)) for _, names in types]
    placed: list[tuple[int, Block, list[Slot]]] = []  # (region rank, block, slots)
    here = inst.nodes[0].region if inst.nodes else ""
    for block in sorted(stages, key=lambda b: (-sum(b[1]), -b[0], b[1], b[2] or ())):
        m, counts, lanes = block
        hosts = [
            r
            for r in sorted(order_of, key=lambda r: (r != here, order_of[r]))
            if all(sum(1 for x in pools[ti] if region[x] == r) >= c for ti, c in enumerate(counts) if c)
        ]
        home = hosts[0] if hosts else here

        def take(ti: int, c: int, home: str = home) -> list[str]:
            pools[ti].sort(key=lambda name: (region[name] != home, order_of[region[name]], name))
            got = pools[ti][:c]
            del pools[ti][:c]
            return got

        slots: list[Slot] = []
        if lanes is None:
            for ti, c in enumerate(counts):
                slots += [(x, 0, m) for x in take(ti, c)] if c else []
        else:
            for ti, j in lanes:
                slots += [(x, i * j, j) for i, x in enumerate(take(ti, m // j))]
        votes = [region[x] for x, _, _ in slots]
        here = max(sorted(set(votes)), key=votes.count) if votes else here
        placed.append((order_of[here], block, slots))
    named: list[tuple[Block, list[Slot]]] = []
    for rank in sorted({p[0] for p in placed}):
        # The widest plain stages go to the region's borders (a two-lane block meets its neighbours with only two
        # nodes), lane blocks and narrow stages in between.
        group = sorted((p for p in placed if p[0] == rank), key=lambda p: (p[1][2] is not None, -len(p[2])))
        if len(group) > 2:
            group = [group[0], *group[2:], group[1]]
        named += [(block, slots) for _, block, slots in group]
    flow = _stage_flow(types, [block for block, _ in named])
    type_of = {name: ti for ti, (_, names) in enumerate(types) for name in names}
    # Unused nodes join the weakest plain stage they can hold (more capacity where it is scarcest).
    for ti, rest in enumerate(pools):
        for name in rest:
            tp = types[ti][0]
            options = [
                (sum(types[type_of[x]][0][block[0] - 1] for x, _, _ in slots), idx)
                for idx, (block, slots) in enumerate(named)
                if block[2] is None and block[0] <= len(tp) and tp[block[0] - 1] > 0
            ]
            if options:
                idx = min(options)[1]
                named[idx][1].append((name, 0, named[idx][0][0]))
    ranges: dict[str, tuple[int, int]] = {}
    start = 0
    out_stages: list[tuple[int, list[str]]] = []
    for block, slots in named:
        for name, offset, length in slots:
            ranges[name] = (start + offset, start + offset + length)
        out_stages.append((block[0], [x for x, _, _ in slots]))
        start += block[0]
    for n in inst.nodes:
        ranges.setdefault(n.name, (0, min(n.max_layers, inst.layers)))
    return StagePlan(flow, out_stages, ranges)
