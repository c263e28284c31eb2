"""Per-token latency of a Helix placement online: the requests ``plan simulate --load`` replays, hop by hop.

``plan simulate`` online replays the trace's own arrival times from its first row, its time axis scaled so that
the mean rate is the target, over warm-up + duration (60 + 600 s by default), and measures the decode tokens of the
last 600 s. The latency of a token therefore depends on *which* requests arrive in that window (the trace is
bursty: its per-second counts vary by half their mean) and on what they meet on their way. This module predicts
the p50 / p99 of that measurement from the same replay:

1. **Arrivals**: the workload's arrival times scaled to the target rate (Poisson at the rate when the workload has
   no arrival times), each request on a path drawn in proportion to the path flows (IWRR), with its own prompt
   and output lengths.
2. **Load over time** (1 s bins): a request decodes from the end of its prompt (prompt iterations and transfers
   along its path) for ``O - 1`` steps of the path's per-token latency ``tau_p(t)``; requests decoding per path and
   bin, hence decode tokens/s ``lambda_i(t)`` and prompts/s ``r_i(t)`` through every node (three passes: the
   latency sets the lifetimes, the lifetimes the load).
3. **Node in a bin** (continuous batching, arrivals spread out): a decode iteration holds what arrived during the
   previous one, ``D = max(1, lambda T)``; a prompt iteration holds the prompts that arrived during one, at
   least one; time shares busy with prompt iterations ``b_pre = min(1, r (T_pre + T_dec) / n)`` and with
   decode-only iterations ``b_dec``.
4. **A token's trip** (4,000 seeded samples, drawn in proportion to the tokens each path and bin produce): at
   each hop it waits for the rest of the iteration in progress (a prompt iteration with probability ``b_pre``,
   a decode one with ``b_dec``), then runs its own decode iteration, then crosses the link (latency + its batch's
   bytes; behind a prompt's transfer when one is in progress). A token caught behind a prompt iteration stays
   behind that prompt while their routes coincide (a convoy): at every later hop it arrives while the prompt
   runs there and waits for its rest, ``T_pre - T_dec``, and on every link behind its transfer.

Everything rests on the measured per-layer latencies, the plan's links and the workload's arrivals and lengths;
there is no fitted constant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

#: ``plan simulate``'s default window: the latency it reports covers [warm-up, warm-up + duration).
SIM_WARMUP_S = 60.0
SIM_DURATION_S = 600.0
#: ``plan simulate --offline`` starts this many requests, then one per completed prompt or request.
OFFLINE_INITIAL_REQUESTS = 20
#: Bin width of the load over time (seconds) and samples drawn for the quantiles.
BIN_S = 1.0
SAMPLES = 4000
EPS = 1e-12
DEBUG: dict[str, Any] = {}
RIDE = True
PASSES = 1
CONVOY_BATCH = False
WAVES = True
RIDE2 = True
TRUNC = True
IWRR = True
NODE_WAVES = False
CAP = True


class _Latency(Protocol):
    """What this module needs of a node's per-layer latency (:class:`planner.profiles.nodeperf.LayerLatency`)."""

    @property
    def prompt_s(self) -> tuple[float, ...]: ...

    @property
    def decode_s(self) -> tuple[float, ...]: ...


@dataclass(frozen=True)
class Replay:
    """The requests of one online run: arrival times (s from 0) and prompt / output lengths."""

    arrival_s: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray


def replay(
    arrivals: Sequence[float],
    inputs: Sequence[float],
    outputs: Sequence[float],
    mean_lengths: tuple[float, float],
    rate_rps: float,
    horizon_s: float,
    seed: int = 0,
) -> Replay:
    """The trace's arrivals from its first row with the time axis scaled to ``rate_rps`` (``plan simulate --load``),
    up to ``horizon_s``; without arrival times, Poisson arrivals at the rate with lengths drawn from the samples
    (or the means)."""
    if len(arrivals) > 1 and arrivals[-1] > arrivals[0]:
        t = np.asarray(arrivals, dtype=float)
        native = (len(t) - 1) / float(t[-1] - t[0])
        scaled = (t - t[0]) * (native / rate_rps)
        keep = scaled < horizon_s
        return Replay(
            scaled[keep], np.asarray(inputs, dtype=float)[keep], np.asarray(outputs, dtype=float)[keep]
        )  # fmt: skip
    rng = np.random.default_rng(seed)
    n = int(rate_rps * horizon_s * 1.5 + 20)
    t = np.cumsum(rng.exponential(1.0 / rate_rps, n))
    t = t[t < horizon_s]
    i_arr = np.asarray(inputs, dtype=float) if len(inputs) else np.array([mean_lengths[0]])
    o_arr = np.asarray(outputs, dtype=float) if len(outputs) else np.array([mean_lengths[1]])
    return Replay(t, i_arr[rng.integers(0, len(i_arr), len(t))], o_arr[rng.integers(0, len(o_arr), len(t))])


