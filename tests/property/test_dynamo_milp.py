"""On small random instances the dynamo epoch MILP's optimum equals exhaustive enumeration (reference section 12:
"every row re-verified by exhaustive enumeration"), with the exact screening, the GPU budget, dominance and the
reconfiguration penalty in play."""

from __future__ import annotations

import itertools
import math

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from ortools.math_opt.python import mathopt

from planner.dynamo.model import TIE_BREAK_WH, EpochData, EpochModel, MilpInstance
from planner.dynamo.profile import Config, PowerCurve

T = 300.0
START_WH, RESHARD_WH = 2.0, 0.5


@st.composite
def instances(draw):
    dominance = draw(st.booleans())
    classes = ("A", "B") if dominance or draw(st.booleans()) else ("A",)
    n_cfg = draw(st.integers(2, 2 if dominance else 3))
    tps = draw(st.lists(st.sampled_from([1, 2, 4]), min_size=n_cfg, max_size=n_cfg))
    configs = tuple(sorted({Config(tp, 1000 + 100 * i) for i, tp in enumerate(tps)}))
    cap, energy = {}, {}
    for k in classes:
        for c in configs:
            cap[(k, c)] = draw(st.sampled_from([0.0, 0.3, 0.5, 1.0, 1.7, 2.5, 4.0]))
            energy[(k, c)] = draw(st.sampled_from([0.2, 0.5, 1.0, 1.5, 3.0]))
    idle = {c: float(draw(st.sampled_from([60, 150, 300, 450, 600]))) for c in configs}
    serves = {"A": ("A",), "B": ("A", "B") if dominance else ("B",)} if len(classes) == 2 else {"A": ("A",)}
    budget = draw(st.one_of(st.none(), st.integers(2, 12)))
    rate = {k: draw(st.sampled_from([0.0, 0.4, 1.0, 2.2, 3.5])) for k in classes}
    rho = {k: draw(st.sampled_from([0.6, 1.0])) for k in classes}
    prev = draw(st.booleans())
    prev_g = {p: draw(st.integers(0, 6)) for p in classes} if prev else None
    prev_n = {(p, c.tp): draw(st.integers(0, 2)) for p in classes for c in configs} if prev else None
    inst = MilpInstance(
        classes=classes,
        pools=classes,
        configs=configs,
        cap_rps=cap,
        # energy affine in the load: straight power curves, so any routing prices like the LP below
        curves={key: PowerCurve.linear(e, cap[key]) for key, e in energy.items()},
        idle_w=idle,
        serves=serves,
        gpu_budget=budget,
        start_wh_per_gpu=START_WH,
        reshard_wh_per_gpu=RESHARD_WH,
    )
    return inst, EpochData(T, rate, rho, prev_g, prev_n)


def routing_cost(inst: MilpInstance, data: EpochData, y: dict) -> float | None:
    """Least load-dependent energy for the instance vector y: a pure LP (GLOP), None if the load does not fit."""
    m = mathopt.Model()
    x = {}
    for p in inst.pools:
        for c in inst.configs:
            for k in inst.serves[p]:
                if inst.cap_rps[(k, c)] > 0:
                    x[(k, p, c)] = m.add_variable(lb=0.0)
    for k in inst.classes:
        m.add_linear_constraint(mathopt.fast_sum(v for key, v in x.items() if key[0] == k) == data.rate_rps[k])
    for p in inst.pools:
        for c in inst.configs:
            terms = [v / inst.cap_rps[(k, c)] for (k, pp, cc), v in x.items() if (pp, cc) == (p, c)]
            m.add_linear_constraint(mathopt.fast_sum(terms) <= y[(p, c)])
    m.minimize(
        mathopt.fast_sum(
            inst.curves[(k, c)].dyn_w[-1] / inst.cap_rps[(k, c)] / 3600.0 * data.served_fraction[k] * T * v
            for (k, _p, c), v in x.items()
        )
    )
    res = mathopt.solve(m, mathopt.SolverType.GLOP)
    if res.termination.reason != mathopt.TerminationReason.OPTIMAL:
        return None
    return res.objective_value()


def enumerate_optimum(inst: MilpInstance, data: EpochData) -> float | None:
    groups = [(p, c) for p in inst.pools for c in inst.configs]
    top = max(sum(data.rate_rps.values()), 0.0)
    limits = []
    for _p, c in groups:
        caps = [inst.cap_rps[(k, c)] for k in inst.classes if inst.cap_rps[(k, c)] > 0]
        n = math.ceil(top / min(caps) + 1e-9) if caps else 0
        if inst.gpu_budget is not None:
            n = min(n, inst.gpu_budget // c.tp)
        limits.append(n)
    assume(math.prod(n + 1 for n in limits) <= 4000)  # keep the enumeration exhaustive but quick
    best = None
    for combo in itertools.product(*(range(n + 1) for n in limits)):
        y = dict(zip(groups, combo, strict=True))
        if inst.gpu_budget is not None and sum(c.tp * n for (_p, c), n in y.items()) > inst.gpu_budget:
            continue
        route = routing_cost(inst, data, y)
        if route is None:
            continue
        cost = route + sum((inst.idle_w[c] * T / 3600.0 + TIE_BREAK_WH) * n for (_p, c), n in y.items())
        if data.prev_pool_gpus is not None:
            for p in inst.pools:
                g = sum(c.tp * y[(p, c)] for c in inst.configs)
                cost += START_WH * max(0, g - data.prev_pool_gpus[p])
                for t in {c.tp for c in inst.configs}:
                    n_t = sum(y[(p, c)] for c in inst.configs if c.tp == t)
                    cost += RESHARD_WH * t * max(0, n_t - data.prev_instances[(p, t)])
        best = cost if best is None else min(best, cost)
    return best


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(instances())
def test_milp_optimum_equals_enumeration(case) -> None:
    inst, data = case
    sol = EpochModel(inst).solve(data)
    expected = enumerate_optimum(inst, data)
    if expected is None:
        assert sol.status == "infeasible"
        return
    assert sol.status == "optimal"
    assert np.isclose(sol.objective_wh, expected, rtol=1e-7, atol=1e-5), (sol.objective_wh, expected)
