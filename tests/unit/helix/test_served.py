"""The shared node model and the served-throughput prediction: hand arithmetic, and agreement with plan simulate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from planner.helix.served import DEFAULT_TRACE, ServedModel, ServedWorkload, predict_plan_block, trace_workload
from planner.profiles.nodeperf import Workload, load_layer_latency, node_perf
from planner.profiles.roofline import RooflineParams

PLANS = Path(__file__).resolve().parents[2] / "fixtures" / "helix_plans" / "single24"


def test_node_model_by_hand(profile_db) -> None:
    """One A100-40G holding 9 layers of LLaMA-2 70B, requests of 763 + 232 tokens."""
    model = profile_db.model("llama2-70b")
    wl = Workload(763.0, 232.0)
    perf = node_perf(profile_db, model, "A100-40G", 1, "A100", wl, mode="table")
    assert perf.provenance == "measured"
    kv_token_layer = 2 * 8 * 128 * 2  # K and V, 8 KV heads (GQA), head dim 128, bf16
    cap = (0.9 * 40e9 - 9 * model.layer_weight_bytes) / kv_token_layer
    assert perf.kv_capacity(9) == pytest.approx(cap)
    batch = int(cap / (9 * 995.0))
    assert perf.admitted_batch(9, wl) == min(batch, perf.latency.max_decode_tokens)
    lat = load_layer_latency(profile_db, "llama2-70b", "A100")
    b = perf.admitted_batch(9, wl)
    by_hand = 995.0 / (9 * lat.prompt_at(763.0) + 232.0 * 9 * lat.decode_s[b] / b)
    assert perf.throughput_tok_s(9, wl) == pytest.approx(by_hand)
    # The same node type gives the same figure whatever else is in the cluster: no mix enters.
    assert node_perf(profile_db, model, "A100-40G", 1, "A100", wl).throughput_tok_s(9, wl) == pytest.approx(by_hand)
    # Weights alone fill the memory: nothing fits, nothing is served.
    assert perf.admitted_batch(21, wl) == 0 and perf.throughput_tok_s(21, wl) == 0.0


def test_node_model_falls_back_to_the_labelled_roofline(profile_db) -> None:
    model = profile_db.model("llama2-70b")
    perf = node_perf(profile_db, model, "H100-80G", 1, "H100", Workload(763.0, 232.0))
    assert perf.provenance == "roofline"
    peak_hbm = 3350e9 * RooflineParams().memory_efficiency
    assert perf.latency.decode_s[1] == pytest.approx((model.layer_weight_bytes + 1 * 879.0 * 4096) / peak_hbm, rel=1e-3)


def test_workload_in_flight_is_length_biased() -> None:
    """Requests in flight are the long ones: E[(I + O_mean) O] / E[O], here with two requests by hand."""
    wl = ServedWorkload.from_lengths(np.array([100.0, 300.0]), np.array([10.0, 30.0]), "hand")
    assert wl.input_tokens == 200.0 and wl.output_tokens == 20.0
    assert wl.inflight_tokens == pytest.approx(((100 + 20) * 10 + (300 + 20) * 30) / 2 / 20)


def _model(profile_db) -> ServedModel:
    return ServedModel(profile_db, profile_db.model("llama2-70b"), trace_workload(DEFAULT_TRACE))


def test_requests_in_flight_stop_at_the_bottleneck_layer_by_hand(profile_db) -> None:
    """The paper's single-24 layout: the feeder stops when the thinnest layer's KV is 80 % reserved."""
    block = json.loads((PLANS / "ilp.json").read_text())["plan"]
    sm = _model(profile_db)
    pred = predict_plan_block(block, sm)
    model = profile_db.model("llama2-70b")
    layer_cap = np.zeros(block["layers"])
    for n in block["nodes"]:
        k = n["layer_end"] - n["layer_start"]
        if k <= 0:
            continue
        vram = profile_db.gpu(n["gpu"]).vram_bytes * n.get("gpus_per_node", 1)
        cap = (0.9 * vram - k * model.layer_weight_bytes) / 4096
        layer_cap[n["layer_start"] : n["layer_end"]] += cap / k
    expected = 0.8 * layer_cap.min() / sm.workload.inflight_tokens + 1
    assert pred.in_flight == pytest.approx(expected, rel=1e-9)
    assert "layer" in pred.kv_limit and pred.decode_tok_s > 0


@pytest.mark.parametrize("name", ["ilp.json", "petals.json", "separate-pipelines.json", "swarm.json"])
def test_prediction_agrees_with_plan_simulate_offline(profile_db, name: str) -> None:
    """The paper's own single-24 layouts (ILP, Petals with partial inference, separate pipelines, Swarm): predicted
    decode throughput within 10 % of ``plan simulate --offline`` (600 s after 60 s warm-up, seed 0). The separate
    pipelines stall admission at the T4 pipeline's seventh node; the window holds the way there from the fill (the
    A100 pipeline catching up its IWRR lag, the L4's fill cohort completing: ``_stall_window``)."""
    from planner.sim.run import SimOptions, simulate

    block = json.loads((PLANS / name).read_text())["plan"]
    pred = predict_plan_block(block, _model(profile_db))
    sim = simulate([PLANS / name], SimOptions(offline=True)).document.placements[0]
    assert pred.decode_tok_s == pytest.approx(sim.decode_throughput_tok_s, rel=0.10)


