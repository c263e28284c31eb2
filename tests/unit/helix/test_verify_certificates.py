"""The verifier's own bound arguments on hand-computed tiny instances: each kind passes at its exact bound and
refuses a claim just below it, with the multiplier and wording that prove it (issue 17).

The figures are the ones tests/unit/helix/test_bounds_exact.py derives by hand for the solver's bound code; the
verifier recomputes them with its own code, so both sides of every comparison are pinned here.
"""

from __future__ import annotations

import pytest

from planner.errors import VerificationError
from planner.helix.instance import SINK, SOURCE, HelixEdge, HelixInstance
from planner.helix.verify import INDEPENDENT, SOLVER_CERTIFIED, check_bound, check_certificate

from .tiny import tiny_instance

BELOW = 0.99  # a claim 1 % under the true bound must be refused


def _with_edges(inst: HelixInstance, capacity: dict[str, float]) -> HelixInstance:
    def kind(e: HelixEdge) -> str:
        return "source" if e.src == SOURCE else "sink" if e.dst == SINK else "compute"

    edges = tuple(HelixEdge(e.src, e.dst, capacity.get(kind(e), e.capacity_tok_s), 1.0, 0.0) for e in inst.edges)
    return HelixInstance(inst.name, "toy", inst.layers, inst.nodes, edges, 2, 16384)


def _regions() -> HelixInstance:
    """Region a (n0, n1: (100, 100)) fed 1 tok/s per source link, region b (n2: (100,)), 1 tok/s across: L = 2.

    Covering: strict 4 (region a's links: 2 * 2 + 1 * 2 = 6 layer-work, plus n2's 2), partial 9 (4 * 2 + 4 * 2)."""
    base = tiny_instance([(100, 100), (100, 100), (100,)], layers=2, regions=["a", "a", "b"], inter_tok_s=1.0)
    region = {n.name: n.region for n in base.nodes}
    edges = tuple(
        HelixEdge(e.src, e.dst, 1.0, 1.0, 0.0) if e.src == SOURCE and region[e.dst] == "a" else e for e in base.edges
    )
    return HelixInstance("regions", "toy", 2, base.nodes, edges, 2, 16384)


def _both_sides(inst: HelixInstance, mode: str, kind: str, bound: float, max_hops: int | None = None):
    check = check_bound(inst, mode, kind, bound, max_hops)  # type: ignore[arg-type]
    assert check.independent and check.label == INDEPENDENT
    assert check.kind == kind and check.value_tok_s == bound
    assert check.checked_at_tok_s == pytest.approx(bound * (1 + 1e-6) + 1e-9, rel=1e-12)
    with pytest.raises(VerificationError, match=f"the {kind} bound claims no flow above .* the certificate is wrong"):
        check_bound(inst, mode, kind, bound * BELOW, max_hops)  # type: ignore[arg-type]
    return check


def test_compute_bound_both_sides() -> None:
    # (max(12, 2 * 5) + 3) / 2 = 7.5
    check = _both_sides(tiny_instance([(12, 5), (3,)], layers=2), "strict", "compute", 7.5)
    assert check.detail.startswith("sum_i max_k k tp_i(k) = 15.000000 layer-tokens/s < L * F' = 15.0000")
    assert check.witness == {}


def test_coordinator_cut_both_sides() -> None:
    inst = _with_edges(tiny_instance([(100,), (100,)], layers=2), {"source": 30.0})
    check = _both_sides(inst, "strict", "coordinator_cut", 60.0)
    assert check.detail.startswith("the coordinator's links carry 60.000000 tokens/s < F' = 60.0000")


def test_covering_node_throughput_both_sides() -> None:
    # max(min(12, F), 2 min(5, F)) + min(3, F) >= 2F up to F = 6.5, in both modes.
    inst = tiny_instance([(12, 5), (3,)], layers=2)
    for mode in ("strict", "partial"):
        check = _both_sides(inst, mode, "covering", 6.5)
        assert check.detail.startswith("layer-work with link cuts 13.000000 < L * F' = 13.0000")


def test_covering_node_links_both_sides() -> None:
    # Node-to-node links of 4 tok/s: each of two one-layer nodes carries at most 4, so 2F <= 8.
    inst = _with_edges(tiny_instance([(100,), (100,)], layers=2), {"compute": 4.0})
    _both_sides(inst, "strict", "covering", 4.0)


def test_covering_region_cut_strict_and_partial() -> None:
    inst = _regions()
    strict = _both_sides(inst, "strict", "covering", 4.0)
    assert strict.detail.startswith("layer-work with link cuts 8.000000 <")
    partial = _both_sides(inst, "partial", "covering", 9.0)
    assert partial.detail.startswith("layer-work with link cuts 18.000000 <")
    # The strict bound is not a partial-mode bound: partial runs count every layer slot a region has.
    with pytest.raises(VerificationError, match="covering bound claims"):
        check_bound(inst, "partial", "covering", 4.0)


