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

The largest feasible ``F`` is found by bisection between a known feasible value and an upper bound.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass

from planner.helix.instance import HelixInstance

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
    groups: dict[tuple[object, ...], list[str]] = {}
    for n in inst.nodes:
        groups.setdefault((n.tp_tok_s, n.region if regional else ""), []).append(n.name)
    return [(key[0], names) for key, names in groups.items()]  # type: ignore[misc]


Pattern = tuple[int, tuple[int, ...]]  # (layers m, nodes per type)


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


def _feasible(
    types: list[tuple[tuple[float, ...], list[str]]],
    layers: int,
    flow: float,
    time_limit_s: float,
    max_mixed: int,
    groups: list[str] | None = None,
    max_stages: int | None = None,
) -> list[Pattern] | None:
    """Stages (length, nodes per type) carrying ``flow``, or None when none was found in time."""
    from ortools.sat.python import cp_model

    patterns = _patterns(types, flow, max_mixed, groups)
    if not patterns:
        return None
    model = cp_model.CpModel()
    y = [model.new_int_var(0, layers // m, f"y[{i}]") for i, (m, _) in enumerate(patterns)]
    model.add(sum(m * v for (m, _), v in zip(patterns, y, strict=True)) == layers)
    if max_stages is not None:  # every path crosses every stage: stages = hops
        model.add(sum(y) <= max_stages)
    for t, (_, names) in enumerate(types):
        model.add(sum(c[t] * v for (_, c), v in zip(patterns, y, strict=True) if c[t]) <= len(names))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.catch_sigint_signal = False  # CP-SAT would leave SIGINT at SIG_DFL: Ctrl-C must reach Python
    solver.parameters.random_seed = 0
    solver.parameters.max_time_in_seconds = max(time_limit_s, 0.01)
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    out: list[Pattern] = []
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
) -> StagePlan | None:
    """Bisection on F between ``lower`` (feasible, e.g. the single pipeline) and ``upper`` (a proven bound).

    With ``regional`` every stage stays inside one region (for clusters whose wide-area links bind).
    """
    types = _types(inst, regional)
    region = {n.name: n.region for n in inst.nodes}
    groups = [region[names[0]] for _, names in types] if regional else None
    deadline = time.perf_counter() + time_limit_s
    best: list[Pattern] | None = None
    lo, hi = lower_tok_s, upper_tok_s

    def check(flow: float) -> list[Pattern] | None:
        left = min(2.0, max(deadline - time.perf_counter(), 0.01))
        return _feasible(types, inst.layers, flow, left, max_mixed, groups, max_stages)

    found = check(lo) if lo > 0 else None
    if found is None and max_stages is None and lo > 0:
        return None
    if found is None:  # the lower value is out of reach under the hop limit: search below it
        lo, hi = 0.0, lo if lo > 0 else hi
    else:
        best = found
    while hi - lo > 1e-6 * max(hi, 1.0) and time.perf_counter() < deadline:
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


def _counts(types: list[tuple[tuple[float, ...], list[str]]], members: list[str]) -> tuple[int, ...]:
    index = {name: ti for ti, (_, names) in enumerate(types) for name in names}
    out = [0] * len(types)
    for x in members:
        out[index[x]] += 1
    return tuple(out)


def _stage_flow(types: list[tuple[tuple[float, ...], list[str]]], stages: list[Pattern]) -> float:
    return min(sum(c * types[ti][0][m - 1] for ti, c in enumerate(counts) if c) for m, counts in stages)


def _layout(inst: HelixInstance, types: list[tuple[tuple[float, ...], list[str]]], stages: list[Pattern]) -> StagePlan:
    """Name the nodes and order the stages so that the pipeline crosses regions as rarely and as widely as possible.

    Each stage goes whole to one region when some region has the nodes (the current one first); stages are then
    grouped by region, with each region's largest stages at its borders (the flow crossing a border is limited by
    the number of node pairs that meet there). Unused nodes are parked next to the weakest stage they can join.
    """
    region = {n.name: n.region for n in inst.nodes}
    order_of = {r: i for i, r in enumerate(dict.fromkeys(n.region for n in inst.nodes))}
    pools = [sorted(names, key=lambda x: (order_of[region[x]], x)) for _, names in types]
    placed: list[tuple[int, int, list[str]]] = []  # (region rank, layers, members)
    here = inst.nodes[0].region if inst.nodes else ""
    for m, counts in sorted(stages, key=lambda s: (-sum(s[1]), -s[0], s[1])):
        hosts = [
            r
            for r in sorted(order_of, key=lambda r: (r != here, order_of[r]))
            if all(sum(1 for x in pools[ti] if region[x] == r) >= c for ti, c in enumerate(counts) if c)
        ]
        members: list[str] = []
        for ti, c in enumerate(counts):
            if not c:
                continue
            pools[ti].sort(key=lambda x: (region[x] != (hosts[0] if hosts else here), order_of[region[x]], x))
            members += pools[ti][:c]
            del pools[ti][:c]
        votes = [region[x] for x in members]
        here = max(sorted(set(votes)), key=votes.count) if votes else here
        placed.append((order_of[here], m, members))
    named: list[tuple[int, list[str]]] = []
    for rank in sorted({p[0] for p in placed}):
        group = [p for p in placed if p[0] == rank]  # largest first (sorted above): one border each side
        if len(group) > 2:
            group = [group[0], *group[2:], group[1]]
        named += [(m, members) for _, m, members in group]
    ordered = [(m, _counts(types, members)) for m, members in named]
    flow = _stage_flow(types, ordered)
    type_of = {name: ti for ti, (_, names) in enumerate(types) for name in names}
    # Unused nodes join the weakest stage they can hold (more capacity where it is scarcest).
    for ti, rest in enumerate(pools):
        for name in rest:
            tp = types[ti][0]
            options = [
                (sum(types[type_of[x]][0][m - 1] for x in members), idx)
                for idx, (m, members) in enumerate(named)
                if m <= len(tp) and tp[m - 1] > 0
            ]
            if options:
                named[min(options)[1]][1].append(name)
    ranges: dict[str, tuple[int, int]] = {}
    start = 0
    for m, members in named:
        for name in members:
            ranges[name] = (start, start + m)
        start += m
    for n in inst.nodes:
        ranges.setdefault(n.name, (0, min(n.max_layers, inst.layers)))
    return StagePlan(flow, named, ranges)
