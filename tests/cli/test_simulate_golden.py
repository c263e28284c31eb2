"""Golden simulation documents: a change to what `plan simulate` computes must update them on purpose.

Kept apart from tests/golden (whose files must be *plan* documents, see tests/unit/test_schema_goldens.py); the
volatile ``run`` block is dropped before comparing. Rewrite after an intended change with

    LLMPLAN_UPDATE_SIM_GOLDENS=1 .venv/bin/python -m pytest -q tests/cli/test_simulate_golden.py

and review ``git diff tests/fixtures/helix_plans/golden``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from planner.sim.document import SimulationDocument

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "fixtures" / "helix_plans" / "golden"
FIX = "tests/fixtures/helix_plans"

CASES: dict[str, list[str]] = {
    "chain2-online": [f"{FIX}/chain2.json", "--profiles", f"{FIX}/profiles", "--rps", "3", "--duration", "20s"],
    "single24-offline": [
        f"{FIX}/single24/ilp.json",
        "--compare",
        f"{FIX}/single24/swarm.json",
        "--offline",
        "--duration",
        "60s",
        "--warmup",
        "10s",
    ],
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
    if os.environ.get("LLMPLAN_UPDATE_SIM_GOLDENS"):
        path.write_text(_stable(res.stdout))
    assert _stable(res.stdout) == path.read_text(), f"simulation changed: see this module's docstring ({name})"
