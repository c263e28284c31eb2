"""A served plan fed back with ``--placement`` is evaluated at the KV reserve its placement was searched at: the served
search tries reserves below the spec's, so the recommended placement may hold more layers than the spec's reserve
admits (10-node: ``t4-0`` 8 layers where the spec's reserve admits 7), and was refused as too big for memory."""

from __future__ import annotations

import json
from pathlib import Path

from planner.cli import app
from planner.helix.placement import plan_reserve

SPEC = Path(__file__).resolve().parents[2] / "cluster_specs" / "helix-10node-llama30b.yaml"


def test_a_served_plan_is_evaluated_at_its_own_reserve(runner, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    res = runner.invoke(app, ["helix", str(SPEC), "-q", "-o", str(plan_file), "--search-evaluations", "10"])
    assert res.exit_code == 0, res.output
    plan = json.loads(plan_file.read_text())
    search = plan["plan"]["served"]["search"]
    reserve = next(c["kv_reserve_fraction"] for c in search["candidates"] if c["source"] == search["chosen"])
    assert plan_reserve(plan_file) == reserve
    out = tmp_path / "again.json"
    res = runner.invoke(app, ["helix", str(SPEC), "-q", "--placement", str(plan_file), "-o", str(out)])
    assert res.exit_code == 0, res.output
    again = json.loads(out.read_text())
    held = {n["name"]: n["layers"] for n in plan["plan"]["nodes"]}
    assert {n["name"]: n["layers"] for n in again["plan"]["nodes"]} == held
    assert again["metrics"]["throughput_tok_s"] >= plan["metrics"]["throughput_tok_s"] * (1 - 1e-6)
    if reserve != 0.5:  # the spec's
        assert any(f"searched at ({reserve:g})" in w for w in again["warnings"])


def test_other_placement_files_keep_the_spec_reserve(tmp_path: Path) -> None:
    yaml_file = tmp_path / "p.yaml"
    yaml_file.write_text("ranges: {a: [0, 1]}\n")
    assert plan_reserve(yaml_file) is None
    json_file = tmp_path / "p.json"
    json_file.write_text(json.dumps({"ranges": {"a": [0, 1]}}))
    assert plan_reserve(json_file) is None