def test_block_bound_both_sides_with_its_multiplier() -> None:
    # Just above F = 5: A holds max(1, 1 + lambda) layers, B 0.5 + 0.1 lambda: 2 is out of reach at lambda = 0.
    check = _both_sides(tiny_instance([(12, 5), (3,)], layers=2), "strict", "block", 5.0)
    assert check.witness["lambda"] == pytest.approx(0.0, abs=1e-6)
    assert check.witness["forced_shared_nodes"] == 0.0
    assert check.detail.startswith("at lambda 0.000000 the nodes hold 1.500000 layers < L = 2 (0 forced shared)")


def test_block_bound_with_forced_sharing() -> None:
    # Region a holds 4 of 5 layers, b 1, links across carry 3 tok/s: above 3 two nodes are shared, which proves 3.
    inst = tiny_instance([(10, 6), (10, 6), (10,)], layers=5, regions=["a", "a", "b"], inter_tok_s=3.0)
    check = _both_sides(inst, "strict", "block", 3.0)
    assert check.witness["forced_shared_nodes"] == 2.0
    assert "(2 forced shared)" in check.detail
    # Without the wide-area argument (one region holding all 5 layers) 3 is not a bound.
    one = tiny_instance([(10, 6), (10, 6), (10,)], layers=5)
    with pytest.raises(VerificationError, match="block bound claims"):
        check_bound(one, "strict", "block", 3.0)


def test_block_bound_is_strict_only() -> None:
    with pytest.raises(VerificationError, match="strict chaining only"):
        check_bound(tiny_instance([(12, 5), (3,)], layers=2), "partial", "block", 5.0)


def test_hop_bound_both_sides_with_its_multiplier() -> None:
    # One node per path: only A holding both layers (5 tok/s) serves; mu = 1 gives F <= min(5, F).
    check = _both_sides(tiny_instance([(12, 5), (3,)], layers=2), "strict", "hop", 5.0, max_hops=1)
    assert check.witness["mu"] == pytest.approx(1.0, abs=1e-3)
    with pytest.raises(VerificationError, match="without --max-hops"):
        check_bound(tiny_instance([(12, 5), (3,)], layers=2), "strict", "hop", 5.0)


def test_milp_and_unknown_kinds() -> None:
    inst = tiny_instance([(12, 5), (3,)], layers=2)
    milp = check_bound(inst, "strict", "milp", 1.0)  # never recomputed: any value is only solver-certified
    assert not milp.independent and milp.label == SOLVER_CERTIFIED and milp.witness == {}
    assert milp.checked_at_tok_s == pytest.approx(1.0 + 1e-6 + 1e-9, rel=1e-12)
    with pytest.raises(VerificationError, match="unknown bound 'magic'"):
        check_bound(inst, "strict", "magic", 7.5)


def _certify(**overrides: object):
    inst = tiny_instance([(12, 5), (3,)], layers=2)
    args = {
        "certificate": {"bound": "block", "value_tok_s": 5.0, "label": INDEPENDENT},
        "objective_tok_s": 5.0,
        "best_bound_tok_s": 5.0,
        "status": "optimal",
        "rel_gap": 0.0,
    }
    args.update(overrides)
    return check_certificate(inst, "strict", **args)  # type: ignore[arg-type]


def test_certificate_accepted_at_the_optimum() -> None:
    assert _certify().kind == "block"
    # Within the allowed gap: 4.9 with a 2.5 % gap against a bound of 5 (5 / 1.025 = 4.878).
    assert _certify(objective_tok_s=4.9, rel_gap=0.025).independent
    # Not labelled optimal: any throughput at or under the bound.
    assert _certify(objective_tok_s=1.0, status="feasible").independent


def test_certificate_refusals() -> None:
    with pytest.raises(VerificationError, match=r"certificate bound 5\.000000 tokens/s != plan's best bound 5\.1"):
        _certify(best_bound_tok_s=5.1)
    with pytest.raises(VerificationError, match="certificate says 'optimal \\(solver-certified\\)'"):
        _certify(certificate={"bound": "block", "value_tok_s": 5.0, "label": SOLVER_CERTIFIED})
    with pytest.raises(
        VerificationError, match=r"labelled optimal at 4\.900000 .* is 2\.0408% above \(allowed gap 1\.0000%\)"
    ):
        _certify(objective_tok_s=4.9, rel_gap=0.01)
    with pytest.raises(VerificationError, match=r"throughput 5\.100000 tokens/s exceeds the certified bound"):
        _certify(objective_tok_s=5.1, status="feasible")
