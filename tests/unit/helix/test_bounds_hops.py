"""Hop-limited bound and the single-pipeline construction on the hand-worked three-node instance of
``test_verify.py`` (n0, n1: tp = (100, 80); n2: tp = (50,); L = 2).

* One node per path (H = 1) needs a node holding both layers: n0 and n1 at 80 each, so 160 tokens/s at most; the
  LP argument proves exactly that ((2 - mu)(160 - F) < 0 above 160 as mu -> 2).
* Two nodes per path add nothing over the compute bound: max_k k tp(k) = 160, 160, 50 for n0, n1, n2, so 370
  layer-tokens/s over 2 layers = 185.
* The single pipeline: the largest F a chain of nodes each sustaining F covers L with is 100 (n0 and n1 one layer
  each); with one node it is 80 (n0 holds both).
"""

from __future__ import annotations

import pytest

from planner.errors import InfeasibleError
from planner.helix.bounds import compute_bound, hop_bound, single_pipeline
from planner.helix.latency import fewest_hops
from planner.helix.solve import HelixOptions, no_flow_shortfall, solve
from planner.helix.verify import verify

from .test_verify import INST, RANGES
from .tiny import tiny_instance


def test_hop_bound_of_one_node_per_path() -> None:
    assert hop_bound(INST, 1, 1000.0) == pytest.approx(160.0, rel=1e-8)
    assert hop_bound(INST, 1, 1000.0) >= 160.0  # a bound may round up, never down
    assert hop_bound(INST, 1, 100.0) == pytest.approx(100.0, rel=1e-8)  # never above the bound it refines
    assert verify(INST, RANGES, "strict", max_hops=1).value <= hop_bound(INST, 1, 1000.0)


def test_hop_bound_with_room_is_the_compute_bound() -> None:
    assert compute_bound(INST) == pytest.approx(185.0)
    assert hop_bound(INST, 2, 1000.0) == pytest.approx(185.0, rel=1e-8)
    assert hop_bound(INST, 3, 1000.0) == pytest.approx(185.0, rel=1e-8)


def test_single_pipeline() -> None:
    sp = single_pipeline(INST)
    assert sp is not None and sp.target_tok_s == 100.0
    assert sp.chain == [("n0", 1), ("n1", 1)] and sp.ranges == {"n0": (0, 1), "n1": (1, 2)}
    one = single_pipeline(INST, max_hops=1)
    assert one is not None and one.target_tok_s == 80.0 and one.ranges == {"n0": (0, 2)}
    assert single_pipeline(INST, order_key=lambda item: (0, -int(item[0][1:]))).chain == [("n1", 1), ("n0", 1)]


def test_too_few_hops_is_a_max_hops_shortfall() -> None:
    # Three nodes of K = 2 and a 5-layer model: a path needs 3 nodes; 2 hops hold 4 layers at most, no flow at all.
    inst = tiny_instance([(10.0, 8.0)] * 3, 5)
    assert fewest_hops(inst) == 3
    with pytest.raises(InfeasibleError) as info:
        solve(inst, HelixOptions(time_limit_s=5, max_hops=2))
    short = info.value.shortfall
    assert (short.constraint, short.limit, short.best, short.unit) == ("max_hops", 2.0, 3.0, "hops")
    assert "hold 4 of the model's 5" in short.detail
    assert solve(inst, HelixOptions(time_limit_s=5, max_hops=3)).flow.value > 0


def test_no_flow_without_a_hop_limit_stays_a_connectivity_shortfall() -> None:
    inst = tiny_instance([(10.0, 8.0)] * 3, 5)
    assert no_flow_shortfall(inst, None, 0.0).constraint == "connectivity"
    assert no_flow_shortfall(inst, 2, 0.0).constraint == "connectivity"  # no flow even without the limit
    assert no_flow_shortfall(inst, 2, 1.0).constraint == "max_hops"
