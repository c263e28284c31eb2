"""Served throughput of a Helix placement: what a saturated cluster actually delivers, not its max-flow bound.

The max-flow objective counts a node's static tp(k) and ignores that requests in flight are bounded by the KV cache
left after the weights, and that a path's throughput is its requests in flight over its per-token latency
(Little's law). A 24-hop chain has a large max flow but cannot hold the requests it would need. This module
predicts, from the shared node model (:mod:`planner.profiles.nodeperf`) and the placement's routing flows:

1. **Requests in flight** ``N`` (saturated, as ``plan simulate --offline`` feeds): a request reserves
   ``E`` token-layers on every layer it crosses, ``E`` = prompt + expected output of the requests *in flight*
   (length-biased: long requests stay longer, ``E = E[(I + O_mean) O] / E[O]``). Feeding stops when the most
   loaded layer reaches ``feed_hwm`` (0.8) of the KV capacity of the nodes holding it, and a node admits while
   its reservation stays under ``admit_hwm`` (0.85) of its capacity. The scheduler (IWRR) sends *new* requests
   over the paths in proportion to their flows, and a request stays ``O`` per-token latencies ``tau_p`` of its
   path, so path ``p`` holds requests in proportion to ``phi_p tau_p`` (Little's law; a slow path holds more than
   its flow share): a fixed point with the latencies below.
   ``N = min(0.8 min_l cap_l / E, min_i 0.85 cap_i / (share_i E k_i))``. When a node is full the scheduler does
   not follow the flow's paths: it chooses hop by hop among the plan's edges (those above ``MIN_FLOW_SHARE`` of a
   node's outflow) and skips full next hops, so requests go *around* full nodes on routes that mix pieces of several
   paths, and admission stalls only at a node whose every next hop is full. Where every path crosses a full node
   before the feeder's budget but the routed fill (:func:`_routed_fill`) still places requests, the cluster holds
   the routed fill's (seventeenth session: on het-42's reserve-0.3 placement 798.6 predicted in flight, a stall
   read from the paths, against 1,261.9 routed and about 1,220 in the simulator).
2. **Per-token latency** of path ``p``: the sum over its hops of the node residence and the link time. Two
   regimes, told apart by the routing (measured on the simulator: 1.4-4.5 waves per cycle where a node is fed by
   one stream, 5-20 where streams join):

   * a node fed by **one stream** (all its flow from one predecessor) sees *waves*: continuous batching passes a
     batch on as a whole, so node ``i`` decodes ``D_i = N_i / W_i`` tokens per iteration, ``N_i`` the requests
     through it and ``W_i = N_i^0.2`` waves per cycle, an empirical law of the simulator's offline dynamics
     (waves form at start-up and merge slowly; the one fitted law), with the prompts of new requests riding
     with the waves (one per ``O - 1`` decode tokens): ``k_i (t_dec(D_i) + t_pre(I) D_i / (O - 1)) (1 + rho_i)``,
     ``rho_i`` the busy share, plus M/G/1 queueing on its links;
   * a node on an **isolated pipeline** (a path sharing no node with another: separate pipelines, a lone chain)
     decodes its requests in *one* wave (nothing splits a wave there, waves caught behind prompts merge; measured
     0.9-1.2 waves), the prompts in their own iterations; the wave waits behind the prompt its own completions
     launched, ``(1 - exp(-D / (O - 1))) (k t_pre(I) - k t_dec(D))`` a hop (unless its requests exceed the
     decode batch cap: then the wave law);
   * a node where **streams join** sees the messages of several senders arriving apart (every batch is split
     among the next hops). Each message is a piece of a sender's wave, and pieces of one wave meet again, so its
     decode batch is a wave too: ``N_i / W_i`` as at a chain node (measured on the simulator: 20-157 tokens per
     iteration, token-weighted, where arrivals spread out at random would give 2-24). A token waits for the rest
     of a prompt iteration in progress, or of a decode iteration of *another* stream (its own stream's messages
     come one sender iteration apart), then runs its decode iteration. Caught behind a prompt, it stays behind
     it (a convoy): at each later such hop it waits for the prompt's rest, ``t_pre - t_dec(previous)``, and on
     each link for the rest of the prompt's transfer.
   At every node the per-token latency is at least the time the node needs to pass one token of each request it
   holds (time conservation, :func:`_cycle_floor_s`): the queueing terms above stop at 95 % busy, and a node asked
   for more than it can run (one GPU holding a whole small model with hundreds of requests) was otherwise
   predicted above the served bound.
3. **Throughput**: path ``p`` holds ``N_p = N phi_p / Phi`` requests, each producing one decode token per
   ``tau_p`` while decoding (a share ``(O - 1) / O`` of its life), so decode tokens/s = ``sum_p N_p (O - 1) /
   (O tau_p)``; prompt tokens/s follow at ``I / (O - 1)`` per decode token. ``rho`` and ``tau`` are iterated to a
   fixed point. What ``plan simulate --offline`` measures in its window (60 s + 600 s) is that rate times the
   share of the requests in flight the feeder has launched by then: it keeps 20 prompts in the pipeline, so
   requests in flight grow at ``min(20 / P, C)`` per second (``P`` the prompt latency, ``C`` the prompt
   throughput of the busiest hop) -- minutes where prompts cross slow links (:func:`_fill_share`).

   **Separate pipelines that stall** (seventh session; measured with ``scripts/helix_sim_admission.py``): the
   scheduler builds a route hop by hop without going back, so a pipeline whose *first* node is full is skipped at
   the coordinator, while one whose *later* node is full fails the route and blocks the FIFO and the feeder until a
   completion (IWRR's charges undone, the same choice again). The steady state of that (the blocking pipeline full,
   the others at IWRR parity with it, flow x latency) is not what the window measures: a pipeline masked at its first
   node in the fill falls behind in IWRR load and, first in IWRR's order afterwards, stays full until it has made up
   the lag (the paper's A100 pipeline: until ~300 s); the others hold their fill cohorts until their lives end. The
   window's average is derived from the fill (flow parity), the stalled steady state, the catch-up and the workload's
   output lengths (:func:`_stall_window`).

4. **Latency online** (p50 / p99 per token, :mod:`planner.helix.online`): the workload's arrivals replayed at
   ``ONLINE_LOAD`` (0.6) of the predicted prompt + decode capacity exactly as ``plan simulate --load`` replays
   them (trace order, time axis scaled, 60 + 600 s), the load of every node second by second, and each token's
   trip hop by hop: the rest of the iteration in progress (not its own stream's), its decode iteration, its
   links, and the convoy behind a prompt it got caught behind. No fitted constant.

Everything rests on the measured per-layer latencies (or the labelled roofline where a GPU has none), the
analytic KV capacity and the workload's lengths and arrivals; the prediction says so in ``basis``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from planner.helix.contract import MIN_FLOW_SHARE
from planner.helix.flow import FlowResult
from planner.helix.instance import SINK, SOURCE, HelixInstance, HelixNode
from planner.helix.online import (
    OFFLINE_INITIAL_REQUESTS,
    SIM_DURATION_S,
    SIM_WARMUP_S,
    Link,
    WaveLaw,
    online_quantiles,
    replay,
)
from planner.paths import SHIPPED_PROFILES, display_path
from planner.profiles.db import ProfileDB
from planner.profiles.nodeperf import NodePerf, Workload, node_perf
from planner.profiles.schema import ModelProfile

#: The Helix length filter (the simulator's defaults): prompts <= 2048, outputs <= 1024, at least 4 tokens each.
MAX_INPUT_TOKENS = 2048
MAX_OUTPUT_TOKENS = 1024
MIN_TOKENS = 4
DEFAULT_TRACE = SHIPPED_PROFILES / "traces" / "azure_llm_2023_conv.csv"
EPS = 1e-9
#: Offered load of the latency prediction: the share of the predicted capacity (``plan simulate --load``).
ONLINE_LOAD = 0.6


@dataclass(frozen=True)
class ServedWorkload:
    """Mean lengths of the requests, and the expected KV reservation of a request in flight (length-biased)."""

    input_tokens: float
    output_tokens: float
    inflight_tokens: float
    source: str
    input_samples: tuple[float, ...] = ()
    output_samples: tuple[float, ...] = ()
    arrival_samples: tuple[float, ...] = ()

    @property
    def tokens_per_request(self) -> float:
        return self.input_tokens + self.output_tokens

    @property
    def node_workload(self) -> Workload:
        return Workload(self.input_tokens, self.output_tokens)

    @classmethod
    def from_lengths(
        cls, inputs: np.ndarray, outputs: np.ndarray, source: str, arrivals: np.ndarray | None = None
    ) -> ServedWorkload:
        i = np.asarray(inputs, dtype=float)
        o = np.asarray(outputs, dtype=float)
        mean_o = float(o.mean())
        biased = float(((i + mean_o) * o).mean() / mean_o)
        arr = tuple(float(v) for v in np.asarray(arrivals, dtype=float)) if arrivals is not None else ()
        return cls(float(i.mean()), mean_o, biased, source, tuple(float(v) for v in i), tuple(float(v) for v in o), arr)

    @classmethod
    def from_means(cls, input_tokens: float, output_tokens: float, source: str) -> ServedWorkload:
        return cls(input_tokens, output_tokens, input_tokens + output_tokens, source)


def trace_workload(path: Path) -> ServedWorkload:
    """The workload of an Azure-schema trace after the Helix length filter (as ``plan simulate`` reads it)."""
    from planner.workload import load_trace

    reqs = load_trace(path)
    keep = (
        (reqs.input_tokens >= MIN_TOKENS)
        & (reqs.output_tokens >= MIN_TOKENS)
        & (reqs.input_tokens <= MAX_INPUT_TOKENS)
        & (reqs.output_tokens <= MAX_OUTPUT_TOKENS)
    )
    return ServedWorkload.from_lengths(
        reqs.input_tokens[keep],
        reqs.output_tokens[keep],
        f"trace {display_path(path)} (Helix length filter)",
        reqs.arrival_s[keep],
    )


@dataclass(frozen=True)
class ServedParams:
    """The simulator's offline admission policy, and the two constants of the wave model (module docstring)."""

    feed_hwm: float = 0.8
    admit_hwm: float = 0.85
    waves: float = 1.0
    wait_factor: float = 1.0
    waves_exponent: float = 0.2
    gpu_memory_utilization: float = 0.9


