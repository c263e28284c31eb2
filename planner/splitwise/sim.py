"""Discrete-event simulator of a Splitwise cluster: prompt, token and mixed pools, or one mixed-batching pool.

What is modelled (Splitwise sections IV-B/C and V-B, SplitwiseSim's ``mixed_pool`` and ``token_jsq`` schedulers as
summarised in the reference README sections 2.2, 5, 6.3 and 6.4):

* **Routing at arrival.** The prompt instance is the one with the fewest pending prompt tokens (join the shortest
  queue); the token instance is the one with the least scheduled KV memory. Both are picked at arrival.
* **Mixed pool.** When every prompt queue is long (non-empty and pending + prompt > ``long_queue_tokens``) the
  request goes to a mixed-pool instance, else a token instance is lent to the mixed pool; when the chosen token
  instance cannot hold the request's KV, likewise with a prompt instance lent. A lent instance keeps its hardware,
  runs mixed batches and returns to its pool when idle.
* **Prompt instances** run FCFS batches of at most ``max_batch_tokens`` prompt tokens (a longer prompt runs alone).
* **Token instances** run continuous batching of at most ``max_batch_requests`` requests; the KV cache of the whole
  request (prompt + output tokens) is reserved when its transfer starts, and a request whose KV does not fit waits.
* **KV transfer** takes prompt_tokens x KV bytes per token (GQA-correct) / the slower side's interconnect, after the
  prompt finishes and before the token phase; TTFT excludes it, TBT and E2E include it.
* **Mixed batching** (baselines and lent instances, SplitwiseSim's ``SplitwiseInstance``; Splitwise IV-C: prompts
  have priority, token work may be preempted, preemptions per request are capped): decodes already preempted
  ``max_preemptions`` times run in every iteration, then prompts (the first one always; more while the batch stays
  within ``max_batch_tokens``), then the other decodes (oldest first) in the tokens left (a decode counts 1
  token); decodes that do not fit are paused for that iteration. A batch with both runs at
  ``mixed_batch_factor`` x the prompt time of its batch tokens.
* **Memory.** A request whose KV exceeds an instance's free memory after weights can never run: counted as OOM.

Speed: token iterations are not simulated one by one. Between two events that change a batch, every iteration of a
decode batch takes the same time, so a machine schedules one event for the next request to finish (its *finish
iteration* is kept in a heap) and is interrupted at the next iteration boundary when new work arrives. Events are
ordered by (time, sequence number), so runs are deterministic. The run stops early once an SLO is surely violated
(see :func:`planner.splitwise.slo.violation_allowance`).
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from planner.splitwise.slo import SloLimit, violation_allowance

PROMPT, TOKEN, MIXED, BOTH = 0, 1, 2, 3
ROLE_NAMES = {PROMPT: "prompt", TOKEN: "token", MIXED: "mixed", BOTH: "both"}
_STEP, _KV_READY = 0, 1


@dataclass(frozen=True)
class InstanceType:
    """What the simulator needs about one model instance of a machine type (times in seconds)."""

    name: str
    prompt_s: list[float]  # iteration time by batch tokens 0..len-1 (prompt-only batch)
    token_s: list[float]  # iteration time by decode batch size 0..max_batch_requests
    kv_capacity_tokens: int
    link_bytes_s: float


@dataclass(frozen=True)
class SimConfig:
    kv_bytes_per_token: float
    max_batch_tokens: int = 2048
    max_batch_requests: int = 512
    mixed_batch_factor: float = 1.1
    mixed_pool: bool = False
    long_queue_tokens: int = 8192
    max_preemptions: int = 4


@dataclass
class SimResult:
    """Per-request first-token and completion times (NaN when the request never got there) and pool statistics."""

    ttft_s: np.ndarray
    e2e_s: np.ndarray
    oom: int
    aborted: str | None
    busy_s: dict[str, float]
    instances: dict[str, int]
    end_s: float
    lent_peak: dict[str, int]
    events: int
    active_s: dict[str, float] = field(default_factory=dict)
    kv_token_s: dict[str, float] = field(default_factory=dict)
    kv_capacity: dict[str, int] = field(default_factory=dict)

    def utilisation(self, pool: str) -> float | None:
        """Busy share of the pool's instances from 0 to the pool's last busy moment (drain tails excluded)."""
        n = self.instances.get(pool, 0)
        span = self.active_s.get(pool, self.end_s)
        if n == 0 or span <= 0:
            return None
        return self.busy_s.get(pool, 0.0) / (n * span)

    def kv_utilisation(self, pool: str) -> float | None:
        """Time-averaged share of the pool's KV memory reserved, over the same span as :meth:`utilisation`."""
        n = self.instances.get(pool, 0)
        span = self.active_s.get(pool, self.end_s)
        cap = self.kv_capacity.get(pool, 0)
        if n == 0 or span <= 0 or cap <= 0:
            return None
        return self.kv_token_s.get(pool, 0.0) / (cap * span)


