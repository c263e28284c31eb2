"""The Helix verifier at the exact edges of its limits, on hand-computed tiny instances (issue 17).

Each test pins a value the verifier must produce or a limit it must hold to the last bit: a flow exactly at a
tolerance passes and one just beyond fails, a claimed bound that a placement beats is refused, and messages name
what failed. The mutation run of planner/helix/verify.py (``make mutate MUTATE=helix-verify``) showed each of these
edges untested before; docs/mutation/helix-verify.md lists the mutants no input can tell apart.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from planner.errors import VerificationError
from planner.helix import latency
from planner.helix.flow import FlowResult, flow_value, max_flow
from planner.helix.instance import SINK, SOURCE, HelixEdge, HelixInstance, HelixNode
from planner.helix.verify import (
    CERT_TOL,
    INDEPENDENT,
    REL_TOL,
    SOLVER_CERTIFIED,
    check_bound,
    check_certificate,
    check_objective,
    check_placement,
    check_plan_certificate,
    check_solver_flows,
    verify,
)

from .tiny import tiny_instance


def _fails(message: str) -> pytest.RaisesExc[VerificationError]:
    return pytest.raises(VerificationError, match="^" + re.escape(message) + "$")


def _at(bound: float) -> float:
    """The flow F' = bound (1 + CERT_TOL) + 1e-9 that a certificate's argument must exclude."""
    return bound * (1 + CERT_TOL) + 1e-9


def _accepts_and_refuses_below(inst: HelixInstance, kind: str, bound: float, below: float, **kw: Any) -> None:
    check = check_bound(inst, "strict", kind, bound, **kw)
    assert check.independent and check.value_tok_s == bound
    with pytest.raises(VerificationError, match=f"the {kind} bound claims no flow above"):
        check_bound(inst, "strict", kind, below, **kw)


def _instance(
    layers: int, nodes: list[tuple[str, tuple[float, ...]]], edges: dict[tuple[str, str], float]
) -> HelixInstance:
    """Nodes (name, tp table) in region r0 and exactly the given edges (capacity in tokens/s)."""
    hn = tuple(HelixNode(name, "T4", 1, "r0", name, len(tp), tp) for name, tp in nodes)
    he = tuple(HelixEdge(u, v, c, 1.0, 0.0) for (u, v), c in sorted(edges.items()))
    return HelixInstance("links", "toy", layers, hn, he, 2, 16384)


FAST = 1e9  # bytes/s: every link of a tiny_instance far above any node's throughput


# ------------------------------------------------------------------------------------------- check_placement
def test_placement_lists_the_first_five_nodes_without_a_range() -> None:
    inst = tiny_instance([(10.0,)] * 7, layers=1)
    with _fails("helix verification: nodes without a range: n1, n2, n3, n4, n5"):
        check_placement(inst, {"n0": (0, 1)})


def test_placement_over_memory_counts_the_layers_held() -> None:
    inst = tiny_instance([(10.0,), (10.0,), (10.0,)], layers=3)
    with _fails("helix verification: memory[n1]: holds 2 layers, at most 1 fit"):
        check_placement(inst, {"n0": (0, 1), "n1": (1, 3), "n2": (2, 3)})


# ---------------------------------------------------------------------------------------- check_solver_flows
# INST: n0 (100, 80), n1 (100, 80), n2 (50,), L = 2, compute links 40 tok/s (as in test_verify.py).
INST = tiny_instance([(100.0, 80.0), (100.0, 80.0), (50.0,)], layers=2, bandwidth_bytes_s=40 * 16384)
RANGES = {"n0": (0, 2), "n1": (0, 1), "n2": (1, 2)}
ONE = tiny_instance([(100.0,)], layers=1, bandwidth_bytes_s=FAST)  # n0 alone: its only in-edge is the source's


def test_strict_flow_on_an_edge_only_partial_inference_allows() -> None:
    # n1 [0, 1) -> n0 [0, 2): partial (0 <= 1 < 2) but not strict (1 != 0)
    flows = {(SOURCE, "n1"): 10.0, ("n1", "n0"): 10.0, ("n0", SINK): 10.0}
    with _fails("helix verification: valid_edge[n1,n0]: flow 10 on an invalid edge"):
        check_solver_flows(INST, RANGES, "strict", flows, 10.0, 0.0)
    check_solver_flows(INST, RANGES, "partial", flows, 10.0, 0.0)


def test_a_node_feeding_two_successors_is_conserved() -> None:
    inst = tiny_instance([(100.0,), (100.0,), (100.0,)], layers=2, bandwidth_bytes_s=FAST)
    ranges = {"n0": (0, 1), "n1": (1, 2), "n2": (1, 2)}
    flows = {(SOURCE, "n0"): 20.0, ("n0", "n1"): 10.0, ("n0", "n2"): 10.0, ("n1", SINK): 10.0, ("n2", SINK): 10.0}
    check_solver_flows(inst, ranges, "strict", flows, 20.0, 0.0)  # n0: in 20, out 10 + 10


def test_conservation_tolerance_of_a_node_with_a_single_in_edge() -> None:
    # max(1, in-degree) = 1: the imbalance may be abs_tol = 1, not more
    check_solver_flows(ONE, {"n0": (0, 1)}, "strict", {(SOURCE, "n0"): 10.0, ("n0", SINK): 9.0}, 10.0, 1.0)
    with _fails("helix verification: conservation[n0]: in 10 != out 8.5"):
        check_solver_flows(ONE, {"n0": (0, 1)}, "strict", {(SOURCE, "n0"): 10.0, ("n0", SINK): 8.5}, 10.0, 1.0)


def test_node_throughput_exactly_at_its_tolerance_passes() -> None:
    at = 100.0 * (1 + REL_TOL)  # tp(1) (1 + 1e-6) + abs_tol 0: allowed, a bit more is not
    check_solver_flows(ONE, {"n0": (0, 1)}, "strict", {(SOURCE, "n0"): at, ("n0", SINK): at}, at, 0.0)
    over = 100.0002
    with _fails("helix verification: node_throughput[n0]: 100 > 100"):
        check_solver_flows(ONE, {"n0": (0, 1)}, "strict", {(SOURCE, "n0"): over, ("n0", SINK): over}, over, 0.0)


def test_flow_value_against_an_objective_near_zero() -> None:
    # Below an objective of 1 the slack is 1e-6 absolute: 1e-6 tokens/s against 0 passes, 1.5e-6 does not.
    ranges = {"n0": (0, 1)}
    check_solver_flows(ONE, ranges, "strict", {(SOURCE, "n0"): 1e-6, ("n0", SINK): 1e-6}, 0.0, 0.0)
    with _fails("helix verification: solver flows add up to 1.5e-06 tokens/s, objective says 0"):
        check_solver_flows(ONE, ranges, "strict", {(SOURCE, "n0"): 1.5e-6, ("n0", SINK): 1.5e-6}, 0.0, 0.0)


# --------------------------------------------------------------------------------------------- check_objective
def test_proven_optimum_near_zero() -> None:
    check_objective(1e-6, 0.0, True, 0.0)  # exactly the slack 1e-6 * max(0, 1)
    with _fails("helix verification: max flow 0.000002 exceeds the proven optimum 0.000000"):
        check_objective(1.5e-6, 0.0, True, 0.0)


# ----------------------------------------------------------------------------------------------------- verify
# FIVE: L = 3; x [0, 1) 1 tok/s, q [1, 2) 10, v [2, 3) 1, y [0, 2) 10, z [1, 3) 10 over fast links.
# Strict paths: x -> q -> v (3 nodes), x -> z and y -> v (2 nodes): x and v carry 1 each, max flow 2.
# Partial inference adds y -> z (start 1 <= end 2 < 3): y and z carry 10 more, max flow 11.
FIVE = tiny_instance([(1.0,), (10.0,), (1.0,), (10.0, 10.0), (10.0, 10.0)], layers=3, bandwidth_bytes_s=FAST)
FIVE_RANGES = {"n0": (0, 1), "n1": (1, 2), "n2": (2, 3), "n3": (0, 2), "n4": (1, 3)}


def test_verify_uses_the_chaining_mode() -> None:
    assert verify(FIVE, FIVE_RANGES, "strict").value == pytest.approx(2.0)
    assert verify(FIVE, FIVE_RANGES, "partial").value == pytest.approx(11.0)


def test_verify_hop_limited_strict_flow_uses_strict_edges_only() -> None:
    # Two nodes per path: x -> z and y -> v, 1 tok/s each; the partial-only y -> z must not be used.
    res = verify(FIVE, FIVE_RANGES, "strict", max_hops=2)
    assert res.value == pytest.approx(2.0)
    assert res.edge_flow.get(("n3", "n4"), 0.0) == 0.0


def test_a_hop_limit_no_path_exceeds_keeps_the_max_flow_and_its_cut() -> None:
    # x [0, 1) 10, y [0, 2) 10, z [1, 3) tp(2) 6, L = 3. Strict: only x -> z (2 nodes), 6 tok/s, z's node is the
    # minimum cut. Partial adds x -> y -> z (3 nodes) but no flow: --max-hops 2 does not bind in strict mode.
    inst = tiny_instance([(10.0,), (10.0, 10.0), (10.0, 6.0)], layers=3, bandwidth_bytes_s=FAST)
    ranges = {"n0": (0, 1), "n1": (0, 2), "n2": (1, 3)}
    plain = verify(inst, ranges, "strict")
    assert plain.value == pytest.approx(6.0) and plain.cut_nodes == ["n2"]
    hop = verify(inst, ranges, "strict", max_hops=2)
    assert hop.value == pytest.approx(6.0)
    assert hop.cut_nodes == ["n2"] and hop.edge_flow == plain.edge_flow


def test_hop_limit_applies_to_flows_below_one_token_per_second() -> None:
    slow = tiny_instance([(0.5, 0.4), (0.5, 0.4), (0.25,)], layers=2, bandwidth_bytes_s=FAST)
    assert verify(slow, RANGES, "strict").value == pytest.approx(0.65)  # n0 alone 0.4, n1 -> n2 0.25
    assert verify(slow, RANGES, "strict", max_hops=1).value == pytest.approx(0.4)


def test_reported_throughput_near_zero() -> None:
    nothing = {"n0": (0, 1), "n1": (0, 1), "n2": (0, 1)}  # nobody holds the last layer: max flow 0
    assert verify(INST, nothing, "strict", expected_tok_s=1e-6).value == 0.0  # slack 1e-6 * max(1e-6, 1)
    with _fails("helix verification: max flow 0.000000 != reported throughput 0.000002"):
        verify(INST, nothing, "strict", expected_tok_s=1.5e-6)


# A hop-limited flow from a faulty LP: the verifier checks it as any solver's flow.
def _fake_hop_flow(monkeypatch: pytest.MonkeyPatch, edge_flow: dict[tuple[str, str], float]) -> None:
    value = sum(f for (u, _), f in edge_flow.items() if u == SOURCE)

    def fake(inst: HelixInstance, ranges: Any, mode: Any, max_hops: int) -> FlowResult:
        return FlowResult(value, {}, {}, dict(edge_flow), [])

    monkeypatch.setattr(latency, "hop_limited_flow", fake)


def test_hop_flow_with_a_path_over_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_hop_flow(monkeypatch, {(SOURCE, "n0"): 80.0, ("n0", SINK): 80.0, (SOURCE, "n1"): 40.0, ("n1", "n2"): 40.0,
                                 ("n2", SINK): 40.0})  # fmt: skip
    with _fails("helix verification: a path of 2 nodes exceeds --max-hops"):
        verify(INST, RANGES, "strict", max_hops=1)


def test_hop_flow_noise_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Flows up to 1e-6 of the value (at least 1e-6 tokens/s) are LP noise: ignored; above, they count."""
    long_path = [(SOURCE, "n1"), ("n1", "n2"), ("n2", SINK)]
    # value 0.500001 (< 1): a two-node path of exactly 1e-6 is noise, one of 1.5e-6 is a path over the limit
    _fake_hop_flow(monkeypatch, {(SOURCE, "n0"): 0.5, ("n0", SINK): 0.5, **dict.fromkeys(long_path, 1e-6)})
    assert verify(INST, RANGES, "strict", max_hops=1).value == pytest.approx(0.500001, rel=1e-12)
    _fake_hop_flow(monkeypatch, {(SOURCE, "n0"): 0.5, ("n0", SINK): 0.5, **dict.fromkeys(long_path, 1.5e-6)})
    with _fails("helix verification: a path of 2 nodes exceeds --max-hops"):
        verify(INST, RANGES, "strict", max_hops=1)
    # value 80.00001: the noise threshold is 8e-5, so 1e-5 on the long path is ignored
    _fake_hop_flow(monkeypatch, {(SOURCE, "n0"): 80.0, ("n0", SINK): 80.0, **dict.fromkeys(long_path, 1e-5)})
    assert verify(INST, RANGES, "strict", max_hops=1).value == pytest.approx(80.00001, rel=1e-12)
    # ... and so is 5e-5 on an edge that does not exist
    _fake_hop_flow(monkeypatch, {(SOURCE, "n0"): 80.0, ("n0", SINK): 80.0, ("n0", "n0"): 5e-5})
    assert verify(INST, RANGES, "strict", max_hops=1).value == 80.0
    # below a value of 1 the threshold is 1e-6: 1.5e-6 on a missing edge is an error
    _fake_hop_flow(monkeypatch, {(SOURCE, "n0"): 1.0, ("n0", SINK): 1.0, ("n0", "n0"): 1.5e-6})
    with _fails("helix verification: flow 1.5e-06 on a missing edge n0->n0"):
        verify(INST, RANGES, "strict", max_hops=1)


