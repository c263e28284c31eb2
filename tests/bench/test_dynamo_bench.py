"""Dynamo figures the README and docs/dynamo.md quote, protected by ``make bench``.

* speed (issue 5): a day of 5-minute epochs (288 solves), the whole command in a child process, as a ratio to the
  reference workload timed just before (tests/bench/reference.py), set at 2-3x the measured ratio; peak memory
  likewise (README: 176 MB);
* figures: the "Results on the shipped days" table of docs/dynamo.md (per-class SLOs, hierarchical mode): energy, the
  SinglePool's energy and GPUs, the saving and the cost saving, at the precision they are quoted (0.1 kWh, 0.1 %),
  statuses exactly (every epoch proved optimal, the certificate solver-certified);
* the "Side by side with the paper" table of docs/dynamo.md: every row from its command, within 8 points of the
  paper or, for the rows with a written reason, in the direction the reason states.

Measured while other work shares the 2 cores: the figures are pessimistic.
"""

from __future__ import annotations

import json

import pytest

from tests.bench.reference import check_memory, check_time, plan_cmd, reference, run_child

pytestmark = pytest.mark.bench

SPECS = ["cluster_specs/dynamo-llama2-70b-h100.yaml", "cluster_specs/dynamo-llama2-70b-h100-coding.yaml"]
#: Time limits as multiples of the reference workload, per mode: 2.5x the ratios measured on 2026-12-06 (hierarchical
#: 1.54-1.84, documented 2.8-4.7 s; joint 12.4-19.3 on the v1 profile; on the v2 profile (class medians) the coding
#: day measured 17.4, the conversation day 19.8 (about 62 s of CPU): "above the 10 s target", docs/dynamo.md).
TIME_K = {"joint": 40.0, "hierarchical": 4.6}
DOCUMENTED_S = {"joint": 62.0, "hierarchical": 4.7}
#: A --time-limit that never binds: under contention the default 60 s cut the conversation day short (262 of 288
#: epochs), which says nothing of the plan; the run's speed is asserted separately, as a ratio to the reference.
LIMIT = "900"


def _proved(plan: dict) -> None:
    epochs = plan["plan"]["epochs"]
    assert len(epochs) == 288 and plan["solver"]["status"] == "optimal"
    assert all(e["status"] == "optimal" for e in epochs)
    cert = plan["plan"]["certificate"]
    assert cert["label"] == "optimal (solver-certified)" and cert["epochs_proved"] == 288


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("mode", ["joint", "hierarchical"])
def test_day_of_five_minute_epochs(spec: str, mode: str) -> None:
    ref = reference()
    limit = LIMIT  # the figures are about optimality; speed is the ratio below
    run = run_child(plan_cmd("dynamo", spec, "--mode", mode, "--time-limit", limit, "--format", "json", "--quiet"))
    assert run.returncode == 0, run.stderr
    plan = json.loads(run.stdout)
    print(
        f"\n{spec} --mode {mode}: {plan['solver']['message'].split(' (')[0]}, command wall {run.wall_s:.2f} s "
        f"(solver part {plan['run']['wall_s']:.2f} s), peak RSS {run.peak_mb:.0f} MB, "
        f"energy {plan['metrics']['energy_kwh']:.1f} kWh vs SinglePool "
        f"{plan['metrics']['baseline_singlepool_energy_kwh']:.1f} kWh"
    )
    _proved(plan)
    check_time(f"dynamo {mode} {spec}", run.wall_s, ref, TIME_K[mode], DOCUMENTED_S[mode])
    check_memory(f"dynamo {mode} {spec}", run.peak_mb, ref, 2.0, 176)


#: docs/dynamo.md "Results on the shipped days" (per-class SLOs, savings against singlepool-fixed):
#: (spec, mode) -> energy kWh, SinglePool kWh, SinglePool GPUs, saving %, cost saving %.
RESULTS = {
    ("cluster_specs/dynamo-llama2-70b-h100.yaml", "hierarchical"): (296.5, 556.3, 88, 46.7, 46.4),
    ("cluster_specs/dynamo-llama2-70b-h100-coding.yaml", "hierarchical"): (267.3, 420.2, 88, 36.4, 54.7),
}


