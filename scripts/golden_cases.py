"""Golden plan cases: every ``tests/golden/*.cases.yaml`` lists spec + CLI args whose plan JSON is kept.

Each file is a list of ``{name, solver, spec, args}``; the golden plan is ``tests/golden/<name>.json`` with the
volatile ``run`` block removed. ``make goldens`` rewrites them; ``tests/cli/test_goldens.py`` compares.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
SIM_GOLDEN = ROOT / "tests" / "fixtures" / "helix_plans" / "golden"


def cases() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for f in sorted(GOLDEN.glob("*.cases.yaml")):
        for case in yaml.safe_load(f.read_text()) or []:
            out.append(case)
    return out


def sim_cases() -> list[dict[str, Any]]:
    """The golden ``plan simulate`` cases: ``{name, args}`` with args after ``plan simulate``."""
    return list(yaml.safe_load((SIM_GOLDEN / "simulate.cases.yaml").read_text()) or [])


def stable(plan_text: str) -> str:
    """The plan JSON without its volatile ``run`` block, canonically formatted."""
    data = json.loads(plan_text)
    data.pop("run", None)
    return json.dumps(data, sort_keys=True, indent=2) + "\n"
