"""Spec loading: good specs expand correctly; every bad spec gets located one-line errors, never a traceback."""

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.errors import SpecError
from planner.profiles.db import ProfileDB
from planner.spec.loader import load_spec

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "specs"


def lines_of(exc: SpecError) -> str:
    return "\n".join(exc.lines())


def test_tiny_spec_expands(profile_db: ProfileDB) -> None:
    loaded = load_spec(FIX / "tiny.yaml", profile_db)
    names = [n.name for n in loaded.cluster.nodes]
    assert names == ["a100-0", "a100-1", "l4-0", "l4-1", "l4-2"]
    assert loaded.cluster.node("a100-0").gpu == "A100-40G"
    # intra-region 1GB/s, cross-region 100Mbps = 12.5e6 B/s, override a100-0<->l4-1 10Gbps
    assert loaded.cluster.link("a100-0", "a100-1").bandwidth_bytes_s == 1e9
    assert loaded.cluster.link("a100-1", "l4-0").bandwidth_bytes_s == pytest.approx(12.5e6)
    assert loaded.cluster.link("l4-1", "a100-0").bandwidth_bytes_s == pytest.approx(1.25e9)
    assert loaded.cluster.link("a100-1", "l4-0").latency_s == pytest.approx(0.05)
    # coordinator links to the l4 group were disabled
    assert sorted(loaded.cluster.coordinator_links) == ["a100-0", "a100-1"]
    assert len(loaded.sha256) == 64


INVALID = [
    ("model: llama2-70c\n", "1:8: model: unknown model 'llama2-70c' (did you mean 'llama2-70b'?)"),
    (
        "model: llama2-70b\nnodes:\n  - {name: a, gpu: A10O}\n",
        "3:20: nodes[0].gpu: unknown GPU 'A10O' (did you mean 'A10G'?)",
    ),
    (
        "model: llama2-70b\nnodes:\n  - {name: a, gpu: L4, regoin: x}\n",
        "nodes[0].regoin: unknown key 'regoin' (did you mean 'region'?)",
    ),
    (
        "model: llama2-70b\nnodes: [{name: a, gpu: L4}]\nnetwork:\n  intra_region: {bandwidth: 10}\n",
        "4:29: network.intra_region.bandwidth: bandwidth needs a unit",
    ),
    (
        "model: llama2-70b\nnodes: [{name: a, gpu: L4}]\nnetwork:\n  intra_region: {bandwidth: 10 Gbit}\n",
        "cannot read bandwidth '10 Gbit' (e.g. 10Gbps",
    ),
    (
        "model: llama2-70b\nnodes:\n  - {name: a, gpu: L4, count: 0}\n",
        "nodes[0].count: Input should be greater",
    ),
    ("nodes: []\n", "1:1: model: required field is missing"),
    ("model: [unclosed\n", "YAML syntax error"),
    ("model: a\nmodel: b\n", "2:1: model: duplicate key 'model'"),
    ("- just\n- a list\n", "spec must be a mapping"),
    ("", "spec is empty"),
    (
        "model: llama2-70b\nnodes:\n  - {name: a, gpu: L4, region: r1}\n  - {name: b, gpu: L4, region: r2}\n"
        "network:\n  intra_region: {bandwidth: 1GB/s}\n",
        "several regions need network.inter_region",
    ),
    (
        "model: llama2-70b\nnodes: [{name: a, gpu: L4}]\nnetwork:\n  intra_region: {bandwidth: 1GB/s}\n"
        "  links:\n    - {between: [a-0, b], bandwidth: 1GB/s}\n",
        "network.links[0].between[1]: unknown endpoint 'b'",
    ),
    (
        "model: llama2-70b\nnodes: [{name: a, gpu: L4, count: 2}]\nnetwork:\n  intra_region: {bandwidth: 1GB/s}\n"
        "  links:\n    - {between: [a-0, a-0], bandwidth: 1GB/s}\n",
        "6:17: network.links[0].between: links a-0 to itself ('a-0' and 'a-0'): a link joins two different endpoints",
    ),
    (
        "model: llama2-70b\nnodes: [{name: a, gpu: L4}]\nnetwork:\n  intra_region: {bandwidth: 1GB/s}\n"
        "  links:\n    - {between: [coordinator, coordinator], disabled: true}\n",
        "network.links[0].between: links coordinator to itself",
    ),
    ("model: llama2-70b\nworkload: {trace: nothere.csv}\n", "workload.trace: trace file not found"),
    (
        "model: llama2-70b\nworkload:\n  input_tokens: {distribution: normal, mean: 5}\n  output_tokens: {mean: 3}\n",
        "a normal distribution needs std",
    ),
]


