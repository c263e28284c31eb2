"""Splitwise figures the README and docs/splitwise.md quote, protected by ``make bench`` (BLOOM-176B, coding trace).

Each case runs ``plan splitwise`` in a child process and checks the plan against the documented figures
(tests/bench/figures.py): machine counts and points simulated exactly, costs at the precision they are quoted,
"about twice" as a ratio between 1.8 and 2.2 (measured: 1.86-2.06 for costs, 1.93-2.20 for rates), statuses exactly
(a splitwise plan never claims optimality: the grid is not exhausted). Time and memory are ratios to the reference
workload timed just before (tests/bench/reference.py), at most 3x (time) and 2x (memory) the quoted figures (one
worker: the 2 cores are shared).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planner.profiles.db import ProfileDB
from planner.spec.loader import load_spec
from planner.splitwise.machines import parse_design
from planner.splitwise.model import baseline_machines_within, token_machines_within
from tests.bench.figures import K_MEM, check, limit_x
from tests.bench.reference import ROOT, Child, check_memory, check_time, plan_cmd, reference, run_child

pytestmark = pytest.mark.bench

CODING = ROOT / "cluster_specs" / "splitwise-bloom176b-coding.yaml"
SIX = "baseline-a100,baseline-h100,AA,HH,HA,HHcap"
SPLIT = ("AA", "HH", "HA", "HHcap")
MEM = limit_x("split.six.mem_mb", K_MEM, "reference.mem_mb")  # README: peak memory 108 MB


def run_plan(tmp_path: Path, *args: str) -> tuple[dict, Child, Child]:
    ref = reference()
    out = tmp_path / "plan.json"
    run = run_child(plan_cmd("splitwise", str(CODING), "--out", str(out), "--quiet", "--format", "json", *args))
    assert run.returncode == 0, run.stderr
    return json.loads(out.read_text()), run, ref


def _pools(plan: dict) -> dict[str, int]:
    return {p["role"]: p["count"] for p in plan["plan"]["pools"] if p["provisioned"]}


def test_hh_cost_optimum_25_plus_3(tmp_path: Path) -> None:
    """README: HH at 70 req/s, 25 prompt + 3 token machines (paper: 27 + 3), 1.6-2.2 s."""
    plan, run, ref = run_plan(tmp_path, "--rps", "70", "--designs", "HH", "--workers", "1")
    pools = _pools(plan)
    print(
        f"\nHH @70 req/s (coding, 2-min trace): {pools}, {plan['metrics']['cost_usd_h']:.2f} USD/h, "
        f"{len(plan['plan']['ledger'])} points simulated; paper (27, 3)"
    )
    assert plan["solver"]["status"] == "feasible"
    check("split.hh.prompt", pools["prompt"])
    check("split.hh.token", pools["token"])
    check("split.hh.points", len(plan["plan"]["ledger"]))
    check_time("HH @70", run.wall_s, ref, limit_x("split.hh.wall_s"), 2.2)
    check_time("HH @70 (docs)", run.wall_s, ref, limit_x("split.hh.wall_s.doc"), 2)
    check_memory("HH @70", run.peak_mb, ref, MEM, 108)


def test_all_six_designs_ha_cheapest_at_1005(tmp_path: Path) -> None:
    """README: all six designs at 70 req/s: HA 25P + 3T cheapest, 1,005 USD/h, peak memory 108 MB, 3.9-6.4 s;
    docs/splitwise.md: both baselines cost about twice the split designs."""
    plan, run, ref = run_plan(tmp_path, "--rps", "70", "--designs", SIX, "--workers", "1")
    rows = {r["design"]: r for r in plan["plan"]["designs"]}
    print(f"\nall six designs @70 req/s: {run.wall_s:.1f} s, {len(plan['plan']['ledger'])} points simulated")
    for row in rows.values():
        print(f"  {row['design']:14s} {row['prompt']:>4}P {row['token'] or 0:>3}T  {row['cost_usd_h']:9.2f} USD/h")
    assert plan["solver"]["status"] == "feasible"
    assert plan["plan"]["design"] == "HA"
    check("split.six.prompt", _pools(plan)["prompt"])
    check("split.six.token", _pools(plan)["token"])
    check("split.six.cost", plan["metrics"]["cost_usd_h"])
    assert min(rows.values(), key=lambda r: r["cost_usd_h"])["design"] == "HA"  # "HA is cheapest"
    for base in ("baseline-a100", "baseline-h100"):
        for d in SPLIT:
            print(f"  {base} costs {rows[base]['cost_usd_h'] / rows[d]['cost_usd_h']:.2f}x {d}")
            check("split.twice", rows[base]["cost_usd_h"] / rows[d]["cost_usd_h"])
    check_time("six designs @70", run.wall_s, ref, limit_x("split.six.wall_s"), 6.4)
    check_time("six designs @70 (docs)", run.wall_s, ref, limit_x("split.six.wall_s.doc"), 6)
    check_memory("six designs @70", run.peak_mb, ref, MEM, 108)


def test_budget_arithmetic_exactly() -> None:
    """docs/splitwise.md: 40 DGX-H100 = 70 DGX-A100 by power, 86 by cost; HHcap 25 prompt -> 21 capped tokens."""
    from planner.spec.sections.splitwise import SplitwiseSection
    from planner.splitwise.machines import resolve_machines

    db = ProfileDB.load()
    loaded = load_spec(CODING, db)
    ms = resolve_machines(db, loaded, loaded.spec.splitwise or SplitwiseSection())
    power, cost = 40 * ms["DGX-H100"].power_kw, 40 * ms["DGX-H100"].cost_usd_h
    a100 = parse_design("baseline-a100", ms)
    got = {
        "A100 by power": baseline_machines_within(a100, None, power),
        "A100 by cost": baseline_machines_within(a100, cost, None),
        "HHcap tokens for 25 prompt (power)": token_machines_within(parse_design("HHcap", ms), 25, None, power),
        "HA A100 for 25 H100 (power)": token_machines_within(parse_design("HA", ms), 25, None, power),
        "HA A100 for 30 H100 (cost)": token_machines_within(parse_design("HA", ms), 30, cost, None),
    }
    print("\n40 DGX-H100 budget:", got)
    check("split.a100_by_power", got["A100 by power"])
    check("split.a100_by_cost", got["A100 by cost"])
    check("split.hhcap_tokens", got["HHcap tokens for 25 prompt (power)"])
    assert list(got.values()) == [70, 86, 21, 26, 21]


def test_iso_cost_split_designs_about_twice_the_baselines(tmp_path: Path) -> None:
    """docs/splitwise.md: at the cost of 40 DGX-H100, every Splitwise design sustains about twice the rate of
    either baseline."""
    budget = 40 * 38.08
    plan, run, ref = run_plan(tmp_path, "--cost-target", f"{budget}", "--designs", SIX, "--workers", "1")
    rates = {r["design"]: r["throughput_rps"] for r in plan["plan"]["designs"]}
    print(f"\niso-cost {budget:.1f} USD/h max req/s: {rates} ({run.wall_s:.1f} s)")
    assert plan["solver"]["status"] == "feasible"
    for d in SPLIT:
        for base in ("baseline-a100", "baseline-h100"):
            print(f"  {d} / {base}: {rates[d] / rates[base]:.2f}x")
            check("split.twice", rates[d] / rates[base])
    check_memory("iso-cost", run.peak_mb, ref, MEM, 108)
