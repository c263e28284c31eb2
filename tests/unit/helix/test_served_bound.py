"""The served decode bound (``served_upper_bound_tok_s``): a linear program over the nodes' time shares, checked by
hand arithmetic, and above every decode throughput ``plan simulate`` measured on the shipped specs."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.calibrate.agreement import RECORD, read_record
from planner.helix.instance import build_instance
from planner.helix.served import DEFAULT_TRACE, ServedModel, trace_workload
from planner.helix.served_bound import served_upper_bound, time_share_bound
from planner.runner import load_inputs
from planner.runner.helix import reserve_section
from planner.spec.sections.helix import HelixSection

ROOT = Path(__file__).resolve().parents[3]


def test_time_shares_by_hand() -> None:
    """Two nodes, one layer, a prompt layer-token per decode layer-token (r = 1). Node 1 decodes at 1 layer-token/s
    or prefills at 1, node 2 decodes at 0.5 or prefills at 1: node 1 decodes and node 2 prefills, D = 1. Without
    prompts (r = 0) both decode: D = 1.5, the decode-only bound."""
    assert time_share_bound([1.0, 2.0], [1.0, 1.0], 1, 1.0) == pytest.approx(1.0)
    assert time_share_bound([1.0, 2.0], [1.0, 1.0], 1, 0.0) == pytest.approx(1.5)
    # identical nodes: D = n / (L (c + r e))
    assert time_share_bound([0.01] * 4, [0.002] * 4, 80, 3.3) == pytest.approx(4 / (80 * (0.01 + 3.3 * 0.002)))
    assert time_share_bound([], [], 80, 1.0) == 0.0


@pytest.fixture(scope="module")
def bounds() -> dict[str, tuple[float, float]]:
    """Per shipped helix spec at the trace workload the agreement record used: (bound, decode-only bound)."""
    out = {}
    for spec in sorted((ROOT / "cluster_specs").glob("helix-*.yaml")):
        inputs = load_inputs(spec)
        loaded, db = inputs.loaded, inputs.profiles
        inst = build_instance(loaded, db, reserve_section(loaded.spec.helix or HelixSection(), 0.2))
        model = ServedModel(db, loaded.model, trace_workload(DEFAULT_TRACE))
        decode_only = 0.0
        for node in inst.nodes:  # the sum over nodes of the best b / t_dec(b), over L: decode alone
            perf, best = model.perf(node), 0.0
            for k in range(1, node.max_layers + 1):
                cap = perf.kv_capacity(k)
                b = min(
                    int(model.params.admit_hwm * cap / (k * model.workload.inflight_tokens)),
                    perf.latency.max_decode_tokens,
                )
                if b > 0:
                    best = max(best, b / perf.latency.decode_s[b])
            decode_only += best / inst.layers
        out[spec.stem] = (served_upper_bound(inst, model), decode_only)
    return out


def test_the_bound_is_above_every_simulated_layout_and_below_decode_alone(bounds) -> None:
    record = read_record(ROOT / "profiles" / RECORD)
    checked = 0
    for row in record:
        if row.spec in bounds:
            bound, decode_only = bounds[row.spec]
            assert row.simulated <= bound, (row.spec, row.layout, row.simulated, bound)
            checked += 1
    assert checked >= 19
    for name, (bound, decode_only) in bounds.items():
        assert 0 < bound < 0.8 * decode_only, name  # the prompts of 763 tokens take a quarter to two thirds of it


def test_cycle_floor_by_hand() -> None:
    """Time conservation at a node holding 300 requests in waves of 100: three decode iterations of 20 ms a cycle,
    and 300 / 230 prompts of 50 ms each that their completions launch; nothing without requests or batch."""
    from planner.helix.served import _cycle_floor_s

    assert _cycle_floor_s(300.0, 100.0, 0.020, 0.050, 230.0) == pytest.approx(3 * 0.020 + 300 / 230 * 0.050)
    assert _cycle_floor_s(0.0, 100.0, 0.020, 0.050, 230.0) == 0.0
    assert _cycle_floor_s(300.0, 0.0, 0.020, 0.050, 230.0) == 0.0


OVERLOADED = """
name: h100-l4
model: llama3.1-8b
nodes:
  - {name: h100, gpu: H100-80G, count: 1}
  - {name: l4, gpu: L4, count: 2}
network:
  intra_region: {bandwidth: 10GB/s, latency: 1ms}
"""


def test_a_node_holding_the_whole_model_is_predicted_within_the_bound(tmp_path: Path) -> None:
    """One H100 holding all 32 layers of Llama 3.1 8B beside a chain of two L4s: its 300-odd requests in waves of
    about 100 need more time a cycle than the wave law's queueing terms (capped at 95 % busy) gave, and the
    prediction was 8,744.5 decode tokens/s against a served bound of 6,988.9 (``plan simulate --offline``: 6,483.5).
    With time conservation the prediction stays under the bound."""
    from planner.helix.flow import max_flow

    spec = tmp_path / "h.yaml"
    spec.write_text(OVERLOADED)
    inputs = load_inputs(spec)
    loaded, db = inputs.loaded, inputs.profiles
    inst = build_instance(loaded, db, reserve_section(loaded.spec.helix or HelixSection(), 0.2))
    model = ServedModel(db, loaded.model, trace_workload(DEFAULT_TRACE))
    ranges = {"h100-0": (0, 32), "l4-1": (0, 19), "l4-0": (19, 32)}
    flow = max_flow(inst, ranges)
    prediction = model.predict(inst, ranges, flow)
    bound = served_upper_bound(inst, model)
    assert 0 < prediction.decode_tok_s <= bound


def test_a_grid_point_reports_the_bound_of_the_command_not_its_own_hop_limit() -> None:
    """A served-search grid point solves under a hop limit the command did not ask for; its hop-limited bound bounds
    that sub-problem only (the search's own max-flow candidate exceeded one), so a plan recommended from it reports
    the command's bound: the covering / block bound of its instance, never below its flow, and no optimal label."""
    from planner.helix.objective import _bound_of_the_command
    from planner.helix.solve import HelixOptions, solve
    from tests.unit.helix.tiny import tiny_instance

    inst = tiny_instance([(30.0, 20.0, 15.0), (25.0, 12.0, 8.0), (10.0, 6.0, 4.0)], 3)
    res = solve(inst, HelixOptions(mode="strict", time_limit_s=10, rel_gap=0.0, max_hops=1, milp=False))
    assert res.bound_source.startswith("hop-limited") and res.report.status == "optimal"  # 27 of 27, under 1 hop
    unlimited = solve(inst, HelixOptions(mode="strict", time_limit_s=10, rel_gap=0.0, milp=False))
    out = _bound_of_the_command(res, 1, HelixOptions(mode="strict"))
    assert not out.bound_source.startswith("hop-limited")
    assert out.best_bound_tok_s >= unlimited.flow.value * (1 - 1e-9)
    assert out.best_bound_tok_s >= res.flow.value and out.flow is res.flow
    assert out.report.status != "optimal" and out.certificate is None
    assert "grid point of the served search" in out.report.message
    # the command's own hop limit is the grid point's: nothing to change
    assert _bound_of_the_command(res, 1, HelixOptions(mode="strict", max_hops=1)) is res
