"""Routing a placement: which of its max flows the plan's edge flows (the scheduler's weights) should be.

The max flow fixes how much a placement carries, not how: most placements have many max flows, and the simulator
(as Helix's scheduler) sends requests over the edges in proportion to the flows, so the routing is part of what a
plan serves. :func:`least_time_flow` is the routing the served search predicts beside the max flow as found
(:mod:`planner.helix.objective`). A solver step: the verifier (:mod:`planner.helix.verify`) checks its flows with
its own arithmetic and does not import this module.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy.optimize import OptimizeWarning, linprog
from scipy.sparse import coo_matrix

from planner.helix.flow import FlowResult, Mode, Ranges, edge_arc, node_capacities, node_in, node_out, valid_edges
from planner.helix.instance import SINK, SOURCE, HelixInstance
from planner.solver import checkpoint

#: The interior point's end, not a vertex: no crossover (HiGHS's own option, passed through by scipy, whose typed
#: options do not list it) and no presolve (which may solve a small problem outright, at a vertex).
NO_CROSSOVER: Any = {"run_crossover": "off", "presolve": False}

#: Routing flows are rounded to this grid (tokens/s): the interior-point solution's last digits may differ between
#: CPUs, the plan's bytes must not (the rounding moves a node's balance by at most half a step an edge).
FLOW_GRID = 1e-6


def link_seconds(inst: HelixInstance, src: str, dst: str) -> float:
    """What a token spends on the link ``src -> dst``: its latency plus the token's bytes over the bandwidth
    (a token id on the coordinator's links, the activation between nodes)."""
    e = inst.edge_map[(src, dst)]
    size = inst.token_bytes if (src == SOURCE or dst == SINK) else inst.activation_bytes
    return e.latency_s + size / e.bandwidth_bytes_s


def least_time_flow(inst: HelixInstance, ranges: Ranges, mode: Mode, maximum: FlowResult) -> FlowResult | None:
    """Another routing of the same placement: a max flow of least link time (each edge costs its
    :func:`link_seconds` a token), spread evenly over the equally fast alternatives.

    A placement's max flow is rarely unique, and the one preflow-push returns may send a request back and forth
    between regions on links the flow did not need (generated 100's plan: 4.3 region crossings a request where 1.9
    carry the same flow). The max flows of least link time are a face of the flow polytope, not a point: a stage's
    nodes are equally fast alternatives. A vertex of that face (what a simplex returns) routes each stage through as
    few nodes as it can, so a full node is the only way on for many requests and admission stalls behind it. This
    returns the face's analytic centre instead, where every alternative carries a share: the linear program
    ``min sum_e t_e f_e`` (flow conservation, capacities, value = the max flow) solved by HiGHS's interior point
    method without presolve or crossover, which ends at the centre of the optimal face; flows rounded to
    :data:`FLOW_GRID`.

    The simulator routes requests in proportion to the flows, so the routing is part of what a plan serves; the
    served search predicts both routings and keeps the better (:mod:`planner.helix.objective`). ``maximum``'s
    minimum cut is kept (the cut does not depend on the routing). None when there is nothing to route (no flow) or
    the solve fails."""
    checkpoint("evaluating placements (least-time routing)")
    caps = node_capacities(inst, ranges, None)
    edges = valid_edges(inst, ranges, mode)
    arcs: list[tuple[str, str, float, float]] = [
        (node_in(name), node_out(name), cap, 0.0) for name, cap in caps.items() if cap > 0
    ]
    for e in edges:
        arcs.append((*edge_arc(e), e.capacity_tok_s, link_seconds(inst, e.src, e.dst)))
    vertex: dict[str, int] = {}
    rows, cols = [], []
    for a, (u, v, _, _) in enumerate(arcs):
        rows += [vertex.setdefault(u, len(vertex)), vertex.setdefault(v, len(vertex))]
        cols += [a, a]
    if maximum.value <= 0 or SOURCE not in vertex or SINK not in vertex:
        return None
    signs = np.tile([-1.0, 1.0], len(arcs))
    balance: Any = coo_matrix(  # scipy-stubs' linprog takes no sparse matrix; HiGHS does
        (signs, (np.array(rows), np.array(cols))), shape=(len(vertex), len(arcs))
    ).tocsr()
    target = np.zeros(len(vertex))
    value = maximum.value * (1 - 1e-9)  # the max flow, less its float rounding, is always feasible
    target[vertex[SOURCE]], target[vertex[SINK]] = -value, value
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)  # run_crossover is HiGHS's own option, passed through
        res = linprog(
            np.array([a[3] for a in arcs]),
            A_eq=balance,
            b_eq=target,
            bounds=[(0.0, a[2]) for a in arcs],
            method="highs-ipm",
            options=NO_CROSSOVER,
        )
    if res.status != 0 or res.x is None:
        return None
    flow = {(u, v): round(float(x) / FLOW_GRID) * FLOW_GRID for (u, v, _, _), x in zip(arcs, res.x, strict=True)}
    edge_flow = {(e.src, e.dst): flow[edge_arc(e)] for e in edges}
    inflow = {n.name: flow.get((node_in(n.name), node_out(n.name)), 0.0) for n in inst.nodes}
    total = sum(f for (u, _v), f in edge_flow.items() if u == SOURCE)
    return FlowResult(total, caps, inflow, edge_flow, edges, list(maximum.cut_nodes), list(maximum.cut_edges))
