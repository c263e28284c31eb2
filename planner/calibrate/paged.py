"""On-demand (paged) KV admission for the replay: KV grows as tokens are produced, the newest request is evicted when
the cache is full.

The splitwise simulator reserves a request's whole final context (prompt + all output tokens) when its prompt is
admitted, and a request whose reservation does not fit waits. Paged engines do not: TensorRT-LLM's in-flight batching
under its ``MAX_UTILIZATION`` capacity policy (the default of NVIDIA's MLPerf LLM harness, flag
``trtllm_batch_sched_policy=max_util``) allocates KV blocks as a request's context grows and *pauses* requests when
the cache runs out, and vLLM and SGLang likewise allocate pages on demand and preempt a running request (recomputing
its context later) when a step cannot get a page. :class:`PagedKvEngine` replays that, token-exact (blocks are not
modelled: the page rounding is a few tokens per request):

* **Admission.** A prompt joins an iteration while the cache holds its context plus one token (the token its prefill
  produces) beyond what the running decodes need for their next token.
* **Growth.** A decoding request holds its context plus the tokens produced so far. With the decode batch's finish
  iterations ``f_r`` kept in the engine's heap, request ``r`` (final context ``kv_r`` = prompt + output) holds
  ``kv_r - (f_r - it)`` tokens at iteration ``it``, so an instance holds ``sum_r (kv_r - f_r) + n * it``: one running
  sum per instance, exact under pauses (a paused decode's ``f_r`` moves one later and its holding stays).
* **Eviction.** A decode stretch stops at the iteration where the cache would overflow; there, the request admitted
  last is evicted (its KV freed) until the others' next tokens fit, and goes back to the front of the prompt queue
  to recompute its context (prompt + tokens produced) before it continues. Its TTFT stays that of its first token.

**Mixed iterations.** The splitwise engine times a batch of prompts and running decodes as a prompt batch of
``prompt tokens + decodes`` tokens (x ``mixed_batch_factor``): a decode costs one prompt token. With
``additive_mixed`` (``engine.mixed_batch: decode-plus-prompt``) it is the decode iteration of the running batch plus
the prompt batch: ``token_s(decodes) + prompt_s(prompt tokens)``. That is how an in-flight-batching engine with
hundreds of running sequences behaves (TensorRT-LLM's MLPerf engines run up to 1,024): the running decodes' KV reads
and GEMM rows cost what a decode iteration costs, whether or not a prompt rides along; the prompt-curve rule makes an
iteration with 700 decodes and one prompt several times cheaper than the same 700 decodes alone.

Only the baseline pool (``BOTH``, one role per instance) is supported: the replay's serving instance.
"""

from __future__ import annotations

import heapq

import numpy as np

from planner.events import Kind
from planner.splitwise.sim import BOTH, InstanceType, SimConfig, SplitwiseEngine, _Inst

KV_ADMISSION = ("reserve-full", "on-demand")


