"""Evaluate a fixed placement: the split-node max-flow graph (Helix reference section 10), solved with networkx.

For a placement the MILP reduces to an ordinary max flow: node ``i`` becomes ``i/in -> i/out`` with capacity
``tp_i(k_i)``; ``source -> i/in`` exists iff ``start_i = 0``, ``i/out -> sink`` iff ``end_i = L`` and
``i/out -> j/in`` iff the link exists and the ranges chain (strict: ``end_i = start_j``; partial inference:
``start_j <= end_i < end_j``). This module never imports a MILP solver: it is the independent check of every plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import networkx as nx
from networkx.algorithms.flow import edmonds_karp

from planner.helix.instance import SINK, SOURCE, HelixEdge, HelixInstance
from planner.solver import checkpoint

Mode = Literal["strict", "partial"]
#: node name -> (start, end): the node holds layers [start, end), 0-based, end exclusive.
Ranges = Mapping[str, tuple[int, int]]


def edge_valid(edge: HelixEdge, ranges: Ranges, layers: int, mode: Mode) -> bool:
    """Whether ``edge`` may carry flow under the placement (reference sections 6 and 10)."""
    if edge.src == SOURCE:
        r = ranges.get(edge.dst)
        return r is not None and r[0] == 0
    if edge.dst == SINK:
        r = ranges.get(edge.src)
        return r is not None and r[1] == layers
    a, b = ranges.get(edge.src), ranges.get(edge.dst)
    if a is None or b is None:
        return False
    if mode == "strict":
        return a[1] == b[0]
    return b[0] <= a[1] < b[1]


def valid_edges(inst: HelixInstance, ranges: Ranges, mode: Mode) -> list[HelixEdge]:
    """The edges of ``inst`` valid under ``ranges``, sorted by (src, dst)."""
    return [e for e in inst.edges if edge_valid(e, ranges, inst.layers, mode)]


@dataclass
class FlowResult:
    """A max flow of one placement: its value, per-node inflow and per-edge flow (tokens/s)."""

    value: float
    node_capacity: dict[str, float]
    node_inflow: dict[str, float]
    edge_flow: dict[tuple[str, str], float]
    edges: list[HelixEdge] = field(default_factory=list)
    cut_nodes: list[str] = field(default_factory=list)
    cut_edges: list[tuple[str, str]] = field(default_factory=list)


def node_in(name: str) -> str:
    return f"{name}/in"


def node_out(name: str) -> str:
    return f"{name}/out"


def edge_arc(edge: HelixEdge) -> tuple[str, str]:
    """The split-node graph's arc of a cluster edge: ``i/out -> j/in``, the coordinator's ends as they are."""
    return (SOURCE if edge.src == SOURCE else node_out(edge.src), SINK if edge.dst == SINK else node_in(edge.dst))


def node_capacities(inst: HelixInstance, ranges: Ranges, scale: float | None) -> dict[str, float]:
    caps = {}
    for node in inst.nodes:
        r = ranges.get(node.name)
        tp = node.tp(r[1] - r[0]) if r is not None else 0.0
        caps[node.name] = float(int(tp * scale)) if scale else tp
    return caps


def build_graph(inst: HelixInstance, ranges: Ranges, mode: Mode, scale: float | None = None) -> nx.DiGraph[str]:
    """The split-node graph. With ``scale`` every capacity is ``floor(capacity * scale)`` (integer check)."""
    checkpoint("evaluating placements (max flow)")  # each max flow is seconds on a thousand nodes
    g: nx.DiGraph[str] = nx.DiGraph()
    g.add_node(SOURCE)
    g.add_node(SINK)
    for name, cap in node_capacities(inst, ranges, scale).items():
        g.add_edge(node_in(name), node_out(name), capacity=cap)
    for e in valid_edges(inst, ranges, mode):
        cap = float(int(e.capacity_tok_s * scale)) if scale else e.capacity_tok_s
        u, v = edge_arc(e)
        g.add_edge(u, v, capacity=cap)
    return g


def maximum_flow(
    g: nx.DiGraph[str], source: str = SOURCE, sink: str = SINK
) -> tuple[float, dict[str, dict[str, float]]]:
    """Max flow of ``g`` whose decomposition does not depend on the process's hash seed.

    networkx's preflow-push discharges "an arbitrary element" of a *set* of active nodes; with string node names
    that order changes with ``PYTHONHASHSEED``, and so does which of the equally large max flows comes back (the
    plan's edge flows, the MILP's warm start, the simulator's routing weights). The nodes are therefore handed to
    networkx as integers numbered in insertion order (an int hashes to itself), and named back afterwards.
    Edmonds-Karp is the fallback when preflow-push trips over float rounding (networkx raises IndexError in its
    height buckets on some float capacities).
    """
    names = list(g.nodes)
    # types-networkx types this G as Graph[Hashable], invariant in the node type, so a DiGraph[str] is refused
    h = nx.convert_node_labels_to_integers(g, ordering="default")  # type: ignore[call-overload]
    s, t = names.index(source), names.index(sink)
    try:
        value, flow = nx.maximum_flow(h, s, t)
    except IndexError:
        value, flow = nx.maximum_flow(h, s, t, flow_func=edmonds_karp)
    return value, {names[u]: {names[v]: f for v, f in row.items()} for u, row in flow.items()}


def _source_side(g: nx.DiGraph[str]) -> set[str]:
    """Nodes on the source side of a minimum cut (the same integer relabelling as :func:`maximum_flow`)."""
    names = list(g.nodes)
    # types-networkx types this G as Graph[Hashable], invariant in the node type, so a DiGraph[str] is refused
    h = nx.convert_node_labels_to_integers(g, ordering="default")  # type: ignore[call-overload]
    s, t = names.index(SOURCE), names.index(SINK)
    try:
        _, (reach, _) = nx.minimum_cut(h, s, t)
    except IndexError:
        _, (reach, _) = nx.minimum_cut(h, s, t, flow_func=edmonds_karp)
    return {names[i] for i in reach}


def max_flow(
    inst: HelixInstance, ranges: Ranges, mode: Mode = "strict", scale: float | None = None, cut: bool = True
) -> FlowResult:
    """Max flow source -> sink of the placement, with the flow on every valid edge and one minimum cut (without
    ``cut`` the cut lists stay empty: a second max-flow computation saved, for searches that only route)."""
    g = build_graph(inst, ranges, mode, scale)
    caps = node_capacities(inst, ranges, scale)
    edges = valid_edges(inst, ranges, mode)
    value, flow = maximum_flow(g)
    inflow = {n.name: float(flow.get(node_in(n.name), {}).get(node_out(n.name), 0.0)) for n in inst.nodes}
    edge_flow: dict[tuple[str, str], float] = {}
    for e in edges:
        u, v = edge_arc(e)
        edge_flow[(e.src, e.dst)] = float(flow[u][v])
    cut_nodes: list[str] = []
    cut_edges: list[tuple[str, str]] = []
    if value > 0 and cut:
        reach = _source_side(g)
        for n in inst.nodes:
            if node_in(n.name) in reach and node_out(n.name) not in reach:
                cut_nodes.append(n.name)
        for e in edges:
            u, v = edge_arc(e)
            if u in reach and v not in reach:
                cut_edges.append((e.src, e.dst))
    return FlowResult(float(value), caps, inflow, edge_flow, edges, sorted(cut_nodes), sorted(cut_edges))


def flow_value(inst: HelixInstance, ranges: Ranges, mode: Mode = "strict") -> float:
    """Just the max-flow value (tokens/s) of a placement."""
    g = build_graph(inst, ranges, mode)
    return float(maximum_flow(g)[0])


def routing_weights(result: FlowResult) -> dict[str, list[tuple[str, float]]]:
    """Per node (and ``source``): successors with weights proportional to edge flow, summing to 1.

    These are the interleaved weighted round-robin weights the Helix scheduler uses (reference section 12).
    Nodes whose outgoing flow is zero get no entry.
    """
    totals: dict[str, float] = {}
    for (u, _v), f in result.edge_flow.items():
        totals[u] = totals.get(u, 0.0) + f
    out: dict[str, list[tuple[str, float]]] = {}
    for (u, v), f in sorted(result.edge_flow.items()):
        if f <= 0 or totals[u] <= 0:
            continue
        out.setdefault(u, []).append((v, f / totals[u]))
    return out
