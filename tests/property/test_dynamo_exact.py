"""On small random instances the exact per-pool enumeration (planner/dynamo/exact.py) finds the epoch MILP's optimum:
the same objective as SCIP on the same model, with curved (concave or not) power, the GPU budget binding or not,
homogeneous pools and the reconfiguration penalty in play; and its deployment is feasible and costs what it says."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.dynamo.model import TIE_BREAK_WH, EpochData, EpochModel, MilpInstance
from planner.dynamo.profile import Config, PowerCurve

T = 300.0


@st.composite
def curves(draw, top: float) -> PowerCurve:
    """Dynamic power over utilisation: 1-3 pieces, rising, concave or not."""
    inner = sorted(set(draw(st.lists(st.sampled_from([0.1, 0.25, 0.5, 0.7, 0.9]), max_size=2))))
    u = (0.0, *inner, 1.0)
    shares = sorted(draw(st.lists(st.floats(0.05, 0.95), min_size=len(inner), max_size=len(inner))))
    if draw(st.booleans()):  # saturating: concave by construction
        shares = [float(np.sqrt(x)) for x in inner]
    return PowerCurve(u, (0.0, *(top * s for s in shares), top))


@st.composite
def instances(draw) -> tuple[MilpInstance, EpochData]:
    classes = ("A", "B", "C")[: draw(st.integers(1, 3))]
    n_cfg = draw(st.integers(2, 4))
    tps = draw(st.lists(st.sampled_from([1, 2, 4, 8]), min_size=n_cfg, max_size=n_cfg))
    configs = tuple(sorted({Config(tp, 1000 + 100 * i) for i, tp in enumerate(tps)}))
    cap, curve = {}, {}
    for k in classes:
        for c in configs:
            cap[(k, c)] = draw(st.sampled_from([0.0, 0.3, 0.5, 1.0, 1.7, 2.5, 4.0]))
            curve[(k, c)] = draw(curves(top=float(draw(st.sampled_from([50, 200, 450, 900])))))
    idle = {c: float(draw(st.sampled_from([60, 150, 300, 450, 600]))) for c in configs}
    inst = MilpInstance(
        classes=classes,
        pools=classes,
        configs=configs,
        cap_rps=cap,
        curves=curve,
        idle_w=idle,
        serves={k: (k,) for k in classes},
        gpu_budget=draw(st.one_of(st.none(), st.integers(2, 24))),
        homogeneous=draw(st.booleans()),
        start_wh_per_gpu=draw(st.sampled_from([0.0, 2.0])),
        reshard_wh_per_gpu=draw(st.sampled_from([0.0, 0.5])),
        penalty_weight=draw(st.sampled_from([1.0, 3.0])),
    )
    rate = {k: draw(st.sampled_from([0.0, 0.4, 1.0, 2.2, 3.5, 6.3])) for k in classes}
    rho = {k: draw(st.sampled_from([0.5, 0.8, 1.0])) for k in classes}
    prev = draw(st.booleans())
    prev_g = {p: draw(st.integers(0, 8)) for p in classes} if prev else None
    prev_n = {(p, c.tp): draw(st.integers(0, 2)) for p in classes for c in configs} if prev else None
    return inst, EpochData(T, rate, rho, prev_g, prev_n)


def recomputed_cost(inst: MilpInstance, data: EpochData, sol) -> float:
    """The MILP objective of a solution, from its instances and loads alone (balanced groups on the power curve)."""
    hours = data.length_s / 3600.0
    total = 0.0
    for (p, c), n in sol.instances.items():
        x = sum(v for (k, pp, cc), v in sol.load_rps.items() if (pp, cc) == (p, c))
        assert x <= n * inst.cap_rps[(p, c)] * (1 + 1e-9) + 1e-9  # capacity at SLO
        u = data.served_fraction[p] * x / (n * inst.cap_rps[(p, c)])
        assert u <= 1 + 1e-9
        total += n * ((inst.idle_w[c] + inst.curves[(p, c)].at(u)) * hours + TIE_BREAK_WH)
    w = inst.penalty_weight
    for p in inst.pools:
        gpus = sum(c.tp * n for (pp, c), n in sol.instances.items() if pp == p)
        if data.prev_pool_gpus is not None:
            total += w * inst.start_wh_per_gpu * max(0, gpus - data.prev_pool_gpus.get(p, 0))
        if data.prev_instances is not None:
            for t in {c.tp for c in inst.configs}:
                n_t = sum(n for (pp, c), n in sol.instances.items() if pp == p and c.tp == t)
                total += w * inst.reshard_wh_per_gpu * t * max(0, n_t - data.prev_instances.get((p, t), 0))
    return total


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(instances())
def test_enumeration_equals_the_milp(case) -> None:
    inst, data = case
    fast = EpochModel(inst).solve(data)
    milp = EpochModel(inst, exact=False).solve(data)
    assert milp.path != "enumerated"
    if milp.status == "infeasible":
        assert fast.status == "infeasible"  # the enumeration found nothing and handed the epoch to the MILP
        return
    assert milp.status == "optimal"
    assert fast.status == "optimal" and fast.path == "enumerated"
    assert np.isclose(fast.objective_wh, milp.objective_wh, rtol=1e-7, atol=1e-6), (fast.objective_wh, milp)
    assert fast.bound_wh == fast.objective_wh
    # the enumeration's deployment serves every class, fits the budget and costs its objective
    for k in inst.classes:
        served = sum(v for (kk, _p, _c), v in fast.load_rps.items() if kk == k)
        assert np.isclose(served, data.rate_rps[k], rtol=1e-9, atol=1e-9)
    if inst.gpu_budget is not None:
        assert sum(c.tp * n for (_p, c), n in fast.instances.items()) <= inst.gpu_budget
    if inst.homogeneous:
        assert all(len({c for (pp, c) in fast.instances if pp == p}) <= 1 for p in inst.pools)
    assert np.isclose(recomputed_cost(inst, data, fast), fast.objective_wh, rtol=1e-9, atol=1e-9)


def test_a_binding_budget_goes_through_the_dp_and_stays_optimal() -> None:
    """Two pools whose own optima (a cheap TP8 each) overflow the budget: the DP trades one to TP2 groups."""
    tp8, tp2 = Config(8, 1980), Config(2, 1980)
    classes = ("A", "B")
    cap = {(k, tp8): 4.0 for k in classes} | {(k, tp2): 0.8 for k in classes}
    curve = {
        (k, c): PowerCurve((0.0, 0.3, 1.0), (0.0, 0.7 * 3000 / c.tp, 3000 / c.tp)) for k in classes for c in (tp8, tp2)
    }
    inst = MilpInstance(
        classes=classes,
        pools=classes,
        configs=(tp2, tp8),
        cap_rps=cap,
        curves=curve,
        idle_w={tp8: 4000.0, tp2: 1100.0},
        serves={k: (k,) for k in classes},
        gpu_budget=12,
    )
    data = EpochData(T, {"A": 3.9, "B": 1.5}, {"A": 0.9, "B": 0.9})
    unbounded = EpochModel(MilpInstance(**{**inst.__dict__, "gpu_budget": None})).solve(data)
    assert sum(c.tp * n for (_p, c), n in unbounded.instances.items()) > 12  # the budget binds
    fast = EpochModel(inst).solve(data)
    milp = EpochModel(inst, exact=False).solve(data)
    assert fast.path == "enumerated" and "DP over pools" in fast.message
    assert milp.status == fast.status == "optimal"
    assert np.isclose(fast.objective_wh, milp.objective_wh, rtol=1e-9)
    assert sum(c.tp * n for (_p, c), n in fast.instances.items()) <= 12


def test_screening_keeps_the_only_configuration_that_fits_the_budget() -> None:
    """Regression (found by the property test above): the MILP's screening took its upper bound from a deployment
    the GPU budget forbids (4 TP2 groups under a 2-GPU budget) and dropped the one TP1 instance that is optimal."""
    c1, c2, c3 = Config(1, 1000), Config(1, 1100), Config(2, 1200)
    flat = PowerCurve((0.0, 1.0), (0.0, 50.0))
    cap = {("A", c1): 1.7, ("A", c2): 0.5, ("A", c3): 0.3}
    inst = MilpInstance(
        classes=("A",),
        pools=("A",),
        configs=(c1, c2, c3),
        cap_rps=cap,
        curves={
            ("A", c1): flat,
            ("A", c2): flat,
            ("A", c3): PowerCurve((0.0, 0.5, 0.7, 1.0), (0.0, 100.0, 100.0, 200.0)),
        },
        idle_w={c1: 600.0, c2: 300.0, c3: 60.0},
        serves={"A": ("A",)},
        gpu_budget=2,
    )
    data = EpochData(T, {"A": 1.0}, {"A": 0.5})
    # one tp1@1000 instance at u = 0.5 x 1.0 / 1.7: (600 + 50 u) W for 5 minutes, plus the tie-break
    expected = (600.0 + 50.0 * 0.5 / 1.7) * T / 3600.0 + TIE_BREAK_WH
    for exact in (True, False):
        sol = EpochModel(inst, exact=exact).solve(data)
        assert sol.status == "optimal"
        assert sol.instances == {("A", c1): 1}
        assert np.isclose(sol.objective_wh, expected, rtol=1e-9)
