"""Iteration-time model: piecewise-linear interpolation in batch tokens over the shipped SplitwiseSim knots."""

from __future__ import annotations

import numpy as np
import pytest

from planner.spec.sections.splitwise import AnalyticProfile
from planner.splitwise.perf import Curve, build_profile, lookup_list


def test_prompt_time_at_knots_is_the_median_measurement(db, coding, machines) -> None:
    prof = build_profile(db, coding.model, machines["DGX-A100"], machines, AnalyticProfile())
    # reference README 6.2, BLOOM / A100 knots (ms)
    got = prof.prompt_s(np.array([128, 512, 2048, 32768])) * 1e3
    assert got == pytest.approx([79.668437, 174.382301, 536.055457, 11251.827955], abs=1e-6)
    assert prof.provenance == "measured"


def test_prompt_time_between_knots_is_linear(db, coding, machines) -> None:
    a100 = build_profile(db, coding.model, machines["DGX-A100"], machines, AnalyticProfile())
    h100 = build_profile(db, coding.model, machines["DGX-H100"], machines, AnalyticProfile())
    # reference README 6.2: 1020 / 1500 tokens on A100 = 286.6 / 403.0 ms; 1500 on H100 = 187.9 ms
    assert float(a100.prompt_s(1020)) * 1e3 == pytest.approx(286.6, abs=0.05)
    assert float(a100.prompt_s(1500)) * 1e3 == pytest.approx(403.0, abs=0.05)
    assert float(h100.prompt_s(1500)) * 1e3 == pytest.approx(187.9, abs=0.05)
    mid = (174.382301 + 287.467346) / 2  # halfway between the 512 and 1024 knots
    assert float(a100.prompt_s(768)) * 1e3 == pytest.approx(mid, abs=1e-6)


def test_linear_extrapolation_outside_the_knots() -> None:
    c = Curve((128.0, 256.0, 512.0), (1.0, 2.0, 4.0))
    assert float(c(1024)) == pytest.approx(8.0)  # last slope 2/256 per token
    assert float(c(64)) == pytest.approx(0.5)  # first slope 1/128 per token
    assert float(c(-1e9)) > 0  # never below the floor


def test_non_monotone_measurements_are_kept(db, machines) -> None:
    llama = db.model("llama2-70b")
    prof = build_profile(db, llama, machines["DGX-H100"], machines, AnalyticProfile())
    assert float(prof.prompt_s(128)) > float(prof.prompt_s(256))  # measured noise (README 6.2)
    env = prof.prompt.envelope()
    xs = np.arange(1, 4096)
    assert np.all(np.diff(env(xs)) >= -1e-12)


def test_capped_h100_is_synthetic_and_1_3x_slower_for_prompts(db, coding, machines) -> None:
    cap = build_profile(db, coding.model, machines["DGX-H100-cap"], machines, AnalyticProfile())
    h100 = build_profile(db, coding.model, machines["DGX-H100"], machines, AnalyticProfile())
    xs = np.array([256, 2048, 8192])
    assert cap.provenance == "synthetic"
    assert cap.prompt_s(xs) / h100.prompt_s(xs) == pytest.approx([1.3, 1.3, 1.3], rel=1e-3)
    assert cap.token_s(xs) == pytest.approx(h100.token_s(xs))


def test_capped_machine_derived_when_the_table_lacks_it(db, machines) -> None:
    llama31 = db.model("llama3.1-70b")
    cap = build_profile(db, llama31, machines["DGX-H100-cap"], machines, AnalyticProfile())
    base = build_profile(db, llama31, machines["DGX-H100"], machines, AnalyticProfile())
    assert base.provenance == "analytic" and cap.provenance == "analytic"
    assert float(cap.prompt_s(2048)) == pytest.approx(1.3 * float(base.prompt_s(2048)))
    assert "derived from DGX-H100" in cap.source


def test_analytic_fallback_is_a_roofline(db, machines) -> None:
    llama31 = db.model("llama3.1-70b")
    opts = AnalyticProfile(mfu=0.5, mbu=0.5, overhead="5ms")
    prof = build_profile(db, llama31, machines["DGX-H100"], machines, opts)
    weights_s = llama31.weight_bytes / (8 * 3350e9 * 0.5)
    assert float(prof.token_s(1)) == pytest.approx(0.005 + weights_s, rel=1e-6)  # memory-bound decode
    flops_s = 8 * 989e12 * 0.5
    big = float(prof.prompt_s(8192))
    assert big == pytest.approx(0.005 + llama31.flops_per_token() * 8192 / flops_s, rel=1e-6)  # compute-bound


def test_lookup_list_matches_the_curve() -> None:
    c = Curve((1.0, 100.0), (0.01, 0.11))
    table = lookup_list(c, 101)
    assert table[0] == table[1] == pytest.approx(0.01)
    assert table[50] == pytest.approx(0.01 + 0.1 * 49 / 99)
    assert table[100] == pytest.approx(0.11)
