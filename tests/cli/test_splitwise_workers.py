"""``--workers N`` changes how fast a splitwise plan comes, never the plan: 2 workers give the 1-worker golden."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from golden_cases import GOLDEN, ROOT, cases, stable  # noqa: E402

CASES = [c for c in cases() if c["solver"] == "splitwise" and "--designs" in c.get("args", [])]


def _with_workers(args: list[str], workers: int) -> list[str]:
    out = list(args)
    i = out.index("--workers")
    out[i + 1] = str(workers)
    return out


@pytest.mark.parametrize("case", CASES[:1], ids=[c["name"] for c in CASES[:1]])
def test_two_workers_give_the_one_worker_golden(case: dict) -> None:
    args = _with_workers([str(a) for a in case["args"]], 2)
    cmd = [sys.executable, "-m", "planner", "splitwise", case["spec"], "--format", "json", "--quiet", *args]
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    assert res.returncode in (0, 1), res.stderr
    assert stable(res.stdout) == (GOLDEN / f"{case['name']}.json").read_text()
