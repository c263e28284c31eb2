"""Exact layer-covering bounds on hand-computed tiny instances: every exit of ``covering_bound`` (issue 17).

Each case states the arithmetic that gives the value, so a changed comparison, constant or branch shows up as a
wrong number or a wrong description rather than a bound that is merely still valid.
"""

from __future__ import annotations

import pytest

from planner.helix.bounds import (
    _forced_shared_above,
    _lambda_min,
    _largest_passing,
    block_bound,
    compute_bound,
    covering_bound,
    edge_ceiling,
    single_pipeline,
)
from planner.helix.instance import SINK, SOURCE, HelixEdge, HelixInstance
from tests.unit.helix.tiny import brute_force, tiny_instance

REL = 1e-7


def _with_edges(inst: HelixInstance, capacity: dict[str, float]) -> HelixInstance:
    """``inst`` with edge capacities replaced by kind: "source", "sink", "compute" (node to node)."""

    def kind(e: HelixEdge) -> str:
        return "source" if e.src == SOURCE else "sink" if e.dst == SINK else "compute"

    edges = tuple(HelixEdge(e.src, e.dst, capacity.get(kind(e), e.capacity_tok_s), 1.0, 0.0) for e in inst.edges)
    return HelixInstance(inst.name, "toy", inst.layers, inst.nodes, edges, 2, 16384)


def test_no_node_that_can_hold_a_layer_gives_zero() -> None:
    bound = covering_bound(tiny_instance([(0,)], layers=1))
    assert bound.value == 0.0
    assert bound.compute_bound == 0.0
    assert bound.describe == "no node can hold a layer"
    assert bound.binding_regions == [] and bound.link_limited_nodes == []


def test_node_throughput_alone_hand_computed() -> None:
    # A: (12, 5), B: (3,), L = 2, fast links. Work at flow F: max(min(12, F), 2 min(5, F)) + min(3, F) >= 2F.
    # For 5 <= F <= 10 the left side is 10 + 3 = 13, so F = 6.5. The compute bound is (12 + 3) / 2 = 7.5.
    inst = tiny_instance([(12, 5), (3,)], layers=2)
    for bound in (covering_bound(inst), covering_bound(inst, links=False), covering_bound(inst, "partial")):
        assert bound.value == pytest.approx(6.5, rel=REL)
        assert bound.value >= 6.5  # the bisection keeps the upper end: never below the true bound
        assert bound.compute_bound == pytest.approx(7.5)
        assert bound.describe == "layer covering (node throughput)"
        assert bound.binding_regions == [] and bound.link_limited_nodes == []


def test_node_link_limits_bind_and_links_false_ignores_them() -> None:
    # Two (100,) nodes, L = 2, node-to-node links of 4 tok/s: each node holds one layer, so its flow must cross
    # a compute link: at most 4 each, work 4 + 4 >= 2F gives F = 4. Without links the bound is 2 * 100 / 2 = 100.
    slow = _with_edges(tiny_instance([(100,), (100,)], layers=2), {"compute": 4.0})
    bound = covering_bound(slow)
    assert bound.value == pytest.approx(4.0, rel=REL)
    assert bound.compute_bound == pytest.approx(100.0)
    assert bound.describe == "layer covering with node link limits (2 nodes)"
    assert bound.link_limited_nodes == ["n0", "n1"]
    assert bound.binding_regions == []
    free = covering_bound(slow, links=False)
    assert free.value == pytest.approx(100.0, rel=REL)
    assert free.describe == "layer covering (node throughput)"
    assert free.link_limited_nodes == []


def test_coordinator_cut_returns_exactly_the_cut() -> None:
    # Source links of 30 tok/s into each of two (100,) nodes: the cut is 60 < 100, and covering allows 60
    # (2 * min(100, 60) = 120 = 2 * 60), so the cut itself is the bound, with no bisection.
    inst = _with_edges(tiny_instance([(100,), (100,)], layers=2), {"source": 30.0})
    for links in (True, False):
        bound = covering_bound(inst, links=links)
        assert bound.value == 60.0
        assert bound.compute_bound == pytest.approx(100.0)
        assert bound.describe == "coordinator link cut"


def test_zero_capacity_source_links_give_zero() -> None:
    inst = _with_edges(tiny_instance([(100,), (100,)], layers=2), {"source": 0.0})
    bound = covering_bound(inst)
    assert bound.value == 0.0
    assert bound.describe == "coordinator link cut"


