"""Both sides of every limit the dynamo verifier enforces, with the exact wording of each problem it reports.

The solved tiny plan is tampered one figure at a time: just inside a tolerance nothing is reported, just outside
exactly the expected message is (issue 17: mutation testing of ``planner/dynamo/verify.py``).
"""

from __future__ import annotations

import copy
import dataclasses

import pytest

from planner.dynamo.baselines import all_baselines
from planner.dynamo.contract import DynamoPlanBlock
from planner.dynamo.extract import plan_block
from planner.dynamo.instance import DynamoProblem
from planner.dynamo.profile import Config
from planner.dynamo.solve import solve
from planner.dynamo.verify import REL, check_certificate, check_plan, check_slo_limits, check_totals, latency_at
from planner.solver import SolveOptions


@pytest.fixture
def solved(tiny):
    day = solve(tiny, SolveOptions())
    block, _m, _t = plan_block(tiny, day, all_baselines(tiny, day.epochs))
    return tiny, block.dump()


def _typed(block: dict) -> DynamoPlanBlock:
    return DynamoPlanBlock.model_validate(block)


def _energy_wh(block: dict) -> float:
    return sum(e["energy_wh"] for e in block["epochs"])


def _loaded(block: dict) -> tuple[dict, dict, dict]:
    """The first configuration serving exactly one class with load (the SLO check applies to it)."""
    for e in block["epochs"]:
        for p in e["pools"]:
            for c in p["configs"]:
                if sum(f["provisioned_rps"] > 0 for f in c["classes"].values()) == 1 and c["instances"] > 0:
                    return e, p, c
    raise AssertionError("no single-class configuration")


# -------------------------------------------------------------------------------------------------- totals
TOTAL_KEYS = ("gpu_h", "avg_power_kw", "peak_power_kw", "gpu_cost_usd", "electricity_cost_usd", "cost_usd")


@pytest.mark.parametrize("key", TOTAL_KEYS)
def test_every_total_is_recomputed_on_both_sides_of_the_tolerance(solved, key: str) -> None:
    pb, block = solved
    value = block["totals"][key]
    assert value > 0
    inside = copy.deepcopy(block)
    inside["totals"][key] = value * (1 + REL / 4)
    assert check_totals(pb, _typed(inside), _energy_wh(block)) == []
    for factor in (1 + 1e-4, 1 - 1e-4):
        bad = copy.deepcopy(block)
        bad["totals"][key] = value * factor
        assert check_totals(pb, _typed(bad), _energy_wh(block)) == [f"totals.{key} {value * factor:.6g} != {value:.6g}"]


def test_peak_gpus_and_energy_totals_are_recomputed(solved) -> None:
    pb, block = solved
    bad = copy.deepcopy(block)
    bad["totals"]["peak_gpus"] += 1
    peak = max(e["gpus"] for e in block["epochs"])
    assert check_totals(pb, _typed(bad), _energy_wh(block)) == [f"totals.peak_gpus {peak + 1:.6g} != {peak:.6g}"]
    kwh = block["totals"]["energy_kwh"]
    bad = copy.deepcopy(block)
    bad["totals"]["energy_kwh"] = kwh * 1.001
    assert check_plan(pb, _typed(bad)) == [f"totals.energy_kwh {kwh * 1.001:.6g} != {kwh:.6g}"]
    ok = copy.deepcopy(block)
    ok["totals"]["energy_kwh"] = kwh * (1 + REL / 4)
    assert check_plan(pb, _typed(ok)) == []


def test_a_missing_totals_block_is_named_and_power_is_still_checked(solved) -> None:
    pb, block = solved
    bad = copy.deepcopy(block)
    bad["totals"] = None
    assert check_plan(pb, _typed(bad)) == ["totals: missing from a solved plan"]
    ep = bad["epochs"][2]
    ep["power_w"] *= 1.001
    assert check_totals(pb, _typed(bad), _energy_wh(block)) == [
        f"epoch[{ep['start']}]: power {ep['power_w']:.6g} W != energy / length"
    ]


