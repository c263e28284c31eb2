"""First run: each solver command without a spec runs on its shipped default and says so first (issue 9)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from planner.paths import REPO_ROOT

CASES = [
    (["helix", "--search-evaluations", "10"], "helix-single24-llama2-70b.yaml"),  # the note, not the search
    (["dynamo", "--slo", "15s"], "dynamo-llama2-70b-h100.yaml"),
    (["splitwise", "--cost-target", "1500", "--duration", "20s", "--designs", "HH"], "splitwise-bloom176b-coding.yaml"),
]


@pytest.mark.parametrize(("args", "default"), CASES, ids=[c[0][0] for c in CASES])
def test_solver_without_spec_uses_the_shipped_default(tmp_path, args: list[str], default: str) -> None:
    out = tmp_path / "plan.json"
    res = subprocess.run(
        [sys.executable, "-m", "planner", *args, "--out", str(out), "--format", "json"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    first = res.stderr.splitlines()[0]
    assert first == f"using cluster_specs/{default} (default; pass a spec to use your own)"
    plan = json.loads(res.stdout)
    assert plan["inputs"]["spec"]["path"] == f"cluster_specs/{default}"
    assert plan["solver"]["status"] in ("optimal", "feasible", "time_limit")
    assert json.loads(out.read_text())["kind"] == args[0]


def test_quiet_suppresses_the_note() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "planner", "dynamo", "--slo", "15s", "--quiet", "--format", "json"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0 and res.stderr == ""
