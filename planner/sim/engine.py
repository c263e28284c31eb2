"""The request-level discrete-event engine: per-request pipelines through a Helix placement.

What happens to a request (Helix reference README sections 12-14; the issue's "Model"):

1. It reaches the coordinator (online: its arrival time; offline: launched by the feeder) and waits in a FIFO.
2. Admission builds its pipeline hop by hop from the source with the IWRR of every node over the plan's flows,
   masking edges under 5 % of the node's outflow and nodes whose expected KV use would pass the high-water mark
   (:mod:`planner.sim.scheduler`). If no pipeline fits it stays at the head of the FIFO until a request finishes;
   if it does not fit even in an empty cluster it is rejected.
3. The prompt goes source -> node -> ... -> sink. Every link adds ``latency + bytes / bandwidth`` and sends FIFO
   (a busy link queues; each direction is its own link, as in the plan). Between nodes a token is the model's
   activation; on coordinator links a token id.
4. Every node runs continuous batching: when idle it takes the queued prompt items (up to the prompt-token budget
   of one iteration, at least one prompt) and the queued decode items (up to the largest measured decode batch)
   and runs them for ``layers x (t_prompt(P) + t_decode(D))`` (:mod:`planner.sim.latency`). In partial mode an
   item may skip the first layers a predecessor already ran; the batch time then sums per layer.
5. The coordinator collects each token: the first ends the prompt phase (prompt latency = arrival to first
   token), each further one is a decode step (per-token latency = time since the previous token). Until the
   request has all its output tokens, the new token goes back to the first node of the same pipeline.
6. Offline, the feeder keeps the cluster saturated as Helix's ``OfflineRequestFeeder`` does: 20 requests 0.1 s
   apart, then one more whenever a prompt or a request completes, while the most used layer's expected KV use
   is at most ``feed_hwm`` (0.8) and no request is waiting for admission.

Measurements cover the window ``[warmup, warmup + duration)``; the run stops at its end.
"""

from __future__ import annotations

from array import array
from collections import deque
from dataclasses import dataclass, field

from planner.events import EventQueue, Kind
from planner.sim.requests import Arrivals, LengthPool, OfflineSampler
from planner.sim.scheduler import InterleavedWRR, KvLedger, KvPolicy
from planner.sim.topology import Topology

#: Offline feeder start: this many requests, ``OFFLINE_INITIAL_GAP_S`` apart (Helix artifact scripts: 20, 0.1 s).
OFFLINE_INITIAL_REQUESTS = 20
OFFLINE_INITIAL_GAP_S = 0.1


@dataclass(frozen=True)
class SimConfig:
    """Options of one simulation run (recorded in the simulation document's ``inputs``)."""

    duration_s: float
    warmup_s: float
    offline: bool
    seed: int = 0
    prompt_batch_tokens: int = 2048
    feed_hwm: float = 0.8
    timeline_buckets: int = 100
    kv: KvPolicy = field(default_factory=lambda: KvPolicy.for_mode(True))

    @property
    def end_s(self) -> float:
        return self.warmup_s + self.duration_s


@dataclass
class NodeCounters:
    """What one node did inside the measurement window."""

    busy_s: float = 0.0
    iterations: int = 0
    prompt_tokens: int = 0
    decode_tokens: int = 0
    kv_integral: float = 0.0  # token-layers x seconds
    kv_peak: float = 0.0  # token-layers
    kv_reserved_peak: float = 0.0


@dataclass
class LinkCounters:
    """What one directed link carried inside the measurement window."""

    busy_s: float = 0.0
    bytes: float = 0.0
    tokens: int = 0


@dataclass
class SimOutcome:
    """Raw results of one run; :mod:`planner.sim.metrics` turns them into the document."""

    config: SimConfig
    prompt_latency_s: array[float]
    token_latency_s: array[float]
    decode_tokens: int
    prompt_tokens: int
    timeline_decode_tokens: list[int]
    timeline_bucket_s: float
    nodes: list[NodeCounters]
    links: list[LinkCounters]
    launched: int
    admitted: int
    completed: int
    rejected: int
    pending_end: int
    in_flight_end: int
    events: int
    simulated_s: float
    warnings: list[str]
    hops_total: int = 0  # nodes on the pipelines of all admitted requests