@dataclass(frozen=True)
class Link:
    """One hop's link: latency (s) and seconds per token on it."""

    latency_s: float
    s_per_token: float


def online_quantiles(
    paths: Sequence[tuple[Sequence[str], float]],
    links: Sequence[Sequence[Link]],
    lat: Mapping[str, _Latency],
    run_k: Mapping[str, float],
    requests: Replay,
    measure_from_s: float = SIM_WARMUP_S,
    seed: int = 0,
) -> tuple[float, float]:
    """(p50, p99) per-token decode latency in ms of the decode tokens produced after ``measure_from_s``.

    ``paths``: (nodes, flow) per path; ``links[p]``: the path's links, coordinator -> first node, node -> node, ...,
    last node -> coordinator (one more than its nodes). See the module docstring.
    """
    n_paths = len(paths)
    flows = np.array([f for _, f in paths], dtype=float)
    if n_paths == 0 or flows.sum() <= 0 or len(requests.arrival_s) == 0:
        return 0.0, 0.0
    routed = _iwrr_routes(paths, links, requests.input_tokens) if IWRR else None
    nodes = sorted({n for p, _ in paths for n in p})
    idx = {n: i for i, n in enumerate(nodes)}
    horizon = float(requests.arrival_s.max()) if len(requests.arrival_s) else 0.0
    horizon = max(horizon, measure_from_s) + 1.0
    n_bins = int(np.ceil(max(horizon, measure_from_s + SIM_DURATION_S) / BIN_S))
    rng = np.random.default_rng(seed)
    req_path = rng.choice(n_paths, size=len(requests.arrival_s), p=flows / flows.sum())
    if routed is not None:
        paths, links, req_path = routed
        n_paths = len(paths)
    on_path = [np.flatnonzero(req_path == p) for p in range(n_paths)]
    i_mean = float(requests.input_tokens.mean())

    k = np.array([run_k[n] for n in nodes])
    dec_grid = [np.asarray(lat[n].decode_s, dtype=float) for n in nodes]
    pre_grid = [np.asarray(lat[n].prompt_s, dtype=float) for n in nodes]
    pre_xs = [np.arange(len(g), dtype=float) for g in pre_grid]
    max_dec = np.array([len(g) - 1 for g in dec_grid], dtype=float)
    dec_one = np.array([g[1] for g in dec_grid])
    member = np.zeros((n_paths, len(nodes)))
    for p, (ns, _) in enumerate(paths):
        for n in ns:
            member[p, idx[n]] = 1.0
    link_lat = np.array([sum(lk.latency_s for lk in links[p]) for p in range(n_paths)])

    def prompt_s(node: int, tokens: np.ndarray | float) -> np.ndarray:
        """Prompt iteration of ``tokens`` prompt tokens at a node (linear between grid points, clamped)."""
        return np.asarray(k[node] * np.interp(tokens, pre_xs[node], pre_grid[node]))

    # Prompt latency of every request along its path (its prompt iterations, decode steps beside them, links).
    pre_req = np.zeros(len(requests.arrival_s))
    for p, (ns, _) in enumerate(paths):
        mask = on_path[p]
        if mask.size == 0:
            continue
        toks = requests.input_tokens[mask]
        acc = np.zeros(mask.size)
        for n in ns:
            acc += prompt_s(idx[n], toks) + k[idx[n]] * dec_one[idx[n]]
        for lk in links[p]:
            acc += lk.latency_s + toks * lk.s_per_token
        pre_req[mask] = acc

    base = member @ (k * dec_one) + link_lat
    tau = np.tile(base[:, None], (1, n_bins))  # per-token latency per path and bin
    arr_bin = np.minimum((requests.arrival_s / BIN_S).astype(int), n_bins - 1)
    prompts_pb = np.zeros((n_paths, n_bins))
    np.add.at(prompts_pb, (req_path, arr_bin), 1.0 / BIN_S)
    r_node = member.T @ prompts_pb  # prompts/s through every node, per bin
    t_pre_one = np.array([float(prompt_s(i, i_mean)) for i in range(len(nodes))])
    state: dict[str, np.ndarray] = {}
    for _ in range(3):
        start = requests.arrival_s + pre_req
        b0 = np.minimum((start / BIN_S).astype(int), n_bins - 1)
        steps = np.maximum(requests.output_tokens - 1.0, 0.0)
        # End of decoding: walk the path's cumulative latency-time from the start bin (one token per tau).
        end = np.empty_like(start)
        for p in range(n_paths):
            mask = on_path[p]
            if mask.size == 0:
                continue
            tokens_by_bin = np.cumsum(BIN_S / tau[p])  # decode steps completed by the end of each bin
            before = np.where(b0[mask] > 0, tokens_by_bin[np.maximum(b0[mask] - 1, 0)], 0.0)
            target = before + steps[mask]
            e_bin = np.searchsorted(tokens_by_bin, target)
            end[mask] = np.where(e_bin >= n_bins, n_bins * BIN_S, (e_bin + 1) * BIN_S)
        active = np.zeros((n_paths, n_bins + 1))
        s_bin = np.minimum((start / BIN_S).astype(int), n_bins)
        e_bin2 = np.minimum((end / BIN_S).astype(int), n_bins)
        np.add.at(active, (req_path, s_bin), 1.0)
        np.add.at(active, (req_path, e_bin2), -1.0)
        active = np.cumsum(active, axis=1)[:, :n_bins]
        tok_rate = active / tau  # decode tokens/s per path and bin
        lam = member.T @ tok_rate
        if WAVES:
            state = _wave_state(paths, links, idx, member, active, tau, r_node, k, dec_grid, max_dec, t_pre_one, i_mean,
                                state.get("dec"))  # fmt: skip
        else:
            state = _node_state(lam, r_node, k, dec_grid, max_dec, t_pre_one)
        dec = state["dec"]
        hop_mean = dec + state["b_pre"] * (state["t_pre"] + dec) / 2 + state["b_dec"] * dec / 2
        new_tau = member @ hop_mean + link_lat[:, None]
        tau = np.maximum(new_tau, 1e-4)

    weights = (active / tau)[:, int(measure_from_s / BIN_S) :]
    if weights.sum() <= 0:
        return 0.0, 0.0
    flat = weights.ravel() / weights.sum()
    pick = rng.choice(flat.size, size=SAMPLES, p=flat)
    p_of = pick // weights.shape[1]
    DEBUG["p_share"] = np.bincount(p_of, minlength=n_paths) / SAMPLES
    DEBUG["req_share"] = np.bincount(req_path, minlength=n_paths) / len(req_path)
    DEBUG["tau_mean"] = tau[:, int(measure_from_s / BIN_S):].mean(axis=1)
    b_of = pick % weights.shape[1] + int(measure_from_s / BIN_S)
    # Share of a node's tokens arriving from the same predecessor as the path's (the coordinator's regrouping for
    # the first hop: tokens from the same last node): messages of one stream arrive at least one of the sender's
    # iterations apart, so they do not find the node busy with their own stream's decode iterations.
    through = np.zeros(len(nodes))
    pair: dict[tuple[str, str], float] = {}
    for ns, f in paths:
        for j, n in zip([f"<{ns[-1]}"] + list(ns[:-1]), ns, strict=True):
            pair[(j, n)] = pair.get((j, n), 0.0) + f
            through[idx[n]] += f
    DEBUG["state"] = (nodes, state, int(measure_from_s / BIN_S), lam, r_node)
    def trip(cycle: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        ev = _prompt_events(paths, links, idx, n_bins, on_path, requests, prompt_s, k * dec_one, state["dec"], cycle)
        out = np.zeros(SAMPLES)
        for p in range(n_paths):
            mask = p_of == p
            m = int(mask.sum())
            if m == 0:
                continue
            ns, _ = paths[p]
            b = b_of[mask]
            acc = np.zeros(m)
            parts = {kk: np.zeros(m) for kk in ("link", "link_q", "wait_prompt", "wait_dec", "own_dec", "ride")}
            ever = np.zeros(m, dtype=bool)
            conv = np.full(m, -1)  # the prompt event (request, hop) the token is behind, -1: none
            lag = np.zeros(m)  # the token's arrival at its node after the prompt's
            prev_dec = np.zeros(m)
            lk0 = links[p][0]
            acc += lk0.latency_s + lk0.s_per_token
            parts["link"] += lk0.latency_s + lk0.s_per_token
            preds = [f"<{ns[-1]}"] + list(ns[:-1])
            for h, n in enumerate(ns):
                i = idx[n]
                nxt = idx[ns[h + 1]] if h + 1 < len(ns) else -1
                same = pair[(preds[h], n)] / through[i] if through[i] > 0 else 0.0
                dec = state["dec"][i, b]
                pred_id = idx[ns[h - 1]] if h > 0 else -1
                # Convoy: still behind its prompt while the prompt's route is the token's.
                free = conv < 0
                wait = np.where(free, 0.0, np.maximum(ev.p_s[np.maximum(conv, 0)] - lag, 0.0))
                # A free token arrives during a prompt iteration here (the replay's prompts at the node in that second,
                # each in proportion to its window: the whole iteration, or what the token's own iteration at the shared
                # predecessor leaves of it), and waits for its rest.
                e_new, rest = ev.catch_node(p, i, b, pred_id, prev_dec, rng.random(m) * BIN_S)
                caught = free & (e_new >= 0)
                wait = np.where(caught, rest, wait)
                lag = np.where(caught, np.where(e_new >= 0, ev.p_s[np.maximum(e_new, 0)], 0.0) - rest, lag)
                conv = np.where(caught, e_new, conv)
                if RIDE2:
                    # While it waits behind a prompt, another prompt arriving at the node runs in the next iteration
                    # with it: it rides with that one (its iteration), and follows it from there.
                    key2 = i * ev.n_bins + b
                    cnt2 = ev.node_count[key2]
                    behind = (conv >= 0) & (wait > 0) & (cnt2 > 0)
                    ride2 = behind & (rng.random(m) < 1.0 - np.exp(-cnt2 / BIN_S * wait))
                    pick2 = ev.node_order[np.where(ride2, ev.node_first[key2] + (rng.random(m) * cnt2).astype(int), 0)]
                    wait = np.where(ride2, wait + ev.p_s[pick2], wait)
                    lag = np.where(ride2, 0.0, lag)
                    conv = np.where(ride2, pick2, conv)
                b_dec = state["b_dec"][i, b] * (1.0 if WAVES else 1.0 - same)
                idle = (conv < 0) & (rng.random(m) < b_dec)
                residual = rng.random(m) * dec
                wait = np.where(idle, residual, wait)
                if RIDE:
                    # Queued behind a decode iteration, it rides in the next one with a prompt that arrives meanwhile.
                    key = i * ev.n_bins + b
                    cnt = ev.node_count[key]
                    ride = idle & (rng.random(m) < 1.0 - np.exp(-cnt / BIN_S * residual)) & (cnt > 0)
                    pick = ev.node_order[np.where(ride, ev.node_first[key] + (rng.random(m) * cnt).astype(int), 0)]
                    wait = np.where(ride, residual + ev.p_s[pick], wait)
                    lag = np.where(ride, 0.0, lag)
                    conv = np.where(ride, pick, conv)
                if CONVOY_BATCH:
                    # Behind a prompt, it runs in the batch of every token queued during the prompt's iteration.
                    held = conv >= 0
                    d_conv = np.clip(lam[i, b] * ev.p_s[np.maximum(conv, 0)], 1.0, max_dec[i])
                    xs = np.arange(len(dec_grid[i]), dtype=float)
                    dec_c = k[i] * np.interp(d_conv, xs, dec_grid[i])
                    dec = np.where(held, np.maximum(dec_c, dec), dec)
                acc += wait + dec
                parts["own_dec"] += dec
                if RIDE:
                    parts["ride"] += np.where(ride, ev.p_s[pick], 0.0)
                    parts["wait_dec"] += np.where(idle, residual, 0.0)
                    parts["wait_prompt"] += np.where(idle, 0.0, wait)
                else:
                    parts["wait_dec"] += np.where(idle, residual, 0.0)
                    parts["wait_prompt"] += np.where(idle, 0.0, wait)
                lk = links[p][h + 1]
                batch = np.maximum(state["batch"][i, b], 1.0)
                s_tok = batch * lk.s_per_token
                acc += lk.latency_s + s_tok
                parts["link"] += lk.latency_s + s_tok
                # On the link: behind the convoy's prompt transfer, or caught behind another one there.
                inc = conv >= 0
                ce = np.maximum(conv, 0)
                p_here = ev.p_s[ce]
                tx = ev.tx_s[ce]
                done_at = np.maximum(lag, p_here) + dec
                link_wait = np.where(inc, np.maximum(p_here + tx - done_at, 0.0), 0.0)
                new_lag = np.maximum(np.maximum(lag - p_here, 0.0) + dec - tx, 0.0) + s_tok
                follow = inc & (ev.next_node[ce] == nxt) & (nxt >= 0)
                conv = np.where(follow, ev.next_ev[ce], -1)
                lag = np.where(follow, new_lag, 0.0)
                if nxt >= 0:
                    e_l, rest_l = ev.catch_link(p, i, nxt, b, dec, rng.random(m) * BIN_S)
                    caught_l = ~inc & (e_l >= 0)
                    link_wait = np.where(caught_l, rest_l, link_wait)
                    conv = np.where(caught_l, ev.next_ev[np.maximum(e_l, 0)], conv)
                    lag = np.where(caught_l, s_tok, lag)
                acc += link_wait
                parts["link_q"] += link_wait
                ever |= conv >= 0
                prev_dec = dec
            out[mask] = acc
            DEBUG.setdefault("ever", []).append(ever)
            DEBUG.setdefault("parts", []).append((mask, parts))
        return out

    out = trip(tau, rng)
    if PASSES > 1:
        # A request's tokens cycle with their own latency, waits included: the cap on catches per prompt.
        mean_p = np.array([out[p_of == p].mean() if (p_of == p).any() else 0.0 for p in range(n_paths)])
        mean_tau = np.array([float(np.average(tau[p, b_of[p_of == p]])) if (p_of == p).any() else 1.0 for p in range(n_paths)])
        out = trip(tau * (np.maximum(mean_p, EPS) / np.maximum(mean_tau, EPS))[:, None], np.random.default_rng(seed + 1))
    return float(np.percentile(out, 50) * 1e3), float(np.percentile(out, 99) * 1e3)


def _node_state(
    lam: np.ndarray,
    r: np.ndarray,
    k: np.ndarray,
    dec_grid: list[np.ndarray],
    max_dec: np.ndarray,
    t_pre_one: np.ndarray,
) -> dict[str, Any]:
    """Per node and bin: decode batch, decode iteration, prompt iteration, and the time shares busy with each."""
    n_nodes, n_bins = lam.shape
    dec = np.zeros_like(lam)
    batch = np.ones_like(lam)
    for i in range(n_nodes):
        grid = dec_grid[i]
        xs = np.arange(len(grid), dtype=float)
        t = np.full(n_bins, k[i] * grid[1])
        for _ in range(30):
            # Tokens arriving during one iteration cycle (a decode iteration, a prompt one with prob. r T).
            d = np.clip(lam[i] * (t + np.minimum(1.0, r[i] * t) * t_pre_one[i]), 1.0, max_dec[i])
            t_new = k[i] * np.interp(d, xs, grid)
            if np.allclose(t_new, t, rtol=1e-9, atol=1e-12):
                t = t_new
                break
            t = 0.5 * t + 0.5 * t_new
        dec[i] = t
        batch[i] = np.clip(lam[i] * (t + np.minimum(1.0, r[i] * t) * t_pre_one[i]), 1.0, max_dec[i])
    n_pre = np.maximum(1.0, r * t_pre_one[:, None])
    t_pre = t_pre_one[:, None] * n_pre
    b_pre = np.minimum(1.0, r / n_pre * (t_pre + dec))
    b_dec = np.minimum(1.0 - b_pre, np.maximum(lam / batch - r / n_pre, 0.0) * dec)
    return {"dec": dec, "batch": batch, "t_pre": t_pre, "b_pre": b_pre, "b_dec": b_dec}


@dataclass
class _Events:
    """The replay's prompt iterations, node by node and second by second (request j at hop h of its path).

    ``p_s``: its iteration there; ``tx_s``: its transfer to the next hop; ``next_node`` / ``next_ev``: the next node
    of its route (-1: the coordinator) and that hop's event (-1: none); ``pred``: the node it came from (-1: the
    coordinator). Sorted by (node, bin) with ``first`` / ``count`` per ``node * n_bins + bin``; the link transfers
    likewise by ((node, next node), bin).
    """

    n_bins: int
    scale: np.ndarray
    lscale: np.ndarray
    p_s: np.ndarray
    tx_s: np.ndarray
    pred: np.ndarray
    next_node: np.ndarray
    next_ev: np.ndarray
    node_first: np.ndarray
    node_count: np.ndarray
    node_order: np.ndarray
    link_key: dict[tuple[int, int], int]
    link_first: np.ndarray
    link_count: np.ndarray
    link_order: np.ndarray

    @staticmethod
    def _draw(
        scale: np.ndarray,
        q: int,
        first: np.ndarray, count: np.ndarray, order: np.ndarray, window_of: Any, x: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The event whose window holds ``x`` (windows laid end to end from the start of the bin), and the rest
        of that window after ``x``; -1 where ``x`` falls past them."""
        chosen = np.full(len(x), -1)
        rest = np.zeros(len(x))
        cum = np.zeros(len(x))
        for kk in range(int(count.max()) if len(count) else 0):
            ok = kk < count
            e = order[np.where(ok, first + kk, 0)]
            c = np.where(ok, scale[e, q], 1.0)
            w_full = np.where(ok, window_of(e), 0.0)
            w = w_full * c
            hit = ok & (chosen < 0) & (x < cum + w)
            chosen = np.where(hit, e, chosen)
            if TRUNC:
                rest = np.where(hit, w_full - (x - cum), rest)
            else:
                rest = np.where(hit, (cum + w - x) / np.maximum(c, EPS), rest)
            cum = cum + w
        return chosen, rest

    def catch_node(
        self, q: int, node: int, b: np.ndarray, pred: int, prev_dec: np.ndarray, x: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        key = node * self.n_bins + b
        first, count = self.node_first[key], self.node_count[key]

        def window(e: np.ndarray) -> np.ndarray:
            shared = (self.pred[e] == pred) & (pred >= 0)
            return np.maximum(self.p_s[e] - np.where(shared, prev_dec, 0.0), 0.0)

        return self._draw(self.scale, q, first, count, self.node_order, window, x)

    def catch_link(
        self, q: int, node: int, nxt: int, b: np.ndarray, dec: np.ndarray, x: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        li = self.link_key.get((node, nxt))
        if li is None:
            return np.full(len(x), -1), np.zeros(len(x))
        key = li * self.n_bins + b
        first, count = self.link_first[key], self.link_count[key]
        return self._draw(self.lscale, q, first, count, self.link_order, lambda e: np.maximum(self.tx_s[e] - dec, 0.0), x)


def _prompt_events(
    paths: Sequence[tuple[Sequence[str], float]],
    links: Sequence[Sequence[Link]],
    idx: Mapping[str, int],
    n_bins: int,
    on_path: Sequence[np.ndarray],
    requests: Replay,
    prompt_s: Any,
    dec_one: np.ndarray,
    dec: np.ndarray,
    tau: np.ndarray,
) -> _Events:
    """Every replayed prompt's iteration at every hop of its path: when it starts (the request's arrival plus the
    iterations and transfers before), how long it runs and how long its transfer to the next hop takes."""
    cols: dict[str, list[np.ndarray]] = {
        k: [] for k in ("node", "bin", "p", "tx", "pred", "nxt", "req", "hop", "scale", "lscale")
    }
    for p, (ns, _) in enumerate(paths):
        mask = on_path[p]
        if mask.size == 0:
            continue
        toks = requests.input_tokens[mask]
        t = requests.arrival_s[mask] + links[p][0].latency_s + toks * links[p][0].s_per_token
        b0 = np.minimum((t / BIN_S).astype(int), n_bins - 1)
        # A decoding request meets a prompt at most once on their shared route (its token then stays behind it):
        # the prompt catches a token of every request on its path whose phase falls in its windows, at most all.
        scale = np.ones((mask.size, len(paths)))
        nfrac = np.ones((len(ns), mask.size, len(paths)))
        lfrac = np.ones((len(ns), mask.size, len(paths)))
        for q, (qs, _) in enumerate(paths):
            if not CAP:
                break
            on_q = set(qs)
            q_pred = {n: (qs[j - 1] if j > 0 else None) for j, n in enumerate(qs)}
            span = np.zeros(mask.size)
            tq = tau[q, b0]
            for h, n in enumerate(ns):
                if n not in on_q:
                    continue
                i = idx[n]
                shared_prev = h > 0 and q_pred[n] == ns[h - 1]
                prev = dec[idx[ns[h - 1]], b0] if shared_prev else 0.0
                w = np.maximum(prompt_s(i, toks) - prev, 0.0)
                nfrac[h, :, q] = np.clip((tq - span) / np.maximum(w, 1e-12), 0.0, 1.0)
                span += w
                if h + 1 < len(ns) and ns[h + 1] in on_q and q_pred[ns[h + 1]] == n:
                    w = np.maximum(toks * links[p][h + 1].s_per_token - dec[i, b0], 0.0)
                    lfrac[h, :, q] = np.clip((tq - span) / np.maximum(w, 1e-12), 0.0, 1.0)
                    span += w
            scale[:, q] = np.minimum(1.0, tau[q, b0] / np.maximum(span, 1e-9))
        for h, n in enumerate(ns):
            i = idx[n]
            run = prompt_s(i, toks)
            lk = links[p][h + 1]
            tx = toks * lk.s_per_token if h + 1 < len(ns) else np.full(mask.size, lk.s_per_token)
            cols["node"].append(np.full(mask.size, i))
            cols["bin"].append(np.minimum((t / BIN_S).astype(int), n_bins - 1))
            cols["p"].append(run)
            cols["tx"].append(tx)
            cols["pred"].append(np.full(mask.size, idx[ns[h - 1]] if h > 0 else -1))
            cols["nxt"].append(np.full(mask.size, idx[ns[h + 1]] if h + 1 < len(ns) else -1))
            cols["req"].append(mask)
            cols["hop"].append(np.full(mask.size, h))
            cols["scale"].append(nfrac[h] if TRUNC else scale)
            cols["lscale"].append(lfrac[h] if TRUNC else scale)
            t = t + run + dec_one[i] + lk.latency_s + tx
    if not cols["node"]:
        z = np.zeros(0, dtype=int)
        zf = np.zeros(0)
        zc = np.zeros(1, dtype=int)
        return _Events(1, np.zeros((0, 1)), np.zeros((0, 1)), zf, zf, z, z, z, zc, zc, z, {}, zc, zc, z)
    c = {k: np.concatenate(v) for k, v in cols.items()}
    n_ev = len(c["node"])
    # The next hop's event of the same request.
    pos = {(int(r), int(h)): e for e, (r, h) in enumerate(zip(c["req"], c["hop"], strict=True))}
    next_ev = np.array([pos.get((int(r), int(h) + 1), -1) for r, h in zip(c["req"], c["hop"], strict=True)])
    n_nodes = len(idx)
    node_key = c["node"] * n_bins + c["bin"]
    node_order = np.argsort(node_key, kind="stable")
    node_count = np.bincount(node_key, minlength=n_nodes * n_bins)
    node_first = np.concatenate([[0], np.cumsum(node_count)[:-1]])
    link_key: dict[tuple[int, int], int] = {}
    lid = np.full(n_ev, -1)
    for e in range(n_ev):
        if c["nxt"][e] >= 0:
            lid[e] = link_key.setdefault((int(c["node"][e]), int(c["nxt"][e])), len(link_key))
    on_link = lid >= 0
    # A prompt's transfer leaves with the end of its iteration.
    t_bin = c["bin"]
    lkey = np.where(on_link, lid * n_bins + t_bin, 0)
    link_order = np.flatnonzero(on_link)[np.argsort(lkey[on_link], kind="stable")]
    link_count = np.bincount(lkey[on_link], minlength=max(len(link_key), 1) * n_bins)
    link_first = np.concatenate([[0], np.cumsum(link_count)[:-1]])
    return _Events(
        n_bins, c["scale"], c["lscale"], c["p"], c["tx"], c["pred"], c["nxt"], next_ev, node_first, node_count, node_order, link_key,
        link_first, link_count, link_order,
    )  # fmt: skip


def _wave_state(
    paths: Sequence[tuple[Sequence[str], float]],
    links: Sequence[Sequence[Link]],
    idx: Mapping[str, int],
    member: np.ndarray,
    active: np.ndarray,
    tau: np.ndarray,
    r: np.ndarray,
    k: np.ndarray,
    dec_grid: list[np.ndarray],
    max_dec: np.ndarray,
    t_pre_one: np.ndarray,
    i_mean: float,
    dec_prev: np.ndarray | None,
) -> dict[str, Any]:
    """Per node and bin, decode in waves: a request's tokens travel with every token caught behind the same prompt
    (they leave the prompt's last shared hop together and cycle together after), so a path's requests decode in
    ``W_p`` waves: each prompt merges the waves whose phase falls in its windows (a share ``c = min(1, span / tau)``
    of them) and its own request starts one, ``W_p c = 2`` at balance, at least 1 and at most its requests."""
    n_nodes, n_bins = member.shape[1], active.shape[1]
    base = (k * np.array([g[1] for g in dec_grid]))[:, None] * np.ones((1, n_bins))
    dec_now = base if dec_prev is None else dec_prev
    waves = np.ones_like(active)
    for p, (ns, _) in enumerate(paths):
        span = np.zeros(n_bins)
        for h, n in enumerate(ns):
            i = idx[n]
            span += np.maximum(t_pre_one[i] - (dec_now[idx[ns[h - 1]]] if h > 0 else 0.0), 0.0)
            if h + 1 < len(ns):
                span += np.maximum(i_mean * links[p][h + 1].s_per_token - dec_now[i], 0.0)
        c = np.minimum(1.0, span / np.maximum(tau[p], EPS))
        waves[p] = np.clip(2.0 / np.maximum(c, EPS), 1.0, np.maximum(active[p], 1.0))
    n_node = member.T @ active
    if NODE_WAVES:
        # Waves meet at a shared node and merge there behind the same prompts: the node's waves from the catch
        # share of the paths through it (weighted by their requests), not the sum of the paths' waves.
        c_paths = np.clip(2.0 / np.maximum(waves, 1.0), 0.0, 1.0)
        c_node = (member.T @ (active * c_paths)) / np.maximum(n_node, EPS)
        w_node = np.clip(2.0 / np.maximum(c_node, EPS), 1.0, np.maximum(n_node, 1.0))
    else:
        w_node = member.T @ waves
    tau_node = (member.T @ (active * tau)) / np.maximum(n_node, EPS)
    dec = np.zeros((n_nodes, n_bins))
    batch = np.clip(n_node / np.maximum(w_node, 1.0), 1.0, max_dec[:, None])
    for i in range(n_nodes):
        dec[i] = k[i] * np.interp(batch[i], np.arange(len(dec_grid[i]), dtype=float), dec_grid[i])
    n_pre = np.maximum(1.0, r * t_pre_one[:, None])
    t_pre = t_pre_one[:, None] * n_pre
    b_pre = np.minimum(1.0, r / n_pre * (t_pre + dec))
    others = np.maximum(w_node - 1.0, 0.0) * dec / np.maximum(tau_node, EPS)
    b_dec = np.minimum(1.0 - b_pre, others)
    return {"dec": dec, "batch": batch, "t_pre": t_pre, "b_pre": b_pre, "b_dec": b_dec}


def _iwrr_routes(
    paths: Sequence[tuple[Sequence[str], float]], links: Sequence[Sequence[Link]], inputs: np.ndarray
) -> tuple[list[tuple[list[str], float]], list[list[Link]], np.ndarray]:
    """The route of every replayed request as ``plan simulate`` chooses it: at the coordinator and at every node,
    interleaved weighted round-robin over the outgoing edges (weights: the plan's edge flows, the paths' flows summed;
    edges under 5 % of the node's outflow masked), charging the request's prompt length (KV admission left out)."""
    out_w: dict[str, dict[str, float]] = {}
    link_of: dict[tuple[str, str], Link] = {}
    for (ns, f), lks in zip(paths, links, strict=True):
        hops = ["<src>"] + list(ns) + ["<sink>"]
        for (u, v), lk in zip(zip(hops[:-1], hops[1:], strict=True), lks, strict=True):
            out_w.setdefault(u, {})
            out_w[u][v] = out_w[u].get(v, 0.0) + f
            link_of[(u, v)] = lk
    load = {u: dict.fromkeys(ws, 0.0) for u, ws in out_w.items()}
    for u, ws in out_w.items():
        total = sum(ws.values())
        for v in [v for v, w in ws.items() if w < 0.05 * total]:
            if len(ws) > 1:
                del load[u][v]
    route_id: dict[tuple[str, ...], int] = {}
    req_route = np.zeros(len(inputs), dtype=int)
    for j, inp in enumerate(inputs):
        u, route = "<src>", []
        while u != "<sink>" and len(route) <= len(out_w):
            cand = load[u]
            v = min(sorted(cand), key=lambda t: (cand[t] + inp / out_w[u][t]))
            cand[v] += inp / out_w[u][v]
            if v != "<sink>":
                route.append(v)
            u = v
        req_route[j] = route_id.setdefault(tuple(route), len(route_id))
    counts = np.bincount(req_route, minlength=len(route_id)).astype(float)
    new_paths: list[tuple[list[str], float]] = []
    new_links: list[list[Link]] = []
    total_flow = sum(f for _, f in paths)
    for r, rid in sorted(route_id.items(), key=lambda kv: kv[1]):
        hops = ["<src>"] + list(r) + ["<sink>"]
        new_paths.append((list(r), total_flow * counts[rid] / max(counts.sum(), 1.0)))
        new_links.append([link_of[(a, b)] for a, b in zip(hops[:-1], hops[1:], strict=True)])
    return new_paths, new_links, req_route
