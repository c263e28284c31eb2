"""Pruning: each endpoint keeps its K fastest links, a link survives if either end keeps it, ties by name."""

from __future__ import annotations

from planner.helix.instance import HelixEdge, HelixInstance
from planner.helix.model import model_size
from planner.helix.prune import kept_links, link_key, prune
from tests.unit.helix.tiny import tiny_instance


def _with_bandwidths(inst: HelixInstance, fast: set[tuple[str, str]]) -> HelixInstance:
    edges = []
    for e in inst.edges:
        bw = 10e9 if link_key(e.src, e.dst) in fast else 1e9
        edges.append(HelixEdge(e.src, e.dst, bw / 16384, bw, 0.001))
    return inst.with_edges(edges)


def test_keep_one_keeps_each_endpoints_fastest_link() -> None:
    inst = _with_bandwidths(tiny_instance([(5,)] * 4, layers=1), {("n0", "n3"), ("n1", "n2")})
    kept = kept_links(inst, 1, None)
    # n0 and n3 keep their fast link to each other, n1 and n2 theirs; the coordinator keeps its first link by name.
    assert ("n0", "n3") in kept and ("n1", "n2") in kept
    assert ("coordinator", "n0") in kept
    assert len(kept) == 3


def test_ties_are_broken_by_name_and_either_end_keeps() -> None:
    inst = tiny_instance([(5,)] * 4, layers=1)  # all links equal
    kept = kept_links(inst, 1, None)
    # Every node keeps its first neighbour by name: n0 -> coordinator (sorts first), n1 -> coordinator, ...
    assert kept == {("coordinator", "n0"), ("coordinator", "n1"), ("coordinator", "n2"), ("coordinator", "n3")}


def test_threshold_keeps_fast_links_beyond_k() -> None:
    inst = _with_bandwidths(tiny_instance([(5,)] * 4, layers=1), {("n0", "n1"), ("n0", "n2"), ("n0", "n3")})
    kept = kept_links(inst, 1, 5e9)
    assert {("n0", "n1"), ("n0", "n2"), ("n0", "n3")} <= kept


def test_prune_reports_sizes_and_keeps_protected_links() -> None:
    inst = tiny_instance([(5,)] * 6, layers=2)
    pruned, report = prune(inst, 1, None, "strict", "test", protect={("n4", "n5")})
    assert report.links_before == 15 + 6
    assert report.links_after < report.links_before
    assert (report.variables_before, report.constraints_before) == model_size(inst, "strict")
    assert (report.variables_after, report.constraints_after) == model_size(pruned, "strict")
    assert report.variables_after < report.variables_before
    assert ("n4", "n5") in pruned.edge_map and ("n5", "n4") in pruned.edge_map
    # A coordinator link is one physical link: source->i and i->sink survive together.
    for e in pruned.out_edges["source"]:
        assert (e.dst, "sink") in pruned.edge_map