def test_coordinator_cut_that_covering_beats_falls_through_to_the_bisection() -> None:
    # Cut 60 as above, but node-to-node links of 4 tok/s: covering fails at 60 and gives 4 (second test).
    inst = _with_edges(tiny_instance([(100,), (100,)], layers=2), {"source": 30.0, "compute": 4.0})
    bound = covering_bound(inst)
    assert bound.value == pytest.approx(4.0, rel=REL)
    assert bound.describe == "layer covering with node link limits (2 nodes)"


def test_region_link_cut_binds_strict_and_partial() -> None:
    # Region a: n0, n1 with (100, 100); region b: n2 with (100,); L = 2; inter-region links 1 tok/s, the source
    # links into region a 1 tok/s each (source -> a: 2 in all). Compute bound (200 + 200 + 100) / 2 = 250;
    # coordinator cut min(2 + 100, 300) = 102, which covering rejects.
    # Node limits: n0 holding both layers only uses coordinator links, min(1, 100) = 1, so n0 (and n1) add at most
    # max(min(100, F), 2 * 1) = F of work; n2 (one layer) must cross to region a: max(1 + 1, ...) = 2.
    # Region a's link term, strict: min(L, 4) * min(F, 2) + min(L - 1, 4) * (1 + 1) = 2 * 2 + 2 = 6.
    # 2F <= min(2F, 6) + min(2, F) gives F = 4 with region a binding (6 < 8).
    # Partial mode counts all 4 layer slots: 4 * 2 + 4 * 2 = 16, so 2F <= min(2F, 16) + 2 gives F = 9.
    base = tiny_instance([(100, 100), (100, 100), (100,)], layers=2, regions=["a", "a", "b"], inter_tok_s=1.0)
    region = {n.name: n.region for n in base.nodes}
    edges = tuple(
        HelixEdge(e.src, e.dst, 1.0, 1.0, 0.0) if e.src == SOURCE and region[e.dst] == "a" else e for e in base.edges
    )
    inst = HelixInstance("regions", "toy", 2, base.nodes, edges, 2, 16384)
    strict = covering_bound(inst)
    assert strict.value == pytest.approx(4.0, rel=REL)
    assert strict.compute_bound == pytest.approx(250.0)
    assert strict.binding_regions == ["a"]
    assert strict.describe == "layer covering with link cuts (region a)"
    partial = covering_bound(inst, "partial")
    assert partial.value == pytest.approx(9.0, rel=REL)
    assert partial.binding_regions == ["a"]
    free = covering_bound(inst, links=False)
    assert free.value == 102.0
    assert free.describe == "coordinator link cut"


def test_block_bound_charges_shared_nodes_half_their_layers() -> None:
    # A: (12, 5), B: (3,), L = 2. Above F = 5 only A's first layer is solo (12 >= F); at lambda = 0 a shared node
    # counts half its layers: A max(1, 2 / 2) = 1, B 1 / 2, so 1.5 < 2 layers: excluded. At F = 5, A holds both
    # layers solo. The block bound is the enumerated optimum 5, tighter than the covering bound 6.5.
    inst = tiny_instance([(12, 5), (3,)], layers=2)
    cov = covering_bound(inst).value
    for links in (True, False):
        blk = block_bound(inst, cov, links=links)
        assert 5.0 <= blk <= 5.0 * (1 + 1e-9)
    assert brute_force(inst)[0] == pytest.approx(5.0)


def test_block_bound_meets_covering_when_covering_is_tight() -> None:
    # A: (10, 6), B: (10,), L = 3: covering max(min(10, F), 2 min(6, F)) + min(10, F) >= 3F gives F = 6, which A
    # holding two layers and B one achieve; the block bound cannot go below it.
    inst = tiny_instance([(10, 6), (10,)], layers=3)
    cov = covering_bound(inst).value
    assert cov == pytest.approx(6.0, rel=REL)
    assert 6.0 <= block_bound(inst, cov) <= 6.0 * (1 + 1e-9)
    assert brute_force(inst)[0] == pytest.approx(6.0)


