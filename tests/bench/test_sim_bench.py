"""Benchmarks for `plan simulate` (issue 7 targets); run by `make bench`, print the measured figures.

* speed: 10 simulated minutes (plus 60 s warm-up) of the single 24-node cluster in under 60 s wall on 2 cores,
  peak memory under 2 GB (measured in a child process, offline mode: the heaviest load);
* quality: on single-24 LLaMA-2 70B, offline, the MILP placement's simulated decode throughput beats the Swarm
  and separate-pipeline placements (the paper reports about 2x: 252.1 vs 124.7 and 124.3 tok/s), with the
  achieved/bound ratio printed for each. Run twice: on the reference placements (the paper's Gurobi incumbent and
  baselines, tests/fixtures/helix_plans/single24) and on what `plan helix --emit-baselines DIR` writes for
  cluster_specs/helix-single24-llama2-70b.yaml (skipped, saying why, until that command and spec exist).

Figures measured while other work shares the 2 cores are pessimistic.
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
FIX = ROOT / "tests" / "fixtures" / "helix_plans" / "single24"
SPEC = ROOT / "cluster_specs" / "helix-single24-llama2-70b.yaml"
BASELINES = ("swarm", "petals", "separate-pipelines")

pytestmark = pytest.mark.bench


def _simulate(args: list[str]) -> tuple[dict, float, float]:
    """Run `plan simulate` in a child process: (document, wall s, peak RSS of the child in MB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "planner", "simulate", *args, "--format", "json", "--quiet"]
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    assert res.returncode == 0, res.stderr
    peak_mb = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    return json.loads(res.stdout), wall, peak_mb


def _print_comparison(title: str, doc: dict) -> None:
    print(f"\n{title}")
    for p in doc["placements"]:
        print(
            f"  {p['plan']:<26} decode {p['decode_throughput_tok_s']:8.1f} tok/s  "
            f"bound {p['bound_tok_s']:8.1f}  achieved/bound {p['achieved_vs_bound_ratio']:.1%}  "
            f"vs first {p['decode_vs_first_ratio']:.2f}x  token p50 {p['decode_token_latency']['p50_ms']:.0f} ms"
        )


def _assert_milp_wins(doc: dict) -> None:
    by = {Path(p["plan"]).stem: p["decode_throughput_tok_s"] for p in doc["placements"]}
    milp = doc["placements"][0]["decode_throughput_tok_s"]
    for name in ("swarm", "separate-pipelines"):
        assert milp > by[name], f"MILP placement {milp:.1f} tok/s does not beat {name} ({by[name]:.1f})"


def test_speed_ten_minutes_of_single24() -> None:
    doc, wall, peak_mb = _simulate([str(FIX / "ilp.json"), "--offline", "--duration", "600s", "--warmup", "60s"])
    p = doc["placements"][0]
    sim_wall = doc["run"]["placements_wall_s"][p["path"]]
    print(
        f"\nsingle-24 offline, 660 simulated s: engine {sim_wall:.2f} s, command {wall:.2f} s wall, "
        f"peak RSS {peak_mb:.0f} MB, {p['events_count']} events, decode {p['decode_throughput_tok_s']:.1f} tok/s"
    )
    assert wall < 60.0
    assert peak_mb < 2048


def test_reference_placements_offline() -> None:
    plans = [str(FIX / "ilp.json"), *(str(FIX / f"{b}.json") for b in BASELINES)]
    doc, wall, _ = _simulate([plans[0], "--compare", *plans[1:], "--offline"])
    _print_comparison(f"reference placements (paper test vectors), offline 600 s, {wall:.1f} s wall:", doc)
    _assert_milp_wins(doc)


def _helix_available() -> str | None:
    """Why the `plan helix` comparison cannot run yet, or None when it can."""
    if not SPEC.exists():
        return f"{SPEC.relative_to(ROOT)} is not shipped yet"
    res = subprocess.run(
        [sys.executable, "-m", "planner", "helix", "--help"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if res.returncode != 0 or "--emit-baselines" not in res.stdout:
        return "`plan helix --emit-baselines DIR` has not landed yet"
    return None


def test_plan_helix_placements_offline(tmp_path: Path) -> None:
    reason = _helix_available()
    if reason:
        pytest.skip(reason)
    out = tmp_path / "helix.json"
    cmd = [sys.executable, "-m", "planner", "helix", str(SPEC), "--time-limit", "60", "--quiet"]
    cmd += ["--out", str(out), "--emit-baselines", str(tmp_path), "--format", "json"]
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    baselines: list[Path] = []
    for b in BASELINES:
        path = tmp_path / f"{b}.json"
        assert path.exists(), f"plan helix --emit-baselines wrote no {path.name}"
        if not json.loads(path.read_text())["metrics"].get("throughput_tok_s"):
            # a baseline with no flow (e.g. separate pipelines beyond K) gives the simulator no routing weights
            print(f"\nnote: plan helix's {path.name} carries no flow; using the reference placement instead")
            path = FIX / f"{b}.json"
        baselines.append(path)
    doc, wall, _ = _simulate([str(out), "--compare", *map(str, baselines), "--offline"])
    _print_comparison(f"plan helix placements, offline 600 s, {wall:.1f} s wall:", doc)
    _assert_milp_wins(doc)
