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


def _types(inst: HelixInstance) -> list[tuple[tuple[float, ...], list[str]]]:
    groups: dict[tuple[float, ...], list[str]] = {}
    for n in inst.nodes:
        groups.setdefault(n.tp_tok_s, []).append(n.name)
    return list(groups.items())


Pattern = tuple[int, tuple[int, ...]]  # (layers m, nodes per type)


def _patterns(types: list[tuple[tuple[float, ...], list[str]]], flow: float, max_mixed: int) -> list[Pattern]:
    """Minimal stage patterns that carry ``flow`` (module docstring)."""
    n_types = len(types)
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
                for ga in range(1, min(counts[a], math.ceil(flow / cap(a, m)))):
                    gb = math.ceil((flow - ga * cap(a, m)) / cap(b, m) - 1e-12)
                    if 1 <= gb <= counts[b]:
                        out.add((m, tuple(ga if t == a else gb if t == b else 0 for t in range(n_types))))
        for size in range(3, max_mixed + 1):  # small mixed multisets of three or more types
            for combo in itertools.combinations_with_replacement(holders, size):
                if len(set(combo)) < 3:
                    continue
                caps = sorted(cap(t, m) for t in combo)
                if sum(caps) >= flow and sum(caps) - caps[0] < flow:
                    c = tuple(combo.count(t) for t in range(n_types))
                    if all(c[t] <= counts[t] for t in range(n_types)):
                        out.add((m, c))
    return sorted(out)


def _feasible(
    types: list[tuple[tuple[float, ...], list[str]]], layers: int, flow: float, time_limit_s: float, max_mixed: int
) -> list[Pattern] | None:
    """Stages (length, nodes per type) carrying ``flow``, or None when none was found in time."""
    from ortools.sat.python import cp_model

    patterns = _patterns(types, flow, max_mixed)
    if not patterns:
        return None
    model = cp_model.CpModel()
    y = [model.new_int_var(0, layers // m, f"y[{i}]") for i, (m, _) in enumerate(patterns)]
    model.add(sum(m * v for (m, _), v in zip(patterns, y, strict=True)) == layers)
    for t, (_, names) in enumerate(types):
        model.add(sum(c[t] * v for (_, c), v in zip(patterns, y, strict=True) if c[t]) <= len(names))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
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
    inst: HelixInstance, lower_tok_s: float, upper_tok_s: float, time_limit_s: float = 10.0, max_mixed: int = 3
) -> StagePlan | None:
    """Bisection on F between ``lower`` (feasible, e.g. the single pipeline) and ``upper`` (a proven bound)."""
    types = _types(inst)
    deadline = time.perf_counter() + time_limit_s
    best: list[Pattern] | None = None
    lo, hi = lower_tok_s, upper_tok_s
    found = _feasible(types, inst.layers, lo, max(deadline - time.perf_counter(), 0.01), max_mixed) if lo > 0 else None
    if found is not None:
        best = found
    while best is not None and hi - lo > 1e-6 * max(hi, 1.0) and time.perf_counter() < deadline:
        mid = (lo + hi) / 2
        found = _feasible(types, inst.layers, mid, min(2.0, max(deadline - time.perf_counter(), 0.01)), max_mixed)
        if found is not None:
            best, lo = found, _stage_flow(types, found)
            lo = max(lo, mid)
        else:
            hi = mid
    if best is None:
        return None
    return _layout(inst, types, best)


def _stage_flow(types: list[tuple[tuple[float, ...], list[str]]], stages: list[Pattern]) -> float:
    return min(sum(c * types[ti][0][m - 1] for ti, c in enumerate(counts) if c) for m, counts in stages)


def _layout(inst: HelixInstance, types: list[tuple[tuple[float, ...], list[str]]], stages: list[Pattern]) -> StagePlan:
    """Name the nodes (instance order within a type), order stages longest first, and park unused nodes."""
    pools = [list(names) for _, names in types]
    ordered = sorted(stages, key=lambda s: (-s[0], s[1]))
    named: list[tuple[int, list[str]]] = []
    for m, counts in ordered:
        members: list[str] = []
        for ti, c in enumerate(counts):
            members += pools[ti][:c]
            del pools[ti][:c]
        named.append((m, members))
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
