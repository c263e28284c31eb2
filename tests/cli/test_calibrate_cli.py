"""CLI: plan calibrate, plan accuracy (exit 3 above --fail-above), plan profiles add-model; exit 2 on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planner.cli.app import app

ROOT = Path(__file__).resolve().parents[2]
SYNTHETIC = sorted((ROOT / "tests" / "fixtures" / "calibrate" / "synthetic").glob("synthetic-*.json"))


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    from typer.testing import CliRunner

    out = tmp_path_factory.mktemp("cal") / "prof"
    res = CliRunner().invoke(app, ["calibrate", *map(str, SYNTHETIC), "--out", str(out), "--no-loo"])
    assert res.exit_code == 0, res.output
    return out, res


def test_calibrate_writes_a_profile_directory(calibrated):
    out, res = calibrated
    assert (out / "tables" / "splitwise_perf.csv").exists() and (out / "calibration.yaml").exists()
    assert "Calibrated iteration model" in res.stdout and "H100-80G tp8 llama2-70b" in res.stdout


def test_accuracy_gate(runner, calibrated):
    out, _ = calibrated
    files = list(map(str, SYNTHETIC))
    ok = runner.invoke(app, ["accuracy", *files, "--profiles", str(out), "--fail-above", "10%"])
    assert ok.exit_code == 0, ok.output
    assert "within --fail-above 10%" in ok.stdout
    bad = runner.invoke(app, ["accuracy", *files, "--fail-above", "10%"])  # the shipped H100 curves
    assert bad.exit_code == 3
    assert "is above --fail-above 10%" in bad.stderr


def test_accuracy_json_and_markdown(runner):
    files = list(map(str, SYNTHETIC[:2]))
    res = runner.invoke(app, ["accuracy", *files, "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["mode"] == "current" and len(doc["runs"]) == 2 and "ttft_p99_ms" in doc["aggregate"]
    md = runner.invoke(app, ["accuracy", *files, "--format", "markdown"])
    assert md.exit_code == 0 and "| run | req/s |" in md.stdout


def test_bad_file_exits_2_with_one_line(runner, tmp_path):
    bad = tmp_path / "run.json"
    bad.write_text(json.dumps({"completed": 3}))
    res = runner.invoke(app, ["accuracy", str(bad), "--gpu", "H100-80G", "--tp", "8", "--model", "llama2-70b"])
    assert res.exit_code == 2
    assert res.stderr.strip().splitlines() == [f"{bad}: request_throughput: missing"]


def test_bad_fail_above_is_a_usage_error(runner):
    res = runner.invoke(app, ["accuracy", str(SYNTHETIC[0]), "--fail-above", "ten"])
    assert res.exit_code == 2 and "--fail-above" in res.stderr


def test_add_model_then_show(runner, tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({
        "model_type": "llama", "hidden_act": "silu", "hidden_size": 4096, "intermediate_size": 14336,
        "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8, "vocab_size": 128256,
        "torch_dtype": "bfloat16",
    }))  # fmt: skip
    prof = tmp_path / "prof"
    res = runner.invoke(
        app, ["profiles", "add-model", "--from-hf", str(cfg), "--name", "my-8b", "--profiles", str(prof)]
    )
    assert res.exit_code == 0, res.output
    assert "131,072 KV bytes/token" in res.stdout
    show = runner.invoke(app, ["profiles", "show", "my-8b", "--profiles", str(prof), "--format", "json"])
    assert show.exit_code == 0 and json.loads(show.stdout)["derived"]["kv_bytes_per_token"] == 131072
