"""Golden simulation documents: a change to what `plan simulate` computes must update them on purpose.

Kept apart from tests/golden (whose files must be *plan* documents, see tests/unit/test_schema_goldens.py); the
volatile ``run`` block is dropped before comparing. The cases live in
tests/fixtures/helix_plans/golden/simulate.cases.yaml; after an intended change rewrite them with ``make goldens``
(never from a test) and review ``git diff tests/fixtures/helix_plans/golden``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from planner.sim.document import SimulationDocument

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "fixtures" / "helix_plans" / "golden"
CASES: dict[str, list[str]] = {
    c["name"]: [str(a) for a in c["args"]] for c in yaml.safe_load((GOLDEN / "simulate.cases.yaml").read_text())
}


def _stable(text: str) -> str:
    data = json.loads(text)
    data.pop("run")
    return json.dumps(data, sort_keys=True, indent=2) + "\n"


@pytest.mark.parametrize("name", sorted(CASES))
def test_simulation_golden(name: str) -> None:
    cmd = [sys.executable, "-m", "planner", "simulate", *CASES[name], "--format", "json", "--quiet"]
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    SimulationDocument.model_validate_json(res.stdout)  # the document matches its own schema
    path = GOLDEN / f"simulate-{name}.json"
    assert _stable(res.stdout) == path.read_text(), f"simulation changed: see this module's docstring ({name})"
