"""Type-aggregated interval formulation (issue 8): counts of identical nodes per layer interval, no per-node symmetry.

Identical nodes (same tp(k) table, and with ``by_region`` the same region and coordinator links) form a type ``t``
with ``N_t`` members. Instead of a start layer per node, the model counts how many nodes of each type hold each
interval ``[s, s + k)``::

    n[t, s, k]  in {0..N_t}        nodes of type t holding [s, s+k)
    f[t, s, k]  >= 0               flow through them (integer units of ``resolution`` tokens/s)
    F                              total flow (objective)

    capacity[t,s,k]   f[t,s,k] <= min(tp_t(k), UB) * n[t,s,k]
    count[t]          sum_{s,k} n[t,s,k] <= N_t                       (unused nodes are parked, see below)
    boundary[b]       sum_{s+k=b} f = sum_{s=b} f        for b = 1..L-1  (flow conservation at every boundary)
    source            F = sum_{k} f[t,0,k],  with f[t,0,k] <= c_src(t) * n[t,0,k]
    sink              sum_{s+k=L} f[t,s,k] <= c_sink(t) * n[t,s,k]
    covering_cut      F <= UB

On a complete graph whose links never bind this is exact: nodes ending at ``b`` can feed any node starting at
``b``. With ``by_region`` the flow crossing from region ``r`` to region ``q`` at a boundary is limited by the
product of the counts that end and start there times the per-link capacity (CP-SAT multiplication constraints);
with sparse or uneven links the model is a relaxation, so its bound stays valid and its placement is checked with
the independent max flow. Disaggregation gives the nodes of each type to its intervals in instance order; nodes not
used hold a harmless range and may only add flow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from planner.helix.bounds import edge_ceiling
from planner.helix.flow import Ranges
from planner.helix.instance import SINK, SOURCE, HelixInstance
from planner.helix.solve_milp import RawResult, solve_cpsat
from planner.solver import SolveOptions


@dataclass(frozen=True)
class NodeType:
    key: tuple[Any, ...]
    names: tuple[str, ...]
    tp_tok_s: tuple[float, ...]
    region: str
    source_tok_s: float
    sink_tok_s: float


@dataclass
class AggregatedModel:
    """The built CP-SAT model and the handles needed to hint it and read it back."""

    inst: HelixInstance
    types: list[NodeType]
    model: Any
    scale: float
    n: dict[tuple[int, int, int], Any]
    f: dict[tuple[int, int, int], Any]
    total: Any
    by_region: bool
    size: tuple[int, int] = (0, 0)
    notes: list[str] = field(default_factory=list)


def node_types(inst: HelixInstance, by_region: bool) -> list[NodeType]:
    """Group identical nodes; with ``by_region`` the region and coordinator links are part of the identity."""
    src = {e.dst: edge_ceiling(inst, e.src, e.dst, e.capacity_tok_s) for e in inst.out_edges[SOURCE]}
    snk = {e.src: edge_ceiling(inst, e.src, e.dst, e.capacity_tok_s) for e in inst.in_edges[SINK]}
    groups: dict[tuple[Any, ...], list[str]] = {}
    for n in inst.nodes:
        key: tuple[Any, ...] = (n.profile_gpu, n.tp_tok_s)
        if by_region:
            key += (n.region, src.get(n.name, 0.0), snk.get(n.name, 0.0))
        groups.setdefault(key, []).append(n.name)
    out = []
    for key, names in groups.items():
        first = inst.node(names[0])
        out.append(
            NodeType(
                key=key,
                names=tuple(names),
                tp_tok_s=first.tp_tok_s,
                region=first.region if by_region else "*",
                source_tok_s=min(src.get(x, 0.0) for x in names) if by_region else max(src.values(), default=0.0),
                sink_tok_s=min(snk.get(x, 0.0) for x in names) if by_region else max(snk.values(), default=0.0),
            )
        )
    return out


def links_may_bind(inst: HelixInstance) -> bool:
    """Whether some compute edge is slower than what its endpoints could push through it."""
    for e in inst.edges:
        if e.src == SOURCE or e.dst == SINK:
            continue
        most = min(max(inst.node(e.src).tp_tok_s), max(inst.node(e.dst).tp_tok_s))
        if e.capacity_tok_s < most:
            return True
    return False


def build(inst: HelixInstance, cut_tok_s: float, resolution_tok_s: float, by_region: bool) -> AggregatedModel:
    """Build the aggregated model on CP-SAT (module docstring)."""
    from ortools.sat.python import cp_model

    scale = 1.0 / resolution_tok_s
    layers = inst.layers
    types = node_types(inst, by_region)
    m = cp_model.CpModel()
    ub = int(math.ceil(cut_tok_s * scale))
    n: dict[tuple[int, int, int], Any] = {}
    f: dict[tuple[int, int, int], Any] = {}
    for ti, t in enumerate(types):
        count = len(t.names)
        for k, tp in enumerate(t.tp_tok_s, start=1):
            cap = int(math.ceil(min(tp, cut_tok_s) * scale))
            if cap <= 0:
                continue
            for s in range(layers - k + 1):
                nv = m.new_int_var(0, count, f"n[{ti},{s},{k}]")
                fv = m.new_int_var(0, min(cap * count, ub), f"f[{ti},{s},{k}]")
                m.add(fv <= cap * nv).with_name(f"capacity[{ti},{s},{k}]")
                if s == 0:
                    m.add(fv <= int(math.ceil(t.source_tok_s * scale)) * nv).with_name(f"source_link[{ti},{k}]")
                if s + k == layers:
                    m.add(fv <= int(math.ceil(t.sink_tok_s * scale)) * nv).with_name(f"sink_link[{ti},{s}]")
                n[(ti, s, k)] = nv
                f[(ti, s, k)] = fv
        m.add(sum(v for key, v in n.items() if key[0] == ti) <= count).with_name(f"count[{ti}]")
    ending: dict[int, list[tuple[int, int, int]]] = {}
    starting: dict[int, list[tuple[int, int, int]]] = {}
    for key in f:
        _, s, k = key
        starting.setdefault(s, []).append(key)
        ending.setdefault(s + k, []).append(key)
    notes: list[str] = []
    regions = sorted({t.region for t in types})
    crossing = _crossing_caps(inst, types, regions) if by_region else {}
    for b in range(1, layers):
        ins, outs = ending.get(b, []), starting.get(b, [])
        if not crossing:
            m.add(sum(f[x] for x in ins) == sum(f[x] for x in outs)).with_name(f"boundary[{b}]")
            continue
        _region_boundary(m, b, ins, outs, f, n, types, regions, crossing, scale, ub)
    if crossing:
        notes.append("type-and-region aggregation with per-link crossing limits")
    total = m.new_int_var(0, ub, "F")
    m.add(total == sum(f[x] for x in starting.get(0, []))).with_name("source")
    m.add(total == sum(f[x] for x in ending.get(layers, []))).with_name("sink")
    m.maximize(total)
    proto = m.proto
    size = (len(proto.variables), len(proto.constraints))
    return AggregatedModel(inst, types, m, scale, n, f, total, by_region, size, notes)


def _crossing_caps(inst: HelixInstance, types: list[NodeType], regions: list[str]) -> dict[tuple[str, str], float]:
    """Per ordered region pair: the fastest link's capacity (a relaxation when links differ; 0 when none)."""
    region_of = {n.name: n.region for n in inst.nodes}
    caps: dict[tuple[str, str], float] = {(r, q): 0.0 for r in regions for q in regions}
    for e in inst.edges:
        if e.src == SOURCE or e.dst == SINK:
            continue
        key = (region_of[e.src], region_of[e.dst])
        caps[key] = max(caps[key], edge_ceiling(inst, e.src, e.dst, e.capacity_tok_s))
    return caps


