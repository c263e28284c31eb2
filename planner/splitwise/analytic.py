"""Analytic capacity and latency model of a Splitwise design: bounds, a starting point, predicted utilisation.

Two layers (reference README section 11.4; Splitwise section IV-D sizes pools "from expected load"):

**Capacity (upper bounds on throughput, lower bounds on machines).** Per machine type:

* prompt capacity ``mu_p = 1 / E[w]`` requests/s, where a prompt of p <= B tokens (B = max batch tokens) costs at
  best p x c, c = min_{x <= B} prompt_time(x) / x (a full batch amortises best), and a longer prompt runs alone
  for prompt_time(p);
* KV-memory capacity by Little's law ``mu_m = M / E[(p + o) (o - 1) dt_min]``: a request holds its whole KV
  (p + o tokens, reserved at admission) for at least o - 1 token iterations of at least dt_min seconds each, and
  a machine has M tokens of KV memory after weights;
* batch-slot capacity ``mu_s = R / E[(o - 1) dt_min]`` with R = max batch requests.

A mixed pool lets any machine do either kind of work, so the bounds a point (P, T) must satisfy are
rate <= P mu_p(prompt type) + T mu_p(token type) and rate <= P mu_m(prompt type) + T mu_m(token type) (and the
same for slots). The cheapest integer point satisfying them is a valid lower bound on the objective whatever the
simulator finds (it ignores SLOs and every queueing delay).

**Latency (predicted SLO values; monotone in machine counts).** TTFT = Erlang-C (M/G/c, Allen-Cunneen
correction) waiting time on the prompt pool + the request's prompt time; the token pool's concurrency per machine
solves L = (rate / T) E[o - 1] dt(L) with dt the running-maximum envelope of the token curve, TBT = (transfer +
(o - 1) dt) / o and E2E = TTFT + transfer + (o - 1) dt. Baselines share N machines between both phases: prompt
iterations (x mixed-batch factor) take a share f of the time, and decodes advance at f / E[prompt iteration] +
(1 - f) / dt iterations per second. Every term is non-increasing in P, T or N, so adding machines never adds a
predicted SLO violation (tested with hypothesis).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from planner.splitwise.perf import PerfProfile
from planner.splitwise.slo import Reference, SloLimit, SloValue, evaluate, slowdowns

INF = float("inf")


@dataclass(frozen=True)
class Workload:
    """Request sizes the analytic model averages over (a sample of the simulated stream)."""

    prompt: npt.NDArray[np.int64]
    output: npt.NDArray[np.int64]

    @property
    def kv_tokens(self) -> npt.NDArray[np.float64]:
        return (self.prompt + self.output).astype(float)

    @property
    def decode_iters(self) -> npt.NDArray[np.float64]:
        return np.maximum(self.output - 1, 0).astype(float)


@dataclass(frozen=True)
class MachinePerf:
    """One machine type as the analytic model sees it."""

    name: str
    profile: PerfProfile
    kv_capacity_tokens: float
    link_bytes_s: float


@dataclass(frozen=True)
class Capacity:
    """Requests/s one machine sustains for each resource (no SLOs, no queueing)."""

    prompt_rps: float
    memory_rps: float
    slots_rps: float


def prompt_work_s(prompt: np.ndarray, profile: PerfProfile, max_batch_tokens: int) -> np.ndarray:
    """Least busy time each prompt costs a machine (best batch amortisation; long prompts run alone)."""
    xs = np.arange(1, max_batch_tokens + 1, dtype=float)
    per_token = float(np.min(profile.prompt_s(xs) / xs))
    p = prompt.astype(float)
    return np.where(p <= max_batch_tokens, p * per_token, profile.prompt_s(p))


def capacity(wl: Workload, mp: MachinePerf, max_batch_tokens: int, max_batch_requests: int) -> Capacity:
    work = float(np.mean(prompt_work_s(wl.prompt, mp.profile, max_batch_tokens)))
    dt_min = float(np.min(mp.profile.token_s(np.arange(1, max_batch_requests + 1, dtype=float))))
    mem = float(np.mean(wl.kv_tokens * wl.decode_iters)) * dt_min
    slots = float(np.mean(wl.decode_iters)) * dt_min
    return Capacity(
        prompt_rps=1.0 / work if work > 0 else INF,
        memory_rps=mp.kv_capacity_tokens / mem if mem > 0 else INF,
        slots_rps=max_batch_requests / slots if slots > 0 else INF,
    )


def capacity_rate(prompt_count: int, token_count: int, cp: Capacity, ct: Capacity, lending: bool) -> float:
    """Largest rate the counts could sustain at 100 % of every resource (an upper bound for the simulator)."""
    if lending:
        prompt = prompt_count * cp.prompt_rps + token_count * ct.prompt_rps
        mem = prompt_count * cp.memory_rps + token_count * ct.memory_rps
        slots = prompt_count * cp.slots_rps + token_count * ct.slots_rps
    else:
        prompt = prompt_count * cp.prompt_rps
        mem = token_count * ct.memory_rps
        slots = token_count * ct.slots_rps
    return min(prompt, mem, slots)


def erlang_c_wait_s(servers: int, rate: float, mean_s: float, scv: float) -> float:
    """Mean M/G/c queueing delay (Erlang C with the Allen-Cunneen (1 + SCV) / 2 factor); inf when overloaded."""
    if servers <= 0:
        return INF
    a = rate * mean_s
    if a >= servers:
        return INF
    if a <= 0:
        return 0.0
    b = 1.0
    for k in range(1, servers + 1):
        b = a * b / (k + a * b)
    rho = a / servers
    c = b / (1.0 - rho * (1.0 - b))
    return c * mean_s / (servers - a) * (1.0 + scv) / 2.0


class AnalyticModel:
    """Predicted latencies and SLO values of a design at given counts and rate (cached per pool and count)."""

    def __init__(
        self,
        wl: Workload,
        ref: Reference,
        limits: list[SloLimit],
        prompt_machine: MachinePerf,
        token_machine: MachinePerf,
        baseline: bool,
        kv_bytes_per_token: float,
        max_batch_tokens: int,
        max_batch_requests: int,
        mixed_batch_factor: float,
    ) -> None:
        self.wl, self.ref, self.limits = wl, ref, limits
        self.pm, self.tm, self.baseline = prompt_machine, token_machine, baseline
        self.mbt, self.mbr, self.mixf = max_batch_tokens, max_batch_requests, mixed_batch_factor
        self.work = prompt_work_s(wl.prompt, prompt_machine.profile, max_batch_tokens)
        if baseline:
            self.work = self.work * mixed_batch_factor
        self.work_mean = float(np.mean(self.work))
        self.work_scv = float(np.var(self.work) / self.work_mean**2) if self.work_mean > 0 else 0.0
        self.alone = prompt_machine.profile.prompt_s(wl.prompt.astype(float))
        link = min(prompt_machine.link_bytes_s, token_machine.link_bytes_s)
        self.transfer = np.zeros(len(wl.prompt)) if baseline else wl.prompt * kv_bytes_per_token / link
        env = token_machine.profile.token.envelope()
        self.dt_env = env(np.arange(0, max_batch_requests + 1, dtype=float))
        self.iters_mean = float(np.mean(wl.decode_iters))
        self.kv_iters_mean = float(np.mean(wl.kv_tokens * wl.decode_iters))

    def _dt(self, concurrency: float) -> float:
        i = min(max(int(math.ceil(concurrency)), 1), self.mbr)
        return float(self.dt_env[i])

    @lru_cache(maxsize=4096)  # noqa: B019 - the model lives for one solve
    def ttft(self, prompt_count: int, rate: float) -> tuple[np.ndarray, float]:
        """Predicted TTFT per request and the prompt pool's utilisation."""
        wait = erlang_c_wait_s(prompt_count, rate, self.work_mean, self.work_scv)
        rho = rate * self.work_mean / prompt_count if prompt_count else INF
        return self.alone + wait, rho

    @lru_cache(maxsize=4096)  # noqa: B019
    def decode(self, token_count: int, rate: float, prompt_share: float = 0.0) -> tuple[float, float]:
        """(time per decode iteration seen by a request, KV-memory utilisation) for ``token_count`` machines."""
        if token_count <= 0:
            return INF, INF
        lam = rate / token_count
        dt = self._dt(1.0)
        for _ in range(50):
            base_dt = self._dt(lam * self.iters_mean * dt)
            if prompt_share > 0:
                d_p = float(np.mean(self.alone)) * self.mixf
                iter_rate = prompt_share / d_p + (1.0 - prompt_share) / base_dt
                new = 1.0 / iter_rate if iter_rate > 0 else INF
            else:
                new = base_dt
            if abs(new - dt) < 1e-12:
                break
            dt = new
        concurrency = lam * self.iters_mean * dt
        mem_util = lam * dt * self.kv_iters_mean / self.tm.kv_capacity_tokens
        if concurrency > self.mbr or mem_util >= 1.0:
            return INF, mem_util
        return dt, mem_util

    def predict(self, prompt_count: int, token_count: int, rate: float) -> Prediction:
        """Predicted SLO values; for a baseline ``prompt_count`` is the pool size and ``token_count`` is ignored."""
        if self.baseline:
            ttft, rho = self.ttft(prompt_count, rate)
            dt, mem = self.decode(prompt_count, rate, prompt_share=min(rho, 1.0))
        else:
            ttft, rho = self.ttft(prompt_count, rate)
            dt, mem = self.decode(token_count, rate)
        if not math.isfinite(dt) or rho >= 1.0:
            inf = np.full(len(self.wl.prompt), np.nan)
            values = evaluate(slowdowns(inf, inf, self.wl.output, self.ref), self.limits)
            return Prediction(values, rho, mem)
        decode_s = self.wl.decode_iters * dt
        e2e = ttft + self.transfer + decode_s
        values = evaluate(slowdowns(ttft, e2e, self.wl.output, self.ref), self.limits)
        return Prediction(values, rho, mem)


@dataclass(frozen=True)
class Prediction:
    values: list[SloValue]
    prompt_utilisation: float
    memory_utilisation: float

    @property
    def feasible(self) -> bool:
        return all(v.met for v in self.values)
