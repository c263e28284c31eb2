"""The Helix per-node layer-placement MILP, written next to the reference formulation (Helix reference section 6).

Formulation (strict chaining, as run for every result in the paper)
-------------------------------------------------------------------
Sets: compute nodes ``i in N``; directed edges ``(u, v) in E`` (``source -> i``, ``i -> sink``, ``i -> j``);
sizes ``k = 1..K_i``; ``L`` layers.

Parameters: ``tp_i(k)`` node throughput holding ``k`` layers (tokens/s); ``c_uv`` edge capacity (tokens/s).

Variables::

    start_i      integer in [0, L-1]     first layer held by node i
    hold_i_k     binary                  node i holds exactly k layers (one-hot)
    flow_u_v     >= 0                    tokens/s on edge (u, v)
    switch_u_v   binary                  edge (u, v) may carry flow under this placement
    end_i        = start_i + sum_k k * hold_i_k       (node i holds [start_i, end_i))

Objective::

    maximise  sum_i flow_source_i                                              (throughput, tokens/s)

Constraints (reference section 6 numbering; the name prefix is what a model dump or an error shows)::

    (1) one_size[i]         sum_k hold_i_k = 1                                  every node holds >= 1 layer
    (2) within_model[i]     end_i <= L
    (3) conservation[i]     sum_u flow_u_i = sum_v flow_i_v
    (4) node_throughput[i]  sum_u flow_u_i <= sum_k tp_i(k) * hold_i_k
    (5) valid_edge[u,v]     switch_source_i = 1  =>  start_i = 0
                            switch_i_sink   = 1  =>  end_i = L
                            switch_i_j      = 1  =>  end_i = start_j               (strict)
                            switch_i_j      = 1  =>  start_j <= end_i <= end_j - 1   (partial inference)
    (6) edge_capacity[u,v]  flow_u_v <= c_uv * switch_u_v
    (7) covering_cut        sum_i flow_source_i <= UB                          (objective cut, issue 8)

Strengthening beyond the reference (valid, optimum unchanged): every capacity is clipped at the largest flow that
can ever cross it -- ``tp_i(k)`` and ``c_uv`` at the covering bound ``UB`` and ``c_uv`` at the endpoints' largest
throughput -- and (5) is an indicator constraint on CP-SAT instead of the reference's big-M with ``M = L``.

Symbol table (paper/reference -> code): ``start_i`` -> ``v.start[i]``; ``hold_i_k`` -> ``v.hold[i][k]``;
``flow_u_v`` -> ``v.flow[(u, v)]``; ``switch_u_v`` -> ``v.switch[(u, v)]``; ``tp_i(k)`` -> ``node.tp(k)``;
``c_uv`` -> ``edge.capacity_tok_s``; ``L`` -> ``inst.layers``; ``UB`` -> ``cut_tok_s``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from planner.helix.backends import Backend, Expr, total, var
from planner.helix.bounds import edge_ceiling
from planner.helix.flow import Mode, edge_arc, edge_valid, maximum_flow
from planner.helix.instance import SINK, SOURCE, HelixEdge, HelixInstance


@dataclass
class Variables:
    """Handles to the model's variables, keyed as in the symbol table."""

    start: dict[str, Any] = field(default_factory=dict)
    hold: dict[str, dict[int, Any]] = field(default_factory=dict)
    flow: dict[tuple[str, str], Any] = field(default_factory=dict)
    switch: dict[tuple[str, str], Any] = field(default_factory=dict)


@dataclass
class HelixModel:
    """A built per-node model: backend, variables, and what it was built from."""

    inst: HelixInstance
    mode: Mode
    backend: Backend
    v: Variables
    cut_tok_s: float | None


def size(v: Variables, i: str) -> Expr:
    """``sum_k k * hold_i_k``: the number of layers node i holds."""
    return total([var(h, k) for k, h in v.hold[i].items()])


def end(v: Variables, i: str) -> Expr:
    return var(v.start[i]) + size(v, i)