@dataclass
class PathPrediction:
    nodes: list[str]
    flow_tok_s: float
    in_flight: float = 0.0
    token_ms: float = 0.0
    decode_tok_s: float = 0.0


@dataclass
class Prediction:
    """Predicted served throughput and latency of one placement (offline, saturated)."""

    decode_tok_s: float
    prompt_tok_s: float
    in_flight: float
    token_latency_ms: float
    token_latency_p50_ms: float
    token_latency_p99_ms: float
    kv_limit: str
    basis: str
    paths: list[PathPrediction] = field(default_factory=list)
    #: Requests of the online replay that arrive inside the measured window: what the p50 / p99 rest on.
    online_window_requests: int = 0

    @property
    def total_tok_s(self) -> float:
        return self.decode_tok_s + self.prompt_tok_s

    def block(self) -> dict[str, Any]:
        top = sorted(self.paths, key=lambda p: (-p.flow_tok_s, p.nodes))[:10]
        return {
            "decode_tok_s": self.decode_tok_s,
            "prompt_tok_s": self.prompt_tok_s,
            "total_tok_s": self.total_tok_s,
            "in_flight_requests": self.in_flight,
            "token_latency_mean_ms": self.token_latency_ms,
            "token_latency_p50_ms": self.token_latency_p50_ms,
            "token_latency_p99_ms": self.token_latency_p99_ms,
            "online_window_requests": self.online_window_requests,
            "kv_limit": self.kv_limit,
            "basis": self.basis,
            "paths": [
                {
                    "nodes": p.nodes,
                    "flow_tok_s": p.flow_tok_s,
                    "in_flight_requests": p.in_flight,
                    "token_ms": p.token_ms,
                    "decode_tok_s": p.decode_tok_s,
                }
                for p in top
            ],
        }


def _paths(flow: FlowResult) -> list[tuple[list[str], float]]:
    from planner.helix.latency import decompose

    return decompose(flow)


