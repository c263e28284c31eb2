"""Exact per-pool enumeration of the joint epoch problem: the MILP's optimum without the MILP, when pools are separate.

Why it exists. Joint mode re-solves the epoch MILP of :mod:`planner.dynamo.model` 288 times a day; SCIP proves each
optimum in a fraction of a second, but the day then takes about a minute. When every pool serves only its own class
(no dominance, no pool-level GPU counts) the pools interact only through the GPU budget, and each pool's part of the
MILP is small enough to enumerate exactly. This module solves exactly the MILP's feasible set, so its answer is the
MILP's optimum (to floating point), proved by exhaustion rather than by a dual bound.

What one pool's part of the MILP allows (pool p serving class p at rate L, served share rho, epoch hours h)
    every configuration c is in one state: *full*, f_c instances at capacity (load f_c cap_c, power P0_c + D_c(rho)
    each), or *partial*, n instances at one utilisation u = rho l / (n cap_c) <= 1 with l <= n cap_c (power
    P0_c + D_c(u) each); at most one configuration of the pool is partial (``one_partial``); every count is at most
    the MILP's bound B_c (``_instance_bound``: enough for the pool's whole load, and the GPU budget's G // tp_c). The
    loads add up to L. With ``homogeneous`` only one configuration has instances.
Cost of a deployment (Wh; exactly the MILP objective restricted to the pool)
    sum_c f_c F_c + n (P0_c' h + eps + D_c'(u) h) + W s (GPUs - g')^+ + W r sum_t t (N_t - n'_t)^+,
    F_c = (P0_c + D_c(rho)) h + eps  (eps: the tie-break per instance).

The search (depth-first over the full-group counts, then the partial group)
    * Lower bound. No group serves load for less than w* Wh per req/s: w* is the least of F_c / cap_c and of the
      partial group's cost per load over its utilisations, rho (P0_c h + eps + D_c(u) h) / (u cap_c), which on each
      linear piece of D_c is monotone in u and so is least at a breakpoint. A node with full-group cost A and load R
      still to place costs at least A + w* R (penalties are >= 0); it is cut when that exceeds the incumbent (or
      the slack, below).
    * The partial group. For a fixed configuration and load l its cost over n is the perspective of a concave curve
      when D_c is concave (n P(l/n) is concave in n and tends to +inf, so it is increasing from the least feasible n);
      then the least n is the only candidate. Otherwise every n up to B_c is tried (cut by the same bound).
    * Order: configurations with the largest excess F_c - w* cap_c first (each such group raises the bound, so their
      counts stay small); the cheapest configuration last, counted down from its most full groups, which finds a
      near-optimal incumbent at the first leaf.
The GPU budget
    Without a budget, or when the pools' own optima fit it, the pool optima are the epoch optimum. Otherwise each
    pool's least cost C_p(g) within g GPUs is found by the same search with a GPU cap (a node also needs at least
    R min_c(tp_c / cap_c) GPUs for its load R still to place), for every g between its own optimum's GPUs g*_p and
    g*_p - E (E: how far the pool optima overflow the budget; no pool gives up more than E GPUs in an optimum, since
    C_q is flat above g*_q), and a dynamic programme over pools picks one g per pool within the budget: exact.
Giving up
    The search counts its nodes; past :data:`NODE_LIMIT`, or when an assumption of the bound fails (an idle power
    that does not cost, a negative dynamic power), or when no deployment fits the budget, it returns None and the
    caller solves the MILP (which also explains infeasibility).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass
from typing import TYPE_CHECKING

from planner.dynamo.profile import Config, PowerCurve

if TYPE_CHECKING:
    from planner.dynamo.model import EpochData, MilpInstance

#: Nodes one epoch's search may visit before it hands the epoch to the MILP.
NODE_LIMIT = 400_000
#: Relative tolerance of "the full groups carry the whole load" (the MILP's serve row is an equality).
FIT_TOL = 1e-9


class _GiveUp(Exception):
    """The search is outside what it proves exactly (or too large): solve the MILP instead."""


@dataclass(frozen=True)
class PoolDeployment:
    """One pool's deployment: instances and routed load per configuration, and its cost (MILP objective terms)."""

    cost_wh: float
    gpus: int
    instances: tuple[tuple[Config, int], ...]
    load_rps: tuple[tuple[Config, float], ...]
    started_gpus: float
    new_instances: tuple[tuple[int, float], ...]


