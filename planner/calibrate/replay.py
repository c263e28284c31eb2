"""Replay a measured run's own requests through our simulator and compute the figures the benchmark reports.

The serving instance is one model instance of (gpu, tp) running both phases with mixed batching (or
``run.instances`` of them behind one load generator, each request routed to the least-loaded instance, as a
multi-GPU MLPerf system runs several engines): the splitwise simulator's baseline pool (``BOTH``), the same
engine ``plan splitwise`` judges its baseline designs with, fed with
the run's per-request input and output lengths (or its mean lengths when the file saved no arrays).

How requests are sent, as the benchmark clients do it:

* ``request_rate`` finite: arrivals with gamma-distributed gaps of mean ``1 / rate`` and shape ``burstiness``
  (shape 1 = Poisson), the first at t = 0, from a seeded generator (the client's own draws are not saved, so the
  replay uses its own, deterministic for a seed); ``inf``: every request at t = 0. An MLPerf Server run's rate is
  the one LoadGen drew, (n - 1) over its final query's time, so its replay's Poisson times are scaled to end there.
* ``max_concurrency`` C (closed loop): the first C requests are sent at once (or at their own times), and each
  completion (or out-of-memory refusal) releases the next request, as the clients' semaphore does. This is exact:
  :class:`ClosedLoopEngine` releases arrivals from the simulator's own completion events.

Figures, as vLLM / SGLang compute them: request throughput = completed / (last completion), output tok/s likewise
(MLPerf LoadGen's Server figures: (n - 1) / the completion of the last request *sent*, and tokens over that time:
``MeasuredRun.throughput_window``),
TTFT percentiles over requests, TPOT = (E2E - TTFT) / (output - 1) over requests with more than one output token,
E2E p99; percentiles interpolate linearly (numpy's default, the clients' choice).

KV admission (``engine.kv_admission`` of the run's description, else :data:`KV_ADMISSION_DEFAULT` of its engine
family): ``reserve-full`` is the splitwise engine's own rule (a request's whole final context is reserved when its
prompt is admitted); ``on-demand`` replays a paged engine (:mod:`planner.calibrate.paged`). ``engine.
kv_memory_fraction`` scales the KV capacity (memory after weights) to the share the engine gives its cache.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from planner.calibrate.ingest import Engine, MeasuredRun
from planner.calibrate.itermodel import Hardware
from planner.calibrate.paged import PagedKvEngine
from planner.events import Kind
from planner.splitwise.perf import lookup_list
from planner.splitwise.sim import BOTH, InstanceType, SimConfig, SimResult, SplitwiseEngine

#: KV admission per engine family when the description does not state one. MLPerf: the LoadGen runs we ship are
#: TensorRT-LLM under NVIDIA's MLPerf harness, whose capacity scheduler policy defaults to MAX_UTILIZATION (blocks
#: allocated as tokens are produced, requests paused when the cache is full). vLLM / SGLang files: both engines page
#: their KV on demand and preempt by recomputation. genai-perf exports (any engine behind Triton or an OpenAI
#: endpoint; TensorRT-LLM's own default, GUARANTEED_NO_EVICT, reserves prompt + the request's maximum output) and
#: synthetic runs keep the splitwise engine's reservation of the whole final context.
KV_ADMISSION_DEFAULT: dict[Engine, str] = {
    "mlperf": "on-demand",
    "vllm": "on-demand",
    "sglang": "on-demand",
    "genai-perf": "reserve-full",
    "iteration-csv": "reserve-full",
}

#: Mixed-iteration timing per engine family when the description does not state one (see
#: :mod:`planner.calibrate.paged`): MLPerf's TensorRT-LLM engines run batches of up to 1,024 sequences, where a prompt
#: rides along a full decode iteration; the vLLM / SGLang runs keep the splitwise engine's rule their accuracy was
#: measured with.
MIXED_BATCH_DEFAULT: dict[Engine, str] = {"mlperf": "decode-plus-prompt"}

#: KV transfer never happens in a one-instance replay; any positive bandwidth will do.
_NO_TRANSFER_BYTES_S = 1e15


@dataclass(frozen=True)
class Prediction:
    """Predicted figures of one run (keys of :data:`planner.calibrate.ingest.METRICS`), and replay diagnostics."""

    metrics: dict[str, float]
    oom: int


def arrivals(run: MeasuredRun, seed: int) -> np.ndarray:
    """Send times the client would draw at the run's rate (see module notes); zeros for rate ``inf``."""
    n = len(run.input_tokens)
    if run.request_rate_rps is None:
        return np.zeros(n)
    rng = np.random.default_rng(seed)
    gaps = rng.gamma(shape=run.burstiness, scale=1.0 / (run.request_rate_rps * run.burstiness), size=n)
    send = np.concatenate([[0.0], np.cumsum(gaps[:-1])])
    if run.throughput_window == "final-query" and n > 1 and send[-1] > 0:
        # LoadGen's rate is its own draw's, (n - 1) / the final query's time: the replay's draw is conditioned on
        # ending there (scaled Poisson times given the last are the uniform order statistics of that window)
        send *= (n - 1) / run.request_rate_rps / send[-1]
    return send