def test_hop_flow_over_a_node_or_on_a_partial_edge_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_hop_flow(monkeypatch, {(SOURCE, "n0"): 90.0, ("n0", SINK): 90.0})
    with _fails("helix verification: node_throughput[n0]: 90 > 80"):
        verify(INST, RANGES, "strict", max_hops=1)
    _fake_hop_flow(monkeypatch, {(SOURCE, "n1"): 10.0, ("n1", "n0"): 10.0, ("n0", SINK): 10.0})
    with _fails("helix verification: valid_edge[n1,n0]: flow 10 on an invalid edge"):
        verify(INST, RANGES, "strict", max_hops=1)


# ------------------------------------------------------------------------------------------------ check_bound
def test_milp_bound_is_recorded_not_recomputed() -> None:
    milp = check_bound(INST, "strict", "milp", 1.0)
    assert milp.value_tok_s == 1.0 and milp.independent is False and milp.label == SOLVER_CERTIFIED
    assert milp.detail == (
        "the MILP solver's dual bound; recomputing it means solving the MILP again, so it is not checked here"
    )


def test_block_bound_refused_in_partial_mode_with_its_reason() -> None:
    with _fails("helix verification: the solo/shared block bound holds under strict chaining only"):
        check_bound(INST, "partial", "block", 200.0)