@dataclass
class ExactResult:
    """The epoch's optimum over all pools: one deployment per pool, and how it was found."""

    objective_wh: float
    pools: dict[str, PoolDeployment]
    nodes: int
    budget_bound: bool = False  # the budget was binding: solved by the dynamic programme over pools


class _Curve:
    """D_c as plain lists: ``at`` without numpy's per-call overhead (called at every leaf)."""

    __slots__ = ("u", "w")

    def __init__(self, curve: PowerCurve) -> None:
        self.u = list(curve.u)
        self.w = list(curve.dyn_w)

    def at(self, x: float) -> float:
        u, w = self.u, self.w
        if x <= u[0]:
            return w[0]
        if x >= u[-1]:
            return w[-1]
        i = bisect_right(u, x)
        return w[i - 1] + (w[i] - w[i - 1]) * (x - u[i - 1]) / (u[i] - u[i - 1])


@dataclass(frozen=True)
class PoolTable:
    """What the search needs of one pool that no epoch changes (built once per model, :func:`pool_tables`)."""

    configs: tuple[Config, ...]
    cap: tuple[float, ...]
    idle_w: tuple[float, ...]
    curve: tuple[_Curve, ...]
    concave: tuple[bool, ...]
    tps: tuple[int, ...]


def pool_tables(inst: MilpInstance, configs: dict[str, list[Config]]) -> dict[str, PoolTable] | None:
    """Per pool: its configurations (those the MILP keeps) with their capacity, idle power and curve.

    None when the search's lower bound does not hold (an idle power that does not cost, a negative dynamic power):
    the MILP then decides every epoch.
    """
    out = {}
    for p in inst.pools:
        cs = tuple(c for c in configs[p] if inst.cap_rps.get((p, c), 0.0) > 0)
        curves = [inst.curves[(p, c)] for c in cs]
        if any(inst.idle_w[c] < 0 for c in cs) or any(w < 0 for cv in curves for w in cv.dyn_w):
            return None
        out[p] = PoolTable(
            configs=cs,
            cap=tuple(inst.cap_rps[(p, c)] for c in cs),
            idle_w=tuple(inst.idle_w[c] for c in cs),
            curve=tuple(_Curve(cv) for cv in curves),
            concave=tuple(cv.concave for cv in curves),
            tps=tuple(sorted({c.tp for c in configs[p]})),
        )
    return out


@dataclass
class _Pool:
    """One pool's data for one epoch's search (module docstring)."""

    name: str
    table: PoolTable
    load: float
    rho: float
    hours: float
    lim: list[float]  # most load one partial instance may carry: cap min(1, 1/rho)
    fixed: list[float]  # P0 h + eps
    full: list[float]  # F_c
    bound: list[int]  # B_c
    per_load: list[float]  # least cost per provisioned req/s of a group of c, any utilisation
    w_star: float
    homogeneous: bool
    prev_gpus: int | None
    prev_tp: dict[int, int] | None
    start_w: float  # W s
    reshard_w: float  # W r

    def penalty(self, gpus: int, per_tp: dict[int, int]) -> tuple[float, float, dict[int, float]]:
        started = float(max(0, gpus - self.prev_gpus)) if self.prev_gpus is not None else 0.0
        prev = self.prev_tp
        if prev is not None:
            new = {t: float(max(0, per_tp.get(t, 0) - prev.get(t, 0))) for t in self.table.tps}
        else:
            new = {t: 0.0 for t in self.table.tps}
        pen = self.start_w * started + self.reshard_w * sum(t * v for t, v in new.items())
        return pen, started, new

    def partial_cost(self, i: int, n: int, load: float) -> float:
        u = self.rho * load / (n * self.table.cap[i])
        return n * (self.fixed[i] + self.table.curve[i].at(u) * self.hours)


