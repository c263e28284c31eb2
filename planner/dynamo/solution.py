"""The solved day as plain data, and its energy accounting (shared by the solver, the baselines and the verifier).

Nothing here imports a solver: :mod:`planner.dynamo.verify` recomputes every figure from these objects and the
problem's profile figures, so the solver and the verifier agree only if the solver's bookkeeping is right.

Energy of one group of ``n`` instances of configuration c in an epoch of length T. The router balances the group's
load, so every instance runs at the same operating point: class k at utilisation ``u_k = N_k / (T n cap_{k,c})``
(``N_k`` the requests of k the group serves: its share ``x_k / lam_k`` of the epoch's served requests), in total
``U = sum_k u_k``. Each instance draws its idle power plus the classes' dynamic power curves at ``U``, weighted by
their share of the utilisation (:class:`planner.dynamo.profile.PowerCurve`)::

    E = n T / 3600 ( P0_c + sum_k (u_k / U) D_{k,c}(U) )        [Wh]

For one class this is ``n T P_{k,c}(U cap) / 3600``, the profile's own power at the per-instance load. GPUs outside
every instance are released (0 W) or, with ``parked``, draw the parked power per GPU. Reconfiguration energy (GPUs
started, GPUs re-sharded) is added per epoch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from planner.dynamo.load import Epoch
from planner.dynamo.profile import Config, PowerCurve


@dataclass
class Group:
    """``instances`` instances of one configuration in one pool during one epoch."""

    pool: str
    config: Config
    instances: int
    load_rps: dict[str, float]  # provisioned rate routed here, per class
    served: dict[str, float]  # requests served in the epoch, per class
    idle_wh: float = 0.0
    dynamic_wh: float = 0.0
    utilisation: float = 0.0  # sum_k x_k / (n cap_{k,c}), at the provisioned rate
    operating_u: float = 0.0  # U: per-instance utilisation at the served rate (the power curves' abscissa)

    @property
    def gpus(self) -> int:
        return self.instances * self.config.tp

    @property
    def energy_wh(self) -> float:
        return self.idle_wh + self.dynamic_wh


@dataclass
class EpochResult:
    """One epoch of the plan: groups per pool, reconfiguration, and what the solver proved."""

    epoch: Epoch
    groups: list[Group]
    status: str = "optimal"
    objective_wh: float | None = None
    bound_wh: float | None = None
    started_gpus: int = 0
    resharded_gpus: int = 0
    reconfig_wh: float = 0.0
    parked_wh: float = 0.0  # GPUs of the budget outside every instance, when they stay parked (not released)
    solve_wall_s: float = 0.0
    solves: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def energy_wh(self) -> float:
        return sum(g.energy_wh for g in self.groups) + self.reconfig_wh + self.parked_wh

    @property
    def gpus(self) -> int:
        return sum(g.gpus for g in self.groups)

    @property
    def avg_power_w(self) -> float:
        return self.energy_wh * 3600.0 / self.epoch.length_s

    def pool_groups(self, pool: str) -> list[Group]:
        return [g for g in self.groups if g.pool == pool]

    def pool_gpus(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for g in self.groups:
            out[g.pool] = out.get(g.pool, 0) + g.gpus
        return out

    def pool_tp_instances(self) -> dict[tuple[str, int], int]:
        out: dict[tuple[str, int], int] = {}
        for g in self.groups:
            key = (g.pool, g.config.tp)
            out[key] = out.get(key, 0) + g.instances
        return out


@dataclass
class DayResult:
    """The whole horizon, or its first ``len(epochs)`` of ``planned`` epochs when Ctrl-C or the time limit stopped
    the loop (``interrupted`` / ``timed_out``)."""

    epochs: list[EpochResult]
    mode: str
    backend: str
    solves: int = 0  # MILP solves
    screened: int = 0  # of which after exact screening
    enumerated: int = 0  # epochs solved by the exact per-pool enumeration (no MILP)
    planned: int = 0  # epochs of the horizon (0: not recorded)
    interrupted: bool = False
    timed_out: bool = False
    stopped_at: str = ""  # label of the first epoch without a plan when the time limit stopped the loop

    @property
    def partial(self) -> bool:
        """True when the plan covers only the first ``len(epochs)`` epochs of the horizon."""
        return self.interrupted or self.timed_out

    @property
    def energy_wh(self) -> float:
        return sum(e.energy_wh for e in self.epochs)


def make_group(
    pool: str,
    config: Config,
    instances: int,
    load_rps: dict[str, float],
    epoch: Epoch,
    lam: dict[str, float],
    idle_w: float,
    curves: dict[str, PowerCurve],
    cap_rps: dict[str, float],
) -> Group:
    """A group with its energy: idle plus the load-dependent power at its operating point, for the whole epoch."""
    served = {k: (epoch.requests[k] * x / lam[k] if lam.get(k, 0) > 0 else 0.0) for k, x in load_rps.items()}
    hours = epoch.length_s / 3600.0
    idle = instances * idle_w * hours
    util = sum(x / cap_rps[k] for k, x in load_rps.items() if cap_rps.get(k, 0) > 0) / instances if instances else 0.0
    shares = {
        k: n / epoch.length_s / (instances * cap_rps[k])
        for k, n in served.items()
        if instances and cap_rps.get(k, 0) > 0 and n > 0
    }
    op_u = sum(shares.values())
    dynamic = instances * hours * instance_dynamic_w(shares, curves)
    return Group(pool, config, instances, dict(load_rps), served, idle, dynamic, util, op_u)


def instance_dynamic_w(shares: dict[str, float], curves: dict[str, PowerCurve]) -> float:
    """Dynamic power of one instance whose utilisation is ``shares`` (class -> u_k): sum_k (u_k / U) D_k(U)."""
    total = sum(shares.values())
    if total <= 0:
        return 0.0
    return sum(u / total * curves[k].at(total) for k, u in shares.items())


def reconfiguration(
    prev: EpochResult | None, groups: list[Group], start_wh_per_gpu: float, reshard_wh_per_gpu: float
) -> tuple[int, int, float]:
    """(GPUs started, GPUs re-sharded, Wh) going from ``prev`` to ``groups`` (the first epoch starts free).

    A GPU is *started* when its pool grows; a GPU is *re-sharded* when it belongs to an instance of a TP the pool
    had fewer of before (the MILP's ``u_p`` and ``t v_{p,t}``).
    """
    if prev is None:
        return 0, 0, 0.0
    before_g, before_n = prev.pool_gpus(), prev.pool_tp_instances()
    now_g: dict[str, int] = {}
    now_n: dict[tuple[str, int], int] = {}
    for g in groups:
        now_g[g.pool] = now_g.get(g.pool, 0) + g.gpus
        now_n[(g.pool, g.config.tp)] = now_n.get((g.pool, g.config.tp), 0) + g.instances
    started = sum(max(0, n - before_g.get(p, 0)) for p, n in now_g.items())
    resharded = sum(t * max(0, n - before_n.get((p, t), 0)) for (p, t), n in now_n.items())
    return started, resharded, started * start_wh_per_gpu + resharded * reshard_wh_per_gpu
