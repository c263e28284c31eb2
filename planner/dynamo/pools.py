"""Cluster and pool levels of the hierarchy: fragmentation control (reference 5.3) and the exact pool re-shard.

Cluster level, every ``epoch`` (reference section 5.3, the fragmentation rule)
-------------------------------------------------------------------------------
Classes are visited in order (SS, SM, SL, MS, MM, ML, LS, LM, LL). Each pool holds whole *reference replicas* (the
largest TP at the top clock). A pool's load is measured in replicas, ``U_p = sum_k lam_{k->p} / cap_{k,ref}``: its
own class plus whatever earlier classes promoted into it, each at its *own* capacity under its *own* SLO (so a
promoted request still meets its class's targets: the reference's caveat [O]). The pool keeps ``floor(U_p)``
replicas; the leftover below one replica -- the same share of every class the pool carries -- moves to the next
class that dominates it (SS->SM->SL->ML->LL, MS->MM->ML, LS->LM->LL). Only the sink (LL, dominated by nothing
later) rounds up. The reference adds leftover rates in requests/s; measuring them in replicas of their own class
is the exact version of the same step (a long request uses more of a replica than a short one).

Pool level, every ``reshard_epoch`` (reference 5.2 with load-dependent power)
------------------------------------------------------------------------------
A pool re-shards its fixed GPUs ``G_p`` into a TP mix at the top clock (``sum_t t n_t = G_p``). The router sends
every instance the pool's class mix in the same proportions, so each configuration c acts as one blended class:
capacity ``cap_c = 1 / sum_k (s_k / cap_{k,c})`` (s_k the mix shares, linear mixing) and dynamic power
``D_c(U) = sum_k w_k D_{k,c}(U)`` with ``w_k`` the classes' shares of the served utilisation: the plan's own
group-energy formula (:mod:`planner.dynamo.solution`), concave because every ``D_{k,c}`` is.

The pool's problem is solved exactly by enumeration. For a fixed mix ``n`` the energy of a group of ``n_c``
balanced instances carrying ``x_c`` is ``n_c (P0_c + D_c(x_c / n_c ...))``, concave in ``x_c``; the split of the
pool's load minimises a sum of concave functions over ``{sum_c x_c = L, 0 <= x_c <= n_c cap_c}``, so an optimum
lies at a vertex: every configuration idle (``x_c = 0``) or full (``x_c = n_c cap_c``) except at most one. The
enumeration visits every mix and every such vertex; ``tests/property/test_dynamo_milp.py`` checks it against the
MILP of :mod:`planner.dynamo.model`. Ties go to fewer instances, then to the larger TPs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from planner.dynamo.profile import Config, PowerCurve

EPS = 1e-9


@dataclass(frozen=True)
class Promotion:
    """The cluster level's decision for one window: replicas per pool and which share of each class goes where."""

    replicas: dict[str, int]  # pool -> reference replicas
    route: dict[str, dict[str, float]]  # pool -> class -> share of that class's rate the pool serves


def next_dominating(order: tuple[str, ...], dominates: dict[tuple[str, str], bool]) -> dict[str, str | None]:
    """next(k): the first later class whose pool may serve k (reference 5.3); None for a sink."""
    out: dict[str, str | None] = {}
    for i, k in enumerate(order):
        out[k] = next((j for j in order[i + 1 :] if dominates[(j, k)]), None)
    return out


def promote(
    order: tuple[str, ...],
    nxt: dict[str, str | None],
    rate: dict[str, float],
    util: Callable[[dict[str, float]], float],
) -> Promotion:
    """The fragmentation rule over one window's provisioned rates (module docstring).

    ``util(load)`` is the number of reference replicas a class mix needs (positively homogeneous: scaling every
    class by a factor scales it by that factor; inf when two classes cannot share a replica within their SLOs).
    With interference a leftover can cost its target more than its own share (short requests sharing a long class's
    replicas lower that class's capacity): a leftover moves only when it adds less than one replica to its target,
    the replica rounding up at home would cost; otherwise its own pool rounds up. Without interference the leftover
    always adds less than one replica, so this is the reference's rule unchanged.
    """
    carry: dict[str, dict[str, float]] = {k: {} for k in order}  # pool -> class -> rate
    for k in order:
        if rate.get(k, 0.0) > 0:
            carry[k][k] = carry[k].get(k, 0.0) + rate[k]
    replicas: dict[str, int] = {}
    for p in order:
        loads = carry[p]
        u = util(loads) if loads else 0.0
        target = nxt[p]
        if u <= EPS:
            replicas[p] = 0
            carry[p] = {}
            continue
        if target is None:
            replicas[p] = math.ceil(u - 1e-9)
            continue
        n = math.floor(u + 1e-9)
        keep = n / u
        kept = {k: x * keep for k, x in loads.items()}
        left = {k: x - kept[k] for k, x in loads.items() if x - kept[k] > EPS * max(1.0, x)}
        merged = dict(carry[target])
        for k, x in left.items():
            merged[k] = merged.get(k, 0.0) + x
        if left and util(merged) - (util(carry[target]) if carry[target] else 0.0) >= 1.0:
            replicas[p] = math.ceil(u - 1e-9)  # cheaper to round up here than to share the target's replicas
            continue
        replicas[p] = n
        carry[target] = merged
        carry[p] = {k: x for k, x in kept.items() if x > EPS}
    route = {
        p: {k: x / rate[k] for k, x in loads.items() if rate.get(k, 0.0) > 0} for p, loads in carry.items() if loads
    }
    return Promotion(replicas, route)


