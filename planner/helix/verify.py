"""Independent checks of every Helix plan (no MILP solver imported here; networkx max flow only).

* :func:`check_placement`: every node holds a contiguous range ``[start, end)`` inside the model with at least one
  and at most ``K_i`` layers (memory), and every node of the instance is placed.
* :func:`check_solver_flows`: the flows a solver reported form a feasible flow of its placement -- only valid
  edges, within capacities, conserved at every node, node inflow within ``tp_i(k_i)`` -- whose value is the
  solver's objective (reference section 9, "solution check").
* :func:`check_objective`: the max flow recomputed on the split-node graph is at least the solver's objective, and
  equals it (relative 1e-6) when the solver claims optimality. The plan always reports the recomputed max flow.
* :func:`check_bound` / :func:`check_certificate`: the bound an "optimal" label rests on, recomputed here from the
  instance with this module's own code (below), before the label is written and again from a plan document.

A failure raises :class:`~planner.errors.VerificationError` (exit 1): it means a bug, never bad input.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

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


# --- Optimality certificates -------------------------------------------------------------------------------------
#
# A plan labelled optimal names the bound that proves it. Each analytic bound is an argument "no flow above F is
# possible" that is monotone in F (once it excludes F it excludes every larger flow), so checking that the argument
# excludes ``F' = bound * (1 + CERT_TOL)`` proves the optimum is below F'. The checks below are written from the
# formulas in docs/helix.md, apart from the solver's bound code (planner/helix/bounds.py), and search their own
# multipliers (lambda, mu). A MILP dual bound cannot be recomputed without solving the MILP again: such a label says
# "solver-certified" and the plan says why.

#: Relative slack above a claimed bound at which the verifier's own argument must exclude the flow.
CERT_TOL = 1e-6
#: The kinds of bound a certificate may name (``milp``: the solver's dual bound, not recomputed here).
BOUND_KINDS = ("compute", "coordinator_cut", "covering", "block", "hop", "milp")
INDEPENDENT = "optimal (independently verified)"
SOLVER_CERTIFIED = "optimal (solver-certified)"


@dataclass(frozen=True)
class BoundCheck:
    """What the verifier established about a claimed bound."""

    kind: str
    value_tok_s: float
    checked_at_tok_s: float
    independent: bool
    witness: dict[str, float]
    detail: str

    @property
    def label(self) -> str:
        return INDEPENDENT if self.independent else SOLVER_CERTIFIED


@dataclass(frozen=True)
class _Links:
    """Per-node link totals (edge capacities clipped at what their endpoints can ever process)."""

    total: float  # min(all in, all out)
    partial: float  # max(compute in, compute out): a node holding k < L layers needs a compute neighbour
    whole: float  # min(coordinator in, coordinator out): a node holding all L layers


def _ceiling(inst: HelixInstance, src: str, dst: str, capacity: float) -> float:
    cap = capacity
    for end in (src, dst):
        if end not in (SOURCE, SINK):
            cap = min(cap, max(inst.node(end).tp_tok_s, default=0.0))
    return cap


def _node_links(inst: HelixInstance) -> dict[str, _Links]:
    sums: dict[str, dict[str, float]] = {
        n.name: {"in": 0.0, "out": 0.0, "cin": 0.0, "cout": 0.0, "src": 0.0, "snk": 0.0} for n in inst.nodes
    }
    for e in inst.edges:
        cap = _ceiling(inst, e.src, e.dst, e.capacity_tok_s)
        if e.dst in sums:
            sums[e.dst]["in"] += cap
            sums[e.dst]["src" if e.src == SOURCE else "cin"] += cap
        if e.src in sums:
            sums[e.src]["out"] += cap
            sums[e.src]["snk" if e.dst == SINK else "cout"] += cap
    return {
        name: _Links(min(s["in"], s["out"]), max(s["cin"], s["cout"]), min(s["src"], s["snk"]))
        for name, s in sums.items()
    }


def _capped_tp(inst: HelixInstance) -> list[tuple[float, ...]]:
    """tp_i(k) capped by what node i's links carry when it holds k layers."""
    links = _node_links(inst)
    out = []
    for n in inst.nodes:
        lk = links[n.name]
        out.append(
            tuple(
                min(t, lk.total, lk.whole if k >= inst.layers else lk.partial)
                for k, t in enumerate(n.tp_tok_s, start=1)
            )
        )
    return out


def _work(tp: tuple[float, ...], flow: float) -> float:
    return max((k * min(t, flow) for k, t in enumerate(tp, start=1)), default=0.0)


def _coordinator_cut(inst: HelixInstance) -> float:
    src = sum(_ceiling(inst, e.src, e.dst, e.capacity_tok_s) for e in inst.edges if e.src == SOURCE)
    snk = sum(_ceiling(inst, e.src, e.dst, e.capacity_tok_s) for e in inst.edges if e.dst == SINK)
    return min(src, snk)


