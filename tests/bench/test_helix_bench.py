"""Helix figures the README and docs/helix.md quote ("Performance"), protected by ``make bench``.

Each case runs the real CLI in a child process and checks the plan it writes against the documented figures: plan
throughput, proven bound and gap at the precision they are quoted (2 decimals: +-0.005), statuses exactly, the
certificate of every optimal label. Time and memory are asserted as ratios to a fixed reference workload timed just
before, in the same kind of child process (tests/bench/reference.py): the machine is shared, so seconds alone say
little. The limits ``k`` are 2.5-3x the ratios measured when the limits were set (2026-12-06, load 9-11 on 2 cores:
single-24 0.70, 10-node 0.95, geo-24 2.01, first plans 1.15-2.01, overrun past a time limit 0.65-0.99, 1,000
nodes 37.5 x the reference); memory limits translate the documented "under 0.8 GB" (4.4 x the reference's
180 MB) or, for the small cases, 2 x. Runs under a time limit assert what the documented run reached within that
limit (at least the documented plan, at most the documented gap), with the limit stretched by the reference's CPU
share (``scaled_limit``: at most 3x) so that a busy machine is not read as a weaker solver.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

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
#: Documented figures are quoted to 2 decimals (tok/s) and gaps to 2 decimals of a percent.
TOK = 0.005
GAP = 0.00005
#: Peak memory as a multiple of the reference child (which imports the CLI): small cases, and the documented
#: "under 0.8 GB" for the large ones.
MEM_K = 2.0
MEM_K_LARGE = 4.4
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


def report(name: str, plan: dict, run: Child) -> None:
    m, s = plan["metrics"], plan["solver"]
    best_baseline = max(b["throughput_tok_s"] for b in plan["plan"]["baselines"])
    print(
        f"\n[helix bench] {name}: {m['throughput_tok_s']:.3f} tok/s, proven bound {s['best_bound']:.3f} "
        f"({plan['plan']['bounds']['active']}), gap {100 * (s['gap'] or 0):.3f}%, status {s['status']}, "
        f"best baseline {best_baseline:.3f}, wall {run.wall_s:.1f} s, peak memory {run.peak_mb:.0f} MB"
    )
    assert m["throughput_tok_s"] >= best_baseline - 1e-6  # never worse than the best baseline on the same graph
    # The bound is checked by the solver (a flow above it raises) and its certificate by the verifier; the plan
    # must state the gap between the two figures it prints.
    assert s["gap"] == pytest.approx((s["best_bound"] - m["throughput_tok_s"]) / m["throughput_tok_s"], abs=1e-9)


def assert_proven(plan: dict, tok_s: float, bound: str) -> None:
    """Status optimal exactly, at the documented throughput, with an independently verified certificate."""
    cert = plan["plan"]["bounds"]["certificate"]
    assert plan["solver"]["status"] == "optimal"
    assert plan["metrics"]["throughput_tok_s"] == pytest.approx(tok_s, abs=TOK)
    assert plan["solver"]["best_bound"] == pytest.approx(tok_s, abs=TOK) and plan["solver"]["gap"] == 0
    assert cert["label"] == INDEPENDENT and cert["bound"] == bound
    assert plan["solver"]["message"].startswith(INDEPENDENT)


def test_single24_proven_optimal(tmp_path: Path) -> None:
    """README: 2,045.641 tok/s, proven optimal, 0.9 s."""
    plan, run, ref, _ = run_plan(SPECS / "helix-single24-llama2-70b.yaml", tmp_path, "--time-limit", "10", *MAX_FLOW)
    report("single-24 LLaMA-2 70B", plan, run)
    assert_proven(plan, 2045.641, "block")
    check_time("single-24", run.wall_s, ref, 2.0, 0.9)
    check_memory("single-24", run.peak_mb, ref, MEM_K, 800)


def test_ten_node_proven_optimal(tmp_path: Path) -> None:
    """README: 286.587 tok/s, proven optimal, 0.8 s."""
    plan, run, ref, _ = run_plan(SPECS / "helix-10node-llama30b.yaml", tmp_path, "--time-limit", "60", *MAX_FLOW)
    report("10-node LLaMA-1 30B", plan, run)
    assert_proven(plan, 286.587, "block")
    check_time("10-node", run.wall_s, ref, 2.5, 0.8)
    check_memory("10-node", run.peak_mb, ref, MEM_K, 800)


def test_geo24_proven_optimal(tmp_path: Path) -> None:
    """README: 1,754.38 tok/s, proven optimal (block bound, forced sharing), 1.7 s."""
    plan, run, ref, _ = run_plan(SPECS / "helix-geo24-llama2-70b.yaml", tmp_path, "--time-limit", "110", *MAX_FLOW)
    report("geo-24 LLaMA-2 70B", plan, run)
    assert_proven(plan, 1754.38, "block")
    assert plan["plan"]["bounds"]["certificate"]["witness"]["forced_shared_nodes"] == 2
    check_time("geo-24", run.wall_s, ref, 5.0, 1.7)
    check_memory("geo-24", run.peak_mb, ref, MEM_K, 800)


def test_het42_plan_and_bound(tmp_path: Path) -> None:
    """README: 5,962.59 tok/s (paper 4,137.5), bound 6,281.18, gap 5.34 %, --time-limit 55, 56 s."""
    plan, run, ref, limit = run_plan(SPECS / "helix-het42-llama2-70b.yaml", tmp_path, *MAX_FLOW, limit_s=55)
    report("42-node LLaMA-2 70B", plan, run)
    assert plan["solver"]["status"] == "time_limit"
    assert plan["solver"]["best_bound"] == pytest.approx(6281.18, abs=TOK)  # analytic (block bound): exact
    assert plan["metrics"]["throughput_tok_s"] >= 5962.59 - TOK
    assert plan["solver"]["gap"] <= 0.0534 + GAP
    check_time("42-node beyond its time limit", max(run.wall_s - limit, 0.0), ref, 2.5, 1.0)
    check_memory("42-node", run.peak_mb, ref, MEM_K_LARGE, 800)


#: docs/helix.md: plan, bound, gap at --time-limit 60, and the first plan's wall (--time-limit 1), per size.
GENERATED = {
    50: (8082.25, 8587.00, 0.0625, 2.5),
    100: (17798.66, 18698.93, 0.0506, 2.9),
    200: (38366.69, 40157.87, 0.0467, 3.9),
}


@pytest.mark.parametrize("nodes", sorted(GENERATED))
def test_generated_clusters(tmp_path: Path, nodes: int) -> None:
    tok_s, bound, gap, first_s = GENERATED[nodes]
    spec = tmp_path / f"gen{nodes}.yaml"
    spec.write_text(generate_spec(nodes, types=7, regions=3, seed=nodes))
    plan, run, ref, limit = run_plan(spec, tmp_path, *MAX_FLOW, limit_s=60)
    cands = plan["plan"]["search"]["candidates"]
    first = next(i for i, c in enumerate(cands) if c["throughput_tok_s"] > 0)  # the first plan that carries flow
    report(f"generated {nodes} nodes (first plan: candidate #{first}, {cands[first]['source']})", plan, run)
    assert plan["solver"]["status"] in ("time_limit", "feasible")
    assert plan["solver"]["best_bound"] == pytest.approx(bound, abs=TOK)
    assert plan["metrics"]["throughput_tok_s"] >= tok_s - TOK
    assert plan["solver"]["gap"] <= gap + GAP
    check_time(f"generated {nodes} beyond its time limit", max(run.wall_s - limit, 0.0), ref, 3.0, 1.0)
    check_memory(f"generated {nodes}", run.peak_mb, ref, MEM_K_LARGE, 800)
    quick, qrun, qref, _ = run_plan(spec, tmp_path, "--time-limit", "1", *MAX_FLOW)
    assert quick["metrics"]["throughput_tok_s"] > 0 and quick["solver"]["best_bound"] == pytest.approx(bound, abs=TOK)
    check_time(f"generated {nodes}, first plan (--time-limit 1)", qrun.wall_s, qref, 5.0, first_s)


def test_thousand_nodes_ten_types_five_regions(tmp_path: Path) -> None:
    """docs/helix.md: 567,569.6 tok/s, bound 577,729.2 (covering), gap 1.79 %, 72 s at --time-limit 240."""
    spec = tmp_path / "gen1000.yaml"
    spec.write_text(generate_spec(1000, types=10, regions=5, seed=0))
    plan, run, ref, _ = run_plan(spec, tmp_path, "--time-limit", "240", *MAX_FLOW)
    report("generated 1,000 nodes, 10 types, 5 regions", plan, run)
    assert plan["solver"]["best_bound"] == pytest.approx(577729.2, abs=0.05)
    assert plan["metrics"]["throughput_tok_s"] >= 567569.6 - 0.05
    assert plan["solver"]["gap"] <= 0.0179 + GAP
    check_time("1,000 nodes", run.wall_s, ref, 100.0, 72)  # measured 37.5 x (the documented 72 s: ~50 x)
    check_memory("1,000 nodes", run.peak_mb, ref, 5.5, 850)  # measured 780-847 MB (4.3-4.7 x)
