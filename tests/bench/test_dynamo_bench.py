"""Dynamo figures the README and docs/dynamo.md quote, protected by ``make bench``.

* speed (issue 5): a day of 5-minute epochs (288 solves), the whole command in a child process, as a ratio to the
  reference workload timed just before (tests/bench/reference.py), set at 2-3x the measured ratio; peak memory
  likewise (README: 176 MB);
* figures: the "Results on the shipped days" table of docs/dynamo.md (``--slo 15s``): energy, the SinglePool's
  energy and GPUs, the saving and the cost saving, at the precision they are quoted (0.1 kWh, 0.1 %), statuses
  exactly (every epoch proved optimal, the certificate solver-certified).

Measured while other work shares the 2 cores: the figures are pessimistic.
"""

from __future__ import annotations

import json

import pytest

from tests.bench.reference import check_memory, check_time, plan_cmd, reference, run_child, scaled_limit

pytestmark = pytest.mark.bench

SPECS = ["cluster_specs/dynamo-llama2-70b-h100.yaml", "cluster_specs/dynamo-llama2-70b-h100-coding.yaml"]
#: Time limits as multiples of the reference workload, per mode: 2.5x the ratios measured on 2026-12-06 (hierarchical
#: 1.54-1.84, documented 2.8-4.7 s; joint 12.4-19.3, documented ~35 s of CPU: "above the 10 s target", docs/dynamo.md).
TIME_K = {"joint": 40.0, "hierarchical": 4.6}
DOCUMENTED_S = {"joint": 35.0, "hierarchical": 4.7}


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
    limit = f"{scaled_limit(60, ref):.0f}"  # the default 60 s, stretched by the load (tests/bench/reference.py)
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


#: docs/dynamo.md "Results on the shipped days" (--slo 15s, savings against singlepool-fixed):
#: (spec, mode) -> energy kWh, SinglePool kWh, SinglePool GPUs, saving %, cost saving %.
RESULTS = {
    ("cluster_specs/dynamo-llama2-70b-h100.yaml", "hierarchical"): (269.8, 1580.9, 304, 82.9, 87.8),
    ("cluster_specs/dynamo-llama2-70b-h100.yaml", "joint"): (285.6, 1580.9, 304, 81.9, 82.9),
    ("cluster_specs/dynamo-llama2-70b-h100-coding.yaml", "joint"): (209.6, 939.3, 312, 77.7, 85.2),
}


@pytest.mark.parametrize(("spec", "mode"), sorted(RESULTS), ids=[f"{s.split('/')[-1]}-{m}" for s, m in sorted(RESULTS)])
def test_documented_results_on_the_shipped_days(spec: str, mode: str) -> None:
    energy, single, single_gpus, saving, cost_saving = RESULTS[(spec, mode)]
    ref = reference()
    limit = f"{scaled_limit(60, ref):.0f}"
    cmd = plan_cmd("dynamo", spec, "--slo", "15s", "--mode", mode, "--time-limit", limit, "--format", "json", "--quiet")
    run = run_child(cmd)
    assert run.returncode == 0, run.stderr
    plan = json.loads(run.stdout)
    m, sv = plan["metrics"], plan["plan"]["savings"]
    fixed = next(b for b in plan["plan"]["baselines"] if b["name"] == "singlepool-fixed")
    print(
        f"\n{spec} --slo 15s --mode {mode}: {m['energy_kwh']:.1f} kWh, SinglePool {fixed['energy_kwh']:.1f} kWh "
        f"({fixed['gpus']} GPUs), saving {sv['vs_singlepool_pct']:.1f}%, cost {sv['cost_vs_singlepool_pct']:.1f}%; "
        f"documented {energy} / {single} ({single_gpus}) / {saving}% / {cost_saving}%"
    )
    _proved(plan)
    assert m["energy_kwh"] == pytest.approx(energy, abs=0.05)
    assert fixed["energy_kwh"] == pytest.approx(single, abs=0.05) and fixed["gpus"] == single_gpus
    assert sv["vs_singlepool_pct"] == pytest.approx(saving, abs=0.05)
    assert sv["cost_vs_singlepool_pct"] == pytest.approx(cost_saving, abs=0.05)
    check_time(f"dynamo --slo 15s {mode} {spec}", run.wall_s, ref, TIME_K[mode], DOCUMENTED_S[mode])