class ServedModel:
    """Predicts served throughput for placements of one instance (node models cached per node type)."""

    def __init__(
        self,
        db: ProfileDB | None,
        model: ModelProfile,
        workload: ServedWorkload,
        params: ServedParams | None = None,
        latency_mode: str = "auto",
        perf: Mapping[str, NodePerf] | None = None,
        online_duration_s: float = SIM_DURATION_S,
    ) -> None:
        self.db = db
        self.model = model
        self.workload = workload
        self.params = params or ServedParams()
        self.latency_mode = latency_mode
        #: The online window predicted after the warm-up (``plan simulate --duration``): the default's 600 s in every
        #: plan; longer in ``scripts/helix_agreement.py --min-requests``, where a low rate needs it for a p99.
        self.online_duration_s = online_duration_s
        self._perf: dict[tuple[str, int, str], NodePerf] = {}
        self._by_name: dict[str, NodePerf] = dict(perf or {})
        self._grids: dict[int, np.ndarray] = {}
        self._sorted_outputs: np.ndarray | None = None
        #: When a dict, :meth:`predict` records each node's decode batch and token residence in it (for
        #: ``scripts/helix_sim_nodes.py``, which puts them next to the simulator's).
        self.debug: dict[str, Any] | None = None

    def perf(self, node: HelixNode) -> NodePerf:
        if node.name in self._by_name:
            return self._by_name[node.name]
        key = (node.gpu, node.gpus_per_node, node.profile_gpu)
        if key not in self._perf:
            assert self.db is not None
            self._perf[key] = node_perf(
                self.db, self.model, node.gpu, node.gpus_per_node, node.profile_gpu, self.workload.node_workload,
                mode=self.latency_mode,
            )  # fmt: skip
        return self._perf[key]

    def _outputs(self) -> np.ndarray:
        """The workload's output lengths, sorted (the mean alone when the workload has no samples)."""
        if self._sorted_outputs is None:
            o = self.workload.output_samples or (self.workload.output_tokens,)
            self._sorted_outputs = np.sort(np.asarray(o, dtype=float))
        return self._sorted_outputs

    def _grid(self, latency: Any) -> np.ndarray:
        """The dense prompt-latency list of a node type as an array (converted once per node type)."""
        key = id(latency)
        if key not in self._grids:
            self._grids[key] = np.asarray(latency.prompt_s, dtype=float)
        return self._grids[key]

    def basis(self, nodes: list[HelixNode]) -> str:
        provs = sorted({self.perf(n).provenance for n in nodes})
        lat = (
            "measured per-layer latency (helix_layer_latency)"
            if provs and all(p != "roofline" for p in provs)
            else "per-layer latency: " + "+".join(provs) + " (roofline where no table rows)"
        )
        return (
            f"{lat}; analytic KV capacity (VRAM x {self.params.gpu_memory_utilization} - weights, GQA-aware); "
            f"workload {self.workload.source}: {self.workload.input_tokens:.1f} + {self.workload.output_tokens:.1f} "
            f"tokens; requests over the paths in proportion to flow x per-token latency (IWRR arrivals, Little's law); "
            f"decode batch N / W, W = {self.params.waves:g} x N^{self.params.waves_exponent:g} waves a cycle (fitted), "
            "one wave on isolated pipelines (behind the prompts their completions launch); arrivals spread out with "
            "prompt convoys where streams join"
        )

    def predict(
        self,
        inst: HelixInstance,
        ranges: Mapping[str, tuple[int, int]],
        flow: FlowResult,
        online_rate_rps: float | None = None,
    ) -> Prediction:
        """Offline served throughput of the placement routed by ``flow`` (module docstring); latency quantiles
        online at ``online_rate_rps`` requests/s (default: ``ONLINE_LOAD`` of the predicted capacity)."""
        wl, prm = self.workload, self.params
        i_tok, o_tok = wl.input_tokens, wl.output_tokens
        o_dec = max(o_tok - 1.0, 1.0)
        paths = [PathPrediction(nodes, f) for nodes, f in _paths(flow) if f > EPS]
        held = {
            n.name: ranges[n.name] for n in inst.nodes if n.name in ranges and ranges[n.name][1] > ranges[n.name][0]
        }
        used_nodes = [inst.node(n) for n in held]
        basis = self.basis(used_nodes) if used_nodes else "no placement"
        total = sum(p.flow_tok_s for p in paths)
        if not paths or total <= EPS:
            return Prediction(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, "no path carries flow", basis)
        k = {n: e - s for n, (s, e) in held.items()}
        cap = {n: self.perf(inst.node(n)).kv_capacity(k[n]) for n in held}
        layer_cap = [0.0] * inst.layers
        for n, (s, e) in held.items():
            for layer in range(s, e):
                layer_cap[layer] += cap[n] / k[n]
        per_req = wl.inflight_tokens
        worst_layer = min(range(inst.layers), key=lambda layer: (layer_cap[layer], layer))
        lat = {n: self.perf(inst.node(n)).latency for n in held}
        run = _layers_run(paths, held)
        edges = inst.edge_map
        hops = [list(zip([SOURCE, *p.nodes], [*p.nodes, SINK], strict=True)) for p in paths]
        # Streams: the flow a node receives from each predecessor (the coordinator's regrouping for a first hop
        # counts as the path's last node). A node fed by one stream sees waves; a node where streams join sees the
        # messages of several senders arriving apart (module docstring, point 2).
        through: dict[str, float] = {}
        pair: dict[tuple[str, str], float] = {}
        for p in paths:
            for j, n in zip([f"<{p.nodes[-1]}", *p.nodes[:-1]], p.nodes, strict=True):
                pair[(j, n)] = pair.get((j, n), 0.0) + p.flow_tok_s
                through[n] = through.get(n, 0.0) + p.flow_tok_s
        widest: dict[str, float] = {}
        for (_, n), f in pair.items():
            widest[n] = max(widest.get(n, 0.0), f)
        joins = {n for n in held if n in through and widest[n] < SINGLE_STREAM * through[n]}
        isolated = _rings(paths)
        rings: set[str] = set()
        t_pre1 = {n: run.get(n, k[n]) * lat[n].prompt_at(i_tok) for n in held}
        record = self.debug is not None  # per-node residence is for the diagnostic script only, not the search
        residence: dict[str, list[float]] = {}
        rho = {n: 0.0 for n in held}
        link_wait = {hop: 0.0 for hp in hops for hop in hp}
        spread: dict[str, _Spread] = {}
        lam_link: dict[tuple[str, str], float] = {}
        batch: dict[str, float] = {}
        n_node: dict[str, float] = {}
        it_s: dict[str, float] = {}
        # Requests enter the paths in proportion to their flows (the simulator's IWRR counts assignments and never
        # gives them back) and each stays O per-token latencies of its path, so a path holds requests in proportion
        # to flow x per-token latency (Little's law): a fixed point with the latencies (module docstring, point 1).
        weights = [p.flow_tok_s for p in paths]
        hops_of = _next_hops(flow)
        succ = _successors(hops_of)
        budget = _feed_budget(layer_cap[worst_layer], per_req, prm)
        routed: tuple[float, dict[str, float], str] | None = None  # the routed fill, once the paths run out
        n_total, kv_limit, stalled = 0.0, "", False
        for _ in range(LIFETIME_ROUNDS):
            for p in paths:
                p.in_flight = 0.0
            n_total, kv_limit, stalled = _fill(
                paths, weights, held, k, cap, layer_cap[worst_layer], worst_layer, per_req, prm, succ
            )
            n_node = {n: 0.0 for n in held}
            for p in paths:
                for n in p.nodes:
                    n_node[n] += p.in_flight
            if not stalled and EPS < n_total < budget - EPS and routed is None:
                routed = _routed_fill(hops_of, held, k, cap, (worst_layer, layer_cap[worst_layer]), per_req, prm)
            if not stalled and routed is not None and routed[0] > n_total + EPS and n_total > EPS:
                # Every path crosses a full node, yet the scheduler still finds routes around them: it chooses hop
                # by hop among the plan's edges, so a request mixes pieces of several paths. What the cluster holds
                # is the routed fill's; each path keeps its share, each node the routed fill's load.
                scale = routed[0] / n_total
                for p in paths:
                    p.in_flight *= scale
                n_total, n_node = routed[0], {n: routed[1].get(n, 0.0) for n in held}
                kv_limit = routed[2]
            # Decode batch N_i / W_i, one wave per cycle on an isolated pipeline (a ring: nothing there splits a wave,
            # and waves merge behind prompts). An iteration takes at most the node's decode batch cap (the engine's
            # max_decode_tokens), so a ring whose requests exceed it runs several waves a cycle, which queue and meet
            # prompts as waves elsewhere do: it takes the wave law.
            rings = {n for n in isolated if n_node[n] <= lat[n].max_decode_tokens}
            batch = {
                n: (
                    min(max(n_node[n] / (1.0 if n in rings else _waves(n_node[n], prm)), 1.0), lat[n].max_decode_tokens)
                    if n_node[n] > 0
                    else 0.0
                )
                for n in held
            }
            it_s = {n: _iteration_s(lat[n], run.get(n, k[n]), batch[n], i_tok, o_dec, n in rings) for n in held}
            dec_s = {n: _iteration_s(lat[n], run.get(n, k[n]), batch[n], i_tok, o_dec, True) for n in held}
            ring_s = {n: it_s[n] + _ring_wait(batch[n], o_dec, t_pre1[n], it_s[n]) for n in rings}  # fixed this round
            msg = {hop: _message(inst, edges, hop, batch, i_tok, o_dec, rings) for hp in hops for hop in hp}
            for _ in range(60):
                before = [p.decode_tok_s for p in paths]
                residence.clear()
                floor = {
                    n: (
                        _cycle_floor_s(n_node[n], spread[n].batch, spread[n].decode_s, t_pre1[n], o_dec)
                        if n in spread
                        else _cycle_floor_s(n_node[n], batch[n], dec_s[n], t_pre1[n], o_dec)
                    )
                    for n in held
                }
                for p, hp in zip(paths, hops, strict=True):
                    tau = 0.0
                    caught = 0.0  # probability the token travels behind a prompt (a convoy) from here on
                    prev_dec = 0.0
                    preds = [f"<{p.nodes[-1]}", *p.nodes[:-1]]
                    for idx_h, h in enumerate(hp):
                        u, v = h
                        link = edges.get(h)
                        if link is None or u == SOURCE or v == SINK or not (u in spread or v in spread):
                            tau += msg[h][0] + msg[h][1] + link_wait[h]
                        else:
                            # A token's own share of its sender's batch; behind a prompt's transfer when it travels
                            # in a convoy, else when one is in progress (and then in that prompt's convoy).
                            c = inst.activation_bytes / link.bandwidth_bytes_s
                            d_u = spread[u].batch if u in spread else batch[u]
                            tx_pre = i_tok * c
                            rate = lam_link.get(h, 0.0)
                            prompts = rate / o_dec
                            busy = min(1.0, prompts * tx_pre)
                            # M/G/1 (Pollaczek-Khinchine) behind decode messages and prompt transfers on the link.
                            util = min(rate * c + prompts * tx_pre, 0.95)
                            queue = (rate / max(d_u, 1.0) * (d_u * c) ** 2 + prompts * tx_pre**2) / (2.0 * (1.0 - util))
                            tau += link.latency_s + d_u * c
                            tau += caught * max(0.0, tx_pre - prev_dec) + (1 - caught) * queue
                            caught += (1 - caught) * busy
                        if v == SINK:
                            break
                        n, j = v, preds[idx_h]
                        if n in spread:
                            sp = spread[n]
                            other = 1.0 - pair[(j, n)] / through[n]  # decode iterations of other streams only
                            wait = (
                                sp.busy_prompt * (sp.prompt_s + sp.decode_s) / 2
                                + sp.busy_decode * other * sp.decode_s / 2
                            )
                            here = sp.decode_s + (1 - caught) * wait + caught * max(0.0, sp.prompt_s - prev_dec)
                            caught += (1 - caught) * sp.busy_prompt
                            prev_dec = sp.decode_s
                        elif n in rings:
                            here = ring_s[n]
                            prev_dec = it_s[n]
                            caught = 0.0
                        else:
                            here = it_s[n] * (1.0 + prm.wait_factor * min(rho[n], 0.95))
                            prev_dec = it_s[n]
                            caught = 0.0
                        tau += here
                        if record:
                            acc = residence.setdefault(n, [0.0, 0.0])
                            acc[0] += here * p.flow_tok_s
                            acc[1] += p.flow_tok_s
                    # Time conservation: a path's token comes no faster than its busiest node passes one token of
                    # each request it holds (the queueing terms above stop at 95 % busy and would not see it).
                    tau = max(tau, max(floor[n] for n in p.nodes))
                    p.token_ms = tau * 1e3
                    p.decode_tok_s = p.in_flight * o_dec / (o_tok * tau) if tau > 0 else 0.0
                lam = {n: 0.0 for n in held}
                lam_link = {h: 0.0 for h in msg}
                for p, hp in zip(paths, hops, strict=True):
                    for n in p.nodes:
                        lam[n] += p.decode_tok_s
                    for h in hp:
                        lam_link[h] += p.decode_tok_s
                for n in joins:
                    spread[n] = _spread_node(lat[n], run.get(n, k[n]), batch[n], lam[n], lam[n] / o_dec, t_pre1[n])
                new = {n: (lam[n] / batch[n] * it_s[n] if batch[n] > EPS else 0.0) for n in held}
                change = max((abs(new[n] - rho[n]) for n in held), default=0.0)
                change = max(
                    [change] + [abs(p.decode_tok_s - b) / max(b, 1e-6) for p, b in zip(paths, before, strict=True)]
                )
                rho = {n: 0.5 * rho[n] + 0.5 * new[n] for n in held}
                for h, (_, mean, second) in msg.items():
                    d = batch.get(h[1] if h[1] != SINK else h[0], 0.0)
                    rate = lam_link[h] / d if d > EPS else 0.0  # waves per second on the link
                    util = min(rate * mean, 0.95)
                    wait = rate * second / (2.0 * (1.0 - util))  # M/G/1 queueing behind earlier transfers
                    change = max(change, abs(wait - link_wait[h]))
                    link_wait[h] = 0.5 * link_wait[h] + 0.5 * wait
                if change < 1e-6:
                    break
            shares = [p.flow_tok_s * p.token_ms for p in paths]
            if min(shares) <= 0:
                break
            moved = max(abs(a / sum(shares) - b / sum(weights)) for a, b in zip(shares, weights, strict=True))
            weights = shares
            if moved < LIFETIME_TOLERANCE:
                break
        if self.debug is not None:
            self.debug["nodes"] = {
                n: {
                    "batch": spread[n].batch if n in spread else batch[n],
                    "residence_ms": 1e3 * acc[0] / acc[1] if acc[1] > 0 else 0.0,
                    "join": n in joins,
                    "ring": n in rings,
                    "in_flight": n_node[n],
                    "iteration_ms": 1e3 * (spread[n].decode_s if n in spread else it_s[n]),
                }
                for n, acc in residence.items()
            }
        if stalled and all(n in isolated for p in paths for n in p.nodes):
            # Separate pipelines whose admission stalls: what the window measures is the way there from the fill
            # (:func:`_stall_window`), not the stalled steady state alone.
            steady = [p.in_flight for p in paths]
            for p in paths:
                p.in_flight = 0.0
            _fill(
                paths,
                [p.flow_tok_s for p in paths],
                held,
                k,
                cap,
                layer_cap[worst_layer],
                worst_layer,
                per_req,
                prm,
                succ,
            )
            filled = [p.in_flight for p in paths]
            room = _rooms(held, k, cap, per_req, prm)
            most = [max(min(room[n] for n in p.nodes), 0.0) for p in paths]
            growth = _fill_growth(inst, paths, hops, lat, run, k, i_tok)
            held_avg = _stall_window(paths, filled, steady, most, self._outputs(), growth)
            for p, avg in zip(paths, held_avg, strict=True):
                p.in_flight = avg
                p.decode_tok_s = avg * o_dec / (o_tok * p.token_ms * 1e-3) if p.token_ms > 0 else 0.0
            n_total = sum(held_avg)
        else:
            fill = _fill_share(inst, paths, hops, lat, run, k, n_total, i_tok)
            for p in paths:
                p.decode_tok_s *= fill
        decode = sum(p.decode_tok_s for p in paths)
        prompt = decode * i_tok / o_dec
        mean_ms = sum(p.token_ms * p.decode_tok_s for p in paths) / decode if decode > 0 else 0.0
        pred = Prediction(decode, prompt, n_total, mean_ms, 0.0, 0.0, kv_limit, basis, paths)
        run_k = {n: run.get(n, float(k[n])) for n in held}
        pred.token_latency_p50_ms, pred.token_latency_p99_ms, pred.online_window_requests = self._online_quantiles(
            inst,
            paths,
            hops,
            lat,
            run_k,
            online_rate_rps if online_rate_rps is not None else pred.total_tok_s * ONLINE_LOAD / wl.tokens_per_request,
        )
        return pred

    def _online_quantiles(
        self,
        inst: HelixInstance,
        paths: list[PathPrediction],
        hops: list[list[tuple[str, str]]],
        lat: Mapping[str, Any],
        run_k: Mapping[str, float],
        rate_rps: float,
    ) -> tuple[float, float, int]:
        """p50 / p99 per-token latency online, the workload's arrivals replayed at ``rate_rps`` as
        ``plan simulate --load`` replays them (:mod:`planner.helix.online`), and the replayed requests that arrive
        inside the measured window (at low rates a handful: the p99 then rests on the few prompts among them)."""
        wl = self.workload
        if rate_rps <= 0 or not paths:
            return 0.0, 0.0, 0
        edges = inst.edge_map
        links: list[list[Link]] = []
        for hp in hops:
            row = []
            for u, v in hp:
                e = edges.get((u, v))
                size = inst.token_bytes if (u == SOURCE or v == SINK) else inst.activation_bytes
                row.append(Link(e.latency_s, size / e.bandwidth_bytes_s) if e is not None else Link(0.0, 0.0))
            links.append(row)
        requests = replay(
            wl.arrival_samples,
            wl.input_samples,
            wl.output_samples,
            (wl.input_tokens, wl.output_tokens),
            rate_rps,
            SIM_WARMUP_S + self.online_duration_s,
        )
        law = WaveLaw(self.params.waves, self.params.waves_exponent, frozenset(_rings(paths)))
        p50, p99 = online_quantiles([(p.nodes, p.flow_tok_s) for p in paths], links, lat, run_k, requests, law)
        return p50, p99, int(np.count_nonzero(requests.arrival_s >= SIM_WARMUP_S))