def test_a_node_that_fits_no_layer_adds_nothing() -> None:
    """n2 has K = 0 (an empty tp table): each bound is the one of n0 (12, 5) and n1 (3,) alone.

    (Real instances never hold such a node: build_instance moves it to ``excluded``.)"""
    inst = tiny_instance([(12.0, 5.0), (3.0,), ()], layers=2)
    _accepts_and_refuses_below(inst, "compute", 7.5, 7.4)  # (max(12, 2 * 5) + 3) / 2
    _accepts_and_refuses_below(inst, "coordinator_cut", 15.0, 14.9)  # 12 + 3 + 0 leave the source
    _accepts_and_refuses_below(inst, "covering", 6.5, 6.4)  # max(min(12, F), 2 min(5, F)) + min(3, F) >= 2F


def test_coordinator_cut_on_the_sink_side() -> None:
    # Two nodes of 100 tok/s, links to the sink of 30 tok/s each: 60 reach the sink.
    inst = tiny_instance([(100.0,), (100.0,)], layers=2)
    edges = tuple(HelixEdge(e.src, e.dst, 30.0, 1.0, 0.0) if e.dst == SINK else e for e in inst.edges)
    sink_cut = inst.with_edges(edges)
    _accepts_and_refuses_below(sink_cut, "coordinator_cut", 60.0, 59.9)