@pytest.mark.parametrize(("spec", "mode"), sorted(RESULTS), ids=[f"{s.split('/')[-1]}-{m}" for s, m in sorted(RESULTS)])
def test_documented_results_on_the_shipped_days(spec: str, mode: str) -> None:
    energy, single, single_gpus, saving, cost_saving = RESULTS[(spec, mode)]
    ref = reference()
    limit = LIMIT
    cmd = plan_cmd("dynamo", spec, "--mode", mode, "--time-limit", limit, "--format", "json", "--quiet")
    run = run_child(cmd)
    assert run.returncode == 0, run.stderr
    plan = json.loads(run.stdout)
    m, sv = plan["metrics"], plan["plan"]["savings"]
    fixed = next(b for b in plan["plan"]["baselines"] if b["name"] == "singlepool-fixed")
    print(
        f"\n{spec} --mode {mode}: {m['energy_kwh']:.1f} kWh, SinglePool {fixed['energy_kwh']:.1f} kWh "
        f"({fixed['gpus']} GPUs), saving {sv['vs_singlepool_pct']:.1f}%, cost {sv['cost_vs_singlepool_pct']:.1f}%; "
        f"documented {energy} / {single} ({single_gpus}) / {saving}% / {cost_saving}%"
    )
    _proved(plan)
    assert m["energy_kwh"] == pytest.approx(energy, abs=0.05)
    assert fixed["energy_kwh"] == pytest.approx(single, abs=0.05) and fixed["gpus"] == single_gpus
    assert sv["vs_singlepool_pct"] == pytest.approx(saving, abs=0.05)
    assert sv["cost_vs_singlepool_pct"] == pytest.approx(cost_saving, abs=0.05)
    check_time(f"dynamo {mode} {spec}", run.wall_s, ref, TIME_K[mode], DOCUMENTED_S[mode])


# ------------------------------------------------------------------------------------- side by side with the paper
#: Constant (Poisson) load levels of the paper's load study as shares of the fixed cluster's throughput capacity (the
#: reference does not define them): 88 GPUs of TP8 at 1980 MHz carry about 50 req/s of the conversation mix with 10%
#: headroom, so 20% / 50% / 80% are 10 / 25 / 40 req/s.
LOAD_LEVELS = {"low": (10, -51.0), "medium": (25, -40.0), "high": (40, -23.4)}
CARBON = "profiles/carbon/grid_intensity_duck_synthetic.csv"
CODING = "cluster_specs/dynamo-llama2-70b-h100-coding.yaml"
#: rows whose gap to the paper has a measured, written reason in docs/dynamo.md ("Why some rows miss"): not held
#: to the 8-point target, but their direction is asserted
EXPLAINED = {"load high", "cluster power P99", "coding (week)", "cost", "carbon"}


def _plan(*args: str) -> dict:
    run = run_child(plan_cmd("dynamo", *args, "--format", "json", "--quiet"))
    assert run.returncode == 0, run.stderr
    plan = json.loads(run.stdout)
    assert plan["solver"]["status"] == "optimal"
    return plan


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


def test_side_by_side_with_the_paper() -> None:
    """docs/dynamo.md "Side by side with the paper": every row measured from its command, printed with the paper's
    figure; rows within 8 points are asserted so, the explained ones by their direction."""
    conv = _figures(_plan("--carbon", CARBON))
    code = _figures(_plan(CODING, "--mode", "hierarchical"))
    loads = {
        name: _figures(
            _plan("--set", "dynamo.horizon=1h", "--set", f"workload.load_curve=[{{at: '00:00', rps: {rps}}}]")
        )
        for name, (rps, _paper) in LOAD_LEVELS.items()
    }
    servers_paper = _pct(24.6, 40.0)
    rows = [(f"load {n}", paper, loads[n]["energy"]) for n, (_rps, paper) in LOAD_LEVELS.items()] + [
        ("24 h conversation", -42.0, conv["energy"]),
        ("cluster power P50", -43.0, conv["p50"]),
        ("cluster power P99", -9.0, conv["p99"]),
        ("conversation (week)", -47.0, conv["energy"]),
        ("coding (week)", -56.0, code["energy"]),
        ("cost", -61.0, conv["cost"]),
        ("carbon", -38.0, conv["carbon"]),
        ("servers", servers_paper, _pct(conv["servers_plan"], conv["servers_base"])),
    ]
    print("\nrow | paper | ours | difference (points)")
    for name, paper, ours in rows:
        print(f"{name} | {paper:+.1f}% | {ours:+.1f}% | {ours - paper:+.1f}")
    print(f"servers: {conv['servers_base']:.1f} -> {conv['servers_plan']:.2f} (paper 40 -> 24.6)")
    for name, paper, ours in rows:
        assert ours < 0, name  # every row is a saving
        if name not in EXPLAINED:
            assert abs(ours - paper) <= 8.0, (name, paper, ours)
    # the explained rows, by the direction of their reasons
    low, medium, high = (loads[n]["energy"] for n in LOAD_LEVELS)
    assert low < medium < high  # savings shrink as load rises (the paper: 51% -> 40% -> 23.4%)
    assert conv["p99"] > conv["p50"]  # the peak saves less than the median hour
    assert code["energy"] > conv["energy"]  # coding (mostly LS: prefill-bound) gains less here; the paper's more
    assert abs(conv["cost"] - _pct(conv["servers_plan"], conv["servers_base"])) < 1.0  # cost follows GPU-hours
    assert conv["carbon"] < conv["energy"]  # the plan's energy sits in the duck curve's midday trough
