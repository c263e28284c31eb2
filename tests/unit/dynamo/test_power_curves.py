"""Instance power follows the profile's load sweep (issue 14): operating points, balanced groups, the MILP's segment
choice, parked GPUs, both SinglePool baselines, and the fragmentation rule with the exact pool re-shard."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from planner.dynamo.baselines import single_pool
from planner.dynamo.load import Epoch
from planner.dynamo.model import TIE_BREAK_WH, EpochData, EpochModel, MilpInstance
from planner.dynamo.pools import blend, next_dominating, promote, reshard
from planner.dynamo.profile import Config, PowerCurve
from planner.dynamo.solution import make_group

from ...dynamo_specs import tiny_dynamo_spec
from .conftest import tiny_problem

C2, C4 = Config(2, 1980), Config(4, 1980)
#: a saturating curve: half the dynamic power at a tenth of capacity (like the shipped sweeps' knee)
KNEE = PowerCurve((0.0, 0.1, 1.0), (0.0, 500.0, 1000.0))


def test_operating_points_reproduce_the_sweep_within_tolerance(tiny) -> None:
    """Every sweep row below capacity lies within 1% of P(cap) of the curve the planner charges."""
    for (k, c), f in tiny.figures.items():
        if f.cap_rps <= 0:
            continue
        sw = tiny.profiles.sweeps[(k, c)]
        idle = float(sw.power_w[0])
        for load, power in zip(sw.load_rps, sw.power_w, strict=True):
            if load <= f.cap_rps:
                assert idle + f.curve.at(load / f.cap_rps) == pytest.approx(power, abs=0.01 * f.power_at_cap_w + 1e-6)
        assert f.curve.u[0] == 0.0 and f.curve.u[-1] == 1.0 and f.curve.dyn_w[0] == 0.0


def test_balanced_group_pays_the_curve_not_the_chord() -> None:
    """Four instances sharing 0.4 req/s each run at u = 0.1: half the dynamic power, not a tenth of it."""
    e = Epoch(0.0, 3600.0, {"A": 1.0}, {"A": 3600.0})
    g = make_group("A", C4, 4, {"A": 1.0}, e, {"A": 1.0}, 100.0, {"A": KNEE}, {"A": 2.5})
    assert g.operating_u == pytest.approx(0.1)
    assert g.energy_wh == pytest.approx(4 * (100.0 + 500.0))  # one hour
    chord = 4 * 100.0 + 1000.0 / 2.5 * 1.0  # idle + (P(cap) - P0) / cap per req/s: what the chord would charge
    assert g.energy_wh > 1.4 * chord


def milp(curve: PowerCurve, cap: float, budget: int | None = None) -> EpochModel:
    inst = MilpInstance(
        classes=("A",),
        pools=("A",),
        configs=(C2,),
        cap_rps={("A", C2): cap},
        curves={("A", C2): curve},
        idle_w={C2: 100.0},
        serves={"A": ("A",)},
        gpu_budget=budget,
        prune=False,
    )
    return EpochModel(inst)


@pytest.mark.parametrize("rate", [0.3, 1.0, 2.5, 3.7])
def test_milp_prices_a_group_at_its_balanced_operating_point(rate: float) -> None:
    """The segment choice makes the MILP's objective the balanced group's curve, n P(U / n), for any load."""
    sol = milp(KNEE, 1.0).solve(EpochData(3600.0, {"A": rate}, {"A": 1.0}))
    n = sol.instances[("A", C2)]
    assert n == int(np.ceil(rate - 1e-9))  # more instances only cost more on a concave curve
    expected = n * (100.0 + KNEE.at(rate / n))
    assert sol.objective_wh - TIE_BREAK_WH * n == pytest.approx(expected, rel=1e-7)


def test_parked_gpus_draw_idle_power_and_released_ones_nothing(tmp_path: Path) -> None:
    released = tiny_problem(tmp_path)
    parked = tiny_problem(tmp_path, tiny_dynamo_spec(dynamo="  released_gpus: park\n"))
    assert released.parked_w_per_gpu == 0.0 and parked.parked_w_per_gpu > 0
    assert parked.parked_wh(40, 3600.0) == pytest.approx((parked.gpu_budget - 40) * parked.parked_w_per_gpu)
    peak = single_pool(parked, fixed=False)
    assert peak.epochs is not None
    assert all(e.parked_wh == pytest.approx(parked.parked_wh(e.gpus, e.epoch.length_s)) for e in peak.epochs)


def test_singlepool_fixed_fills_the_budget_and_peak_fits_the_peak(tiny) -> None:
    fixed, peak = single_pool(tiny, fixed=True), single_pool(tiny, fixed=False)
    assert fixed.gpus == tiny.gpu_budget // 8 * 8 and peak.gpus < fixed.gpus
    assert fixed.epochs is not None and peak.epochs is not None
    for a, b in zip(fixed.epochs, peak.epochs, strict=True):
        # the same load on more instances: lower operating point, more idle power, more energy
        assert a.groups[0].operating_u < b.groups[0].operating_u
        assert a.energy_wh > b.energy_wh


# ------------------------------------------------------------------------------------- fragmentation rule
ORDER = ("SS", "SM", "SL", "MS", "MM", "ML", "LS", "LM", "LL")


def test_next_dominating_follows_the_reference_chains(tiny) -> None:
    nxt = tiny.promotion_next()
    assert [nxt[k] for k in ORDER] == ["SM", "SL", "ML", "MM", "ML", "LL", "LM", "LL", None]
    assert next_dominating(("A", "B"), {("B", "A"): True, ("A", "B"): False, ("A", "A"): True, ("B", "B"): True}) == {
        "A": "B",
        "B": None,
    }


def test_promotion_floors_every_pool_but_the_sink() -> None:
    """Leftovers below one replica move on (measured in replicas of their own class); only LL rounds up."""
    nxt = {"SS": "SM", "SM": "SL", "SL": "ML", "MS": "MM", "MM": "ML", "ML": "LL", "LS": "LM", "LM": "LL", "LL": None}
    cap = {k: 1.0 for k in ORDER} | {"SS": 4.0}
    rate = {"SS": 6.0, "SM": 0.3, "SL": 0.0, "MS": 0.2, "MM": 1.5, "ML": 0.0, "LS": 0.0, "LM": 0.4, "LL": 0.45}
    got = promote(ORDER, nxt, rate, lambda load: sum(x / cap[k] for k, x in load.items()))
    # SS: 1.5 replicas -> 1, half a replica (2 req/s of SS) moves to SM; SM: 0.5 + 0.3 = 0.8 -> 0, on to SL -> ML
    assert got.replicas["SS"] == 1 and got.replicas["SM"] == 0 and got.replicas["MM"] == 1
    # MS 0.2 joins MM (1.7 -> 1, 0.7 on to ML); ML: 0.8 + 0.7 = 1.5 -> 1; LL: 0.5 + 0.4 + 0.45 -> ceil
    assert got.replicas["ML"] == 1 and got.replicas["LL"] == 2
    # every class is served in full, and each pool's load fits its replicas
    for k, r in rate.items():
        if r > 0:
            assert sum(route.get(k, 0.0) for route in got.route.values()) == pytest.approx(1.0)
    for p, route in got.route.items():
        assert sum(rate[k] * s / cap[k] for k, s in route.items()) <= got.replicas[p] + 1e-9


def test_hierarchical_pools_hold_whole_reference_replicas(tmp_path: Path) -> None:
    from planner.dynamo.solve import solve
    from planner.solver import SolveOptions

    pb = tiny_problem(tmp_path, mode="hierarchical")
    day = solve(pb, SolveOptions())
    for res in day.epochs:
        assert all(g % 8 == 0 for g in res.pool_gpus().values())
    serves = pb.plan_serves()
    for res in day.epochs:
        for g in res.groups:
            assert set(g.load_rps) <= set(serves[g.pool])


def test_reshard_enumeration_equals_the_milp() -> None:
    """The pool level's exact enumeration and the MILP (pool_gpus fixed, same curves) find the same optimum."""
    c8 = Config(8, 1980)
    curves = {C2: KNEE, C4: PowerCurve((0.0, 0.2, 1.0), (0.0, 900.0, 1500.0)), c8: PowerCurve.linear(0.1, 6.0)}
    caps = {C2: 1.0, C4: 2.5, c8: 6.0}
    idle = {C2: 150.0, C4: 300.0, c8: 600.0}
    for gpus, rate in [(8, 0.4), (8, 2.2), (16, 3.1), (16, 7.9), (24, 11.0)]:
        blends = [blend(c, {"A": rate}, {"A": 0.9}, {"A": caps[c]}, idle[c], {"A": curves[c]}) for c in caps]
        got = reshard([b for b in blends if b], gpus, rate, 1.0, None, 0.0, 1.0, TIE_BREAK_WH)
        inst = MilpInstance(
            classes=("A",),
            pools=("A",),
            configs=tuple(caps),
            cap_rps={("A", c): v for c, v in caps.items()},
            curves={("A", c): v for c, v in curves.items()},
            idle_w=idle,
            serves={"A": ("A",)},
            pool_gpus_fixed=True,
            prune=False,
        )
        sol = EpochModel(inst).solve(EpochData(3600.0, {"A": rate}, {"A": 0.9}, pool_gpus={"A": gpus}))
        assert got is not None and sol.status == "optimal"
        assert got.objective_wh == pytest.approx(sol.objective_wh, rel=1e-7)


