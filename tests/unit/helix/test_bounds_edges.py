"""Edge cases of the Helix bounds that the mutation run of ``planner/helix/bounds.py`` found untested (issue 17).

Sub-unit throughputs (every bound is homogeneous in throughput, so a model scaled down below 1 tok/s has the same
bounds scaled down), a node without a throughput table, two regions whose links bind at once, a lone node whose
links are exactly as fast as it is, forced sharing whose layer count is exactly L, and the bisections' stopping
rules and caps. Expected values are worked out by hand in the comments, or checked against the brute-force optimum.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

import planner.helix.bounds as bounds
from planner.helix.bounds import (
    _forced_shared_above,
    _lambda_min,
    _largest_passing,
    block_bound,
    compute_bound,
    covering_bound,
    edge_ceiling,
    hop_bound,
    single_pipeline,
)
from planner.helix.instance import SINK, SOURCE, HelixEdge, HelixInstance
from tests.unit.helix.tiny import brute_force, tiny_instance

REL = 1e-7


def _edges(inst: HelixInstance, capacity: Callable[[HelixEdge], float | None]) -> HelixInstance:
    """``inst`` with the capacity of every edge for which ``capacity`` returns a number replaced by it."""
    edges = tuple(
        e if capacity(e) is None else HelixEdge(e.src, e.dst, float(capacity(e) or 0.0), 1.0, 0.0) for e in inst.edges
    )
    return HelixInstance(inst.name, "toy", inst.layers, inst.nodes, edges, 2, 16384)


def _compute_links(value: float) -> Callable[[HelixEdge], float | None]:
    return lambda e: value if e.src != SOURCE and e.dst != SINK else None


def _source_and_compute(source: float, compute: float) -> Callable[[HelixEdge], float | None]:
    return lambda e: source if e.src == SOURCE else compute if e.dst != SINK else None


# --- throughputs below 1 tok/s --------------------------------------------------------------------------------------


def test_sub_unit_covering_and_block_bounds_scale_with_the_tables() -> None:
    # test_bounds_exact's A: (12, 5), B: (3,), L = 2 scaled by 1/100: covering 0.065, block 0.05 (the enumerated
    # optimum), compute bound 0.075. Nothing here may be treated as "no throughput" for being below 1.
    inst = tiny_instance([(0.12, 0.05), (0.03,)], layers=2)
    assert compute_bound(inst) == pytest.approx(0.075)
    cov = covering_bound(inst)
    assert cov.value == pytest.approx(0.065, rel=REL)
    assert cov.value >= 0.065
    assert cov.describe == "layer covering (node throughput)"
    blk = block_bound(inst, cov.value)
    assert 0.05 <= blk <= 0.05 * (1 + 1e-9) + 1e-11
    assert brute_force(inst)[0] == pytest.approx(0.05)


def test_sub_unit_coordinator_cut_still_checked_against_covering() -> None:
    # Two (1,) nodes, L = 2, source links 0.3 each (cut 0.6 < compute bound 1), node-to-node links 0.04: each node
    # holds one layer and its flow must cross a compute link, so covering gives 0.04 + 0.04 >= 2F, F = 0.04.
    inst = _edges(tiny_instance([(1.0,), (1.0,)], layers=2), _source_and_compute(0.3, 0.04))
    bound = covering_bound(inst)
    assert bound.value == pytest.approx(0.04, rel=REL)
    assert bound.describe == "layer covering with node link limits (2 nodes)"


def test_sub_unit_hop_bound_and_single_pipeline() -> None:
    # (0.10, 0.08) twice, L = 2. One hop: each path is one node holding both layers, 2 * 0.08 = 0.16 in all.
    # A single pipeline: each node holds one layer at 0.10.
    inst = tiny_instance([(0.10, 0.08), (0.10, 0.08)], layers=2)
    assert 0.16 <= hop_bound(inst, 1, 0.2) <= 0.16 * (1 + 1e-9) + 1e-11  # below 1 the search stops at 1e-11
    sp = single_pipeline(inst)
    assert sp is not None and sp.target_tok_s == 0.10
    assert sp.chain == [("n0", 1), ("n1", 1)]
    one = single_pipeline(tiny_instance([(0.5,)], layers=1))
    assert one is not None and one.target_tok_s == 0.5


def test_forced_sharing_threshold_below_one() -> None:
    # The fastest link between regions carries 0.5 tok/s: sharing is forced above 0.5, not above 1.
    inst = tiny_instance([(10, 6), (10, 6), (10,)], layers=5, regions=["a", "a", "b"], inter_tok_s=0.5)
    assert _forced_shared_above(inst) == 0.5


# --- a node without a throughput table ------------------------------------------------------------------------------


def test_node_without_a_table_adds_nothing() -> None:
    # n0 has no table (K = 0): its edges can carry nothing, and it adds no layer-work. n1: (10, 4), L = 2, holds the
    # whole model only at 4 tok/s (2 * min(4, F) >= 2F); its one-layer size would need n0, whose links carry 0.
    inst = tiny_instance([(), (10, 4)], layers=2)
    assert edge_ceiling(inst, "n0", "n1", 100.0) == 0.0
    assert edge_ceiling(inst, "n1", "n0", 100.0) == 0.0
    assert edge_ceiling(inst, SOURCE, "n0", 100.0) == 0.0
    assert edge_ceiling(inst, "n0", SINK, 100.0) == 0.0
    assert compute_bound(inst) == 5.0
    bound = covering_bound(inst)
    assert bound.value == pytest.approx(4.0, rel=REL)
    assert bound.value >= 4.0
    assert brute_force(tiny_instance([(10, 4)], layers=2))[0] == pytest.approx(4.0)  # n1 alone


# --- which bound is named -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tp", [1.0, 10.0, 1e6])
def test_lone_node_is_limited_by_its_throughput_not_its_links(tp: float) -> None:
    # One node, one layer: the coordinator links are clipped at the node's throughput, so the cut equals the compute
    # bound and the region's link term equals its node term. Neither the links nor the region cut are the limit: the
    # bound is the node's throughput, never below the optimum (the node itself) and never above the compute bound.
    inst = tiny_instance([(tp,)], layers=1, bandwidth_bytes_s=1e12)
    best = brute_force(inst)[0]
    assert best == tp
    bound = covering_bound(inst)
    assert bound.describe == "layer covering (node throughput)"
    assert bound.binding_regions == [] and bound.link_limited_nodes == []
    assert tp <= bound.value <= tp * (1 + 1e-9) + 1e-9
    assert bound.compute_bound == tp


def test_two_regions_binding_at_once_are_both_named() -> None:
    # Regions a (n0, n1) and b (n2, n3), each node (100, 100), L = 2, links between regions 1 tok/s (4 each way).
    # The sink links out of a and the source links into b carry 1 tok/s each (2 per region).
    # Region a, leaving: min(L, 4) * min(F, 2) + min(L - 1, 4) * 4 = 4 + 4 = 8; region b, entering: likewise 8.
    # Each node holding both layers may only use its coordinator links (1 tok/s on one side), so it adds
    # max(min(100, F), 2 * 1) = F of work: 2F per region. 2F <= min(2F, 8) + min(2F, 8) gives F = 8, both binding.
    base = tiny_instance([(100, 100)] * 4, layers=2, regions=["a", "a", "b", "b"], inter_tok_s=1.0)
    region = {n.name: n.region for n in base.nodes}

    def slow(e: HelixEdge) -> float | None:
        if e.src == SOURCE and region[e.dst] == "b" or e.dst == SINK and region[e.src] == "a":
            return 1.0
        return None

    inst = _edges(base, slow)
    bound = covering_bound(inst)
    assert bound.value == pytest.approx(8.0, rel=REL)
    assert bound.binding_regions == ["a", "b"]
    assert bound.describe == "layer covering with link cuts (region a, region b)"
    assert brute_force(inst)[0] <= bound.value


def test_cut_just_above_the_covering_bound_is_not_named() -> None:
    # Two (100,) nodes, L = 2, node-to-node links of 4 tok/s: covering excludes every flow above
    # F* = 8 / (2 (1 - 1e-9)) (its relative tolerance). Source links put the coordinator cut 5e-13 above F*: the
    # covering argument is the tighter one, so it is the bound and it is what the report names.
    f_star = 8.0 / (2 * (1 - 1e-9))
    cut = f_star * (1 + 5e-13)
    inst = _edges(tiny_instance([(100.0,), (100.0,)], layers=2), _source_and_compute(cut / 2, 4.0))
    bound = covering_bound(inst)
    assert bound.describe == "layer covering with node link limits (2 nodes)"
    assert f_star <= bound.value <= f_star * (1 + 2e-12)


# --- block bound ----------------------------------------------------------------------------------------------------


def test_block_bound_uses_the_node_link_limits_only_with_links() -> None:
    # Two (100,) nodes, L = 2, node-to-node links of 4 tok/s: with links each node's flow is capped at 4 and the
    # block bound is 4; without them each node holds its layer solo at up to 100 tok/s.
    inst = _edges(tiny_instance([(100.0,), (100.0,)], layers=2), _compute_links(4.0))
    assert 4.0 <= block_bound(inst, 100.0) <= 4.0 * (1 + 1e-9)
    assert 100.0 <= block_bound(inst, 100.0, links=False) <= 100.0 * (1 + 1e-9)


def test_forced_sharing_with_exactly_l_layers_left_is_feasible() -> None:
    # Four (10,) nodes, regions a, a, b, b, L = 3, links between regions 1 tok/s: no region holds 3 layers, so above
    # 1 tok/s two nodes are shared. For 1 < F <= 10 every node is solo with 1 layer, shared it counts
    # (1 + lambda) / 2: charging two of them leaves 4 - 2 (1 - lambda) / 2 = 3 + lambda >= 3 = L layers, so F is not
    # excluded (exactly L is enough). Above 10 no node is solo: at lambda = 0 the four count 4 / 2 = 2 < 3.
    # The block bound is 10; the best plan carries 2 tok/s, which a bound that rejected "exactly L" would cut off.
    inst = tiny_instance([(10,)] * 4, layers=3, regions=["a", "a", "b", "b"], inter_tok_s=1.0)
    assert _forced_shared_above(inst) == 1.0
    best = brute_force(inst)[0]
    assert best == pytest.approx(2.0)
    blk = block_bound(inst, covering_bound(inst).value)
    assert 10.0 <= blk <= 10.0 * (1 + 1e-9)
    assert blk >= best


def test_block_bound_certificate_between_grid_points() -> None:
    # n0: (10, 3.7, 3), n1: (10,), n2: (12, 4), L = 2, one region (no forced sharing). Above 12 tok/s nobody is
    # solo, and each node counts max_k k (lambda tp(k) / F + (1 - lambda) / 2) layers. At lambda = F / (F + 1) n0's
    # 3-layer and 1-layer terms are equal (1.5 - lambda (1.5 - 9 / F) = 0.5 + lambda (10 / F - 0.5)); the total there,
    # with n1 and n2 on their 1-layer terms, is 1.5 + lambda (32 / F - 1.5) = 33.5 / (F + 1), the minimum over lambda
    # (the slope changes sign at that kink). 33.5 / (F + 1) >= 2 gives F <= 15.75; the certificate lambda = 63 / 67
    # is no multiple of 1 / 200, so a grid search would stop short. The best placement carries 14.
    inst = tiny_instance([(10, 3.7, 3), (10,), (12, 4)], layers=2)
    assert _forced_shared_above(inst) is None
    assert brute_force(inst)[0] == pytest.approx(14.0)
    blk = block_bound(inst, covering_bound(inst).value)
    assert 15.75 <= blk <= 15.75 + 16.75 * 1e-9 * 1.01 + 1e-9  # the test allows L (1 - 1e-9) layers


def test_forced_sharing_block_bound_from_lambda_one() -> None:
    # Three (10, 10, 10) nodes in regions a, b, c, L = 4, links between regions 2 tok/s. A node holding fewer than L
    # layers needs a compute neighbour, and its compute links carry 2 + 2 = 4: every tp(k) is capped at 4.
    # Above 2 tok/s two nodes are shared. Up to 4 each is solo with 3 layers: 9 - 2 * 1.5 (1 - lambda) >= 6 >= 4.
    # Above 4 nobody is solo and each counts 3 (4 lambda / F + (1 - lambda) / 2): the total 9 (4 lambda / F +
    # (1 - lambda) / 2) is linear in lambda, 4.5 at lambda = 0 and 36 / F at lambda = 1, so F <= 9 passes, with the
    # test's tolerance F <= 9 / (1 - 1e-9), found to 1e-11. Multipliers outside [0, 1] are no certificate (at
    # lambda = 1.005 the count would drop below 4 already at F = 8.995); leaving out lambda = 1 loses the bound.
    inst = tiny_instance([(10, 10, 10)] * 3, layers=4, regions=["a", "b", "c"], inter_tok_s=2.0)
    assert _forced_shared_above(inst) == 2.0
    assert brute_force(inst)[0] <= 9.0
    blk = block_bound(inst, covering_bound(inst).value)
    assert 9.0 <= blk <= 9.0 / (1 - 1e-9) * (1 + 1e-11)


@pytest.mark.parametrize(
    "tables,layers,regions,best",
    [
        # Region a: n1 (4, 4) and n2 (12,), 3 layers; b: n0 (8, 5, 5); L = 4; links between regions 2 tok/s.
        # Sharing is forced above 2, yet 4 tok/s is reachable: charging only the two cheapest shared nodes keeps it.
        ([(8, 5, 5), (4, 4), (12,)], 4, ["b", "a", "a"], 4.0),
        # Region a: n0 (12, 12) and n2 (8,), b: n1 (5, 3); L = 4; the two penalties come from different node
        # groups, and both are needed to prove the optimum 2.
        ([(12, 12), (5, 3), (8,)], 4, ["a", "b", "a"], 2.0),
    ],
)
def test_forced_sharing_block_bound_proves_the_enumerated_optimum(
    tables: list[tuple[float, ...]], layers: int, regions: list[str], best: float
) -> None:
    inst = tiny_instance(tables, layers, regions=regions, inter_tok_s=2.0)
    assert _forced_shared_above(inst) == 2.0
    assert brute_force(inst)[0] == pytest.approx(best)
    blk = block_bound(inst, covering_bound(inst).value)
    assert best <= blk <= best * (1 + 1e-9)


# --- single pipeline ------------------------------------------------------------------------------------------------


def test_single_pipeline_with_a_table_that_is_faster_at_two_layers() -> None:
    # n0: (9, 10) sustains 10 tok/s only with 2 layers (a measured table need not decrease), n1: (10,), L = 3.
    # At 10: n0 takes layers 1-2 and n1 the third; one layer count (1) is unreachable on the way.
    sp = single_pipeline(tiny_instance([(9, 10), (10,)], layers=3))
    assert sp is not None
    assert sp.target_tok_s == 10.0
    assert sp.chain == [("n0", 2), ("n1", 1)]


# --- the searches' stopping rules and caps --------------------------------------------------------------------------


def _halvings(needed_width: Callable[[float], float], start: float, answer: float) -> int:
    """Bisection steps from [0, start] until the bracket width is at most ``needed_width(answer)``."""
    n = 0
    while start / 2**n > needed_width(answer):
        n += 1
    return n


def _counting_checkpoints(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    monkeypatch.setattr(bounds, "checkpoint", lambda stage: calls.append(stage))
    return calls


@pytest.mark.parametrize(
    "tables,answer",
    [
        ([(12.0, 5.0), (3.0,)], 6.5),  # above 1 tok/s the tolerance is 1e-12 relative
        ([(0.12, 0.05), (0.03,)], 0.065),  # below 1 tok/s it is 1e-12 absolute
    ],
)
def test_covering_bisection_stops_at_its_tolerance(
    monkeypatch: pytest.MonkeyPatch, tables: list[tuple[float, ...]], answer: float
) -> None:
    # Without links only the bisection polls the deadline (once per halving). It starts from
    # [0, UB (1 + 1e-12) + 1e-9] and stops once the bracket is within 1e-12 * max(F, 1).
    inst = tiny_instance(tables, layers=2)
    ub = compute_bound(inst)
    calls = _counting_checkpoints(monkeypatch)
    bound = covering_bound(inst, links=False)
    assert bound.value == pytest.approx(answer, rel=REL)
    expected = _halvings(lambda f: 1e-12 * max(f, 1.0), ub * (1 + 1e-12) + 1e-9, answer)
    assert len(calls) == expected


def test_covering_bisection_is_capped_at_200_halvings(monkeypatch: pytest.MonkeyPatch) -> None:
    # (1e60, 1e-3), L = 2: covering allows max(min(1e60, F), 2 min(1e-3, F)) >= 2F only up to F = 1e-3, while the
    # compute bound is 5e59. Reaching 1e-12 from 5e59 would take about 238 halvings; the search stops after 200 with
    # a valid (loose) bound, 5e59 / 2^200 ~ 0.31.
    inst = tiny_instance([(1e60, 1e-3)], layers=2)
    calls = _counting_checkpoints(monkeypatch)
    bound = covering_bound(inst, links=False)
    assert len(calls) == 200
    assert 1e-3 <= bound.value <= 5e59 * (1 + 1e-9) / 2**199


def _counted(passes: Callable[[float], bool]) -> tuple[Callable[[float], bool], list[float]]:
    seen: list[float] = []

    def wrapped(f: float) -> bool:
        seen.append(f)
        return passes(f)

    return wrapped, seen


@pytest.mark.parametrize("threshold,upper", [(6.5, 7.5), (0.65, 0.75)])
def test_largest_passing_stops_at_its_tolerance(threshold: float, upper: float) -> None:
    # One look at the widened upper end, then one per halving until the bracket is within 1e-11 * max(F, 1).
    passes, seen = _counted(lambda f: f <= threshold)
    value = _largest_passing(passes, upper)
    assert threshold <= value <= threshold + 1e-11 * max(threshold, 1.0)
    start = upper * (1 + 1e-12) + 1e-9
    assert len(seen) == 1 + _halvings(lambda f: 1e-11 * max(f, 1.0), start, threshold)


def test_largest_passing_is_capped_at_200_halvings() -> None:
    passes, seen = _counted(lambda f: f <= 1e-3)
    value = _largest_passing(passes, 1e60)
    assert len(seen) == 1 + 200
    assert 1e-3 <= value <= 1e60 * (1 + 1e-9) / 2**199


def test_lambda_min_precision_and_cost() -> None:
    # 80 ternary rounds shrink the bracket to (2/3)^80 ~ 8e-15 whichever side the minimum is on, at two evaluations
    # a round plus the three end values.
    for where in (0.1, 0.3, 0.7, 0.9, 0.99):
        seen: list[float] = []

        def values(x: float, where: float = where, seen: list[float] = seen) -> float:
            seen.append(x)
            return 1e3 * abs(x - where) + 1.0

        assert _lambda_min(values) - 1.0 <= 1e3 * (2 / 3) ** 80 * 1.01
        assert len(seen) == 2 * 80 + 3
    # A minimum at lambda = 1 is found exactly, from the end point (the search itself stops just short of it).
    assert _lambda_min(lambda x: 2.0 - x) == 1.0
    assert _lambda_min(lambda x: 2.0 + x) == 2.0
    assert math.isfinite(_lambda_min(lambda x: x * x))
