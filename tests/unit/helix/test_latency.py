"""Latency-aware placement: hop limits, hop-limited flow, path latency from the per-layer tables."""

from __future__ import annotations

import pytest

from planner.helix.bounds import hop_bound
from planner.helix.flow import max_flow
from planner.helix.latency import LayerLatency, decompose, hop_limited_flow, latency_report, longest_path_hops
from planner.helix.solve import HelixOptions, solve
from planner.profiles.db import ProfileDB
from tests.unit.helix.tiny import tiny_instance
from tests.unit.helix.vectors import instance, placement

# Three nodes: 10 tok/s holding one layer, 4 holding two, 1 holding three. L = 3.
TABLES = [(10, 4, 1), (10, 4, 1), (10, 4, 1)]


@pytest.mark.parametrize(("hops", "expected"), [(None, 10.0), (3, 10.0), (2, 8.0), (1, 3.0)])
def test_max_hops_changes_the_plan_as_expected(hops: int | None, expected: float) -> None:
    inst = tiny_instance(TABLES, layers=3)
    res = solve(inst, HelixOptions(time_limit_s=10, rel_gap=0.0, max_hops=hops))
    assert res.flow.value == pytest.approx(expected, rel=1e-6)
    if hops is not None:
        assert all(len(p) <= hops for p, f in decompose(res.flow) if f > 1e-9)
        assert hop_bound(inst, hops, 100.0) >= expected - 1e-6


def test_hop_limited_flow_drops_long_paths() -> None:
    inst = tiny_instance(TABLES, layers=3)
    chain = {"n0": (0, 1), "n1": (1, 2), "n2": (2, 3)}
    assert longest_path_hops(inst, chain, "strict") == 3
    assert hop_limited_flow(inst, chain, "strict", 3).value == pytest.approx(10.0)
    assert hop_limited_flow(inst, chain, "strict", 2).value == pytest.approx(0.0)


def test_path_latency_of_the_paper_layout(profile_db: ProfileDB) -> None:
    inst = instance("single24")
    ranges = placement("single24", "ilp")
    flow = max_flow(inst, ranges)
    lat = LayerLatency(profile_db, profile_db.model("llama2-70b"), 1.53e9)
    rep = latency_report(inst, ranges, flow, lat, 750, 240)
    assert sum(p.flow_tok_s for p in rep.paths) == pytest.approx(flow.value, rel=1e-9)
    assert rep.max_hops == longest_path_hops(inst, ranges, "strict")
    block = rep.block()
    assert block["basis"].startswith("measured")
    # Unloaded floor: every layer costs at least its batch-1 decode time (A100 1.4 ms, L4 6.9 ms, T4 rows in table).
    floor = min(
        sum(lat.ms(inst.node(n), "decode", 1) * (ranges[n][1] - ranges[n][0]) for n in p.nodes) for p in rep.paths
    )
    assert block["decode_ms_per_token_max"] >= floor > 0
    # Little's law: requests in flight = request rate x time in the system.
    rate = flow.value / 990
    assert block["in_flight_requests"] == pytest.approx(
        sum(p.flow_tok_s / 990 * (p.prompt_ms + 240 * p.decode_ms) / 1e3 for p in rep.paths), rel=1e-9
    )
    assert block["in_flight_requests"] > rate * 240 * floor / 1e3
