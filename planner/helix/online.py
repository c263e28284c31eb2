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
3. **Node in a bin** (continuous batching): a decode iteration holds what arrived during the previous one,
   ``D = max(1, lambda T)``, or one wave when that is more: the requests decoding through the node move in waves
   as offline, ``N_i / W_i`` tokens with the offline prediction's wave law (:class:`WaveLaw`; one wave on an
   isolated pipeline). Measured over a window of 1,000 requests, Swarm on single-24 decodes 134-146 tokens an
   iteration, token-weighted, where arrivals spread out would give a few. A prompt iteration holds the prompts
   that arrived during one, at least one; time shares busy with prompt iterations
   ``b_pre = min(1, r (T_pre + T_dec) / n)`` and with decode-only iterations ``b_dec``.
4. **A token's trip** (64,000 seeded samples, drawn in proportion to the tokens each path and bin produce): at
   each hop it waits for the rest of the iteration in progress (a prompt iteration with probability ``b_pre``,
   a decode one with ``b_dec``), then runs its own decode iteration, then crosses the link (latency + its batch's
   bytes; behind a prompt's transfer when one is in progress). The prompt a token is caught behind is drawn in
   proportion to its length (a long prompt's iteration is more often the one in progress). A caught token stays
   behind that prompt while their routes coincide (a convoy): at every later hop it arrives while the prompt runs
   there and waits for its rest, ``T_pre - T_dec``, and on every link behind its transfer; at a node where the
   flow splits, the prompt goes on to the token's next node with that edge's share of the node's outflow (the
   scheduler routes each request by the flows), else the convoy ends and the token may be caught again. A prompt
   that arrives while the token waits (a Poisson chance at the node's prompt rate over the wait) joins the token's
   iteration: the token then *rides* with it, paying its iteration and its transfer at every hop while their routes
   coincide (measured on the simulator: rides start at later hops, mostly behind a prompt iteration in progress).

Everything rests on the measured per-layer latencies, the plan's links and the workload's arrivals and lengths,
and on the offline prediction's wave law (its one fitted law, shared); nothing is fitted to the online figures.
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
#: Bin width of the load over time (seconds) and samples drawn for the quantiles. 64,000 token trips: with 4,000
#: the p99 of one plan moved by 16 % on average (up to 70 %) between seeds, with 64,000 by 1-5 % where the plan's
#: paths are not few (the rest is which requests the replay sends down which path); the cost is not measurable.
BIN_S = 1.0
SAMPLES = 64000
EPS = 1e-12


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
class WaveLaw:
    """Waves per cycle through a node holding ``N`` requests decoding: ``scale x N^exponent``, at least one; one on
    a ring (an isolated pipeline, ``rings``) while its requests fit in one decode iteration (``cap``). The offline
    prediction's law (:mod:`planner.helix.served`), passed in so that both sides of the prediction share it."""

    scale: float
    exponent: float
    rings: frozenset[str] = frozenset()

    def wave(self, node: str, in_flight: np.ndarray, cap: float) -> np.ndarray:
        """Tokens in one wave at ``node`` for ``in_flight`` requests decoding through it (per bin)."""
        n = np.maximum(in_flight, 0.0)
        law = np.maximum(self.scale * np.maximum(n, 1.0) ** self.exponent, 1.0) if self.exponent else self.scale
        waves = np.where(n <= cap, 1.0, law) if node in self.rings else law
        return np.asarray(n / np.maximum(waves, 1.0))


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
    waves: WaveLaw | None = None,
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
    nodes = sorted({n for p, _ in paths for n in p})
    idx = {n: i for i, n in enumerate(nodes)}
    horizon = float(requests.arrival_s.max()) if len(requests.arrival_s) else 0.0
    horizon = max(horizon, measure_from_s) + 1.0
    n_bins = int(np.ceil(max(horizon, measure_from_s + SIM_DURATION_S) / BIN_S))
    rng = np.random.default_rng(seed)
    req_path = rng.choice(n_paths, size=len(requests.arrival_s), p=flows / flows.sum())
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
        wave = np.zeros_like(lam)
        if waves is not None:
            decoding = member.T @ active  # requests decoding through every node, per bin
            for i, n in enumerate(nodes):
                wave[i] = waves.wave(n, decoding[i], max_dec[i])
        state = _node_state(lam, r_node, k, dec_grid, max_dec, t_pre_one, wave)
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
    inputs = requests.input_tokens
    caught_by = _caught_prompt_weights(inputs)
    stay = _convoy_stays(paths)
    out = np.zeros(SAMPLES)
    for p in range(n_paths):
        mask = p_of == p
        m = int(mask.sum())
        if m == 0:
            continue
        ns, _ = paths[p]
        b = b_of[mask]
        acc = np.zeros(m)
        convoy = np.zeros(m, dtype=bool)
        riding = np.zeros(m, dtype=bool)
        prompt_len = np.zeros(m)
        ride_len = np.zeros(m)
        prev_dec = np.zeros(m)
        lk0 = links[p][0]
        acc += lk0.latency_s + lk0.s_per_token
        preds = [f"<{ns[-1]}"] + list(ns[:-1])
        for h, n in enumerate(ns):
            i = idx[n]
            same = pair[(preds[h], n)] / through[i] if through[i] > 0 else 0.0
            dec = state["dec"][i, b]
            u = rng.random(m)
            frac = rng.random(m)
            v = rng.random(m)
            b_pre, b_dec = state["b_pre"][i, b], state["b_dec"][i, b] * (1.0 - same)
            caught = ~convoy & ~riding & (u < b_pre)
            prompt_len = np.where(caught, rng.choice(inputs, size=m, p=caught_by), prompt_len)
            t_pre = prompt_s(i, prompt_len)
            wait = np.where(convoy & ~riding, np.maximum(t_pre - prev_dec, 0.0), 0.0)
            wait = np.where(caught, frac * (t_pre + dec), wait)
            wait = np.where(~convoy & ~riding & ~caught & (u < b_pre + b_dec), frac * dec, wait)
            convoy = convoy | caught
            # A prompt that arrives while the token waits joins the token's iteration (continuous batching takes
            # all that is queued), and the two travel on in one message: the token rides with it, paying its
            # iteration and its transfer at every hop until their routes part.
            new_ride = ~riding & (wait > 0) & (v < 1.0 - np.exp(-state["r"][i, b] * wait))
            ride_len = np.where(new_ride, inputs[rng.integers(0, len(inputs), m)], ride_len)
            riding = riding | new_ride
            convoy = convoy & ~new_ride
            extra = np.where(riding, prompt_s(i, ride_len), 0.0)
            acc += wait + dec + extra
            lk = links[p][h + 1]
            batch = np.maximum(state["batch"][i, b], 1.0)
            acc += lk.latency_s + batch * lk.s_per_token
            acc += np.where(convoy, np.maximum(prompt_len * lk.s_per_token - dec, 0.0), 0.0)
            acc += np.where(riding, ride_len * lk.s_per_token, 0.0)
            prev_dec = dec
            if h + 1 < len(ns):  # the prompt ahead goes on to the token's next node only with that edge's share
                keep = rng.random(m) < stay.get((n, ns[h + 1]), 1.0)
                convoy &= keep
                riding &= keep
        out[mask] = acc
    return float(np.percentile(out, 50) * 1e3), float(np.percentile(out, 99) * 1e3)


def _caught_prompt_weights(inputs: np.ndarray) -> np.ndarray | None:
    """Chance that the prompt a caught token waits behind is each of the replayed prompts: a token arriving during
    a prompt iteration finds one in proportion to its length (the inspection paradox), taken in prompt tokens (a
    prompt iteration is near-linear in them), not a prompt drawn at random. None when there are no prompt tokens."""
    total = float(inputs.sum())
    return inputs / total if total > 0 else None


def _convoy_stays(paths: Sequence[tuple[Sequence[str], float]]) -> dict[tuple[str, str], float]:
    """Share of a node's outflow on each of its edges: the chance that the prompt a token follows goes on to the
    token's next node (the scheduler's IWRR sends each request's route by the flows), so a convoy lasts while their
    routes coincide; on a chain or an isolated pipeline it is 1, to the path's end."""
    edge: dict[tuple[str, str], float] = {}
    out: dict[str, float] = {}
    for nodes, flow in paths:
        for u, v in zip(nodes[:-1], nodes[1:], strict=True):
            edge[(u, v)] = edge.get((u, v), 0.0) + flow
            out[u] = out.get(u, 0.0) + flow
    return {(u, v): f / out[u] for (u, v), f in edge.items() if out[u] > 0}


def _node_state(
    lam: np.ndarray,
    r: np.ndarray,
    k: np.ndarray,
    dec_grid: list[np.ndarray],
    max_dec: np.ndarray,
    t_pre_one: np.ndarray,
    wave: np.ndarray,
) -> dict[str, Any]:
    """Per node and bin: decode batch, decode iteration, prompt iteration, and the time shares busy with each.

    A decode iteration holds what arrived during the previous one, or a wave (``wave``) when that is more: the
    requests decoding through a node move in waves, as offline, so an iteration holds a wave's tokens."""
    n_nodes, n_bins = lam.shape
    dec = np.zeros_like(lam)
    batch = np.ones_like(lam)
    for i in range(n_nodes):
        grid = dec_grid[i]
        xs = np.arange(len(grid), dtype=float)
        t = np.full(n_bins, k[i] * grid[1])
        for _ in range(30):
            # Tokens arriving during one iteration cycle (a decode iteration, a prompt one with prob. r T).
            arrived = lam[i] * (t + np.minimum(1.0, r[i] * t) * t_pre_one[i])
            d = np.clip(np.maximum(arrived, wave[i]), 1.0, max_dec[i])
            t_new = k[i] * np.interp(d, xs, grid)
            if np.allclose(t_new, t, rtol=1e-9, atol=1e-12):
                t = t_new
                break
            t = 0.5 * t + 0.5 * t_new
        dec[i] = t
        arrived = lam[i] * (t + np.minimum(1.0, r[i] * t) * t_pre_one[i])
        batch[i] = np.clip(np.maximum(arrived, wave[i]), 1.0, max_dec[i])
    n_pre = np.maximum(1.0, r * t_pre_one[:, None])
    t_pre = t_pre_one[:, None] * n_pre
    b_pre = np.minimum(1.0, r / n_pre * (t_pre + dec))
    b_dec = np.minimum(1.0 - b_pre, np.maximum(lam / batch - r / n_pre, 0.0) * dec)
    return {"dec": dec, "batch": batch, "t_pre": t_pre, "b_pre": b_pre, "b_dec": b_dec, "r": r}
