"""Build -> solve -> extract for a whole horizon, in joint or hierarchical mode.

* **joint**: every ``reshard_epoch`` the MILP of :mod:`planner.dynamo.model` chooses instances x TP x clock for all
  pools at once, within the GPU budget, against the previous epoch's deployment (reconfiguration penalty).
* **hierarchical** (DynamoLLM reference section 4): every ``epoch`` (30 min) the *cluster level* sizes each pool in
  whole reference replicas with the fragmentation rule (reference 5.3: leftovers promoted to the next dominating
  class, only the sink rounded up) for the window's peak rates; every ``reshard_epoch`` (5 min) the *pool level*
  re-shards each pool's fixed GPUs into a TP mix (reference 5.2, solved exactly by enumeration with the power
  curves: :mod:`planner.dynamo.pools`); the *instance level* then sets each instance group's clock
  (:mod:`planner.dynamo.frequency`).

Each epoch is solved to proven optimality given the previous epoch (a rolling horizon: the day as a whole is not
optimised jointly; in hierarchical mode, optimal for the pool level given the cluster level's rule); the solver
block says how many epochs were proved optimal.
"""

from __future__ import annotations

import math
import time

from planner.dynamo.frequency import ClockOption, pick_clock
from planner.dynamo.instance import DynamoProblem
from planner.dynamo.load import Epoch
from planner.dynamo.model import BACKEND_NAME, TIE_BREAK_WH, EpochData, EpochModel, EpochSolution, MilpInstance
from planner.dynamo.pools import blend, promote, reshard
from planner.dynamo.profile import ZERO_CURVE, Config
from planner.dynamo.solution import DayResult, EpochResult, Group, reconfiguration
from planner.errors import InfeasibleError, Shortfall, SolverFailure, TimeLimitReached
from planner.solver import SolveOptions, Status, remaining_s


def milp_instance(
    problem: DynamoProblem,
    configs: tuple[Config, ...],
    *,
    budget: int | None,
    pool_gpus_fixed: bool = False,
    start: bool = True,
    reshard: bool = True,
    serves: dict[str, tuple[str, ...]] | None = None,
    homogeneous: bool | None = None,
) -> MilpInstance:
    """The MILP data for ``configs`` (the problem's figures restricted to them)."""
    ks = problem.classes
    return MilpInstance(
        classes=ks,
        pools=ks,
        configs=configs,
        cap_rps={(k, c): problem.cap(k, c) for k in ks for c in configs},
        curves={(k, c): problem.curve(k, c) for k in ks for c in configs},
        # parked GPUs: an instance's GPUs would otherwise draw the parked power, so it costs only the difference
        idle_w={c: problem.idle_w(c) - c.tp * problem.parked_w_per_gpu for c in configs},
        serves=serves or problem.serves(),
        gpu_budget=budget,
        pool_gpus_fixed=pool_gpus_fixed,
        homogeneous=problem.homogeneous if homogeneous is None else homogeneous,
        start_wh_per_gpu=problem.start_wh_per_gpu() if start else 0.0,
        reshard_wh_per_gpu=problem.reshard_wh_per_gpu() if reshard else 0.0,
        penalty_weight=problem.penalty_weight,
        cross_cap={
            (j, k, c): problem.cross_cap(j, k, c)
            for p, served in (serves or problem.serves()).items()
            if len(served) > 1
            for c in configs
            for j in served
            for k in served
            if j != k
        },
    )


def top_clock_configs(problem: DynamoProblem) -> tuple[Config, ...]:
    return tuple(c for c in problem.configs if c.freq_mhz == problem.max_freq)


