"""Independent checks of every Helix plan (no MILP solver imported here; networkx max flow only).

* :func:`check_placement`: every node holds a contiguous range ``[start, end)`` inside the model with at least one
  and at most ``K_i`` layers (memory), and every node of the instance is placed.
* :func:`check_solver_flows`: the flows a solver reported form a feasible flow of its placement -- only valid
  edges, within capacities, conserved at every node, node inflow within ``tp_i(k_i)`` -- whose value is the
  solver's objective (reference section 9, "solution check").
* :func:`check_objective`: the max flow recomputed on the split-node graph is at least the solver's objective, and
  equals it (relative 1e-6) when the solver claims optimality. The plan always reports the recomputed max flow.

A failure raises :class:`~planner.errors.VerificationError` (exit 1): it means a bug, never bad input.
"""

from __future__ import annotations

from collections.abc import Mapping

from planner.errors import VerificationError
from planner.helix.flow import FlowResult, Mode, Ranges, edge_valid, max_flow
from planner.helix.instance import SINK, SOURCE, HelixInstance

REL_TOL = 1e-6


def check_placement(inst: HelixInstance, ranges: Ranges) -> None:
    """Contiguity, range within the model, and the memory limit K_i for every node."""
    missing = [n.name for n in inst.nodes if n.name not in ranges]
    if missing:
        raise VerificationError(f"helix verification: nodes without a range: {', '.join(missing[:5])}")
    for node in inst.nodes:
        s, e = ranges[node.name]
        if not (0 <= s < e <= inst.layers):
            raise VerificationError(f"helix verification: {node.name} range [{s}, {e}) outside 0..{inst.layers}")
        if e - s > node.max_layers:
            raise VerificationError(
                f"helix verification: memory[{node.name}]: holds {e - s} layers, at most {node.max_layers} fit"
            )


def check_solver_flows(
    inst: HelixInstance,
    ranges: Ranges,
    mode: Mode,
    edge_flow: Mapping[tuple[str, str], float],
    objective_tok_s: float,
    abs_tol: float,
) -> None:
    """The solver's own flow vector is a feasible flow of its placement with the claimed value."""
    inflow: dict[str, float] = {n.name: 0.0 for n in inst.nodes}
    outflow: dict[str, float] = {n.name: 0.0 for n in inst.nodes}
    value = 0.0
    for (u, v), f in edge_flow.items():
        if f <= abs_tol:
            continue
        e = inst.edge_map.get((u, v))
        if e is None:
            raise VerificationError(f"helix verification: flow {f:g} on a missing edge {u}->{v}")
        if not edge_valid(e, ranges, inst.layers, mode):
            raise VerificationError(f"helix verification: valid_edge[{u},{v}]: flow {f:g} on an invalid edge")
        if f > e.capacity_tok_s * (1 + REL_TOL) + abs_tol:
            raise VerificationError(f"helix verification: edge_capacity[{u},{v}]: {f:g} > {e.capacity_tok_s:g}")
        if u == SOURCE:
            value += f
        else:
            outflow[u] += f
        if v != SINK:
            inflow[v] += f
    for node in inst.nodes:
        start, end = ranges[node.name]
        if abs(inflow[node.name] - outflow[node.name]) > abs_tol * max(1, len(inst.in_edges[node.name])):
            raise VerificationError(
                f"helix verification: conservation[{node.name}]: in {inflow[node.name]:g} != out {outflow[node.name]:g}"
            )
        if inflow[node.name] > node.tp(end - start) * (1 + REL_TOL) + abs_tol:
            raise VerificationError(
                f"helix verification: node_throughput[{node.name}]: {inflow[node.name]:g} > {node.tp(end - start):g}"
            )
    if abs(value - objective_tok_s) > REL_TOL * max(abs(objective_tok_s), 1.0) + abs_tol * len(edge_flow):
        raise VerificationError(
            f"helix verification: solver flows add up to {value:g} tokens/s, objective says {objective_tok_s:g}"
        )


def check_objective(recomputed_tok_s: float, objective_tok_s: float, proven_optimal: bool, abs_tol: float) -> None:
    """Max flow >= objective always; equal (relative 1e-6) when the solver proved optimality."""
    slack = REL_TOL * max(abs(objective_tok_s), 1.0) + abs_tol
    if recomputed_tok_s < objective_tok_s - slack:
        raise VerificationError(
            f"helix verification: max flow {recomputed_tok_s:.6f} < solver objective {objective_tok_s:.6f}"
        )
    if proven_optimal and recomputed_tok_s > objective_tok_s + slack:
        raise VerificationError(
            f"helix verification: max flow {recomputed_tok_s:.6f} exceeds the proven optimum {objective_tok_s:.6f}"
        )


def verify(
    inst: HelixInstance,
    ranges: Ranges,
    mode: Mode,
    expected_tok_s: float | None = None,
    max_hops: int | None = None,
) -> FlowResult:
    """Check the placement and recompute its max flow; compare with ``expected_tok_s`` (relative 1e-6) if given.

    With a hop limit the flow comes from the hop-limited LP (planner.helix.latency); it is then checked here as a
    feasible flow of the placement whose paths all have at most ``max_hops`` nodes.
    """
    check_placement(inst, ranges)
    result = max_flow(inst, ranges, mode)
    if max_hops is not None and result.value > 0:
        from planner.helix.latency import decompose, hop_limited_flow, longest_path_hops

        if longest_path_hops(inst, ranges, mode) > max_hops:
            result = hop_limited_flow(inst, ranges, mode, max_hops)
            check_solver_flows(inst, ranges, mode, result.edge_flow, result.value, 1e-6 * max(result.value, 1.0))
            too_long = [p for p, f in decompose(result) if len(p) > max_hops and f > 1e-6 * max(result.value, 1.0)]
            if too_long:
                raise VerificationError(f"helix verification: a path of {len(too_long[0])} nodes exceeds --max-hops")
    if expected_tok_s is not None and abs(result.value - expected_tok_s) > REL_TOL * max(expected_tok_s, 1.0):
        raise VerificationError(
            f"helix verification: max flow {result.value:.6f} != reported throughput {expected_tok_s:.6f}"
        )
    return result