def _region_boundary(
    m: Any,
    b: int,
    ins: list[tuple[int, int, int]],
    outs: list[tuple[int, int, int]],
    f: dict[tuple[int, int, int], Any],
    n: dict[tuple[int, int, int], Any],
    types: list[NodeType],
    regions: list[str],
    crossing: dict[tuple[str, str], float],
    scale: float,
    ub: int,
) -> None:
    """Conservation at boundary b split by region pair, each pair limited by (#ending x #starting) links."""
    g = {(r, q): m.new_int_var(0, ub, f"cross[{r},{q},{b}]") for r in regions for q in regions}
    for r in regions:
        r_in = [x for x in ins if types[x[0]].region == r]
        r_out = [x for x in outs if types[x[0]].region == r]
        m.add(sum(f[x] for x in r_in) == sum(g[(r, q)] for q in regions)).with_name(f"leave[{r},{b}]")
        m.add(sum(f[x] for x in r_out) == sum(g[(q, r)] for q in regions)).with_name(f"enter[{r},{b}]")
    for (r, q), var in g.items():
        cap = int(math.ceil(crossing[(r, q)] * scale))
        ending = [x for x in ins if types[x[0]].region == r]
        starting = [x for x in outs if types[x[0]].region == q]
        if not ending or not starting or cap <= 0:
            m.add(var == 0)
            continue
        if cap >= ub:
            continue
        e_max = sum(len(types[x[0]].names) for x in ending)
        s_max = sum(len(types[x[0]].names) for x in starting)
        e_cnt = m.new_int_var(0, e_max, f"ends[{r},{b}]")
        s_cnt = m.new_int_var(0, s_max, f"starts[{q},{b}]")
        m.add(e_cnt == sum(n[x] for x in ending))
        m.add(s_cnt == sum(n[x] for x in starting))
        pairs = m.new_int_var(0, e_max * s_max, f"pairs[{r},{q},{b}]")
        m.add_multiplication_equality(pairs, [e_cnt, s_cnt])
        m.add(var <= cap * pairs).with_name(f"crossing[{r},{q},{b}]")