class Engine:
    """One simulation of one placement under one request stream. Build, then :meth:`run` once."""

    def __init__(
        self,
        topo: Topology,
        cfg: SimConfig,
        pool: LengthPool,
        arrivals: Arrivals | None,
    ) -> None:
        if not cfg.offline and arrivals is None:
            raise ValueError("online simulation needs arrivals")
        self.topo = topo
        self.cfg = cfg
        self.arrivals = arrivals
        self.sampler = OfflineSampler(pool, cfg.seed) if cfg.offline else None
        self.expected_output = pool.mean_output_tokens * cfg.kv.output_ratio
        n = len(topo.nodes)
        self.n = n
        self.sink, self.source = topo.sink, topo.source
        self.q = EventQueue()
        self.now = 0.0
        # scheduling state
        self.iwrr: dict[int, InterleavedWRR] = {
            u: InterleavedWRR([s.target for s in succ], [s.flow_tok_s for s in succ])
            for u, succ in topo.successors.items()
        }
        self.link_of: dict[tuple[int, int], int] = {
            (u, s.target): s.link for u, succ in topo.successors.items() for s in succ
        }
        self.ledger = KvLedger(
            [nd.kv_capacity_token_layers for nd in topo.nodes],
            [nd.layer_start for nd in topo.nodes],
            [nd.layer_end for nd in topo.nodes],
            topo.layers,
            cfg.kv.hwm,
        )
        # request state (parallel lists indexed by request id)
        self.r_in: list[int] = []
        self.r_out: list[int] = []
        self.r_gen: list[int] = []
        self.r_arr: list[float] = []
        self.r_last: list[float] = []
        self.r_route: list[tuple[int, ...]] = []
        self.r_layers: list[tuple[int, ...]] = []
        self.r_expect: list[float] = []
        self.pending: deque[int] = deque()
        # node state
        self.busy = [False] * n
        self.start_pending = [False] * n
        self.prompt_q: list[deque[tuple[int, int]]] = [deque() for _ in range(n)]
        self.decode_q: list[deque[tuple[int, int]]] = [deque() for _ in range(n)]
        self.batch: list[list[tuple[int, int, bool]]] = [[] for _ in range(n)]
        self.batch_start = [0.0] * n
        self.kv_used = [0.0] * n
        self.kv_t = [0.0] * n
        self.prompt_budget = [min(cfg.prompt_batch_tokens, nd.latency.max_prompt_tokens) for nd in topo.nodes]
        self.node_stats = [NodeCounters() for _ in range(n)]
        # link state
        self.link_free = [0.0] * len(topo.links)
        self.link_stats = [LinkCounters() for _ in topo.links]
        # measurements
        self.prompt_lat = array("d")
        self.token_lat = array("d")
        self.decode_tokens = 0
        self.prompt_tokens = 0
        self.bucket_s = cfg.end_s / cfg.timeline_buckets
        self.timeline = [0] * cfg.timeline_buckets
        self.launched = self.admitted = self.completed = self.rejected = 0
        self.hops_total = 0
        self.warnings: list[str] = []
        for nd in topo.nodes:
            if nd.kv_capacity_token_layers <= 0 and nd.index in self._routed_nodes():
                self.warnings.append(
                    f"{nd.name}: weights of {nd.layers} layers ({nd.weight_bytes / 1e9:.1f} GB) fill its usable "
                    f"memory ({nd.usable_bytes / 1e9:.1f} GB): no KV cache, it admits no request"
                )

    def _routed_nodes(self) -> set[int]:
        return {s.target for succ in self.topo.successors.values() for s in succ}

    # ------------------------------------------------------------------------------------------ window helpers
    def _overlap(self, a: float, b: float) -> float:
        lo = max(a, self.cfg.warmup_s)
        hi = min(b, self.cfg.end_s)
        return hi - lo if hi > lo else 0.0

    def _kv_touch(self, node: int) -> None:
        """Integrate the node's actual KV occupancy up to now (time-weighted mean for the report)."""
        dt = self._overlap(self.kv_t[node], self.now)
        if dt > 0:
            self.node_stats[node].kv_integral += self.kv_used[node] * dt
        self.kv_t[node] = self.now

    # ------------------------------------------------------------------------------------------ links
    def _send(self, src: int, dst: int, items: list[tuple[int, int]], nbytes: float, tokens: int) -> None:
        """Send ``items`` over the link src->dst: FIFO, ``latency + bytes / bandwidth``; deliver at the far end."""
        li = self.link_of[(src, dst)]
        link = self.topo.links[li]
        start = self.now if self.now > self.link_free[li] else self.link_free[li]
        tx = nbytes / link.bandwidth_bytes_s
        self.link_free[li] = start + tx
        st = self.link_stats[li]
        busy = self._overlap(start, start + tx)
        if busy > 0:
            st.busy_s += busy
        if self.cfg.warmup_s <= start < self.cfg.end_s:
            st.bytes += nbytes
            st.tokens += tokens
        self.q.push(start + tx + link.latency_s, Kind.DELIVER, dst, items)

    def _send_from_source(self, groups: dict[int, list[tuple[int, int]]], prompt: bool) -> None:
        r_in, tb = self.r_in, self.topo.token_bytes
        for first in sorted(groups):
            items = groups[first]
            tokens = sum(r_in[rid] for rid, _ in items) if prompt else len(items)
            self._send(self.source, first, items, tokens * tb, tokens)

    # ------------------------------------------------------------------------------------------ admission
    def _route(self, rid: int) -> bool:
        """Choose the request's pipeline hop by hop (IWRR with masks); reserve its expected KV on success."""
        topo, ledger = self.topo, self.ledger
        nodes, sink, layers_total = topo.nodes, self.sink, topo.layers
        expect = self.r_expect[rid]
        workload = float(self.r_in[rid])
        node, pos = self.source, 0
        route: list[int] = []
        hop_layers: list[int] = []
        charged: list[tuple[InterleavedWRR, int]] = []

        def admissible(target: int) -> bool:
            if target == sink:
                return pos == layers_total
            return ledger.can_admit(target, expect * (nodes[target].layer_end - pos))

        while node != sink:
            iw = self.iwrr.get(node)
            choice = iw.choose(workload, admissible) if iw is not None else None
            if iw is None or choice is None or len(route) > self.n:
                for w, i in charged:
                    w.undo(i, workload)
                return False
            charged.append((iw, choice))
            node = iw.targets[choice]
            if node != sink:
                route.append(node)
                hop_layers.append(nodes[node].layer_end - pos)
                pos = nodes[node].layer_end
        for nd, m in zip(route, hop_layers, strict=True):
            ledger.reserve(nd, expect * m)
            st = self.node_stats[nd]
            if ledger.reserved[nd] > st.kv_reserved_peak:
                st.kv_reserved_peak = ledger.reserved[nd]
        self.r_route[rid] = tuple(route)
        self.r_layers[rid] = tuple(hop_layers)
        return True

    def _new_request(self, input_tokens: int, output_tokens: int) -> None:
        rid = len(self.r_in)
        self.r_in.append(input_tokens)
        self.r_out.append(output_tokens)
        self.r_gen.append(0)
        self.r_arr.append(self.now)
        self.r_last.append(self.now)
        self.r_route.append(())
        self.r_layers.append(())
        self.r_expect.append(float(int(input_tokens + self.expected_output)))
        self.launched += 1
        self.pending.append(rid)
        self._drain_pending()

    def _drain_pending(self) -> None:
        """Admit waiting requests in FIFO order; stop at the first that does not fit (no overtaking)."""
        groups: dict[int, list[tuple[int, int]]] = {}
        while self.pending:
            rid = self.pending[0]
            if not self._route(rid):
                if self.ledger.idle:  # does not fit even in an empty cluster
                    self.pending.popleft()
                    self.rejected += 1
                    continue
                break
            self.pending.popleft()
            self.admitted += 1
            self.hops_total += len(self.r_route[rid])
            groups.setdefault(self.r_route[rid][0], []).append((rid, 0))
        if groups:
            self._send_from_source(groups, prompt=True)

    def _feed(self) -> None:
        """Offline feeder: one more request while the bottleneck layer's expected KV use is under ``feed_hwm``."""
        if self.sampler is None or self.now >= self.cfg.end_s or self.pending:
            return
        if self.ledger.bottleneck_usage() <= self.cfg.feed_hwm:
            inp, out = self.sampler.draw()
            self._new_request(inp, out)

    # ------------------------------------------------------------------------------------------ nodes
    def _wake(self, node: int) -> None:
        if not self.busy[node] and not self.start_pending[node]:
            self.start_pending[node] = True
            self.q.push(self.now, Kind.START, node)

    def _start(self, node: int) -> None:
        """Form the next batch (continuous batching) and schedule its end."""
        self.start_pending[node] = False
        pq, dq = self.prompt_q[node], self.decode_q[node]
        if not pq and not dq:
            return
        nd = self.topo.nodes[node]
        lat = nd.latency
        r_in = self.r_in
        batch: list[tuple[int, int, bool]] = []
        p_tokens = 0
        budget = self.prompt_budget[node]
        while pq and (not batch or p_tokens + r_in[pq[0][0]] <= budget):
            rid, hop = pq.popleft()
            p_tokens += r_in[rid]
            batch.append((rid, hop, True))
        d_tokens = 0
        d_max = lat.max_decode_tokens
        while dq and d_tokens < d_max:
            rid, hop = dq.popleft()
            d_tokens += 1
            batch.append((rid, hop, False))
        k = nd.layers
        if self.topo.mode == "strict":
            duration = k * (lat.prompt_s[p_tokens] + lat.decode_s[d_tokens])
        else:
            duration = self._partial_batch_s(node, batch)
        self.busy[node] = True
        self.batch[node] = batch
        self.batch_start[node] = self.now
        self.q.push(self.now + duration, Kind.DONE, node)

    def _partial_batch_s(self, node: int, batch: list[tuple[int, int, bool]]) -> float:
        """Batch time when items run different suffixes of the node's layers (partial inference)."""
        lat = self.topo.nodes[node].latency
        by_layers: dict[int, list[int]] = {}
        r_layers, r_in = self.r_layers, self.r_in
        for rid, hop, is_prompt in batch:
            m = r_layers[rid][hop]
            acc = by_layers.setdefault(m, [0, 0])
            if is_prompt:
                acc[0] += r_in[rid]
            else:
                acc[1] += 1
        total, p, d = 0.0, 0, 0
        ms = sorted(by_layers, reverse=True)
        for i, m in enumerate(ms):
            p += by_layers[m][0]
            d += by_layers[m][1]
            nxt = ms[i + 1] if i + 1 < len(ms) else 0
            total += (m - nxt) * (lat.prompt_s[p] + lat.decode_s[d])
        return total

    def _done(self, node: int) -> None:
        """A node finished an iteration: account, forward every item to its next hop, start again."""
        self.busy[node] = False
        batch = self.batch[node]
        self.batch[node] = []
        st = self.node_stats[node]
        busy = self._overlap(self.batch_start[node], self.now)
        in_window = self.cfg.warmup_s <= self.now < self.cfg.end_s
        if busy > 0:
            st.busy_s += busy
        self._kv_touch(node)
        r_in, r_route, r_layers = self.r_in, self.r_route, self.r_layers
        sink, act = self.sink, self.topo.activation_bytes
        groups: dict[int, list[tuple[int, int]]] = {}
        tokens_to: dict[int, int] = {}
        kv_add = 0
        p_tok = d_tok = 0
        for rid, hop, is_prompt in batch:
            tokens = r_in[rid] if is_prompt else 1
            kv_add += tokens * r_layers[rid][hop]
            if is_prompt:
                p_tok += tokens
            else:
                d_tok += 1
            route = r_route[rid]
            nxt = route[hop + 1] if hop + 1 < len(route) else sink
            g = groups.get(nxt)
            if g is None:
                groups[nxt] = g = []
                tokens_to[nxt] = 0
            g.append((rid, hop + 1))
            tokens_to[nxt] += tokens
        self.kv_used[node] += kv_add
        if in_window:
            st.iterations += 1
            st.prompt_tokens += p_tok
            st.decode_tokens += d_tok
            if self.kv_used[node] > st.kv_peak:
                st.kv_peak = self.kv_used[node]
        tb = self.topo.token_bytes
        for nxt in sorted(groups):
            items = groups[nxt]
            if nxt == sink:
                self._send(node, nxt, items, len(items) * tb, tokens_to[nxt])
            else:
                self._send(node, nxt, items, tokens_to[nxt] * act, tokens_to[nxt])
        if self.prompt_q[node] or self.decode_q[node]:
            self._wake(node)

    def _deliver(self, target: int, items: list[tuple[int, int]]) -> None:
        if target == self.sink:
            self._collect(items)
            return
        r_gen = self.r_gen
        pq, dq = self.prompt_q[target], self.decode_q[target]
        for item in items:
            if r_gen[item[0]] == 0:
                pq.append(item)
            else:
                dq.append(item)
        self._wake(target)

    # ------------------------------------------------------------------------------------------ coordinator
    def _collect(self, items: list[tuple[int, int]]) -> None:
        """Tokens reach the coordinator: record latencies, finish requests, send the next decode steps."""
        now = self.now
        in_window = self.cfg.warmup_s <= now < self.cfg.end_s
        bucket = min(int(now / self.bucket_s), len(self.timeline) - 1)
        r_gen, r_out, r_last = self.r_gen, self.r_out, self.r_last
        groups: dict[int, list[tuple[int, int]]] = {}
        finished: list[int] = []
        prompts_done = 0
        for rid, _ in items:
            if r_gen[rid] == 0:
                prompts_done += 1
                if in_window:
                    self.prompt_lat.append(now - self.r_arr[rid])
                    self.prompt_tokens += self.r_in[rid]
            else:
                self.timeline[bucket] += 1
                if in_window:
                    self.token_lat.append(now - r_last[rid])
                    self.decode_tokens += 1
            r_gen[rid] += 1
            r_last[rid] = now
            if r_gen[rid] >= r_out[rid]:
                finished.append(rid)
            else:
                groups.setdefault(self.r_route[rid][0], []).append((rid, 0))
        if groups:
            self._send_from_source(groups, prompt=False)
        for rid in finished:
            self._finish(rid)
        if finished:
            self._drain_pending()
        for _ in range(prompts_done + len(finished)):
            self._feed()

    def _finish(self, rid: int) -> None:
        """Free the request's KV cache (actual and expected) on every hop of its pipeline."""
        self.completed += 1
        held = self.r_in[rid] + self.r_gen[rid] - 1
        for nd, m in zip(self.r_route[rid], self.r_layers[rid], strict=True):
            self._kv_touch(nd)
            self.kv_used[nd] -= held * m
            self.ledger.release(nd, self.r_expect[rid] * m)

    # ------------------------------------------------------------------------------------------ main loop
    def run(self) -> SimOutcome:
        end = self.cfg.end_s
        arrivals = self.arrivals
        next_arrival = 0
        if self.cfg.offline:
            for i in range(OFFLINE_INITIAL_REQUESTS):
                self.q.push(i * OFFLINE_INITIAL_GAP_S, Kind.ARRIVAL, -1)
        elif arrivals is not None and len(arrivals):
            self.q.push(float(arrivals.arrival_s[0]), Kind.ARRIVAL, 0)
        events = 0
        q = self.q
        while q.heap:
            t, kind, _, target, payload = q.pop()
            if t >= end:
                break
            self.now = t
            events += 1
            if kind == Kind.DELIVER:
                self._deliver(target, payload)
            elif kind == Kind.DONE:
                self._done(target)
            elif kind == Kind.START:
                self._start(target)
            elif target < 0:  # offline initial launch
                assert self.sampler is not None
                inp, out = self.sampler.draw()
                self._new_request(inp, out)
            else:
                assert arrivals is not None
                i = target
                self._new_request(int(arrivals.input_tokens[i]), int(arrivals.output_tokens[i]))
                next_arrival = i + 1
                if next_arrival < len(arrivals):
                    self.q.push(float(arrivals.arrival_s[next_arrival]), Kind.ARRIVAL, next_arrival)
        self.now = end
        for node in range(self.n):
            self._kv_touch(node)
        in_flight = self.admitted - self.completed
        return SimOutcome(
            config=self.cfg,
            prompt_latency_s=self.prompt_lat,
            token_latency_s=self.token_lat,
            decode_tokens=self.decode_tokens,
            prompt_tokens=self.prompt_tokens,
            timeline_decode_tokens=self.timeline,
            timeline_bucket_s=self.bucket_s,
            nodes=self.node_stats,
            links=self.link_stats,
            launched=self.launched,
            admitted=self.admitted,
            completed=self.completed,
            rejected=self.rejected,
            pending_end=len(self.pending),
            in_flight_end=in_flight,
            events=events,
            simulated_s=end,
            warnings=self.warnings,
            hops_total=self.hops_total,
        )
