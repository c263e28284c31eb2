"""The DynamoLLM epoch MILP (OR-Tools MathOpt), built once and re-solved every epoch with updated data.

Formulation (DynamoLLM reference section 5.5, "general joint MILP" [O]; 5.2 is its one-pool, fixed-clock case)
--------------------------------------------------------------------------------------------------------------
Sets
    k in K          request classes (SS ... LL)
    p in P          pools, one per class (pool p is configured for class p)
    c in C          instance configurations (tp_c, f_c); the joint level uses TP x clocks, the hierarchical
                    cluster and pool levels only the top clock (the instance level then picks the clock)
    A(k) subset P   pools that may serve k: {k}, or with dominance every p whose buckets are >= k's
Parameters (per epoch)
    lam_k           provisioned rate of k: (1 + headroom) x peak rate in the epoch        [req/s]
    rho_k           served requests / (lam_k T): the share of the provisioned rate actually served
    cap_{k,c}       highest rate of k one instance of c sustains within k's p99 SLO (0 = never) [req/s]
    P0_c            idle power of one instance of c                                       [W]
    D_{k,c}(u)      dynamic power of one instance of c serving k at utilisation u = load / cap_{k,c}, piecewise
                    linear over operating points u_0 = 0 < u_1 < ... < u_J = 1; on segment j (of the pool's
                    merged grid) D = a_{k,c,j} + s_{k,c,j} u                                [W]
    T               epoch length                                                          [s]
    G               GPU budget; G_p pool budget (hierarchical pool level)                 [GPUs]
    g'_p, n'_{p,t}  previous epoch: GPUs of pool p, instances of pool p with TP t
    s, r            energy to start one GPU (weights load), to re-shard one GPU           [Wh]
Variables
    y_{p,c} in Z+   instances                                     ``instances[p,c]``
    n_{p,c,j} in Z+ instances of (p,c) running on segment j       ``op_instances[p,c,j]``
    d_{p,c,j} in B  the group (p,c) runs on segment j             ``op_segment[p,c,j]``
    x_{k,p,c,j}>=0  rate of k routed to (p,c) on segment j        ``load[k,p,c,j]``   (x_{k,p,c} = sum_j)
    m_{k,p,c,j}>=0  instance-equivalents of class k in a mixed group (pools serving several classes only)
    u_p >= 0        GPUs added to pool p                          ``started_gpus[p]``
    v_{p,t} >= 0    new instances of TP t in pool p               ``new_instances[p,t]``
    w_{p,c} in B    pool p uses config c (homogeneous pools only) ``uses[p,c]``
Objective (Wh over the epoch)
    min  T/3600 sum_{p,c,j} [ (P0_c + a_{k,c,j}) n_{p,c,j} + s_{k,c,j} sum_k rho_k x_{k,p,c,j} / cap_{k,c} ]
                                                              (instance power at its operating point; 5.5 with
                                                               the "SOS2 over profile points" of its last note)
         + W (s sum_p u_p + r sum_{p,t} t v_{p,t})                                      (reconfiguration)
         + eps sum_{p,c} y_{p,c}                                           (tie-break: fewest instances)
Constraints
    serve[k]          sum_{p in A(k), c} x_{k,p,c} = lam_k                                 (5.5 "serve all")
    capacity[p,c]     sum_k x_{k,p,c} / cap_{k,c} <= y_{p,c}          (capacity at SLO, linear mixing)
    split[p,c]        y_{p,c} = sum_j n_{p,c,j};  one_segment[p,c]: sum_j d_{p,c,j} <= 1;  n_{p,c,j} <= M d_{p,c,j}
    segment[p,c,j]    u_{j-1} n_{p,c,j} <= sum_k rho_k x_{k,p,c,j} / cap_{k,c} <= u_j n_{p,c,j}
                      (mixed groups: the same per class with m_{k,p,c,j}, sum_k m_{k,p,c,j} = n_{p,c,j})
    cover[k]          sum_{p in A(k), c} cap_{k,c} y_{p,c} >= lam_k    (implied by serve + capacity; a knapsack
                                                                        row the MILP solver derives cover cuts from)
    gpu_budget        sum_{p,c} tp_c y_{p,c} <= G
    pool_gpus[p]      sum_c tp_c y_{p,c} = G_p                (hierarchical pool level, 5.2 "=")
    start[p]          u_p >= sum_c tp_c y_{p,c} - g'_p
    reshard[p,t]      v_{p,t} >= sum_{c: tp_c = t} y_{p,c} - n'_{p,t}
    one_config[p]     sum_c w_{p,c} <= 1,  y_{p,c} <= M_{p,c} w_{p,c}        (homogeneous pools only)

Symbol table: ``lam`` -> ``EpochData.rate_rps``, ``rho`` -> ``EpochData.served_fraction``, ``cap`` ->
``MilpInstance.cap_rps``, ``P0`` -> ``MilpInstance.idle_w``, ``D`` -> ``MilpInstance.curves``.

Why the segment choice is exact. The router balances a group's load, so all n instances of (p,c) run at the same
utilisation U/n and the group draws ``n P(U/n)``: the perspective of the power curve, not a linear function of the
load. Power saturates with load (concave), so letting one group mix operating points (an SOS2 relaxation without
its adjacency condition, or the old chord ``P0 + e x``) would price a balanced group as if it were run full-or-idle.
Choosing one segment per group with ``d`` and bounding the group's utilisation inside it makes the objective equal
``n P(U/n)`` exactly for a one-class group: the discrete equivalent of SOS2 on the perspective. For a mixed group
(dominance) the classes' instance-equivalents ``m`` may sit at different points of the same segment, so its power is
exact up to the curvature inside one segment; the plan's figures always use the exact balanced curve.

Exactness and speed (288 solves a day). The model is built once; each epoch only changes bounds and objective
coefficients (:meth:`EpochModel.update`), then SCIP (through MathOpt, one thread, ``--seed``, gaps ~0) proves the
optimum. Four reductions keep each epoch to a few milliseconds without changing the optimum:

1. *Dominated clocks* (at build, one-class pools): a configuration that another clock of the same TP dominates (no
   more idle power, no less capacity, no more dynamic power at any per-instance load up to the dominated one's
   capacity; compared at every breakpoint of both curves, exact for piecewise-linear curves) is dropped. Any solution
   using it maps to one at least as good without it; reconfiguration terms depend only on TP.
2. *Screening* (per epoch, pools without dominance): pools then interact only through ``gpu_budget``. For pool p
   with load L, ``UB_p`` is the cost of the best single-configuration deployment (penalties included). A group of c
   carrying load l costs at least ``max(P0_c h, l w_c)`` with ``w_c = min_v (P0_c + D_c(rho v)) h / (v cap_c)``
   (its cheapest cost per provisioned req/s, found at the curve's breakpoints), so a deployment with
   ``y_{p,c} >= 1`` costs at least ``LB_{p,c} = P0_c h + (L - l*)^+ w_min`` with ``l* = min(L, P0_c h / w_c)`` and
   ``w_min = min_c w_c`` (penalties >= 0). If ``LB_{p,c} > UB_p`` then ``y_{p,c} = 0`` in every optimum of pool
   p's own problem.
3. *Decomposition*: the screened model is solved without ``gpu_budget``. If its optimum fits the budget it is also
   optimal with the budget (relaxation optimum that is feasible); otherwise the full model is solved with the budget.
4. *Enumeration* (per epoch, where screening applies, before any MILP): each pool's part of this model is full
   groups of any configurations plus at most one partial group, small enough to enumerate exactly with a cost bound;
   the pools' optima are the epoch's when they fit the budget, else a DP over pools' cost-by-GPU-count tables picks
   one deployment per pool (:mod:`planner.dynamo.exact`). Same feasible set and objective as the MILP, so the same
   optimum, proved by exhaustion (bound = objective); SCIP then runs only when the enumeration gives up (node limit)
   or finds nothing (infeasible epochs: the MILP says why). docs/dynamo.md has the measured days.

The tie-break ``eps`` (1e-4 Wh per instance) only orders equal-energy optima (reference T1: "fewest instances");
the energy reported excludes it. SCIP rather than HiGHS: equally exact, faster on these small models here, and it
writes nothing to stdout (HiGHS 1.x prints a debug line from C++ on some solves, which would corrupt JSON output).
"""