@pytest.mark.parametrize("name", ["ilp.json", "petals.json", "swarm.json"])
def test_online_latency_agrees_with_plan_simulate(profile_db, name: str) -> None:
    """Predicted p50 / p99 per-token latency within 20 % of ``plan simulate --load F`` at 0.6 of the predicted
    capacity (``F`` = 0.6 x predicted prompt + decode tokens/s over the plan's max-flow bound, the trace's own
    arrivals replayed over 60 + 600 s, seed 0): the same offered rate on both sides."""
    from planner.helix.served import ONLINE_LOAD
    from planner.sim.run import SimOptions, simulate

    plan = json.loads((PLANS / name).read_text())
    pred = predict_plan_block(plan["plan"], _model(profile_db))
    load = ONLINE_LOAD * pred.total_tok_s / plan["metrics"]["throughput_tok_s"]
    sim = simulate([PLANS / name], SimOptions(load=load)).document.placements[0].decode_token_latency
    assert pred.token_latency_p50_ms == pytest.approx(sim.p50_ms, rel=0.20)
    assert pred.token_latency_p99_ms == pytest.approx(sim.p99_ms, rel=0.20)


def test_online_replay_scales_the_trace_like_plan_simulate() -> None:
    """The online prediction replays the trace as ``plan simulate --load`` does: arrivals from the first row, the
    time axis stretched so the mean rate is the target, cut at warm-up + duration."""
    from planner.helix.online import replay
    from planner.sim.requests import load_pool, online_arrivals, trace_rate_rps

    wl = trace_workload(DEFAULT_TRACE)
    pool = load_pool(None, 2048, 1024)
    rate = 0.5
    ours = replay(wl.arrival_samples, wl.input_samples, wl.output_samples, (0.0, 0.0), rate, 660.0)
    theirs = online_arrivals(pool, 660.0, None, 0, trace_rate_rps(pool) / rate)
    assert np.allclose(ours.arrival_s, theirs.arrival_s)
    assert np.array_equal(ours.input_tokens, theirs.input_tokens.astype(float))
    assert np.array_equal(ours.output_tokens, theirs.output_tokens.astype(float))


def test_prediction_mirrors_the_simulators_offline_window() -> None:
    """The offline figure is what ``plan simulate --offline`` measures: its feeder's 20 initial requests, its
    default warm-up and window."""
    from planner.helix.online import OFFLINE_INITIAL_REQUESTS, SIM_DURATION_S, SIM_WARMUP_S
    from planner.sim.engine import OFFLINE_INITIAL_REQUESTS as SIM_INITIAL
    from planner.sim.run import SimOptions

    assert OFFLINE_INITIAL_REQUESTS == SIM_INITIAL
    assert (SimOptions().warmup_s, SimOptions().duration_s) == (SIM_WARMUP_S, SIM_DURATION_S)


