"""Tiny hand-made Helix instances and a brute-force optimum (every placement enumerated) for checking solvers."""

from __future__ import annotations

import itertools

from planner.helix.flow import Mode, flow_value
from planner.helix.instance import HelixEdge, HelixInstance, HelixNode, complete_edges


def tiny_instance(
    tables: list[tuple[float, ...]],
    layers: int,
    bandwidth_bytes_s: float = 1e9,
    activation_bytes: int = 16384,
    regions: list[str] | None = None,
    inter_tok_s: float | None = None,
) -> HelixInstance:
    """Nodes ``n0, n1, ...`` with the given tp(k) tables (K = table length) on a complete graph.

    With ``regions`` (one per node) and ``inter_tok_s``, links between regions carry that many tokens/s.
    """
    where = regions or ["r0"] * len(tables)
    nodes = tuple(
        HelixNode(f"n{i}", "T4", 1, where[i], f"T{i}", len(tp), tuple(float(t) for t in tp))
        for i, tp in enumerate(tables)
    )
    edges = complete_edges(nodes, bandwidth_bytes_s, 1e-3, 2, activation_bytes)
    if inter_tok_s is not None:
        region = {n.name: n.region for n in nodes}
        edges = tuple(
            HelixEdge(e.src, e.dst, inter_tok_s, inter_tok_s * activation_bytes, 0.05)
            if e.src in region and e.dst in region and region[e.src] != region[e.dst]
            else e
            for e in edges
        )
    return HelixInstance("tiny", "toy", layers, nodes, edges, 2, activation_bytes)


def brute_force(inst: HelixInstance, mode: Mode = "strict") -> tuple[float, dict[str, tuple[int, int]]]:
    """The best max flow over every placement (each node holds 1..K layers somewhere inside the model)."""
    choices = [
        [(s, s + k) for k in range(1, min(n.max_layers, inst.layers) + 1) for s in range(inst.layers - k + 1)]
        for n in inst.nodes
    ]
    best, arg = -1.0, {}
    for combo in itertools.product(*choices):
        ranges = {n.name: r for n, r in zip(inst.nodes, combo, strict=True)}
        value = flow_value(inst, ranges, mode)
        if value > best:
            best, arg = value, ranges
    return best, arg
