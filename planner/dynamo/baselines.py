"""Baselines side by side with the plan, and where the savings come from.

* **singlepool-fixed** (DynamoLLM's baseline, reference section 9): every request on one pool of TP-max instances at
  the top clock filling the whole GPU budget (the paper's fixed cluster), no scaling; the router balances the load.
* **singlepool-peak**: the same pool sized for the day's peak instead of the budget (GPUs beyond it released).

Both SinglePools are sized by throughput (each class within its own SLO capacity, classes mixed linearly), as the
paper's static deployment is: the paper compares its latency with DynamoLLM's instead of sizing it to the per-class
SLOs. Under the interference model such a pool misses short classes' 5x-isolated TTFT targets; the baseline's note
says which and by how much, and the plan (which must meet them) is never relieved of them.
* **static-pools-tp8** -- per-class pools, still TP-max at the top clock, each sized for its class's peak.
* **static-pools**: per-class pools at the top clock with the TP mix the MILP chooses for the day's peak; static.
* **plan-top-clock**: the plan's own instances and TP mix with every instance at the top clock (attribution only).

The saving is stated against one of the two SinglePools (``dynamo.savings_against``, default singlepool-fixed, the
paper's); both are reported. The ladder attributes it: *sizing* (singlepool-fixed -> singlepool-peak, only when the
saving is against the fixed pool), *pools* (-> static-pools-tp8), *TP* (-> static-pools), *fewer instances over
the day* (-> plan-top-clock: scaling and re-sharding with the load) and *frequency* (-> the plan). Each step can be
negative; the steps add up to the total saving. Every baseline is charged with the same power curves as the plan
(each instance at its balanced operating point) and the same rule for GPUs outside every instance (released or
parked). Static baselines are sized without the GPU budget (a warning says when one exceeds it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from planner.dynamo.instance import DynamoProblem
from planner.dynamo.load import Epoch
from planner.dynamo.profile import Config
from planner.dynamo.solution import EpochResult, Group
from planner.solver import SolveOptions, remaining_s

BASELINE_NAMES: tuple[str, ...] = ("singlepool-fixed", "singlepool-peak", "static-pools-tp8", "static-pools")


@dataclass
class Baseline:
    """A baseline deployment over the horizon (None epochs: the baseline cannot serve some class)."""

    name: str
    description: str
    epochs: list[EpochResult] | None
    gpus: int = 0
    note: str = ""


def _with_parked(problem: DynamoProblem, res: EpochResult) -> EpochResult:
    res.parked_wh = problem.parked_wh(res.gpus, res.epoch.length_s)
    return res


def single_pool(problem: DynamoProblem, fixed: bool) -> Baseline:
    """All classes on TP-max instances at the top clock, all day: the whole budget (fixed) or the peak's need.

    Sized like the paper's static deployment (reference section 9: one pool, no autoscaling, judged by the latency
    it attains rather than sized to an SLO): by throughput, each class within its own SLO capacity and classes
    mixed linearly. With interference on, the note says which classes' p99 targets such a mixed pool misses under
    the interference model and how many instances meeting them would take; the plan, by contrast, must meet them.
    """
    c = Config(problem.max_tp, problem.max_freq)
    name = "singlepool-fixed" if fixed else "singlepool-peak"
    desc = (
        f"all classes on one pool of {c.key} instances filling the {problem.gpu_budget}-GPU budget, no scaling"
        if fixed
        else f"all classes on one pool of {c.key} instances sized for the peak, no scaling"
    )
    need = 0
    for e in problem.epochs:
        lam = problem.provisioned(e)
        short = [k for k in problem.classes if lam[k] > 0 and problem.cap(k, c) <= 0]
        if short:
            return Baseline(name, desc, None, note=f"{c.key} cannot meet the SLO of {', '.join(short)}")
        need = max(need, math.ceil(problem.usage(lam, c, interference=False) - 1e-9))
    need = max(need, 1)
    notes = []
    if fixed:
        have = problem.gpu_budget // c.tp
        if have < need:
            notes.append(f"the budget holds {have} {c.key} instances, the peak needs {need}: sized for the peak")
        need = max(have, need)
    missed = _interference_misses(problem, c, need)
    if missed:
        notes.append(missed)
    epochs = []
    for e in problem.epochs:
        lam = problem.provisioned(e)
        load = {k: lam[k] for k in problem.classes if lam[k] > 0}
        epochs.append(_with_parked(problem, EpochResult(e, [problem.group("all", c, need, load, e)])))
    return Baseline(name, desc, epochs, gpus=need * c.tp, note="; ".join(notes))


def _interference_misses(problem: DynamoProblem, c: Config, n: int) -> str:
    """What ``n`` instances of c carrying every class miss under the interference model (empty: nothing)."""
    if not problem.interference:
        return ""
    late: dict[str, int] = {}
    worst = 0.0
    for e in problem.epochs:
        lam = {k: x for k, x in problem.provisioned(e).items() if x > 0}
        use = problem.usage(lam, c)
        worst = max(worst, use)
        if use <= n * (1 + 1e-9):
            continue
        for k in lam:  # the classes whose own SLO the shared instances cannot keep at this load
            if sum(x / max(problem.cross_cap(j, k, c), 1e-12) for j, x in lam.items()) > n * (1 + 1e-9):
                late[k] = late.get(k, 0) + 1
    if not late:
        return ""
    classes = ", ".join(f"{k} in {m}" for k, m in sorted(late.items(), key=lambda km: problem.classes.index(km[0])))
    need = "cannot be met by any size" if math.isinf(worst) else f"would need {math.ceil(worst - 1e-9)} instances"
    return (
        f"not held to the p99 SLOs under interference (classes sharing an instance): misses {classes} of "
        f"{len(problem.epochs)} epochs; meeting them at the peak {need}"
    )


def _fill(problem: DynamoProblem, pool: str, fleet: list[tuple[Config, int]], k: str, e: Epoch) -> list[Group]:
    """Route class k's provisioned rate over a static fleet in proportion to capacity (the router balances: every
    instance of the fleet runs at the same utilisation)."""
    rate = problem.provisioned(e)[k]
    total = sum(n * problem.cap(k, c) for c, n in fleet)
    groups = []
    for c, n in sorted(fleet, key=lambda cn: cn[0]):
        take = rate * n * problem.cap(k, c) / total if total > 0 else 0.0
        groups.append(problem.group(pool, c, n, {k: take} if take > 0 else {}, e))
    return groups


def static_pools(problem: DynamoProblem, options: SolveOptions, tp_max_only: bool) -> Baseline:
    """Per-class pools at the top clock sized for each class's peak over the horizon; static all day."""
    from planner.dynamo.model import EpochModel
    from planner.dynamo.solve import MIN_MILP_S, _data, milp_instance, top_clock_configs, window_epoch

    name = "static-pools-tp8" if tp_max_only else "static-pools"
    top = top_clock_configs(problem)
    if tp_max_only:
        top = tuple(c for c in top if c.tp == problem.max_tp)
        desc = f"one pool per class of tp{problem.max_tp}@{problem.max_freq} instances sized for its peak, no scaling"
    else:
        desc = f"one pool per class at {problem.max_freq} MHz, TP mix chosen for its peak, no scaling"
    day = window_epoch(problem.epochs)
    fleet: dict[str, list[tuple[Config, int]]] = {}
    for k in problem.classes:
        if problem.provisioned(day)[k] <= 0:
            continue
        usable = [c for c in top if problem.cap(k, c) > 0]
        if not usable:
            return Baseline(name, desc, None, note=f"no {problem.max_freq} MHz configuration meets the SLO of {k}")
    inst = milp_instance(
        problem, top, budget=None, start=False, reshard=False, serves={k: (k,) for k in problem.classes}
    )
    limit = max(remaining_s(options.deadline()), MIN_MILP_S)
    sol = EpochModel(inst, name=f"dynamo-{name}").solve(_data(problem, day, None), limit, options.seed)
    if sol.status != "optimal":
        return Baseline(name, desc, None, note=f"sizing MILP ended with status {sol.status}")
    for (p, c), n in sol.instances.items():
        fleet.setdefault(p, []).append((c, n))
    epochs = []
    for e in problem.epochs:
        groups: list[Group] = []
        for p in sorted(fleet):
            groups += _fill(problem, p, fleet[p], p, e)
        epochs.append(_with_parked(problem, EpochResult(e, groups)))
    gpus = sum(c.tp * n for fl in fleet.values() for c, n in fl)
    return Baseline(name, desc, epochs, gpus=gpus)


