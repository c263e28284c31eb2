"""Shared fixtures of the calibration tests: the synthetic benchmark files and a vLLM record builder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

SYNTHETIC = Path(__file__).resolve().parents[2] / "fixtures" / "calibrate" / "synthetic"


@pytest.fixture(scope="session")
def synthetic_files() -> list[Path]:
    files = sorted(SYNTHETIC.glob("synthetic-*.json"))
    assert len(files) >= 8
    return files


def vllm_record(**over: Any) -> dict[str, Any]:
    """A small consistent vLLM result (4 requests, per-request arrays saved)."""
    rec: dict[str, Any] = {
        "date": "20250101-000000",
        "backend": "vllm",
        "model_id": "meta-llama/Llama-2-70b-hf",
        "num_prompts": 4,
        "request_rate": "inf",
        "burstiness": 1.0,
        "max_concurrency": 2,
        "duration": 2.0,
        "completed": 4,
        "total_input_tokens": 400,
        "total_output_tokens": 40,
        "request_throughput": 2.0,
        "output_throughput": 20.0,
        "median_ttft_ms": 50.0,
        "p99_ttft_ms": 80.0,
        "median_tpot_ms": 20.0,
        "p99_tpot_ms": 25.0,
        "input_lens": [100, 100, 100, 100],
        "output_lens": [10, 10, 10, 10],
        "ttfts": [0.05, 0.05, 0.08, 0.05],
        "itls": [[0.02] * 9, [0.02] * 9, [0.025] * 9, [0.02] * 9],
        "errors": ["", "", "", ""],
    }
    rec.update(over)
    return rec


def write_json(tmp_path: Path, name: str, rec: dict[str, Any], describe: bool = True) -> Path:
    p = tmp_path / name
    p.write_text(json.dumps(rec))
    if describe:
        p.with_name(p.stem + ".meta.yaml").write_text("gpu: H100-80G\ntp: 8\nmodel: llama2-70b\n")
    return p