def test_covering_nodes_holding_the_whole_model() -> None:
    """L = 1: a and b (100 tok/s) each hold the model; a's source link carries 1 and its sink link 10, b's the
    reverse. Each node carries min(source, sink) = 1, so 2 tok/s in all (the region's cuts carry 11 each way)."""
    links = {(SOURCE, "a"): 1.0, ("a", SINK): 10.0, (SOURCE, "b"): 10.0, ("b", SINK): 1.0}
    # links between a and b (10 tok/s each way) carry nothing useful here but make each node's in/out totals 11+
    inst = _instance(1, [("a", (100.0,)), ("b", (100.0,))], {**links, ("a", "b"): 10.0, ("b", "a"): 10.0})
    assert flow_value(inst, {"a": (0, 1), "b": (0, 1)}) == pytest.approx(2.0)
    _accepts_and_refuses_below(inst, "covering", 2.0, 1.98)


# Three one-layer nodes of 100 tok/s, L = 2 (tokens/s per link):
#   a: source 1, sink 50, to b 10, to c 10, from b 1, from c 1 -> links in 3, out 70: carries 3
#   b: source 50, sink 1, from a 10, from c 1, to a 1, to c 1  -> links in 61, out 3: carries 3
#   c: source 50, sink 50, from a 10, from b 1, to a 1, to b 1 -> a one-layer node needs a compute neighbour:
#      max(compute in 11, compute out 2) = 11
# Covering: min(3, F) + min(3, F) + min(11, F) >= 2F up to F = 6 (the region's cuts carry 101 each way).
THREE = {
    (SOURCE, "a"): 1.0, ("a", SINK): 50.0, ("a", "b"): 10.0, ("a", "c"): 10.0, ("b", "a"): 1.0, ("c", "a"): 1.0,
    (SOURCE, "b"): 50.0, ("b", SINK): 1.0, ("b", "c"): 1.0, ("c", "b"): 1.0,
    (SOURCE, "c"): 50.0, ("c", SINK): 50.0,
}  # fmt: skip


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reversed"])
def test_covering_node_links_in_out_and_compute(reverse: bool) -> None:
    """Reversing every link (source <-> sink) swaps in and out: the bound stays 6."""
    flip = {SOURCE: SINK, SINK: SOURCE}
    edges = {(flip.get(v, v), flip.get(u, u)): c for (u, v), c in THREE.items()} if reverse else THREE
    inst = _instance(2, [("a", (100.0,)), ("b", (100.0,)), ("c", (100.0,))], edges)
    _accepts_and_refuses_below(inst, "covering", 6.0, 5.94)


