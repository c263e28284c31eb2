"""Local search on a placement, each neighbour scored by the served prediction (``--objective served``, issue 13).

The candidate generators of :mod:`planner.helix.objective` build placements for the *max flow* (under hop limits
and KV reserves) and only then rank them by the served prediction; none of them knows that a node holding fewer
layers keeps more KV cache, or that every extra hop adds an iteration to each token. This module climbs from such
a placement with moves that the prediction can reward:

* **shift** a layer boundary ``b`` by +-1 or +-2: every range ending at ``b`` and every range starting at ``b`` move
  together (the chain stays intact);
* **transfer** one layer from stage ``j`` to stage ``k`` of a stage layout (distinct ranges tile ``[0, L)``: every
  node of a stage holds the same range); the stages in between slide by one layer. This is how a KV-starved stage
  (a big GPU holding its maximum) hands layers to stages with room;
* **balance** the layers of a stage layout so that the smallest KV per layer is as large as possible (the feeder
  stops at the thinnest layer's KV; one-layer moves cannot climb that plateau when several stages tie at it);
* **split** a stage of several nodes into two consecutive stages (nodes dealt alternately by KV capacity): both
  halves keep the stage's layers and the surplus is taken, one layer at a time, from the stages with the least KV
  per layer; or the halves share the stage's layers; or the layers are balanced afterwards; **merge** two adjacent
  stages (every node of both holds their union, or the layers are balanced afterwards);
* **fork** the stages from ``j`` on into one lane per region, side by side over the rest of the model (multi-region
  clusters: a path then crosses a slow wide-area link once);
* **relocate** a node to another range already in the placement, and **swap** the ranges of two nodes of
  different GPU types.

Moves are tried in a seeded shuffle, the first that raises the predicted decode throughput is taken (first
improvement), until no move improves, an *evaluation budget* runs out or the deadline passes. The budget, not the
clock, ends the search, so the same inputs and seed give the same placement at any load; the deadline is the
command's time limit (:class:`planner.solver.SolveOptions`), a safety net that says so (``stopped: time limit``,
and the served search then labels the plan ``time_limit``).

Each neighbour is evaluated exactly as a plan would be: the max flow of the placement (hop-limited when a limit is
set) routes the requests and :class:`planner.helix.served.ServedModel` predicts its decode throughput.
"""

from __future__ import annotations

import copy
import heapq
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from planner.helix.flow import FlowResult, Mode, Ranges
from planner.helix.instance import HelixInstance
from planner.helix.served import Prediction, ServedModel

#: Relative improvement a move must bring to be taken (below it: float noise, and no cycling).
MIN_GAIN = 1e-6

Move = tuple[str, tuple[object, ...]]
Evaluate = Callable[[Ranges], FlowResult]


@dataclass
class Refined:
    """The best placement the climb reached, its routing flow and prediction, and how the climb went."""

    ranges: dict[str, tuple[int, int]]
    flow: FlowResult
    prediction: Prediction
    start_decode_tok_s: float
    evaluations: int
    stopped: str
    moves: list[str] = field(default_factory=list)


def throughput_model(model: ServedModel) -> ServedModel:
    """A copy of ``model`` that skips the online latency quantiles (4,000 samples a call; the climb ranks by decode
    throughput only, and every figure reported for the chosen plan comes from ``model`` itself)."""
    fast = copy.copy(model)
    if hasattr(fast, "_online_quantiles"):
        fast._online_quantiles = lambda *args, **kwargs: (0.0, 0.0, 0)  # type: ignore[method-assign]
    return fast


def stages_of(ranges: Ranges, layers: int) -> list[tuple[tuple[int, int], list[str]]] | None:
    """The placement as consecutive stages (range, nodes in name order) when its distinct ranges tile [0, L)."""
    groups: dict[tuple[int, int], list[str]] = {}
    for name in sorted(ranges):
        groups.setdefault(ranges[name], []).append(name)
    pos, out = 0, []
    for rng in sorted(groups):
        if rng[0] != pos:
            return None
        out.append((rng, groups[rng]))
        pos = rng[1]
    return out if pos == layers else None