def _covering_supply(inst: HelixInstance, mode: Mode, flow: float) -> float:
    """Layer-work all regions can do at total flow F: per region min(node work, link-cut work)."""
    layers = inst.layers
    capped = dict(zip((n.name for n in inst.nodes), _capped_tp(inst), strict=True))
    region_of = {n.name: n.region for n in inst.nodes}
    cut: dict[str, dict[str, float]] = {r: {"src": 0.0, "snk": 0.0, "cin": 0.0, "cout": 0.0} for r in inst.regions}
    for e in inst.edges:
        cap = _ceiling(inst, e.src, e.dst, e.capacity_tok_s)
        if e.src == SOURCE:
            cut[region_of[e.dst]]["src"] += cap
        elif e.dst == SINK:
            cut[region_of[e.src]]["snk"] += cap
        elif region_of[e.src] != region_of[e.dst]:
            cut[region_of[e.dst]]["cin"] += cap
            cut[region_of[e.src]]["cout"] += cap
    supply = 0.0
    for r in inst.regions:
        members = [n for n in inst.nodes if n.region == r]
        k_sum = sum(n.max_layers for n in members)
        work = sum(_work(capped[n.name], flow) for n in members)
        run = k_sum if mode == "partial" else min(layers, k_sum)
        run_in = k_sum if mode == "partial" else min(layers - 1, k_sum)
        c = cut[r]
        links = min(run * min(flow, c["src"]) + run_in * c["cin"], run * min(flow, c["snk"]) + run_in * c["cout"])
        supply += min(work, links)
    return supply


def _search_min(f: Callable[[float], float], lo: float, hi: float, grid: int = 200) -> tuple[float, float]:
    """(argmin, min) of ``f`` on ``[lo, hi]``: a grid, then a ternary refinement around the best grid point.

    Any point found is a valid multiplier (each one gives a bound); searching only makes the check tighter."""
    step = (hi - lo) / grid
    best_x = min((lo + i * step for i in range(grid + 1)), key=f)
    a, b = max(lo, best_x - step), min(hi, best_x + step)
    for _ in range(60):
        m1, m2 = a + (b - a) / 3, b - (b - a) / 3
        if f(m1) <= f(m2):
            b = m2
        else:
            a = m1
    x = min((best_x, (a + b) / 2), key=f)
    return x, f(x)


def _forced_shared_above(inst: HelixInstance) -> float | None:
    """Above this flow an all-solo chain is impossible (no region holds the model, every wide-area link is slower),
    so at least two nodes are shared; None when it is never forced."""
    if len(inst.regions) < 2:
        return None
    k_region: dict[str, int] = {}
    for n in inst.nodes:
        k_region[n.region] = k_region.get(n.region, 0) + n.max_layers
    if max(k_region.values()) >= inst.layers:
        return None
    region_of = {n.name: n.region for n in inst.nodes}
    wide = [
        _ceiling(inst, e.src, e.dst, e.capacity_tok_s)
        for e in inst.edges
        if e.src != SOURCE and e.dst != SINK and region_of[e.src] != region_of[e.dst]
    ]
    return max(wide, default=0.0)


def _block_shortfall(inst: HelixInstance, flow: float) -> tuple[float, float, int]:
    """(lambda, layers the nodes can hold at flow F minus L, forced shared nodes): negative excludes F."""
    groups: dict[tuple[float, ...], int] = {}
    for tp in _capped_tp(inst):
        groups[tp] = groups.get(tp, 0) + 1
    items = [
        (tp, count, max((k for k, t in enumerate(tp, start=1) if t >= flow), default=0)) for tp, count in groups.items()
    ]
    above = _forced_shared_above(inst)
    forced = 2 if above is not None and flow > above else 0

    def held(lam: float) -> float:
        total = 0.0
        penalties: list[float] = []
        for tp, count, solo in items:
            shared = max(k * (lam * min(t, flow) / flow + (1 - lam) / 2) for k, t in enumerate(tp, start=1))
            total += count * max(solo, shared)
            penalties += [max(solo, shared) - shared] * min(count, forced)
        return total - sum(sorted(penalties)[:forced]) - inst.layers

    lam, short = _search_min(held, 0.0, 1.0)
    return lam, short, forced


def _hop_shortfall(inst: HelixInstance, flow: float, max_hops: int) -> tuple[float, float]:
    """(mu, layer-work minus what F needs on paths of at most H nodes): negative excludes F."""

    def margin(mu: float) -> float:
        work = sum(
            max(0.0, max((k - mu) * min(t, flow) for k, t in enumerate(n.tp_tok_s, start=1))) for n in inst.nodes
        )
        return work - (inst.layers - mu * max_hops) * flow

    return _search_min(margin, 0.0, inst.layers / max_hops)