def test_forced_sharing_applies_only_when_no_region_holds_the_model() -> None:
    # Region a holds 2 + 2 = 4 layers, b holds 1. With L = 5 no region holds the model: above the fastest
    # cross-region link (3 tok/s) two nodes are shared, which caps the block bound at 3 (no links: 6).
    five = tiny_instance([(10, 6), (10, 6), (10,)], layers=5, regions=["a", "a", "b"], inter_tok_s=3.0)
    assert _forced_shared_above(five) == 3.0
    cov = covering_bound(five)
    assert cov.value == pytest.approx(6.0, rel=REL)
    assert cov.describe == "layer covering with node link limits (1 nodes)"
    assert cov.link_limited_nodes == ["n2"]
    assert 3.0 <= block_bound(five, cov.value) <= 3.0 * (1 + 1e-9)
    assert 6.0 <= block_bound(five, cov.value, links=False) <= 6.0 * (1 + 1e-9)
    # With L = 4 region a alone holds the model; with one region there is nothing to cross.
    four = tiny_instance([(10, 6), (10, 6), (10,)], layers=4, regions=["a", "a", "b"], inter_tok_s=3.0)
    assert _forced_shared_above(four) is None
    assert _forced_shared_above(tiny_instance([(10, 6), (10, 6), (10,)], layers=5)) is None


def test_largest_passing_returns_the_threshold_from_above() -> None:
    assert 3.0 <= _largest_passing(lambda f: f <= 3.0, 10.0) <= 3.0 * (1 + 1e-10)
    # Nothing excluded: the (slightly widened) upper end itself.
    assert _largest_passing(lambda f: True, 10.0) == 10.0 * (1 + 1e-12) + 1e-9
    assert 0.0 < _largest_passing(lambda f: f <= 0.0, 10.0) <= 1e-9


def test_lambda_min_finds_interior_and_end_point_minima() -> None:
    assert _lambda_min(lambda x: abs(x - 0.3) + 1.0) == pytest.approx(1.0, abs=1e-12)
    assert _lambda_min(lambda x: 2.0 - x) == pytest.approx(1.0, abs=1e-12)
    assert _lambda_min(lambda x: 2.0 + x) == pytest.approx(2.0, abs=1e-12)


@pytest.mark.parametrize(
    "tables,layers,hops,target,chain",
    [
        # At 12 only A's first layer qualifies (one layer); at 5 A holds both layers alone.
        ([(12, 5), (3,)], 2, None, 5.0, [("n0", 2)]),
        # At 10 each node holds one layer (two nodes); with one hop, 8 lets n0 hold both (first node wins ties).
        ([(10, 8), (10, 8)], 2, None, 10.0, [("n0", 1), ("n1", 1)]),
        ([(10, 8), (10, 8)], 2, 1, 8.0, [("n0", 2)]),
        # Fewest nodes at 5: one node with 2 layers and one with 1.
        ([(9, 5, 4), (9, 5, 4), (3,)], 3, None, 5.0, [("n0", 1), ("n1", 2)]),
        ([(9, 5, 4), (9, 5, 4), (3,)], 3, 1, 4.0, [("n0", 3)]),
        ([(10, 6), (10,)], 3, None, 6.0, [("n0", 2), ("n1", 1)]),
    ],
)
def test_single_pipeline_exact(tables, layers, hops, target, chain) -> None:
    sp = single_pipeline(tiny_instance(tables, layers), max_hops=hops)
    assert sp is not None
    assert sp.target_tok_s == target
    assert sp.chain == chain
    start = 0
    for name, k in chain:
        assert sp.ranges[name] == (start, start + k)
        start += k
    assert start == layers


def test_single_pipeline_none_when_no_chain_fits() -> None:
    assert single_pipeline(tiny_instance([(10, 6), (10,)], layers=3), max_hops=1) is None  # no node holds 3
    assert single_pipeline(tiny_instance([(10,), (10,)], layers=3)) is None  # 2 layers in all
    assert single_pipeline(tiny_instance([(0,), (0,)], layers=1)) is None  # no positive throughput


def test_compute_bound_and_edge_ceiling_hand_computed() -> None:
    inst = tiny_instance([(12, 5), (3,)], layers=2)
    assert compute_bound(inst) == 7.5  # (max(12, 2 * 5) + 3) / 2
    assert edge_ceiling(inst, SOURCE, "n0", 1000.0) == 12.0  # clipped at n0's best throughput
    assert edge_ceiling(inst, "n0", "n1", 1000.0) == 3.0  # and at n1's
    assert edge_ceiling(inst, "n1", SINK, 2.0) == 2.0  # the capacity itself when it is smaller
    assert edge_ceiling(inst, SOURCE, SINK, 7.0) == 7.0
