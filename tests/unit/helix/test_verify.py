"""The solver-free Helix verifier (planner.helix.verify) on a hand-made three-node instance.

Every check is exercised on both sides of its limit: a plan just inside passes, one just outside fails with the
message naming the constraint. The figures are worked by hand:

* n0 tp = (100, 80) (K = 2), n1 tp = (100, 80), n2 tp = (50,) (K = 1), L = 2 layers;
* compute links carry 40 tokens/s (bandwidth 40 x 16,384 B/s over 16,384 B activations), coordinator links
  327,680 tokens/s (the same bandwidth over 2 B tokens);
* placement n0 [0, 2), n1 [0, 1), n2 [1, 2): n0 alone carries tp(2) = 80, the pipeline n1 -> n2 is limited by its
  40 tokens/s link: max flow 120.
"""

from __future__ import annotations

import re

import pytest

from planner.errors import VerificationError
from planner.helix.flow import max_flow
from planner.helix.verify import check_bound, check_objective, check_placement, check_solver_flows, verify

from .tiny import tiny_instance

INST = tiny_instance([(100.0, 80.0), (100.0, 80.0), (50.0,)], layers=2, bandwidth_bytes_s=40 * 16384)
RANGES = {"n0": (0, 2), "n1": (0, 1), "n2": (1, 2)}
FLOWS = {
    ("source", "n0"): 80.0,
    ("n0", "sink"): 80.0,
    ("source", "n1"): 40.0,
    ("n1", "n2"): 40.0,
    ("n2", "sink"): 40.0,
}


def _fails(message: str) -> pytest.RaisesExc[VerificationError]:
    """Expect exactly this message (the verifier's words are part of its contract: they name the constraint)."""
    return pytest.raises(VerificationError, match="^" + re.escape(message) + "$")


def test_the_worked_instance() -> None:
    assert max_flow(INST, RANGES, "strict").value == pytest.approx(120.0)
    assert INST.edge_map[("n1", "n2")].capacity_tok_s == pytest.approx(40.0)


# ------------------------------------------------------------------------------------------- check_placement
def test_placement_inside_every_limit_passes() -> None:
    check_placement(INST, RANGES)  # n0 holds exactly K = 2 layers, from 0 to L
    check_placement(INST, {"n0": (1, 2), "n1": (0, 2), "n2": (0, 1)})


def test_placement_names_the_nodes_without_a_range() -> None:
    with _fails("helix verification: nodes without a range: n1, n2"):
        check_placement(INST, {"n0": (0, 2)})


@pytest.mark.parametrize("bad", [(-1, 1), (1, 1), (1, 3), (2, 2)])
def test_placement_outside_the_model(bad: tuple[int, int]) -> None:
    with _fails(f"helix verification: n1 range [{bad[0]}, {bad[1]}) outside 0..2"):
        check_placement(INST, {**RANGES, "n1": bad})


def test_placement_over_memory() -> None:
    with _fails("helix verification: memory[n2]: holds 2 layers, at most 1 fit"):
        check_placement(INST, {**RANGES, "n2": (0, 2)})


# ---------------------------------------------------------------------------------------- check_solver_flows
def test_the_max_flow_passes_its_own_check() -> None:
    res = max_flow(INST, RANGES, "strict")
    check_solver_flows(INST, RANGES, "strict", res.edge_flow, res.value, 1e-9)
    check_solver_flows(INST, RANGES, "strict", FLOWS, 120.0, 0.0)


def test_flows_at_the_tolerance_are_ignored() -> None:
    check_solver_flows(INST, RANGES, "strict", {**FLOWS, ("n0", "n0"): 1e-3}, 120.0, 1e-3)
    with _fails("helix verification: flow 0.0011 on a missing edge n0->n0"):
        check_solver_flows(INST, RANGES, "strict", {**FLOWS, ("n0", "n0"): 1.1e-3}, 120.0, 1e-3)


def test_flow_on_an_invalid_edge() -> None:
    # n2 ends at L and n1 starts at 0: strict mode has no edge n2 -> n1
    flows = {**FLOWS, ("n2", "n1"): 1.0}
    with _fails("helix verification: valid_edge[n2,n1]: flow 1 on an invalid edge"):
        check_solver_flows(INST, RANGES, "strict", flows, 120.0, 0.0)