from __future__ import annotations

import datetime
import math
import time
from dataclasses import dataclass, field

from ortools.math_opt.python import mathopt
from ortools.math_opt.solvers.gscip import gscip_pb2

from planner.dynamo.exact import pool_tables, solve_exact
from planner.dynamo.profile import Config, PowerCurve
from planner.solver import Status, status_from_mathopt

#: Tie-break weight per instance (Wh): orders equal-energy optima by fewest instances.
TIE_BREAK_WH = 1e-4
#: Gap tolerances handed to the MILP backend; small enough that "optimal" means proved optimal.
REL_GAP = 1e-9
ABS_GAP = 1e-6
#: The MathOpt backend (see module docstring).
BACKEND = mathopt.SolverType.GSCIP
BACKEND_NAME = "mathopt/scip"
HEURISTICS = mathopt.Emphasis.OFF
#: Solve an epoch by the exact per-pool enumeration when it applies (:mod:`planner.dynamo.exact`); tests of the MILP
#: path itself (SCIP's time limit, its status mapping) turn it off.
ENUMERATE = True


@dataclass(frozen=True)
class MilpInstance:
    """The data of the MILP that does not change between epochs (build once)."""

    classes: tuple[str, ...]
    pools: tuple[str, ...]
    configs: tuple[Config, ...]
    cap_rps: dict[tuple[str, Config], float]
    curves: dict[tuple[str, Config], PowerCurve]
    idle_w: dict[Config, float]
    serves: dict[str, tuple[str, ...]]  # pool -> classes it may serve
    gpu_budget: int | None = None
    pool_gpus_fixed: bool = False  # pool level: sum_c tp y = G_p (G_p given per epoch)
    homogeneous: bool = False
    start_wh_per_gpu: float = 0.0
    reshard_wh_per_gpu: float = 0.0
    penalty_weight: float = 1.0
    prune: bool = True
    #: interference (mixed pools only): per-instance load of j on c that keeps k's SLO; missing = cap_rps[j,c]
    cross_cap: dict[tuple[str, str, Config], float] = field(default_factory=dict)

    def usable(self, p: str, c: Config) -> bool:
        return any(self.cap_rps.get((k, c), 0.0) > 0 for k in self.serves[p])

    def classes_on(self, p: str, c: Config) -> list[str]:
        return [k for k in self.serves[p] if self.cap_rps.get((k, c), 0.0) > 0]

    def grid(self, p: str, c: Config) -> tuple[float, ...]:
        """Operating-point grid of group (p,c): the union of its classes' breakpoints (one segment set)."""
        pts = sorted({round(u, 12) for k in self.classes_on(p, c) for u in self.curves[(k, c)].u})
        return tuple(pts)

    def line(self, k: str, c: Config, lo: float, hi: float) -> tuple[float, float]:
        """(intercept a, slope s) of D_{k,c} on [lo, hi] (linear there: the grid holds every breakpoint)."""
        cv = self.curves[(k, c)]
        d_lo, d_hi = cv.at(lo), cv.at(hi)
        slope = (d_hi - d_lo) / (hi - lo) if hi > lo else 0.0
        return d_lo - slope * lo, slope

    def cost_per_rps(self, k: str, c: Config, rho: float, hours: float) -> float:
        """w_c: the least cost (Wh) per provisioned req/s of a group of c serving only k (module doc, screening)."""
        cv, cap, p0 = self.curves[(k, c)], self.cap_rps[(k, c)], self.idle_w[c]
        vs = {1.0} | {u / rho for u in cv.u if 0 < u <= rho} if rho > 0 else {1.0}
        return min((p0 + cv.at(rho * v)) * hours / (v * cap) for v in vs if v > 0)