#: Rounds of the fixed point between the requests' split over the paths and the paths' per-token latencies, and the
#: change of a path's share (of all requests) below which it has converged.
LIFETIME_ROUNDS = 8
LIFETIME_TOLERANCE = 1e-3


def _rings(paths: list[PathPrediction]) -> set[str]:
    """Nodes of isolated pipelines: paths that share no node with any other path (separate pipelines, a lone chain).

    Nothing on such a ring splits a wave (every node has one predecessor and one successor, and every iteration takes
    all that is queued), and waves caught behind a prompt merge, so its requests decode in one wave: the simulator's
    token-weighted decode batch on the shipped isolated pipelines is 0.9-1.2 times the node's requests in flight
    (``scripts/helix_sim_nodes.py``)."""
    count: dict[str, int] = {}
    for p in paths:
        for n in p.nodes:
            count[n] = count.get(n, 0) + 1
    return {n for p in paths if all(count[x] == 1 for x in p.nodes) for n in p.nodes}


def _iteration_s(lat: Any, layers: float, batch: float, i_tok: float, o_dec: float, ring: bool) -> float:
    """A node's decode iteration for a wave of ``batch`` tokens: off a ring, the prompts of new requests ride with
    the waves (``batch / (O - 1)`` per iteration); on a ring the prompts run in their own iterations (a token rides
    with a prompt 0-9 % of the time there, measured) and the wave waits for them instead (:func:`_ring_wait`)."""
    d = min(batch, lat.max_decode_tokens)
    if ring:
        return float(layers * lat.decode_at(d))
    return float(layers * (lat.decode_at(d) + lat.prompt_at(i_tok) * batch / o_dec))