def test_fill_share_by_hand() -> None:
    """Two one-layer nodes joined by a link that sends a 1,000-token prompt in 1 s: 20 prompts in the pipeline
    would allow ~20 launches/s, the link allows 1, so 320 requests are in flight after (320 - 20) / 1 = 300 s;
    over the window [60, 660): (20 x 240 + (300^2 - 60^2) / 2 + 320 x 360) / (320 x 600) = 0.85."""
    from planner.helix.instance import HelixEdge, HelixInstance, HelixNode
    from planner.helix.served import PathPrediction, _fill_share

    class Flat:
        def prompt_at(self, tokens: float) -> float:
            return 0.001

    nodes = tuple(HelixNode(n, "X", 1, "r", "X", 1, (1.0,)) for n in ("a", "b"))
    edges = (
        HelixEdge("source", "a", 1.0, 1e12, 0.0),
        HelixEdge("a", "b", 1.0, 16384 * 1000.0, 0.0),
        HelixEdge("b", "sink", 1.0, 1e12, 0.0),
    )
    inst = HelixInstance("t", "m", 2, nodes, edges, 2, 16384)
    paths = [PathPrediction(["a", "b"], 1.0)]
    hops = [[("source", "a"), ("a", "b"), ("b", "sink")]]
    share = _fill_share(inst, paths, hops, {"a": Flat(), "b": Flat()}, {"a": 1.0, "b": 1.0}, {"a": 1, "b": 1},
                        320.0, 1000.0)  # fmt: skip
    assert share == pytest.approx((20 * 240 + (300**2 - 60**2) / 2 + 320 * 360) / (320 * 600), rel=1e-6)


def test_requests_split_by_flow_times_latency_by_hand() -> None:
    """Two one-node paths of equal flow, the second three times slower per token: the scheduler sends them requests
    alike (IWRR by flow) and each request stays three times longer on the second, so the feeder's budget of
    ``0.8 x 1,000 / 10 + 1 = 81`` requests splits 1 : 3 (Little's law), not 1 : 1 as the flows."""
    from planner.helix.served import PathPrediction, ServedParams, _fill

    paths = [PathPrediction(["a"], 1.0, token_ms=100.0), PathPrediction(["b"], 1.0, token_ms=300.0)]
    weights = [p.flow_tok_s * p.token_ms for p in paths]
    held = {"a": (0, 1), "b": (0, 1)}
    placed, limit, stalled = _fill(paths, weights, held, {"a": 1, "b": 1}, {"a": 1e9, "b": 1e9}, 1000.0, 0, 10.0,
                                   ServedParams(), {})  # fmt: skip
    assert placed == pytest.approx(81.0)
    assert [p.in_flight for p in paths] == pytest.approx([81.0 / 4, 81.0 * 3 / 4])
    assert limit.startswith("layer 0 KV") and not stalled


def test_isolated_pipelines_are_paths_sharing_no_node() -> None:
    """Separate pipelines and a lone chain are isolated (rings); paths that meet at a node are not."""
    from planner.helix.served import PathPrediction, _rings

    paths = [PathPrediction(["a", "b"], 1.0), PathPrediction(["c", "d"], 1.0), PathPrediction(["c", "e"], 1.0)]
    assert _rings(paths) == {"a", "b"}
    assert _rings([PathPrediction(["x", "y", "z"], 1.0)]) == {"x", "y", "z"}


def test_ring_wave_by_hand() -> None:
    """On a ring the prompts run in their own iterations: a wave of 231 tokens decodes in ``k t_dec(231)`` (no prompt
    share), and waits behind the prompt its completions launched: one request in 231 completes per token step, so
    ``1 - exp(-1)`` of the cycles carry one, and the wave then waits ``t_pre - t_dec`` = 0.3 - 0.1 s a hop."""
    from planner.helix.served import _iteration_s, _ring_wait

    class Linear:
        max_decode_tokens = 512

        def decode_at(self, tokens: float) -> float:
            return 0.001 + 1e-5 * tokens

        def prompt_at(self, tokens: float) -> float:
            return 0.002

    lat = Linear()
    assert _iteration_s(lat, 10, 231.0, 763.0, 231.0, ring=True) == pytest.approx(10 * (0.001 + 231e-5))
    # off a ring the prompts ride with the waves: 231 / 231 = one prompt of 10 x 2 ms per iteration
    assert _iteration_s(lat, 10, 231.0, 763.0, 231.0, ring=False) == pytest.approx(10 * (0.001 + 231e-5 + 0.002))
    assert _ring_wait(231.0, 231.0, 0.3, 0.1) == pytest.approx((1 - np.exp(-1.0)) * 0.2)
    assert _ring_wait(231.0, 231.0, 0.05, 0.1) == 0.0