def test_mixed_blend_is_the_share_weighted_curve() -> None:
    b = blend(C4, {"A": 1.0, "B": 1.0}, {"A": 1.0, "B": 1.0}, {"A": 2.0, "B": 1.0}, 100.0, {"A": KNEE, "B": KNEE})
    assert b is not None and b.cap_rps == pytest.approx(1 / (0.5 / 2.0 + 0.5 / 1.0))
    assert b.weights == pytest.approx({"A": 1 / 3, "B": 2 / 3})
    assert dataclasses.replace(b).dyn_w(0.1) == pytest.approx(500.0)


def test_singlepools_are_sized_by_throughput_and_say_which_slos_they_miss(tmp_path: Path) -> None:
    """The paper's SinglePool is a static deployment judged by its latency: sized by each class's own capacity mixed
    linearly, the interference it suffers is reported (not used to size it), while the plan must still meet it."""
    pb = tiny_problem(tmp_path, tiny_dynamo_spec(top="").replace("slo: {ttft: 400ms, tbt: 100ms}", "slo: {}"))
    ref = Config(8, 1980)
    peak = single_pool(pb, fixed=False)
    assert peak.epochs is not None
    throughput = max(pb.usage(pb.provisioned(e), ref, interference=False) for e in pb.epochs)
    mixed = max(pb.usage(pb.provisioned(e), ref) for e in pb.epochs)
    assert peak.gpus == 8 * int(np.ceil(throughput - 1e-9)) and mixed > peak.gpus / 8
    assert "not held to the p99 SLOs under interference" in peak.note and "SS in" in peak.note
    assert f"would need {int(np.ceil(mixed - 1e-9))} instances" in peak.note
    off = single_pool(dataclasses.replace(pb, interference=False), fixed=False)
    assert off.gpus == peak.gpus and off.note == ""


