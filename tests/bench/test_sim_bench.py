"""``plan simulate`` figures docs/simulate.md and the README quote (issue 7), protected by ``make bench``.

* speed: 10 simulated minutes (plus 60 s warm-up) of the single 24-node cluster: events and decode throughput
  exactly as quoted, wall time and peak memory as ratios to the reference workload timed just before
  (tests/bench/reference.py), at most 3x (time) and 2x (memory) the quoted figures (tests/bench/figures.py);
* the two placement tables of docs/simulate.md, offline: the paper's reference placements (its Gurobi incumbent and
  baselines, tests/fixtures/helix_plans/single24) and what ``plan helix --objective max-flow --emit-baselines DIR``
  writes for cluster_specs/helix-single24-llama2-70b.yaml: decode and bound tok/s to 0.1, achieved / bound to 0.1 %,
  the quoted ratios to 0.01.

Figures measured while other work shares the 2 cores are pessimistic; the asserted ones are deterministic.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench.figures import FIGURES, K_MEM, check, limit_x
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


def test_speed_ten_minutes_of_single24() -> None:
    """docs/simulate.md: command 2.1 s wall, peak RSS 97 MB, 134,872 events, decode 249.27 tok/s (README: ~2 s,
    ~110 MB)."""
    doc, run, ref = _simulate([str(FIX / "ilp.json"), "--offline", "--duration", "600s", "--warmup", "60s"])
    p = doc["placements"][0]
    sim_wall = doc["run"]["placements_wall_s"][p["path"]]
    print(
        f"\nsingle-24 offline, 660 simulated s: engine {sim_wall:.2f} s, command {run.wall_s:.2f} s wall, "
        f"peak RSS {run.peak_mb:.0f} MB, {p['events_count']} events, decode {p['decode_throughput_tok_s']:.2f} tok/s"
    )
    check("sim.events", p["events_count"])  # deterministic: same plan, workload and seed
    check("sim.decode", p["decode_throughput_tok_s"])
    check_time("simulate single-24 600 s", run.wall_s, ref, limit_x("sim.wall_s"), 2.1)
    check_time("simulate single-24 600 s (README)", run.wall_s, ref, limit_x("sim.wall_s.readme"), 2)
    check_memory("simulate single-24 600 s", run.peak_mb, ref, limit_x("sim.mem_mb", K_MEM, "reference.mem_mb"), 97)
    check_memory("simulate (README)", run.peak_mb, ref, limit_x("sim.mem_mb.readme", K_MEM, "reference.mem_mb"), 110)


def _check_table(placements: list[dict], table: str, keys: list[str]) -> dict[str, float]:
    """Every row of one docs/simulate.md table: decode and bound tok/s, achieved / bound where quoted."""
    by: dict[str, float] = {}
    for p, key in zip(placements, keys, strict=True):
        assert Path(p["plan"]).stem == key, (p["plan"], key)
        check(f"sim.{table}.{key}", p["decode_throughput_tok_s"])
        check(f"sim.{table}.{key}.bound", p["bound_tok_s"])
        if f"sim.{table}.{key}.ratio_pct" in FIGURES:
            check(f"sim.{table}.{key}.ratio_pct", 100 * p["achieved_vs_bound_ratio"])
        by[key] = p["decode_throughput_tok_s"]
    return by


def test_reference_placements_offline() -> None:
    plans = [str(FIX / "ilp.json"), *(str(FIX / f"{b}.json") for b in BASELINES)]
    doc, run, _ = _simulate([plans[0], "--compare", *plans[1:], "--offline"])
    _print_comparison(f"reference placements (paper test vectors), offline 600 s, {run.wall_s:.1f} s wall:", doc)
    by = _check_table(doc["placements"], "ref", ["ilp", *BASELINES])
    # "beats Swarm by 1.69x and separate pipelines by 1.47x"
    check("sim.ref.vs_swarm", by["ilp"] / by["swarm"])
    check("sim.ref.vs_sep", by["ilp"] / by["separate-pipelines"])


def test_plan_helix_max_flow_placements_offline(tmp_path: Path) -> None:
    out = tmp_path / "helix.json"
    cmd = [sys.executable, "-m", "planner", "helix", str(SPEC), "--objective", "max-flow", "--time-limit", "60"]
    cmd += ["--quiet", "--out", str(out), "--emit-baselines", str(tmp_path), "--format", "json"]
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    plans = [out, *(tmp_path / f"{b}.json" for b in BASELINES), FIX / "separate-pipelines.json"]
    doc, sim, _ = _simulate([str(plans[0]), "--compare", *map(str, plans[1:]), "--offline"])
    _print_comparison(f"plan helix --objective max-flow placements, offline 600 s, {sim.wall_s:.1f} s wall:", doc)
    by = _check_table(doc["placements"][:4], "maxflow", ["helix", *BASELINES])
    fixture = doc["placements"][4]
    check("sim.ref.separate-pipelines", fixture["decode_throughput_tok_s"])  # the table's last row
    check("sim.maxflow.vs_swarm", by["helix"] / by["swarm"])
    check("sim.maxflow.vs_sep", by["helix"] / by["separate-pipelines"])
    check("sim.maxflow.vs_sep_fixture", by["helix"] / fixture["decode_throughput_tok_s"])
