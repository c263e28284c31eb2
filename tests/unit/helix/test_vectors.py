"""The reference test vectors: every placement's max flow (strict and partial) and the baseline layouts."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.helix.baselines import petals_order, petals_ranges, swarm_ranges
from planner.helix.flow import max_flow
from planner.helix.instance import build_instance
from planner.profiles.db import ProfileDB
from planner.spec.loader import load_spec
from tests.unit.helix.vectors import cases, instance, placement, vectors

ROOT = Path(__file__).resolve().parents[3]
SPECS = {"single24": "helix-single24-llama2-70b.yaml", "cluster10": "helix-10node-llama30b.yaml"}
# spec node name for each paper node id (the specs' heuristic_order lists them in id order)


@pytest.mark.parametrize(("cluster", "name"), cases())
def test_max_flow_reproduces_every_vector(cluster: str, name: str) -> None:
    expected = vectors()["clusters"][cluster]["placements"][name]["expected_max_flow"]
    inst = instance(cluster)
    ranges = placement(cluster, name)
    assert max_flow(inst, ranges, "strict").value == pytest.approx(expected["strict_full_precision"], abs=1e-3)
    assert max_flow(inst, ranges, "partial").value == pytest.approx(expected["partial_full_precision"], abs=1e-3)


@pytest.mark.parametrize("throughput", ["auto", "paper-table"])
@pytest.mark.parametrize(("cluster", "name"), cases())
def test_vectors_through_shipped_spec_and_tables(
    cluster: str, name: str, throughput: str, profile_db: ProfileDB
) -> None:
    """Spec + shipped helix_throughput table + K from memory give the same flows (node ids via heuristic_order),
    by default and under ``helix.throughput: paper-table`` (the paper's per-mix tables, required)."""
    loaded = load_spec(ROOT / "cluster_specs" / SPECS[cluster], profile_db)
    assert loaded.spec.helix is not None
    inst = build_instance(loaded, profile_db, loaded.spec.helix.model_copy(update={"throughput": throughput}))
    by_id = {f"n{i:02d}": node.name for i, node in enumerate(inst.nodes)}
    ranges = {by_id[k]: v for k, v in placement(cluster, name).items()}
    expected = vectors()["clusters"][cluster]["placements"][name]["expected_max_flow"]
    assert max_flow(inst, ranges, "strict").value == pytest.approx(expected["strict_full_precision"], abs=1e-3)
    assert max_flow(inst, ranges, "partial").value == pytest.approx(expected["partial_full_precision"], abs=1e-3)
    for node, ref in zip(inst.nodes, vectors()["clusters"][cluster]["nodes"], strict=True):
        assert node.max_layers == ref["max_layers"]
        assert node.profile_gpu == ref["type"]


def test_one_min_cut_node_of_the_ilp_vector() -> None:
    result = max_flow(instance("single24"), placement("single24", "ilp"), "strict")
    assert "n18" in result.cut_nodes  # the reference lists node 18 (L4, 7 layers) in one minimum cut


@pytest.mark.parametrize("cluster", ["single24", "cluster10"])
def test_petals_order_and_layout(cluster: str) -> None:
    key = "petals" if cluster == "single24" else "petals_derived"
    ref = vectors()["clusters"][cluster]["placements"][key]
    assert (
        petals_order(len(ref["ranges"]), 0) == ref["heuristic_inputs"]["processing_order_after_python_random_shuffle"]
    )
    assert petals_ranges(instance(cluster), 0) == placement(cluster, key)


@pytest.mark.parametrize(("cluster", "stages"), [("single24", 20), ("cluster10", 10)])
def test_swarm_layout(cluster: str, stages: int) -> None:
    key = "swarm" if cluster == "single24" else "swarm_derived"
    assert swarm_ranges(instance(cluster), stages) == placement(cluster, key)


def test_swarm_refuses_stage_counts_that_do_not_fit() -> None:
    inst = instance("single24")
    assert swarm_ranges(inst, 7) is None  # 80 % 7 != 0
    assert swarm_ranges(inst, 10) is None  # 8 layers per stage exceed the T4s' K = 4