# ------------------------------------------------------------------------------------------ interference
def test_short_requests_sharing_with_long_prefills_cap_the_long_load(tmp_path: Path) -> None:
    """Per-class SLOs (5x isolated): SS's tight TTFT limits how much LL an instance may carry when they share."""
    pb = tiny_problem(tmp_path, tiny_dynamo_spec(top="").replace("slo: {ttft: 400ms, tbt: 100ms}", "slo: {}"))
    ref = Config(8, 1980)
    assert pb.slos["SS"].source["ttft"].startswith("5x isolated")
    assert pb.cross_cap("LL", "LL", ref) == pb.cap("LL", ref)
    assert 0 < pb.cross_cap("LL", "SS", ref) < 0.5 * pb.cap("LL", ref)  # SS's 5x-isolated TTFT binds first
    mix = {"SS": 1.0, "LL": 0.5}
    linear = sum(x / pb.cap(k, ref) for k, x in mix.items())
    assert pb.usage(mix, ref) > 1.5 * linear  # interference: the same load needs more instances than linear mixing
    assert pb.usage({"LL": 0.5}, ref) == pytest.approx(0.5 / pb.cap("LL", ref))  # one class: no interference
    off = dataclasses.replace(pb, interference=False)
    assert off.usage(mix, ref) == pytest.approx(linear)


def test_costly_leftovers_round_up_at_home() -> None:
    """A leftover that would add a whole replica to its target (interference) stays and rounds its pool up."""
    order = ("A", "B")
    nxt = {"A": "B", "B": None}

    def util(load: dict[str, float]) -> float:
        base = sum(load.values())
        return base * (10.0 if len(load) > 1 else 1.0)  # sharing makes everything ten times dearer

    got = promote(order, nxt, {"A": 0.5, "B": 0.5}, util)
    assert got.replicas == {"A": 1, "B": 1} and got.route == {"A": {"A": 1.0}, "B": {"B": 1.0}}
    cheap = promote(order, nxt, {"A": 0.5, "B": 0.5}, lambda load: sum(load.values()))
    assert cheap.replicas == {"A": 0, "B": 1} and cheap.route == {"B": {"A": 1.0, "B": 1.0}}
