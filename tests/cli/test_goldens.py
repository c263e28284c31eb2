"""Golden plans: a change that alters a shipped example's plan must update tests/golden on purpose (`make goldens`)."""

from __future__ import annotations

import subprocess
import sys

import pytest

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[2] / "scripts"))
from golden_cases import GOLDEN, ROOT, cases, stable  # noqa: E402

CASES = cases()


def test_there_are_golden_cases() -> None:
    assert len(CASES) >= 6


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_golden_plan_unchanged(case: dict) -> None:
    cmd = [sys.executable, "-m", "planner", case["solver"], case["spec"], "--format", "json", "--quiet"]
    cmd += [str(a) for a in case.get("args", [])]
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    assert res.returncode in (0, 1), res.stderr
    expected = (GOLDEN / f"{case['name']}.json").read_text()
    assert stable(res.stdout) == expected, f"plan changed: run `make goldens` if intended ({case['name']})"
