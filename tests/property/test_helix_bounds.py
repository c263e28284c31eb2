"""Random small clusters: the bounds never lie below the enumerated optimum, and the solver finds that optimum."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.helix.bounds import block_bound, compute_bound, covering_bound
from planner.helix.solve import HelixOptions, solve
from tests.unit.helix.tiny import brute_force, tiny_instance

tables = st.lists(
    st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=3).map(
        lambda xs: tuple(float(x) for x in xs)
    ),
    min_size=2,
    max_size=3,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables=tables, layers=st.integers(min_value=2, max_value=4))
def test_bounds_are_valid(tables, layers) -> None:
    inst = tiny_instance(tables, layers)
    if inst.total_max_layers < layers:
        return
    for mode in ("strict", "partial"):
        best, _ = brute_force(inst, mode)
        cov = covering_bound(inst, mode).value
        assert best <= cov * (1 + 1e-9) + 1e-9
        assert cov <= compute_bound(inst) * (1 + 1e-9) + 1e-9
        if mode == "strict":
            assert best <= block_bound(inst, cov) * (1 + 1e-9) + 1e-9


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables=tables, layers=st.integers(min_value=2, max_value=4), partial=st.booleans())
def test_solver_reaches_the_enumerated_optimum(tables, layers, partial) -> None:
    inst = tiny_instance(tables, layers)
    if inst.total_max_layers < layers:
        return
    mode = "partial" if partial else "strict"
    best, _ = brute_force(inst, mode)
    if best <= 0:
        return
    res = solve(inst, HelixOptions(mode=mode, time_limit_s=10, rel_gap=0.0))
    assert res.flow.value <= res.best_bound_tok_s * (1 + 1e-9) + 1e-9
    assert res.flow.value >= max(b.throughput_tok_s for b in res.baselines) - 1e-9
    assert res.report.status == "optimal"
    assert res.flow.value == pytest.approx(best, rel=1e-6)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tables=tables,
    layers=st.integers(min_value=2, max_value=4),
    split=st.integers(min_value=1, max_value=2),
    inter=st.integers(min_value=1, max_value=30),
)
def test_bounds_are_valid_with_slow_regions(tables, layers, split, inter) -> None:
    regions = ["a" if i < split else "b" for i in range(len(tables))]
    inst = tiny_instance(tables, layers, regions=regions, inter_tok_s=float(inter))
    if inst.total_max_layers < layers:
        return
    best, _ = brute_force(inst)
    cov = covering_bound(inst).value
    assert best <= cov * (1 + 1e-9) + 1e-9
    assert best <= block_bound(inst, cov) * (1 + 1e-9) + 1e-9