def add_variables(b: Backend, inst: HelixInstance, cut_tok_s: float | None) -> Variables:
    """start_i, hold_i_k, flow_u_v (clipped upper bounds), switch_u_v."""
    v = Variables()
    for node in inst.nodes:
        v.start[node.name] = b.int_var(0, inst.layers - 1, f"start[{node.name}]")
        v.hold[node.name] = {k: b.bool_var(f"hold[{node.name},{k}]") for k in range(1, node.max_layers + 1)}
    for e in inst.edges:
        key = (e.src, e.dst)
        v.flow[key] = b.flow_var(b.flow_value(_edge_cap(inst, e, cut_tok_s)), f"flow[{e.src},{e.dst}]")
        v.switch[key] = b.bool_var(f"switch[{e.src},{e.dst}]")
    return v


def _edge_cap(inst: HelixInstance, e: HelixEdge, cut_tok_s: float | None) -> float:
    cap = edge_ceiling(inst, e.src, e.dst, e.capacity_tok_s)
    return min(cap, cut_tok_s) if cut_tok_s is not None else cap


def add_one_size(b: Backend, inst: HelixInstance, v: Variables) -> None:
    """(1) every node holds exactly one size k (so at least one layer)."""
    for node in inst.nodes:
        b.add(total([var(h) for h in v.hold[node.name].values()]), "==", 1, f"one_size[{node.name}]")


def add_within_model(b: Backend, inst: HelixInstance, v: Variables) -> None:
    """(2) the range ends inside the model: end_i <= L."""
    for node in inst.nodes:
        b.add(end(v, node.name), "<=", inst.layers, f"within_model[{node.name}]")


def add_conservation(b: Backend, inst: HelixInstance, v: Variables) -> None:
    """(3) inflow = outflow at every compute node."""
    for node in inst.nodes:
        inflow = total([var(v.flow[(e.src, e.dst)]) for e in inst.in_edges[node.name]])
        outflow = total([var(v.flow[(e.src, e.dst)]) for e in inst.out_edges[node.name]])
        b.add(inflow - outflow, "==", 0, f"conservation[{node.name}]")


def add_node_throughput(b: Backend, inst: HelixInstance, v: Variables, cut_tok_s: float | None) -> None:
    """(4) inflow <= tp_i(k) of the chosen size (tp clipped at the covering bound)."""
    for node in inst.nodes:
        inflow = total([var(v.flow[(e.src, e.dst)]) for e in inst.in_edges[node.name]])
        cap = Expr()
        for k, h in v.hold[node.name].items():
            tp = node.tp(k) if cut_tok_s is None else min(node.tp(k), cut_tok_s)
            cap = cap + var(h, b.flow_value(tp))
        b.add(inflow - cap, "<=", 0, f"node_throughput[{node.name}]")


def add_edge_validity(b: Backend, inst: HelixInstance, v: Variables, mode: Mode) -> None:
    """(5) an edge may be switched on only where the ranges chain (strict) or overlap-chain (partial)."""
    big_m = inst.layers + 1
    for e in inst.edges:
        key = (e.src, e.dst)
        sw = v.switch[key]
        name = f"valid_edge[{e.src},{e.dst}]"
        if e.src == SOURCE:
            b.add_if(sw, var(v.start[e.dst]), "<=", 0, name, big_m)
        elif e.dst == SINK:
            b.add_if(sw, end(v, e.src), ">=", inst.layers, name, big_m)
        elif mode == "strict":
            b.add_if(sw, end(v, e.src) - var(v.start[e.dst]), "==", 0, name, big_m)
        else:
            b.add_if(sw, var(v.start[e.dst]) - end(v, e.src), "<=", 0, name + "/start", big_m)
            b.add_if(sw, end(v, e.src) - end(v, e.dst), "<=", -1, name + "/end", big_m)


def add_edge_capacity(b: Backend, inst: HelixInstance, v: Variables, cut_tok_s: float | None) -> None:
    """(6) flow only on switched edges, up to the (clipped) capacity."""
    for e in inst.edges:
        key = (e.src, e.dst)
        cap = b.flow_value(_edge_cap(inst, e, cut_tok_s))
        b.add(var(v.flow[key]) - var(v.switch[key], cap), "<=", 0, f"edge_capacity[{e.src},{e.dst}]")


