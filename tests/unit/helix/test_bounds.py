"""Bounds (compute, layer covering, solo/shared block) and the single-pipeline construction."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.helix.bounds import block_bound, compute_bound, covering_bound, single_pipeline
from planner.helix.flow import flow_value
from planner.helix.instance import HelixEdge, HelixInstance
from planner.helix.placement import park_idle
from tests.unit.helix.tiny import brute_force, tiny_instance
from tests.unit.helix.vectors import instance

ROOT = Path(__file__).resolve().parents[3]


def test_two_parallel_nodes_hand_checked() -> None:
    # Each node: 10 tok/s with one layer, 8 with two. Best: both hold [0, 2) in parallel = 16 tok/s.
    inst = tiny_instance([(10, 8), (10, 8)], layers=2)
    assert compute_bound(inst) == pytest.approx(16.0)
    assert covering_bound(inst).value == pytest.approx(16.0, rel=1e-8)
    assert block_bound(inst, 16.0) == pytest.approx(16.0, rel=1e-8)
    assert brute_force(inst)[0] == pytest.approx(16.0)


def test_covering_strictly_tighter_than_compute_and_exact_here() -> None:
    # A: 12 tok/s for 1 layer, 5 for 2 (best product 12); B: 3 for 1 layer. L = 2.
    # Compute bound (12 + 3) / 2 = 7.5. Covering: 2F <= min(12, F) + max(2 min(5, F)...) -> F = 5 (A holds both
    # layers at 5 tok/s, or A one layer + B one layer at 3): the optimum is 5.
    inst = tiny_instance([(12, 5), (3,)], layers=2)
    assert compute_bound(inst) == pytest.approx(7.5)
    cov = covering_bound(inst).value
    assert cov < compute_bound(inst)
    assert brute_force(inst)[0] == pytest.approx(5.0)
    assert cov >= 5.0 - 1e-9


@pytest.mark.parametrize(
    "tables,layers",
    [
        ([(9, 5, 4), (9, 5, 4), (3,)], 3),
        ([(7, 6), (4, 3, 1), (5,)], 4),
        ([(10, 2, 1), (6, 6), (2, 2)], 4),
        ([(8, 7, 1), (8, 3), (8,)], 4),
    ],
)
def test_bounds_never_below_the_enumerated_optimum(tables, layers) -> None:
    inst = tiny_instance(tables, layers)
    best, _ = brute_force(inst)
    cov = covering_bound(inst).value
    blk = block_bound(inst, cov)
    assert best <= blk * (1 + 1e-9) + 1e-9
    assert blk <= cov * (1 + 1e-9) + 1e-9
    assert cov <= compute_bound(inst) * (1 + 1e-9) + 1e-9
    assert best <= covering_bound(inst, "partial").value * (1 + 1e-9) + 1e-9 or best == 0


def test_link_cut_binds_when_links_are_slow() -> None:
    # Two nodes that can each hold one of two layers at 100 tok/s, joined by a link carrying 4 tok/s.
    fast = tiny_instance([(100,), (100,)], layers=2)
    slow_edges = tuple(
        HelixEdge(e.src, e.dst, e.capacity_tok_s if "source" in (e.src,) or e.dst == "sink" else 4.0, 1.0, 0.0)
        for e in fast.edges
    )
    slow = HelixInstance("slow", "toy", 2, fast.nodes, slow_edges, 2, 16384)
    bound = covering_bound(slow)
    assert bound.value == pytest.approx(4.0, rel=1e-6)
    assert "link" in bound.active
    assert brute_force(slow)[0] == pytest.approx(4.0)


def test_ten_node_bounds_match_the_reference() -> None:
    inst = instance("cluster10")
    assert compute_bound(inst) == pytest.approx(364.508, abs=1e-3)  # reference section 7
    cov = covering_bound(inst).value
    assert 286.587 < cov < 364.508
    # The block bound proves the published optimum 286.587 (it took Gurobi 3,803 s on 20 threads).
    assert block_bound(inst, cov) == pytest.approx(286.58741, abs=1e-3)


def test_single_pipeline_meets_the_bound_on_single24() -> None:
    inst = instance("single24")
    sp = single_pipeline(inst)
    assert sp is not None
    ranges = park_idle(inst, sp.ranges)
    value = flow_value(inst, ranges)
    assert value == pytest.approx(2045.641, abs=1e-3)
    assert covering_bound(inst).value == pytest.approx(value, rel=1e-8)
    assert sum(k for _, k in sp.chain) == 80


def test_slow_wide_area_links_force_sharing_and_the_bound_holds() -> None:
    # Region A holds at most 4 of 5 layers, region B 1: every path crosses a 3 tok/s link.
    inst = tiny_instance([(10, 6), (10, 6), (10,)], layers=5, regions=["a", "a", "b"], inter_tok_s=3.0)
    best, _ = brute_force(inst)
    cov = covering_bound(inst).value
    blk = block_bound(inst, cov)
    assert best <= blk * (1 + 1e-9) + 1e-9
    assert blk < block_bound(inst, cov, links=False)  # the forced sharing tightens it
    assert best == pytest.approx(3.0)  # the crossing link decides


def test_geo24_is_proven_optimal_by_forced_sharing(profile_db) -> None:
    from planner.helix.instance import build_instance
    from planner.spec.loader import load_spec

    loaded = load_spec(ROOT / "cluster_specs" / "helix-geo24-llama2-70b.yaml", profile_db)
    inst = build_instance(loaded, profile_db, loaded.spec.helix)
    cov = covering_bound(inst).value
    assert cov == pytest.approx(2045.641, abs=1e-3)  # as if the links were free
    assert block_bound(inst, cov) == pytest.approx(1754.382, abs=1e-3)  # A100 holding 9 layers