class _Neighbourhood:
    """Moves around one placement (module docstring), as descriptors applied on demand."""

    def __init__(self, inst: HelixInstance, model: ServedModel) -> None:
        self.inst = inst
        self.k_max = {n.name: n.max_layers for n in inst.nodes}
        self.kind = {n.name: (n.gpu, n.gpus_per_node) for n in inst.nodes}
        self.region = {n.name: n.region for n in inst.nodes}
        self.region_rank = {r: i for i, r in enumerate(dict.fromkeys(n.region for n in inst.nodes))}
        self.perf = {n.name: model.perf(n) for n in inst.nodes}

    def kv_per_layer(self, names: list[str], m: int) -> float:
        """KV token capacity per layer of a stage of ``names`` holding ``m`` layers each."""
        return sum(self.perf[n].kv_capacity(m) / m for n in names)

    def moves(self, ranges: Ranges, rng: random.Random) -> list[Move]:
        """Layer moves first (shift, transfer, split, merge), then node moves (relocate, swap), each group in a
        seeded shuffle: a layer move changes many nodes at once and is what a stage-built start lacks most."""
        layers = self.inst.layers
        out: list[Move] = []
        ends = {e for _, e in ranges.values()}
        starts = {s for s, _ in ranges.values()}
        for bound in sorted((ends & starts) - {0, layers}):
            out += [("shift", (bound, d)) for d in (-2, -1, 1, 2)]
        stages = stages_of(ranges, layers)
        if stages is not None:
            n_st = len(stages)
            out += [("transfer", (j, k)) for j in range(n_st) for k in range(n_st) if j != k]
            out.append(("balance", ()))
            if len(self.region_rank) > 1:
                out += [("fork", (j,)) for j in range(1, n_st)]
            for j, (_, group) in enumerate(stages):
                if len(group) >= 2:
                    out += [("split", (j, how)) for how in ("keep", "halve", "balance")]
                if j + 1 < n_st:
                    out += [("merge", (j, how)) for how in ("keep", "balance")]
        rng.shuffle(out)
        node_moves: list[Move] = []
        distinct = sorted(set(ranges.values()))
        names = sorted(ranges)
        for n in names:
            node_moves += [("relocate", (n, r)) for r in distinct if r != ranges[n] and r[1] - r[0] <= self.k_max[n]]
        for i, a in enumerate(names):
            ka, ra = self.kind[a], ranges[a]
            for b in names[i + 1 :]:
                rb = ranges[b]
                fits = rb[1] - rb[0] <= self.k_max[a] and ra[1] - ra[0] <= self.k_max[b]
                if ra != rb and ka != self.kind[b] and fits:
                    node_moves.append(("swap", (a, b)))
        rng.shuffle(node_moves)
        return out + node_moves

    def apply(self, ranges: Ranges, move: Move) -> dict[str, tuple[int, int]] | None:
        """The neighbour ``move`` leads to, or None when it would break a memory limit or empty a range."""
        kind, args = move
        if kind == "shift":
            b, d = args
            assert isinstance(b, int) and isinstance(d, int)
            return self._shift(ranges, b, d)
        if kind == "relocate":
            n, r = args
            assert isinstance(n, str) and isinstance(r, tuple)
            out = dict(ranges)
            out[n] = r
            return out
        if kind == "swap":
            a, b = args
            assert isinstance(a, str) and isinstance(b, str)
            out = dict(ranges)
            out[a], out[b] = ranges[b], ranges[a]
            return out
        stages = stages_of(ranges, self.inst.layers)
        assert stages is not None
        if kind == "fork":
            (j,) = args
            assert isinstance(j, int)
            return self._fork(ranges, stages, j)
        sizes = [r[1] - r[0] for r, _ in stages]
        groups = [list(names) for _, names in stages]
        if kind == "transfer":
            j, k = args
            assert isinstance(j, int) and isinstance(k, int)
            sizes[j] -= 1
            sizes[k] += 1
        elif kind == "balance":
            balanced = self._balance(groups)
            if balanced is None:
                return None
            sizes = balanced
        elif kind == "merge":
            j, how = args
            assert isinstance(j, int)
            sizes[j : j + 2] = [sizes[j] + sizes[j + 1]]
            groups[j : j + 2] = [groups[j] + groups[j + 1]]
            if how == "balance":
                balanced = self._balance(groups)
                if balanced is None:
                    return None
                sizes = balanced
        else:  # split
            j, how = args
            assert isinstance(j, int)
            m = sizes[j]
            by_kv = sorted(groups[j], key=lambda n: (-self.perf[n].kv_capacity(min(m, self.k_max[n])), n))
            first, second = by_kv[0::2], by_kv[1::2]
            if how == "halve":
                if m < 2:
                    return None
                sizes[j : j + 1] = [m - m // 2, m // 2]
                groups[j : j + 1] = [first, second]
            else:
                sizes[j : j + 1] = [m, m]
                groups[j : j + 1] = [first, second]
                if how == "balance":
                    balanced = self._balance(groups)
                    if balanced is None:
                        return None
                    sizes = balanced
                elif not self._take(sizes, groups, m, keep={j, j + 1}):
                    return None
        return self._tile(sizes, groups)

    def _fork(
        self, ranges: Ranges, stages: list[tuple[tuple[int, int], list[str]]], j: int
    ) -> dict[str, tuple[int, int]] | None:
        """Stages ``j..`` become one lane per region running side by side over the rest of the model (each lane a
        chain of its nodes, by GPU kind, layers balanced by KV), so that a path crosses a slow wide-area link once
        instead of once per region it visits; None when a region's nodes cannot hold the rest of the model."""
        b = stages[j][0][0]
        lanes: dict[str, dict[tuple[str, int], list[str]]] = {}
        for _, names in stages[j:]:
            for n in names:
                lanes.setdefault(self.region[n], {}).setdefault(self.kind[n], []).append(n)
        if len(lanes) < 2:
            return None
        out = {n: ranges[n] for _, names in stages[:j] for n in names}
        for region in sorted(lanes, key=lambda r: self.region_rank[r]):
            groups = [[n] for k in sorted(lanes[region]) for n in sorted(lanes[region][k])]
            sizes = self._balance(groups, self.inst.layers - b)
            if sizes is None:
                return None
            pos = b
            for m, names in zip(sizes, groups, strict=True):
                for n in names:
                    out[n] = (pos, pos + m)
                pos += m
        return out

    def _balance(self, groups: list[list[str]], layers: int | None = None) -> list[int] | None:
        """Layers per stage (``layers`` in all, the whole model by default) that maximise the smallest KV per layer
        (each stage's KV per layer falls as it holds more, so handing out one layer at a time to the stage that
        keeps the most KV per layer is optimal); None when the stages cannot hold them."""
        limit = [min(self.k_max[n] for n in g) for g in groups]
        sizes = [1] * len(groups)
        left = (self.inst.layers if layers is None else layers) - len(groups)
        if left < 0 or any(lim < 1 for lim in limit):
            return None
        heap = [(-self.kv_per_layer(g, 2), i) for i, g in enumerate(groups) if limit[i] >= 2]
        heapq.heapify(heap)
        for _ in range(left):
            if not heap:
                return None
            _, i = heapq.heappop(heap)
            sizes[i] += 1
            if sizes[i] < limit[i]:
                heapq.heappush(heap, (-self.kv_per_layer(groups[i], sizes[i] + 1), i))
        return sizes

    def _shift(self, ranges: Ranges, b: int, d: int) -> dict[str, tuple[int, int]] | None:
        nb = b + d
        out = dict(ranges)
        for n, (s, e) in ranges.items():
            if e == b:
                if nb <= s or nb - s > self.k_max[n]:
                    return None
                out[n] = (s, nb)
            elif s == b:
                if nb >= e or e - nb > self.k_max[n]:
                    return None
                out[n] = (nb, e)
        return out

    def _take(self, sizes: list[int], groups: list[list[str]], count: int, keep: set[int]) -> bool:
        """Remove ``count`` layers, one at a time, from the stage with the least KV per layer that can spare one."""
        for _ in range(count):
            options = [
                (self.kv_per_layer(groups[i], sizes[i]), i) for i in range(len(sizes)) if i not in keep and sizes[i] > 1
            ]
            if not options:
                return False
            sizes[min(options)[1]] -= 1
        return True

    def _tile(self, sizes: list[int], groups: list[list[str]]) -> dict[str, tuple[int, int]] | None:
        out: dict[str, tuple[int, int]] = {}
        pos = 0
        for m, names in zip(sizes, groups, strict=True):
            if m < 1 or not names or any(m > self.k_max[n] for n in names):
                return None
            for n in names:
                out[n] = (pos, pos + m)
            pos += m
        return out if pos == self.inst.layers else None


def describe(move: Move) -> str:
    kind, args = move
    return f"{kind} " + " ".join(str(a) for a in args)


def refine(
    inst: HelixInstance,
    ranges: Ranges,
    mode: Mode,
    model: ServedModel,
    evaluate: Evaluate,
    *,
    max_evaluations: int,
    deadline: float,
    seed: int = 0,
) -> Refined:
    """Climb from ``ranges`` (module docstring); ``evaluate`` returns the routing flow of a placement.

    ``mode`` is recorded for the caller; the moves themselves keep every node's range within its memory limit and
    leave chaining to the flow (a neighbour whose chain breaks carries no flow and is never taken).
    """
    del mode  # strict and partial placements use the same moves; the flow decides what chains
    fast = throughput_model(model)
    hood = _Neighbourhood(inst, model)
    rng = random.Random(seed)
    cur = {n: tuple(r) for n, r in ranges.items()}
    cur_ranges: dict[str, tuple[int, int]] = {n: (int(r[0]), int(r[1])) for n, r in cur.items()}
    flow = evaluate(cur_ranges)
    best = fast.predict(inst, cur_ranges, flow)
    start = best.decode_tok_s
    evaluations, stopped, taken = 1, "local optimum", []
    seen = {tuple(sorted(cur_ranges.items()))}
    improved = True
    while improved:
        improved = False
        moves = hood.moves(cur_ranges, rng)
        for move in moves:
            if evaluations >= max_evaluations:
                stopped = f"evaluation budget ({max_evaluations})"
                break
            if time.monotonic() >= deadline:
                stopped = "time limit"
                break
            nxt = hood.apply(cur_ranges, move)
            if nxt is None:
                continue
            key = tuple(sorted(nxt.items()))
            if key in seen:
                continue
            seen.add(key)
            evaluations += 1
            f = evaluate(nxt)
            if f.value <= 0:
                continue
            pred = fast.predict(inst, nxt, f)
            if pred.decode_tok_s > best.decode_tok_s * (1 + MIN_GAIN):
                cur_ranges, flow, best = nxt, f, pred
                taken.append(f"{describe(move)}: {pred.decode_tok_s:.6g} @{evaluations}")
                improved = True
                break
        if stopped != "local optimum":
            break
    final = model.predict(inst, cur_ranges, flow)
    return Refined(cur_ranges, flow, final, start, evaluations, stopped, taken)
