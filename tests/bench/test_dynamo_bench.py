"""Dynamo figures the README and docs/dynamo.md quote, protected by ``make bench`` (registry: tests/bench/figures.py).

* a day of 5-minute epochs (288 solves) in both modes: every epoch proved optimal and certified; the whole command's
  wall time (hierarchical, README "2.8-4.7 s") or CPU time (joint, "4.5 s CPU") as a ratio to the reference
  workload timed just before, at most 3x the quoted figure; peak memory at most 2x the quoted 176 MB; joint mode's
  energies (docs/dynamo.md, "What the hierarchy loses");
* "Results on the shipped days" (hierarchical): energy, both SinglePools' energy and GPUs, the savings, the
  decomposition and the cost saving at the precision quoted; the ``--slo 15s`` saving; the rest of "What the
  hierarchy loses" (2 h at 20 req/s in both modes; the smallest GPU budget of hierarchical mode; joint mode's 60
  GPUs is not re-measured: under a binding budget joint mode takes minutes per epoch);
* "Side by side with the paper": our figure of every row as quoted; the rows within 8 points of the paper (issue 14's
  target) asserted so, the others as strict expected failures with their measured reason; joint mode's day in
  < 10 s of CPU and < 1 GB (issue 14), asserted.

Measured while other work shares the 2 cores: wall times are pessimistic; the asserted figures are deterministic.
"""

from __future__ import annotations

import functools
import json

import pytest

from tests.bench.figures import FIGURES, K_MEM, check, limit_x, status
from tests.bench.reference import Child, check_memory, check_time, plan_cmd, reference, run_child

pytestmark = pytest.mark.bench

CONV = "cluster_specs/dynamo-llama2-70b-h100.yaml"
CODING = "cluster_specs/dynamo-llama2-70b-h100-coding.yaml"
SPECS = {"conv": CONV, "code": CODING}
CARBON = "profiles/carbon/grid_intensity_duck_synthetic.csv"
#: A --time-limit that never binds: each epoch's MILP gets the time left over the epochs left, and under contention
#: (a tenth of a core) 900 s left one epoch of the coding day unproven and the default 60 s planned 262 of 288
#: epochs, which says nothing of the plan; the run's speed is asserted separately, as a ratio to the reference.
LIMIT = "3600"


@functools.cache
def dynamo(*args: str) -> tuple[dict, Child, Child]:
    """Time the reference, then run ``plan dynamo ARGS`` once per session: (plan, the run, the reference)."""
    ref = reference()
    run = run_child(plan_cmd("dynamo", *args, "--time-limit", LIMIT, "--format", "json", "--quiet"))
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout), run, ref


def _proved(plan: dict, epochs: int = 288) -> None:
    assert len(plan["plan"]["epochs"]) == epochs
    status("dyn.status", plan["solver"]["status"])
    assert all(e["status"] == "optimal" for e in plan["plan"]["epochs"])
    cert = plan["plan"]["certificate"]
    assert cert["label"] == "optimal (solver-certified)" and cert["epochs_proved"] == epochs


@pytest.mark.parametrize("day", sorted(SPECS))
@pytest.mark.parametrize("mode", ["joint", "hierarchical"])
def test_day_of_five_minute_epochs(day: str, mode: str) -> None:
    plan, run, ref = dynamo(SPECS[day], "--mode", mode)
    print(
        f"\n{SPECS[day]} --mode {mode}: {plan['solver']['message'].split(' (')[0]}, command wall {run.wall_s:.2f} s, "
        f"CPU {run.cpu_s:.1f} s (reference {ref.cpu_s:.1f} s), peak RSS {run.peak_mb:.0f} MB, "
        f"energy {plan['metrics']['energy_kwh']:.1f} kWh"
    )
    check("dyn.epochs", len(plan["plan"]["epochs"]))
    _proved(plan)
    if mode == "hierarchical":
        check_time(f"dynamo {mode} {day}", run.wall_s, ref, limit_x("dyn.hier.wall_s"), 4.7)
        check_time(f"dynamo {mode} {day} (CPU)", run.cpu_s, _cpu(ref), limit_x("dyn.hier.cpu_s"), 4)
    else:
        check_time(f"dynamo {mode} {day} (CPU)", run.cpu_s, _cpu(ref), limit_x("dyn.joint.cpu_s"), 4.5)
        check(f"dyn.joint.{day}.energy", plan["metrics"]["energy_kwh"])
    check_memory(f"dynamo {mode} {day}", run.peak_mb, ref, limit_x("dyn.hier.mem_mb", K_MEM, "reference.mem_mb"), 176)


def _cpu(ref: Child) -> Child:
    """The reference as CPU time (for figures quoted in CPU seconds)."""
    return Child(ref.returncode, "", "", ref.cpu_s, ref.peak_mb, ref.cpu_s)