class _Abort(Exception):
    pass


class _Inst:
    __slots__ = (
        "i", "home", "role", "pt", "tt", "cap", "bw", "pq", "pq_tokens", "jq", "wq", "heap", "mem", "sched", "it",
        "busy", "ver", "t0", "dt", "kend", "cur", "cur_tokens", "busy_s", "end_t", "kv_area", "kv_t",
    )  # fmt: skip

    def __init__(self, i: int, role: int, typ: InstanceType) -> None:
        self.i, self.home, self.role = i, role, role
        self.pt, self.tt, self.cap, self.bw = typ.prompt_s, typ.token_s, typ.kv_capacity_tokens, typ.link_bytes_s
        self.pq: deque[int] = deque()
        self.jq: deque[int] = deque()
        self.wq: deque[int] = deque()
        self.heap: list[tuple[int, int]] = []
        self.pq_tokens = self.mem = self.sched = self.it = self.ver = self.kend = 0
        self.busy = False
        self.t0 = self.dt = self.busy_s = self.end_t = self.kv_area = self.kv_t = 0.0
        self.cur: list[int] | None = None
        self.cur_tokens = 0


def simulate(
    arrival_s: np.ndarray,
    prompt: np.ndarray,
    output: np.ndarray,
    pools: list[tuple[int, InstanceType, int]],
    cfg: SimConfig,
    abort_limits: list[tuple[SloLimit, np.ndarray]] | None = None,
) -> SimResult:
    """Simulate the requests on ``pools`` = [(role, instance type, count), ...] and return per-request times.

    ``abort_limits`` pairs each SLO with the per-request absolute limit (limit x reference latency, seconds); when
    given, the run stops as soon as one SLO can no longer be met.
    """
    n = int(arrival_s.shape[0])
    arr = arrival_s.tolist()
    pl = prompt.tolist()
    ol = output.tolist()
    kv = (prompt + output).tolist()
    kvb = cfg.kv_bytes_per_token
    mbt, mbr, mixf = cfg.max_batch_tokens, cfg.max_batch_requests, cfg.mixed_batch_factor
    mixed_on, long_q = cfg.mixed_pool, cfg.long_queue_tokens

    insts: list[_Inst] = []
    for role, typ, count in pools:
        for _ in range(count):
            insts.append(_Inst(len(insts), role, typ))
    prompt_pool = [m for m in insts if m.role == PROMPT]
    token_pool = [m for m in insts if m.role == TOKEN]
    both_pool = [m for m in insts if m.role == BOTH]
    mixed_pool: list[_Inst] = []
    lent = {PROMPT: 0, TOKEN: 0}
    lent_peak = {PROMPT: 0, TOKEN: 0}

    tm = [0] * n  # token instance of each request
    pm = [0] * n  # prompt instance of each request
    first = [math.nan] * n
    pre = [0] * n  # preemptions of each request's token phase (mixed batches)
    max_pre = cfg.max_preemptions
    done = [math.nan] * n
    oom = 0
    events: list[tuple[float, int, int, int, int]] = []
    seq = 0
    nev = 0

    # --- early stop: counters of requests at or over each SLO limit
    checks: dict[str, list[tuple[list[float], int, list[int], str]]] = {"ttft": [], "tbt": [], "e2e": []}
    if abort_limits:
        for lim, absolute in sorted(abort_limits, key=lambda la: la[0].limit):
            checks[lim.metric].append((absolute.tolist(), violation_allowance(n, lim.quantile), [0], lim.name))
    ttft_checks, tbt_checks, e2e_checks = checks["ttft"], checks["tbt"], checks["e2e"]

    def push(t: float, kind: int, a: int, b: int) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(events, (t, seq, kind, a, b))

    def over(chk: list[tuple[list[float], int, list[int], str]], r: int, value: float) -> None:
        for absolute, allow, cnt, name in chk:
            if value >= absolute[r]:
                cnt[0] += 1
                if cnt[0] > allow:
                    raise _Abort(f"{name} surely violated: {cnt[0]} of {n} requests at or over the limit")
            else:
                return  # limits are sorted tightest first: below this one, below the looser ones too

    def ptime(m: _Inst, x: int) -> float:
        pt = m.pt
        if x < len(pt):
            return pt[x]
        slope = pt[-1] - pt[-2]
        return pt[-1] + slope * (x - len(pt) + 1)

    def preempt(m: _Inst, slots: int) -> int:
        """Pause all but ``slots`` of the not-yet-starved decodes for one iteration (oldest requests run first).

        A paused decode makes no progress (its finish iteration moves one later) and counts a preemption; after
        ``max_preemptions`` it is never paused again. Returns how many decodes run in the iteration.
        """
        others = sorted(r for _, r in m.heap if pre[r] < max_pre)
        paused = set(others[slots:])
        for r in paused:
            pre[r] += 1
        m.heap = [(f + 1, r) if r in paused else (f, r) for f, r in m.heap]
        heapq.heapify(m.heap)
        return len(m.heap) - len(paused)

    def start(m: _Inst, t: float) -> None:
        """Begin the next iteration (or decode stretch) of ``m`` at time ``t``, or mark it idle."""
        heap = m.heap
        if m.jq:
            room = mbr - len(heap)
            jq = m.jq
            while jq and room > 0:
                r = jq.popleft()
                heapq.heappush(heap, (m.it + ol[r] - 1, r))
                room -= 1
        nact = len(heap)
        if m.pq and m.role != TOKEN:
            # Batch order: decodes already preempted max_preemptions times (never paused again), then prompts,
            # then the other decodes while the batch stays within max_batch_tokens (1 token per decode). The
            # first prompt always runs, so aged decodes cannot block a long prompt.
            starved = [r for _, r in heap if pre[r] >= max_pre] if nact else []
            budget = max(mbt - len(starved), 1)
            toks = 0
            batch: list[int] = []
            pq = m.pq
            while pq and len(batch) + nact < mbr:
                r = pq[0]
                p = pl[r]
                if batch and toks + p > budget:
                    break
                if tm[r] == m.i:  # this instance also runs the token phase: reserve the KV now
                    if m.mem + kv[r] > m.cap:
                        break
                    m.kv_area += m.mem * (t - m.kv_t)
                    m.kv_t = t
                    m.mem += kv[r]
                pq.popleft()
                batch.append(r)
                toks += p
                if toks >= budget:
                    break
            if batch:
                running = nact
                slots = budget - toks
                if nact - len(starved) > slots:
                    running = preempt(m, max(slots, 0))
                dur = ptime(m, toks + running) * (mixf if running else 1.0)
                m.cur, m.cur_tokens, m.kend, m.dt, m.t0 = batch, toks, 1, 0.0, t
                m.busy, m.end_t = True, t + dur
                m.busy_s += dur
                push(t + dur, _STEP, m.i, m.ver)
                return
        if nact:
            dt = m.tt[nact] if nact < len(m.tt) else m.tt[-1]
            k = heap[0][0] - m.it
            if k < 1:
                k = 1
            m.cur, m.kend, m.dt, m.t0 = None, k, dt, t
            m.busy, m.end_t = True, t + k * dt
            m.busy_s += k * dt
            push(t + k * dt, _STEP, m.i, m.ver)
            return
        m.busy = False
        if m.role == MIXED and not m.pq and not m.jq and not m.wq and m.sched == 0:
            give_back(m)

    def interrupt(m: _Inst, t: float) -> None:
        """New work for a decoding instance: stop the stretch at the next iteration boundary."""
        if m.cur is not None or m.dt <= 0.0:
            return
        k = math.ceil((t - m.t0) / m.dt - 1e-9)  # 0: the stretch started at t, restart it with the newcomer
        if k < 0:
            k = 0
        if k < m.kend:
            new_end = m.t0 + k * m.dt
            m.busy_s -= m.end_t - new_end
            m.kend, m.end_t = k, new_end
            m.ver += 1
            push(new_end, _STEP, m.i, m.ver)

    def wake(m: _Inst, t: float) -> None:
        if not m.busy:
            start(m, t)
        else:
            interrupt(m, t)

    def lend(m: _Inst) -> None:
        (prompt_pool if m.home == PROMPT else token_pool).remove(m)
        m.role = MIXED
        mixed_pool.append(m)
        lent[m.home] += 1
        if lent[m.home] > lent_peak[m.home]:
            lent_peak[m.home] = lent[m.home]

    def give_back(m: _Inst) -> None:
        mixed_pool.remove(m)
        m.role = m.home
        lent[m.home] -= 1
        pool = prompt_pool if m.home == PROMPT else token_pool
        pool.append(m)
        pool.sort(key=lambda x: x.i)

    def admit(k: _Inst, t: float) -> None:
        """Start KV transfers into ``k`` for waiting requests whose KV fits (FCFS)."""
        wq = k.wq
        while wq:
            r = wq[0]
            if k.mem + kv[r] > k.cap:
                return
            wq.popleft()
            k.kv_area += k.mem * (t - k.kv_t)
            k.kv_t = t
            k.mem += kv[r]
            src = insts[pm[r]]
            bw = src.bw if src.bw < k.bw else k.bw
            push(t + pl[r] * kvb / bw, _KV_READY, r, 0)

    def finish(r: int, t: float) -> None:
        done[r] = t
        k = insts[tm[r]]
        k.sched -= kv[r]
        if e2e_checks:
            over(e2e_checks, r, t - arr[r])
        if tbt_checks:
            over(tbt_checks, r, (t - first[r]) / ol[r])

    def on_step(m: _Inst, t: float) -> None:
        m.it += m.kend
        batch = m.cur
        if batch is not None:
            m.cur = None
            m.pq_tokens -= m.cur_tokens
            for r in batch:
                first[r] = t
                if ttft_checks:
                    over(ttft_checks, r, t - arr[r])
                local = tm[r] == m.i
                if ol[r] <= 1:
                    if local:
                        m.kv_area += m.mem * (t - m.kv_t)
                        m.kv_t = t
                        m.mem -= kv[r]
                    finish(r, t)
                elif local:
                    heapq.heappush(m.heap, (m.it + ol[r] - 1, r))
                else:
                    k = insts[tm[r]]
                    k.wq.append(r)
                    admit(k, t)
        heap = m.heap
        freed = False
        while heap and heap[0][0] <= m.it:
            _, r = heapq.heappop(heap)
            m.kv_area += m.mem * (t - m.kv_t)
            m.kv_t = t
            m.mem -= kv[r]
            finish(r, t)
            freed = True
        if freed and m.wq:
            admit(m, t)
        start(m, t)

    def is_long(m: _Inst, p: int) -> bool:
        return m.pq_tokens > 0 and m.pq_tokens + p > long_q

    def route_split(r: int) -> tuple[_Inst, _Inst]:
        p_len, need = pl[r], kv[r]
        pi = min(prompt_pool, key=_pending) if prompt_pool else None
        if pi is None or (mixed_on and is_long(pi, p_len)):
            cand = min(mixed_pool, key=_pending) if mixed_pool else None
            if cand is not None and (pi is None or not is_long(cand, p_len)):
                pi = cand
            elif mixed_on and len(token_pool) > 1:
                pi = min(token_pool, key=_sched)
                lend(pi)
        assert pi is not None  # an empty prompt pool means its instances are all in the mixed pool
        ki = min(token_pool, key=_sched) if token_pool else None
        if ki is None or (mixed_on and ki.sched + need > ki.cap):
            fits = [m for m in mixed_pool if m.sched + need <= m.cap]
            if fits:
                ki = min(fits, key=_sched)
            elif mixed_on and len(prompt_pool) > 1:
                ki = min(prompt_pool, key=_pending)
                lend(ki)
            elif ki is None:
                ki = min(mixed_pool, key=_sched)
        return pi, ki

    ai = 0
    aborted: str | None = None
    try:
        while True:
            if events and (ai >= n or events[0][0] <= arr[ai]):
                t, _, kind, a, b = heapq.heappop(events)
                nev += 1
                if kind == _STEP:
                    m = insts[a]
                    if b == m.ver:
                        on_step(m, t)
                else:
                    k = insts[tm[a]]
                    k.jq.append(a)
                    wake(k, t)
                continue
            if ai >= n:
                break
            r, t = ai, arr[ai]
            ai += 1
            nev += 1
            if both_pool:
                m = min(both_pool, key=_load)
                pi = ki = m
            else:
                pi, ki = route_split(r)
            if kv[r] > ki.cap:
                oom += 1
                continue
            pm[r], tm[r] = pi.i, ki.i
            ki.sched += kv[r]
            pi.pq.append(r)
            pi.pq_tokens += pl[r]
            if pi.role in (MIXED, BOTH):
                wake(pi, t)
            elif not pi.busy:
                start(pi, t)
    except _Abort as exc:
        aborted = str(exc)

    busy: dict[str, float] = {}
    count: dict[str, int] = {}
    active: dict[str, float] = {}
    kv_area: dict[str, float] = {}
    kv_cap: dict[str, int] = {}
    for m in insts:
        name = ROLE_NAMES[m.home]
        busy[name] = busy.get(name, 0.0) + m.busy_s
        count[name] = count.get(name, 0) + 1
        active[name] = max(active.get(name, 0.0), m.end_t)
        kv_area[name] = kv_area.get(name, 0.0) + m.kv_area  # memory is all released by the end
        kv_cap[name] = kv_cap.get(name, 0) + m.cap
    finished = [d for d in done if d == d]
    end = max(finished) if finished else 0.0
    return SimResult(
        ttft_s=np.asarray(first, dtype=float) - arrival_s,
        e2e_s=np.asarray(done, dtype=float) - arrival_s,
        oom=oom,
        aborted=aborted,
        busy_s=busy,
        instances=count,
        end_s=float(end),
        lent_peak={ROLE_NAMES[k]: v for k, v in lent_peak.items()},
        events=nev,
        active_s=active,
        kv_token_s=kv_area,
        kv_capacity=kv_cap,
    )


def _pending(m: _Inst) -> int:
    return m.pq_tokens


def _sched(m: _Inst) -> int:
    return m.sched


def _load(m: _Inst) -> int:
    return m.pq_tokens + len(m.heap) + len(m.jq)
