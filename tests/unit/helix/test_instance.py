"""Building the instance from a spec: K from memory, tables and analytic fallback, capacities and units."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.errors import InfeasibleError, ProfileMissingError, SpecError
from planner.helix.instance import build_instance
from planner.helix.solve import HelixOptions, solve
from planner.profiles.db import ProfileDB
from planner.spec.loader import load_spec
from planner.spec.sections.helix import HelixSection
from tests.conftest import write

BASE = """
model: llama2-70b
nodes:
  - {name: a100, gpu: A100-40G, count: 2, region: east}
  - {name: t4, gpu: T4, count: 2, region: west}
network:
  intra_region: {bandwidth: 8Gbps, latency: 1ms}
  inter_region: {bandwidth: 100Mbps, latency: 50ms}
  coordinator: {region: east}
"""


def _inst(tmp_path: Path, db: ProfileDB, text: str):
    loaded = load_spec(write(tmp_path, "s.yaml", text), db)
    return build_instance(loaded, db, loaded.spec.helix or HelixSection())


def test_k_from_memory_and_paper_tables(tmp_path: Path, profile_db: ProfileDB) -> None:
    inst = _inst(tmp_path, profile_db, BASE + "helix: {table_mix: a100x4-l4x8-t4x12, layer_weight_bytes: 1.53GB}\n")
    a100, t4 = inst.node("a100-0"), inst.node("t4-0")
    assert (a100.max_layers, t4.max_layers) == (12, 4)  # min(floor(0.5 VRAM / 1.53 GB), table rows)
    assert a100.tp(4) == pytest.approx(5264.623373853506)
    assert a100.provenance == "measured"
    # The tables depend on the GPU mix; a different mix is used, and said.
    assert any("no Helix table for this cluster's GPU mix a100x2-t4x2" in w for w in inst.warnings)


def test_units_bits_versus_bytes(tmp_path: Path, profile_db: ProfileDB) -> None:
    inst = _inst(tmp_path, profile_db, BASE)
    # 8 Gbit/s = 1e9 B/s -> 1e9 / 16384 activations/s between nodes; 100 Mbit/s = 12.5e6 B/s across regions.
    assert inst.edge_map[("a100-0", "a100-1")].capacity_tok_s == pytest.approx(1e9 / 16384)
    assert inst.edge_map[("a100-0", "t4-0")].capacity_tok_s == pytest.approx(12.5e6 / 16384)
    assert inst.edge_map[("source", "a100-0")].capacity_tok_s == pytest.approx(1e9 / 2)  # 2-byte token ids


def test_analytic_fallback_is_marked(tmp_path: Path, profile_db: ProfileDB) -> None:
    text = BASE.replace("A100-40G", "H100-80G").replace("llama2-70b", "llama3.1-70b")
    inst = _inst(tmp_path, profile_db, text)
    h100 = inst.node("a100-0")
    assert h100.provenance == "analytic"
    assert h100.max_layers == int(0.5 * 80e9 // profile_db.model("llama3.1-70b").layer_weight_bytes)
    assert all(t > 0 for t in h100.tp_tok_s)
    assert any(a.subject == "tp[H100-80G]" and a.basis == "analytic" for a in inst.assumptions)
    assert inst.token_bytes == 4  # a 128k vocabulary needs more than 16 bits per token id


def test_missing_table_when_tables_are_required(tmp_path: Path, profile_db: ProfileDB) -> None:
    text = BASE.replace("A100-40G", "H100-80G") + "helix: {throughput: table}\n"
    with pytest.raises(ProfileMissingError, match="Helix throughput table"):
        _inst(tmp_path, profile_db, text)


def test_unknown_table_mix_is_a_spec_error(tmp_path: Path, profile_db: ProfileDB) -> None:
    with pytest.raises(SpecError, match="no Helix table mix 'a100x4-l4x8-t4x13'"):
        _inst(tmp_path, profile_db, BASE + "helix: {table_mix: a100x4-l4x8-t4x13}\n")


def test_node_too_small_for_one_layer_is_left_out(tmp_path: Path, profile_db: ProfileDB) -> None:
    text = BASE.replace("T4, count: 2", "T4, count: 2") + "helix: {kv_reserve_fraction: 0.9}\n"
    inst = _inst(tmp_path, profile_db, text)
    assert {n.name for n in inst.excluded} == {"t4-0", "t4-1"}  # 1.6 GB free < 1.71 GB per layer
    assert any("cannot hold one layer" in w for w in inst.warnings)


def test_cluster_too_small_for_the_model_is_infeasible(tmp_path: Path, profile_db: ProfileDB) -> None:
    inst = _inst(tmp_path, profile_db, BASE)
    with pytest.raises(InfeasibleError, match=r"memory\[cluster\] limit 80 layers, best achievable 30 layers"):
        solve(inst, HelixOptions(time_limit_s=5))


def test_disconnected_coordinator_is_infeasible(tmp_path: Path, profile_db: ProfileDB) -> None:
    text = (
        BASE.replace("count: 2", "count: 8") + "  links:\n    - {between: [coordinator, region:east], disabled: true}\n"
    )
    text += "    - {between: [coordinator, region:west], disabled: true}\n"
    inst = _inst(tmp_path, profile_db, text)
    with pytest.raises(InfeasibleError, match="connectivity"):
        solve(inst, HelixOptions(time_limit_s=5))


def test_heuristic_order_must_list_every_node(tmp_path: Path, profile_db: ProfileDB) -> None:
    with pytest.raises(SpecError, match="unknown node 'a100-9'"):
        _inst(tmp_path, profile_db, BASE + "helix: {heuristic_order: [a100-9, a100-1, t4-0, t4-1]}\n")
    with pytest.raises(SpecError, match="missing: t4-1"):
        _inst(tmp_path, profile_db, BASE + "helix: {heuristic_order: [a100-0, a100-1, t4-0]}\n")


def test_disconnected_region_is_reported_and_left_idle(tmp_path: Path, profile_db: ProfileDB) -> None:
    text = BASE.replace("A100-40G, count: 2", "A100-40G, count: 8") + (
        "  links:\n    - {between: [region:west, region:east], disabled: true}\n"
        "    - {between: [coordinator, region:west], disabled: true}\n"
    )
    inst = _inst(tmp_path, profile_db, text)
    assert any("region west is disconnected from the coordinator" in w for w in inst.warnings)
    res = solve(inst, HelixOptions(time_limit_s=5))
    assert res.flow.value > 0
    assert all(res.flow.node_inflow[n] == 0 for n in ("t4-0", "t4-1"))


def test_paper_table_is_the_papers_mix_table_and_refuses_without_one(tmp_path: Path, profile_db: ProfileDB) -> None:
    """``throughput: paper-table`` takes tp(k) from the paper's static per-mix tables, exactly; no table, no plan."""
    inst = _inst(tmp_path, profile_db, BASE + "helix: {throughput: paper-table, table_mix: a100x4-l4x8-t4x12}\n")
    assert inst.node("a100-0").tp(4) == pytest.approx(5264.623373853506)  # the mix's A100 row, k = 4
    assert inst.node("t4-0").tp(1) == pytest.approx(5709.207939642649)
    assert any(a.subject == "tp[A100]" and a.basis == "measured" and "a100x4-l4x8-t4x12" in a.detail
               for a in inst.assumptions)  # fmt: skip
    text = BASE.replace("A100-40G", "H100-80G") + "helix: {throughput: paper-table}\n"
    with pytest.raises(ProfileMissingError, match="Helix throughput table"):
        _inst(tmp_path, profile_db, text)