@pytest.mark.parametrize("day", sorted(SPECS))
def test_joint_day_within_ten_seconds(day: str) -> None:
    """Issue 14: 288 five-minute epochs in < 10 s and < 1 GB (joint mode, exact per-pool enumeration per epoch)."""
    plan, run, ref = dynamo(SPECS[day], "--mode", "joint")
    _proved(plan)
    assert "288 by exact per-pool enumeration" in plan["solver"]["message"]
    check_time(f"dynamo joint {day}, target", run.cpu_s, _cpu(ref), limit_x("dyn.joint.target_s", 1.0), 10)
    assert run.peak_mb < FIGURES["dyn.joint.target_mb"].value * 1000, f"peak {run.peak_mb:.0f} MB, target < 1 GB"


@pytest.mark.parametrize("day", sorted(SPECS))
def test_documented_results_on_the_shipped_days(day: str) -> None:
    plan, _, _ = dynamo(SPECS[day], "--mode", "hierarchical")
    _proved(plan)
    m, sv = plan["metrics"], plan["plan"]["savings"]
    base = {b["name"]: b for b in plan["plan"]["baselines"]}
    fixed, peak = base["singlepool-fixed"], base["singlepool-peak"]
    print(f"\n{SPECS[day]} --mode hierarchical:")
    check(f"dyn.{day}.energy", m["energy_kwh"])
    check(f"dyn.{day}.single", fixed["energy_kwh"])
    check(f"dyn.{day}.single_gpus", fixed["gpus"])
    check(f"dyn.{day}.peak", peak["energy_kwh"])
    check(f"dyn.{day}.peak_gpus", peak["gpus"])
    check(f"dyn.{day}.saving", sv["vs_singlepool_pct"])
    check(f"dyn.{day}.saving_peak", sv["vs_singlepool_peak_pct"])
    check(f"dyn.{day}.cost", sv["cost_vs_singlepool_pct"])
    for part in ("sizing", "pools", "tp", "scaling", "frequency"):
        check(f"dyn.{day}.{part}", sv[f"{part}_kwh"])
    if day == "conv":
        note = f"meeting them at the peak would need {FIGURES['dyn.peak_note_instances'].text} instances"
        assert note in peak["note"], peak["note"]
        loss = 100 * (m["energy_kwh"] / dynamo(CONV, "--mode", "joint")[0]["metrics"]["energy_kwh"] - 1)
    else:
        loss = 100 * (m["energy_kwh"] / dynamo(CODING, "--mode", "joint")[0]["metrics"]["energy_kwh"] - 1)
    check(f"dyn.joint.{day}.loss", loss)


def test_slo_15s_saving() -> None:
    plan, _, _ = dynamo(CONV, "--mode", "hierarchical", "--slo", "15s")
    check("dyn.conv.slo15.saving", plan["plan"]["savings"]["vs_singlepool_pct"])


def test_two_hours_at_twenty_requests_per_second_both_modes() -> None:
    const = ("--set", "dynamo.horizon=2h", "--set", "workload.load_curve=[{at: '00:00', rps: 20}]")
    hier, _, _ = dynamo(CONV, "--mode", "hierarchical", *const)
    joint, _, _ = dynamo(CONV, "--mode", "joint", *const)
    _proved(hier, 24)
    _proved(joint, 24)
    check("dyn.const20.hier", hier["metrics"]["energy_kwh"])
    check("dyn.const20.joint", joint["metrics"]["energy_kwh"])
    check("dyn.const20.loss", 100 * (hier["metrics"]["energy_kwh"] / joint["metrics"]["energy_kwh"] - 1))


def test_smallest_gpu_budget_hierarchical() -> None:
    """docs/dynamo.md: the smallest GPU budget serving the conversation day is 64 GPUs in hierarchical mode."""
    budget = int(FIGURES["dyn.budget.hier"].value)
    plan, _, _ = dynamo(CONV, "--mode", "hierarchical", "--gpu-budget", str(budget))
    _proved(plan)
    below = run_child(plan_cmd("dynamo", CONV, "--mode", "hierarchical", "--gpu-budget", str(budget - 1), "--quiet"))
    print(f"\n--gpu-budget {budget}: {plan['solver']['status']}; {budget - 1}: exit {below.returncode}")
    assert below.returncode == 1, below.stderr  # infeasible one GPU below it


# ------------------------------------------------------------------------------------- side by side with the paper
#: Constant (Poisson) load levels of the paper's load study as shares of the fixed cluster's throughput capacity (the
#: reference does not define them): 88 GPUs of TP8 at 1980 MHz carry about 50 req/s of the conversation mix with 10%
#: headroom, so 20% / 50% / 80% are 10 / 25 / 40 req/s.
LOAD_LEVELS = {"low": 10, "medium": 25, "high": 40}
#: The paper's figure of each row (docs/dynamo.md), in percent against its SinglePool.
PAPER = {
    "load low": -51.0,
    "load medium": -40.0,
    "load high": -23.4,
    "24 h conversation": -42.0,
    "cluster power P50": -43.0,
    "cluster power P99": -9.0,
    "conversation (week)": -47.0,
    "coding (week)": -56.0,
    "cost": -61.0,
    "carbon": -38.0,
    "servers": -100.0 * (1.0 - 24.6 / 40.0),
}
#: Issue 14's target: each row within 8 points of the paper. The rows that miss it, with the measured reason
#: (docs/dynamo.md "Why some rows miss").
MISSED = {
    "load high": "the per-class pools need the whole cluster at 80% load, leaving only lower clocks",
    "cluster power P99": "the shipped day peaks at 40% of the cluster's capacity (the paper's filled its cluster)",
    "coding (week)": "the coding day's LS rows are prefill-bound: TP8 at a high clock is within 1-12% of the best",
    "cost": "GPU-hour pricing follows the servers provisioned; the paper's -61% sits beside its -38.5% servers",
    "carbon": "the plan's energy sits in the duck curve's midday trough, so carbon falls more than energy",
}


