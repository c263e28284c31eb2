"""Replay: hand-checkable runs on constant iteration times, open and closed loop."""

from __future__ import annotations

import numpy as np
import pytest

from planner.calibrate.ingest import EngineLimits, MeasuredRun
from planner.calibrate.itermodel import Hardware
from planner.calibrate.replay import ClosedLoopEngine, arrivals, replay, throughputs
from planner.splitwise.perf import Curve, lookup_list
from planner.splitwise.sim import BOTH, InstanceType, SimConfig


def _hw(profile_db, prompt_s: float = 0.1, token_s: float = 0.02) -> Hardware:
    model = profile_db.model("llama2-70b")
    flat = (1.0, 100000.0)
    return Hardware("H100-80G", 8, model, Curve(flat, (prompt_s, prompt_s)), Curve(flat, (token_s, token_s)),
                    1_000_000, "synthetic", "constant curves", "h100-80gb")  # fmt: skip


def _run(n: int, concurrency: int | None, rate: float | None = None, out: int = 11) -> MeasuredRun:
    return MeasuredRun(
        file="t", label="t", engine="vllm", provenance="synthetic", source="", gpu="H100-80G", tp=8,
        model="llama2-70b", limits=EngineLimits(), completed=n, input_tokens=(100,) * n, output_tokens=(out,) * n,
        per_request=True, request_rate_rps=rate, max_concurrency=concurrency, metrics={},
    )  # fmt: skip


def test_closed_loop_one_at_a_time(profile_db):
    # C = 1: each request waits for the previous: 0.1 s prompt + 10 decodes x 0.02 s = 0.3 s each, 0.9 s in all.
    m = replay(_run(3, 1), _hw(profile_db)).metrics
    assert m["request_throughput_rps"] == pytest.approx(3 / 0.9)
    assert m["output_tok_s"] == pytest.approx(33 / 0.9)
    assert m["ttft_p50_ms"] == pytest.approx(100.0) and m["ttft_p99_ms"] == pytest.approx(100.0)
    assert m["tpot_p50_ms"] == pytest.approx(20.0) and m["e2e_p99_ms"] == pytest.approx(300.0)


def test_all_at_once(profile_db):
    # rate inf: both requests arrive at t = 0. The engine starts request 0's prompt on its arrival (0.1 s), then
    # request 1's prompt in a mixed batch with request 0's first decode (0.1 s x 1.1 = 0.11 s, TTFT 0.21 s), then
    # 9 (request 0) and 10 (request 1) decode iterations of 0.02 s: E2E 0.39 s and 0.41 s.
    m = replay(_run(2, None), _hw(profile_db)).metrics
    assert m["ttft_p50_ms"] == pytest.approx((100 + 210) / 2)
    assert m["ttft_p99_ms"] == pytest.approx(100 + 0.99 * 110)
    assert m["tpot_p50_ms"] == pytest.approx((29 + 20) / 2)  # (390 - 100) / 10 and (410 - 210) / 10
    assert m["e2e_p99_ms"] == pytest.approx(390 + 0.99 * 20)
    assert m["request_throughput_rps"] == pytest.approx(2 / 0.41)


def test_closed_loop_keeps_at_most_c_in_flight(profile_db):
    # 12 requests, C = 3: every send after the first three happens exactly at a completion, and never more than
    # three requests are in flight.
    run = _run(12, 3)
    hw = _hw(profile_db)
    inp = np.asarray(run.input_tokens)
    out = np.asarray(run.output_tokens)
    typ = InstanceType("t", lookup_list(hw.prompt, 4000), lookup_list(hw.token, 600), 1_000_000, 1e15)
    cfg = SimConfig(kv_bytes_per_token=float(hw.model.kv_bytes_per_token))
    send = np.zeros(12)
    res = ClosedLoopEngine(send, inp, out, [(BOTH, typ, 1)], cfg, 3).run()
    done = send + res.e2e_s
    assert np.isfinite(done).all()
    completions = np.sort(done)
    np.testing.assert_allclose(send[3:], completions[:9])
    for t in send:
        assert ((send <= t) & (done > t)).sum() <= 3


def test_poisson_arrivals_are_seeded(profile_db):
    run = _run(50, None, rate=5.0)
    a, b = arrivals(run, 0), arrivals(run, 0)
    assert (a == b).all() and a[0] == 0.0 and (a[1:] >= a[:-1]).all()
    assert 50 / a[-1] == pytest.approx(5.0, rel=0.35)
    assert replay(run, _hw(profile_db)).metrics == replay(run, _hw(profile_db)).metrics