@dataclass
class EpochData:
    """What changes every epoch."""

    length_s: float
    rate_rps: dict[str, float]
    served_fraction: dict[str, float]
    prev_pool_gpus: dict[str, int] | None = None
    prev_instances: dict[tuple[str, int], int] | None = None
    pool_gpus: dict[str, int] | None = None  # G_p, with MilpInstance.pool_gpus_fixed


@dataclass
class EpochSolution:
    """The solved epoch: instances and routed rates, with what the backend proved."""

    status: Status
    objective_wh: float | None
    bound_wh: float | None
    instances: dict[tuple[str, Config], int] = field(default_factory=dict)
    load_rps: dict[tuple[str, str, Config], float] = field(default_factory=dict)
    started_gpus: dict[str, float] = field(default_factory=dict)
    new_instances: dict[tuple[str, int], float] = field(default_factory=dict)
    wall_s: float = 0.0
    message: str = ""
    path: str = "full"  # full | screened | enumerated (see module docstring)
    kept_configs: int = 0


def pruned_configs(inst: MilpInstance, p: str) -> list[Config]:
    """Configs of pool p that no other clock of the same TP dominates (see module docstring)."""
    cands = [c for c in inst.configs if inst.usable(p, c)]
    if not inst.prune:
        return cands

    if len(inst.serves[p]) > 1:
        return cands  # the mixed power curve is not ordered by the per-class ones: keep every clock

    def no_worse(a: Config, b: Config) -> bool:  # a dominates b
        if a.tp != b.tp or inst.idle_w[a] > inst.idle_w[b]:
            return False
        for k in inst.serves[p]:
            ca, cb = inst.cap_rps.get((k, a), 0.0), inst.cap_rps.get((k, b), 0.0)
            if cb <= 0:
                continue
            if ca < cb:
                return False
            va, vb = inst.curves[(k, a)], inst.curves[(k, b)]
            loads = sorted({u * cb for u in vb.u} | {u * ca for u in va.u if u * ca <= cb})
            if any(va.at(x / ca) > vb.at(x / cb) + 1e-9 for x in loads):
                return False
        return True

    keep = []
    for i, b in enumerate(cands):
        dominated = False
        for j, a in enumerate(cands):
            if i == j or not no_worse(a, b):
                continue
            # strict domination, or an exact tie broken towards the earlier (lower-clock) config
            if not no_worse(b, a) or j < i:
                dominated = True
                break
        if not dominated:
            keep.append(b)
    return keep