def hint(am: AggregatedModel, ranges: Ranges, node_flow: dict[str, float]) -> None:
    """Hint counts and flows from a per-node placement and its max flow."""
    type_of = {name: ti for ti, t in enumerate(am.types) for name in t.names}
    counts: dict[tuple[int, int, int], int] = {}
    flows: dict[tuple[int, int, int], float] = {}
    for name, (s, e) in ranges.items():
        key = (type_of[name], s, e - s)
        counts[key] = counts.get(key, 0) + 1
        flows[key] = flows.get(key, 0.0) + node_flow.get(name, 0.0)
    for key, var in am.n.items():
        am.model.add_hint(var, counts.get(key, 0))
        am.model.add_hint(am.f[key], int(flows.get(key, 0.0) * am.scale))


def solve(am: AggregatedModel, limits: SolveOptions) -> RawResult:
    """CP-SAT on the aggregated model until ``limits.deadline()`` (gap, stall, seed, workers and cancel as given)."""
    from planner.helix.backends import CpSatBackend

    shim = CpSatBackend.__new__(CpSatBackend)
    from ortools.sat.python import cp_model

    shim.cp_model = cp_model
    shim.model = am.model
    shim.scale = am.scale
    return solve_cpsat(shim, limits)


def disaggregate(am: AggregatedModel, raw: RawResult) -> dict[str, tuple[int, int]] | None:
    """Named ranges from the counts: each type's nodes, in instance order, take its intervals in (s, k) order."""
    if raw.values is None:
        return None
    ranges: dict[str, tuple[int, int]] = {}
    pools = [list(t.names) for t in am.types]
    for key in sorted(am.n):
        count = int(round(raw.values(am.n[key])))
        ti, s, k = key
        for _ in range(count):
            ranges[pools[ti].pop(0)] = (s, s + k)
    for pool in pools:
        for name in pool:
            node = am.inst.node(name)
            ranges[name] = (0, min(node.max_layers, am.inst.layers))
    return ranges