def test_throughput_over_the_last_completion_or_the_final_querys():
    """Three requests sent at 0, 1 and 2 s, done after 10, 1 and 0.5 s, with 100 + 2 + 3 tokens: over the last
    completion (vLLM, SGLang) 3 / 10 req/s and 105 / 10 tok/s; LoadGen's Server figures count n - 1 requests and
    every token over the completion of the request sent last (2.5 s): 2 / 2.5 and 105 / 2.5."""
    send, e2e = np.array([0.0, 1.0, 2.0]), np.array([10.0, 1.0, 0.5])
    out, ok = np.array([100, 2, 3]), np.ones(3, dtype=bool)
    assert throughputs("last-completion", send, e2e, out, ok) == pytest.approx(
        {"request_throughput_rps": 0.3, "output_tok_s": 10.5}
    )
    assert throughputs("final-query", send, e2e, out, ok) == pytest.approx(
        {"request_throughput_rps": 0.8, "output_tok_s": 42.0}
    )
    failed_last = np.array([True, True, False])  # the final query failed: the last completion stands in
    assert throughputs("final-query", send, e2e, out, failed_last) == pytest.approx(
        {"request_throughput_rps": 0.2, "output_tok_s": 10.2}
    )


def test_a_loadgen_schedule_ends_where_its_rate_says():
    """LoadGen's Server rate is (n - 1) over its final query's time: the replay's Poisson draw is scaled to end at
    that time (given the last arrival, the others are uniform order statistics), so only the order of the gaps is
    random; other runs keep their free draw."""
    run = _run(101, None, rate=4.0).model_copy(update={"throughput_window": "final-query"})
    send = arrivals(run, 3)
    assert send[0] == 0.0 and send[-1] == pytest.approx(100 / 4.0) and (np.diff(send) >= 0).all()
    free = arrivals(_run(101, None, rate=4.0), 3)
    assert free[-1] != pytest.approx(25.0) and send == pytest.approx(free * 25.0 / free[-1])


def test_multi_step_scheduling_delays_first_and_last_tokens_to_round_ends(profile_db):
    """k decode steps per scheduling round: a request waits up to one round to be admitted, and its tokens reach the
    client at round ends. One request alone, constant times: 0.1 s prompt, 0.02 s steps, 10 output tokens."""
    from planner.calibrate.replay import multi_step_delivery

    plain = replay(_run(1, None, out=11), _hw(profile_db)).metrics
    run = _run(1, None, out=11).model_copy(update={"limits": EngineLimits(scheduler_steps=4)})
    m = replay(run, _hw(profile_db)).metrics
    wait_ms = m["ttft_p50_ms"] - plain["ttft_p50_ms"]
    assert 0.0 <= wait_ms <= 4 * 20.0
    # 10 decode steps end on the third round of 4: 12 steps of 20 ms after the first token
    assert m["e2e_p50_ms"] - m["ttft_p50_ms"] == pytest.approx(12 * 20.0)
    # over many requests the admission wait is half a round on average (uniform share of it), never more than one
    ttft, e2e = np.full(4000, 0.1), np.full(4000, 0.1 + 10 * 0.02)
    t2, e2 = multi_step_delivery(ttft, e2e, np.full(4000, 11), 10, seed=0)
    wait = t2 - ttft
    assert wait.min() >= 0 and wait.max() <= 10 * 0.02 and np.mean(wait) == pytest.approx(5 * 0.02, rel=0.03)
    assert np.allclose(e2 - t2, 10 * 0.02)  # 10 decode steps: exactly one round
    # one step per round is the plain replay
    same = _run(1, None, out=11).model_copy(update={"limits": EngineLimits(scheduler_steps=1)})
    assert replay(same, _hw(profile_db)).metrics == plain


def test_a_prediction_is_the_median_of_five_arrival_draws(profile_db):
    """Poisson arrivals are the replay's own draw: a prediction is the median over five seeds per figure, with the
    range kept; a run whose arrivals do not depend on the seed (rate inf) is replayed once."""
    from planner.calibrate.accuracy import PREDICTION_SEEDS, _one

    hw = _hw(profile_db)
    run = _run(60, None, rate=8.0).model_copy(update={"metrics": {"ttft_p99_ms": 100.0, "e2e_p99_ms": 300.0}})
    draws = [replay(run, hw, seed=s).metrics for s in range(PREDICTION_SEEDS)]
    acc = _one(run, hw)
    for m in ("ttft_p99_ms", "e2e_p99_ms", "request_throughput_rps"):
        values = sorted(d[m] for d in draws)
        assert acc.predicted[m] == values[PREDICTION_SEEDS // 2] and acc.spread[m] == (values[0], values[-1])
    assert acc.spread["ttft_p99_ms"][0] < acc.spread["ttft_p99_ms"][1]  # the draws do move the tail
    assert acc.errors["ttft_p99_ms"] == pytest.approx(acc.predicted["ttft_p99_ms"] / 100.0 - 1)
    once = _one(_run(20, None, rate=None), hw)
    assert all(lo == hi for lo, hi in once.spread.values())