def _pool(inst: MilpInstance, p: str, table: PoolTable, data: EpochData, eps: float) -> _Pool:
    hours = data.length_s / 3600.0
    load = float(data.rate_rps.get(p, 0.0))
    rho = data.served_fraction.get(p, 1.0)
    cap, curves = table.cap, table.curve
    fixed = [w * hours + eps for w in table.idle_w]
    bound = []
    for c, k in zip(table.configs, cap, strict=True):
        b = math.ceil(load / k - 1e-9) if load > 0 else 0  # as EpochModel._instance_bound
        if inst.gpu_budget is not None:
            b = min(b, inst.gpu_budget // c.tp)
        bound.append(max(0, b))
    lim = [k * min(1.0, 1.0 / rho) if rho > 0 else k for k in cap]
    full = [f + cv.at(rho) * hours for f, cv in zip(fixed, curves, strict=True)]
    per_load = []
    umax = min(1.0, rho) if rho > 0 else 0.0
    for i, cv in enumerate(curves):
        best = full[i] / cap[i]
        if umax > 0:
            for u in [x for x in cv.u if 0 < x < umax] + [umax]:
                best = min(best, rho * (fixed[i] + cv.at(u) * hours) / (u * cap[i]))
        per_load.append(best)
    prev_gpus = None if data.prev_pool_gpus is None else data.prev_pool_gpus.get(p, 0)
    prev_tp = None
    if data.prev_instances is not None:
        prev_tp = {t: n for (pp, t), n in data.prev_instances.items() if pp == p}
    return _Pool(
        name=p,
        table=table,
        load=load,
        rho=rho,
        hours=hours,
        lim=lim,
        fixed=fixed,
        full=full,
        bound=bound,
        per_load=per_load,
        w_star=min(per_load, default=math.inf),
        homogeneous=inst.homogeneous,
        prev_gpus=prev_gpus,
        prev_tp=prev_tp,
        start_w=inst.penalty_weight * inst.start_wh_per_gpu,
        reshard_w=inst.penalty_weight * inst.reshard_wh_per_gpu,
    )


class _Search:
    """Depth-first search of one pool (module docstring): the optimum, or every deployment within a limit."""

    def __init__(self, pool: _Pool, limit: float, per_gpus: bool, nodes: int, gpu_cap: int | None = None) -> None:
        self.pool = pool
        self.gpu_cap = gpu_cap  # only deployments with at most this many GPUs (the budget's DP)
        self.limit = limit  # cut nodes whose bound exceeds it; shrinks to the incumbent when not per_gpus
        self.per_gpus = per_gpus
        self.nodes = nodes
        self.best: PoolDeployment | None = None
        self.by_gpus: dict[int, PoolDeployment] = {}
        tab = pool.table
        n = len(tab.configs)
        excess = [pool.full[i] - pool.w_star * tab.cap[i] for i in range(n)]
        # largest excess first; ties by configuration order (deterministic)
        self.order = sorted(range(n), key=lambda i: (-excess[i], tab.configs[i]))
        self.counts = [0] * n
        self.tol = FIT_TOL * max(1.0, pool.load)
        # fewest GPUs per req/s of load: no deployment carries load R on fewer than R * min(tp / cap) GPUs
        self.gpus_per_rps = min((tab.configs[i].tp / tab.cap[i] for i in range(n)), default=0.0)

    def over(self, value: float) -> bool:
        """``value`` exceeds the limit (beyond rounding): cut."""
        return value > self.limit * (1 + 1e-12) + 1e-9

    def run(self) -> None:
        pool = self.pool
        if pool.load <= 0:
            self._record(0.0, None, 0, 0.0)
            return
        self._dfs(0, pool.load, 0.0, 0, 0)

    def _tick(self) -> None:
        self.nodes += 1
        if self.nodes > NODE_LIMIT:
            raise _GiveUp("node limit")

    def _dfs(self, depth: int, rest: float, acc: float, used: int, gpus: int) -> None:
        pool = self.pool
        self._tick()
        if self.over(acc + pool.w_star * rest):
            return
        room = None if self.gpu_cap is None else self.gpu_cap - gpus
        if room is not None and rest * self.gpus_per_rps > room + 1e-9:
            return
        if depth == len(self.order):
            self._leaf(rest, acc, room)
            return
        i = self.order[depth]
        cap, full = pool.table.cap[i], pool.full[i]
        most = min(pool.bound[i], math.floor((rest + self.tol) / cap))
        if room is not None:
            most = min(most, room // pool.table.configs[i].tp)
        if pool.homogeneous and used:
            most = 0
        last = depth == len(self.order) - 1
        counts = range(most, -1, -1) if last else range(0, most + 1)
        for f in counts:
            left, cost = rest - f * cap, acc + f * full
            if not last and self.over(cost + pool.w_star * left):
                break  # each further group of i adds its excess F_i - w* cap_i >= 0 to the bound
            self.counts[i] = f
            self._dfs(depth + 1, left, cost, used + (f > 0), gpus + f * pool.table.configs[i].tp)
        self.counts[i] = 0

    def _leaf(self, rest: float, acc: float, room: int | None) -> None:
        pool, tab = self.pool, self.pool.table
        if abs(rest) <= self.tol:
            self._record(acc, None, 0, rest)
            return
        if rest < 0 or (pool.homogeneous and any(self.counts)):
            return
        for i in range(len(tab.configs)):
            if self.counts[i] or pool.bound[i] <= 0:
                continue
            most = pool.bound[i] if room is None else min(pool.bound[i], room // tab.configs[i].tp)
            first = max(1, math.ceil(rest / pool.lim[i] - 1e-12))
            if first > most or self.over(acc + max(first * pool.fixed[i], pool.per_load[i] * rest)):
                continue
            last = first if tab.concave[i] else most
            for n in range(first, last + 1):
                self._tick()
                if self.over(acc + n * pool.fixed[i]):
                    break
                self._record(acc + pool.partial_cost(i, n, rest), i, n, rest)

    def _record(self, energy: float, part: int | None, n: int, rest: float) -> None:
        """A complete deployment: the current full counts plus the partial group (``part``, n instances)."""
        if self.over(energy):
            return  # penalties are >= 0
        if not self.per_gpus and self.best is not None and energy >= self.best.cost_wh:
            return
        pool, tab, counts = self.pool, self.pool.table, self.counts
        per_tp: dict[int, int] = {}
        gpus = 0
        for i, f in enumerate(counts):
            if f:
                t = tab.configs[i].tp
                per_tp[t] = per_tp.get(t, 0) + f
                gpus += f * t
        if part is not None:
            t = tab.configs[part].tp
            per_tp[t] = per_tp.get(t, 0) + n
            gpus += n * t
        pen, started, new = pool.penalty(gpus, per_tp)
        cost = energy + pen
        if self.over(cost):
            return
        incumbent = self.by_gpus.get(gpus) if self.per_gpus else self.best
        if incumbent is not None and cost >= incumbent.cost_wh - 1e-12 * max(1.0, abs(cost)):
            return
        inst: list[tuple[Config, int]] = []
        loads: list[tuple[Config, float]] = []
        for i, f in enumerate(counts):
            if f:
                inst.append((tab.configs[i], f))
                loads.append((tab.configs[i], f * tab.cap[i]))
        if part is not None:
            inst.append((tab.configs[part], n))
            loads.append((tab.configs[part], rest))
        elif loads and rest != 0.0:  # the few 1e-9 the full groups miss or exceed: on the largest group
            j = max(range(len(loads)), key=lambda m: loads[m][1])
            loads[j] = (loads[j][0], loads[j][1] + rest)
        dep = PoolDeployment(
            cost_wh=cost,
            gpus=gpus,
            instances=tuple(sorted(inst)),
            load_rps=tuple(sorted(loads)),
            started_gpus=started,
            new_instances=tuple(sorted(new.items())),
        )
        if self.per_gpus:
            self.by_gpus[gpus] = dep
        else:
            self.best = dep
            self.limit = min(self.limit, cost)


def solve_exact(inst: MilpInstance, tables: dict[str, PoolTable], data: EpochData, eps: float) -> ExactResult | None:
    """The epoch's optimum by per-pool enumeration, or None when the MILP must decide (module docstring).

    ``tables`` come from :func:`pool_tables` over the configurations each pool's MILP keeps (after the
    dominated-clock pruning, which is exact); ``eps`` is the MILP's tie-break per instance. Valid only when every
    pool serves only its own class and pool GPU counts are free (the caller checks).
    """
    try:
        pools = [_pool(inst, p, tables[p], data, eps) for p in inst.pools]
        nodes = 0
        best: dict[str, PoolDeployment] = {}
        for pool in pools:
            s = _Search(pool, math.inf, per_gpus=False, nodes=nodes)
            s.run()
            nodes = s.nodes
            if s.best is None:
                return None  # the pool cannot be served (within the budget): the MILP says why
            best[pool.name] = s.best
        total = sum(d.cost_wh for d in best.values())
        if inst.gpu_budget is None or sum(d.gpus for d in best.values()) <= inst.gpu_budget:
            return ExactResult(total, best, nodes)
        return _with_budget(pools, best, inst.gpu_budget, nodes)
    except _GiveUp:
        return None


def _with_budget(pools: list[_Pool], best: dict[str, PoolDeployment], budget: int, nodes: int) -> ExactResult | None:
    """The budget binds: each pool's least cost within g GPUs for every g it may need, then a DP over pools.

    With the pools' own optima E GPUs over the budget, no pool gives up more than E of its optimum's GPUs in an
    optimum (the others never need more than their own optima), so pool p's table runs from g*_p down to g*_p - E:
    one GPU-capped search per g (the cost is flat from the GPUs the capped optimum uses up to g, so those are
    skipped), stopping where nothing fits.
    """
    excess = sum(d.gpus for d in best.values()) - budget
    options: dict[str, list[PoolDeployment]] = {}
    for pool in pools:
        top = best[pool.name]
        found = [top]
        g = top.gpus - 1
        while g >= max(0, top.gpus - excess):
            s = _Search(pool, math.inf, per_gpus=False, nodes=nodes, gpu_cap=g)
            s.run()
            nodes = s.nodes
            if s.best is None:
                break  # nothing serves the pool on g GPUs, nor on fewer
            found.append(s.best)
            g = s.best.gpus - 1
        options[pool.name] = sorted(found, key=lambda d: d.gpus)
    chosen = _knapsack(pools, options, budget)
    if chosen is None:
        return None  # nothing fits the budget: the MILP reports the infeasibility
    return ExactResult(sum(d.cost_wh for d in chosen.values()), chosen, nodes, budget_bound=True)


def _knapsack(
    pools: list[_Pool], options: dict[str, list[PoolDeployment]], budget: int
) -> dict[str, PoolDeployment] | None:
    """Least total cost with one deployment per pool and at most ``budget`` GPUs (exact DP over GPU counts)."""
    inf = math.inf
    cost = [0.0] + [inf] * budget  # cost[g]: least cost of the pools so far using exactly g GPUs
    picks: list[list[int]] = []  # per pool, per g: the option index taken
    for pool in pools:
        nxt = [inf] * (budget + 1)
        pick = [-1] * (budget + 1)
        for g in range(budget + 1):
            if cost[g] == inf:
                continue
            for j, d in enumerate(options[pool.name]):
                h = g + d.gpus
                if h > budget:
                    break  # options are sorted by GPUs
                v = cost[g] + d.cost_wh
                if v < nxt[h] - 1e-12 * max(1.0, abs(v)):
                    nxt[h], pick[h] = v, j * (budget + 1) + g
        cost = nxt
        picks.append(pick)
    g = min(range(budget + 1), key=lambda x: (cost[x], x))
    if cost[g] == inf:
        return None
    out: dict[str, PoolDeployment] = {}
    for pool, pick in zip(reversed(pools), reversed(picks), strict=True):
        j, prev = divmod(pick[g], budget + 1)
        out[pool.name] = options[pool.name][j]
        g = prev
    return out