def test_covering_region_cut_on_the_sink_side() -> None:
    """The mirror of test_verify_certificates' regions: region a (n0, n1: (100, 100)) sends 1 tok/s per sink link,
    region b (n2: (100,)), 1 tok/s across. Strict covering: region a's links 2 * 2 + 1 * 2 = 6 layer-work (two
    sink links, two links out to b), plus n2's 2: 8 >= 2F up to F = 4."""
    base = tiny_instance([(100, 100), (100, 100), (100,)], layers=2, regions=["a", "a", "b"], inter_tok_s=1.0)
    region = {n.name: n.region for n in base.nodes}
    edges = tuple(
        HelixEdge(e.src, e.dst, 1.0, 1.0, 0.0) if e.dst == SINK and region[e.src] == "a" else e for e in base.edges
    )
    _accepts_and_refuses_below(base.with_edges(edges), "covering", 4.0, 3.96)


def test_block_bound_of_parallel_slow_nodes() -> None:
    """Three nodes of (1, 1) tok/s, L = 2: each holds both layers, 3 tok/s in all, and the block argument proves
    exactly 3 (at lambda = 1 each node holds 2 / F layers). Claims just below are beaten by that placement."""
    inst = tiny_instance([(1.0, 1.0)] * 3, layers=2, bandwidth_bytes_s=FAST)
    whole = {"n0": (0, 2), "n1": (0, 2), "n2": (0, 2)}
    assert flow_value(inst, whole) == pytest.approx(3.0)
    check = check_bound(inst, "strict", "block", 3.0)
    assert check.witness["lambda"] == pytest.approx(1.0, abs=1e-9)
    for claim in (2.97, 2.999, 2.5):
        with pytest.raises(VerificationError, match="block bound claims"):
            check_bound(inst, "strict", "block", claim)


