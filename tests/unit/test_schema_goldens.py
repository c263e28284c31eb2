"""Every golden plan validates against the shipped JSON Schema of the plan document."""

import json
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parents[2]
GOLDENS = sorted((ROOT / "tests" / "golden").glob("*.json"))


def test_there_are_goldens() -> None:
    assert len(GOLDENS) >= 3


@pytest.mark.parametrize("path", GOLDENS, ids=[p.stem for p in GOLDENS])
def test_golden_plan_matches_schema(path: Path) -> None:
    schema = json.loads((ROOT / "planner" / "schemas" / "plan.schema.json").read_text())
    jsonschema.validate(json.loads(path.read_text()), schema)