def test_power_is_energy_over_length_within_the_tolerance(solved) -> None:
    pb, block = solved
    ok = copy.deepcopy(block)
    for e in ok["epochs"]:
        e["power_w"] *= 1 + REL / 4
    assert check_totals(pb, _typed(ok), _energy_wh(block)) == []
    bad = copy.deepcopy(block)
    ep = bad["epochs"][-1]
    ep["power_w"] *= 1 - 1e-4
    assert check_totals(pb, _typed(bad), _energy_wh(block)) == [
        f"epoch[{ep['start']}]: power {ep['power_w']:.6g} W != energy / length"
    ]


def test_average_power_of_an_empty_span_is_zero(solved) -> None:
    pb, block = solved
    empty = copy.deepcopy(block)
    empty["epochs"] = []
    for key in ("gpu_h", "avg_power_kw", "peak_power_kw", "gpu_cost_usd", "electricity_cost_usd", "cost_usd"):
        empty["totals"][key] = 0.0
    empty["totals"]["peak_gpus"] = 0
    empty["totals"]["carbon_kgco2"] = 0.0  # no epoch, so no epoch lacks a carbon figure
    assert check_totals(pb, _typed(empty), 0.0) == []
    empty["totals"]["avg_power_kw"] = 1e-3
    assert check_totals(pb, _typed(empty), 0.0) == ["totals.avg_power_kw 0.001 != 0"]


def test_carbon_is_none_without_a_series_and_recomputed_with_one(solved, monkeypatch) -> None:
    pb, block = solved
    assert block["totals"]["carbon_kgco2"] is None  # the tiny spec has no carbon series
    bad = copy.deepcopy(block)
    bad["totals"]["carbon_kgco2"] = 1.0
    assert check_totals(pb, _typed(bad), _energy_wh(block)) == ["totals.carbon_kgco2 1.0 != None"]

    monkeypatch.setattr(DynamoProblem, "carbon_g_per_kwh", lambda self, epoch: 400.0)
    grams = sum(e["energy_wh"] / 1000.0 * pb.pue * 400.0 / 1000.0 for e in block["epochs"])
    assert grams > 0
    assert check_totals(pb, _typed(block), _energy_wh(block)) == [f"totals.carbon_kgco2 None != {grams}"]
    ok = copy.deepcopy(block)
    ok["totals"]["carbon_kgco2"] = grams * (1 + REL / 4)
    assert check_totals(pb, _typed(ok), _energy_wh(block)) == []
    bad = copy.deepcopy(block)
    bad["totals"]["carbon_kgco2"] = grams * 1.001
    assert check_totals(pb, _typed(bad), _energy_wh(block)) == [
        f"totals.carbon_kgco2 {grams * 1.001:.6g} != {grams:.6g}"
    ]
    # one epoch without a carbon figure makes the whole total unknown
    calls = iter([400.0, None] + [400.0] * len(block["epochs"]))
    monkeypatch.setattr(DynamoProblem, "carbon_g_per_kwh", lambda self, epoch: next(calls))
    assert check_totals(pb, _typed(block), _energy_wh(block)) == []


# --------------------------------------------------------------------------------------------- certificate
def test_a_plan_labelled_optimal_needs_a_certificate(solved) -> None:
    _pb, block = solved
    bad = copy.deepcopy(block)
    bad["certificate"] = None
    msg = "every epoch is labelled optimal, but the plan carries no certificate"
    assert check_certificate(_typed(bad), _energy_wh(block)) == [msg]
    bad["epochs"][-1]["status"] = "feasible"
    assert check_certificate(_typed(bad), _energy_wh(block)) == []
    bad["epochs"] = []
    assert check_certificate(_typed(bad), 0.0) == []


