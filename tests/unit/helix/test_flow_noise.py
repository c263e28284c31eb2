"""Emitted plans never write the float residue of a max flow as a route (``plan simulate`` would strand it)."""

from __future__ import annotations

from planner.helix.flow import FlowResult
from planner.runner.helix import FLOW_NOISE_TOK_S, without_float_noise


def test_float_residue_is_not_a_route() -> None:
    """A 3e-9 tokens/s source edge into a node whose way out carries nothing (as preflow-push left on a generated
    50-node Petals baseline) is dropped; real flows, however small, stay."""
    flow = FlowResult(
        value=10.0,
        node_capacity={},
        node_inflow={},
        edge_flow={("source", "a"): 10.0, ("a", "sink"): 10.0, ("source", "b"): 2.98e-9, ("b", "sink"): 0.0,
                   ("source", "c"): 2e-6, ("c", "sink"): 2e-6},
    )  # fmt: skip
    clean = without_float_noise(flow)
    assert clean.edge_flow[("source", "b")] == 0.0
    assert clean.edge_flow[("source", "a")] == 10.0 and clean.edge_flow[("source", "c")] == 2e-6 > FLOW_NOISE_TOK_S
    assert clean.value == flow.value and flow.edge_flow[("source", "b")] == 2.98e-9  # the input is left alone
    assert without_float_noise(clean) is clean
