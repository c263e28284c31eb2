"""Latency bands propagated from the profile band: the chosen point re-simulated with its iteration times x(1 -+ b),
and a plan's band taken from the rows of the design it recommends, not from every candidate's."""

from __future__ import annotations

import pytest

from planner.runner.splitwise import run
from planner.splitwise.instance import SplitwiseOptions, build
from planner.splitwise.sensitivity import latency_moves, scaled_evaluator
from planner.splitwise.solve import solve

TINY = dict(duration_s=20.0, workers=1)


def test_scaled_evaluator_scales_the_design_curves_only(db, coding) -> None:
    inst = build(coding, db, SplitwiseOptions(rps=8.0, designs=["HA"], **TINY))
    ev = scaled_evaluator(inst.evaluator, ("DGX-H100",), 1.5)
    before, after = inst.evaluator.profiles["DGX-H100"], ev.profiles["DGX-H100"]
    assert after.prompt.y_s == pytest.approx(tuple(1.5 * y for y in before.prompt.y_s))
    assert after.token.y_s == pytest.approx(tuple(1.5 * y for y in before.token.y_s))
    assert ev.profiles["DGX-A100"] is inst.evaluator.profiles["DGX-A100"]
    assert ev.reference is inst.evaluator.reference  # the SLO reference stays the measured request alone
    assert inst.evaluator.profiles["DGX-H100"] is before  # the search's evaluator is not touched


def test_latency_moves_grow_with_the_band_and_vanish_without_one(db, coding) -> None:
    inst = build(coding, db, SplitwiseOptions(rps=8.0, designs=["HH"], **TINY))
    sol = solve(inst, inst.options)
    best = sol.outcomes[0].best
    assert best is not None
    assert latency_moves(inst, best, 0.0) == {}
    small, large = latency_moves(inst, best, 0.05), latency_moves(inst, best, 0.3)
    assert set(small) == {k for k, v in best.latency_ms.items() if v is not None}
    # The token time between tokens is a sum of iteration times: it moves about as the band does, both ways.
    assert small["tbt_p50_ms"].down == pytest.approx(0.05, abs=0.03)
    assert small["tbt_p50_ms"].up == pytest.approx(0.05, abs=0.03)
    assert all(large[k].up >= small[k].up and large[k].down >= small[k].down for k in small)
    assert max(m.up for m in large.values()) > 0.3  # some percentile queues: it moves more than the rows do


def test_plan_band_rests_on_the_chosen_design(db, coding) -> None:
    """HHcap's synthetic rows are a candidate, not what the recommended HH point rests on: its figures carry the
    measured band, and the latency bands are at least that."""
    plan = run(coding, db, SplitwiseOptions(rps=8.0, designs=["HH", "HHcap"], objective="cost", **TINY)).plan
    assert plan.plan["design"] == "HH"
    assert plan.metrics["throughput_rps_err_ratio"] == pytest.approx(0.0633)
    band = next(a for a in plan.assumptions if a.subject == "error band")
    assert band.basis == "measured" and "re-simulated" in band.detail
    for k in ("ttft_p99_ms", "tbt_p99_ms", "e2e_p99_ms"):
        assert plan.metrics[f"{k}_err_ratio"] >= 0.0633