def _cycle_floor_s(requests: float, batch: float, decode_s: float, prompt_s: float, o_dec: float) -> float:
    """The least time a node needs to pass one token of each of its ``requests`` (time conservation): their decode
    tokens in ``requests / batch`` iterations of ``decode_s`` each, and the prompts their completions launch (one per
    ``O - 1`` decode tokens, ``prompt_s`` each at this node); iteration times add (``k (t_pre(P) + t_dec(D))``).

    A path's per-token latency is at least this at each of its nodes. Its queueing terms stop at 95 % busy, so
    without it a node asked for more than it can run was predicted at more than it can serve: one H100 holding all
    of Llama 3.1 8B with 300 requests, 151 % busy, predicted 7,892 decode tokens/s where the served bound allows
    fewer for the whole cluster."""
    if requests <= 0 or batch <= 0:
        return 0.0
    return requests / batch * decode_s + requests / o_dec * prompt_s


def _ring_wait(batch: float, o_dec: float, prompt_s: float, decode_s: float) -> float:
    """What a ring's wave waits at one hop behind the prompt it follows.

    Each completion of one of the wave's requests launches a new request (the offline feeder refills what a
    completion frees), whose prompt enters the ring with the wave and then runs ahead of it, slower per hop: the wave
    catches it up and waits, at every later hop, for the rest of the prompt's iteration, ``t_pre - t_dec``. The wave
    has such a prompt when at least one of its ``batch`` requests completes in the cycle (each with probability
    ``1 / (O - 1)`` per token): ``1 - exp(-batch / (O - 1))``."""
    return float((1.0 - np.exp(-batch / o_dec)) * max(0.0, prompt_s - decode_s))


def _message(
    inst: HelixInstance,
    edges: Mapping[tuple[str, str], Any],
    hop: tuple[str, str],
    batch: Mapping[str, float],
    i_tok: float,
    o_dec: float,
    rings: set[str],
) -> tuple[float, float, float]:
    """(latency, mean, second moment) of one wave's transfer on ``hop``: D tokens plus the prompts riding with it
    (Poisson, mean D / (O - 1), I tokens each; none on a ring, where prompts travel on their own), FIFO on the link."""
    u, v = hop
    e = edges.get(hop)
    if e is None:
        return 0.0, 0.0, 0.0
    size = inst.token_bytes if (u == SOURCE or v == SINK) else inst.activation_bytes
    node = v if v != SINK else u
    d = batch.get(node, 0.0)
    c = size / e.bandwidth_bytes_s
    m = 0.0 if node in rings else d / o_dec
    mean = c * (d + i_tok * m)
    return e.latency_s, mean, c * c * ((d + i_tok * m) ** 2 + i_tok * i_tok * m)


def _waves(in_flight: float, prm: ServedParams) -> float:
    """Waves per cycle through a node holding ``in_flight`` requests (``W`` x N^exponent, at least 1)."""
    return max(prm.waves * in_flight**prm.waves_exponent, 1.0) if prm.waves_exponent else prm.waves


