"""Root cause 9 of issue 18: a plan must not depend on the process's hash seed.

Every test runs the same command in subprocesses under different ``PYTHONHASHSEED`` values and compares the plan
bytes (without the volatile ``run`` block: wall time, start time, host). The quick cases are small; the slow test
covers every shipped spec.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from golden_cases import ROOT, stable  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "helix"
SEEDS = ("1", "2", "3")


def _run(argv: list[str], seed: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONHASHSEED": seed, "MPLBACKEND": "Agg"}
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, env=env, check=False)


def _plans(solver: str, spec: str, args: list[str], seeds: tuple[str, ...] = SEEDS) -> list[str]:
    out = []
    for seed in seeds:
        cmd = [sys.executable, "-m", "planner", solver, spec, "--format", "json", "--quiet", *args]
        res = _run(cmd, seed)
        assert res.returncode in (0, 1), res.stderr
        assert res.stdout, res.stderr  # exit 1 without a plan (e.g. a solver failure) is a failure here
        out.append(stable(res.stdout))
    return out


FLOW_PROBE = """
import hashlib, json, sys
from pathlib import Path
from planner.helix.flow import max_flow
from planner.helix.instance import build_instance
from planner.helix.placement import read_placement
from planner.profiles.db import ProfileDB
from planner.spec.loader import load_spec
from planner.spec.sections.helix import HelixSection

db = ProfileDB.load()
loaded = load_spec(Path(sys.argv[1]), db)
inst = build_instance(loaded, db, loaded.spec.helix or HelixSection())
ranges, _ = read_placement(Path(sys.argv[2]), inst)
result = max_flow(inst, ranges, "strict")
print(json.dumps(sorted([list(k), v] for k, v in result.edge_flow.items())))
"""


def test_max_flow_decomposition_ignores_the_hash_seed() -> None:
    """networkx's preflow-push picks among equal max flows by set order: the flows must not follow string hashes.

    On this 60-node placement the flow per edge differed between every pair of hash seeds before the fix.
    """
    spec, placement = FIXTURES / "hashseed-gen60.yaml", FIXTURES / "hashseed-gen60-placement.yaml"
    flows = []
    for seed in ("0", "1", "2", "3"):
        res = _run([sys.executable, "-c", FLOW_PROBE, str(spec), str(placement)], seed)
        assert res.returncode == 0, res.stderr
        flows.append(res.stdout)
    assert flows[0].startswith("[[")
    assert all(f == flows[0] for f in flows[1:])


QUICK = [
    ("helix", "cluster_specs/helix-10node-llama30b.yaml", ["--time-limit", "30", "--search-evaluations", "10"]),
    ("helix", str(FIXTURES / "hashseed-gen60.yaml"), ["--placement", str(FIXTURES / "hashseed-gen60-placement.yaml")]),
    (
        "splitwise",
        "cluster_specs/splitwise-bloom176b-coding.yaml",
        ["--rps", "10", "--designs", "HH,baseline-h100", "--duration", "20s", "--workers", "1"],
    ),
    ("dynamo", "cluster_specs/dynamo-llama2-70b-h100.yaml", ["--set", "dynamo.horizon=1h"]),
]


@pytest.mark.parametrize(("solver", "spec", "args"), QUICK, ids=[f"{c[0]}-{Path(c[1]).stem}" for c in QUICK])
def test_small_plans_are_byte_identical_across_hash_seeds(solver: str, spec: str, args: list[str]) -> None:
    plans = _plans(solver, spec, args, seeds=("1", "2"))
    assert '"kind"' in plans[0]
    assert plans[0] == plans[1]


#: Every shipped spec, with options that end in a proven or gap-stopped plan (a wall-clock-limited MILP incumbent
#: depends on the machine's speed, not on hashing, so the 42-node cluster stops at a 10% gap reached before the MILP).
#: Splitwise and DynamoLLM get a generous --time-limit for the same reason: under the default 60 s a busy machine cut
#: the dynamo day at 188 of 288 epochs in one run and not in the other.
SLACK = ["--time-limit", "900"]
SHIPPED = {
    "helix-single24-llama2-70b.yaml": ("helix", ["--time-limit", "60"]),
    "helix-geo24-llama2-70b.yaml": ("helix", ["--time-limit", "60"]),
    "helix-10node-llama30b.yaml": ("helix", ["--time-limit", "60"]),
    "helix-het42-llama2-70b.yaml": ("helix", ["--time-limit", "120", "--gap", "10%"]),
    "helix-quickstart-llama31-70b.yaml": ("helix", ["--time-limit", "60"]),
    "splitwise-bloom176b-coding.yaml": ("splitwise", ["--rps", "70", "--workers", "1", *SLACK]),
    "splitwise-bloom176b-conversation.yaml": ("splitwise", ["--power-target", "60", "--workers", "1", *SLACK]),
    "splitwise-llama2-70b-coding.yaml": ("splitwise", ["--workers", "1", *SLACK]),
    "splitwise-llama3.1-70b-h200.yaml": ("splitwise", ["--workers", "1", *SLACK]),
    "dynamo-llama2-70b-h100.yaml": ("dynamo", SLACK),
    "dynamo-llama2-70b-h100-coding.yaml": ("dynamo", ["--slo", "15s", *SLACK]),
}


def test_every_shipped_spec_is_listed() -> None:
    # Sweep files (`sweep-*.yaml`) are not cluster specs: each point is a plan of a listed spec, and the sweep's own
    # tests compare its plans across executors.
    specs = [p.name for p in (ROOT / "cluster_specs").glob("*.yaml") if not p.name.startswith("sweep-")]
    assert sorted(SHIPPED) == sorted(specs)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_plans_are_byte_identical_across_hash_seeds(name: str) -> None:
    solver, args = SHIPPED[name]
    plans = _plans(solver, f"cluster_specs/{name}", args, seeds=("1", "2"))
    assert '"kind"' in plans[0]
    if solver != "helix":  # helix plans may stop at their (stated) time limit; the others must finish
        assert '"status": "time_limit"' not in plans[0], "raise SLACK: the run hit its time limit"
    assert plans[0] == plans[1]