def groups_from(problem: DynamoProblem, sol: EpochSolution, epoch: Epoch) -> list[Group]:
    """Turn a MILP solution into groups (pool, config) with their routed load and energy."""
    lam = problem.provisioned(epoch)
    out = []
    for (p, c), n in sorted(sol.instances.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        load = {k: x for (k, pp, cc), x in sol.load_rps.items() if pp == p and cc == c}
        out.append(problem.group(p, c, n, load, epoch, lam))
    return out


def _data(
    problem: DynamoProblem, epoch: Epoch, prev: EpochResult | None, pool_gpus: dict[str, int] | None = None
) -> EpochData:
    return EpochData(
        length_s=epoch.length_s,
        rate_rps=problem.provisioned(epoch),
        served_fraction=problem.served_fraction(epoch),
        prev_pool_gpus=prev.pool_gpus() if prev is not None else None,
        prev_instances=prev.pool_tp_instances() if prev is not None else None,
        pool_gpus=pool_gpus,
    )


def _require(sol: EpochSolution, problem: DynamoProblem, epoch: Epoch, level: str, configs: tuple[Config, ...]) -> None:
    if sol.status == "infeasible":
        raise budget_infeasible(problem, epoch, level, configs)
    if sol.status not in ("optimal", "feasible", "time_limit"):
        raise SolverFailure(f"{level} MILP for epoch {epoch.label} ended with status {sol.status}: {sol.message}")


def _finish(
    problem: DynamoProblem, epoch: Epoch, groups: list[Group], prev: EpochResult | None, sol_status: str
) -> EpochResult:
    started, resharded, wh = reconfiguration(prev, groups, problem.start_wh_per_gpu(), problem.reshard_wh_per_gpu())
    res = EpochResult(epoch, groups, sol_status, started_gpus=started, resharded_gpus=resharded, reconfig_wh=wh)
    res.parked_wh = problem.parked_wh(res.gpus, epoch.length_s)
    return res


# ----------------------------------------------------------------------------------------------- time budget
#: The least time one MILP is given, so a tight ``--time-limit`` still yields a plan for the first epoch.
MIN_MILP_S = 0.5


class _OutOfTime(Exception):
    """The command's deadline passed: keep the epochs solved so far (status ``time_limit``)."""


class Budget:
    """The command's remaining wall clock, split evenly over the MILP solves still to run.

    ``--time-limit`` bounds the whole command: each MILP gets (time left) / (solves left), at least
    :data:`MIN_MILP_S`; once the deadline has passed and at least one epoch is planned, the loop stops and the plan
    covers the epochs solved so far. ``cancel`` is polled before every solve (a True answer acts as Ctrl-C).
    """

    def __init__(self, options: SolveOptions, solves: int) -> None:
        self.options = options
        self.deadline = options.deadline()
        self.solves_left = solves

    def next(self, day: DayResult) -> float:
        """Seconds for the next MILP; raises when out of time (with an epoch to keep) or cancelled."""
        if self.options.cancel():
            raise KeyboardInterrupt
        left = remaining_s(self.deadline)
        if left <= 0 and day.epochs:
            raise _OutOfTime
        share = left / max(self.solves_left, 1)
        self.solves_left = max(self.solves_left - 1, 0)
        return max(share, MIN_MILP_S)

    def check(self, sol: EpochSolution, day: DayResult, epoch: Epoch, retried: bool = False) -> float | None:
        """A MILP cut short by its time before any solution: out of time, not a solver failure.

        Returns the seconds for one more try when the command still has time (its share was too small on a slow or
        busy machine); raises :class:`_OutOfTime` once the deadline passed with an epoch to keep, and
        :class:`~planner.errors.TimeLimitReached` when there is none.
        """
        if sol.objective_wh is not None or sol.status == "infeasible":
            return None
        left = remaining_s(self.deadline)
        if sol.status == Status.time_limit:
            if left > 0 and not retried:
                return left
            if day.epochs:
                raise _OutOfTime
            limit = self.options.time_limit_s
            raise TimeLimitReached(
                "solving the first epoch",
                limit,
                f"time limit reached before epoch {epoch.label} had a feasible plan (0 of {day.planned} epochs "
                f"planned, no plan written; --time-limit {limit:g} s counts the whole command: raise it)",
            )
        if left <= 0 and day.epochs:
            raise _OutOfTime
        return None  # a solver error: reported as such

    @property
    def seed(self) -> int:
        return self.options.seed


# ------------------------------------------------------------------------------------------------------ joint
def _count(day: DayResult, sol: EpochSolution) -> None:
    """How the epoch was proved: by the exact enumeration, or by a MILP solve (screened or not)."""
    if sol.path == "enumerated":
        day.enumerated += 1
    else:
        day.solves += 1
        day.screened += sol.path == "screened"


def solve_joint(problem: DynamoProblem, day: DayResult | None = None, budget: Budget | None = None) -> DayResult:
    """One MILP per epoch over instances x TP x clock (built once, re-solved with each epoch's data).

    Epochs are appended to ``day`` as they are solved, so a caller holding ``day`` keeps them on Ctrl-C.
    """
    model = EpochModel(milp_instance(problem, problem.configs, budget=problem.gpu_budget), name="dynamo-joint")
    day = day if day is not None else DayResult([], "joint", BACKEND_NAME, planned=len(problem.epochs))
    budget = budget if budget is not None else Budget(SolveOptions(), len(problem.epochs))
    prev: EpochResult | None = None
    for epoch in problem.epochs:
        data = _data(problem, epoch, prev)
        sol = model.solve(data, budget.next(day), budget.seed)
        _count(day, sol)
        more = budget.check(sol, day, epoch)
        if more is not None:  # its share ran out before any solution: the rest of the command's time
            sol = model.solve(data, more, budget.seed)
            _count(day, sol)
            budget.check(sol, day, epoch, retried=True)
        _require(sol, problem, epoch, "joint", problem.configs)
        res = _finish(problem, epoch, groups_from(problem, sol, epoch), prev, sol.status)
        res.objective_wh, res.bound_wh, res.solve_wall_s, res.solves = sol.objective_wh, sol.bound_wh, sol.wall_s, 1
        day.epochs.append(res)
        prev = res
    return day


# ----------------------------------------------------------------------------------------------- hierarchical
def window_epoch(epochs: list[Epoch]) -> Epoch:
    """The cluster level's view of a window: per class the peak rate and the total requests of its sub-epochs."""
    first = epochs[0]
    classes = list(first.peak_rps)
    return Epoch(
        start_s=first.start_s,
        length_s=sum(e.length_s for e in epochs),
        peak_rps={k: max(e.peak_rps[k] for e in epochs) for k in classes},
        requests={k: sum(e.requests[k] for e in epochs) for k in classes},
    )


def solve_hierarchical(problem: DynamoProblem, day: DayResult | None = None, budget: Budget | None = None) -> DayResult:
    """Cluster level every ``epoch`` (the fragmentation rule), pool level every ``reshard_epoch`` (exact re-shard of
    each pool's GPUs), instance level per group (clock); see :mod:`planner.dynamo.pools`.

    Epochs are appended to ``day`` as they are solved, so a caller holding ``day`` keeps them on Ctrl-C.
    """
    top = top_clock_configs(problem)
    ref = Config(problem.max_tp, problem.max_freq)
    order = problem.classes
    nxt = problem.promotion_next()
    cap_ref = {k: problem.cap(k, ref) for k in order}
    per_window = int(round(problem.epoch_s / problem.reshard_epoch_s))
    day = day if day is not None else DayResult([], "hierarchical", BACKEND_NAME, planned=len(problem.epochs))
    budget = budget if budget is not None else Budget(SolveOptions(), hierarchical_solves(problem))
    prev: EpochResult | None = None
    windows = [problem.epochs[i : i + per_window] for i in range(0, len(problem.epochs), per_window)]
    for subs in windows:
        window = window_epoch(subs)
        start = time.perf_counter()
        lam_w = problem.provisioned(window)
        short = [k for k in order if lam_w[k] > 0 and cap_ref[k] <= 0]
        if short:
            raise InfeasibleError(
                Shortfall(
                    constraint=f"slo[{short[0]}]",
                    detail=f"class {', '.join(short)} cannot meet its SLO on the reference replica {ref.key}, so the "
                    "fragmentation rule cannot place it; use --mode joint or loosen the SLO",
                )
            )
        promo = promote(order, nxt, lam_w, lambda load: problem.usage(load, ref))
        pool_gpus = {p: n * ref.tp for p, n in promo.replicas.items() if n > 0}
        if sum(pool_gpus.values()) > problem.gpu_budget:
            raise _promotion_infeasible(problem, windows, nxt, cap_ref, ref)
        cluster_s = time.perf_counter() - start
        for i, epoch in enumerate(subs):
            budget.next(day)  # Ctrl-C / --time-limit between epochs (no MILP here)
            start = time.perf_counter()
            groups, objective = _reshard_epoch(problem, epoch, prev, promo.route, pool_gpus, top)
            res = _finish(problem, epoch, groups, prev, Status.optimal)
            res.objective_wh = res.bound_wh = objective
            res.solve_wall_s = time.perf_counter() - start + (cluster_s if i == 0 else 0.0)
            day.epochs.append(res)
            prev = res
    return day


def _reshard_epoch(
    problem: DynamoProblem,
    epoch: Epoch,
    prev: EpochResult | None,
    route: dict[str, dict[str, float]],
    pool_gpus: dict[str, int],
    top: tuple[Config, ...],
) -> tuple[list[Group], float]:
    """Pool level for one epoch: every pool's GPUs re-sharded exactly, then each group's clock (instance level)."""
    lam = problem.provisioned(epoch)
    rho = problem.served_fraction(epoch)
    hours = epoch.length_s / 3600.0
    prev_tp = prev.pool_tp_instances() if prev is not None else None
    groups: list[Group] = []
    objective = 0.0
    for p in problem.classes:
        gpus = pool_gpus.get(p, 0)
        if gpus <= 0:
            continue
        load = {k: lam[k] * share for k, share in route.get(p, {}).items() if lam[k] * share > 0}
        total = sum(load.values())
        blends = []
        for c in top:
            b = blend(
                c,
                load,
                rho,
                {k: problem.cap(k, c) for k in load},
                problem.idle_w(c) - c.tp * problem.parked_w_per_gpu,
                {k: problem.curve(k, c) for k in load},
                usage=problem.usage(load, c),
            )
            if b is not None:
                blends.append(b)
        prev_p = None if prev_tp is None else {t: n for (pp, t), n in prev_tp.items() if pp == p}
        choice = reshard(
            blends, gpus, total, hours, prev_p, problem.reshard_wh_per_gpu(), problem.penalty_weight, TIE_BREAK_WH
        )
        if choice is None:
            raise SolverFailure(f"pool level: pool {p} cannot serve its load on {gpus} GPUs in epoch {epoch.label}")
        objective += choice.objective_wh
        for c, n in sorted(choice.instances.items()):
            x = choice.rate[c]
            share = {k: x * v / total for k, v in load.items()} if total > 0 else {}
            groups.append(_set_clock(problem, problem.group(p, c, n, share, epoch, lam), epoch))
    return groups, objective


def _promotion_infeasible(
    problem: DynamoProblem,
    windows: list[list[Epoch]],
    nxt: dict[str, str | None],
    cap_ref: dict[str, float],
    ref: Config,
) -> InfeasibleError:
    """Exit 1 naming the smallest budget with which the fragmentation rule serves every window."""
    need, worst = 0, windows[0]
    for subs in windows:
        w = window_epoch(subs)
        util = lambda load: problem.usage(load, ref)  # noqa: E731
        gpus = sum(promote(problem.classes, nxt, problem.provisioned(w), util).replicas.values()) * ref.tp
        if gpus > need:
            need, worst = gpus, subs
    return InfeasibleError(
        Shortfall(
            constraint="gpu_budget",
            limit=float(problem.gpu_budget),
            best=float(need),
            unit="GPUs",
            detail=f"cluster level (fragmentation rule, {ref.key} replicas) cannot fit within {problem.gpu_budget} "
            f"GPUs ({problem.budget_source}); the smallest budget that serves every window is {need} GPUs (peak "
            f"window at {worst[0].label}); --mode joint sizes pools without whole reference replicas",
        )
    )


def _set_clock(problem: DynamoProblem, g: Group, epoch: Epoch) -> Group:
    """Instance level: the least-energy clock at which the group's per-instance load still meets every SLO."""
    lam = problem.provisioned(epoch)
    options = []
    clocks = sorted({c.freq_mhz for c in problem.configs if c.tp == g.config.tp})
    candidates = {}
    for f in clocks:
        c = Config(g.config.tp, f)
        feasible = problem.usage(g.load_rps, c) <= g.instances * (1 + 1e-9)
        cand = problem.group(g.pool, c, g.instances, g.load_rps, epoch, lam) if feasible else None
        candidates[f] = cand
        options.append(ClockOption(f, cand.energy_wh if cand else math.inf, feasible))
    choice = pick_clock(options)
    chosen = candidates.get(choice.freq_mhz)
    return chosen if chosen is not None else g


# ------------------------------------------------------------------------------------------------- failures
def min_gpus(problem: DynamoProblem, epoch: Epoch, configs: tuple[Config, ...]) -> int | None:
    """The fewest GPUs that serve ``epoch`` under the SLOs (a MILP minimising GPUs), None if impossible."""
    inst = milp_instance(problem, configs, budget=None, start=False, reshard=False)
    gpu_inst = MilpInstance(
        classes=inst.classes,
        pools=inst.pools,
        configs=inst.configs,
        cap_rps=inst.cap_rps,
        curves={key: ZERO_CURVE for key in inst.curves},
        idle_w={c: c.tp * 3600.0 / epoch.length_s for c in configs},  # objective = GPUs
        serves=inst.serves,
        homogeneous=inst.homogeneous,
        prune=False,
    )
    sol = EpochModel(gpu_inst, name="dynamo-min-gpus").solve(_data(problem, epoch, None))
    if sol.status != "optimal":
        return None
    return sum(c.tp * n for (_p, c), n in sol.instances.items())


def budget_infeasible(problem: DynamoProblem, epoch: Epoch, level: str, configs: tuple[Config, ...]) -> InfeasibleError:
    """Exit 1 naming the smallest GPU budget that serves every epoch, and the class that needs the most."""
    start = time.perf_counter()
    per_epoch = problem.epochs
    if level == "cluster-level":
        n = int(round(problem.epoch_s / problem.reshard_epoch_s))
        per_epoch = [window_epoch(problem.epochs[i : i + n]) for i in range(0, len(problem.epochs), n)]

    def upper(e: Epoch) -> int:  # GPUs of one single-configuration pool per class: feasible, so >= the need
        lam = problem.provisioned(e)
        total = 0
        for k in problem.classes:
            if lam[k] > 0:
                usable = [c for c in configs if problem.cap(k, c) > 0]
                total += min((c.tp * math.ceil(lam[k] / problem.cap(k, c) - 1e-12) for c in usable), default=0)
        return total

    worst, worst_epoch = 0, epoch
    for e in sorted(per_epoch, key=upper, reverse=True):
        if upper(e) <= worst:
            break  # no later epoch can need more
        need = min_gpus(problem, e, configs)
        if need is not None and need > worst:
            worst, worst_epoch = need, e
    lam = problem.provisioned(worst_epoch)
    heavy = max(
        problem.classes,
        key=lambda k: lam[k] / max((problem.cap(k, c) / c.tp for c in configs), default=1e-12),
    )
    detail = (
        f"{level} epoch {epoch.label} cannot be served within {problem.gpu_budget} GPUs "
        f"({problem.budget_source}); the smallest budget that serves every epoch is {worst} GPUs "
        f"(peak at {worst_epoch.label}, class {heavy} needs the most); searched in {time.perf_counter() - start:.1f}s"
    )
    return InfeasibleError(
        Shortfall(
            constraint="gpu_budget", limit=float(problem.gpu_budget), best=float(worst), unit="GPUs", detail=detail
        )
    )


def hierarchical_solves(problem: DynamoProblem) -> int:
    """Steps of a hierarchical day that share the time budget: one pool-level re-shard per epoch (no MILP)."""
    return len(problem.epochs)


def solve(problem: DynamoProblem, options: SolveOptions) -> DayResult:
    """Run the problem's mode within ``options``' wall clock, seeding SCIP with ``options.seed``.

    Ctrl-C (KeyboardInterrupt, or ``options.cancel``) during the epoch loop keeps the epochs solved so far: the
    rolling horizon makes each of them a complete, verifiable plan for its own interval, so the result is the day's
    first k of n epochs with ``interrupted`` set (README "CLI conventions": exit 130 keeping the best plan so far).
    With no epoch solved yet there is nothing to keep and the interrupt propagates. The time limit is the whole
    command's (:class:`Budget`): when it runs out the day likewise keeps its first k epochs, with ``timed_out`` set.
    """
    day = DayResult([], problem.mode, BACKEND_NAME, planned=len(problem.epochs))
    try:
        if problem.mode == "joint":
            solve_joint(problem, day, Budget(options, len(problem.epochs)))
        else:
            solve_hierarchical(problem, day, Budget(options, hierarchical_solves(problem)))
    except KeyboardInterrupt:
        if not day.epochs:
            raise
        day.interrupted = len(day.epochs) < day.planned  # after the last epoch the day is whole: nothing was lost
    except _OutOfTime:
        day.timed_out = len(day.epochs) < day.planned
        if day.timed_out:
            day.stopped_at = problem.epochs[len(day.epochs)].label
    return day