def _fill_share(
    inst: HelixInstance,
    paths: list[PathPrediction],
    hops: list[list[tuple[str, str]]],
    lat: Mapping[str, Any],
    run: Mapping[str, float],
    k: Mapping[str, int],
    in_flight: float,
    i_tok: float,
) -> float:
    """Share of the saturated decode rate ``plan simulate --offline`` measures while the cluster is still filling.

    The offline feeder starts ``OFFLINE_INITIAL_REQUESTS`` (20) requests and launches one more per completed prompt
    (or request): the prompts in the pipeline stay at 20, so requests in flight grow by ``g = min(20 / P, C)``
    per second, ``P`` the prompt latency of a path (its prompt iterations and transfers, flow-weighted) and ``C``
    the prompt throughput of the busiest hop (a node runs a prompt in ``k t_pre(I)``, a link sends it in
    ``I x activation bytes / bandwidth``, each carrying its share of the flow). Requests in flight
    ``min(N, 20 + g t)``, averaged over the measured window (60 s + 600 s, the simulator's defaults), over ``N``.
    On links of 12.5 MB/s a prompt takes a second to send: the geo-24 Swarm plan fills for ~5 minutes."""
    if sum(p.flow_tok_s for p in paths) <= 0 or in_flight <= OFFLINE_INITIAL_REQUESTS:
        return 1.0
    growth = _fill_growth(inst, paths, hops, lat, run, k, i_tok)
    start, end = SIM_WARMUP_S, SIM_WARMUP_S + SIM_DURATION_S
    full_at = (in_flight - OFFLINE_INITIAL_REQUESTS) / growth
    if full_at <= start:
        return 1.0
    ramp_end = min(full_at, end)
    ramp = (ramp_end - start) * OFFLINE_INITIAL_REQUESTS + growth * (ramp_end**2 - start**2) / 2.0
    return (ramp + in_flight * (end - ramp_end)) / (in_flight * (end - start))


def _fill_growth(
    inst: HelixInstance,
    paths: list[PathPrediction],
    hops: list[list[tuple[str, str]]],
    lat: Mapping[str, Any],
    run: Mapping[str, float],
    k: Mapping[str, int],
    i_tok: float,
) -> float:
    """Requests in flight gained per second while the offline feeder fills the cluster, ``min(20 / P, C)``
    (:func:`_fill_share`)."""
    total = sum(p.flow_tok_s for p in paths)
    latency = 0.0
    share: dict[object, float] = {}
    hop_s: dict[object, float] = {}
    for p, hp in zip(paths, hops, strict=True):
        w = p.flow_tok_s / total
        t = 0.0
        for n in p.nodes:
            hop_s[n] = run.get(n, k[n]) * lat[n].prompt_at(i_tok)
            share[n] = share.get(n, 0.0) + w
            t += hop_s[n]
        for h in hp:
            e = inst.edge_map.get(h)
            if e is None:
                continue
            size = inst.token_bytes if (h[0] == SOURCE or h[1] == SINK) else inst.activation_bytes
            hop_s[h] = i_tok * size / e.bandwidth_bytes_s
            share[h] = share.get(h, 0.0) + w
            t += e.latency_s + hop_s[h]
        latency += w * t
    capacity = min((1.0 / (hop_s[h] * share[h]) for h in hop_s if hop_s[h] > 0), default=float("inf"))
    return float(min(OFFLINE_INITIAL_REQUESTS / latency if latency > 0 else float("inf"), capacity))


def _stall_window(
    paths: list[PathPrediction],
    filled: list[float],
    steady: list[float],
    most: list[float],
    outputs: np.ndarray,
    growth: float,
) -> list[float]:
    """Requests in flight per separate pipeline averaged over the measured window (60 s + 600 s), when admission
    stalls at a pipeline's later node (``plan simulate --offline``, measured with ``scripts/helix_sim_admission.py``).

    The scheduler builds a route hop by hop without going back. A pipeline whose *first* node is full is masked at
    the coordinator and the request goes to another one (no IWRR charge); one whose *later* node is full fails the
    route, and the head of the FIFO (and the feeder behind it) waits for a completion, choosing the same pipeline
    again (IWRR charges are undone). So:

    * **fill**: requests go to the pipelines in proportion to their flows (nothing completes yet), a pipeline full at
      its first node drops out, until a later node fills (``filled``, the water-filling with the flows as weights);
      the feeder gets there at ``growth`` requests/s (:func:`_fill_growth`);
    * **stalled steady state** (``steady``, flow x latency): the blocking pipeline holds ``most`` requests and admits
      one per completion, the others are admitted at IWRR parity with it;
    * **from the fill to it**: a pipeline neither full nor masked holds its fill cohort, which completes as its
      output lengths say (a request lives ``O`` per-token latencies ``tau``: survival ``S(u / tau)``), and gains the
      steady state's admissions (``steady x F_e(u / tau)``, ``F_e(x) = E[min(O, x)] / E[O]``);
    * **catch-up**: a pipeline masked at its first node in the fill has an IWRR load *behind* the others by what it
      missed (the others' level per unit flow x its flow, minus what it holds): it comes first in IWRR's order, so
      every completion that frees it room refills it at once; it stays full until its surplus admissions
      (``(most - steady) / (E[O] tau)`` a second) have made up the lag, then relaxes to the steady state
      (the full population's residual lives, ``1 - F_e``).

    On the paper's separate pipelines the A100 pipeline (20 layers an A100-40G: ~14 requests, masked at its first
    node from the first seconds) is behind the L4 and T4 by ~80 units of IWRR load at the end of the fill and
    catches up at ~300 s, halfway through the window."""
    o = outputs
    n_o = len(o)
    cum = np.concatenate(([0.0], np.cumsum(o)))
    mean_o = float(cum[-1] / n_o)

    def survival(x: np.ndarray) -> np.ndarray:
        return 1.0 - np.searchsorted(o, x, side="right") / n_o

    def residual_cdf(x: np.ndarray) -> np.ndarray:
        idx = np.searchsorted(o, x, side="right")
        return (cum[idx] + x * (n_o - idx)) / (n_o * mean_o)

    start, end = SIM_WARMUP_S, SIM_WARMUP_S + SIM_DURATION_S
    t = np.arange(start, end, 1.0) + 0.5
    total0 = sum(filled)
    t0 = max(total0 - OFFLINE_INITIAL_REQUESTS, 0.0) / growth if growth > 0 else 0.0
    ramp = np.minimum(1.0, (OFFLINE_INITIAL_REQUESTS + growth * t) / total0) if total0 > 0 else np.ones_like(t)
    u = np.maximum(t - t0, 0.0)
    level = max((n / p.flow_tok_s for p, n in zip(paths, filled, strict=True) if p.flow_tok_s > EPS), default=0.0)
    out = []
    for p, n0, n_inf, n_max in zip(paths, filled, steady, most, strict=True):
        tau = p.token_ms * 1e-3
        if tau <= 0:
            out.append(n_inf)
            continue
        full0, full_inf = n0 >= n_max - 1e-6, n_inf >= n_max - 1e-6
        if full_inf:
            after = np.full_like(t, n_max)
        elif full0:
            lag = max(level * p.flow_tok_s - n_max, 0.0)
            t1 = lag * mean_o * tau / (n_max - n_inf)
            v = np.maximum(u - t1, 0.0) / tau
            after = np.where(u < t1, n_max, n_inf + (n_max - n_inf) * (1.0 - residual_cdf(v)))
        else:
            after = n0 * survival(u / tau) + n_inf * residual_cdf(u / tau)
        n_t = np.where(t < t0, n0 * ramp, after)
        out.append(float(n_t.mean()))
    return out