@pytest.mark.parametrize(("text", "expected"), INVALID)
def test_invalid_specs_give_located_lines(tmp_path: Path, profile_db: ProfileDB, text: str, expected: str) -> None:
    p = tmp_path / "spec.yaml"
    p.write_text(text)
    with pytest.raises(SpecError) as exc:
        load_spec(p, profile_db)
    out = lines_of(exc.value)
    assert expected in out
    for line in exc.value.lines():
        assert "\n" not in line and "Traceback" not in line


def test_a_group_linked_with_itself_is_every_pair_inside_it(tmp_path: Path, profile_db: ProfileDB) -> None:
    p = tmp_path / "spec.yaml"
    p.write_text(
        "model: llama2-70b\nnodes: [{name: a, gpu: L4, count: 3}]\nnetwork:\n  intra_region: {bandwidth: 1GB/s}\n"
        "  links:\n    - {between: [a, a], bandwidth: 2GB/s}\n"
    )
    loaded = load_spec(p, profile_db)
    assert loaded.cluster.link("a-0", "a-2").bandwidth_bytes_s == 2e9


def test_overrides_apply_and_must_exist(profile_db: ProfileDB) -> None:
    loaded = load_spec(FIX / "tiny.yaml", profile_db, ["nodes[1].count=5", "slo.ttft=3s"])
    assert len(loaded.cluster.nodes) == 7
    assert loaded.spec.slo is not None and loaded.spec.slo.ttft == 3.0
    with pytest.raises(SpecError, match="path does not exist"):
        load_spec(FIX / "tiny.yaml", profile_db, ["nodes[0].colour=red"])
    with pytest.raises(SpecError, match="expected dotted.path=value"):
        load_spec(FIX / "tiny.yaml", profile_db, ["nodes"])


_yaml_chars = st.sampled_from(list("abc:{}[]-,'\"\n #&*!|>%@`0123456789.") + ["model: ", "nodes:", "  - "])


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(st.lists(_yaml_chars, max_size=60).map("".join))
def test_mangled_yaml_never_tracebacks(tmp_path: Path, profile_db: ProfileDB, text: str) -> None:
    p = tmp_path / "fuzz.yaml"
    p.write_text(text)
    try:
        load_spec(p, profile_db)
    except SpecError as exc:
        assert all(line for line in exc.lines())


_gpus = st.sampled_from(["A100-40G", "L4", "T4", "H100-80G", "L40S"])
_group = st.fixed_dictionaries(
    {
        "gpu": _gpus,
        "count": st.integers(1, 4),
        "gpus_per_node": st.integers(1, 8),
        "region": st.sampled_from("ab"),
    }
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(st.lists(_group, min_size=1, max_size=4), st.sampled_from(["1GB/s", "10Gbps", "800MB/s"]))
def test_generated_valid_specs_load(tmp_path: Path, profile_db: ProfileDB, groups: list, bw: str) -> None:
    import yaml

    nodes = [{"name": f"g{i}", **g} for i, g in enumerate(groups)]
    doc = {
        "model": "llama2-70b",
        "nodes": nodes,
        "network": {
            "intra_region": {"bandwidth": bw},
            "inter_region": {"bandwidth": "100Mbps", "latency": "40ms"},
        },
    }
    p = tmp_path / "gen.yaml"
    p.write_text(yaml.safe_dump(doc))
    loaded = load_spec(p, profile_db)
    n = sum(g["count"] for g in groups)
    assert len(loaded.cluster.nodes) == n
    assert len(loaded.cluster.links) == n * (n - 1) // 2
    assert len(loaded.cluster.coordinator_links) == n
