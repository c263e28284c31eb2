"""Helix performance targets (issues 3 and 8), run by ``make bench`` on 2 cores; each prints its measured figures.

Figures measured while other work shares the machine are pessimistic. Each case runs the real CLI in a subprocess
(wall time and peak memory of the child are measured) and checks the plan it writes.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "cluster_specs"
sys.path.insert(0, str(ROOT / "scripts"))
from helix_generate_cluster import generate_spec  # noqa: E402

pytestmark = pytest.mark.bench
#: These cases time the max-flow method (issues 3 and 8); the served objective has its own bench file.
MAX_FLOW = ("--objective", "max-flow")


def run_plan(spec: Path, tmp_path: Path, *args: str) -> tuple[dict, float, float]:
    """Run ``plan helix``; return the plan, the wall time (s) and the child's peak memory (GB)."""
    out = tmp_path / f"{spec.stem}.json"
    cmd = [sys.executable, "-m", "planner", "helix", str(spec), "--out", str(out), "--quiet", "--format", "json", *args]
    start = time.perf_counter()
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    assert res.returncode == 0, res.stderr
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e6  # kB on Linux
    return json.loads(out.read_text()), wall, peak_gb


def report(name: str, plan: dict, wall: float, peak_gb: float) -> None:
    m, s = plan["metrics"], plan["solver"]
    best_baseline = max(b["throughput_tok_s"] for b in plan["plan"]["baselines"])
    print(
        f"\n[helix bench] {name}: {m['throughput_tok_s']:.3f} tok/s, proven bound {s['best_bound']:.3f} "
        f"({plan['plan']['bounds']['active']}), gap {100 * (s['gap'] or 0):.3f}%, status {s['status']}, "
        f"best baseline {best_baseline:.3f}, wall {wall:.1f} s, peak memory {peak_gb:.2f} GB (pessimistic: shared CPU)"
    )
    assert m["throughput_tok_s"] >= best_baseline - 1e-6  # never worse than the best baseline on the same graph
    assert m["throughput_tok_s"] <= s["best_bound"] * (1 + 1e-9)


def test_single24_proven_optimal_under_10s(tmp_path: Path) -> None:
    plan, wall, mem = run_plan(SPECS / "helix-single24-llama2-70b.yaml", tmp_path, "--time-limit", "10", *MAX_FLOW)
    report("single-24 LLaMA-2 70B", plan, wall, mem)
    assert plan["solver"]["status"] == "optimal" and wall < 10
    assert plan["metrics"]["throughput_tok_s"] >= 1476  # issue 3: >= 1290 required, aim >= 1476


def test_ten_node_reaches_the_proven_optimum(tmp_path: Path) -> None:
    plan, wall, mem = run_plan(SPECS / "helix-10node-llama30b.yaml", tmp_path, "--time-limit", "60", *MAX_FLOW)
    report("10-node LLaMA-1 30B", plan, wall, mem)
    assert plan["metrics"]["throughput_tok_s"] == pytest.approx(286.587, abs=1e-3)  # within 120 s (issue 3)
    assert plan["solver"]["status"] == "optimal" and wall < 60  # proven, gap < 1% (issue 8)


def test_het42_beats_the_paper_with_a_bound(tmp_path: Path) -> None:
    plan, wall, mem = run_plan(SPECS / "helix-het42-llama2-70b.yaml", tmp_path, "--time-limit", "55", *MAX_FLOW)
    report("42-node LLaMA-2 70B", plan, wall, mem)
    assert plan["metrics"]["throughput_tok_s"] >= 4137.5  # the paper's value (issue 3, within 300 s)
    assert wall < 60 and plan["solver"]["best_bound"] is not None  # verified plan + proven bound < 60 s (issue 8)


def test_geo24_plan_and_bound_within_120s(tmp_path: Path) -> None:
    plan, wall, mem = run_plan(SPECS / "helix-geo24-llama2-70b.yaml", tmp_path, "--time-limit", "110", *MAX_FLOW)
    report("geo-24 LLaMA-2 70B", plan, wall, mem)
    assert wall < 120 and plan["solver"]["gap"] is not None


@pytest.mark.parametrize("nodes", [50, 100, 200])
def test_generated_clusters_return_verified_plans(tmp_path: Path, nodes: int) -> None:
    spec = tmp_path / f"gen{nodes}.yaml"
    spec.write_text(generate_spec(nodes, types=7, regions=3, seed=nodes))
    plan, wall, mem = run_plan(spec, tmp_path, "--time-limit", "60", *MAX_FLOW)
    first = min((c["throughput_tok_s"] > 0, i) for i, c in enumerate(plan["plan"]["search"]["candidates"]))
    report(f"generated {nodes} nodes (first candidate #{first[1]})", plan, wall, mem)
    assert wall < 60 + 15 and mem < 4.0


def test_thousand_nodes_ten_types_five_regions(tmp_path: Path) -> None:
    spec = tmp_path / "gen1000.yaml"
    spec.write_text(generate_spec(1000, types=10, regions=5, seed=0))
    plan, wall, mem = run_plan(spec, tmp_path, "--time-limit", "240", *MAX_FLOW)
    report("generated 1,000 nodes, 10 types, 5 regions", plan, wall, mem)
    assert wall < 300 and mem < 4.0 and plan["solver"]["gap"] is not None