def test_node_model_throughput_ignores_the_cluster_mix(tmp_path: Path, profile_db: ProfileDB) -> None:
    """``throughput: node-model``: tp(k) is the shared node model's, the node alone -- the same A100 in a cluster
    with T4s or with L4s gets the same figures, equal to NodePerf.throughput_tok_s at the workload's lengths."""
    from planner.helix.instance import NODE_MODEL_HWM
    from planner.profiles.nodeperf import Workload, node_perf

    with_t4 = _inst(tmp_path, profile_db, BASE + "helix: {throughput: node-model}\n")
    with_l4 = _inst(tmp_path, profile_db, BASE.replace("gpu: T4", "gpu: L4") + "helix: {throughput: node-model}\n")
    a, b = with_t4.node("a100-0"), with_l4.node("a100-0")
    assert a.tp_tok_s == b.tp_tok_s
    assert a.max_layers == int(0.5 * 40e9 // profile_db.model("llama2-70b").layer_weight_bytes)  # K from memory
    perf = node_perf(profile_db, profile_db.model("llama2-70b"), "A100-40G", 1, "A100", Workload(750.0, 240.0))
    assert a.tp(5) == pytest.approx(perf.throughput_tok_s(5, Workload(750.0, 240.0), NODE_MODEL_HWM))
    assert a.tp(1) > a.tp(5) > 0
    assert any(x.subject == "tp[A100]" and "shared node model" in x.detail for x in with_t4.assumptions)


def test_unknown_throughput_source_is_a_spec_error(tmp_path: Path, profile_db: ProfileDB) -> None:
    with pytest.raises(SpecError, match=r"helix\.throughput"):
        _inst(tmp_path, profile_db, BASE + "helix: {throughput: paper_tables}\n")
