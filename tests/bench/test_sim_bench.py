"""Benchmarks for `plan simulate` (issue 7 targets); run by `make bench`, print the measured figures.

* speed: 10 simulated minutes (plus 60 s warm-up) of the single 24-node cluster, as a ratio to the reference
  workload timed just before (tests/bench/reference.py), at 2-3x the documented 2.1 s; peak memory likewise;
* quality: on single-24 LLaMA-2 70B, offline, the MILP placement's simulated decode throughput beats the Swarm
  and separate-pipeline placements (the paper reports about 2x: 252.1 vs 124.7 and 124.3 tok/s), with the
  achieved/bound ratio printed for each. Run twice: on the reference placements (the paper's Gurobi incumbent and
  baselines, tests/fixtures/helix_plans/single24) and on what `plan helix --emit-baselines DIR` writes for
  cluster_specs/helix-single24-llama2-70b.yaml.

The documented figures (docs/simulate.md) are asserted at the precision they are quoted: event counts exactly,
throughputs to 0.1 tok/s. Figures measured while other work shares the 2 cores are pessimistic.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench.reference import ROOT, Child, check_memory, check_time, plan_cmd, reference, run_child

FIX = ROOT / "tests" / "fixtures" / "helix_plans" / "single24"
SPEC = ROOT / "cluster_specs" / "helix-single24-llama2-70b.yaml"
BASELINES = ("swarm", "petals", "separate-pipelines")

pytestmark = pytest.mark.bench


def _simulate(args: list[str]) -> tuple[dict, Child, Child]:
    """Time the reference, then run `plan simulate` in a child: (document, the run, the reference)."""
    ref = reference()
    run = run_child(plan_cmd("simulate", *args, "--format", "json", "--quiet"))
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout), run, ref


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
    """docs/simulate.md: engine 1.3 s, command 2.1 s wall, peak RSS 97 MB, 134,872 events, decode 249.27 tok/s
    (README: ~2 s, ~110 MB); measured ratio to the reference 0.91 (time) and 0.92 (memory)."""
    doc, run, ref = _simulate([str(FIX / "ilp.json"), "--offline", "--duration", "600s", "--warmup", "60s"])
    p = doc["placements"][0]
    sim_wall = doc["run"]["placements_wall_s"][p["path"]]
    print(
        f"\nsingle-24 offline, 660 simulated s: engine {sim_wall:.2f} s, command {run.wall_s:.2f} s wall, "
        f"peak RSS {run.peak_mb:.0f} MB, {p['events_count']} events, decode {p['decode_throughput_tok_s']:.2f} tok/s"
    )
    assert p["events_count"] == 134872  # deterministic: same plan, workload and seed
    assert p["decode_throughput_tok_s"] == pytest.approx(249.27, abs=0.005)
    check_time("simulate single-24 600 s", run.wall_s, ref, 2.5, 2.1)
    check_memory("simulate single-24 600 s", run.peak_mb, ref, 2.0, 97)


#: docs/simulate.md, reference placements offline: decode tok/s, bound tok/s, achieved / bound (quoted to 0.1).
REFERENCE = {
    "ilp": (249.3, 1289.6, 0.839),
    "petals": (232.9, 952.1, 0.992),
    "separate-pipelines": (169.7, 1376.5, 0.481),
    "swarm": (147.6, 757.9, 0.941),
}


def test_reference_placements_offline() -> None:
    plans = [str(FIX / "ilp.json"), *(str(FIX / f"{b}.json") for b in BASELINES)]
    doc, run, _ = _simulate([plans[0], "--compare", *plans[1:], "--offline"])
    _print_comparison(f"reference placements (paper test vectors), offline 600 s, {run.wall_s:.1f} s wall:", doc)
    _assert_milp_wins(doc)
    for p in doc["placements"]:
        decode, bound, ratio = REFERENCE[Path(p["plan"]).stem]
        assert p["decode_throughput_tok_s"] == pytest.approx(decode, abs=0.05), p["plan"]
        assert p["bound_tok_s"] == pytest.approx(bound, abs=0.05), p["plan"]
        assert p["achieved_vs_bound_ratio"] == pytest.approx(ratio, abs=0.0005), p["plan"]
    by = {Path(p["plan"]).stem: p["decode_throughput_tok_s"] for p in doc["placements"]}
    # "beats Swarm by 1.69x and separate pipelines by 1.47x"
    assert by["ilp"] / by["swarm"] == pytest.approx(1.69, abs=0.005)
    assert by["ilp"] / by["separate-pipelines"] == pytest.approx(1.47, abs=0.005)


def test_plan_helix_placements_offline(tmp_path: Path) -> None:
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
    doc, sim, _ = _simulate([str(out), "--compare", *map(str, baselines), "--offline"])
    _print_comparison(f"plan helix placements, offline 600 s, {sim.wall_s:.1f} s wall:", doc)
    _assert_milp_wins(doc)
