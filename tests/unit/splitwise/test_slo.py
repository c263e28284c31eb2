"""SLO evaluation on hand-made request lists (Splitwise Table VI slowdowns, the artifact's definitions)."""

from __future__ import annotations

import numpy as np
import pytest

from planner.spec.sections.splitwise import AnalyticProfile, SplitwiseSlo
from planner.splitwise.perf import Curve, PerfProfile, build_profile
from planner.splitwise.slo import (
    SLO_NAMES,
    evaluate,
    reference_latencies,
    slo_limits,
    slowdowns,
    violation_allowance,
    worst,
)


def flat_reference(prompt_s: float, token_s: float) -> PerfProfile:
    return PerfProfile(
        model="m",
        machine="ref",
        prompt=Curve((1.0, 1e5), (prompt_s, prompt_s)),
        token=Curve((1.0, 1e5), (token_s, token_s)),
        provenance="analytic",
        source="test",
    )


def test_nine_slos_on_a_hand_made_request_list() -> None:
    prompt = np.full(5, 1000)
    output = np.full(5, 11)
    ref = reference_latencies(prompt, output, flat_reference(0.1, 0.02))
    assert ref.e2e_s == pytest.approx(np.full(5, 0.3))  # 0.1 + 0.02 x (11 - 1)
    ttft = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    e2e = ttft + 0.2
    values = {v.name: v for v in evaluate(slowdowns(ttft, e2e, output, ref), slo_limits(SplitwiseSlo()))}
    assert list(values) == list(SLO_NAMES)
    assert values["ttft_p50"].value == pytest.approx(3.0)  # slowdowns 1..5
    assert values["ttft_p90"].value == pytest.approx(4.6)  # linear interpolation at position 3.6
    assert values["ttft_p99"].value == pytest.approx(4.96)
    assert values["tbt_p50"].value == pytest.approx((0.2 / 11) / 0.02)  # (e2e - ttft) / output tokens
    assert values["e2e_p50"].value == pytest.approx(0.5 / 0.3)
    assert not values["ttft_p50"].met and values["ttft_p50"].margin == pytest.approx(1 - 3.0 / 2.0)
    assert values["ttft_p99"].met and values["ttft_p99"].margin == pytest.approx(1 - 4.96 / 6.0)
    assert not values["e2e_p50"].met  # 1.667 >= 1.25
    assert worst(list(values.values())).name == "ttft_p90"  # 4.6 vs 3: margin -53 %, the most negative


def test_bloom_reference_ttft_and_p50_limit(db, coding, machines) -> None:
    ref = reference_latencies(
        np.array([1500]),
        np.array([13]),
        build_profile(db, coding.model, machines["DGX-A100"], machines, AnalyticProfile()),
    )
    assert float(ref.ttft_s[0]) * 1e3 == pytest.approx(403.0, abs=0.05)  # reference README 11.5
    limits = slo_limits(SplitwiseSlo())
    ok = evaluate(slowdowns(np.array([0.805]), np.array([1.5]), np.array([13]), ref), limits)[0]
    bad = evaluate(slowdowns(np.array([0.807]), np.array([1.5]), np.array([13]), ref), limits)[0]
    assert ok.name == "ttft_p50" and ok.met and not bad.met  # the limit is 2 x 403.0 = 806 ms


def test_unfinished_requests_count_as_infinite() -> None:
    ref = reference_latencies(np.full(3, 100), np.full(3, 5), flat_reference(0.1, 0.01))
    slow = slowdowns(np.array([0.1, 0.1, np.nan]), np.array([0.2, 0.2, np.nan]), np.full(3, 5), ref)
    values = {v.name: v for v in evaluate(slow, slo_limits(SplitwiseSlo()))}
    assert values["ttft_p50"].value == pytest.approx(1.0)
    assert values["ttft_p99"].value is None and not values["ttft_p99"].met


@pytest.mark.parametrize("n", [1, 2, 7, 100, 1001])
@pytest.mark.parametrize("q", [0.5, 0.9, 0.99])
def test_violation_allowance_is_exact(n: int, q: float) -> None:
    """One more request at the limit than allowed forces the quantile to the limit; the allowance itself may not."""
    allow = violation_allowance(n, q)
    limit = 1.0
    surely = np.concatenate([np.zeros(n - allow - 1), np.full(allow + 1, limit)])
    assert np.quantile(surely, q) >= limit
    maybe = np.concatenate([np.zeros(n - allow), np.full(allow, limit)])
    assert np.quantile(maybe, q) < limit