def test_the_certificate_label_and_coverage_are_checked(solved) -> None:
    _pb, block = solved
    n = len(block["epochs"])
    bad = copy.deepcopy(block)
    bad["certificate"]["label"] = "optimal (proved)"
    assert check_certificate(_typed(bad), _energy_wh(block)) == [
        "certificate label 'optimal (proved)': a dual bound is only solver-certified"
    ]
    for field, value, plan_proved in (("epochs", n + 1, n), ("epochs_proved", n - 1, n)):
        bad = copy.deepcopy(block)
        bad["certificate"][field] = value
        cert = bad["certificate"]
        assert check_certificate(_typed(bad), _energy_wh(block)) == [
            f"certificate covers {cert['epochs_proved']}/{cert['epochs']} epochs, plan has {plan_proved}/{n}"
        ]
    bad = copy.deepcopy(block)
    bad["epochs"][0]["status"] = "feasible"
    bad["certificate"]["epochs_proved"] = n - 1
    assert check_certificate(_typed(bad), _energy_wh(block)) == [
        f"certificate covers {n - 1}/{n} epochs, plan has {n - 1}/{n}"
    ]


def test_the_bound_may_not_exceed_the_objective(solved) -> None:
    _pb, block = solved
    obj = block["certificate"]["objective_wh"]
    ok = copy.deepcopy(block)
    ok["certificate"]["bound_wh"] = obj * (1 + REL / 2)
    assert check_certificate(_typed(ok), _energy_wh(block)) == []
    bad = copy.deepcopy(block)
    bad["certificate"]["bound_wh"] = obj * (1 + 3 * REL)
    assert check_certificate(_typed(bad), _energy_wh(block)) == [
        f"certificate bound {obj * (1 + 3 * REL):.10g} Wh exceeds its objective {obj:.10g} Wh"
    ]


def test_the_gap_is_recomputed_and_held_to_its_tolerance(solved) -> None:
    _pb, block = solved
    cert = block["certificate"]
    obj = cert["objective_wh"]
    ok = copy.deepcopy(block)
    ok["certificate"].update(bound_wh=obj * 0.99, relative_gap=0.01, gap_tolerance=0.01 + 1e-9)
    assert check_certificate(_typed(ok), _energy_wh(block)) == []
    gap = (obj - obj * 0.99) / obj
    bad = copy.deepcopy(block)
    bad["certificate"].update(bound_wh=obj * 0.99, relative_gap=0.01, gap_tolerance=0.005)
    assert check_certificate(_typed(bad), _energy_wh(block)) == [
        f"certificate gap {0.01:.3g} (recomputed {gap:.3g}) against tolerance {0.005:.3g}"
    ]
    bad = copy.deepcopy(block)
    bad["certificate"]["relative_gap"] = 2e-9
    assert check_certificate(_typed(bad), _energy_wh(block)) == [
        f"certificate gap {2e-9:.3g} (recomputed {0.0:.3g}) against tolerance {cert['gap_tolerance']:.3g}"
    ]
    near = copy.deepcopy(block)
    near["certificate"]["relative_gap"] = 5e-10
    assert check_certificate(_typed(near), _energy_wh(block)) == []


def test_a_zero_objective_has_zero_gap(solved) -> None:
    _pb, block = solved
    zero = copy.deepcopy(block)
    zero["certificate"].update(objective_wh=0.0, bound_wh=0.0, relative_gap=0.0)
    assert check_certificate(_typed(zero), 0.0) == []


def test_the_objective_must_cover_the_recomputed_energy(solved) -> None:
    _pb, block = solved
    obj = block["certificate"]["objective_wh"]
    assert check_certificate(_typed(block), obj * (1 + REL / 2)) == []
    total = obj * (1 + 3 * REL)
    assert check_certificate(_typed(block), total) == [
        f"certificate objective {obj:.10g} Wh is below the plan's recomputed energy {total:.10g} Wh"
    ]


