"""The reference's worked cases T1, T3, T5 and T6 (DynamoLLM reference section 12), reproduced exactly."""

from __future__ import annotations

import pytest

from planner.dynamo.classes import ClassScheme
from planner.dynamo.frequency import decode_step_options, pick_clock
from planner.dynamo.model import TIE_BREAK_WH, EpochData, EpochModel, MilpInstance
from planner.dynamo.nvidia_sla import decode_replicas, prefill_replicas
from planner.dynamo.profile import Config, PowerCurve

TP2, TP4, TP8 = Config(2, 1200), Config(4, 1600), Config(8, 1980)


def t1_model(budget: int, equal: bool) -> EpochModel:
    """T1: class MM, three configurations (idle W, Wh/request, req/s at SLO), T = 300 s."""
    inst = MilpInstance(
        classes=("MM",),
        pools=("MM",),
        configs=(TP2, TP4, TP8),
        cap_rps={("MM", TP2): 0.6, ("MM", TP4): 2.0, ("MM", TP8): 6.0},
        # T1's energy is affine in the load (Wh per request on top of idle): straight power curves
        curves={
            ("MM", TP2): PowerCurve.linear(1.5, 0.6),
            ("MM", TP4): PowerCurve.linear(2.0, 2.0),
            ("MM", TP8): PowerCurve.linear(3.0, 6.0),
        },
        idle_w={TP2: 150.0, TP4: 300.0, TP8: 600.0},
        serves={"MM": ("MM",)},
        gpu_budget=budget,
        pool_gpus_fixed=equal,
    )
    return EpochModel(inst, name="t1")


def solve_t1(budget: int, rate: float, equal: bool):
    data = EpochData(300.0, {"MM": rate}, {"MM": 1.0}, pool_gpus={"MM": budget} if equal else None)
    return t1_model(budget, equal).solve(data)


@pytest.mark.parametrize(
    ("budget", "rate", "equal", "instances", "energy_wh"),
    [
        (8, 0.5, False, (1, 0, 0), 237.5),
        (8, 0.5, True, (2, 1, 0), 275.0),  # tie with (4, 0, 0); "fewest instances" selects (2, 1, 0)
        (8, 1.0, False, (2, 0, 0), 475.0),
        (8, 1.0, True, (2, 1, 0), 500.0),  # tie with (4, 0, 0)
        (8, 2.5, False, (2, 1, 0), 1370.0),
        (8, 2.5, True, (2, 1, 0), 1370.0),
        (8, 4.0, False, (0, 2, 0), 2450.0),
        (8, 4.0, True, (0, 2, 0), 2450.0),
        (8, 6.0, False, (0, 0, 1), 5450.0),
        (8, 6.0, True, (0, 0, 1), 5450.0),
        (16, 7.0, False, (2, 3, 0), 4120.0),
        (16, 7.0, True, (2, 3, 0), 4120.0),
    ],
)
def test_t1_pool_level_milp(budget: int, rate: float, equal: bool, instances: tuple, energy_wh: float) -> None:
    sol = solve_t1(budget, rate, equal)
    assert sol.status == "optimal"
    got = tuple(sol.instances.get(("MM", c), 0) for c in (TP2, TP4, TP8))
    assert got == instances
    energy = sol.objective_wh - TIE_BREAK_WH * sum(got)
    assert energy == pytest.approx(energy_wh, abs=1e-6)
    assert sol.bound_wh == pytest.approx(sol.objective_wh, abs=1e-5)


def test_t1_infeasible_beyond_capacity() -> None:
    assert solve_t1(8, 6.5, False).status == "infeasible"
    assert solve_t1(8, 6.5, True).status == "infeasible"


T3 = [(800, 0.062, 1300), (1000, 0.052, 1450), (1200, 0.046, 1600), (1400, 0.042, 1800), (1600, 0.039, 2050),
      (1800, 0.037, 2300), (1980, 0.0355, 2550)]  # fmt: skip


@pytest.mark.parametrize(
    ("slo_s", "freq", "fallback"),
    [(0.045, 1400, False), (0.050, 1200, False), (0.070, 1200, False), (0.030, 1980, True), (0.042, 1400, False)],
)
def test_t3_instance_level_clock(slo_s: float, freq: int, fallback: bool) -> None:
    choice = pick_clock(decode_step_options(T3, slo_s))
    assert (choice.freq_mhz, choice.fallback) == (freq, fallback)


def test_t3_energy_per_step_is_u_shaped() -> None:
    energies = [tbt * p for _, tbt, p in T3]
    assert min(energies) == pytest.approx(73.6)
    assert energies.index(min(energies)) == 2  # 1200 MHz: the minimum sits inside the range


@pytest.mark.parametrize(
    ("inp", "out", "cls"),
    [(255, 99, "SS"), (256, 100, "MM"), (1023, 349, "MM"), (1024, 350, "LL"), (200, 120, "SM"), (5000, 50, "LS")],
)
def test_t5_class_boundaries(inp: int, out: int, cls: str) -> None:
    assert ClassScheme().classify(inp, out) == cls


def test_t6_nvidia_sla_planner_arithmetic() -> None:
    assert prefill_replicas(1800, 180, 3000, 10_000, 1, prefill_correction=1.2) == 3
    assert decode_replicas(1800, 180, 300, 2_000, 2) == 1
