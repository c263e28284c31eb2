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
iteration* is kept in a heap) and is interrupted at the next iteration boundary when new work arrives. The run stops
early once an SLO is surely violated (see :func:`planner.splitwise.slo.violation_allowance`).

Events run on the shared event core (:mod:`planner.events`) in its one order ``(time, kind, seq)``; at equal times
a KV transfer that lands (``DELIVER``) comes first, then an arrival (``ARRIVAL``), then the end of an iteration
(``DONE``), so a machine that frees up forms its next batch with everything that reached it at that instant.
:class:`SplitwiseEngine` holds the run's state with one method per event kind.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from planner.events import EventQueue, Kind
from planner.splitwise.slo import SloLimit, violation_allowance

PROMPT, TOKEN, MIXED, BOTH = 0, 1, 2, 3
ROLE_NAMES = {PROMPT: "prompt", TOKEN: "token", MIXED: "mixed", BOTH: "both"}
_KV_READY, _ARRIVAL, _DONE = Kind.DELIVER, Kind.ARRIVAL, Kind.DONE


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
    """An SLO can no longer be met: the run stops (its message says which and how many requests)."""


class _Inst:
    """One model instance: its hardware (times, KV capacity, link), queues, decode heap and counters."""

    __slots__ = (
        "i", "home", "role", "pt", "tt", "cap", "bw", "pq", "pq_tokens", "jq", "wq", "heap", "mem", "sched", "it",
        "busy", "ver", "t0", "dt", "kend", "cur", "cur_tokens", "busy_s", "end_t", "kv_area", "kv_t", "starved",
    )  # fmt: skip

    def __init__(self, i: int, role: int, typ: InstanceType) -> None:
        self.i, self.home, self.role = i, role, role
        self.pt, self.tt, self.cap, self.bw = typ.prompt_s, typ.token_s, typ.kv_capacity_tokens, typ.link_bytes_s
        self.pq: deque[int] = deque()  # requests waiting for their prompt phase here
        self.jq: deque[int] = deque()  # requests whose KV arrived, waiting to join the decode batch
        self.wq: deque[int] = deque()  # requests waiting for KV memory before their transfer starts
        self.heap: list[tuple[int, int]] = []  # (finish iteration, request) of the decode batch
        self.pq_tokens = self.mem = self.sched = self.it = self.ver = self.kend = 0
        self.busy = False
        self.t0 = self.dt = self.busy_s = self.end_t = self.kv_area = self.kv_t = 0.0
        self.cur: list[int] | None = None  # the prompts of the running iteration (None: a decode stretch)
        self.cur_tokens = 0
        self.starved = 0  # decodes in the heap preempted max_preemptions times (SplitwiseEngine.push_decode)

    def prompt_time(self, tokens: int) -> float:
        """Iteration time of a prompt batch of ``tokens`` (linear beyond the table's last two entries)."""
        pt = self.pt
        if tokens < len(pt):
            return pt[tokens]
        slope = pt[-1] - pt[-2]
        return pt[-1] + slope * (tokens - len(pt) + 1)

    def hold_kv(self, t: float, tokens: int) -> None:
        """Reserve (``tokens`` > 0) or release KV memory at ``t``, keeping the time integral of what is held."""
        self.kv_area += self.mem * (t - self.kv_t)
        self.kv_t = t
        self.mem += tokens


_Checks = list[tuple[list[float], int, list[int], str]]