def check_bound(
    inst: HelixInstance, mode: Mode, kind: str, value_tok_s: float, max_hops: int | None = None
) -> BoundCheck:
    """Recompute the argument behind a claimed bound; raise when it does not exclude ``value * (1 + CERT_TOL)``."""
    if kind not in BOUND_KINDS:
        raise VerificationError(f"helix verification: certificate names an unknown bound {kind!r}")
    at = value_tok_s * (1 + CERT_TOL) + 1e-9
    if kind == "milp":
        return BoundCheck(
            kind, value_tok_s, at, False, {},
            "the MILP solver's dual bound; recomputing it means solving the MILP again, so it is not checked here",
        )  # fmt: skip
    witness: dict[str, float] = {}
    layers = inst.layers
    if kind == "compute":
        supply = sum(max((k * t for k, t in enumerate(n.tp_tok_s, start=1)), default=0.0) for n in inst.nodes)
        short = supply - layers * at
        detail = f"sum_i max_k k tp_i(k) = {supply:.6f} layer-tokens/s < L * F' = {layers * at:.6f}"
    elif kind == "coordinator_cut":
        cut = _coordinator_cut(inst)
        short = cut - at
        detail = f"the coordinator's links carry {cut:.6f} tokens/s < F' = {at:.6f}"
    elif kind == "covering":
        supply = _covering_supply(inst, mode, at)
        short = supply - layers * at
        detail = f"layer-work with link cuts {supply:.6f} < L * F' = {layers * at:.6f}"
    elif kind == "block":
        if mode != "strict":
            raise VerificationError("helix verification: the solo/shared block bound holds under strict chaining only")
        lam, short, forced = _block_shortfall(inst, at)
        witness = {"lambda": lam, "forced_shared_nodes": float(forced)}
        detail = (
            f"at lambda {lam:.6f} the nodes hold {short + layers:.6f} layers < L = {layers} ({forced} forced shared)"
        )
    else:
        if max_hops is None:
            raise VerificationError("helix verification: a hop-limited bound without --max-hops")
        mu, short = _hop_shortfall(inst, at, max_hops)
        witness = {"mu": mu}
        detail = f"at mu {mu:.6f} the layer-work falls {-short:.6f} short of (L - mu H) F'"
    if not short < 0:
        raise VerificationError(
            f"helix verification: the {kind} bound claims no flow above {value_tok_s:.6f} tokens/s, but the "
            f"verifier's own argument admits {at:.6f} tokens/s ({detail}): the certificate is wrong"
        )
    return BoundCheck(kind, value_tok_s, at, True, witness, detail)


def check_certificate(
    inst: HelixInstance,
    mode: Mode,
    certificate: Mapping[str, Any],
    objective_tok_s: float,
    best_bound_tok_s: float,
    status: str,
    rel_gap: float,
    max_hops: int | None = None,
) -> BoundCheck:
    """Check a plan's certificate against the plan's own figures; raise on any disagreement.

    The certificate's bound must be the plan's best bound, be recomputed by :func:`check_bound`, carry the label its
    kind earns (a MILP dual bound is only "solver-certified"), and an ``optimal`` status must be within ``rel_gap``
    of it.
    """
    kind, value = str(certificate.get("bound")), float(certificate.get("value_tok_s", float("nan")))
    if not math.isclose(value, best_bound_tok_s, rel_tol=REL_TOL, abs_tol=1e-9):
        raise VerificationError(
            f"helix verification: certificate bound {value:.6f} tokens/s != plan's best bound {best_bound_tok_s:.6f}"
        )
    checked = check_bound(inst, mode, kind, value, max_hops)
    if certificate.get("label") != checked.label:
        raise VerificationError(
            f"helix verification: certificate says {certificate.get('label')!r}, "
            f"the {kind} bound earns {checked.label!r}"
        )
    if status == "optimal" and objective_tok_s < value / (1 + rel_gap) * (1 - REL_TOL) - 1e-9:
        raise VerificationError(
            f"helix verification: labelled optimal at {objective_tok_s:.6f} tokens/s, but the certified bound "
            f"{value:.6f} is {(value - objective_tok_s) / max(objective_tok_s, 1e-12):.4%} above "
            f"(allowed gap {rel_gap:.4%})"
        )
    if objective_tok_s > value * (1 + CERT_TOL) + 1e-9:
        raise VerificationError(
            f"helix verification: throughput {objective_tok_s:.6f} tokens/s exceeds the certified bound {value:.6f}"
        )
    return checked


def check_plan_certificate(inst: HelixInstance, doc: Mapping[str, Any]) -> BoundCheck | None:
    """Check the certificate of a helix plan document against the instance its inputs describe.

    An ``optimal`` plan without a certificate is refused; a plan that claims nothing returns None.
    """
    block, solver = doc["plan"], doc["solver"]
    options = doc.get("inputs", {}).get("options", {})
    certificate = (block.get("bounds") or {}).get("certificate")
    if certificate is None:
        if solver["status"] == "optimal":
            raise VerificationError("helix verification: the plan is labelled optimal without a certificate")
        return None
    mode: Mode = "partial" if block["mode"] == "partial" else "strict"
    return check_certificate(
        inst,
        mode,
        certificate,
        float(doc["metrics"]["throughput_tok_s"]),
        float(block["bounds"]["best_tok_s"]),
        str(solver["status"]),
        float(options.get("gap", 0.0)),
        options.get("max_hops"),
    )
