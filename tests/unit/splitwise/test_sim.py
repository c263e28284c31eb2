"""The discrete-event simulator on hand-checkable instances (constant iteration times)."""

from __future__ import annotations

import numpy as np
import pytest

from planner.splitwise.sim import BOTH, PROMPT, TOKEN, InstanceType, SimConfig, simulate

P_S, T_S = 0.1, 0.01  # prompt batch time and token iteration time


def itype(cap: int = 10**6, link: float = 1e9, prompt_s: float = P_S, token_s: float = T_S) -> InstanceType:
    return InstanceType("m", [prompt_s] * 20000, [token_s] * 513, cap, link)


def run(arrival, prompt, output, pools, **cfg):
    config = SimConfig(kv_bytes_per_token=1e3, **cfg)
    return simulate(np.asarray(arrival, float), np.asarray(prompt), np.asarray(output), pools, config)


def test_one_request_split_pays_prompt_transfer_and_decode() -> None:
    res = run([0.0], [1000], [11], [(PROMPT, itype(), 1), (TOKEN, itype(), 1)])
    transfer = 1000 * 1e3 / 1e9
    assert res.ttft_s[0] == pytest.approx(P_S)  # TTFT excludes the KV transfer
    assert res.e2e_s[0] == pytest.approx(P_S + transfer + 10 * T_S)  # output - 1 token iterations
    assert res.oom == 0 and res.aborted is None


def test_transfer_runs_at_the_slower_sides_bandwidth() -> None:
    res = run([0.0], [1000], [2], [(PROMPT, itype(link=4e9), 1), (TOKEN, itype(link=1e8), 1)])
    assert res.e2e_s[0] - res.ttft_s[0] == pytest.approx(1000 * 1e3 / 1e8 + T_S)


def test_one_request_on_a_baseline_machine_has_no_transfer() -> None:
    res = run([0.0], [1000], [11], [(BOTH, itype(), 1)])
    assert res.ttft_s[0] == pytest.approx(P_S)
    assert res.e2e_s[0] == pytest.approx(P_S + 10 * T_S)


def test_prompt_batches_hold_at_most_max_batch_tokens() -> None:
    # request 0 starts a batch at 0 on the idle machine; the others queue and batch up at 0.1 s: 1000 + 1000 fit
    # 2048 tokens, the third 1000 starts the next batch, the 3000-token prompt runs alone
    res = run(
        [0, 0.05, 0.05, 0.05, 0.05],
        [1000, 1000, 1000, 1000, 3000],
        [2] * 5,
        [(PROMPT, itype(), 1), (TOKEN, itype(), 1)],
    )
    assert res.ttft_s.tolist() == pytest.approx([P_S, 0.15, 0.15, 0.25, 0.35])


def test_token_batches_hold_at_most_max_batch_requests() -> None:
    pools = [(PROMPT, itype(link=1e15), 3), (TOKEN, itype(link=1e15), 1)]  # transfers take no time
    res = run([0, 0, 0], [10, 10, 10], [11, 11, 11], pools, max_batch_requests=2)
    # three prompts in parallel until 0.1 s; two decode together for 10 iterations, the third joins when they leave
    assert res.e2e_s.tolist() == pytest.approx([0.2, 0.2, 0.3], abs=1e-9)


def test_kv_memory_admits_what_fits_and_reports_oom() -> None:
    pools = [(PROMPT, itype(link=1e15), 4), (TOKEN, itype(cap=2050, link=1e15), 1)]
    res = run([0, 0, 0, 0], [1000, 1000, 40, 5000], [11, 11, 11, 11], pools)
    # 1011 + 1011 fit in 2050 tokens, the 51-token request waits for one to finish, 5011 never fits
    assert res.oom == 1 and np.isnan(res.e2e_s[3])
    assert res.e2e_s[:3].tolist() == pytest.approx([0.2, 0.2, 0.3], abs=1e-8)


def test_mixed_batches_cost_1_1x_the_prompt_time() -> None:
    # A decodes from 0.1 s; B's prompt arrives at 0.155 s and runs with A at the next boundary (0.16 s)
    res = run([0.0, 0.155], [100, 100], [50, 2], [(BOTH, itype(), 1)])
    assert res.ttft_s[1] == pytest.approx(0.16 + 1.1 * P_S - 0.155)


def test_decodes_that_do_not_fit_the_token_budget_are_paused() -> None:
    # max_batch_tokens 100: B's 100-token prompt leaves no room, so A makes no progress in that iteration
    common = dict(max_batch_tokens=100)
    alone = run([0.0], [50], [20], [(BOTH, itype(), 1)], **common)
    both = run([0.0, 0.105], [50, 100], [20, 2], [(BOTH, itype(), 1)], **common)
    assert both.e2e_s[0] == pytest.approx(alone.e2e_s[0] + P_S)  # one paused iteration of prompt length
    never = run([0.0, 0.105], [50, 100], [20, 2], [(BOTH, itype(), 1)], max_batch_tokens=100, max_preemptions=0)
    assert never.e2e_s[0] == pytest.approx(alone.e2e_s[0] + 1.1 * P_S - T_S)  # aged: runs in the mixed batch


def test_join_the_shortest_queue_spreads_prompts() -> None:
    pools = [(PROMPT, itype(), 2), (TOKEN, itype(), 1)]
    res = run([0, 0], [1500, 1500], [2, 2], pools)
    assert res.ttft_s.tolist() == pytest.approx([P_S, P_S])  # one prompt per machine, not queued


def test_same_inputs_same_outputs() -> None:
    rng = np.random.default_rng(3)
    arrival = np.cumsum(rng.exponential(0.02, 300))
    prompt, output = rng.integers(10, 3000, 300), rng.integers(1, 60, 300)
    pools = [(PROMPT, itype(), 3), (TOKEN, itype(cap=20000), 2)]
    a = run(arrival, prompt, output, pools, mixed_pool=True)
    b = run(arrival, prompt, output, pools, mixed_pool=True)
    assert np.array_equal(a.ttft_s, b.ttft_s, equal_nan=True) and np.array_equal(a.e2e_s, b.e2e_s, equal_nan=True)
    assert a.events == b.events and a.lent_peak == b.lent_peak


def test_mixed_pool_lends_a_token_machine_when_prompt_queues_are_long() -> None:
    arrival = np.zeros(6)
    pools = [(PROMPT, itype(), 1), (TOKEN, itype(), 2)]
    lent = run(arrival, np.full(6, 4000), np.full(6, 2), pools, mixed_pool=True)
    static = run(arrival, np.full(6, 4000), np.full(6, 2), pools, mixed_pool=False)
    assert lent.lent_peak["token"] >= 1 and static.lent_peak["token"] == 0
    assert np.nanmax(lent.ttft_s) < np.nanmax(static.ttft_s)
