"""docs/ci.md: the GitHub Actions workflow parses, its shell is valid, and its diff step does what the doc says.

The diff step is run for real in a temporary git repository with a stand-in ``.venv/bin/plan`` whose exit codes
follow ``plan diff``'s (0 no change, 2 changed, 3 guardrail breached, 1 error), so the case analysis, the sticky
comment marker and the failure output are checked without a solver.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

DOC = Path(__file__).resolve().parents[2] / "docs" / "ci.md"
MARKER = "<!-- llmplan-diff:ci -->"


def workflow() -> dict[Any, Any]:
    blocks = re.findall(r"```yaml\n(.*?)```\n", DOC.read_text(), flags=re.S)
    flows = [yaml.safe_load(b) for b in blocks if "jobs:" in b]
    assert len(flows) == 1, "docs/ci.md should hold exactly one workflow"
    return flows[0]


def steps() -> list[dict[str, Any]]:
    return workflow()["jobs"]["plan-diff"]["steps"]


def test_workflow_triggers_permissions_and_steps() -> None:
    wf = workflow()
    assert "pull_request" in wf[True]  # YAML 1.1 reads the key `on` as true
    assert wf["permissions"]["pull-requests"] == "write"
    s = steps()
    assert s[0]["uses"].startswith("actions/checkout@") and s[0]["with"]["fetch-depth"] == 0
    diff = next(x for x in s if x.get("id") == "diff")
    assert "plan diff --base-ref" in diff["run"] and '--fail-on "$FAIL_ON"' in diff["run"]
    assert "slo" in diff["env"]["FAIL_ON"]
    post = next(x for x in s if "github-script" in x.get("uses", ""))
    assert MARKER in post["with"]["script"] and "updateComment" in post["with"]["script"]
    assert s[-1]["if"] == "steps.diff.outputs.failed == '1'" and "exit 1" in s[-1]["run"]


def test_every_run_block_is_valid_bash() -> None:
    for step in steps():
        if "run" in step:
            res = subprocess.run(["bash", "-n"], input=step["run"], capture_output=True, text=True, check=False)
            assert res.returncode == 0, (step.get("name"), res.stderr)
            assert "${{" not in step["run"], "expressions belong in env:, not in scripts (injection)"


FAKE_PLAN = """#!/bin/bash
# stand-in for .venv/bin/plan: exit codes of plan diff by spec name; solver runs print a plan
for a in "$@"; do
  case "$a" in
    *helix-same*) exit 0 ;;
    *helix-change*) echo "### plan diff: helix change"; exit 2 ;;
    *helix-breach*) echo "### plan diff: helix breach"; echo "guardrail breached: cost>+3%" >&2; exit 3 ;;
    *helix-broken*) echo "planning failed: plan helix exited 2" >&2; exit 1 ;;
    *helix-new*) echo "## helix plan new"; exit 0 ;;
  esac
done
exit 99
"""


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=repo, check=True)


def test_diff_step_builds_the_sticky_comment_and_fails_on_breaches(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "cluster_specs").mkdir(parents=True)
    for name in ("same", "change", "breach", "broken", "untouched"):
        (repo / "cluster_specs" / f"helix-{name}.yaml").write_text(f"name: {name}\n")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "base")
    base = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True)
    for name in ("same", "change", "breach", "broken"):
        (repo / "cluster_specs" / f"helix-{name}.yaml").write_text(f"name: {name}\n# edited\n")
    (repo / "cluster_specs" / "helix-new.yaml").write_text("# examples-args: --time-limit 5\nname: new\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "change")
    (repo / ".venv" / "bin").mkdir(parents=True)
    plan = repo / ".venv" / "bin" / "plan"
    plan.write_text(FAKE_PLAN)
    plan.chmod(0o755)
    step = next(x for x in steps() if x.get("id") == "diff")
    output = tmp_path / "github_output"
    env = {**os.environ, **step["env"], "BASE_SHA": base.stdout.strip(), "GITHUB_OUTPUT": str(output)}
    res = subprocess.run(["bash", "-c", step["run"]], cwd=repo, env=env, capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    comment = (repo / "plan-diff" / "comment.md").read_text()
    assert comment.startswith(MARKER + "\n## Deployment plans\n")
    assert "- `cluster_specs/helix-same.yaml`: no plan change" in comment
    assert "### plan diff: helix change" in comment and "### plan diff: helix breach" in comment
    assert "- `cluster_specs/helix-broken.yaml`: **could not plan** (exit 1)" in comment
    assert "### new spec `cluster_specs/helix-new.yaml`\n\n## helix plan new" in comment
    assert "untouched" not in comment
    assert output.read_text() == "failed=1\n"
    assert "guardrail breached: cost>+3%" in res.stderr
