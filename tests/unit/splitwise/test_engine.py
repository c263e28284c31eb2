"""The Splitwise event engine against hand arithmetic, exactly.

Times are binary fractions (1/4 s prompt, 1/16 s token iteration, 1.5x mixed factor), so every sum below is exact
in floating point and the assertions use ``==``. TBT is the project's definition, (E2E - TTFT) / output tokens
(:func:`planner.splitwise.slo.slowdowns`).
"""

from __future__ import annotations

import numpy as np

from planner.events import Kind
from planner.splitwise.sim import BOTH, PROMPT, TOKEN, InstanceType, SimConfig, SplitwiseEngine

P_S, T_S = 0.25, 0.0625  # prompt batch time and token iteration time (any batch size)
KV_BYTES = 1024.0  # per token; with a 1 MiB/s link a 128-token prompt's KV takes 1/8 s to move


def itype(link_bytes_s: float = 2.0**20) -> InstanceType:
    return InstanceType("m", [P_S] * 4096, [T_S] * 513, 10**6, link_bytes_s)


def engine(arrival: list[float], prompt: list[int], output: list[int], pools) -> SplitwiseEngine:
    cfg = SimConfig(kv_bytes_per_token=KV_BYTES, mixed_batch_factor=1.5)
    return SplitwiseEngine(np.asarray(arrival), np.asarray(prompt), np.asarray(output), pools, cfg)


def tbt(res, output: list[int]) -> list[float]:
    return ((res.e2e_s - res.ttft_s) / np.asarray(output, float)).tolist()


def test_two_requests_on_one_mixed_machine() -> None:
    # A arrives at 0: prompt 0 -> 1/4 (first token). B arrives at 1/8 and waits for the prompt batch to end.
    # At 1/4: B's prompt and A's one remaining decode run as one mixed batch, 1.5 x 1/4 = 3/8 s -> 5/8:
    #   A's last token and B's first token. B's one decode then runs alone: 5/8 -> 11/16.
    res = engine([0.0, 0.125], [100, 100], [2, 2], [(BOTH, itype(), 1)]).run()
    assert res.ttft_s.tolist() == [0.25, 0.5]  # B: 5/8 - 1/8
    assert res.e2e_s.tolist() == [0.625, 0.5625]  # B: 11/16 - 1/8
    assert tbt(res, [2, 2]) == [0.1875, 0.03125]
    assert res.events == 5  # 2 arrivals, iterations ending at 1/4, 5/8, 11/16
    assert res.busy_s == {"both": 0.6875} and res.end_s == 0.6875


def test_two_requests_split_across_a_prompt_and_a_token_machine() -> None:
    # A: prompt 0 -> 1/4, KV transfer 1/4 -> 3/8, 4 decodes 3/8 -> 5/8.
    # B (arrives 1/16): prompt 1/4 -> 1/2, transfer 1/2 -> 5/8, lands as A leaves: 2 decodes 5/8 -> 3/4.
    pools = [(PROMPT, itype(), 1), (TOKEN, itype(), 1)]
    res = engine([0.0, 0.0625], [128, 128], [5, 3], pools).run()
    assert res.ttft_s.tolist() == [0.25, 0.4375]
    assert res.e2e_s.tolist() == [0.625, 0.6875]
    assert tbt(res, [5, 3]) == [0.075, 0.08333333333333333]
    assert res.busy_s == {"prompt": 0.5, "token": 0.375}


def test_ties_run_delivery_then_arrival_then_iteration_end() -> None:
    # One prompt machine. A runs 0 -> 1/4; C waits from 1/8; B arrives exactly at 1/4, when A's batch ends.
    # In (time, kind, seq) order the arrival is handled before the iteration end, so the next batch holds C and B
    # (1000 + 1000 <= 2048 tokens) and B's first token comes at 1/2, not after another batch at 3/4.
    pools = [(PROMPT, itype(), 1), (TOKEN, itype(link_bytes_s=1e15), 1)]
    res = engine([0.0, 0.125, 0.25], [1000, 1000, 1000], [1, 1, 1], pools).run()
    assert res.ttft_s.tolist() == [0.25, 0.375, 0.25]
    assert Kind.DELIVER < Kind.ARRIVAL < Kind.DONE
