"""Small dynamo problems built in code (quick): tiny specs written to tmp_path, and the shipped profile."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.dynamo.problem import DynamoOptions, DynamoProblem, prepare
from planner.runner import CommonOptions, load_inputs

ROOT = Path(__file__).resolve().parents[3]
CONV = ROOT / "profiles" / "traces" / "azure_llm_2023_conv.csv"

TINY = f"""\
name: tiny-dynamo
model: llama2-70b
nodes:
  - {{name: dgx, gpu: H100-80G, gpus_per_node: 8, count: 6}}
workload:
  trace: {CONV}
  load_curve:
    - {{at: "00:00", rps: 1.0}}
    - {{at: "00:30", rps: 3.0}}
slo: {{ttft: 400ms, tbt: 100ms}}
dynamo:
  horizon: 1h
  load_interpolation: linear
"""


def tiny_problem(tmp_path: Path, text: str = TINY, **opts: object) -> DynamoProblem:
    spec = tmp_path / "tiny.yaml"
    spec.write_text(text)
    inputs = load_inputs(spec, CommonOptions())
    return prepare(inputs.loaded, inputs.profiles, DynamoOptions(**opts))  # type: ignore[arg-type]


@pytest.fixture
def tiny(tmp_path: Path) -> DynamoProblem:
    return tiny_problem(tmp_path)
