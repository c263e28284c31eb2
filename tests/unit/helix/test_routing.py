"""Routing a placement: of its max flows, the one of least link time (planner.helix.routing.least_time_flow)."""

from __future__ import annotations

import pytest

from planner.helix.flow import max_flow
from planner.helix.instance import SINK, SOURCE, HelixInstance
from planner.helix.routing import least_time_flow, link_seconds
from planner.helix.verify import check_solver_flows
from tests.unit.helix.tiny import tiny_instance

# Two regions, a two-layer chain in each: n0 -> n1 in r0, n2 -> n3 in r1. Every node holds one layer at 10 tok/s;
# the links between the regions carry 100 tok/s at 50 ms, inside a region 61,035 tok/s at 1 ms.
REGIONS = ["r0", "r0", "r1", "r1"]
CHAINS = {"n0": (0, 1), "n1": (1, 2), "n2": (0, 1), "n3": (1, 2)}


def _two_regions() -> HelixInstance:
    return tiny_instance([(10.0, 4.0)] * 4, layers=2, regions=REGIONS, inter_tok_s=100.0)


def test_least_time_flow_stays_in_its_region_by_hand() -> None:
    """Both chains full is the max flow (20 tok/s); crossing to the other region's second node carries as much and
    costs 50 ms a token instead of 1 ms, so the least-time flow sends nothing across."""
    inst = _two_regions()
    maximum = max_flow(inst, CHAINS, "strict")
    assert maximum.value == pytest.approx(20.0)
    routed = least_time_flow(inst, CHAINS, "strict", maximum)
    assert routed.value == pytest.approx(20.0, rel=1e-9)
    assert routed.edge_flow[("n0", "n1")] == pytest.approx(10.0)
    assert routed.edge_flow[("n2", "n3")] == pytest.approx(10.0)
    assert routed.edge_flow[("n0", "n3")] == 0.0
    assert routed.edge_flow[("n2", "n1")] == 0.0
    assert routed.node_inflow == pytest.approx({"n0": 10.0, "n1": 10.0, "n2": 10.0, "n3": 10.0})
    # a feasible flow of the placement with the max flow's value (the verifier's own check), the cut kept
    check_solver_flows(inst, CHAINS, "strict", routed.edge_flow, maximum.value, 1e-6)
    assert routed.cut_nodes == maximum.cut_nodes


def test_link_seconds_by_hand() -> None:
    """A token's time on a link: latency + its bytes over the bandwidth (a 2-byte token id on coordinator links,
    the 16,384-byte activation between nodes)."""
    inst = _two_regions()
    across = inst.edge_map[("n0", "n3")]
    assert link_seconds(inst, "n0", "n3") == pytest.approx(0.05 + 16384 / across.bandwidth_bytes_s)
    assert link_seconds(inst, "n0", "n1") == pytest.approx(1e-3 + 16384 / 1e9)
    assert link_seconds(inst, SOURCE, "n0") == pytest.approx(1e-3 + 2 / 1e9)
    assert link_seconds(inst, "n1", SINK) == pytest.approx(1e-3 + 2 / 1e9)


def test_least_time_flow_is_the_same_bytes_every_run() -> None:
    inst = _two_regions()
    maximum = max_flow(inst, CHAINS, "strict")
    runs = [least_time_flow(inst, CHAINS, "strict", maximum).edge_flow for _ in range(3)]
    assert runs[0] == runs[1] == runs[2]


def test_equally_fast_alternatives_share_the_flow_by_hand() -> None:
    """n0 holds layer 0 at 10 tok/s; n1 and n2 both hold layer 1 at 10 tok/s, behind links of the same time. Every
    split of n0's 10 tok/s between them is a max flow of least link time; the centre of that face is 5 / 5 (a
    simplex's vertex would send all 10 one way, leaving the other node idle and the first the only way on)."""
    inst = tiny_instance([(10.0, 4.0)] * 3, layers=2)
    ranges = {"n0": (0, 1), "n1": (1, 2), "n2": (1, 2)}
    maximum = max_flow(inst, ranges, "strict")
    assert maximum.value == pytest.approx(10.0)
    routed = least_time_flow(inst, ranges, "strict", maximum)
    assert routed.edge_flow[("n0", "n1")] == pytest.approx(5.0, abs=1e-5)
    assert routed.edge_flow[("n0", "n2")] == pytest.approx(5.0, abs=1e-5)
    assert routed.edge_flow[("n1", "n0")] == 0.0 if ("n1", "n0") in routed.edge_flow else True
    check_solver_flows(inst, ranges, "strict", routed.edge_flow, maximum.value, 1e-6)