def objective(inst: HelixInstance, v: Variables) -> Expr:
    return total([var(v.flow[(e.src, e.dst)]) for e in inst.out_edges[SOURCE]])


def add_covering_cut(b: Backend, inst: HelixInstance, v: Variables, cut_tok_s: float | None) -> None:
    """(7) the layer-covering bound (or a better proven bound) as an objective cut."""
    if cut_tok_s is not None:
        b.add(objective(inst, v), "<=", b.flow_value(cut_tok_s), "covering_cut")


def build(inst: HelixInstance, mode: Mode, backend: Backend, cut_tok_s: float | None = None) -> HelixModel:
    """Build the per-node model on ``backend`` (see the module docstring for the formulation)."""
    v = add_variables(backend, inst, cut_tok_s)
    add_one_size(backend, inst, v)
    add_within_model(backend, inst, v)
    add_conservation(backend, inst, v)
    add_node_throughput(backend, inst, v, cut_tok_s)
    add_edge_validity(backend, inst, v, mode)
    add_edge_capacity(backend, inst, v, cut_tok_s)
    add_covering_cut(backend, inst, v, cut_tok_s)
    backend.maximize(objective(inst, v))
    return HelixModel(inst, mode, backend, v, cut_tok_s)


def add_hint(m: HelixModel, ranges: Mapping[str, tuple[int, int]]) -> None:
    """Warm start on ``start_i`` and ``hold_i_k`` only (reference section 9); flows are left to the solver."""
    for node in m.inst.nodes:
        r = ranges.get(node.name)
        if r is None:
            continue
        s, e = r
        m.backend.hint(m.v.start[node.name], s)
        for k, h in m.v.hold[node.name].items():
            m.backend.hint(h, 1 if k == e - s else 0)


def add_full_hint(m: HelixModel, ranges: Mapping[str, tuple[int, int]]) -> float:
    """Hint a complete solution: the placement plus a max flow of it under the model's own (clipped) capacities.

    CP-SAT starts from a feasible point instead of having to complete a partial hint. Returns the hinted objective
    in tokens/s.
    """
    import networkx as nx

    add_hint(m, ranges)
    b, inst = m.backend, m.inst
    g: nx.DiGraph[str] = nx.DiGraph()
    g.add_nodes_from([SOURCE, SINK])
    for node in inst.nodes:
        start, end = ranges[node.name]
        tp = node.tp(end - start) if m.cut_tok_s is None else min(node.tp(end - start), m.cut_tok_s)
        g.add_edge(f"{node.name}/in", f"{node.name}/out", capacity=b.flow_value(tp))
    valid = set()
    for e in inst.edges:
        if not edge_valid(e, ranges, inst.layers, m.mode):
            continue
        valid.add((e.src, e.dst))
        u, w = edge_arc(e)
        g.add_edge(u, w, capacity=b.flow_value(_edge_cap(inst, e, m.cut_tok_s)))
    value, flow = maximum_flow(g)
    for e in inst.edges:
        key = (e.src, e.dst)
        f = 0.0
        if key in valid:
            u, w = edge_arc(e)
            f = flow[u][w]
        b.hint(m.v.flow[key], f)
        b.hint(m.v.switch[key], 1 if key in valid else 0)
    return float(value) / (b.flow_value(1.0) or 1.0) if b.integer_flows else float(value)


def model_size(inst: HelixInstance, mode: Mode, cut: bool = True) -> tuple[int, int]:
    """(variables, constraints) of the per-node model on this graph, as :func:`build` creates them.

    Counted in closed form (pruning reports need it on graphs too large to build); an equality ``==`` under an
    implication counts as two rows, as in the reference's size check (1376 columns x 1848 rows for single-24).
    """
    n = len(inst.nodes)
    holds = sum(node.max_layers for node in inst.nodes)
    edges = len(inst.edges)
    compute = sum(1 for e in inst.edges if e.src != SOURCE and e.dst != SINK)
    variables = n + holds + 2 * edges
    constraints = 4 * n + (edges - compute) + 2 * compute + edges + (1 if cut else 0)
    return variables, constraints