class EpochModel:
    """The MathOpt model of :class:`MilpInstance`; :meth:`solve` re-solves it for one epoch's data."""

    def __init__(self, inst: MilpInstance, name: str = "dynamo", exact: bool | None = None) -> None:
        self.inst = inst
        # try the exact per-pool enumeration first (module docstring, reduction 4); default: :data:`ENUMERATE`
        self.exact = ENUMERATE if exact is None else exact
        m = mathopt.Model(name=name)
        self.model = m
        self.y: dict[tuple[str, Config], mathopt.Variable] = {}
        self.n: dict[tuple[str, Config, int], mathopt.Variable] = {}
        self.d: dict[tuple[str, Config, int], mathopt.Variable] = {}
        self.xs: dict[tuple[str, str, Config, int], mathopt.Variable] = {}
        self.m: dict[tuple[str, str, Config, int], mathopt.Variable] = {}
        self.x: dict[tuple[str, str, Config], list[mathopt.Variable]] = {}
        self.full: dict[tuple[str, Config], mathopt.Variable] = {}
        self.x_full: dict[tuple[str, Config], mathopt.Variable] = {}
        self.idle_n: dict[tuple[str, Config], mathopt.Variable] = {}
        self.phi: dict[tuple[str, Config], mathopt.Variable] = {}
        self.u: dict[str, mathopt.Variable] = {}
        self.v: dict[tuple[str, int], mathopt.Variable] = {}
        self.w: dict[tuple[str, Config], mathopt.Variable] = {}
        self.pool_configs = {p: pruned_configs(inst, p) for p in inst.pools}
        self.tables = pool_tables(inst, self.pool_configs) if self.exact and self.screenable else None
        self.grids = {(p, c): inst.grid(p, c) for p in inst.pools for c in self.pool_configs[p]}
        # D_{k,c} on every segment of its group's grid: constant data, computed once instead of every epoch
        self.lines = {
            (k, p, c, j): inst.line(k, c, grid[j], grid[j + 1])
            for (p, c), grid in self.grids.items()
            for k in inst.classes_on(p, c)
            for j in range(len(grid) - 1)
        }
        self._add_variables()
        self.serve = self._add_serve()
        self._add_capacity()
        self.big_m: dict[tuple[str, Config, int], mathopt.LinearConstraint] = {}
        self.full_off: dict[tuple[str, Config], mathopt.LinearConstraint] = {}
        self.idle_off: dict[tuple[str, Config], mathopt.LinearConstraint] = {}
        self.seg_lo: dict[tuple[str, str, Config, int], mathopt.LinearConstraint] = {}
        self.seg_hi: dict[tuple[str, str, Config, int], mathopt.LinearConstraint] = {}
        self._add_segments()
        self.cover = self._add_cover()
        self.budget = self._add_gpu_budget()
        self.pool_gpus = self._add_pool_gpus()
        self.start, self.reshard = self._add_reconfiguration()
        self._add_homogeneous()
        self._set_objective_static()

    # ------------------------------------------------------------------------------------------- variables
    def _add_variables(self) -> None:
        inst, m = self.inst, self.model
        for p in inst.pools:
            for c in self.pool_configs[p]:
                self.y[(p, c)] = m.add_integer_variable(lb=0, name=f"instances[{p},{c.key}]")
                ks = inst.classes_on(p, c)
                segs = len(self.grids[(p, c)]) - 1
                if len(ks) == 1:
                    (k,) = ks
                    self.full[(p, c)] = m.add_integer_variable(lb=0, name=f"full_instances[{p},{c.key}]")
                    xf = m.add_variable(lb=0, name=f"load_full[{k},{p},{c.key}]")
                    self.x_full[(p, c)] = xf
                    self.x.setdefault((k, p, c), []).append(xf)
                    if inst.pool_gpus_fixed:
                        self.idle_n[(p, c)] = m.add_integer_variable(lb=0, name=f"idle_instances[{p},{c.key}]")
                        self.phi[(p, c)] = m.add_binary_variable(name=f"runs_full[{p},{c.key}]")
                for j in range(segs):
                    self.n[(p, c, j)] = m.add_integer_variable(lb=0, name=f"op_instances[{p},{c.key},{j}]")
                    self.d[(p, c, j)] = m.add_binary_variable(name=f"op_segment[{p},{c.key},{j}]")
                    for k in ks:
                        xv = m.add_variable(lb=0, name=f"load[{k},{p},{c.key},{j}]")
                        self.xs[(k, p, c, j)] = xv
                        self.x.setdefault((k, p, c), []).append(xv)
                        if len(ks) > 1:
                            self.m[(k, p, c, j)] = m.add_variable(lb=0, name=f"share[{k},{p},{c.key},{j}]")
        for p in inst.pools:
            self.u[p] = m.add_variable(lb=0, name=f"started_gpus[{p}]")
            for t in sorted({c.tp for c in self.pool_configs[p]}):
                self.v[(p, t)] = m.add_variable(lb=0, name=f"new_instances[{p},tp{t}]")

    def _load(self, k: str, p: str, c: Config) -> mathopt.LinearExpression:
        return mathopt.fast_sum(self.x[(k, p, c)])

    # ----------------------------------------------------------------------------------------- constraints
    def _add_serve(self) -> dict[str, mathopt.LinearConstraint]:
        """serve[k]: sum_{p,c} x_{k,p,c} = lam_k (reference 5.5)."""
        out = {}
        for k in self.inst.classes:
            terms = [v for (kk, _p, _c), vs in self.x.items() if kk == k for v in vs]
            out[k] = self.model.add_linear_constraint(mathopt.fast_sum(terms) == 0.0, name=f"serve[{k}]")
        return out

    def _add_capacity(self) -> None:
        """capacity[p,c]: sum_k x_{k,p,c} / cap_{k,c} <= y_{p,c} (capacity at SLO, linear mixing)."""
        inst = self.inst
        for (p, c), y in self.y.items():
            terms = [self._load(k, p, c) * (1.0 / inst.cap_rps[(k, c)]) for k in inst.serves[p] if (k, p, c) in self.x]
            self.model.add_linear_constraint(mathopt.fast_sum(terms) - y <= 0.0, name=f"capacity[{p},{c.key}]")

    def _add_segments(self) -> None:
        """The operating point of every group (module docstring, "Why the segment choice is exact").

        One-class groups: ``full`` instances at capacity, or one *partial* group per pool on one segment, or (pool
        level, fixed GPUs) ``idle`` instances; a configuration is in one of these states. Mixed groups: one segment
        per group. The big-M and rho_k / cap_{k,c} coefficients are set every epoch by :meth:`update`.
        """
        inst, mdl = self.inst, self.model
        partial_choice: dict[str, list[mathopt.Variable]] = {}
        for (p, c), y in self.y.items():
            grid = self.grids[(p, c)]
            segs = len(grid) - 1
            ks = inst.classes_on(p, c)
            ns = [self.n[(p, c, j)] for j in range(segs)]
            ds = [self.d[(p, c, j)] for j in range(segs)]
            extra = []
            if (p, c) in self.full:
                extra.append(self.full[(p, c)])
                (k,) = ks
                mdl.add_linear_constraint(
                    self.x_full[(p, c)] - inst.cap_rps[(k, c)] * self.full[(p, c)] == 0.0,
                    name=f"full_load[{p},{c.key}]",
                )
                partial_choice.setdefault(p, []).extend(ds)
                # full <= B (1 - sum_j d_j): B set per epoch
                self.full_off[(p, c)] = mdl.add_linear_constraint(
                    self.full[(p, c)] + mathopt.fast_sum(ds) <= 0.0, name=f"full_or_partial[{p},{c.key}]"
                )
                if (p, c) in self.idle_n:
                    extra.append(self.idle_n[(p, c)])
                    phi = self.phi[(p, c)]
                    mdl.add_linear_constraint(phi + mathopt.fast_sum(ds) <= 1.0, name=f"one_state[{p},{c.key}]")
                    # full <= B phi ; idle <= B (1 - phi - sum_j d_j)
                    self.idle_off[(p, c)] = mdl.add_linear_constraint(
                        self.idle_n[(p, c)] + phi + mathopt.fast_sum(ds) <= 0.0, name=f"idle_state[{p},{c.key}]"
                    )
                    self.big_m[(p, c, -1)] = mdl.add_linear_constraint(
                        self.full[(p, c)] - phi <= 0.0, name=f"full_state[{p},{c.key}]"
                    )
            else:
                mdl.add_linear_constraint(mathopt.fast_sum(ds) <= 1.0, name=f"one_segment[{p},{c.key}]")
            mdl.add_linear_constraint(y - mathopt.fast_sum(ns + extra) == 0.0, name=f"split[{p},{c.key}]")
            for j in range(segs):
                n = self.n[(p, c, j)]
                self.big_m[(p, c, j)] = mdl.add_linear_constraint(
                    n - self.d[(p, c, j)] <= 0.0, name=f"segment_on[{p},{c.key},{j}]"
                )
                # capacity inside the segment: sum_k x_{k,j} / cap_k <= n_j
                terms = [self.xs[(k, p, c, j)] * (1.0 / inst.cap_rps[(k, c)]) for k in ks]
                mdl.add_linear_constraint(mathopt.fast_sum(terms) - n <= 0.0, name=f"seg_cap[{p},{c.key},{j}]")
                if len(ks) == 1:
                    (k,) = ks
                    key = (k, p, c, j)
                    xv = self.xs[key]
                    self.seg_lo[key] = mdl.add_linear_constraint(
                        xv - grid[j] * n >= 0.0, name=f"seg_lo[{p},{c.key},{j}]"
                    )
                    self.seg_hi[key] = mdl.add_linear_constraint(
                        xv - grid[j + 1] * n <= 0.0, name=f"seg_hi[{p},{c.key},{j}]"
                    )
                else:
                    shares = [self.m[(k, p, c, j)] for k in ks]
                    mdl.add_linear_constraint(mathopt.fast_sum(shares) - n == 0.0, name=f"shares[{p},{c.key},{j}]")
                    for k in ks:
                        key = (k, p, c, j)
                        xv, mv = self.xs[key], self.m[key]
                        self.seg_lo[key] = mdl.add_linear_constraint(
                            xv - grid[j] * mv >= 0.0, name=f"seg_lo[{k},{p},{c.key},{j}]"
                        )
                        self.seg_hi[key] = mdl.add_linear_constraint(
                            xv - grid[j + 1] * mv <= 0.0, name=f"seg_hi[{k},{p},{c.key},{j}]"
                        )
        for p, ds in partial_choice.items():
            mdl.add_linear_constraint(mathopt.fast_sum(ds) <= 1.0, name=f"one_partial[{p}]")
        self._add_interference()

    def _add_interference(self) -> None:
        """interference[k,p,c]: a mixed group's load keeps the SLO of every class present,
        ``sum_j x_j / cap[j|k,c] <= y + M (1 - z_k)`` with ``x_k <= M z_k`` (z_k: class k present); two classes that
        cannot share an instance of c at all: ``z_j + z_k <= 1``. Big-M values are set every epoch."""
        inst, mdl = self.inst, self.model
        self.present: dict[tuple[str, str, Config], mathopt.Variable] = {}
        self.present_link: dict[tuple[str, str, Config], mathopt.LinearConstraint] = {}
        self.interf: dict[tuple[str, str, Config], mathopt.LinearConstraint] = {}
        if not inst.cross_cap:
            return
        for (p, c), y in self.y.items():
            ks = inst.classes_on(p, c)
            if len(ks) < 2:
                continue
            for k in ks:
                z = mdl.add_binary_variable(name=f"present[{k},{p},{c.key}]")
                self.present[(k, p, c)] = z
                self.present_link[(k, p, c)] = mdl.add_linear_constraint(
                    self._load(k, p, c) - z <= 0.0, name=f"present_link[{k},{p},{c.key}]"
                )
            for k in ks:
                terms = []
                for j in ks:
                    cap = inst.cross_cap.get((j, k, c), inst.cap_rps[(j, c)]) if j != k else inst.cap_rps[(k, c)]
                    if cap <= 0:
                        if j < k:
                            mdl.add_linear_constraint(
                                self.present[(j, p, c)] + self.present[(k, p, c)] <= 1.0,
                                name=f"no_sharing[{j},{k},{p},{c.key}]",
                            )
                        continue
                    terms.append(self._load(j, p, c) * (1.0 / cap))
                self.interf[(k, p, c)] = mdl.add_linear_constraint(
                    mathopt.fast_sum(terms) - y + self.present[(k, p, c)] <= 0.0, name=f"interference[{k},{p},{c.key}]"
                )

    def _add_cover(self) -> dict[str, mathopt.LinearConstraint]:
        """cover[k]: sum_{p,c} cap_{k,c} y_{p,c} >= lam_k (valid as x_{k,p,c} <= cap_{k,c} y_{p,c}); speeds up."""
        inst, out = self.inst, {}
        for k in inst.classes:
            terms = [
                self.y[(p, c)] * inst.cap_rps[(k, c)]
                for p in inst.pools
                if k in inst.serves[p]
                for c in self.pool_configs[p]
                if inst.cap_rps.get((k, c), 0.0) > 0
            ]
            out[k] = self.model.add_linear_constraint(mathopt.fast_sum(terms) >= 0.0, name=f"cover[{k}]")
        return out

    def _gpus(self, p: str) -> mathopt.LinearExpression:
        return mathopt.fast_sum(self.y[(p, c)] * c.tp for c in self.pool_configs[p])

    def _add_gpu_budget(self) -> mathopt.LinearConstraint | None:
        """gpu_budget: sum_{p,c} tp_c y_{p,c} <= G."""
        if self.inst.gpu_budget is None:
            return None
        total = mathopt.fast_sum(self.y[key] * key[1].tp for key in self.y)
        return self.model.add_linear_constraint(total <= self.inst.gpu_budget, name="gpu_budget")

    def _add_pool_gpus(self) -> dict[str, mathopt.LinearConstraint]:
        """pool_gpus[p]: sum_c tp_c y_{p,c} = G_p (pool level of the hierarchy, reference 5.2)."""
        if not self.inst.pool_gpus_fixed:
            return {}
        return {
            p: self.model.add_linear_constraint(self._gpus(p) == 0.0, name=f"pool_gpus[{p}]") for p in self.inst.pools
        }

    def _add_reconfiguration(
        self,
    ) -> tuple[dict[str, mathopt.LinearConstraint], dict[tuple[str, int], mathopt.LinearConstraint]]:
        """start[p]: u_p >= GPUs_p - g'_p ; reshard[p,t]: v_{p,t} >= instances_{p,t} - n'_{p,t}."""
        start, reshard = {}, {}
        for p in self.inst.pools:
            start[p] = self.model.add_linear_constraint(self.u[p] - self._gpus(p) >= 0.0, name=f"start[{p}]")
            for (pp, t), v in self.v.items():
                if pp != p:
                    continue
                n_t = mathopt.fast_sum(self.y[(p, c)] for c in self.pool_configs[p] if c.tp == t)
                reshard[(p, t)] = self.model.add_linear_constraint(v - n_t >= 0.0, name=f"reshard[{p},tp{t}]")
        return start, reshard

    def _add_homogeneous(self) -> None:
        """one_config[p]: at most one configuration per pool (binary w, big-M from the GPU budget)."""
        if not self.inst.homogeneous:
            return
        for p in self.inst.pools:
            ws = []
            for c in self.pool_configs[p]:
                w = self.model.add_binary_variable(name=f"uses[{p},{c.key}]")
                self.w[(p, c)] = w
                ws.append(w)
                big_m = self._big_m(c)
                self.model.add_linear_constraint(self.y[(p, c)] - big_m * w <= 0.0, name=f"uses_link[{p},{c.key}]")
            self.model.add_linear_constraint(mathopt.fast_sum(ws) <= 1.0, name=f"one_config[{p}]")

    def _big_m(self, c: Config) -> float:
        if self.inst.gpu_budget is not None:
            return float(self.inst.gpu_budget // c.tp)
        return 1e4

    def _set_objective_static(self) -> None:
        obj = self.model.objective
        obj.is_maximize = False
        for v in self.y.values():
            obj.set_linear_coefficient(v, TIE_BREAK_WH)
        weight = self.inst.penalty_weight
        for u in self.u.values():
            obj.set_linear_coefficient(u, weight * self.inst.start_wh_per_gpu)
        for (_p, t), v in self.v.items():
            obj.set_linear_coefficient(v, weight * self.inst.reshard_wh_per_gpu * t)

    # ----------------------------------------------------------------------------------------------- epoch
    def update(self, data: EpochData) -> None:
        """Set one epoch's rates, served shares, previous deployment and pool budgets (no rebuild)."""
        inst, obj = self.inst, self.model.objective
        hours = data.length_s / 3600.0
        for (p, c), y in self.y.items():
            bound = self._instance_bound(p, c, data)
            y.upper_bound = bound
            grid = self.grids[(p, c)]
            ks = inst.classes_on(p, c)
            if (p, c) in self.full:
                (k,) = ks
                rho = data.served_fraction.get(k, 1.0)
                self.full[(p, c)].upper_bound = bound
                # a full instance: provisioned at cap, served at rho cap
                obj.set_linear_coefficient(self.full[(p, c)], (inst.idle_w[c] + inst.curves[(k, c)].at(rho)) * hours)
                off = self.full_off[(p, c)]
                off.upper_bound = bound
                for j in range(len(grid) - 1):
                    off.set_coefficient(self.d[(p, c, j)], bound)
                if (p, c) in self.idle_n:
                    self.idle_n[(p, c)].upper_bound = bound
                    obj.set_linear_coefficient(self.idle_n[(p, c)], inst.idle_w[c] * hours)
                    io = self.idle_off[(p, c)]
                    io.upper_bound = bound
                    io.set_coefficient(self.phi[(p, c)], bound)
                    for j in range(len(grid) - 1):
                        io.set_coefficient(self.d[(p, c, j)], bound)
                    self.big_m[(p, c, -1)].set_coefficient(self.phi[(p, c)], -bound)
            for j in range(len(grid) - 1):
                n = self.n[(p, c, j)]
                n.upper_bound = bound
                self.big_m[(p, c, j)].set_coefficient(self.d[(p, c, j)], -bound)
                mixed = len(ks) > 1
                intercept = 0.0
                for k in ks:
                    key = (k, p, c, j)
                    rho = data.served_fraction.get(k, 1.0)
                    # x enters the segment bounds and the power at the served rate: rho_k x / cap_k
                    coef = rho / inst.cap_rps[(k, c)]
                    self.seg_lo[key].set_coefficient(self.xs[key], coef)
                    self.seg_hi[key].set_coefficient(self.xs[key], coef)
                    a, slope = self.lines[key]
                    obj.set_linear_coefficient(self.xs[key], slope * coef * hours)
                    if mixed:
                        obj.set_linear_coefficient(self.m[key], a * hours)
                    else:
                        intercept = a
                obj.set_linear_coefficient(n, (inst.idle_w[c] + intercept) * hours)
            obj.set_linear_coefficient(y, TIE_BREAK_WH)
        for (k, p, c), link in self.present_link.items():
            link.set_coefficient(self.present[(k, p, c)], -max(float(data.rate_rps.get(k, 0.0)), 1e-9))
        for (k, p, c), con in self.interf.items():
            big = sum(
                float(data.rate_rps.get(j, 0.0)) / max(inst.cross_cap.get((j, k, c), inst.cap_rps[(j, c)]), 1e-12)
                for j in inst.classes_on(p, c)
                if inst.cross_cap.get((j, k, c), inst.cap_rps[(j, c)]) > 0
            )
            con.set_coefficient(self.present[(k, p, c)], big)
            con.upper_bound = big
        for k, con in self.serve.items():
            lam = float(data.rate_rps.get(k, 0.0))
            con.lower_bound = lam
            con.upper_bound = lam
            self.cover[k].lower_bound = lam
        for p, con in self.start.items():
            prev = None if data.prev_pool_gpus is None else data.prev_pool_gpus.get(p, 0)
            con.lower_bound = -math.inf if prev is None else -float(prev)
        for (p, t), con in self.reshard.items():
            prev_n = None if data.prev_instances is None else data.prev_instances.get((p, t), 0)
            con.lower_bound = -math.inf if prev_n is None else -float(prev_n)
        for p, con in self.pool_gpus.items():
            g = float((data.pool_gpus or {}).get(p, 0))
            con.lower_bound = g
            con.upper_bound = g

    def _instance_bound(self, p: str, c: Config, data: EpochData) -> float:
        """Valid upper bound on y_{p,c}: budget-limited, or enough to serve everything the pool may serve."""
        bounds = []
        if self.inst.gpu_budget is not None:
            bounds.append(self.inst.gpu_budget // c.tp)
        if self.inst.pool_gpus_fixed and data.pool_gpus is not None:
            bounds.append(data.pool_gpus.get(p, 0) // c.tp)
        else:
            need = sum(
                data.rate_rps.get(k, 0.0) / self.inst.cap_rps[(k, c)]
                for k in self.inst.serves[p]
                if self.inst.cap_rps.get((k, c), 0.0) > 0
            )
            bounds.append(math.ceil(need - 1e-9) if need > 0 else 0)
        return float(min(bounds))

    # ------------------------------------------------------------------------------------------- screening
    @property
    def screenable(self) -> bool:
        """Screening (and the enumeration) is exact when every pool serves only its own class (no dominance, no pool
        budgets)."""
        inst = self.inst
        return inst.prune and not inst.pool_gpus_fixed and all(inst.serves[p] == (p,) for p in inst.pools)

    def group_cost(self, p: str, c: Config, n: int, load: float, rho: float, hours: float) -> float:
        """Energy (Wh) of n balanced instances of c serving ``load`` of class p (tie-break included)."""
        inst = self.inst
        u = rho * load / (n * inst.cap_rps[(p, c)])
        return n * ((inst.idle_w[c] + inst.curves[(p, c)].at(u)) * hours + TIE_BREAK_WH)

    def screen(self, data: EpochData) -> int:
        """Fix ``y_{p,c} = 0`` where ``LB_{p,c} > UB_p`` (module docstring, reduction 2); returns configs kept."""
        inst = self.inst
        hours, kept = data.length_s / 3600.0, 0
        weight = inst.penalty_weight
        for p in inst.pools:
            configs = self.pool_configs[p]
            load = float(data.rate_rps.get(p, 0.0))
            if load <= 0 or not configs:
                for c in configs:
                    self._fix_zero(p, c)
                continue
            rho = data.served_fraction.get(p, 1.0)
            fixed = {c: inst.idle_w[c] * hours + TIE_BREAK_WH for c in configs}
            cap = {c: inst.cap_rps[(p, c)] for c in configs}
            per = {c: inst.cost_per_rps(p, c, rho, hours) for c in configs}
            w_min = min(per.values())
            prev_g = None if data.prev_pool_gpus is None else data.prev_pool_gpus.get(p, 0)

            def penalty(mix: dict[Config, int], p: str = p, prev_g: int | None = prev_g) -> float:
                pen = 0.0
                if prev_g is not None:
                    pen += weight * inst.start_wh_per_gpu * max(0, sum(c.tp * n for c, n in mix.items()) - prev_g)
                if data.prev_instances is not None:
                    per_tp: dict[int, int] = {}
                    for c, n in mix.items():
                        per_tp[c.tp] = per_tp.get(c.tp, 0) + n
                    pen += (
                        weight
                        * inst.reshard_wh_per_gpu
                        * sum(t * max(0, n - data.prev_instances.get((p, t), 0)) for t, n in per_tp.items())
                    )
                return pen

            # UB_p from deployments the pool's own model allows: within every y_{p,c}'s upper bound (the GPU budget
            # caps it at G // tp_c), else LB > UB could drop the only configurations that fit
            most = {c: self.y[(p, c)].upper_bound for c in configs}
            ub = math.inf
            for c in configs:  # every load on one configuration
                n = math.ceil(load / cap[c] - 1e-12)
                if n <= most[c]:
                    ub = min(ub, self.group_cost(p, c, n, load, rho, hours) + penalty({c: n}))
            best = min(configs, key=lambda c: (per[c], c))
            full = math.floor(load / cap[best] + 1e-12)
            rest = load - full * cap[best]
            if full and rest > 1e-12 and full <= most[best]:  # full groups of the cheapest, the rest on one partial
                base = self.group_cost(p, best, full, full * cap[best], rho, hours)
                for c in configs:
                    if c == best:
                        continue
                    n = math.ceil(rest / cap[c] - 1e-12)
                    if n <= most[c]:
                        ub = min(ub, base + self.group_cost(p, c, n, rest, rho, hours) + penalty({best: full, c: n}))
            concave = all(inst.curves[(p, c)].concave for c in configs)
            for c in configs:
                if concave:
                    # concave curves: c is a full group (at least cap_c (w_c - w_min) above the fluid bound) or the
                    # partial group (at least min(P0_c h, cap_c (w_c - w_min)) above it); module docstring
                    lb = load * w_min + min(fixed[c], cap[c] * (per[c] - w_min))
                else:
                    l_star = min(load, fixed[c] / per[c])
                    lb = fixed[c] + max(0.0, load - l_star) * w_min
                if lb > ub * (1 + 1e-9) + 1e-9:
                    self._fix_zero(p, c)
                else:
                    kept += 1
        return kept

    def _fix_zero(self, p: str, c: Config) -> None:
        self.y[(p, c)].upper_bound = 0.0
        if (p, c) in self.full:
            self.full[(p, c)].upper_bound = 0.0
        for j in range(len(self.grids[(p, c)]) - 1):
            self.n[(p, c, j)].upper_bound = 0.0

    # ----------------------------------------------------------------------------------------------- solve
    def solve(self, data: EpochData, time_limit_s: float = 60.0, seed: int = 0) -> EpochSolution:
        """Enumerate exactly when the pools are separate (:mod:`planner.dynamo.exact`); otherwise (or when the
        enumeration gives up) update, screen, solve, extract, with the full model when the screened optimum breaks
        the budget.

        ``time_limit_s`` bounds each MILP solve of this call; ``seed`` is SCIP's random seed (``--seed``).
        """
        start = time.perf_counter()
        if self.exact and self.screenable:
            sol = self._enumerate(data)
            if sol is not None:
                sol.wall_s = time.perf_counter() - start
                return sol
        return self.solve_milp(data, time_limit_s, seed, start)

    def _enumerate(self, data: EpochData) -> EpochSolution | None:
        """The exact per-pool enumeration's optimum as an EpochSolution (None: the MILP decides)."""
        if self.tables is None:
            return None
        res = solve_exact(self.inst, self.tables, data, TIE_BREAK_WH)
        if res is None:
            return None
        sol = EpochSolution(
            status=Status.optimal,
            objective_wh=res.objective_wh,
            bound_wh=res.objective_wh,  # proved by exhaustion: no gap
            message=f"exact per-pool enumeration ({res.nodes} nodes"
            + (", GPU budget binding: DP over pools)" if res.budget_bound else ")"),
            path="enumerated",
            kept_configs=sum(len(self.pool_configs[p]) for p in self.inst.pools),
        )
        for p, dep in res.pools.items():
            for c, n in dep.instances:
                sol.instances[(p, c)] = n
            for c, x in dep.load_rps:
                if x > 1e-9:
                    sol.load_rps[(p, p, c)] = x
            sol.started_gpus[p] = dep.started_gpus
            for t, v in dep.new_instances:
                sol.new_instances[(p, t)] = v
        return sol

    def solve_milp(
        self, data: EpochData, time_limit_s: float = 60.0, seed: int = 0, start: float | None = None
    ) -> EpochSolution:
        """The MILP path of :meth:`solve` (also the reference the enumeration is tested against)."""
        start = time.perf_counter() if start is None else start
        self.update(data)
        if self.screenable:
            kept = self.screen(data)
            if self.budget is not None:
                self.budget.upper_bound = math.inf
            sol = self._solve_once(time_limit_s, seed)
            if self.budget is not None:
                self.budget.upper_bound = float(self.inst.gpu_budget or 0)
            used = sum(n * c.tp for (_p, c), n in sol.instances.items())
            if sol.status == "optimal" and (self.inst.gpu_budget is None or used <= self.inst.gpu_budget):
                sol.path, sol.kept_configs = "screened", kept
                sol.wall_s = time.perf_counter() - start
                return sol
            self.update(data)  # restore the bounds screening tightened
        sol = self._solve_once(time_limit_s, seed)
        sol.kept_configs = len(self.y)
        sol.wall_s = time.perf_counter() - start
        return sol

    def _solve_once(self, time_limit_s: float, seed: int) -> EpochSolution:
        params = solve_parameters(time_limit_s, seed)
        result = mathopt.solve(self.model, BACKEND, params=params)
        if result.termination.limit == mathopt.Limit.INTERRUPTED:
            # SCIP installs its own SIGINT handler while it solves: a Ctrl-C then only ends this solve and never
            # reaches Python (the day ran on, "288/288 epochs proved optimal", exit 0). Hand it back to the epoch loop.
            raise KeyboardInterrupt
        reason = result.termination.reason.name
        has = result.has_primal_feasible_solution()
        limit = result.termination.limit.name if result.termination.limit is not None else None
        # Its share of --time-limit may run out before any solution (NO_SOLUTION_FOUND, limit TIME): status
        # time_limit, not a solver error; the epoch loop gives it what is left of the command's time, then keeps the
        # epochs solved so far or says which epoch had no plan yet.
        status = status_from_mathopt(reason, has, limit)
        if not has and status == Status.time_limit:
            return EpochSolution(status, None, None, message=f"no solution within {time_limit_s:.3g} s")
        if not has:
            return EpochSolution(status, None, None, message=result.termination.detail)
        sol = EpochSolution(
            status=status,
            objective_wh=result.objective_value(),
            bound_wh=result.termination.objective_bounds.dual_bound,
            message=result.termination.detail,
        )
        values = result.variable_values()
        for key, var in self.y.items():
            n = int(round(values[var]))
            if n:
                sol.instances[key] = n
        for route, vs in self.x.items():
            val = sum(values[v] for v in vs)
            if val > 1e-9:
                sol.load_rps[route] = val
        sol.started_gpus = {p: values[u] for p, u in self.u.items()}
        sol.new_instances = {key: values[v] for key, v in self.v.items()}
        return sol


def solve_parameters(time_limit_s: float, seed: int) -> mathopt.SolveParameters:
    """SCIP's parameters for one epoch MILP: one thread, gaps ~0, heuristics off, ``--seed`` as its random seed."""
    return mathopt.SolveParameters(
        time_limit=_timedelta(time_limit_s),
        relative_gap_tolerance=REL_GAP,
        absolute_gap_tolerance=ABS_GAP,
        heuristics=HEURISTICS,
        random_seed=seed,
        gscip=_scip_settings(),
    )


def _scip_settings() -> gscip_pb2.GScipParameters:
    """SCIP without root cutting planes, probing and restarts: on these models the root LP with the segment choice
    is nearly integral and branching closes the rest far sooner than SCIP's presolve probing (measured: 0.4 s
    instead of 1 s per joint epoch). Optimality is still proved to :data:`REL_GAP`."""
    g = gscip_pb2.GScipParameters()
    g.int_params["separating/maxroundsroot"] = 0
    g.int_params["separating/maxrounds"] = 0
    g.int_params["propagating/probing/maxprerounds"] = 0
    g.int_params["presolving/maxrestarts"] = 0
    return g


def _timedelta(seconds: float) -> datetime.timedelta:
    return datetime.timedelta(seconds=seconds)
