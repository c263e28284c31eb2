"""Root cause 2 of issue 18 (spec side): node count, epoch count and simulated duration are capped with a message
that says why and how to go further (``--max-nodes``, ``--max-epochs``), before anything large is built."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.cli import app
from planner.errors import SpecError
from planner.spec.loader import DEFAULT_MAX_NODES, load_spec

ROOT = Path(__file__).resolve().parents[3]
TINY = ROOT / "tests" / "fixtures" / "specs" / "tiny.yaml"
DYNAMO = ROOT / "cluster_specs" / "dynamo-llama2-70b-h100.yaml"


def test_node_count_cap_names_the_group_and_the_override(profile_db) -> None:
    with pytest.raises(SpecError) as exc:
        load_spec(TINY, profile_db, ["nodes[0].count=100000"])
    (line,) = exc.value.lines()
    assert line.startswith("--set: nodes[0].count: the spec describes 100,003 nodes")
    assert f"more than --max-nodes {DEFAULT_MAX_NODES:,}" in line


def test_node_count_cap_in_the_file_is_located(profile_db, tmp_path: Path) -> None:
    spec = tmp_path / "big.yaml"
    spec.write_text(TINY.read_text().replace("count: 3,", "count: 2500,"))
    with pytest.raises(SpecError) as exc:
        load_spec(spec, profile_db)
    (line,) = exc.value.lines()
    assert line.startswith(f"{spec}:5:") and "nodes[1].count: the spec describes 2,502 nodes" in line


def test_node_count_cap_can_be_raised(profile_db) -> None:
    loaded = load_spec(TINY, profile_db, ["nodes[0].count=40"], max_nodes=43)
    assert len(loaded.cluster.nodes) == 43
    with pytest.raises(SpecError, match="more than --max-nodes 42"):
        load_spec(TINY, profile_db, ["nodes[0].count=40"], max_nodes=42)


def test_validate_has_max_nodes(runner) -> None:
    res = runner.invoke(app, ["validate", str(TINY), "--set", "nodes[0].count=40", "--max-nodes", "10"])
    assert res.exit_code == 2
    assert "more than --max-nodes 10" in res.output


def test_epoch_cap_from_the_spec(runner) -> None:
    res = runner.invoke(app, ["dynamo", str(DYNAMO), "-q", "--set", "dynamo.reshard_epoch=1s"])
    assert res.exit_code == 2, res.output
    assert "--set: dynamo.reshard_epoch: 1s epochs over a 86400s horizon make 86,400 epochs" in res.output
    assert "more than --max-epochs 1,440" in res.output


def test_epoch_cap_from_the_command_line(runner) -> None:
    res = runner.invoke(app, ["dynamo", str(DYNAMO), "-q", "--reshard-epoch", "1s", "--epoch", "30m"])
    assert res.exit_code == 2, res.output
    assert res.output.startswith("--reshard-epoch: 1s epochs over a 86400s horizon make 86,400 epochs")


def test_epoch_cap_can_be_raised(runner, tmp_path: Path) -> None:
    """2-minute epochs over one hour (30 epochs) pass with --max-epochs 30 and fail with 29."""
    args = ["dynamo", str(DYNAMO), "-q", "--set", "dynamo.horizon=1h", "--reshard-epoch", "2m", "--epoch", "30m"]
    res = runner.invoke(app, [*args, "--max-epochs", "29"])
    assert res.exit_code == 2 and "make 30 epochs" in res.output
    res = runner.invoke(app, [*args, "--max-epochs", "30", "--format", "json"])
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["splitwise", "--duration", "2h"], "--duration 2h is above the largest accepted 3600s"),
        (["splitwise", "--rps", "nan"], "--rps must be positive and at most"),
        (["splitwise", "--rps", "inf"], "--rps must be positive and at most"),
        (["helix", "--time-limit", "inf"], "--time-limit must be a finite, non-negative duration"),
        (["helix", "--time-limit", "nan"], "--time-limit must be a finite, non-negative duration"),
        (["dynamo", "--price-kwh", "inf"], "--price-kwh must be a finite number"),
        (["dynamo", "--price-kwh", "nan"], "Invalid value for '--price-kwh'"),
    ],
)
def test_option_values_are_finite_and_bounded(runner, args: list[str], message: str) -> None:
    res = runner.invoke(app, [*args, "-q"])
    assert res.exit_code == 2, res.output
    assert message in res.output


def test_init_warns_when_the_cluster_cannot_hold_the_model(runner, tmp_path: Path) -> None:
    """The issue's example: 2 A100-80G + 4 L4 hold 74 of llama2-70b's 80 layers (126.6 GB of 136.9 GB)."""
    out = tmp_path / "c.yaml"
    args = ["init", "--solver", "helix", "--gpus", "2xA100-80G,4xL4", "--model", "llama2-70b", "--out", str(out)]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "warning: this cluster cannot hold llama2-70b: 126.6 GB of weight room" in res.output
    assert "against 136.9 GB needed" in res.output
    assert "short by 10.3 GB (6 layers); it would fit with 1 more A100-80G node or 1 more L4 node" in res.output
    assert out.is_file()


def test_init_is_silent_when_the_cluster_fits(runner) -> None:
    res = runner.invoke(app, ["init", "--solver", "helix", "--gpus", "4xA100-80G,4xL4", "--model", "llama2-70b"])
    assert res.exit_code == 0
    assert "warning" not in res.output