def plan_at_top_clock(problem: DynamoProblem, plan_epochs: list[EpochResult]) -> Baseline:
    """The plan's instances and TP with every group at the top clock (same routing; reconfiguration kept)."""
    epochs = []
    kept = 0
    for res in plan_epochs:
        groups = []
        for g in res.groups:
            c = Config(g.config.tp, problem.max_freq)
            fits = all(problem.cap(k, c) > 0 for k in g.load_rps) and sum(
                x / problem.cap(k, c) for k, x in g.load_rps.items()
            ) <= g.instances * (1 + 1e-9)
            if not fits:
                c, kept = g.config, kept + 1
            groups.append(problem.group(g.pool, c, g.instances, g.load_rps, res.epoch))
        epochs.append(_with_parked(problem, EpochResult(res.epoch, groups, reconfig_wh=res.reconfig_wh)))
    note = f"{kept} groups kept their own clock (top clock lacks capacity)" if kept else ""
    return Baseline(
        "plan-top-clock", "the plan's instances and TP mix, every instance at the top clock", epochs, note=note
    )


def all_baselines(
    problem: DynamoProblem, plan_epochs: list[EpochResult], options: SolveOptions | None = None
) -> list[Baseline]:
    """Every baseline; their sizing MILPs share the command's remaining wall clock (at least ``MIN_MILP_S`` each)."""
    return [
        single_pool(problem, fixed=True),
        single_pool(problem, fixed=False),
        static_pools(problem, options or SolveOptions(), tp_max_only=True),
        static_pools(problem, options or SolveOptions(), tp_max_only=False),
        plan_at_top_clock(problem, plan_epochs),
    ]