#: A node receiving at least this share of its flow from one predecessor is fed by a single stream (waves).
SINGLE_STREAM = 0.999


@dataclass(frozen=True)
class _Spread:
    """A node where streams join, saturated: decode iteration, its batch, the prompt iteration, and the time shares
    spent in prompt and in decode-only iterations."""

    decode_s: float
    batch: float
    prompt_s: float
    busy_prompt: float
    busy_decode: float


def _spread_node(lat: Any, k: float, batch: float, decode_rate: float, prompt_rate: float, prompt_s: float) -> _Spread:
    """A node where streams join: its decode iterations hold the senders' waves (``batch`` tokens, the wave law of
    the chain nodes), its prompt iterations the prompts that arrived during one (at least one); the time shares it
    spends in prompt and in decode-only iterations follow from the rates.

    Arrivals spread out at random would give a decode batch of what arrives during one cycle (2-24 tokens on the
    shipped layouts); the simulator's join nodes decode 20-157 tokens per iteration (token-weighted, measured with
    ``scripts/helix_sim_nodes.py``), as its chain nodes do: a sender passes its whole iteration on, so the messages
    that meet at a join node are waves, not single tokens."""
    d = min(max(batch, 1.0), float(lat.max_decode_tokens))
    t = k * lat.decode_at(d)
    per_prompt_iteration = max(1.0, prompt_rate * prompt_s)
    t_pre = prompt_s * per_prompt_iteration
    busy_prompt = min(1.0, prompt_rate / per_prompt_iteration * (t_pre + t))
    busy_decode = min(1.0 - busy_prompt, max(decode_rate / d - prompt_rate / per_prompt_iteration, 0.0) * t)
    return _Spread(t, d, t_pre, busy_prompt, busy_decode)


def _layers_run(paths: list[PathPrediction], held: Mapping[str, tuple[int, int]]) -> dict[str, float]:
    """Layers each node runs, flow-weighted over its paths: all it holds (strict), or, with partial inference,
    only those above what the previous hop ran."""
    acc: dict[str, list[float]] = {}
    for p in paths:
        pos = 0
        for n in p.nodes:
            start, end = held[n]
            m = end - max(start, pos)
            a = acc.setdefault(n, [0.0, 0.0])
            a[0] += m * p.flow_tok_s
            a[1] += p.flow_tok_s
            pos = end
    return {n: a[0] / a[1] for n, a in acc.items() if a[1] > 0}


def _next_hops(flow: FlowResult) -> dict[str, list[tuple[str, float]]]:
    """The next hops the scheduler may send a request to from each node (the coordinator included), with their edge
    flows: the plan's edges that carry at least ``MIN_FLOW_SHARE`` of the node's outflow (the IWRR mask, Helix
    section 12). The scheduler chooses among these hop by hop, not among the paths of a flow decomposition."""
    out: dict[str, float] = {}
    for (a, _), f in flow.edge_flow.items():
        out[a] = out.get(a, 0.0) + max(f, 0.0)
    hops: dict[str, list[tuple[str, float]]] = {}
    for (a, b), f in sorted(flow.edge_flow.items()):
        if f > EPS and f >= MIN_FLOW_SHARE * out[a]:
            hops.setdefault(a, []).append((b, f))
    for a, total in out.items():  # more than 20 tiny edges: the scheduler keeps the largest rather than none
        if total > EPS and a not in hops:
            b, f = max(((b, f) for (u, b), f in sorted(flow.edge_flow.items()) if u == a), key=lambda e: e[1])
            hops[a] = [(b, f)]
    return hops


def _successors(hops: Mapping[str, list[tuple[str, float]]]) -> dict[str, set[str]]:
    """The compute nodes each compute node may send a request to (:func:`_next_hops` without the coordinator)."""
    succ = {a: {b for b, _ in out if b != SINK} for a, out in hops.items() if a != SOURCE}
    return {a: nodes for a, nodes in succ.items() if nodes}


def _feed_budget(worst_cap: float, per_req: float, prm: ServedParams) -> float:
    """Requests the feeder places before the thinnest layer's KV is ``feed_hwm`` reserved (each crosses every layer
    once)."""
    return prm.feed_hwm * worst_cap / per_req + 1.0


def _rooms(
    held: Mapping[str, tuple[int, int]],
    k: Mapping[str, int],
    cap: Mapping[str, float],
    per_req: float,
    prm: ServedParams,
) -> dict[str, float]:
    """Requests each node admits before its reservation reaches ``admit_hwm`` of its KV capacity."""
    return {n: prm.admit_hwm * cap[n] / (per_req * k[n]) for n in held}


def _routed_fill(
    hops: Mapping[str, list[tuple[str, float]]],
    held: Mapping[str, tuple[int, int]],
    k: Mapping[str, int],
    cap: Mapping[str, float],
    worst: tuple[int, float],
    per_req: float,
    prm: ServedParams,
) -> tuple[float, dict[str, float], str] | None:
    """Requests in flight as the scheduler routes them hop by hop over ``hops`` (:func:`_next_hops`): from the
    coordinator each node sends its share on to its next hops in proportion to their edge flows, skipping those whose
    KV admission is full (``admit_hwm``), until the feeder's budget (``feed_hwm`` of the thinnest layer ``worst``:
    index, capacity) or a node whose every next hop is full (admission stalls there). Returns the requests placed,
    each node's load and what stopped it; None when the coordinator has no edge."""
    if SOURCE not in hops:
        return None
    order = [SOURCE, *sorted(held, key=lambda n: (held[n][1], held[n][0], n))]  # every hop ends further on
    room = _rooms(held, k, cap, per_req, prm)
    budget = _feed_budget(worst[1], per_req, prm)
    load = {n: 0.0 for n in held}
    full: set[str] = set()
    placed = 0.0
    while placed < budget - EPS:
        share = {SOURCE: 1.0}
        for a in order:
            x = share.get(a, 0.0)
            if x <= EPS:
                continue
            free = [(b, f) for b, f in hops.get(a, []) if b not in full and (b == SINK or b in held)]
            if not free:
                return placed, load, f"node {a}: every next hop's KV admission is full, admission stalls"
            total = sum(f for _, f in free)
            for b, f in free:
                share[b] = share.get(b, 0.0) + x * f / total
        step, binding = budget - placed, None
        for n in sorted(held):
            u = share.get(n, 0.0)
            if u > EPS and n not in full and room[n] / u < step:
                step, binding = room[n] / u, n
        for n in held:
            load[n] += step * share.get(n, 0.0)
            room[n] -= step * share.get(n, 0.0)
        placed += step
        if binding is None:
            break
        full.add(binding)
    return (
        placed,
        load,
        (
            f"layer {worst[0]} KV ({prm.feed_hwm:g} of the capacity of its nodes), requests routed around "
            f"{len(full)} full node{'s' if len(full) != 1 else ''}"
        ),
    )


def _dead_end(paths: list[PathPrediction], node: str, full: set[str], succ: Mapping[str, set[str]]) -> bool:
    """Whether a path reaches ``node`` (now full) through a predecessor whose every successor the scheduler may
    choose (``succ``: the plan's edges, not only the paths still being filled) is full."""
    for p in paths:
        if node in p.nodes[1:]:
            before = p.nodes[p.nodes.index(node) - 1]
            if succ.get(before, set()) <= full:
                return True
    return False