def test_block_bound_whose_multiplier_lies_between_grid_points() -> None:
    """Three nodes (4, 1), L = 2. Placement n0 [0, 1) -> n1 [1, 2) carries 4, n2 holding both layers 1: 5 tok/s.

    At F = 5 no node is solo; a node holds max(lambda 4/5 + (1 - lambda)/2, 2 (lambda/5 + (1 - lambda)/2)) =
    max(1/2 + 3/10 lambda, 1 - 3/5 lambda) layers: the terms meet at lambda = 5/9, where each node holds 2/3 layer
    and the three hold exactly L = 2. So the block bound is 5, proved only near lambda = 5/9 (off the search's
    grid of 1/200 steps: at 0.555 the nodes hold 2.001 layers, at 0.56 2.004)."""
    inst = tiny_instance([(4.0, 1.0)] * 3, layers=2, bandwidth_bytes_s=FAST)
    assert flow_value(inst, {"n0": (0, 1), "n1": (1, 2), "n2": (0, 2)}) == pytest.approx(5.0)
    check = check_bound(inst, "strict", "block", 5.0)
    assert check.witness["lambda"] == pytest.approx(5 / 9, abs=1e-6)
    with pytest.raises(VerificationError, match="block bound claims"):
        check_bound(inst, "strict", "block", 4.95)


def test_block_bound_subtracts_the_two_smallest_penalties() -> None:
    """Region b: n0 (5,) and n1 (11, 11) hold 3 of L = 4 layers; region a: n2 (4, 3). Every chain runs through n2,
    at most 4 tok/s (n2 [0, 1) -> n1 [1, 3) -> n0 [3, 4) carries 4), and the wide links are capped at n2's 4.

    Just above 4 two nodes are shared. At lambda = 0: n0 is solo with 1 layer (shared it would hold 1/2: penalty
    1/2), n1 solo with 2 (shared 1: penalty 1), n2 only shared, 1 layer (penalty 0). 1 + 2 + 1 = 4 layers minus
    the two smallest penalties 0 + 1/2 = 3.5 < 4: the bound 4 holds, and needs both penalties."""
    inst = tiny_instance([(5.0,), (11.0, 11.0), (4.0, 3.0)], layers=4, regions=["b", "b", "a"], inter_tok_s=6.0)
    assert flow_value(inst, {"n2": (0, 1), "n1": (1, 3), "n0": (3, 4)}) == pytest.approx(4.0)
    check = check_bound(inst, "strict", "block", 4.0)
    assert check.witness == {"lambda": 0.0, "forced_shared_nodes": 2.0}
    assert check.detail.startswith("at lambda 0.000000 the nodes hold 3.500000 layers < L = 4 (2 forced shared)")
    with pytest.raises(VerificationError, match="block bound claims"):
        check_bound(inst, "strict", "block", 3.96)


def test_block_bound_when_a_region_holds_exactly_the_model() -> None:
    """Region a holds 2 + 2 = 4 = L layers: an all-solo chain stays inside it (n0 -> n1 carries 6 tok/s), so the
    slow links to region b force no sharing and 3 tok/s is no bound."""
    inst = tiny_instance([(10, 6), (10, 6), (10,)], layers=4, regions=["a", "a", "b"], inter_tok_s=3.0)
    assert flow_value(inst, {"n0": (0, 2), "n1": (2, 4), "n2": (3, 4)}) == pytest.approx(6.0)
    with pytest.raises(VerificationError, match="block bound claims"):
        check_bound(inst, "strict", "block", 3.0)


def test_block_bound_at_a_wide_link_of_exactly_the_flow() -> None:
    """Region a holds 4 of L = 5 layers, the links to b carry exactly F' (the flow the claim 3 must exclude): an
    all-solo chain n0 -> n1 -> n2 carries F', so the claim is refused."""
    at = _at(3.0)
    inst = tiny_instance([(10, 6), (10, 6), (10,)], layers=5, regions=["a", "a", "b"], inter_tok_s=at)
    assert flow_value(inst, {"n0": (0, 2), "n1": (2, 4), "n2": (4, 5)}) == pytest.approx(at, rel=1e-12)
    with pytest.raises(VerificationError, match="block bound claims"):
        check_bound(inst, "strict", "block", 3.0)