class ClosedLoopEngine(SplitwiseEngine):
    """The splitwise engine fed by a closed-loop client: at most ``concurrency`` requests in flight, in order.

    ``arrival_s`` holds the earliest send times (the open-loop schedule); a request is sent at the later of that and
    the completion that frees its slot, and ``arrival_s`` is overwritten with the actual send times, so the engine's
    TTFT and E2E are measured from the send, as the client measures them.
    """

    def __init__(
        self,
        arrival_s: np.ndarray,
        prompt: np.ndarray,
        output: np.ndarray,
        pools: list[tuple[int, InstanceType, int]],
        cfg: SimConfig,
        concurrency: int,
    ) -> None:
        super().__init__(arrival_s, prompt, output, pools, cfg)
        self.concurrency = concurrency
        self.freed = 0

    def _send(self, r: int, t: float) -> None:
        when = max(self.arr[r], t)
        self.arr[r] = when
        self.arrival_s[r] = when
        self.push(when, Kind.ARRIVAL, r)

    def release_next(self, r: int, t: float) -> None:
        if r + 1 < min(self.concurrency, self.n):
            self._send(r + 1, t)

    def _free_slot(self, t: float) -> None:
        self.freed += 1
        nxt = self.concurrency + self.freed - 1
        if nxt < self.n:
            self._send(nxt, t)

    def on_arrival(self, r: int, t: float) -> None:
        refused = self.oom
        super().on_arrival(r, t)
        if self.oom > refused:  # the server refused it: the client's slot frees at once
            self._free_slot(t)

    def finish(self, r: int, t: float) -> None:
        super().finish(r, t)
        self._free_slot(t)


class ClosedLoopPagedEngine(ClosedLoopEngine, PagedKvEngine):
    """A closed-loop client in front of a paged-KV engine (both behaviours, as their classes describe)."""

    def __init__(
        self,
        arrival_s: np.ndarray,
        prompt: np.ndarray,
        output: np.ndarray,
        pools: list[tuple[int, InstanceType, int]],
        cfg: SimConfig,
        concurrency: int,
        additive_mixed: bool = False,
    ) -> None:
        super().__init__(arrival_s, prompt, output, pools, cfg, concurrency)
        self.additive = additive_mixed


def kv_admission(run: MeasuredRun) -> str:
    """The run's KV admission rule: its description's, else its engine family's default."""
    return run.limits.kv_admission or KV_ADMISSION_DEFAULT.get(run.engine, "reserve-full")


def mixed_batch(run: MeasuredRun) -> str:
    """The run's mixed-iteration timing: its description's, else its engine family's default."""
    return run.limits.mixed_batch or MIXED_BATCH_DEFAULT.get(run.engine, "prompt-curve")


