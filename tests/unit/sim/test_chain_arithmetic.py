"""A two-node chain whose latency and throughput follow from hand arithmetic.

chain2.json: nodes a = layers [0, 2) and b = [2, 4) of the synthetic model tiny-4l (activation 64 x 2 = 128 B per
token), links of 1e6 B/s and 1 ms; TinyGPU per-layer times: prompt 0.05 ms per token, decode 2 ms (1..100 tokens).
"""

from __future__ import annotations

import math

import pytest

from tests.unit.sim.helpers import run_online, topology

MS = 1e-3
BW = 1e6  # bytes/s
LINK_S = 1 * MS
ACT_B, TOKEN_B = 128, 2


def hand_ttft(prompt: int) -> float:
    """source->a, a (2 layers), a->b (activations), b (2 layers), b->sink (one token id)."""
    return (
        (LINK_S + prompt * TOKEN_B / BW)
        + 2 * 0.05 * MS * prompt
        + (LINK_S + prompt * ACT_B / BW)
        + 2 * 0.05 * MS * prompt
        + (LINK_S + TOKEN_B / BW)
    )


def hand_token() -> float:
    """One decode step round trip: token id out, 2 x 2 ms at a, one activation, 2 x 2 ms at b, token id back."""
    return (LINK_S + TOKEN_B / BW) + 2 * 2 * MS + (LINK_S + ACT_B / BW) + 2 * 2 * MS + (LINK_S + TOKEN_B / BW)


def test_hand_arithmetic_constants() -> None:
    assert hand_ttft(100) == pytest.approx(36.002 * MS, abs=1e-12)
    assert hand_token() == pytest.approx(11.132 * MS, abs=1e-12)


def test_single_request_prompt_and_token_latency(tiny_db) -> None:
    topo = topology(tiny_db, "chain2.json")
    _, out = run_online(topo, [0.0], [100], [3], duration_s=1.0)
    assert list(out.prompt_latency_s) == pytest.approx([hand_ttft(100)], abs=1e-12)
    assert list(out.token_latency_s) == pytest.approx([hand_token()] * 2, abs=1e-12)
    assert out.decode_tokens == 2 and out.prompt_tokens == 100
    assert out.completed == 1 and out.in_flight_end == 0


def test_single_request_decode_throughput(tiny_db) -> None:
    """One long request: one token every 11.132 ms, so the window [1 s, 11 s) sees a countable number of tokens."""
    topo = topology(tiny_db, "chain2.json")
    warmup, duration = 1.0, 10.0
    _, out = run_online(topo, [0.0], [100], [2000], duration_s=duration, warmup_s=warmup)
    first, step = hand_ttft(100), hand_token()
    j_lo = math.ceil((warmup - first) / step)
    j_hi = math.ceil((warmup + duration - first) / step) - 1
    assert out.decode_tokens == j_hi - j_lo + 1 == 898
    assert out.decode_tokens / duration == pytest.approx(1 / step, rel=2e-3)  # 89.83 tok/s
    # node a ran 2 layers x 2 ms per token: busy 4 ms of every 11.132 ms
    assert out.nodes[0].busy_s / duration == pytest.approx(4 * MS / step, rel=2e-3)


def test_two_requests_share_a_prompt_batch(tiny_db) -> None:
    """Two prompts queued at a busy node run in one iteration: 0.05 ms x 300 tokens x 2 layers."""
    topo = topology(tiny_db, "chain2.json")
    # the first request keeps node a busy for 10 ms from 1.2 ms; the next two arrive meanwhile and batch together
    _, out = run_online(topo, [0.0, 0.002, 0.003], [100, 100, 200], [1, 1, 1], duration_s=1.0)
    lat = sorted(out.prompt_latency_s)
    assert lat[0] == pytest.approx(hand_ttft(100), abs=1e-12)
    # requests 2 and 3 reach a at 3.2 ms and 4.4 ms (FIFO source link), wait until 11.2 ms, run 30 ms together
    a_done = 0.0112 + 2 * 0.05 * MS * 300
    # a->b sends the batch's activations per successor in one transmission (300 x 128 B), b idle by then
    b_start = a_done + LINK_S + 300 * ACT_B / BW
    done = b_start + 2 * 0.05 * MS * 300 + LINK_S + 2 * TOKEN_B / BW
    assert lat[1] == pytest.approx(done - 0.003, abs=1e-12)
    assert lat[2] == pytest.approx(done - 0.002, abs=1e-12)


def test_partial_inference_batch_sums_per_layer(tiny_db) -> None:
    """partial3.json: b holds [2, 4); from a = [0, 3) a request runs 1 layer at b, from c = [0, 2) it runs 2.

    A batch at b with X (prompt 100, 1 layer), Y (prompt 300, 2 layers) and Z (decode, 1 layer): layer 2 sees only
    Y (300 prompt tokens: 15 ms), layer 3 sees all (400 prompt tokens: 20 ms, plus one decode token: 2 ms).
    """
    topo = topology(tiny_db, "partial3.json")
    engine, out = run_online(topo, [0.0, 0.1, 0.2, 0.3], [100] * 4, [2] * 4, duration_s=2.0)
    names = [nd.name for nd in topo.nodes]
    routes = [[names[i] for i in r] for r in engine.r_route]
    assert routes == [["a", "b"], ["c", "b"], ["a", "b"], ["c", "b"]]  # IWRR alternates 100:100 at the source
    assert [list(m) for m in engine.r_layers] == [[3, 1], [2, 2], [3, 1], [2, 2]]
    assert out.completed == 4 and list(out.prompt_latency_s) == pytest.approx([hand_ttft(100)] * 4, abs=1e-12)
    b = names.index("b")
    engine.r_in[:3] = [100, 300, 100]
    engine.r_gen[:3] = [0, 0, 1]
    batch = [(0, 1, True), (1, 1, True), (2, 1, False)]
    assert engine._partial_batch_s(b, batch) == pytest.approx(15 * MS + 20 * MS + 2 * MS, abs=1e-12)