def test_stall_window_catch_up_and_relaxation() -> None:
    """``_stall_window`` (separate pipelines whose admission stalls): the blocking pipeline stays full; a pipeline
    masked at its first node in the fill stays full until its IWRR lag is made up, then relaxes towards the steady
    state; an unmasked one holds its fill cohort, which completes as the output lengths say. With one output length
    the figures follow in closed form."""
    from planner.helix.served import PathPrediction, _stall_window

    tau = 1.0  # s per token: a request lives 100 s (every output is 100 tokens)
    paths = [PathPrediction(["a"], 3.0, token_ms=1e3 * tau), PathPrediction(["b"], 1.0, token_ms=1e3 * tau)]
    paths.append(PathPrediction(["c"], 1.0, token_ms=1e3 * tau))
    outputs = np.array([100.0])
    # Fill: c (blocking) and b reach 40 requests, a (three times their flow) is masked at 20 of the 120 parity gives
    # it; steady state: a 10 (a surplus of 10 requests per 100 s over its parity: its lag of 100 takes 1,000 s), b 25,
    # c 40.
    got = _stall_window(paths, [20.0, 40.0, 40.0], [10.0, 25.0, 40.0], [20.0, 60.0, 40.0], outputs, growth=1e9)
    assert got[0] == pytest.approx(20.0)  # still catching up through the whole window (60-660 s)
    assert got[2] == pytest.approx(40.0)
    # b: its fill cohort all completes at 100 s, the steady admissions build up linearly over the first 100 s
    t = np.arange(60.0, 660.0) + 0.5
    b = np.where(t < 100.0, 40.0 + 25.0 * t / 100.0, 25.0)
    assert got[1] == pytest.approx(float(b.mean()))
    # Twice b's flow: a lag of 60 requests, made up at 600 s; then the full population's residual lives run out
    # (uniform over 100 s with one output length) while the steady admissions come in.
    paths[0].flow_tok_s = 2.0
    got = _stall_window(paths, [20.0, 40.0, 40.0], [10.0, 25.0, 40.0], [20.0, 60.0, 40.0], outputs, growth=1e9)
    a = np.where(t < 600.0, 20.0, 10.0 + 10.0 * (1.0 - (t - 600.0) / 100.0))
    assert got[0] == pytest.approx(float(a.mean()))


def test_the_plan_says_how_many_requests_its_online_window_holds(profile_db) -> None:
    """``online_window_requests`` counts the replayed requests arriving in the measured window (what the p50 / p99 rest
    on); the report says so below ``TAIL_MIN_REQUESTS``, the count at which ``plan simulate`` warns too."""
    from planner.helix.contract import TAIL_MIN_REQUESTS
    from planner.helix.online import SIM_DURATION_S, SIM_WARMUP_S, replay
    from planner.helix.report import _tail_note
    from planner.helix.served import ONLINE_LOAD
    from planner.sim.metrics import TAIL_MIN_REQUESTS as SIM_TAIL_MIN

    block = json.loads((PLANS / "swarm.json").read_text())["plan"]
    model = _model(profile_db)
    pred = predict_plan_block(block, model)
    wl = model.workload
    rate = pred.total_tok_s * ONLINE_LOAD / wl.tokens_per_request
    arrivals = replay(wl.arrival_samples, wl.input_samples, wl.output_samples, (0.0, 0.0), rate, 660.0).arrival_s
    in_window = int(((arrivals >= SIM_WARMUP_S) & (arrivals < SIM_WARMUP_S + SIM_DURATION_S)).sum())
    assert pred.online_window_requests == in_window > 0
    assert TAIL_MIN_REQUESTS == SIM_TAIL_MIN
    assert _tail_note(TAIL_MIN_REQUESTS) == _tail_note(None) == ""
    assert "holds 25 requests, fewer than 100" in _tail_note(25)


def test_a_longer_online_window_replays_more_of_the_trace(profile_db) -> None:
    """``online_duration_s`` (``scripts/helix_agreement.py --min-requests``) predicts a window of that length after the
    warm-up: the requests in it are those of the replay cut there; the offline figures do not depend on it."""
    from planner.helix.online import SIM_WARMUP_S, replay
    from planner.helix.served import ONLINE_LOAD

    block = json.loads((PLANS / "swarm.json").read_text())["plan"]
    short = predict_plan_block(block, _model(profile_db))
    wl = trace_workload(DEFAULT_TRACE)
    longer = predict_plan_block(
        block, ServedModel(profile_db, profile_db.model("llama2-70b"), wl, online_duration_s=2400.0)
    )
    rate = short.total_tok_s * ONLINE_LOAD / wl.tokens_per_request
    arrivals = replay(wl.arrival_samples, wl.input_samples, wl.output_samples, (0.0, 0.0), rate, 2460.0).arrival_s
    assert longer.online_window_requests == int((arrivals >= SIM_WARMUP_S).sum()) > 2 * short.online_window_requests
    assert (longer.decode_tok_s, longer.in_flight) == (short.decode_tok_s, short.in_flight)
