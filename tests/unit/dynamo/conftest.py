"""Small dynamo problems built in code (quick): tiny specs written to tmp_path, and the shipped profile."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.dynamo.instance import DynamoOptions, DynamoProblem, prepare
from planner.runner import load_inputs

from ...dynamo_specs import tiny_dynamo_spec

ROOT = Path(__file__).resolve().parents[3]
TINY = tiny_dynamo_spec()


def tiny_problem(tmp_path: Path, text: str = TINY, **opts: object) -> DynamoProblem:
    spec = tmp_path / "tiny.yaml"
    spec.write_text(text)
    inputs = load_inputs(spec)
    return prepare(inputs.loaded, inputs.profiles, DynamoOptions(**opts))  # type: ignore[arg-type]


@pytest.fixture
def tiny(tmp_path: Path) -> DynamoProblem:
    return tiny_problem(tmp_path)