# ---------------------------------------------------------------------------------------------- SLO limits
def test_stated_slo_limits_match_the_problem(solved) -> None:
    pb, block = solved
    assert check_slo_limits(pb, _typed(block)) == []
    bad = copy.deepcopy(block)
    row = bad["classes"][0]
    k = row["class"]
    row["ttft_s"] = 0.4 * 1.001
    row["e2e_s"] = 5.0
    assert check_slo_limits(pb, _typed(bad)) == [
        f"classes[{k}].ttft_s: plan states {0.4 * 1.001}, the SLO is 0.4",
        f"classes[{k}].e2e_s: plan states 5.0, the SLO is None",
    ]
    bad = copy.deepcopy(block)
    bad["classes"][1]["tbt_s"] = None
    assert check_slo_limits(pb, _typed(bad)) == [
        f"classes[{bad['classes'][1]['class']}].tbt_s: plan states None, the SLO is 0.1"
    ]
    ok = copy.deepcopy(block)
    ok["classes"][0]["tbt_s"] = 0.1 * (1 + REL / 4)
    assert check_slo_limits(pb, _typed(ok)) == []
    bad = copy.deepcopy(block)
    bad["classes"][0]["class"] = "XX"
    bad["classes"][0]["ttft_s"] = 9.0
    assert check_slo_limits(pb, _typed(bad)) == ["classes[XX]: not a class of the problem"]


# ------------------------------------------------------------------------------------------- check_plan
def test_an_unprofiled_clock_or_tp_is_not_allowed(solved) -> None:
    """A clock between profiled steps, a fractional clock (profiled clocks are whole MHz) and an unprofiled TP."""
    pb, block = solved
    for tp, freq, key in ((4, 1801, "tp4@1801"), (4, 1800.5, "tp4@1800"), (3, 1800, "tp3@1800")):
        bad = copy.deepcopy(block)
        e, p, c = _loaded(bad)
        c["tp"], c["freq_mhz"] = tp, freq
        errs = check_plan(pb, _typed(bad))
        assert errs[0] == f"epoch[{e['start']}].pool[{p['class']}]: configuration {key} is not allowed", errs


def test_a_pool_serving_a_class_it_may_not_serve_is_named(solved) -> None:
    pb, block = solved
    bad = copy.deepcopy(block)
    e, p, c = _loaded(bad)
    other = next(k for k in pb.classes if k not in pb.plan_serves()[p["class"]])
    c["classes"][other] = {"provisioned_rps": 0.0, "served_requests": 0.0}
    assert check_plan(pb, _typed(bad)) == [
        f"epoch[{e['start']}].pool[{p['class']}]: serves class {other} it may not serve (dominance)"
    ]


def test_served_requests_follow_the_routed_share(solved) -> None:
    pb, block = solved
    ok = copy.deepcopy(block)
    e, p, c = _loaded(ok)
    k = next(k for k, f in c["classes"].items() if f["provisioned_rps"] > 0)
    served = c["classes"][k]["served_requests"]
    c["classes"][k]["served_requests"] = served * (1 + REL / 4)
    assert check_plan(pb, _typed(ok)) == []
    bad = copy.deepcopy(block)
    e, p, c = _loaded(bad)
    c["classes"][k]["served_requests"] = served * 1.001
    key = f"tp{c['tp']}@{c['freq_mhz']}"
    assert check_plan(pb, _typed(bad)) == [
        f"epoch[{e['start']}].pool[{p['class']}].{key}: served requests of {k} do not match its share"
    ]


def test_reconfiguration_and_epoch_energy_are_recomputed(solved) -> None:
    pb, block = solved
    bad = copy.deepcopy(block)
    ep = bad["epochs"][0]
    ep["reconfig_wh"] = 5.0
    assert check_plan(pb, _typed(bad)) == [f"epoch[{ep['start']}]: reconfiguration 5 Wh != 0"]
    bad = copy.deepcopy(block)
    ep = bad["epochs"][3]
    energy = ep["energy_wh"]
    ep["energy_wh"] = energy * 1.001
    errs = check_plan(pb, _typed(bad))
    assert errs[0] == f"epoch[{ep['start']}]: energy {energy * 1.001:.6g} Wh != {energy:.6g}"
    ok = copy.deepcopy(block)
    ok["epochs"][3]["energy_wh"] = energy * (1 + REL / 4)
    ok["epochs"][3]["reconfig_wh"] = ok["epochs"][3]["reconfig_wh"] + 1e-9
    assert check_plan(pb, _typed(ok)) == []


def _key(c: dict) -> str:
    return f"tp{c['tp']}@{c['freq_mhz']}"