def test_flow_over_an_edge_capacity() -> None:
    at = {**FLOWS, ("source", "n1"): 40.00004, ("n1", "n2"): 40.00004, ("n2", "sink"): 40.00004}
    check_solver_flows(INST, RANGES, "strict", at, 120.00004, 0.0)  # within the relative 1e-6
    over = {**FLOWS, ("source", "n1"): 40.1, ("n1", "n2"): 40.1, ("n2", "sink"): 40.1}
    with _fails("helix verification: edge_capacity[n1,n2]: 40.1 > 40"):
        check_solver_flows(INST, RANGES, "strict", over, 120.1, 0.0)
    check_solver_flows(INST, RANGES, "strict", over, 120.1, 0.1)  # the absolute tolerance


def test_flow_not_conserved() -> None:
    leak = {**FLOWS, ("n2", "sink"): 30.0}
    with _fails("helix verification: conservation[n2]: in 40 != out 30"):
        check_solver_flows(INST, RANGES, "strict", leak, 120.0, 0.0)
    # the tolerance grows with the node's in-degree (3 edges into n2 here: source, n0, n1)
    check_solver_flows(INST, RANGES, "strict", {**FLOWS, ("n2", "sink"): 39.0}, 120.0, 0.34)
    with pytest.raises(VerificationError, match=r"conservation\[n2\]"):
        check_solver_flows(INST, RANGES, "strict", {**FLOWS, ("n2", "sink"): 38.9}, 120.0, 0.34)


def test_flow_over_a_node_throughput() -> None:
    # n1 -> n2 over a wider link (a second instance): n2 at tp(1) = 50 passes, 50.1 does not
    wide = tiny_instance([(100.0, 80.0), (100.0, 80.0), (50.0,)], layers=2, bandwidth_bytes_s=1000 * 16384)
    ok = {**FLOWS, ("source", "n1"): 50.0, ("n1", "n2"): 50.0, ("n2", "sink"): 50.0}
    check_solver_flows(wide, RANGES, "strict", ok, 130.0, 0.0)
    over = {**FLOWS, ("source", "n1"): 50.1, ("n1", "n2"): 50.1, ("n2", "sink"): 50.1}
    with _fails("helix verification: node_throughput[n2]: 50.1 > 50"):
        check_solver_flows(wide, RANGES, "strict", over, 130.1, 0.0)
    n0_over = {**FLOWS, ("source", "n0"): 80.5, ("n0", "sink"): 80.5}
    with _fails("helix verification: node_throughput[n0]: 80.5 > 80"):
        check_solver_flows(wide, RANGES, "strict", n0_over, 120.5, 0.0)


def test_flows_that_do_not_add_up_to_the_objective() -> None:
    with _fails("helix verification: solver flows add up to 120 tokens/s, objective says 121"):
        check_solver_flows(INST, RANGES, "strict", FLOWS, 121.0, 0.0)
    check_solver_flows(INST, RANGES, "strict", FLOWS, 120.0001, 0.0)  # relative 1e-6 of max(objective, 1)
    check_solver_flows(INST, RANGES, "strict", FLOWS, 120.4, 0.1)  # plus abs_tol per reported edge (5 here)
    with pytest.raises(VerificationError, match="add up to"):
        check_solver_flows(INST, RANGES, "strict", FLOWS, 120.6, 0.1)


def test_partial_mode_accepts_overlapping_ranges() -> None:
    ranges = {"n0": (0, 2), "n1": (0, 2), "n2": (1, 2)}
    flows = {("source", "n1"): 10.0, ("n1", "n2"): 10.0, ("n2", "sink"): 10.0}
    with pytest.raises(VerificationError, match=r"valid_edge\[n1,n2\]"):
        check_solver_flows(INST, ranges, "strict", flows, 10.0, 0.0)
    check_solver_flows(INST, {**ranges, "n1": (0, 1)}, "partial", flows, 10.0, 0.0)


