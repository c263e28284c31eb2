"""Latency lookup, plan loading and topology: numbers come from the tables and the plan, errors are one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planner.errors import ProfileMissingError, SpecError
from planner.sim.latency import RooflineLatency, load_layer_latency, roofline_layer_latency
from planner.sim.placement import check_same_cluster, load_placement
from planner.sim.requests import DEFAULT_TRACE, load_pool
from planner.sim.topology import LatencySource, build_topology
from tests.unit.sim.helpers import PLANS, topology


def test_latency_dense_lookup_interpolates_and_never_extrapolates(profile_db) -> None:
    lat = load_layer_latency(profile_db, "llama-2-70b", "A100")  # an alias resolves to the table's model
    assert lat.prompt_s[0] == 0.0 and lat.decode_s[0] == 0.0
    assert lat.decode_s[2] == pytest.approx(1.4e-3)
    assert lat.decode_s[1] == pytest.approx(1.4e-3)  # below the first measured batch: its time, not 0.7 ms
    assert lat.prompt_s[250] == pytest.approx(2e-3) and lat.prompt_s[375] == pytest.approx(3e-3)
    df = profile_db.table("helix_layer_latency")
    rows = df[(df.model == "llama2-70b") & (df.gpu == "A100")]
    assert lat.max_prompt_tokens == rows[rows.phase == "prompt"].tokens_in_batch.max()
    assert lat.max_decode_tokens == rows[rows.phase == "decode"].tokens_in_batch.max()
    assert lat.provenance == "measured"
    assert lat.batch_s(12, 250, 2) == pytest.approx(12 * (2e-3 + 1.4e-3))


def test_latency_missing_profile_is_an_error_not_a_guess(profile_db) -> None:
    with pytest.raises(ProfileMissingError, match="per-layer prompt latency"):
        load_layer_latency(profile_db, "llama2-70b", "H100")


def test_topology_from_plan(tiny_db) -> None:
    topo = topology(tiny_db, "fork.json")
    assert [n.name for n in topo.nodes] == ["a", "b1", "b2"]
    assert topo.activation_bytes == 128 and topo.token_bytes == 2
    assert {(link.src, link.dst) for link in topo.links} == {
        ("source", "a"),
        ("a", "b1"),
        ("a", "b2"),
        ("b1", "sink"),
        ("b2", "sink"),
    }
    assert [(s.target, s.flow_tok_s) for s in topo.successors[0]] == [(1, 300.0), (2, 100.0)]


def test_single24_kv_capacity_is_analytic_from_vram_and_weights(profile_db) -> None:
    """A100-40G holding 9 layers of LLaMA-2 70B: 0.9 x 40 GB - 9 x 1.71 GB, over 4096 B per token and layer."""
    topo = topology(profile_db, "single24/ilp.json")
    a100 = next(n for n in topo.nodes if n.name == "a100-06")
    model = profile_db.model("llama2-70b")
    assert model.kv_bytes_per_token / model.layers == 4096
    expected = (0.9 * 40e9 - 9 * model.layer_weight_bytes) / 4096
    assert a100.kv_capacity_token_layers == pytest.approx(expected)
    assert a100.layers == 9 and a100.profile_gpu == "A100"


def _write(tmp_path: Path, data: dict) -> Path:
    p = tmp_path / "plan.json"
    p.write_text(json.dumps(data))
    return p


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(kind="splitwise"), "needs a helix plan"),
        (lambda d: d["solver"].update(status="infeasible"), "nothing to simulate"),
        (lambda d: d["plan"]["nodes"][0].update(layer_end=9), "outside [0, 4)"),
        (lambda d: d["plan"]["edges"][0].update(dst="zz"), "unknown node 'zz'"),
        (lambda d: d["plan"]["nodes"][0].pop("profile_gpu"), "plan.nodes[0].profile_gpu: invalid plan document"),
        (lambda d: d["plan"].update(layers="x"), "plan.layers: invalid plan document"),
        (lambda d: d["plan"].update(layers=10**9), "plan.layers: 1000000000 layers"),
        (lambda d: d["metrics"].update(throughput_tok_s=-5.0), "max-flow bound must be positive"),
        (lambda d: d["metrics"].update(throughput_tok_s=0.0), "max-flow bound must be positive"),
        (lambda d: [e.update(flow_tok_s=0.0) for e in d["plan"]["edges"]], "no flow leaves the source"),
        (lambda d: d["plan"]["nodes"][1].update(layer_start=3), "does not chain layers"),
        (lambda d: d["plan"]["edges"][1].update(flow_tok_s=0.0), "flow enters b but none leaves it"),
    ],
)
def test_bad_plans_are_one_line_spec_errors(tmp_path: Path, mutate, message: str) -> None:
    data = json.loads((PLANS / "chain2.json").read_text())
    mutate(data)
    with pytest.raises(SpecError) as exc:
        load_placement(_write(tmp_path, data))
    lines = exc.value.lines()
    assert len(lines) == 1 and message in lines[0] and lines[0].startswith(str(tmp_path / "plan.json"))


def test_compare_needs_the_same_model(tmp_path: Path) -> None:
    a = load_placement(PLANS / "chain2.json")
    assert check_same_cluster([a, load_placement(PLANS / "chain2_small_kv.json")])  # other GPUs: a warning
    data = json.loads((PLANS / "single24" / "ilp.json").read_text())
    with pytest.raises(SpecError, match="differs from"):
        check_same_cluster([a, load_placement(_write(tmp_path, data))])


def test_default_pool_applies_the_helix_length_filter() -> None:
    pool = load_pool(None, 2048, 1024)
    assert pool.path.endswith("azure_llm_2023_conv.csv") and DEFAULT_TRACE.exists()
    assert pool.input_tokens.max() <= 2048 and pool.output_tokens.max() <= 1024
    assert pool.input_tokens.min() >= 4 and pool.output_tokens.min() >= 4
    assert pool.dropped > 0 and len(pool) + pool.dropped == 19366
    # the paper quotes mean 763.1 / 232.4 for its filtered copy of this trace
    assert pool.mean_input_tokens == pytest.approx(763.1, abs=1.0)
    assert pool.mean_output_tokens == pytest.approx(232.4, abs=1.0)


def test_a_node_holding_no_layer_is_left_out(tiny_db, tmp_path: Path) -> None:
    data = json.loads((PLANS / "fork.json").read_text())
    data["plan"]["nodes"].append({**data["plan"]["nodes"][0], "name": "idle", "layer_start": 0, "layer_end": 0})
    topo = build_topology(load_placement(_write(tmp_path, data)), tiny_db, 0.9)
    assert [n.name for n in topo.nodes] == ["a", "b1", "b2"]
    data["plan"]["edges"].append({**data["plan"]["edges"][0], "dst": "idle"})
    with pytest.raises(SpecError, match="holds no layer"):
        load_placement(_write(tmp_path, data))


def test_roofline_latency_by_hand_and_against_the_measured_a100(profile_db) -> None:
    """LLaMA-2 70B on one A100-40G: decoding a few tokens reads 1.71 GB of weights at 80 % of 1555 GB/s = 1.38 ms
    per layer (measured: 1.4 ms); 250 prompt tokens are compute-bound at 50 % of 312 TFLOP/s."""
    model = profile_db.model("llama2-70b")
    gpu = profile_db.gpu("A100-40G")
    lat = roofline_layer_latency(model, gpu, 1, 381.5, 879.0, 2048, RooflineLatency())
    w = model.layer_weight_bytes
    assert lat.provenance == "roofline" and lat.max_decode_tokens == 128 and lat.max_prompt_tokens == 2048
    assert lat.decode_s[2] == pytest.approx((w + 2 * 879.0 * 4096) / (1555e9 * 0.8))
    flops = model.flops_per_token(382) / model.layers
    assert lat.prompt_s[250] == pytest.approx(250 * flops / (312e12 * 0.5))
    measured = load_layer_latency(profile_db, "llama2-70b", "A100")
    assert lat.decode_s[2] == pytest.approx(measured.decode_s[2], rel=0.05)
    assert lat.prompt_s[0] == lat.decode_s[0] == 0.0
    two = roofline_layer_latency(model, gpu, 2, 381.5, 879.0, 2048, RooflineLatency())
    assert two.decode_s[2] == pytest.approx(lat.decode_s[2] / 2) and two.gpu == "A100-40Gx2"


def test_latency_auto_falls_back_to_roofline_only_where_the_table_has_no_rows(tiny_db, tmp_path: Path) -> None:
    data = json.loads((PLANS / "chain2.json").read_text())
    data["plan"]["nodes"][1]["profile_gpu"] = "H100"
    path = _write(tmp_path, data)
    with pytest.raises(ProfileMissingError):
        build_topology(load_placement(path), tiny_db, 0.9)
    topo = build_topology(load_placement(path), tiny_db, 0.9, LatencySource(mode="auto", max_prompt_tokens=4096))
    assert [n.latency.provenance for n in topo.nodes] == ["synthetic", "roofline"]
    topo = build_topology(load_placement(path), tiny_db, 0.9, LatencySource(mode="roofline"))
    assert [n.latency.provenance for n in topo.nodes] == ["roofline", "roofline"]
    assert topo.nodes[0].latency is topo.nodes[1].latency  # same GPU type and count: one profile