@pytest.mark.parametrize("metric", ["ttft", "tbt", "e2e"])
def test_a_single_class_group_meets_each_p99_limit_read_from_the_sweep(solved, metric: str) -> None:
    pb, block = solved
    e, p, c = _loaded(block)
    k = next(k for k, f in c["classes"].items() if f["provisioned_rps"] > 0)
    lat = latency_at(pb, k, Config(c["tp"], c["freq_mhz"]), c["classes"][k]["provisioned_rps"] / c["instances"])
    assert 0 < lat[metric] < float("inf")

    def p99_errors(limit: float) -> list[str]:
        slos = dict(pb.slos)
        slos[k] = dataclasses.replace(pb.slos[k], **{f"{metric}_s": limit})
        here = f"epoch[{e['start']}].pool[{p['class']}].{_key(c)}: p99 "
        return [x for x in check_plan(dataclasses.replace(pb, slos=slos), _typed(block)) if x.startswith(here)]

    assert p99_errors(lat[metric] * (1 - 1e-7)) == []  # within the verifier's 1e-6
    lim = lat[metric] * (1 - 1e-4)
    assert p99_errors(lim) == [
        f"epoch[{e['start']}].pool[{p['class']}].{_key(c)}: p99 {metric} {lat[metric]:.4g}s > SLO {lim:.4g}s for {k}"
    ]


def test_a_class_routed_to_a_config_that_cannot_meet_its_slo_is_named(solved) -> None:
    pb, block = solved
    bad = copy.deepcopy(block)
    e, p, c = _loaded(bad)
    k = next(k for k, f in c["classes"].items() if f["provisioned_rps"] > 0)
    weak = next(cf for cf in pb.configs if pb.cap(k, cf) <= 0)
    extra = copy.deepcopy(c)
    extra.update(tp=weak.tp, freq_mhz=weak.freq_mhz, instances=1)
    extra["classes"] = {k: {"provisioned_rps": 0.01, "served_requests": 0.0}}
    p["configs"].append(extra)
    assert f"epoch[{e['start']}].pool[{p['class']}].{weak.key}: class {k} cannot meet its SLO on this config" in (
        check_plan(pb, _typed(bad))
    )


def test_tp_must_divide_the_node_size(solved) -> None:
    pb, block = solved
    e, p, c = _loaded(block)
    odd = dataclasses.replace(pb, gpus_per_node=c["tp"] * 3 // 2)
    assert f"epoch[{e['start']}].pool[{p['class']}]: TP {c['tp']} does not divide the node size" in check_plan(
        odd, _typed(block)
    )


def test_the_gpu_budget_holds_on_both_sides(solved) -> None:
    pb, block = solved
    peak = max(e["gpus"] for e in block["epochs"])
    assert check_plan(dataclasses.replace(pb, gpu_budget=peak), _typed(block)) == []
    errs = check_plan(dataclasses.replace(pb, gpu_budget=peak - 1), _typed(block))
    over = [e for e in block["epochs"] if e["gpus"] == peak]
    assert errs == [f"epoch[{e['start']}]: {peak} GPUs exceed the budget of {peak - 1}" for e in over]


def _grow(block: dict, idx: int) -> dict:
    """One more instance on the first configuration of epoch idx (its pool's GPUs change)."""
    ep = block["epochs"][idx]
    ep["pools"][0]["configs"][0]["instances"] += 1
    return ep


def test_pool_gpus_hold_inside_a_cluster_window(solved) -> None:
    pb, block = solved
    window = round(pb.epoch_s / pb.reshard_epoch_s)
    assert pb.mode == "hierarchical" and window > 1 and len(block["epochs"]) > window
    msg = "pool GPUs changed inside a cluster window"
    for idx, inside in ((1, True), (window, False)):
        bad = copy.deepcopy(block)
        ep = _grow(bad, idx)
        errs = check_plan(pb, _typed(bad))
        assert (f"epoch[{ep['start']}]: {msg}" in errs) is inside, (idx, errs)
        assert not [x for x in check_plan(dataclasses.replace(pb, mode="flat"), _typed(bad)) if msg in x]