@dataclass(frozen=True)
class Blend:
    """One configuration serving a pool's class mix: capacity (provisioned req/s per instance) and power."""

    config: Config
    cap_rps: float
    idle_w: float
    weights: dict[str, float]  # class -> share of the served utilisation
    served_per_rps: float  # served utilisation per provisioned req/s per instance: sum_k rho_k s_k / cap_{k,c}
    curves: dict[str, PowerCurve]

    def dyn_w(self, u: float) -> float:
        return sum(w * self.curves[k].at(u) for k, w in self.weights.items())

    def group_wh(self, n: int, x: float, hours: float) -> float:
        """Energy of n balanced instances carrying provisioned rate x over ``hours``."""
        if n <= 0:
            return 0.0
        u = self.served_per_rps * x / n
        return n * (self.idle_w + self.dyn_w(u)) * hours


def blend(
    c: Config,
    load: dict[str, float],
    rho: dict[str, float],
    cap: dict[str, float],
    idle_w: float,
    curves: dict[str, PowerCurve],
    usage: float | None = None,
) -> Blend | None:
    """The blended class of ``load`` (class -> provisioned rate) on c; None if some class cannot run on c.

    ``usage``: instances of c the whole load needs (with interference); default linear mixing.
    """
    total = sum(load.values())
    if total <= 0:
        return Blend(c, math.inf, idle_w, {}, 0.0, {})
    if any(cap.get(k, 0.0) <= 0 for k, x in load.items() if x > 0):
        return None
    if usage is not None and math.isinf(usage):
        return None
    shares = {k: x / total for k, x in load.items() if x > 0}
    inv = usage / total if usage is not None else sum(s / cap[k] for k, s in shares.items())
    served = {k: rho.get(k, 1.0) * s / cap[k] for k, s in shares.items()}
    a = sum(served.values())
    weights = {k: v / a for k, v in served.items()} if a > 0 else {}
    return Blend(c, 1.0 / inv, idle_w, weights, a, {k: curves[k] for k in shares})


@dataclass(frozen=True)
class Reshard:
    """The pool level's choice: instances and provisioned rate (all classes together) per configuration."""

    instances: dict[Config, int]
    rate: dict[Config, float]
    energy_wh: float
    objective_wh: float


def reshard(
    blends: list[Blend],
    gpus: int,
    total_rate: float,
    hours: float,
    prev_instances: dict[int, int] | None,
    reshard_wh_per_gpu: float,
    penalty_weight: float,
    tie_wh: float,
) -> Reshard | None:
    """Best TP mix of exactly ``gpus`` GPUs serving ``total_rate`` (module docstring); None if none can."""
    if not blends:
        return None
    tps = [b.config.tp for b in blends]
    best: Reshard | None = None
    best_key: tuple[float, int, tuple[int, ...]] | None = None
    for ns in _mixes(tps, gpus):
        if sum(n * b.cap_rps for n, b in zip(ns, blends, strict=True)) < total_rate * (1 - 1e-12) - 1e-12:
            continue
        split = _best_split(blends, ns, total_rate, hours)
        if split is None:
            continue
        energy, rates = split
        pen = 0.0
        if prev_instances is not None:
            per_tp: dict[int, int] = {}
            for b, n in zip(blends, ns, strict=True):
                per_tp[b.config.tp] = per_tp.get(b.config.tp, 0) + n
            pen = (
                penalty_weight
                * reshard_wh_per_gpu
                * sum(t * max(0, n - prev_instances.get(t, 0)) for t, n in per_tp.items())
            )
        n_inst = sum(ns)
        obj = energy + pen + tie_wh * n_inst
        # ties: fewer instances, then more GPUs on larger TPs (lexicographic on -n per descending TP)
        order = tuple(-n for _t, n in sorted(zip(tps, ns, strict=True), key=lambda tn: -tn[0]))
        key = (round(obj, 9), n_inst, order)
        if best_key is None or key < best_key:
            best_key = key
            best = Reshard(
                {b.config: n for b, n in zip(blends, ns, strict=True) if n > 0},
                {b.config: r for b, r, n in zip(blends, rates, ns, strict=True) if n > 0},
                energy,
                obj,
            )
    return best


def _mixes(tps: list[int], gpus: int) -> list[tuple[int, ...]]:
    """Every instance-count vector with sum_c tp_c n_c = gpus."""
    if not tps:
        return [()] if gpus == 0 else []
    head, rest = tps[0], tps[1:]
    if not rest:
        return [(gpus // head,)] if gpus % head == 0 else []
    out = []
    for n in range(gpus // head + 1):
        out += [(n, *tail) for tail in _mixes(rest, gpus - n * head)]
    return out


def _best_split(
    blends: list[Blend], ns: tuple[int, ...], total: float, hours: float
) -> tuple[float, list[float]] | None:
    """Least-energy split of ``total`` over groups of ``ns`` instances: every group idle or full but one."""
    k = len(blends)
    caps = [n * b.cap_rps if n > 0 else 0.0 for n, b in zip(ns, blends, strict=True)]
    best: tuple[float, list[float]] | None = None
    for partial in range(k):
        if ns[partial] == 0:
            continue
        others = [i for i in range(k) if i != partial and ns[i] > 0]
        for mask in range(1 << len(others)):
            full = [others[j] for j in range(len(others)) if mask >> j & 1]
            rest = total - sum(caps[i] for i in full)
            if rest < -1e-12 or rest > caps[partial] * (1 + 1e-12) + 1e-12:
                continue
            rates = [0.0] * k
            for i in full:
                rates[i] = caps[i]
            rates[partial] = max(rest, 0.0)
            energy = sum(b.group_wh(n, r, hours) for b, n, r in zip(blends, ns, rates, strict=True))
            if best is None or energy < best[0] - 1e-12:
                best = (energy, rates)
    if best is None and total <= 1e-12:
        return (sum(b.group_wh(n, 0.0, hours) for b, n in zip(blends, ns, strict=True)), [0.0] * k)
    return best