class PagedKvEngine(SplitwiseEngine):
    """The splitwise engine with on-demand KV allocation and eviction of the newest request (module notes)."""

    def __init__(
        self,
        arrival_s: np.ndarray,
        prompt: np.ndarray,
        output: np.ndarray,
        pools: list[tuple[int, InstanceType, int]],
        cfg: SimConfig,
        additive_mixed: bool = False,
    ) -> None:
        super().__init__(arrival_s, prompt, output, pools, cfg)
        self.additive = additive_mixed
        if any(m.role != BOTH for m in self.insts):
            raise ValueError("on-demand KV admission is modelled for mixed-batching (BOTH) instances only")
        self.ctx: list[int] = list(self.pl)  # tokens the request's next prefill processes (grows on eviction)
        self.todo: list[int] = list(self.ol)  # tokens still to produce at that prefill (its own token included)
        self.held_sum: list[int] = [0] * len(self.insts)  # per instance: sum over its decode heap of (kv_r - f_r)
        self.order: list[int] = [-1] * self.n  # admission order of each request's first prefill
        self.admitted = 0
        self.evictions = 0

    def used(self, m: _Inst) -> int:
        """KV tokens ``m``'s decoding requests hold at its current iteration (module notes: growth)."""
        return self.held_sum[m.i] + len(m.heap) * m.it

    # --- events

    def _release(self, m: _Inst, f: int, r: int, t: float) -> None:
        """Request ``r`` finished decoding on ``m``: what it held (its KV less the growth counted by ``used``) is
        freed."""
        self.held_sum[m.i] -= self.kv[r] - f

    def _after_release(self, m: _Inst, t: float) -> None:
        """Nothing before the next iteration: admission to a paged cache happens when it starts (``start``)."""

    def _end_prompts(self, m: _Inst, t: float) -> None:
        """The prefills of ``m``'s batch produced a token: first tokens (not on a resumption), then decode here."""
        batch, m.cur = m.cur or [], None
        m.pq_tokens -= m.cur_tokens
        for r in batch:
            if self.first[r] != self.first[r]:  # NaN: its first prefill
                self.first[r] = t
            todo = self.todo[r]
            if todo <= 1:
                self.finish(r, t)
                continue
            f = m.it + todo - 1
            self.push_decode(m, f, r)
            self.held_sum[m.i] += self.kv[r] - f

    # --- machines

    def start(self, m: _Inst, t: float) -> None:
        """Begin a prompt batch if one fits, else a decode stretch that ends where the cache would overflow."""
        if m.pq and self._start_prompts(m, t):
            return
        heap = m.heap
        if heap:
            free = m.cap - self.used(m)
            while free < len(heap) and len(heap) > 1:
                free += self._evict_newest(m)
            k = max(heap[0][0] - m.it, 1)
            if free < k * len(heap):
                k = max(free // len(heap), 1)
            nact = len(heap)
            dt = m.tt[nact] if nact < len(m.tt) else m.tt[-1]
            m.cur, m.kend, m.dt, m.t0 = None, k, dt, t
            m.busy, m.end_t = True, t + k * dt
            m.busy_s += k * dt
            self.push(t + k * dt, Kind.DONE, m.i, m.ver)
            return
        m.busy = False

    def _start_prompts(self, m: _Inst, t: float) -> bool:
        """A prompt (or mixed) batch as the splitwise engine forms it, admitting prompts while their KV fits."""
        cfg = self.cfg
        nact = len(m.heap)
        starved = m.starved
        budget = max(cfg.max_batch_tokens - starved, 1)
        free = m.cap - self.used(m) - nact  # after every running decode's next token
        toks = need = 0
        batch: list[int] = []
        pq = m.pq
        while pq and len(batch) + nact < cfg.max_batch_requests:
            r = pq[0]
            p = self.ctx[r]
            if batch and toks + p > budget:
                break
            if need + p + 1 > free:
                break
            pq.popleft()
            batch.append(r)
            if self.order[r] < 0:
                self.order[r] = self.admitted
                self.admitted += 1
            toks += p
            need += p + 1
            if toks >= budget:
                break
        if not batch:
            return False
        self._launch_prompts(m, t, batch, toks, nact, budget - toks, nact - starved)
        return True

    def _prompt_batch_s(self, m: _Inst, toks: int, running: int) -> float:
        """``decode-plus-prompt`` mixed batches: the prompt curve at the prompt tokens plus one decode step of the
        riding decodes; otherwise the splitwise engine's rule."""
        if self.additive and running:
            return m.prompt_time(toks) + (m.tt[running] if running < len(m.tt) else m.tt[-1])
        return super()._prompt_batch_s(m, toks, running)

    def preempt(self, m: _Inst, slots: int) -> int:
        """Pause decodes for one iteration (the splitwise engine's rule); the paused ones' holdings do not grow."""
        running = super().preempt(m, slots)
        self.held_sum[m.i] = sum(self.kv[r] - f for f, r in m.heap)
        return running

    def _evict_newest(self, m: _Inst) -> int:
        """Evict the decoding request admitted last: free its KV, queue it first to recompute; returns tokens freed."""
        heap = m.heap
        pos = max(range(len(heap)), key=lambda i: self.order[heap[i][1]])
        f, r = heap[pos]
        heap[pos] = heap[-1]
        heap.pop()
        heapq.heapify(heap)
        self.decode_left(m, r)
        held = self.kv[r] - f + m.it
        self.held_sum[m.i] -= self.kv[r] - f
        self.ctx[r] = held
        self.todo[r] = f - m.it
        m.pq.appendleft(r)
        m.pq_tokens += held
        self.evictions += 1
        return held