class SplitwiseEngine:
    """One simulation of a Splitwise cluster: the run's state and one method per event kind. Build, :meth:`run` once.

    Event handlers: :meth:`on_arrival` (``ARRIVAL``: route the request), :meth:`on_kv_ready` (``DELIVER``: its KV
    cache reached the token instance) and :meth:`on_done` (``DONE``: an iteration or decode stretch ended).
    """

    def __init__(
        self,
        arrival_s: np.ndarray,
        prompt: np.ndarray,
        output: np.ndarray,
        pools: list[tuple[int, InstanceType, int]],
        cfg: SimConfig,
        abort_limits: list[tuple[SloLimit, np.ndarray]] | None = None,
    ) -> None:
        self.arrival_s = arrival_s
        self.n = n = int(arrival_s.shape[0])
        self.arr: list[float] = arrival_s.tolist()
        self.pl: list[int] = prompt.tolist()
        self.ol: list[int] = output.tolist()
        self.kv: list[int] = (prompt + output).tolist()  # KV tokens of the whole request
        self.cfg = cfg
        self.insts: list[_Inst] = []
        for role, typ, count in pools:
            for _ in range(count):
                self.insts.append(_Inst(len(self.insts), role, typ))
        self.prompt_pool = [m for m in self.insts if m.role == PROMPT]
        self.token_pool = [m for m in self.insts if m.role == TOKEN]
        self.both_pool = [m for m in self.insts if m.role == BOTH]
        self.mixed_pool: list[_Inst] = []
        self.lent = {PROMPT: 0, TOKEN: 0}
        self.lent_peak = {PROMPT: 0, TOKEN: 0}
        self.tm = [0] * n  # token instance of each request
        self.pm = [0] * n  # prompt instance of each request
        self.first = [math.nan] * n
        self.done = [math.nan] * n
        self.pre = [0] * n  # preemptions of each request's token phase (mixed batches)
        self.oom = 0
        self.events = 0
        self.q = EventQueue()
        self.push = self.q.push
        self.checks = _slo_checks(n, abort_limits)

    # --- the run

    def run(self) -> SimResult:
        """Process events until none is left (or an SLO is surely violated) and return the per-request times."""
        heap, pop, insts = self.q.heap, heapq.heappop, self.insts
        on_done, on_kv_ready, on_arrival = self.on_done, self.on_kv_ready, self.on_arrival
        if self.n:
            self.push(self.arr[0], _ARRIVAL, 0)
        aborted: str | None = None
        events = 0
        try:
            while heap:
                t, kind, _, target, payload = pop(heap)
                events += 1
                if kind == _DONE:
                    on_done(insts[target], payload, t)
                elif kind == _KV_READY:
                    on_kv_ready(target, t)
                else:
                    on_arrival(target, t)
        except _Abort as exc:
            aborted = str(exc)
        self.events = events
        return self._result(aborted)

    def on_arrival(self, r: int, t: float) -> None:
        """Request ``r`` arrives: pick its prompt and token instances, queue its prompt (or count it OOM)."""
        self.release_next(r, t)
        if self.both_pool:
            pi = ki = min(self.both_pool, key=_load)
        else:
            pi, ki = self.route_split(r)
        if self.kv[r] > ki.cap:
            self.oom += 1
            return
        self.pm[r], self.tm[r] = pi.i, ki.i
        ki.sched += self.kv[r]
        pi.pq.append(r)
        pi.pq_tokens += self.pl[r]
        if pi.role in (MIXED, BOTH):
            self.wake(pi, t)
        elif not pi.busy:
            self.start(pi, t)

    def release_next(self, r: int, t: float) -> None:
        """Queue the arrival that follows ``r`` at its own time (open loop).

        The one place arrivals are fed, so that a closed-loop client (a benchmark holding C requests in flight,
        :mod:`planner.calibrate.replay`) can release requests on completions instead.
        """
        if r + 1 < self.n:
            self.push(self.arr[r + 1], _ARRIVAL, r + 1)

    def on_kv_ready(self, r: int, t: float) -> None:
        """The KV cache of ``r`` reached its token instance: it joins the decode batch at the next boundary."""
        k = self.insts[self.tm[r]]
        k.jq.append(r)
        self.wake(k, t)

    def on_done(self, m: _Inst, version: int, t: float) -> None:
        """An iteration (or decode stretch) of ``m`` ended: emit first tokens, finish requests, start the next."""
        if version != m.ver:
            return  # superseded by an interrupt
        m.it += m.kend
        if m.cur is not None:
            self._end_prompts(m, t)
        heap = m.heap
        freed = False
        while heap and heap[0][0] <= m.it:
            f, r = self.pop_decode(m)
            self._release(m, f, r, t)
            self.finish(r, t)
            freed = True
        if freed:
            self._after_release(m, t)
        self.start(m, t)

    def _release(self, m: _Inst, f: int, r: int, t: float) -> None:
        """Request ``r`` finished decoding on ``m`` at iteration ``f``: its whole reserved KV is freed."""
        m.hold_kv(t, -self.kv[r])

    def _after_release(self, m: _Inst, t: float) -> None:
        """KV was freed on ``m``: requests waiting for it may be admitted before the next iteration starts."""
        if m.wq:
            self.admit(m, t)

    def _end_prompts(self, m: _Inst, t: float) -> None:
        """The prompts of ``m``'s batch produced their first token: finish, decode here, or send the KV on."""
        batch, m.cur = m.cur or [], None
        m.pq_tokens -= m.cur_tokens
        ttft_checks = self.checks["ttft"]
        for r in batch:
            self.first[r] = t
            if ttft_checks:
                self.over(ttft_checks, r, t - self.arr[r])
            local = self.tm[r] == m.i
            if self.ol[r] <= 1:
                if local:
                    m.hold_kv(t, -self.kv[r])
                self.finish(r, t)
            elif local:
                self.push_decode(m, m.it + self.ol[r] - 1, r)
            else:
                k = self.insts[self.tm[r]]
                k.wq.append(r)
                self.admit(k, t)

    # --- machines

    def start(self, m: _Inst, t: float) -> None:
        """Begin the next iteration (or decode stretch) of ``m`` at time ``t``, or mark it idle."""
        if m.jq:
            self._join_decodes(m)
        if m.pq and m.role != TOKEN and self._start_prompts(m, t):
            return
        nact = len(m.heap)
        if nact:
            dt = m.tt[nact] if nact < len(m.tt) else m.tt[-1]
            k = m.heap[0][0] - m.it
            if k < 1:
                k = 1
            m.cur, m.kend, m.dt, m.t0 = None, k, dt, t
            m.busy, m.end_t = True, t + k * dt
            m.busy_s += k * dt
            self.push(t + k * dt, _DONE, m.i, m.ver)
            return
        m.busy = False
        if m.role == MIXED and not m.pq and not m.jq and not m.wq and m.sched == 0:
            self.give_back(m)

    def _join_decodes(self, m: _Inst) -> None:
        """Move requests whose KV has arrived into the decode batch, up to ``max_batch_requests``."""
        room = self.cfg.max_batch_requests - len(m.heap)
        jq, ol = m.jq, self.ol
        while jq and room > 0:
            r = jq.popleft()
            self.push_decode(m, m.it + ol[r] - 1, r)
            room -= 1

    def _start_prompts(self, m: _Inst, t: float) -> bool:
        """Start a prompt (or mixed) batch on ``m`` if one forms; False when no prompt can start.

        Batch order: decodes already preempted ``max_preemptions`` times (never paused again), then prompts, then
        the other decodes while the batch stays within ``max_batch_tokens`` (1 token per decode). The first prompt
        always runs, so aged decodes cannot block a long prompt.
        """
        cfg = self.cfg
        nact = len(m.heap)
        starved = m.starved
        budget = max(cfg.max_batch_tokens - starved, 1)
        toks = 0
        batch: list[int] = []
        pq = m.pq
        while pq and len(batch) + nact < cfg.max_batch_requests:
            r = pq[0]
            p = self.pl[r]
            if batch and toks + p > budget:
                break
            if self.tm[r] == m.i:  # this instance also runs the token phase: reserve the KV now
                if m.mem + self.kv[r] > m.cap:
                    break
                m.hold_kv(t, self.kv[r])
            pq.popleft()
            batch.append(r)
            toks += p
            if toks >= budget:
                break
        if not batch:
            return False
        self._launch_prompts(m, t, batch, toks, nact, budget - toks, nact - starved)
        return True

    def push_decode(self, m: _Inst, finish_it: int, r: int) -> None:
        """Put request ``r`` in ``m``'s decode heap. ``m.starved`` counts the heap's decodes preempted
        ``max_preemptions`` times, kept as they come and go (and in :meth:`preempt`): a scan of the heap at every
        prompt batch was most of a long replay's time."""
        heapq.heappush(m.heap, (finish_it, r))
        if self.pre[r] >= self.cfg.max_preemptions:
            m.starved += 1

    def pop_decode(self, m: _Inst) -> tuple[int, int]:
        """Take the decode that finishes first out of ``m``'s heap (see :meth:`push_decode`)."""
        f, r = heapq.heappop(m.heap)
        self.decode_left(m, r)
        return f, r

    def decode_left(self, m: _Inst, r: int) -> None:
        """Request ``r`` was taken out of ``m``'s heap (finished, or evicted by a subclass): uncount it if starved."""
        if self.pre[r] >= self.cfg.max_preemptions:
            m.starved -= 1

    def _launch_prompts(
        self, m: _Inst, t: float, batch: list[int], toks: int, running: int, slots: int, pausable: int
    ) -> None:
        """Run the formed prompt batch on ``m`` beside its ``running`` decodes: those beyond the ``slots`` left in the
        token budget are paused (of the ``pausable`` ones, the starved never), the others ride along; schedule the
        batch's end."""
        if pausable > slots:
            running = self.preempt(m, max(slots, 0))
        dur = self._prompt_batch_s(m, toks, running)
        m.cur, m.cur_tokens, m.kend, m.dt, m.t0 = batch, toks, 1, 0.0, t
        m.busy, m.end_t = True, t + dur
        m.busy_s += dur
        self.push(t + dur, _DONE, m.i, m.ver)

    def _prompt_batch_s(self, m: _Inst, toks: int, running: int) -> float:
        """Duration of a batch of ``toks`` prompt tokens with ``running`` decodes riding along (the prompt curve at
        their sum, times the mixed-batch factor when any decode rides)."""
        return m.prompt_time(toks + running) * (self.cfg.mixed_batch_factor if running else 1.0)

    def preempt(self, m: _Inst, slots: int) -> int:
        """Pause all but ``slots`` of the not-yet-starved decodes for one iteration (oldest requests run first).

        A paused decode makes no progress (its finish iteration moves one later) and counts a preemption; after
        ``max_preemptions`` it is never paused again. Returns how many decodes run in the iteration.
        """
        pre, max_pre = self.pre, self.cfg.max_preemptions
        others = sorted(r for _, r in m.heap if pre[r] < max_pre)
        paused = set(others[slots:])
        for r in paused:
            pre[r] += 1
            if pre[r] == max_pre:
                m.starved += 1
        m.heap = [(f + 1, r) if r in paused else (f, r) for f, r in m.heap]
        heapq.heapify(m.heap)
        return len(m.heap) - len(paused)

    def interrupt(self, m: _Inst, t: float) -> None:
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
            self.push(new_end, _DONE, m.i, m.ver)

    def wake(self, m: _Inst, t: float) -> None:
        """New work for ``m``: start it if idle, else stop its decode stretch at the next boundary."""
        if not m.busy:
            self.start(m, t)
        else:
            self.interrupt(m, t)

    def admit(self, k: _Inst, t: float) -> None:
        """Start KV transfers into ``k`` for waiting requests whose KV fits (FCFS)."""
        wq = k.wq
        while wq:
            r = wq[0]
            if k.mem + self.kv[r] > k.cap:
                return
            wq.popleft()
            k.hold_kv(t, self.kv[r])
            src = self.insts[self.pm[r]]
            bw = src.bw if src.bw < k.bw else k.bw
            self.push(t + self.pl[r] * self.cfg.kv_bytes_per_token / bw, _KV_READY, r)

    def finish(self, r: int, t: float) -> None:
        """Request ``r`` produced its last token at ``t``."""
        self.done[r] = t
        self.insts[self.tm[r]].sched -= self.kv[r]
        if self.checks["e2e"]:
            self.over(self.checks["e2e"], r, t - self.arr[r])
        if self.checks["tbt"]:
            self.over(self.checks["tbt"], r, (t - self.first[r]) / self.ol[r])

    def over(self, checks: _Checks, r: int, value: float) -> None:
        """Count ``r`` against every limit ``value`` reaches; abort once more requests miss one than it allows."""
        for absolute, allow, cnt, name in checks:
            if value >= absolute[r]:
                cnt[0] += 1
                if cnt[0] > allow:
                    raise _Abort(f"{name} surely violated: {cnt[0]} of {self.n} requests at or over the limit")
            else:
                return  # limits are sorted tightest first: below this one, below the looser ones too

    # --- pools and routing

    def route_split(self, r: int) -> tuple[_Inst, _Inst]:
        """Prompt instance (shortest pending prompt queue) and token instance (least scheduled KV) of ``r``."""
        mixed_on = self.cfg.mixed_pool
        prompt_pool, token_pool, mixed_pool = self.prompt_pool, self.token_pool, self.mixed_pool
        p_len, need = self.pl[r], self.kv[r]
        pi = min(prompt_pool, key=_pending) if prompt_pool else None
        if pi is None or (mixed_on and self._is_long(pi, p_len)):
            cand = min(mixed_pool, key=_pending) if mixed_pool else None
            if cand is not None and (pi is None or not self._is_long(cand, p_len)):
                pi = cand
            elif mixed_on and len(token_pool) > 1:
                pi = min(token_pool, key=_sched)
                self.lend(pi)
        assert pi is not None  # an empty prompt pool means its instances are all in the mixed pool
        ki = min(token_pool, key=_sched) if token_pool else None
        if ki is None or (mixed_on and ki.sched + need > ki.cap):
            fits = [m for m in mixed_pool if m.sched + need <= m.cap]
            if fits:
                ki = min(fits, key=_sched)
            elif mixed_on and len(prompt_pool) > 1:
                ki = min(prompt_pool, key=_pending)
                self.lend(ki)
            elif ki is None:
                ki = min(mixed_pool, key=_sched)
        return pi, ki

    def _is_long(self, m: _Inst, p: int) -> bool:
        return m.pq_tokens > 0 and m.pq_tokens + p > self.cfg.long_queue_tokens

    def lend(self, m: _Inst) -> None:
        """Move ``m`` from its home pool to the mixed pool (it keeps its hardware)."""
        (self.prompt_pool if m.home == PROMPT else self.token_pool).remove(m)
        m.role = MIXED
        self.mixed_pool.append(m)
        self.lent[m.home] += 1
        if self.lent[m.home] > self.lent_peak[m.home]:
            self.lent_peak[m.home] = self.lent[m.home]

    def give_back(self, m: _Inst) -> None:
        """Return an idle lent instance to its home pool (kept in index order)."""
        self.mixed_pool.remove(m)
        m.role = m.home
        self.lent[m.home] -= 1
        pool = self.prompt_pool if m.home == PROMPT else self.token_pool
        pool.append(m)
        pool.sort(key=lambda x: x.i)

    # --- result

    def _result(self, aborted: str | None) -> SimResult:
        busy: dict[str, float] = {}
        count: dict[str, int] = {}
        active: dict[str, float] = {}
        kv_area: dict[str, float] = {}
        kv_cap: dict[str, int] = {}
        for m in self.insts:
            name = ROLE_NAMES[m.home]
            busy[name] = busy.get(name, 0.0) + m.busy_s
            count[name] = count.get(name, 0) + 1
            active[name] = max(active.get(name, 0.0), m.end_t)
            kv_area[name] = kv_area.get(name, 0.0) + m.kv_area  # memory is all released by the end
            kv_cap[name] = kv_cap.get(name, 0) + m.cap
        finished = [d for d in self.done if d == d]
        end = max(finished) if finished else 0.0
        return SimResult(
            ttft_s=np.asarray(self.first, dtype=float) - self.arrival_s,
            e2e_s=np.asarray(self.done, dtype=float) - self.arrival_s,
            oom=self.oom,
            aborted=aborted,
            busy_s=busy,
            instances=count,
            end_s=float(end),
            lent_peak={ROLE_NAMES[k]: v for k, v in self.lent_peak.items()},
            events=self.events,
            active_s=active,
            kv_token_s=kv_area,
            kv_capacity=kv_cap,
        )


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
    return SplitwiseEngine(arrival_s, prompt, output, pools, cfg, abort_limits).run()


def _slo_checks(n: int, abort_limits: list[tuple[SloLimit, np.ndarray]] | None) -> dict[str, _Checks]:
    """Early-stop counters per metric: (absolute limits, violations allowed, count, SLO name), tightest first."""
    checks: dict[str, _Checks] = {"ttft": [], "tbt": [], "e2e": []}
    for lim, absolute in sorted(abort_limits or [], key=lambda la: la[0].limit):
        checks[lim.metric].append((absolute.tolist(), violation_allowance(n, lim.quantile), [0], lim.name))
    return checks


def _pending(m: _Inst) -> int:
    return m.pq_tokens


def _sched(m: _Inst) -> int:
    return m.sched


def _load(m: _Inst) -> int:
    return m.pq_tokens + len(m.heap) + len(m.jq)