def multi_step_delivery(
    ttft_s: np.ndarray, e2e_s: np.ndarray, out: np.ndarray, steps: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """TTFT and E2E as the client sees them when the engine schedules ``steps`` decode steps per round.

    vLLM's multi-step scheduling (``--num-scheduler-steps k``) admits new requests only between rounds of k decode
    steps and hands tokens back once per round. A request arriving while a round runs waits for its end: a uniform
    share of k steps (drawn from a seeded generator, as the arrivals are); its last tokens reach the client at the end
    of the round that produced them, ``ceil((O - 1) / k) * k`` steps after its first. One step is the request's own
    decode interval in the replay. The wait is added on the client's side (the engine's schedule is not changed):
    exact for the request, an approximation for the queueing it causes others (docs/accuracy.md).
    """
    rng = np.random.default_rng(seed + 1)
    wait_share = rng.uniform(0.0, 1.0, size=ttft_s.shape[0])
    decode = np.maximum(out - 1, 0).astype(float)
    step = np.where(decode > 0, (e2e_s - ttft_s) / np.maximum(decode, 1.0), 0.0)
    rounded = np.ceil(decode / steps) * steps
    wait = wait_share * steps * step
    return ttft_s + wait, ttft_s + wait + rounded * step


def throughputs(window: str, send: np.ndarray, e2e_s: np.ndarray, out: np.ndarray, ok: np.ndarray) -> dict[str, float]:
    """Request and output-token throughput as the benchmark divides them (``MeasuredRun.throughput_window``).

    ``last-completion``: completed requests and their tokens over the last completion. ``final-query`` (MLPerf
    LoadGen, Server): n - 1 requests and all tokens over the completion of the request sent last, however many
    finish after it; when that request failed, the last completion stands in.
    """
    done = float(ok.sum())
    finish = float(np.max((send + e2e_s)[ok]))
    if window == "final-query" and ok[-1]:
        done, finish = done - 1.0, float(send[-1] + e2e_s[-1])
    if finish <= 0:
        return {}
    return {"request_throughput_rps": done / finish, "output_tok_s": float(out[ok].sum()) / finish}


def replay(run: MeasuredRun, hw: Hardware, seed: int = 0) -> Prediction:
    """Simulate ``run`` on ``hw`` and return the figures the benchmark would have reported."""
    inp = np.asarray(run.input_tokens, dtype=np.int64)
    out = np.asarray(run.output_tokens, dtype=np.int64)
    n = inp.shape[0]
    lim = run.limits
    cfg = SimConfig(
        kv_bytes_per_token=float(hw.model.kv_bytes_per_token),
        max_batch_tokens=lim.max_batch_tokens,
        max_batch_requests=lim.max_batch_requests,
    )
    size = lim.max_batch_tokens + lim.max_batch_requests + int(inp.max()) + 2
    typ = InstanceType(
        name=f"{hw.tp}x{hw.gpu}",
        prompt_s=lookup_list(hw.prompt, size),
        token_s=lookup_list(hw.token, lim.max_batch_requests + 1),
        kv_capacity_tokens=int(hw.kv_capacity_tokens * (lim.kv_memory_fraction or 1.0)),
        link_bytes_s=_NO_TRANSFER_BYTES_S,
    )
    pools = [(BOTH, typ, run.instances)]
    send = arrivals(run, seed)
    paged = kv_admission(run) == "on-demand"
    additive = mixed_batch(run) == "decode-plus-prompt"
    if additive and not paged:
        raise ValueError(f"{run.label}: engine.mixed_batch decode-plus-prompt is modelled with on-demand KV only")
    closed_loop = run.max_concurrency is not None and run.max_concurrency < n
    res: SimResult
    if paged and closed_loop:
        assert run.max_concurrency is not None
        res = ClosedLoopPagedEngine(send, inp, out, pools, cfg, run.max_concurrency, additive).run()
    elif paged:
        res = PagedKvEngine(send, inp, out, pools, cfg, additive).run()
    elif closed_loop:
        assert run.max_concurrency is not None
        res = ClosedLoopEngine(send, inp, out, pools, cfg, run.max_concurrency).run()
    else:
        res = SplitwiseEngine(send, inp, out, pools, cfg).run()
    ttft_s, e2e_s = res.ttft_s, res.e2e_s
    if lim.scheduler_steps > 1:
        ttft_s, e2e_s = multi_step_delivery(ttft_s, e2e_s, out, lim.scheduler_steps, seed)
    ok = np.isfinite(e2e_s)
    metrics: dict[str, float] = {}
    if ok.any():
        metrics.update(throughputs(run.throughput_window, send, e2e_s, out, ok))
        ttft = ttft_s[ok] * 1e3
        e2e = e2e_s[ok] * 1e3
        metrics["ttft_p50_ms"] = float(np.percentile(ttft, 50))
        metrics["ttft_p99_ms"] = float(np.percentile(ttft, 99))
        multi = out[ok] > 1
        if multi.any():
            tpot = (e2e[multi] - ttft[multi]) / (out[ok][multi] - 1)
            metrics["tpot_p50_ms"] = float(np.percentile(tpot, 50))
            metrics["tpot_p99_ms"] = float(np.percentile(tpot, 99))
        metrics["e2e_p50_ms"] = float(np.percentile(e2e, 50))
        metrics["e2e_p99_ms"] = float(np.percentile(e2e, 99))
    return Prediction(metrics=metrics, oom=int(res.oom))