def test_block_bound_against_a_node_running_exactly_the_flow() -> None:
    at = _at(5.0)  # one node holding both layers at exactly F': the claim 5 is beaten
    inst = tiny_instance([(at, at)], layers=2, bandwidth_bytes_s=FAST)
    assert flow_value(inst, {"n0": (0, 2)}) == at
    with pytest.raises(VerificationError, match="block bound claims"):
        check_bound(inst, "strict", "block", 5.0)


def test_block_bound_with_regions_that_cannot_reach_each_other() -> None:
    """Region a holds 4 of L = 5 layers, b 1, and no link joins them: no flow at all, which the forced-sharing
    argument proves (bound 0); without it the layers would just fit."""
    base = tiny_instance([(10, 6), (10, 6), (10,)], layers=5, regions=["a", "a", "b"])
    region = {n.name: n.region for n in base.nodes}
    inst = base.with_edges(
        e for e in base.edges if e.src in (SOURCE,) or e.dst == SINK or region[e.src] == region[e.dst]
    )
    check = check_bound(inst, "strict", "block", 0.0)
    assert check.witness["forced_shared_nodes"] == 2.0


def test_hop_bound_with_two_nodes_per_path() -> None:
    """n0 and n1 of 10 tok/s hold one layer each (L = 2): with two nodes per path the chain carries 10, which the
    hop argument proves at mu = 0 (2 * 10 layer-work >= 2F) and which beats any claim below."""
    inst = tiny_instance([(10.0,), (10.0,)], layers=2, bandwidth_bytes_s=FAST)
    assert verify(inst, {"n0": (0, 1), "n1": (1, 2)}, "strict", max_hops=2).value == pytest.approx(10.0)
    check = check_bound(inst, "strict", "hop", 10.0, max_hops=2)
    short = 2 * 10.0 - 2 * _at(10.0)
    assert check.witness["mu"] == 0.0
    assert check.detail == f"at mu 0.000000 the layer-work falls {-short:.6f} short of (L - mu H) F'"
    assert check.detail == "at mu 0.000000 the layer-work falls 0.000020 short of (L - mu H) F'"
    with pytest.raises(VerificationError, match="hop bound claims"):
        check_bound(inst, "strict", "hop", 9.9, max_hops=2)


# ------------------------------------------------------------------------------------------ check_certificate
MILP = {"bound": "milp", "value_tok_s": 1.0, "label": SOLVER_CERTIFIED}


def _cert(**kw: Any) -> Any:
    args: dict[str, Any] = {
        "certificate": MILP,
        "objective_tok_s": 1.0,
        "best_bound_tok_s": 1.0,
        "status": "optimal",
        "rel_gap": 0.0,
    }
    args.update(kw)
    return check_certificate(INST, "strict", **args)


def test_certificate_without_a_value() -> None:
    with _fails("helix verification: certificate bound nan tokens/s != plan's best bound 1.000000"):
        _cert(certificate={"bound": "milp", "label": SOLVER_CERTIFIED})


def test_certificate_value_matches_the_best_bound_to_a_millionth() -> None:
    _cert(best_bound_tok_s=1.0000005)  # relative 5e-7
    _cert(certificate={**MILP, "value_tok_s": 0.0}, objective_tok_s=0.0, best_bound_tok_s=1e-10)  # absolute 1e-9
    with pytest.raises(VerificationError, match="!= plan's best bound"):
        _cert(best_bound_tok_s=1.000002)


def test_hop_certificate_is_checked_at_its_hop_limit() -> None:
    hop = {"bound": "hop", "value_tok_s": 160.0, "label": INDEPENDENT}
    checked = check_certificate(INST, "strict", hop, 160.0, 160.0, "optimal", 0.0, max_hops=1)
    assert checked.kind == "hop" and checked.independent


def test_optimal_label_at_the_edge_of_its_gap() -> None:
    edge = 1.0 / (1 + 0.01) * (1 - REL_TOL) - 1e-9  # the lowest throughput a 1 % gap allows
    _cert(objective_tok_s=edge, rel_gap=0.01)
    _cert(objective_tok_s=1.0 * (1 - REL_TOL))  # gap 0: relative 1e-6 below the bound
    with pytest.raises(VerificationError, match="labelled optimal"):
        _cert(objective_tok_s=1.0 * (1 - REL_TOL) - 3e-9)
    with _fails(
        "helix verification: labelled optimal at 0.500000 tokens/s, but the certified bound 1.000000 is "
        "100.0000% above (allowed gap 0.0000%)"
    ):
        _cert(objective_tok_s=0.5)