def _pct(ours: float, base: float) -> float:
    return -100.0 * (1.0 - ours / base)


def _figures(plan: dict) -> dict[str, float]:
    """Changes against singlepool-fixed (negative = saving), in percent, and the servers of both."""
    block = plan["plan"]
    fixed = next(b for b in block["baselines"] if b["name"] == "singlepool-fixed")
    t, hours = block["totals"], sum(e["length_s"] for e in block["epochs"]) / 3600.0
    out = {
        "energy": _pct(t["energy_kwh"], fixed["energy_kwh"]),
        "p50": _pct(t["p50_power_kw"], fixed["p50_power_kw"]),
        "p99": _pct(t["p99_power_kw"], fixed["p99_power_kw"]),
        "cost": _pct(t["cost_usd"], fixed["cost_usd"]),
        "servers_base": fixed["gpus"] / 8.0,
        "servers_plan": t["gpu_h"] / hours / 8.0,
    }
    if t["carbon_kgco2"] is not None and fixed["carbon_kgco2"]:
        out["carbon"] = _pct(t["carbon_kgco2"], fixed["carbon_kgco2"])
    return out


@functools.cache
def side_by_side() -> dict[str, float]:
    """Our figure of every row of the table, each from its command."""
    conv = _figures(dynamo("--carbon", CARBON)[0])
    code = _figures(dynamo(CODING, "--mode", "hierarchical")[0])
    load = {
        name: _figures(
            dynamo("--set", "dynamo.horizon=1h", "--set", f"workload.load_curve=[{{at: '00:00', rps: {rps}}}]")[0]
        )
        for name, rps in LOAD_LEVELS.items()
    }
    rows = {f"load {n}": load[n]["energy"] for n in LOAD_LEVELS}
    rows.update(
        {
            "24 h conversation": conv["energy"],
            "cluster power P50": conv["p50"],
            "cluster power P99": conv["p99"],
            "conversation (week)": conv["energy"],
            "coding (week)": code["energy"],
            "cost": conv["cost"],
            "carbon": conv["carbon"],
            "servers": _pct(conv["servers_plan"], conv["servers_base"]),
            "servers_plan": conv["servers_plan"],
            "servers_base": conv["servers_base"],
        }
    )
    return rows


def test_side_by_side_with_the_paper() -> None:
    """docs/dynamo.md "Side by side with the paper": our figure of every row as quoted; the rows that meet issue 14's
    target (within 8 points of the paper) asserted so; the explained rows' directions."""
    rows = side_by_side()
    print("\nrow | paper | ours | difference (points)")
    for name, paper in PAPER.items():
        print(f"{name} | {paper:+.1f}% | {rows[name]:+.1f}% | {rows[name] - paper:+.1f}")
    for name in [*PAPER, "servers_plan", "servers_base"]:
        check(f"dyn.side.{name}", rows[name])
    for name, paper in PAPER.items():
        if name not in MISSED:
            assert abs(rows[name] - paper) <= 8.0, (name, paper, rows[name])
    # the missed rows, by the direction of their reasons
    assert rows["load low"] < rows["load medium"] < rows["load high"] < 0  # savings shrink as load rises
    assert rows["cluster power P99"] > rows["cluster power P50"]  # the peak saves less than the median hour
    assert rows["coding (week)"] > rows["24 h conversation"]  # coding (prefill-bound) gains less here
    assert abs(rows["cost"] - rows["servers"]) < 1.0  # cost follows GPU-hours
    assert rows["carbon"] < rows["24 h conversation"]  # the plan's energy sits in the duck curve's trough


def _missed(name: str) -> pytest.MarkDecorator:
    ours = FIGURES[f"dyn.side.{name}"].value
    return pytest.mark.xfail(
        strict=True,
        reason=f"issue 14 target not met: {ours:+.1f}% vs the paper's {PAPER[name]:+.1f}% ({ours - PAPER[name]:+.1f} "
        f"points, target within 8): {MISSED[name]}",
    )


@pytest.mark.parametrize("name", [pytest.param(n, marks=_missed(n)) for n in sorted(MISSED)])
def test_side_by_side_row_within_eight_points(name: str) -> None:
    """Issue 14's target for the rows that miss it today (strict: meeting it fails until the docs say so)."""
    ours, paper = side_by_side()[name], PAPER[name]
    print(f"\n{name}: ours {ours:+.1f}%, paper {paper:+.1f}%, {ours - paper:+.1f} points (target: within 8)")
    assert abs(ours - paper) <= 8.0