def _fill(
    paths: list[PathPrediction],
    weights: list[float],
    held: Mapping[str, tuple[int, int]],
    k: Mapping[str, int],
    cap: Mapping[str, float],
    worst_cap: float,
    worst_layer: int,
    per_req: float,
    prm: ServedParams,
    succ: Mapping[str, set[str]],
) -> tuple[float, str, bool]:
    """Requests in flight per path: water-filling in proportion to ``weights`` (flow x per-token latency: IWRR sends
    requests in proportion to the flows, each stays its lifetime) until a node's admission limit masks its paths
    (the rest take the overflow) or the bottleneck layer stops the feeder; and whether admission stalls there (a
    full node the routes reach with no other hop)."""
    layer_budget = _feed_budget(worst_cap, per_req, prm)
    room = _rooms(held, k, cap, per_req, prm)  # requests node n can still admit
    weight = {id(p): w for p, w in zip(paths, weights, strict=True)}
    active = [p for p in paths if all(room.get(n, 0.0) > 0 for n in p.nodes)]
    placed, limit = 0.0, "no node admits a request"
    while active and placed < layer_budget - EPS:
        flow = sum(weight[id(p)] for p in active)
        use: dict[str, float] = {}
        for p in active:
            for n in p.nodes:
                use[n] = use.get(n, 0.0) + weight[id(p)] / flow
        step = layer_budget - placed
        binding = None
        for n in sorted(use):
            if use[n] > EPS and room[n] / use[n] < step:
                step, binding = room[n] / use[n], n
        for p in active:
            p.in_flight += step * weight[id(p)] / flow
        for n, u in use.items():
            room[n] -= step * u
        placed += step
        if binding is None:
            limit = f"layer {worst_layer} KV ({prm.feed_hwm:g} of the capacity of its nodes)"
            break
        limit = f"node {binding} KV admission ({prm.admit_hwm:g} of its capacity)"
        full = {n for n in room if room[n] <= EPS}
        if _dead_end(active, binding, full, succ):
            # The scheduler fixes a route hop by hop without going back: a request sent towards a full node with no
            # sibling left stays at the head of the queue, and the feeder waits for a completion there.
            limit += "; the routes through it have no other hop: admission stalls"
            return placed, limit, True
        active = [p for p in active if all(room[n] > EPS for n in p.nodes)]
    return placed, limit, False


def served_model_for(loaded: Any, db: ProfileDB) -> ServedModel:
    """The served model of a loaded spec: its model, and its workload (trace, length means, else the default trace).

    ``plan simulate`` replays the shipped conversation trace by default; a spec naming a trace or lengths is
    honoured (lengths without a trace: no length bias is known, a request in flight reserves prompt + output).
    """
    wl_spec = loaded.spec.workload
    workload: ServedWorkload | None = None
    if wl_spec is not None and wl_spec.trace:
        path = Path(wl_spec.trace)
        if not path.is_absolute():
            path = (loaded.path.parent / path).resolve()
        workload = trace_workload(path)
    elif wl_spec is not None and wl_spec.input_tokens is not None and wl_spec.output_tokens is not None:
        i_mean, o_mean = _dist_mean(wl_spec.input_tokens), _dist_mean(wl_spec.output_tokens)
        if i_mean is not None and o_mean is not None:
            workload = ServedWorkload.from_means(i_mean, o_mean, "spec workload length means")
    if workload is None:
        workload = trace_workload(DEFAULT_TRACE)
    return ServedModel(db, loaded.model, workload)


def _dist_mean(dist: Any) -> float | None:
    if dist.mean is not None:
        return float(dist.mean)
    if dist.distribution == "uniform" and dist.max is not None:
        return float(dist.min + dist.max) / 2.0
    return None


def served_block(prediction: Prediction, search: Any, objective: str) -> Any:
    """The plan's ``served`` block (contract :class:`planner.helix.contract.HelixServed`): the prediction, what it
    rests on, and the search that chose the placement."""
    from planner.helix.contract import HelixServed

    out: dict[str, Any] = {"objective": objective, **prediction.block()}
    if search is not None:
        out["upper_bound_decode_tok_s"] = search.upper_bound_tok_s
        out["search"] = {
            "chosen": search.best.source,
            "candidates": [c.row() for c in search.candidates],
            "not_tried_time_limit": search.skipped,
        }
    return HelixServed.model_validate(out)


def served_metrics(prediction: Prediction, search: Any) -> dict[str, float | None]:
    out: dict[str, float | None] = {
        "predicted_decode_tok_s": prediction.decode_tok_s,
        "predicted_total_tok_s": prediction.total_tok_s,
        "predicted_token_latency_p50_ms": prediction.token_latency_p50_ms,
        "predicted_token_latency_p99_ms": prediction.token_latency_p99_ms,
        "predicted_in_flight_requests": prediction.in_flight,
    }
    if search is not None:
        out["served_upper_bound_tok_s"] = search.upper_bound_tok_s
    return out


def served_assumption(prediction: Prediction) -> Any:
    from planner.solver import Assumption

    return Assumption(
        subject="predicted_decode_tok_s",
        basis="analytic",
        detail=f"served throughput of the placement, saturated (plan simulate --offline): {prediction.basis}; "
        f"requests in flight bounded by {prediction.kv_limit} (docs/helix.md, Served throughput)",
    )


def predict_plan_block(
    block: Mapping[str, Any], model: ServedModel, online_rate_rps: float | None = None
) -> Prediction:
    """The prediction for a helix plan block as written (its nodes, layer ranges, edges and edge flows).

    Lets ``plan helix`` figures be checked against any plan file, including plans written by other tools.
    """
    from planner.helix.instance import HelixEdge

    nodes = tuple(
        HelixNode(
            name=str(n["name"]),
            gpu=str(n["gpu"]),
            gpus_per_node=int(n.get("gpus_per_node", 1)),
            region=str(n.get("region", "default")),
            profile_gpu=str(n["profile_gpu"]),
            max_layers=int(n.get("max_layers") or (n["layer_end"] - n["layer_start"])),
            tp_tok_s=(),
        )
        for n in block["nodes"]
    )
    edges = tuple(
        HelixEdge(str(e["src"]), str(e["dst"]), float(e.get("capacity_tok_s") or 0.0), float(e["bandwidth_bytes_s"]),
                  float(e["latency_s"]))
        for e in block["edges"]
    )  # fmt: skip
    act = model.model.activation_bytes_per_token
    tok = 2 if model.model.vocab_size <= 65536 else 4
    inst = HelixInstance(str(block.get("model", "")), model.model.name, int(block["layers"]), nodes, edges, tok, act)
    ranges = {str(n["name"]): (int(n["layer_start"]), int(n["layer_end"])) for n in block["nodes"]}
    flow = FlowResult(
        value=sum(float(e["flow_tok_s"]) for e in block["edges"] if e["src"] == SOURCE),
        node_capacity={},
        node_inflow={},
        edge_flow={(str(e["src"]), str(e["dst"])): float(e["flow_tok_s"]) for e in block["edges"]},
        edges=list(edges),
    )
    return model.predict(inst, ranges, flow, online_rate_rps)
