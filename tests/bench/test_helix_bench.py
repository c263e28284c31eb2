"""Helix figures the README and docs/helix.md quote ("Performance"), protected by ``make bench``.

Each case runs the real CLI in a child process and checks the plan it writes against the documented figures
(tests/bench/figures.py): plan throughput, proven bound and gap at the precision they are quoted, statuses exactly,
the certificate of every optimal label. Time and memory are asserted as ratios to a fixed reference workload timed
just before, in the same kind of child process (tests/bench/reference.py): at most 3x the quoted wall time (the
plan's own ``run.wall_s``, what the docs quote; runs
under a time limit: 3x the quoted overrun beyond it) and 2x the quoted peak memory ("under 0.8 GB"; 0.85 GB for
1,000 nodes). Runs under a time limit assert what the documented run reached within that limit (at least the
documented plan, at most the documented gap), with the limit stretched by the reference's CPU share
(``scaled_limit``: at most 10x) so that a busy machine is not read as a weaker solver.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.bench.figures import FIGURES, K_MEM, at_least, at_most, check, limit_x, seconds_x, status
from tests.bench.reference import (
    ROOT,
    Child,
    check_memory,
    check_time,
    plan_cmd,
    reference,
    run_child,
    scaled_limit,
)

SPECS = ROOT / "cluster_specs"
sys.path.insert(0, str(ROOT / "scripts"))
from helix_generate_cluster import generate_spec  # noqa: E402

pytestmark = pytest.mark.bench
#: These cases time the max-flow method (issues 3 and 8); the served objective has its own bench file.
MAX_FLOW = ("--objective", "max-flow")
#: Peak memory: at most 2x the documented "under 0.8 GB" (the 1,000-node case: its quoted 0.85 GB), as a multiple of
#: the reference child's peak (which imports the CLI too).
MEM = limit_x("helix.mem_gb", K_MEM, "reference.mem_mb", scale=1000)
MEM_1000 = limit_x("helix.gen1000.mem_gb", K_MEM, "reference.mem_mb", scale=1000)
INDEPENDENT = "optimal (independently verified)"


def run_plan(spec: Path, tmp_path: Path, *args: str, limit_s: float | None = None) -> tuple[dict, Child, Child, float]:
    """Time the reference, then run ``plan helix`` (with ``limit_s`` stretched by the load, if given); return the
    plan, the run, the reference and the time limit used."""
    ref = reference()
    used = scaled_limit(limit_s, ref) if limit_s is not None else 0.0
    more = ("--time-limit", f"{used:.1f}") if limit_s is not None else ()
    out = tmp_path / f"{spec.stem}.json"
    cmd = plan_cmd("helix", str(spec), "--out", str(out), "--quiet", "--format", "json", *args, *more)
    run = run_child(cmd)
    assert run.returncode == 0, run.stderr
    if limit_s is not None:
        print(f"\n  --time-limit {used:.1f} s (documented {limit_s:g} s; reference CPU share {ref.cpu_share:.2f})")
    return json.loads(out.read_text()), run, ref, round(used, 1)


def solve_s(plan: dict) -> float:
    """The plan's own wall time (``run.wall_s``: instance to verified plan), which the docs quote; the command's
    interpreter start-up and CLI import (about 1.5 s of CPU) come on top."""
    return float(plan["run"]["wall_s"])


def report(name: str, plan: dict, run: Child) -> None:
    m, s = plan["metrics"], plan["solver"]
    best_baseline = max(b["throughput_tok_s"] for b in plan["plan"]["baselines"])
    print(
        f"\n[helix bench] {name}: {m['throughput_tok_s']:.3f} tok/s, proven bound {s['best_bound']:.3f} "
        f"({plan['plan']['bounds']['active']}), gap {100 * (s['gap'] or 0):.3f}%, status {s['status']}, "
        f"best baseline {best_baseline:.3f}, wall {run.wall_s:.1f} s ({run.cpu_s:.1f} s of CPU: a run under a time "
        f"limit reaches its documented plan only with about the CPU the documented run had), peak memory "
        f"{run.peak_mb:.0f} MB"
    )
    assert m["throughput_tok_s"] >= best_baseline - 1e-6  # never worse than the best baseline on the same graph
    # The bound is checked by the solver (a flow above it raises) and its certificate by the verifier; the plan
    # must state the gap between the two figures it prints.
    assert s["gap"] == pytest.approx((s["best_bound"] - m["throughput_tok_s"]) / m["throughput_tok_s"], abs=1e-9)


def assert_proven(plan: dict, case: str, bound: str) -> None:
    """Status optimal exactly, at the documented throughput, with an independently verified certificate."""
    cert = plan["plan"]["bounds"]["certificate"]
    status(f"helix.{case}.status", plan["solver"]["status"])
    check(f"helix.{case}.tok_s", plan["metrics"]["throughput_tok_s"])
    check(f"helix.{case}.tok_s", plan["solver"]["best_bound"])
    assert plan["solver"]["gap"] == 0
    assert cert["label"] == INDEPENDENT and cert["bound"] == bound
    assert plan["solver"]["message"].startswith(INDEPENDENT)


def test_single24_proven_optimal(tmp_path: Path) -> None:
    """README: 2,045.641 tok/s, proven optimal, 0.9 s."""
    plan, run, ref, _ = run_plan(SPECS / "helix-single24-llama2-70b.yaml", tmp_path, "--time-limit", "10", *MAX_FLOW)
    report("single-24 LLaMA-2 70B", plan, run)
    assert_proven(plan, "single24", "block")
    check_time("single-24", solve_s(plan), ref, limit_x("helix.single24.wall_s"), 0.9)
    check_memory("single-24", run.peak_mb, ref, MEM, 800)


def test_ten_node_proven_optimal(tmp_path: Path) -> None:
    """README: 286.587 tok/s, proven optimal, 0.8 s."""
    plan, run, ref, _ = run_plan(SPECS / "helix-10node-llama30b.yaml", tmp_path, "--time-limit", "60", *MAX_FLOW)
    report("10-node LLaMA-1 30B", plan, run)
    assert_proven(plan, "10node", "block")
    check_time("10-node", solve_s(plan), ref, limit_x("helix.10node.wall_s"), 0.8)
    check_memory("10-node", run.peak_mb, ref, MEM, 800)


def test_geo24_proven_optimal(tmp_path: Path) -> None:
    """README: 1,754.38 tok/s, proven optimal (block bound, forced sharing), 1.7 s."""
    plan, run, ref, _ = run_plan(SPECS / "helix-geo24-llama2-70b.yaml", tmp_path, "--time-limit", "110", *MAX_FLOW)
    report("geo-24 LLaMA-2 70B", plan, run)
    assert_proven(plan, "geo24", "block")
    assert plan["plan"]["bounds"]["certificate"]["witness"]["forced_shared_nodes"] == 2
    check_time("geo-24", solve_s(plan), ref, limit_x("helix.geo24.wall_s"), 1.7)
    check_memory("geo-24", run.peak_mb, ref, MEM, 800)


def test_het42_plan_and_bound(tmp_path: Path) -> None:
    """README: 5,962.59 tok/s (paper 4,137.5), bound 6,281.18, gap 5.34 %, --time-limit 55, 56 s."""
    plan, run, ref, limit = run_plan(SPECS / "helix-het42-llama2-70b.yaml", tmp_path, *MAX_FLOW, limit_s=55)
    report("42-node LLaMA-2 70B", plan, run)
    assert plan["solver"]["status"] == "time_limit"
    check("helix.het42.bound", plan["solver"]["best_bound"])  # analytic (block bound): exact
    at_least("helix.het42.tok_s", plan["metrics"]["throughput_tok_s"])
    at_most("helix.het42.gap_pct", 100 * plan["solver"]["gap"])
    at_most("helix.het42.gap_pct.readme", 100 * plan["solver"]["gap"])
    overrun = FIGURES["helix.het42.wall_s"].value - 55  # documented: 56 s at --time-limit 55
    check_time("42-node beyond its time limit", max(solve_s(plan) - limit, 0.0), ref, seconds_x(overrun), overrun)
    check_memory("42-node", run.peak_mb, ref, MEM, 800)


#: docs/helix.md: plan, bound, gap at --time-limit 60, and the first plan's wall (--time-limit 1), per size.
GENERATED = (50, 100, 200)


@pytest.mark.parametrize("nodes", GENERATED)
def test_generated_clusters(tmp_path: Path, nodes: int) -> None:
    spec = tmp_path / f"gen{nodes}.yaml"
    spec.write_text(generate_spec(nodes, types=7, regions=3, seed=nodes))
    plan, run, ref, limit = run_plan(spec, tmp_path, *MAX_FLOW, limit_s=60)
    cands = plan["plan"]["search"]["candidates"]
    first = next(i for i, c in enumerate(cands) if c["throughput_tok_s"] > 0)  # the first plan that carries flow
    report(f"generated {nodes} nodes (first plan: candidate #{first}, {cands[first]['source']})", plan, run)
    assert plan["solver"]["status"] in ("time_limit", "feasible")
    check(f"helix.gen{nodes}.bound", plan["solver"]["best_bound"])
    at_least(f"helix.gen{nodes}.tok_s", plan["metrics"]["throughput_tok_s"])
    at_most(f"helix.gen{nodes}.gap_pct", 100 * plan["solver"]["gap"])
    at_most(f"helix.gen{nodes}.gap_pct.readme", 100 * plan["solver"]["gap"])
    # the documented wall at --time-limit 60 (55.8-61.7 s): its overrun, at least the 42-node case's 1 s
    overrun = max(FIGURES[f"helix.gen{nodes}.wall_s"].value - 60, 1.0)
    check_time(
        f"generated {nodes} beyond its time limit", max(solve_s(plan) - limit, 0.0), ref, seconds_x(overrun), overrun
    )
    check_memory(f"generated {nodes}", run.peak_mb, ref, MEM, 800)
    # The first plan: `--time-limit T` counts the whole command and ends it with exit 1 when no plan exists by
    # then, so a verified plan within T = 3x the documented first-plan time (as a ratio to the reference timed
    # just before) is the documented figure asserted at the usual factor.
    qref = reference()
    first = limit_x(f"helix.gen{nodes}.first_s") * qref.wall_s
    out = tmp_path / f"gen{nodes}-first.json"
    quick = run_child(plan_cmd("helix", str(spec), "--out", str(out), "-q", "--time-limit", f"{first:.1f}", *MAX_FLOW))
    print(
        f"  [generated {nodes}, first plan] --time-limit {first:.1f} s (reference {qref.wall_s:.2f} s): "
        f"exit {quick.returncode}"
    )
    assert quick.returncode == 0, quick.stderr
    first_plan = json.loads(out.read_text())
    assert first_plan["metrics"]["throughput_tok_s"] > 0
    check(f"helix.gen{nodes}.bound", first_plan["solver"]["best_bound"])


def test_thousand_nodes_ten_types_five_regions(tmp_path: Path) -> None:
    """docs/helix.md: 567,569.6 tok/s, bound 577,729.2 (covering), gap 1.79 %, 72 s at --time-limit 240."""
    spec = tmp_path / "gen1000.yaml"
    spec.write_text(generate_spec(1000, types=10, regions=5, seed=0))
    plan, run, ref, _ = run_plan(spec, tmp_path, *MAX_FLOW, limit_s=240)
    report("generated 1,000 nodes, 10 types, 5 regions", plan, run)
    check("helix.gen1000.bound", plan["solver"]["best_bound"])
    at_least("helix.gen1000.tok_s", plan["metrics"]["throughput_tok_s"])
    at_most("helix.gen1000.gap_pct", 100 * plan["solver"]["gap"])
    at_most("helix.gen1000.gap_pct.readme", 100 * plan["solver"]["gap"])
    check_time("1,000 nodes", solve_s(plan), ref, limit_x("helix.gen1000.wall_s"), 72)
    check_memory("1,000 nodes", run.peak_mb, ref, MEM_1000, 850)