def test_throughput_at_the_edge_of_the_certified_bound() -> None:
    _cert(objective_tok_s=1.0 * (1 + CERT_TOL) + 1e-9, status="feasible")  # exactly the tolerance
    _cert(objective_tok_s=1.0 * (1 + CERT_TOL), status="feasible")
    with _fails("helix verification: throughput 1.000001 tokens/s exceeds the certified bound 1.000000"):
        _cert(objective_tok_s=1.0 * (1 + CERT_TOL) + 3e-9, status="feasible")


# ------------------------------------------------------------------------------------- check_plan_certificate
def _doc(certificate: dict[str, Any] | None, throughput: float, best: float, **extra: Any) -> dict[str, Any]:
    bounds: dict[str, Any] = {"best_tok_s": best}
    if certificate is not None:
        bounds["certificate"] = certificate
    return {
        "plan": {"mode": extra.pop("mode", "strict"), "bounds": bounds},
        "solver": {"status": extra.pop("status", "optimal")},
        "metrics": {"throughput_tok_s": throughput},
        **extra,
    }


def test_plan_document_without_a_certificate() -> None:
    with _fails("helix verification: the plan is labelled optimal without a certificate"):
        check_plan_certificate(INST, _doc(None, 120.0, 185.0))
    assert check_plan_certificate(INST, _doc(None, 120.0, 185.0, status="feasible")) is None


def test_plan_document_options_gap_and_hops() -> None:
    compute = {"bound": "compute", "value_tok_s": 185.0, "label": INDEPENDENT}
    # no inputs, or no options: gap 0 and no hop limit
    assert check_plan_certificate(INST, _doc(compute, 185.0, 185.0)) is not None
    assert check_plan_certificate(INST, _doc(compute, 185.0, 185.0, inputs={})) is not None
    assert check_plan_certificate(INST, _doc(compute, 185.0, 185.0, inputs={"options": {}})) is not None
    with pytest.raises(VerificationError, match="labelled optimal at 166"):
        check_plan_certificate(INST, _doc(compute, 166.5, 185.0, inputs={"options": {}}))  # 10 % under, gap 0
    # the plan's gap: 184 is within 1 % of 185
    assert check_plan_certificate(INST, _doc(compute, 184.0, 185.0, inputs={"options": {"gap": 0.01}})) is not None
    # the plan's hop limit: 160 proven with one node per path
    hop = {"bound": "hop", "value_tok_s": 160.0, "label": INDEPENDENT}
    checked = check_plan_certificate(INST, _doc(hop, 160.0, 160.0, inputs={"options": {"gap": 0.0, "max_hops": 1}}))
    assert checked is not None and checked.kind == "hop"


def test_plan_document_mode_partial() -> None:
    """The regions instance of test_verify_certificates: covering proves 4 under strict chaining, 9 under partial."""
    base = tiny_instance([(100, 100), (100, 100), (100,)], layers=2, regions=["a", "a", "b"], inter_tok_s=1.0)
    region = {n.name: n.region for n in base.nodes}
    inst = base.with_edges(
        HelixEdge(e.src, e.dst, 1.0, 1.0, 0.0) if e.src == SOURCE and region[e.dst] == "a" else e for e in base.edges
    )
    strict = {"bound": "covering", "value_tok_s": 4.0, "label": INDEPENDENT}
    partial = {"bound": "covering", "value_tok_s": 9.0, "label": INDEPENDENT}
    assert check_plan_certificate(inst, _doc(strict, 4.0, 4.0)) is not None
    assert check_plan_certificate(inst, _doc(partial, 9.0, 9.0, mode="partial")) is not None
    with pytest.raises(VerificationError, match="covering bound claims no flow above 4"):
        check_plan_certificate(inst, _doc(strict, 4.0, 4.0, mode="partial"))


def test_max_flow_of_the_worked_instance_is_unchanged() -> None:
    # guard for the figures above: INST and RANGES as in test_verify.py
    assert max_flow(INST, RANGES, "strict").value == pytest.approx(120.0)
