"""Search the (prompt, token) grid with the simulator, guided by the analytic model (Splitwise section IV-D).

The paper simulates every grid point (hundreds of points at ~15 s each). We exploit that the SLOs are *nearly*
monotone: more machines never hurt much, a higher rate never helps much.

**Iso-throughput** (least cost / power / machines at a rate), per design:

1. *Analytic start.* The capacity bound gives the least total machines N_lb any point needs; the latency model
   gives its cheapest predicted-feasible point (P_a, T_a) and so the prompt share s = P_a / (P_a + T_a).
2. *Bisection on totals.* Along the split P(N) = round(s N), find the least feasible total N by k-section
   (``batch_points`` interior totals per round, evaluated in parallel), starting from N_a = P_a + T_a and growing
   by 25 % until feasible.
3. *Then the split.* Local search: every grid point within ``neighbourhood`` of the best that would be preferred
   to it (cheaper, or as cheap with fewer machines / fewer prompt machines) and is not dominated by a point already
   simulated infeasible (monotonicity) is simulated, nearest in objective first; the best feasible replaces the
   incumbent and the search repeats until no candidate is left.

**Iso-budget** (highest rate within a cost and/or power budget), per design: the budget fixes T(P) for each P
(``model.budget_line``); the analytic capacity picks the best-balanced split P_a; bisection on the rate (in
steps of ``rate_step_rps``) asks at each rate whether a split within ``split_window`` of P_a is feasible,
nearest splits first.

Evaluated points are cached per (design, rate, P, T) and all go to the plan's ledger. A wall-clock deadline
(``--time-limit``) is checked before each batch; hitting it ends the search with the incumbent (status
``time_limit``). Ctrl-C (KeyboardInterrupt) ends it too: the design being searched keeps the best feasible point
simulated so far (status ``interrupted``; points of a batch already back are kept) and :attr:`Search.interrupted`
tells the caller to skip the designs not yet searched. Nothing here depends on how many worker processes run the
batches.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from planner.splitwise.analytic import AnalyticModel, Capacity, capacity_rate
from planner.splitwise.evaluate import PointResult
from planner.splitwise.machines import Design
from planner.splitwise.model import (
    Objective,
    Point,
    budget_line,
    objective_value,
    tie_key,
)
from planner.splitwise.parallel import PointRunner


class TimeLimitReached(Exception):
    """The wall-clock budget ran out before the next batch."""


@dataclass
class DesignOutcome:
    """What the search found for one design."""

    design: Design
    best: PointResult | None = None
    rate_rps: float | None = None
    bound: float | None = None  # lower bound on the objective (iso-throughput) / upper bound on the rate (budget)
    analytic_point: Point | None = None
    analytic_rate_rps: float | None = None
    status: str = "feasible"  # feasible | infeasible | time_limit | interrupted
    note: str = ""
    closest: PointResult | None = None  # best failing point when infeasible (for the shortfall)
    capacity_rps: float | None = None  # capacity of the largest allowed cluster, when even that is too small


@dataclass
class SearchSettings:
    objective: Objective
    batch_points: int
    max_machines: int
    neighbourhood: int
    rate_step_rps: float
    split_window: int
    deadline: float | None = None


@dataclass
class Search:
    """Simulated points of a run, evaluated in deterministic batches through ``runner``."""

    runner: PointRunner
    settings: SearchSettings
    ledger: dict[tuple[str, float, int, int], PointResult] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic
    interrupted: bool = False  # Ctrl-C ended a design's search: the caller stops

    # ------------------------------------------------------------------------------------------- evaluation
    def evaluate(self, design: Design, points: list[Point], rate: float) -> list[PointResult]:
        missing = []
        for p in points:
            if (design.name, rate, p.prompt, p.token) not in self.ledger and p not in missing:
                missing.append(p)
        if missing:
            if self.settings.deadline is not None and self.clock() > self.settings.deadline:
                raise TimeLimitReached
            for res in self.runner.run([(design.name, p, rate) for p in missing]):
                self.ledger[res.key] = res
        return [self.ledger[(design.name, rate, p.prompt, p.token)] for p in points]

    def known(self, design: Design, rate: float) -> list[PointResult]:
        return [r for (d, rr, _, _), r in self.ledger.items() if d == design.name and rr == rate]

    def stop_interrupted(self, out: DesignOutcome, budget: bool) -> DesignOutcome:
        """Ctrl-C during ``out``'s search: keep the best feasible point simulated so far for the design.

        Iso-throughput: the best by the objective's tie key at the design's rate (as the time-limit path does).
        Iso-budget: the highest feasible rate, cheapest point there (as ``max_rate`` picks). Without a feasible
        point the design's best stays None; the caller decides whether anything can be kept.
        """
        self.interrupted = True
        design = out.design
        mine = [r for r in self.ledger.values() if r.design == design.name]
        out.status = "interrupted"
        out.note = f"search interrupted (Ctrl-C) after {len(mine)} simulated points"
        feasible = [r for r in mine if r.feasible]
        if budget:
            if feasible:
                top = max(r.rate_rps for r in feasible)
                at_top = [r for r in feasible if r.rate_rps == top]
                out.best = min(at_top, key=lambda r: tie_key(design, r.point, "cost"))
                out.rate_rps = top
        else:
            at_rate = [r for r in feasible if r.rate_rps == out.rate_rps]
            obj = self.settings.objective
            out.best = min(at_rate, key=lambda r: tie_key(design, r.point, obj)) if at_rate else None
        return out

    def dominated(self, design: Design, rate: float, point: Point) -> bool:
        """Monotonicity pruning: a simulated infeasible point with at least as many of each machine."""
        return any(
            not r.feasible and point.prompt <= r.prompt and point.token <= r.token for r in self.known(design, rate)
        )

    # ----------------------------------------------------------------------------------- iso-throughput
    def min_objective(
        self,
        design: Design,
        rate: float,
        model: AnalyticModel,
        caps: tuple[Capacity, Capacity],
        lending: bool,
    ) -> DesignOutcome:
        out = DesignOutcome(design=design, rate_rps=rate)
        try:
            return self._min_objective(out, rate, model, caps, lending)
        except KeyboardInterrupt:
            return self.stop_interrupted(out, budget=False)

    def _min_objective(
        self,
        out: DesignOutcome,
        rate: float,
        model: AnalyticModel,
        caps: tuple[Capacity, Capacity],
        lending: bool,
    ) -> DesignOutcome:
        design = out.design
        obj = self.settings.objective
        baseline = design.kind == "baseline"
        out.bound, lb_total = self._capacity_bound(design, rate, caps, lending)
        if lb_total is None:
            m = self.settings.max_machines
            out.status, out.note = "infeasible", f"needs more than {m} machines (capacity)"
            cp, ct = caps
            if baseline:
                out.capacity_rps = capacity_rate(m, m, cp, cp, lending=False)
            else:
                out.capacity_rps = max(capacity_rate(p, m - p, cp, ct, lending) for p in range(1, m))
            return out
        start = self._analytic_start(design, rate, model, lb_total)
        out.analytic_point = start
        share = 1.0 if baseline else (start.prompt / start.machines if start else 0.5)

        def split(total: int) -> Point:
            if baseline:
                return Point(total, 0)
            p = min(max(round(total * share), 1), total - 1)
            return Point(p, total - p)

        min_total = 1 if baseline else 2
        lo = max(lb_total - 1, min_total - 1)  # totals <= lo are taken as infeasible (capacity bound)
        hi = max(start.machines if start else lb_total, lo + 1)
        try:
            while True:
                res = self.evaluate(design, [split(hi)], rate)[0]
                if res.feasible:
                    break
                out.closest = _closer(out.closest, res)
                if hi >= self.settings.max_machines:
                    out.status = "infeasible"
                    out.note = f"no feasible point up to {self.settings.max_machines} machines"
                    return out
                lo, hi = hi, min(self.settings.max_machines, math.ceil(hi * 1.25) + 1)
            while hi - lo > 1:
                mids = _interior(lo, hi, self.settings.batch_points)
                results = self.evaluate(design, [split(m) for m in mids], rate)
                feas = [m for m, r in zip(mids, results, strict=True) if r.feasible]
                new_hi = min(feas) if feas else hi
                below = [m for m, r in zip(mids, results, strict=True) if not r.feasible and m < new_hi]
                lo, hi = (max(below) if below else lo), new_hi
            best = self.evaluate(design, [split(hi)], rate)[0]
            out.best = best
            self._local_search(design, rate, out)
        except TimeLimitReached:
            out.status = "time_limit"
            out.note = "time limit reached during the search"
            feasible = [r for r in self.known(design, rate) if r.feasible]
            if feasible:
                out.best = min(feasible, key=lambda r: tie_key(design, r.point, obj))
        if out.best is None and out.status == "feasible":
            out.status = "infeasible"
        return out

    def _local_search(self, design: Design, rate: float, out: DesignOutcome) -> None:
        obj = self.settings.objective
        radius = self.settings.neighbourhood
        assert out.best is not None
        while True:
            best = out.best
            assert best is not None
            best_key = tie_key(design, best.point, obj)
            cands = []
            for dp in range(-radius, radius + 1):
                for dt in range(-radius, radius + 1) if design.kind == "split" else (0,):
                    q = Point(best.prompt + dp, best.token + dt)
                    if q.prompt < 1 or (design.kind == "split" and q.token < 1):
                        continue
                    if q.machines > self.settings.max_machines or tie_key(design, q, obj) >= best_key:
                        continue
                    if (design.name, rate, q.prompt, q.token) in self.ledger or self.dominated(design, rate, q):
                        continue
                    cands.append(q)
            if not cands:
                return
            cands.sort(key=lambda q: (-objective_value(design, q, obj), q.machines, q.prompt))
            batch = cands[: self.settings.batch_points]
            results = self.evaluate(design, batch, rate)
            feasible = [r for r in results if r.feasible]
            for r in results:
                if not r.feasible:
                    out.closest = _closer(out.closest, r)
            if feasible:
                out.best = min(feasible, key=lambda r: tie_key(design, r.point, obj))

    def _capacity_bound(
        self, design: Design, rate: float, caps: tuple[Capacity, Capacity], lending: bool
    ) -> tuple[float | None, int | None]:
        """Least objective (and least total machines) of points whose capacity covers ``rate``."""
        obj = self.settings.objective
        cp, ct = caps
        best: tuple[float, int] | None = None
        best_total: int | None = None
        max_m = self.settings.max_machines
        if design.kind == "baseline":
            for n in range(1, max_m + 1):
                if capacity_rate(n, n, cp, cp, lending=False) >= rate:
                    return objective_value(design, Point(n, 0), obj), n
            return None, None
        for p in range(1, max_m):
            # least T for this P (capacity is non-decreasing in T)
            lo, hi = 0, max_m - p
            if capacity_rate(p, hi, cp, ct, lending) < rate:
                continue
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if capacity_rate(p, mid, cp, ct, lending) >= rate:
                    hi = mid
                else:
                    lo = mid
            pt = Point(p, hi)
            val = objective_value(design, pt, obj)
            if best is None or val < best[0]:
                best = (val, pt.machines)
            if best_total is None or pt.machines < best_total:
                best_total = pt.machines
        if best is None:
            return None, None
        return best[0], best_total

    def _analytic_start(self, design: Design, rate: float, model: AnalyticModel, lb_total: int) -> Point | None:
        return analytic_cheapest(design, rate, model, self.settings.objective, self.settings.max_machines, lb_total)

    # ------------------------------------------------------------------------------------- iso-budget
    def max_rate(
        self,
        design: Design,
        cost_budget: float | None,
        power_budget: float | None,
        model: AnalyticModel,
        caps: tuple[Capacity, Capacity],
        lending: bool,
    ) -> DesignOutcome:
        out = DesignOutcome(design=design)
        try:
            return self._max_rate(out, cost_budget, power_budget, model, caps, lending)
        except KeyboardInterrupt:
            return self.stop_interrupted(out, budget=True)

    def _max_rate(
        self,
        out: DesignOutcome,
        cost_budget: float | None,
        power_budget: float | None,
        model: AnalyticModel,
        caps: tuple[Capacity, Capacity],
        lending: bool,
    ) -> DesignOutcome:
        design = out.design
        line = budget_line(design, cost_budget, power_budget)
        if not line:
            out.status, out.note = "infeasible", "the budget does not buy one machine of each pool"
            return out
        cp, ct = caps
        if design.kind == "baseline":
            bound = max(capacity_rate(p.prompt, p.prompt, cp, cp, lending=False) for p in line)
            centre = line[0]
        else:
            # the bound lets a mixed pool use every machine for either phase; the centre is the split whose
            # dedicated pools are balanced (lending only absorbs bursts)
            bound = max(capacity_rate(p.prompt, p.token, cp, ct, lending) for p in line)
            centre = max(line, key=lambda p: (capacity_rate(p.prompt, p.token, cp, ct, False), -p.prompt))
        cap_rate = bound
        out.bound = cap_rate
        out.analytic_point = centre
        step = self.settings.rate_step_rps
        k_cap = max(1, math.floor(cap_rate / step + 1e-9))
        k_a = _least_false(lambda k: model.predict(centre.prompt, centre.token, k * step).feasible, 1, k_cap)
        out.analytic_rate_rps = (k_a - 1) * step if k_a is not None else k_cap * step
        order = sorted(line, key=lambda p: (abs(p.prompt - centre.prompt), p.prompt))
        order = [p for p in order if abs(p.prompt - centre.prompt) <= self.settings.split_window]

        def feasible_at(k: int) -> PointResult | None:
            rate = k * step
            for i in range(0, len(order), self.settings.batch_points):
                results = self.evaluate(design, order[i : i + self.settings.batch_points], rate)
                ok = [r for r in results if r.feasible]
                for r in results:
                    if not r.feasible:
                        out.closest = _closer(out.closest, r)
                if ok:
                    return min(ok, key=lambda r: tie_key(design, r.point, "cost"))
            return None

        try:
            k0 = max(1, min(k_cap, (k_a - 1) if k_a is not None and k_a > 1 else k_cap))
            lo, hi = 0, k_cap + 1
            found = feasible_at(k0)
            if found is not None:
                lo, out.best = k0, found
            else:
                hi = k0
            while hi - lo > 1:
                mid = (lo + hi) // 2  # >= 1 because hi >= lo + 2 >= 2
                found = feasible_at(mid)
                if found is not None:
                    lo, out.best = mid, found
                else:
                    hi = mid
        except TimeLimitReached:
            out.status, out.note = "time_limit", "time limit reached during the rate search"
        if out.best is not None:
            out.rate_rps = out.best.rate_rps
        elif out.status == "feasible":
            out.status = "infeasible"
            out.note = f"no split near P={centre.prompt} meets the SLOs even at {step:g} req/s"
        return out


def analytic_cheapest(
    design: Design, rate: float, model: AnalyticModel, objective: Objective, max_machines: int, min_total: int = 1
) -> Point | None:
    """Cheapest point the latency model predicts feasible at ``rate`` (None if none up to ``max_machines``).

    TTFT depends on P only and TBT on T only, so each pool's least count is found by bisection; then P is scanned
    upwards from its least value for the least T meeting the E2E SLOs too (the coupling), stopping when T reaches
    its own least value.
    """
    if design.kind == "baseline":
        n = _least(lambda n: model.predict(n, 0, rate).feasible, max(min_total, 1), max_machines)
        return Point(n, 0) if n is not None else None
    best: Point | None = None
    p_min = _least(lambda p: all(v.met for v in model.predict(p, max_machines, rate).values[:3]), 1, max_machines - 1)
    t_min = _least(lambda t: all(v.met for v in model.predict(max_machines, t, rate).values[3:6]), 1, max_machines - 1)
    if p_min is None or t_min is None:
        return None
    for p in range(p_min, min(p_min + 40, max_machines)):
        t = _least(partial(_feasible_at, model, rate, p), t_min, max_machines - p)
        if t is None:
            continue
        q = Point(p, t)
        if best is None or tie_key(design, q, objective) < tie_key(design, best, objective):
            best = q
        if t == t_min:
            break
    return best


def _interior(lo: int, hi: int, k: int) -> list[int]:
    """Up to ``k`` distinct integers strictly between lo and hi, evenly spaced (k-section)."""
    span = hi - lo
    pts = sorted({lo + max(1, min(span - 1, round(span * (i + 1) / (k + 1)))) for i in range(k)})
    return [p for p in pts if lo < p < hi]


def _feasible_at(model: AnalyticModel, rate: float, prompt: int, token: int) -> bool:
    """Whether the latency model predicts ``prompt`` + ``token`` machines feasible at ``rate`` (bound per prompt)."""
    return model.predict(prompt, token, rate).feasible


def _least(pred: Callable[[int], bool], lo: int, hi: int) -> int | None:
    """Least x in [lo, hi] with pred(x), assuming pred is monotone (False ... True); None if pred(hi) is False."""
    if hi < lo or not pred(hi):
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        if pred(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def _least_false(pred: Callable[[int], bool], lo: int, hi: int) -> int | None:
    """Least x in [lo, hi] with not pred(x), assuming pred is monotone (True ... False); None if pred(hi)."""
    return _least(lambda x: not pred(x), lo, hi)


def _closer(current: PointResult | None, candidate: PointResult) -> PointResult:
    """Keep the failing point that came closest to meeting every SLO (largest worst margin)."""
    if current is None:
        return candidate

    def score(r: PointResult) -> tuple[float, int]:
        w = r.worst
        margin = w.margin if w is not None and w.margin is not None else -math.inf
        return (margin, r.prompt + r.token)

    return candidate if score(candidate) > score(current) else current
