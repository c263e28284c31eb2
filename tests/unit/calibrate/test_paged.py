"""On-demand (paged) KV admission in the replay: hand-checked schedules on constant iteration times (0.1 s per
prompt iteration, 0.02 s per decode iteration, mixed batches x1.1), the memory invariant, and the per-family
default."""

from __future__ import annotations

import numpy as np
import pytest

from planner.calibrate.ingest import EngineLimits, MeasuredRun
from planner.calibrate.itermodel import Hardware
from planner.calibrate.paged import PagedKvEngine
from planner.calibrate.replay import KV_ADMISSION_DEFAULT, kv_admission, replay
from planner.splitwise.perf import Curve
from planner.splitwise.sim import BOTH, InstanceType, SimConfig, SplitwiseEngine, _Inst


def _pools(cap: int) -> list[tuple[int, InstanceType, int]]:
    return [(BOTH, InstanceType("t", [0.1] * 4000, [0.02] * 600, cap, 1e15), 1)]


def _two(engine: type[SplitwiseEngine], cap: int) -> SplitwiseEngine:
    """Two requests of 100 prompt and 11 output tokens (111 KV tokens each) at t = 0."""
    cfg = SimConfig(kv_bytes_per_token=1.0)
    return engine(np.zeros(2), np.asarray([100, 100]), np.asarray([11, 11]), _pools(cap), cfg)


def test_reserve_full_queues_the_second_request_until_the_first_frees_its_reservation():
    # 111 + 111 = 222 > 210: request 1 waits for request 0 (0.1 s prompt + 10 x 0.02 s decode = 0.3 s).
    res = _two(SplitwiseEngine, 210).run()
    assert res.ttft_s.tolist() == pytest.approx([0.1, 0.4])
    assert res.e2e_s.tolist() == pytest.approx([0.3, 0.6])


def test_on_demand_admits_it_at_once_and_evicts_the_newest_when_the_cache_fills():
    # t = 0.1: request 0 holds 101 tokens (prompt + its first token); 210 - 101 - 1 (its next token) = 108 >= 101,
    # so request 1's prompt runs at once in a mixed batch (0.11 s): TTFT 0.21 s, the cache holds 102 + 101 = 203.
    # The decode stretch stops after 3 iterations (7 free tokens, 2 per iteration): t = 0.27 s, 209 held, no room
    # for two more tokens. Request 1 (admitted last, 104 tokens) is evicted; request 0 decodes its last 6 tokens
    # (0.12 s, E2E 0.39 s); request 1 recomputes its 104-token context (0.1 s) and decodes its 6 remaining tokens
    # (0.12 s): E2E 0.61 s, its TTFT still that of its first token.
    e = _two(PagedKvEngine, 210)
    res = e.run()
    assert isinstance(e, PagedKvEngine) and e.evictions == 1
    assert res.ttft_s.tolist() == pytest.approx([0.1, 0.21])
    assert res.e2e_s.tolist() == pytest.approx([0.39, 0.61])


def test_on_demand_matches_reserve_full_when_the_cache_never_binds():
    rng = np.random.default_rng(3)
    n = 60
    arr = np.sort(rng.uniform(0.0, 2.0, n))
    inp = rng.integers(10, 400, n)
    out = rng.integers(1, 80, n)
    cfg = SimConfig(kv_bytes_per_token=1.0, max_batch_tokens=512, max_batch_requests=16)
    a = SplitwiseEngine(arr, inp, out, _pools(10**7), cfg).run()
    paged = PagedKvEngine(arr, inp, out, _pools(10**7), cfg)
    b = paged.run()
    assert paged.evictions == 0
    assert b.ttft_s.tolist() == pytest.approx(a.ttft_s.tolist())
    assert b.e2e_s.tolist() == pytest.approx(a.e2e_s.tolist())


class _Watched(PagedKvEngine):
    """Checks the cache at every iteration start, where the engine decides what runs."""

    peak = 0

    def start(self, m: _Inst, t: float) -> None:
        super().start(m, t)
        growth = len(m.heap) * m.kend if m.cur is None else sum(self.ctx[r] + 1 for r in m.cur) + len(m.heap)
        self.peak = max(self.peak, self.used(m) + growth)
        assert self.used(m) == sum(self.kv[r] - (f - m.it) for f, r in m.heap)  # the running sum is exact


def test_on_demand_never_overfills_the_cache_and_finishes_every_request():
    rng = np.random.default_rng(7)
    n = 200
    arr = np.sort(rng.uniform(0.0, 1.0, n))
    inp = rng.integers(20, 300, n)
    out = rng.integers(2, 200, n)
    cap = 2000
    e = _Watched(arr, inp, out, _pools(cap), SimConfig(kv_bytes_per_token=1.0, max_batch_tokens=1024))
    res = e.run()
    assert e.evictions > 0  # the cache binds: this exercises eviction
    assert e.peak <= cap
    assert np.isfinite(res.e2e_s).all() and res.oom == 0
    assert (res.e2e_s >= res.ttft_s).all()


def _run(engine: str, limits: EngineLimits, out: int = 11) -> MeasuredRun:
    return MeasuredRun(
        file="t", label="t", engine=engine, provenance="synthetic", source="", gpu="H100-80G", tp=8,  # type: ignore[arg-type]
        model="llama2-70b", limits=limits, completed=2, input_tokens=(100, 100), output_tokens=(out, out),
        per_request=True, request_rate_rps=None, metrics={},
    )  # fmt: skip


def test_the_policy_is_the_descriptions_else_the_families_default():
    assert KV_ADMISSION_DEFAULT["mlperf"] == "on-demand" and KV_ADMISSION_DEFAULT["genai-perf"] == "reserve-full"
    assert kv_admission(_run("mlperf", EngineLimits())) == "on-demand"
    assert kv_admission(_run("genai-perf", EngineLimits())) == "reserve-full"
    assert kv_admission(_run("mlperf", EngineLimits(kv_admission="reserve-full"))) == "reserve-full"


def test_replay_follows_the_policy_and_the_memory_fraction(profile_db):
    model = profile_db.model("llama2-70b")
    flat = (1.0, 100000.0)
    hw = Hardware("H100-80G", 8, model, Curve(flat, (0.1, 0.1)), Curve(flat, (0.02, 0.02)), 420, "synthetic",
                  "constant curves", "h100-80gb")  # fmt: skip
    # 420 x 0.5 = 210 tokens of cache: the schedules of the two hand-checked tests above
    half = {"kv_memory_fraction": 0.5}
    full = replay(_run("genai-perf", EngineLimits(**half)), hw).metrics
    paged = replay(_run("genai-perf", EngineLimits(kv_admission="on-demand", **half)), hw).metrics
    assert full["ttft_p50_ms"] == pytest.approx(250.0) and full["e2e_p99_ms"] == pytest.approx(597.0)
    assert paged["ttft_p50_ms"] == pytest.approx(155.0) and paged["e2e_p99_ms"] == pytest.approx(607.8)
    # with all 420 tokens both fit at once under either rule
    roomy = replay(_run("genai-perf", EngineLimits()), hw).metrics
    assert roomy["ttft_p99_ms"] == pytest.approx(100 + 0.99 * 110)
