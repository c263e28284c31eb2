"""Requests in flight as the scheduler routes them: hop by hop over the plan's edges, around full nodes.

The flow's path decomposition is how the prediction spreads requests, but ``plan simulate``'s scheduler does not
follow those paths: at every node it chooses among the plan's edges (IWRR, masking edges under 5 % of the node's
outflow and successors whose KV admission fails), so a request can mix pieces of several paths. These tests check
the two places where the prediction now reads the plan's edges instead of its paths, by hand.
"""

from __future__ import annotations

import pytest

from planner.helix.contract import MIN_FLOW_SHARE
from planner.helix.flow import FlowResult
from planner.helix.instance import SINK, SOURCE
from planner.helix.served import PathPrediction, ServedParams, _dead_end, _next_hops, _routed_fill, _successors

#: Two layers, two nodes holding each: a, b hold layer 0; c, d hold layer 1.
HELD = {"a": (0, 1), "b": (0, 1), "c": (1, 2), "d": (1, 2)}
K = dict.fromkeys(HELD, 1)


def _flow(edges: dict[tuple[str, str], float]) -> FlowResult:
    return FlowResult(sum(f for (u, _), f in edges.items() if u == SOURCE), {}, {}, edges)


def _routed(edges: dict[tuple[str, str], float], rooms: dict[str, float]) -> tuple[float, dict[str, float], str]:
    """The routed fill over ``edges`` with each node's room in requests (a request reserves 1 token-layer a layer;
    the thinnest layer holds 100, so the feeder's budget is ``0.8 x 100 / 1 + 1 = 81``)."""
    prm = ServedParams()
    routed = _routed_fill(_next_hops(_flow(edges)), HELD, K, {n: r / prm.admit_hwm for n, r in rooms.items()},
                          (0, 100.0), 1.0, prm)  # fmt: skip
    assert routed is not None
    return routed


def test_the_simulators_edge_mask_is_the_contracts() -> None:
    """One figure for both sides: ``plan simulate``'s IWRR masks edges under the contract's share."""
    from planner.sim import scheduler

    assert scheduler.MIN_FLOW_SHARE is MIN_FLOW_SHARE  # type: ignore[attr-defined]


def test_successors_are_the_plans_edges_above_the_mask() -> None:
    """``a`` sends 96 % to ``c`` and 4 % to ``d``: the scheduler never picks the 4 % edge; ``b`` splits 50 / 50."""
    flow = _flow({(SOURCE, "a"): 5.0, (SOURCE, "b"): 4.0, ("a", "c"): 4.8, ("a", "d"): 0.2, ("b", "c"): 2.0,
                  ("b", "d"): 2.0, ("c", SINK): 6.8, ("d", SINK): 2.2})  # fmt: skip
    assert _next_hops(flow)["a"] == [("c", 4.8)]
    assert _successors(_next_hops(flow)) == {"a": {"c"}, "b": {"c", "d"}}
    # a node whose every edge is under the mask (more than 20 tiny ones) keeps its largest, as the scheduler does
    tiny = _flow({(SOURCE, "a"): 1.0, **{("a", f"n{i}"): 0.04 for i in range(24)}, ("a", "n24"): 0.04001})
    assert _next_hops(tiny)["a"] == [("n24", 0.04001)]


def test_a_full_node_is_a_dead_end_only_when_every_edge_out_of_its_predecessor_is_full() -> None:
    """The path still being filled reaches ``c`` through ``b``; ``c`` is full. ``b``'s other edge (to ``d``, on a path
    already masked elsewhere) is still a route for the scheduler, so admission does not stall; when ``d`` is full
    too, it does. Read from the paths alone, ``b``'s only next hop would be ``c``: a stall that is not there."""
    active = [PathPrediction(["b", "c"], 2.0)]
    succ = {"a": {"c"}, "b": {"c", "d"}}
    assert not _dead_end(active, "c", {"c"}, succ)
    assert _dead_end(active, "c", {"c", "d"}, succ)


def test_routed_fill_by_hand() -> None:
    """From the coordinator 60 / 40 % to ``a`` / ``b``; ``a`` sends all to ``c``, ``b`` half to ``c`` and half to
    ``d``. Rooms (0.85 of the KV over 1 token-layer a request): ``a`` 10 requests, the others 100; the feeder's
    budget ``0.8 x 100 / 1 + 1 = 81``. ``a`` is full at 10 / 0.6 = 16.67 requests; then everything goes to ``b``
    (``c`` and ``d`` half each) up to the budget: ``a`` 10, ``b`` 6.67 + 64.33 = 71, ``c`` 13.33 + 32.17,
    ``d`` 3.33 + 32.17."""
    placed, load, limit = _routed(
        {(SOURCE, "a"): 6.0, (SOURCE, "b"): 4.0, ("a", "c"): 6.0, ("b", "c"): 2.0, ("b", "d"): 2.0, ("c", SINK): 8.0,
         ("d", SINK): 2.0},
        {"a": 10.0, "b": 100.0, "c": 100.0, "d": 100.0},
    )  # fmt: skip
    assert placed == pytest.approx(81.0)
    first = 10 / 0.6
    assert load == pytest.approx({"a": 10.0, "b": 0.4 * first + 81 - first, "c": 0.8 * first + (81 - first) / 2,
                                  "d": 0.2 * first + (81 - first) / 2})  # fmt: skip
    assert limit == "layer 0 KV (0.8 of the capacity of its nodes), requests routed around 1 full node"


def test_routed_fill_stalls_where_every_next_hop_is_full() -> None:
    """As above but ``b`` sends only to ``c``, whose room is 20: ``c`` fills at 20 / 1 = 20 requests (it receives all
    of them) and then ``a`` and ``b`` have no next hop: admission stalls at 20."""
    placed, load, limit = _routed(
        {(SOURCE, "a"): 6.0, (SOURCE, "b"): 4.0, ("a", "c"): 6.0, ("b", "c"): 4.0, ("c", SINK): 10.0},
        {"a": 100.0, "b": 100.0, "c": 20.0, "d": 100.0},
    )
    assert placed == pytest.approx(20.0)
    assert load["c"] == pytest.approx(20.0) and load["d"] == 0.0
    assert limit == "node a: every next hop's KV admission is full, admission stalls"