# --------------------------------------------------------------------------------------------- check_objective
def test_objective_checks_both_directions() -> None:
    check_objective(1000.0, 1000.0, True, 0.0)
    check_objective(999.9995, 1000.0, True, 0.0)  # within relative 1e-6
    check_objective(1000.0005, 1000.0, True, 0.0)
    with _fails("helix verification: max flow 999.998000 < solver objective 1000.000000"):
        check_objective(999.998, 1000.0, False, 0.0)
    with _fails("helix verification: max flow 1000.002000 exceeds the proven optimum 1000.000000"):
        check_objective(1000.002, 1000.0, True, 0.0)
    check_objective(1000.002, 1000.0, False, 0.0)  # a better max flow than a heuristic claimed is fine
    check_objective(999.5, 1000.0, True, 0.5)  # the absolute tolerance on both sides
    check_objective(1000.5, 1000.0, True, 0.5)
    check_objective(0.5, 0.5, True, 0.0)
    with pytest.raises(VerificationError):  # near zero the relative slack is of 1, not of the objective
        check_objective(0.0, 0.01, False, 0.0)
    check_objective(0.0, 1e-6, False, 0.0)


# ----------------------------------------------------------------------------------------------------- verify
def test_verify_recomputes_the_max_flow() -> None:
    res = verify(INST, RANGES, "strict", expected_tok_s=120.0)
    assert res.value == pytest.approx(120.0)
    verify(INST, RANGES, "strict", expected_tok_s=120.0001)
    with _fails("helix verification: max flow 120.000000 != reported throughput 121.000000"):
        verify(INST, RANGES, "strict", expected_tok_s=121.0)
    with _fails("helix verification: max flow 120.000000 != reported throughput 119.000000"):
        verify(INST, RANGES, "strict", expected_tok_s=119.0)
    with pytest.raises(VerificationError, match="nodes without a range"):
        verify(INST, {"n0": (0, 2)}, "strict")


def test_verify_under_a_hop_limit_keeps_short_paths_only() -> None:
    res = verify(INST, RANGES, "strict", max_hops=1)  # n1 -> n2 is a two-node path
    assert res.value == pytest.approx(80.0)
    assert res.edge_flow.get(("n1", "n2"), 0.0) == pytest.approx(0.0)
    assert verify(INST, RANGES, "strict", max_hops=2).value == pytest.approx(120.0)
    with pytest.raises(VerificationError, match="!= reported throughput"):
        verify(INST, RANGES, "strict", expected_tok_s=120.0, max_hops=1)


# ------------------------------------------------------------------------------------------------- check_bound
# Coordinator links carry 327,680 tokens/s each but no node processes more than its best tp: 100 + 100 + 50 = 250
# tokens/s leave the source (and reach the sink). With one node per path (--max-hops 1) a path needs a node holding
# both layers: n0 and n1 at tp(2) = 80, so 160 tokens/s at most (at mu -> 2: (2 - mu)(160 - F) < 0 above 160).
def test_coordinator_cut_bound_recomputed() -> None:
    ok = check_bound(INST, "strict", "coordinator_cut", 250.0)
    assert ok.independent and ok.kind == "coordinator_cut" and ok.checked_at_tok_s == pytest.approx(250.00025)
    assert ok.detail == "the coordinator's links carry 250.000000 tokens/s < F' = 250.000250"
    with _fails(
        "helix verification: the coordinator_cut bound claims no flow above 249.900000 tokens/s, but the verifier's "
        "own argument admits 249.900250 tokens/s (the coordinator's links carry 250.000000 tokens/s < F' = "
        "249.900250): the certificate is wrong"
    ):
        check_bound(INST, "strict", "coordinator_cut", 249.9)


def test_hop_bound_recomputed() -> None:
    ok = check_bound(INST, "strict", "hop", 160.0, max_hops=1)
    assert ok.independent and 0.0 < ok.witness["mu"] <= 2.0
    with pytest.raises(VerificationError, match=r"the hop bound claims no flow above 159\.000000 tokens/s"):
        check_bound(INST, "strict", "hop", 159.0, max_hops=1)
    # two nodes per path cover both layers anywhere: the limit is no tighter than the compute bound, 185
    assert check_bound(INST, "strict", "hop", 185.0, max_hops=2).independent
    with _fails("helix verification: a hop-limited bound without --max-hops"):
        check_bound(INST, "strict", "hop", 160.0)


def test_bound_kinds() -> None:
    with _fails("helix verification: certificate names an unknown bound 'magic'"):
        check_bound(INST, "strict", "magic", 1.0)
    milp = check_bound(INST, "strict", "milp", 1.0)
    assert not milp.independent and milp.witness == {}
    assert check_bound(INST, "strict", "compute", 185.0).independent  # (160 + 160 + 50) / 2 layers
    with pytest.raises(VerificationError, match="the compute bound claims no flow above 184"):
        check_bound(INST, "strict", "compute", 184.9)
