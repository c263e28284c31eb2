"""Request streams: seeded Poisson resampling with common random numbers across rates, and trace replay."""

from __future__ import annotations

import numpy as np
import pytest

from planner.spec.models import LengthDistribution
from planner.splitwise.requests import BLOCK, RequestSource
from planner.workload import Requests


def trace_source(seed: int = 0, kind: str = "poisson") -> RequestSource:
    trace = Requests(np.arange(100, dtype=float), np.arange(1, 101), np.arange(201, 301))
    return RequestSource(kind=kind, seed=seed, resample="independent", description="t", trace=trace)


def test_same_seed_same_requests_other_seed_other_requests() -> None:
    a, b, c = trace_source(1).sample(5.0, 60.0), trace_source(1).sample(5.0, 60.0), trace_source(2).sample(5.0, 60.0)
    assert np.array_equal(a.arrival_s, b.arrival_s) and np.array_equal(a.input_tokens, b.input_tokens)
    assert not np.array_equal(a.arrival_s[:10], c.arrival_s[:10])


def test_rates_share_requests_compressed_in_time() -> None:
    src = trace_source(4)
    slow, fast = src.sample(10.0, 30.0), src.sample(20.0, 30.0)
    n = len(slow)
    assert len(fast) > n
    assert fast.arrival_s[:n] == pytest.approx(slow.arrival_s / 2.0)
    assert np.array_equal(fast.input_tokens[:n], slow.input_tokens)
    assert np.array_equal(fast.output_tokens[:n], slow.output_tokens)


def test_long_streams_extend_short_ones_across_blocks() -> None:
    src = trace_source(7)
    short = src.sample(1.0, 100.0)
    long = trace_source(7).sample(1.0, 3 * BLOCK)  # spans several blocks
    assert len(long) > 2 * BLOCK
    assert long.arrival_s[: len(short)] == pytest.approx(short.arrival_s)
    assert abs(len(long) / (3 * BLOCK) - 1.0) < 0.05  # Poisson at the asked rate


def test_sizes_come_from_the_trace_columns() -> None:
    reqs = trace_source(3).sample(50.0, 20.0)
    assert set(reqs.input_tokens.tolist()) <= set(range(1, 101))
    assert set(reqs.output_tokens.tolist()) <= set(range(201, 301))


def test_distributions_when_there_is_no_trace() -> None:
    dist_in = LengthDistribution(distribution="fixed", mean=700)
    dist_out = LengthDistribution(distribution="uniform", min=5, max=9)
    src = RequestSource("poisson", 0, "independent", "d", input_dist=dist_in, output_dist=dist_out)
    reqs = src.sample(10.0, 10.0)
    assert set(reqs.input_tokens.tolist()) == {700}
    assert reqs.output_tokens.min() >= 5 and reqs.output_tokens.max() <= 9


def test_replay_scales_the_trace_to_the_rate() -> None:
    src = trace_source(kind="replay")  # 100 requests, one per second
    reqs = src.sample(2.0, 30.0)  # twice as fast: 60 requests in 30 s
    assert len(reqs) == 60
    assert reqs.arrival_s[1] == pytest.approx(0.5)
