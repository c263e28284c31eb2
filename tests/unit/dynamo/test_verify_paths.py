"""Paths of the dynamo verifier that mutation testing found untested (issue 17): exact tolerance boundaries, pools
that grow or appear between epochs (GPU starts and resharding), parked GPUs, a class with no load in an epoch,
groups with zero or one instance, a PUE other than 1, a carbon figure per epoch, certificates at their limits.

The tiny solved day (tests/unit/dynamo/conftest.py): pools LS (one tp4@1800 x2 group in epoch 00:00, tp8@1600 x1 at
00:10) and LL (tp4@800 x2 idle + tp8@1600 x1 serving all nine classes at 00:00); 24 GPUs of a 48-GPU budget in
every epoch; starting a GPU costs 3.0 Wh and resharding one 0.125 Wh (start 10 s / reshard ... x idle of the top
configuration per GPU); GPUs outside every instance are released (0 W); PUE 1. Each test tampers one thing and
checks the message it must produce (or that none is produced), with the expected figure worked out below.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from pathlib import Path
from typing import Any

import pytest

from planner.dynamo import verify
from planner.dynamo.baselines import all_baselines
from planner.dynamo.contract import DynamoPlanBlock
from planner.dynamo.extract import plan_block
from planner.dynamo.instance import DynamoProblem
from planner.dynamo.profile import Config
from planner.dynamo.solve import solve
from planner.dynamo.verify import (
    REL,
    _close,
    check_certificate,
    check_plan,
    check_slo_limits,
    check_totals,
    latency_at,
    verify_plan,
)
from planner.errors import VerificationError
from planner.solver import SolveOptions
from tests.unit.dynamo.conftest import tiny_problem

Doc = dict[str, Any]


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> tuple[DynamoProblem, Doc]:
    pb = tiny_problem(Path(tmp_path_factory.mktemp("dynamo")))
    solved = solve(pb, SolveOptions())
    block, _m, _t = plan_block(pb, solved, all_baselines(pb, solved.epochs))
    return pb, block.dump()


@pytest.fixture
def solved(day: tuple[DynamoProblem, Doc]) -> tuple[DynamoProblem, Doc]:
    pb, block = day
    return pb, copy.deepcopy(block)


def _typed(block: Doc) -> DynamoPlanBlock:
    return DynamoPlanBlock.model_validate(block)


def _pool(block: Doc, idx: int, cls: str) -> Doc:
    return next(p for p in block["epochs"][idx]["pools"] if p["class"] == cls)


def _group(tp: int, freq: int, n: int, classes: dict[str, tuple[float, float]] | None = None) -> Doc:
    """A configuration entry of a pool (figures other than those checked are placeholders)."""
    cls = {k: {"provisioned_rps": x, "served_requests": s} for k, (x, s) in (classes or {}).items()}
    return {
        "tp": tp, "freq_mhz": freq, "instances": n, "gpus": n * tp, "load_rps": 0.0, "provisioned_rps": 0.0,
        "classes": cls, "energy_wh": 0.0, "idle_wh": 0.0, "utilisation": 0.0,
    }  # fmt: skip


def _new_pool(cls: str, group: Doc) -> Doc:
    """A pool of one group (the pool's own summary figures are placeholders)."""
    return {
        "class": cls,
        "configs": [group],
        **{k: group[k] for k in ("tp", "freq_mhz", "instances", "gpus")},
        "load_rps": 0.0,
        "provisioned_rps": 0.0,
        "energy_wh": 0.0,
    }


def _matching(errs: list[str], text: str) -> list[str]:
    return [e for e in errs if text in e]


def test_the_tiny_day_is_as_described(solved) -> None:
    pb, block = solved
    assert check_plan(pb, _typed(block)) == []
    assert (pb.start_wh_per_gpu(), pb.reshard_wh_per_gpu(), pb.parked_w_per_gpu, pb.pue) == (3.0, 0.125, 0.0, 1.0)
    assert [e["gpus"] for e in block["epochs"]] == [24] * len(block["epochs"])
    assert [(c["tp"], c["freq_mhz"], c["instances"]) for c in _pool(block, 0, "LS")["configs"]] == [(4, 1800, 2)]
    assert [(c["tp"], c["freq_mhz"], c["instances"]) for c in _pool(block, 2, "LS")["configs"]] == [(8, 1600, 1)]
    assert [(c["tp"], c["freq_mhz"], c["instances"]) for c in _pool(block, 0, "LL")["configs"]] == [
        (4, 800, 2), (8, 1600, 1)
    ]  # fmt: skip


# ---------------------------------------------------------------------------------------------- _close
def test_close_is_relative_to_the_larger_magnitude_and_at_least_absolute_rel() -> None:
    # |a - b| <= 1e-6 * max(1, |a|, |b|), both ends included
    assert _close(0.0, 1e-6)  # 1e-6 <= 1e-6 * 1
    assert not _close(0.0, 1.5e-6)
    assert _close(1e6, 999999.0) and _close(999999.0, 1e6)  # 1 <= 1e-6 * 1e6 whichever side is larger
    assert 1e-6 * 999999.0 < 1.0  # (the smaller magnitude alone would not do)
    assert not _close(1e6, 999998.0)


# ------------------------------------------------------------------------------------------- latency_at
def test_latency_at_the_end_of_the_sweep_plus_tolerance_is_still_read(solved) -> None:
    pb, _block = solved
    c = Config(4, 1800)
    sw = pb.profiles.sweeps[("LS", c)]
    last = {m: float(sw.lat[m][-1]) for m in sw.lat}
    assert latency_at(pb, "LS", c, sw.load_rps[-1] * (1 + REL)) == last
    beyond = math.nextafter(sw.load_rps[-1] * (1 + REL), math.inf)
    assert latency_at(pb, "LS", c, beyond) == {m: math.inf for m in sw.lat}


# ------------------------------------------------------------------------------------ reconfiguration
def test_a_pool_growing_by_two_groups_starts_and_reshards_their_gpus(solved) -> None:
    pb, block = solved
    # 00:05, pool LS: tp4@1800 x2 (8 GPUs, as at 00:00) plus tp4@1600 x1 and tp2@1800 x1 (idle): 14 GPUs.
    # started 14 - 8 = 6 GPUs; resharded: tp4 3 - 2 = 1 instance (4 GPUs), tp2 1 - 0 (2 GPUs) = 6 GPUs
    _pool(block, 1, "LS")["configs"] += [_group(4, 1600, 1), _group(2, 1800, 1)]
    expected = 6 * 3.0 + 6 * 0.125
    assert expected == 18.75
    errs = check_plan(pb, _typed(block))
    assert _matching(errs, "reconfiguration") == ["epoch[00:05]: reconfiguration 0 Wh != 18.75"]
    assert "epoch[00:05]: gpus 24 != 30" in errs


def test_a_pool_appearing_starts_all_its_gpus(solved) -> None:
    pb, block = solved
    # 00:05: a new pool MS with one idle tp2@1800 instance: 2 GPUs started (from none), 2 resharded
    block["epochs"][1]["pools"].append(_new_pool("MS", _group(2, 1800, 1)))
    errs = check_plan(pb, _typed(block))
    assert _matching(errs, "reconfiguration") == [f"epoch[00:05]: reconfiguration 0 Wh != {2 * 3.0 + 2 * 0.125:.6g}"]


def test_parked_gpus_add_to_the_epoch_energy(solved) -> None:
    pb, block = solved
    parked = dataclasses.replace(pb, released="park")
    # 48 - 24 = 24 GPUs idle at the lowest profiled clock over 300 s
    w = parked.parked_w_per_gpu
    assert w > 0
    extra = 24 * w * 300.0 / 3600.0
    e0 = block["epochs"][0]["energy_wh"]
    errs = check_plan(parked, _typed(block))
    assert errs[0] == f"epoch[00:00]: energy {e0:.6g} Wh != {e0 + extra:.6g}"


def test_a_group_energy_mismatch_names_the_recomputed_figure(solved) -> None:
    pb, block = solved
    g = _pool(block, 0, "LS")["configs"][0]
    energy = g["energy_wh"]
    assert energy > g["idle_wh"] > 0  # idle and load-dependent parts both present
    g["energy_wh"] = energy * 1.001
    errs = check_plan(pb, _typed(block))
    assert errs[0] == f"epoch[00:00].pool[LS].tp4@1800: energy {energy * 1.001:.6g} Wh != {energy:.6g}"


# ------------------------------------------------------------------------------------- check_plan paths
def test_a_disallowed_group_does_not_hide_the_next_group_of_its_pool(solved) -> None:
    pb, block = solved
    ll = _pool(block, 0, "LL")
    ll["configs"][0]["freq_mhz"] = 801  # the idle tp4 group: an unprofiled clock
    errs = check_plan(pb, _typed(block))
    assert errs[0] == "epoch[00:00].pool[LL]: configuration tp4@801 is not allowed"
    assert not _matching(errs, ": serve[")  # the tp8 group after it still routes every class
    assert "epoch[00:00]: gpus 24 != 16" in errs


def test_a_class_that_cannot_meet_its_slo_does_not_hide_the_next_class(solved) -> None:
    pb, block = solved
    weak = next(c for c in pb.configs if pb.cap("LS", c) <= 0)
    _pool(block, 0, "LS")["configs"].append(_group(weak.tp, weak.freq_mhz, 1, {"LS": (0.01, 0.0), "SS": (0.0, 0.0)}))
    errs = check_plan(pb, _typed(block))
    assert f"epoch[00:00].pool[LS].{weak.key}: class LS cannot meet its SLO on this config" in errs
    assert "epoch[00:00].pool[LS]: serves class SS it may not serve (dominance)" in errs


def test_the_capacity_sum_does_not_rest_on_the_interference_model_alone(solved, monkeypatch) -> None:
    pb, block = solved
    # with the problem's usage (interference) reporting nothing, the verifier's own sum of x / cap still counts:
    # 0.5 req/s of SS (cap 18.27 on tp2@1800) and 0.5 of SM (cap 5.533) need 0.5/18.27 + 0.5/5.533 instances
    c = Config(2, 1800)
    assert (pb.cap("SS", c), pb.cap("SM", c)) == (18.27, 5.533)
    monkeypatch.setattr(DynamoProblem, "usage", lambda self, load, c, interference=None: 0.0)
    block["epochs"][0]["pools"].append(_new_pool("SM", _group(2, 1800, 0, {"SS": (0.5, 0), "SM": (0.5, 0)})))
    errs = check_plan(pb, _typed(block))
    need = 0.5 / 18.27 + 0.5 / 5.533
    assert _matching(errs, "capacity") == [
        f"epoch[00:00].pool[SM].tp2@1800: capacity exceeded ({need:.6g} > 0 instances)"
    ]
    # below 1 req/s counts too
    block["epochs"][0]["pools"][-1]["configs"] = [_group(2, 1800, 0, {"SM": (0.25, 0)})]
    errs = check_plan(pb, _typed(block))
    assert _matching(errs, "capacity") == [
        f"epoch[00:00].pool[SM].tp2@1800: capacity exceeded ({0.25 / 5.533:.6g} > 0 instances)"
    ]


def test_capacity_is_held_to_n_times_one_plus_rel(solved, monkeypatch) -> None:
    pb, block = solved
    g = _pool(block, 0, "LS")["configs"][0]
    target = {"LS": g["classes"]["LS"]["provisioned_rps"]}
    real = DynamoProblem.usage
    value = {"usage": 2 * (1 + REL)}

    def usage(self: DynamoProblem, load: dict[str, float], c: Config, interference: bool | None = None) -> float:
        if c == Config(4, 1800) and load == target:
            return value["usage"]
        return real(self, load, c, interference)

    monkeypatch.setattr(DynamoProblem, "usage", usage)
    assert _matching(check_plan(pb, _typed(block)), "capacity") == []  # exactly at the tolerance
    value["usage"] = 3.0
    assert _matching(check_plan(pb, _typed(block)), "capacity") == [
        "epoch[00:00].pool[LS].tp4@1800: capacity exceeded (3 > 2 instances)"
    ]


def test_a_group_with_no_instance_but_load_is_refused_not_crashed(solved) -> None:
    pb, block = solved
    g = _pool(block, 0, "LS")["configs"][0]
    g["instances"] = 0
    x = g["classes"]["LS"]["provisioned_rps"]
    errs = check_plan(pb, _typed(block))
    assert (
        f"epoch[00:00].pool[LS].tp4@1800: capacity exceeded ({x / pb.cap('LS', Config(4, 1800)):.6g} > 0 instances)"
        in errs
    )


def _p99(pb: DynamoProblem, block: Doc, prefix: str, limit: float) -> list[str]:
    slos = dict(pb.slos)
    slos["LS"] = dataclasses.replace(pb.slos["LS"], ttft_s=limit)
    return [e for e in check_plan(dataclasses.replace(pb, slos=slos), _typed(block)) if e.startswith(prefix + ": p99")]


def test_a_single_instance_group_meets_its_slo(solved) -> None:
    pb, block = solved
    # 00:10, pool LS: one tp8@1600 instance serving LS alone at 0.21726 req/s
    g = _pool(block, 2, "LS")["configs"][0]
    assert (g["tp"], g["freq_mhz"], g["instances"], list(g["classes"])) == (8, 1600, 1, ["LS"])
    ttft = latency_at(pb, "LS", Config(8, 1600), g["classes"]["LS"]["provisioned_rps"])["ttft"]
    assert 0 < ttft < 0.4
    prefix = "epoch[00:10].pool[LS].tp8@1600"
    lim = ttft * (1 - 1e-4)
    msg = f"{prefix}: p99 ttft {ttft:.4g}s > SLO {lim:.4g}s for LS"
    assert _p99(pb, block, prefix, lim) == [msg]
    # a second class listed with no load keeps the group single-class for this check
    g["classes"]["SS"] = {"provisioned_rps": 0.0, "served_requests": 0.0}
    assert _p99(pb, block, prefix, lim) == [msg]
    # a limit whose tolerance ends exactly at the latency is met
    exact = ttft / (1 + 1e-6)
    while exact * (1 + 1e-6) < ttft:
        exact = math.nextafter(exact, math.inf)
    while exact * (1 + 1e-6) > ttft:
        exact = math.nextafter(exact, 0.0)
    assert exact * (1 + 1e-6) == ttft
    assert _p99(pb, block, prefix, exact) == []


def test_a_class_without_load_in_an_epoch(solved) -> None:
    pb, block = solved
    # SL gets no load at 00:00 (peak 0 req/s): nothing routed, nothing served, and no share to compare against
    ep0 = pb.epochs[0]
    quiet = dataclasses.replace(ep0, peak_rps={**ep0.peak_rps, "SL": 0.0})
    pq = dataclasses.replace(pb, epochs=[quiet, *pb.epochs[1:]])
    for p in block["epochs"][0]["pools"]:
        for g in p["configs"]:
            if "SL" in g["classes"]:
                g["classes"]["SL"] = {"provisioned_rps": 0.0, "served_requests": 0.0}
    errs = check_plan(pq, _typed(block))
    assert not _matching(errs, "SL")


# ------------------------------------------------------------------------------- SLO limits and totals
def test_an_unknown_class_row_does_not_end_the_slo_limit_checks(solved) -> None:
    pb, block = solved
    block["classes"][0]["class"] = "XX"
    block["classes"][1]["ttft_s"] = 0.5
    assert check_slo_limits(pb, _typed(block)) == [
        "classes[XX]: not a class of the problem",
        "classes[SM].ttft_s: plan states 0.5, the SLO is 0.4",
    ]


def _energy_wh(block: Doc) -> float:
    return sum(e["energy_wh"] for e in block["epochs"])


def test_electricity_and_carbon_are_scaled_by_the_pue(solved, monkeypatch) -> None:
    pb, block = solved
    total = _energy_wh(block)
    hot = dataclasses.replace(pb, pue=1.5)
    # electricity: kWh x PUE x price = total/1000 x 1.5 x 0.1 USD
    assert pb.price_kwh == 0.1
    electricity = total / 1000.0 * 1.5 * 0.1
    errs = check_totals(hot, _typed(block), total)
    assert f"totals.electricity_cost_usd {block['totals']['electricity_cost_usd']:.6g} != {electricity:.6g}" in errs
    # carbon: a different figure per epoch (100 g/kWh at 00:00, 200 at 00:05, ...), times the PUE
    monkeypatch.setattr(DynamoProblem, "carbon_g_per_kwh", lambda self, epoch: 100.0 * (1 + epoch.start_s / 300.0))
    grams = sum(e["energy_wh"] / 1000.0 * 1.5 * 100.0 * (1 + i) / 1000.0 for i, e in enumerate(block["epochs"]))
    block["totals"]["carbon_kgco2"] = grams
    assert not _matching(check_totals(hot, _typed(block), total), "carbon")
    block["totals"]["carbon_kgco2"] = grams * 1.001
    assert _matching(check_totals(hot, _typed(block), total), "carbon") == [
        f"totals.carbon_kgco2 {grams * 1.001:.6g} != {grams:.6g}"
    ]


# ---------------------------------------------------------------------------------------------- certificate
def _cert(block: Doc, **values: float) -> DynamoPlanBlock:
    block["certificate"].update(values)
    return _typed(block)


def test_a_bound_exactly_at_its_limit_is_accepted(solved) -> None:
    _pb, block = solved
    obj = block["certificate"]["objective_wh"]
    at = obj * (1 + REL) + 1e-9
    assert check_certificate(_cert(block, bound_wh=at, relative_gap=0.0), obj) == []
    over = math.nextafter(at, math.inf)
    assert check_certificate(_cert(block, bound_wh=over), obj) == [
        f"certificate bound {over:.10g} Wh exceeds its objective {obj:.10g} Wh"
    ]


def test_the_gap_of_an_objective_below_one_wh(solved) -> None:
    _pb, block = solved
    # objective 0.5 Wh, bound 0.25 Wh: gap (0.5 - 0.25) / 0.5 = 0.5
    assert (
        check_certificate(_cert(block, objective_wh=0.5, bound_wh=0.25, relative_gap=0.5, gap_tolerance=0.5), 0.5) == []
    )
    errs = check_certificate(_cert(block, relative_gap=0.0), 0.5)
    assert errs == ["certificate gap 0 (recomputed 0.5) against tolerance 0.5"]


def test_gap_tolerances_are_inclusive(solved) -> None:
    _pb, block = solved
    obj = block["certificate"]["objective_wh"]
    # stated gap 1e-9 against a recomputed 0: a difference of exactly 1e-9 is accepted
    assert check_certificate(_cert(block, bound_wh=obj, relative_gap=1e-9, gap_tolerance=1e-9), obj) == []
    # gap 0.5 against a tolerance of exactly 0.5, and against 0.5 - 1e-12 (the slack)
    half = {"objective_wh": 1.0, "bound_wh": 0.5, "relative_gap": 0.5}
    assert check_certificate(_cert(block, **half, gap_tolerance=0.5), 1.0) == []
    tol = 0.5 - 1e-12
    assert tol + 1e-12 == 0.5
    assert check_certificate(_cert(block, **half, gap_tolerance=tol), 1.0) == []
    assert check_certificate(_cert(block, **half, gap_tolerance=0.5 - 2e-12), 1.0) == [
        f"certificate gap 0.5 (recomputed 0.5) against tolerance {0.5 - 2e-12:.3g}"
    ]


def test_an_objective_exactly_at_the_energy_tolerance_is_accepted(solved) -> None:
    _pb, block = solved
    obj = block["certificate"]["objective_wh"]
    # find the energy total whose lower tolerance lands exactly on the objective
    total = (obj + 1e-6) / (1 - REL)
    while total * (1 - REL) - 1e-6 < obj:
        total = math.nextafter(total, math.inf)
    while total * (1 - REL) - 1e-6 > obj:
        total = math.nextafter(total, 0.0)
    assert total * (1 - REL) - 1e-6 == obj
    assert check_certificate(_typed(block), total) == []
    above = math.nextafter(total, math.inf)
    while not above * (1 - REL) - 1e-6 > obj:
        above = math.nextafter(above, math.inf)
    assert check_certificate(_typed(block), above) == [
        f"certificate objective {obj:.10g} Wh is below the plan's recomputed energy {above:.10g} Wh"
    ]


# ---------------------------------------------------------------------------------------------- verify_plan
@pytest.mark.parametrize(("count", "suffix"), [(5, ""), (6, " (+1 more)"), (7, " (+2 more)")])
def test_verify_plan_lists_five_problems_and_counts_the_rest(solved, monkeypatch, count: int, suffix: str) -> None:
    pb, block = solved
    problems = [f"p{i}" for i in range(count)]
    monkeypatch.setattr(verify, "check_plan", lambda problem, blk: problems)
    with pytest.raises(VerificationError) as info:
        verify_plan(pb, _typed(block))
    assert str(info.value) == "dynamo plan failed verification: p0; p1; p2; p3; p4" + suffix
