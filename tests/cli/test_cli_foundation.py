"""CLI conventions through CliRunner and once as a real subprocess."""

import json
import subprocess
import sys
from pathlib import Path

from planner.cli import app

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "specs"


def test_validate_table(runner) -> None:
    res = runner.invoke(app, ["validate", str(FIX / "tiny.yaml")])
    assert res.exit_code == 0, res.output
    assert "A100-40G" in res.stdout and "total" in res.stdout
    assert "coordinator links: 2" in res.stdout


def test_validate_json(runner) -> None:
    res = runner.invoke(app, ["validate", str(FIX / "tiny.yaml"), "--format", "json"])
    data = json.loads(res.stdout)
    assert data["node_count"] == 5 and data["total_vram_gb"] == 152
    assert data["solvers"]["helix"] == []


def test_validate_bad_spec_exit_2_one_line(runner, tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text("model: llama2-70b\nnodes:\n  - {name: a, gpu: A10O}\n")
    res = runner.invoke(app, ["validate", str(p)])
    assert res.exit_code == 2
    assert res.stderr.strip() == f"{p}:3:20: nodes[0].gpu: unknown GPU 'A10O' (did you mean 'A10G'?)"
    assert res.stdout == ""


def test_set_override_unknown_path(runner) -> None:
    res = runner.invoke(app, ["validate", str(FIX / "tiny.yaml"), "--set", "nodes[0].colour=red"])
    assert res.exit_code == 2
    assert "--set: nodes[0].colour: path does not exist" in res.stderr


def test_profiles_list_and_show(runner) -> None:
    res = runner.invoke(app, ["profiles", "list"])
    assert res.exit_code == 0 and "H100-80G" in res.stdout and "llama3.1-70b" in res.stdout
    res = runner.invoke(app, ["profiles", "show", "llama2-70b", "--format", "json"])
    assert json.loads(res.stdout)["derived"]["kv_bytes_per_token"] == 327680
    res = runner.invoke(app, ["profiles", "show", "H10"])
    assert res.exit_code == 2 and "unknown profile 'H10'" in res.stderr


def test_schema_command(runner) -> None:
    res = runner.invoke(app, ["schema"])
    assert json.loads(res.stdout)["title"] == "Plan"


def test_version_as_subprocess() -> None:
    res = subprocess.run([sys.executable, "-m", "planner", "--version"], capture_output=True, text=True, check=False)
    assert res.returncode == 0 and res.stdout.startswith("llmplan ")
    res = subprocess.run(
        [sys.executable, "-m", "planner", "validate", "nope.yaml"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 2 and res.stderr.strip() == "nope.yaml: <root>: spec file not found"
