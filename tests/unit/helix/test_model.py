"""The per-node MILP and the aggregated interval model against brute force; model sizes against the reference."""

from __future__ import annotations

import pytest

from planner.helix import aggregated as agg
from planner.helix.backends import CountingBackend, CpSatBackend, MathOptBackend
from planner.helix.bounds import covering_bound
from planner.helix.flow import flow_value
from planner.helix.model import add_full_hint, build, model_size
from planner.helix.solve_milp import solve_cpsat, solve_mathopt
from planner.solver import SolveOptions
from tests.unit.helix.tiny import brute_force, tiny_instance
from tests.unit.helix.vectors import instance

TINY = [(9, 5, 4), (9, 5, 4), (3,)]


@pytest.mark.parametrize(("cluster", "size"), [("single24", (1376, 1848)), ("cluster10", (316, 350))])
def test_model_size_matches_the_reference(cluster: str, size: tuple[int, int]) -> None:
    inst = instance(cluster)
    assert model_size(inst, "strict", cut=False) == size  # columns x rows of the reference's Gurobi log
    counter = CountingBackend()
    build(inst, "strict", counter, None)
    assert (counter.n_variables, counter.n_constraints) == size
    assert counter.variables["continuous"] == size[0] - sum(counter.variables[k] for k in ("integer", "binary"))


def _ranges(m, raw):
    out = {}
    for node in m.inst.nodes:
        s = int(round(raw.values(m.v.start[node.name])))
        k = next(k for k, h in m.v.hold[node.name].items() if raw.values(h) > 0.5)
        out[node.name] = (s, s + k)
    return out


@pytest.mark.parametrize("mode", ["strict", "partial"])
def test_cpsat_per_node_optimum_equals_brute_force(mode: str) -> None:
    inst = tiny_instance(TINY, layers=4)
    best, _ = brute_force(inst, mode)
    backend = CpSatBackend(1e-3)
    m = build(inst, mode, backend, covering_bound(inst, mode).value)
    raw = solve_cpsat(backend, SolveOptions(time_limit_s=20.0, rel_gap=0.0))
    assert raw.status == "optimal"
    assert raw.objective / 1000 == pytest.approx(best, abs=0.01)
    assert flow_value(inst, _ranges(m, raw), mode) == pytest.approx(best, abs=1e-6)


def test_scip_per_node_optimum_equals_brute_force() -> None:
    inst = tiny_instance(TINY, layers=4)
    best, _ = brute_force(inst)
    backend = MathOptBackend("scip")
    m = build(inst, "strict", backend, None)
    raw = solve_mathopt(backend, SolveOptions(time_limit_s=20.0, rel_gap=0.0))
    assert raw.status == "optimal"
    assert raw.objective == pytest.approx(best, rel=1e-6)
    assert flow_value(inst, _ranges(m, raw)) == pytest.approx(best, rel=1e-6)


def test_full_hint_is_a_feasible_start() -> None:
    inst = tiny_instance(TINY, layers=4)
    _, arg = brute_force(inst)
    backend = CpSatBackend(1e-3)
    m = build(inst, "strict", backend, None)
    hinted = add_full_hint(m, arg)
    assert hinted == pytest.approx(flow_value(inst, arg), abs=0.01)
    backend.model.clear_objective()
    solver_params = SolveOptions(time_limit_s=5.0)
    raw = solve_cpsat(backend, solver_params)
    assert raw.values is not None


@pytest.mark.parametrize("tables", [TINY, [(7, 6), (4, 3, 1), (5,)], [(10, 2, 1), (6, 6), (2, 2)]])
def test_aggregated_model_agrees_with_per_node_and_brute_force(tables) -> None:
    inst = tiny_instance(tables, layers=4)
    best, _ = brute_force(inst)
    am = agg.build(inst, covering_bound(inst).value, 1e-3, by_region=False)
    raw = agg.solve(am, SolveOptions(time_limit_s=20.0, rel_gap=0.0))
    assert raw.status == "optimal"
    assert raw.objective / 1000 == pytest.approx(best, abs=0.01)
    ranges = agg.disaggregate(am, raw)
    assert flow_value(inst, ranges) == pytest.approx(best, abs=0.01)
