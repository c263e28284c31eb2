"""The epoch MILP: exact reductions keep the optimum, options behave, whole days verify."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from planner.dynamo.baselines import all_baselines
from planner.dynamo.extract import plan_block
from planner.dynamo.model import EpochData, EpochModel
from planner.dynamo.solve import milp_instance, solve
from planner.dynamo.verify import check_plan
from planner.errors import InfeasibleError
from planner.solver import SolveOptions

from ...dynamo_specs import tiny_dynamo_spec
from .conftest import TINY, tiny_problem


def epoch_data(pb, i: int, prev_gpus=None, prev_n=None) -> EpochData:
    e = pb.epochs[i]
    return EpochData(e.length_s, pb.provisioned(e), pb.served_fraction(e), prev_gpus, prev_n)


def test_screening_and_decomposition_keep_the_optimum(tiny) -> None:
    inst = milp_instance(tiny, tiny.configs, budget=tiny.gpu_budget)
    fast, full = EpochModel(inst, exact=False), EpochModel(dataclasses.replace(inst, prune=False))
    enum = EpochModel(inst)
    assert fast.screenable and not full.screenable
    prev_g, prev_n = None, None
    for i in range(len(tiny.epochs)):
        a = fast.solve(epoch_data(tiny, i, prev_g, prev_n))
        b = full.solve(epoch_data(tiny, i, prev_g, prev_n))
        e = enum.solve(epoch_data(tiny, i, prev_g, prev_n))
        assert a.status == b.status == e.status == "optimal"
        assert a.objective_wh == pytest.approx(b.objective_wh, rel=1e-9, abs=1e-6)
        assert a.path == "screened" and a.kept_configs < b.kept_configs
        # the exact per-pool enumeration: the same optimum, proved without a gap
        assert e.path == "enumerated" and e.bound_wh == e.objective_wh
        assert e.objective_wh == pytest.approx(b.objective_wh, rel=1e-9, abs=1e-6)
        prev_g = {p: sum(c.tp * n for (pp, c), n in a.instances.items() if pp == p) for p in tiny.classes}
        prev_n = {}
        for (p, c), n in a.instances.items():
            prev_n[(p, c.tp)] = prev_n.get((p, c.tp), 0) + n


def test_binding_budget_falls_back_to_the_full_model(tmp_path: Path) -> None:
    # a bigger cluster, so the free optimum fits the budget's GPUs, and few configurations, so the full model (no
    # screening) is small enough to prove quickly
    small = "  tp: [2, 8]\n  freqs_mhz: [1200, 1980]\n"
    pb = tiny_problem(tmp_path, tiny_dynamo_spec(dynamo=small).replace("count: 6", "count: 12"))
    free = EpochModel(milp_instance(pb, pb.configs, budget=None)).solve(epoch_data(pb, len(pb.epochs) - 1))
    used = sum(c.tp * n for (_p, c), n in free.instances.items())
    tight = used - 2
    inst = milp_instance(pb, pb.configs, budget=tight)
    sol = EpochModel(inst, exact=False).solve(epoch_data(pb, len(pb.epochs) - 1))
    assert sol.status == "optimal" and sol.path == "full"
    assert sum(c.tp * n for (_p, c), n in sol.instances.items()) <= tight
    assert sol.objective_wh >= free.objective_wh - 1e-6
    # the enumeration's DP over pools finds the same optimum under the binding budget
    dp = EpochModel(inst).solve(epoch_data(pb, len(pb.epochs) - 1))
    assert dp.status == "optimal" and dp.path == "enumerated" and "DP over pools" in dp.message
    assert sum(c.tp * n for (_p, c), n in dp.instances.items()) <= tight
    assert dp.objective_wh == pytest.approx(sol.objective_wh, rel=1e-9, abs=1e-6)


def test_dominance_never_costs_more_and_homogeneous_never_less(tmp_path: Path) -> None:
    # few configurations: dominance pools with interference make the MILP hard to prove over all 21
    base = tiny_problem(tmp_path, tiny_dynamo_spec(dynamo="  tp: [2, 8]\n  freqs_mhz: [1200, 1980]\n"))
    data = epoch_data(base, 0)
    plain = EpochModel(milp_instance(base, base.configs, budget=base.gpu_budget)).solve(data)
    dom = dataclasses.replace(base, dominance=True)
    pooled = EpochModel(milp_instance(dom, dom.configs, budget=dom.gpu_budget)).solve(data)
    homo = EpochModel(milp_instance(base, base.configs, budget=base.gpu_budget, homogeneous=True)).solve(data)
    assert pooled.objective_wh <= plain.objective_wh + 1e-6 <= homo.objective_wh + 2e-6
    for p in base.classes:
        assert len({c for (pp, c) in homo.instances if pp == p}) <= 1
    by = dom.scheme.by_name()
    assert all(by[p].dominates(by[k]) for (k, p, _c) in pooled.load_rps)


def test_reconfiguration_penalty_holds_the_deployment(tmp_path: Path) -> None:
    pb = tiny_problem(tmp_path)
    inst = milp_instance(pb, pb.configs, budget=pb.gpu_budget)
    heavy = dataclasses.replace(inst, penalty_weight=1e6)
    first = EpochModel(inst).solve(epoch_data(pb, 2))
    prev_g = {p: sum(c.tp * n for (pp, c), n in first.instances.items() if pp == p) for p in pb.classes}
    prev_n: dict = {}
    for (p, c), n in first.instances.items():
        prev_n[(p, c.tp)] = prev_n.get((p, c.tp), 0) + n
    later = EpochModel(heavy).solve(epoch_data(pb, 3, prev_g, prev_n))  # higher load: grows only where it must
    grown = {p: sum(c.tp * n for (pp, c), n in later.instances.items() if pp == p) for p in pb.classes}
    assert sum(max(0, grown[p] - prev_g[p]) for p in pb.classes) <= 8
    assert all(later.new_instances[key] < 1e-6 or key[0] in pb.classes for key in later.new_instances)


@pytest.mark.parametrize("mode", ["joint", "hierarchical"])
def test_whole_day_verifies(tmp_path: Path, mode: str) -> None:
    pb = tiny_problem(tmp_path, mode=mode)
    day = solve(pb, SolveOptions())
    assert len(day.epochs) == 12 and all(e.status == "optimal" for e in day.epochs)
    contract, metrics, totals = plan_block(pb, day, all_baselines(pb, day.epochs))
    block = contract.dump()
    assert check_plan(pb, contract) == []
    assert metrics["energy_kwh"] == pytest.approx(day.energy_wh / 1000.0)
    if mode == "hierarchical":
        windows = [block["epochs"][i : i + 6] for i in (0, 6)]
        for w in windows:
            assert len({tuple((p["class"], p["gpus"]) for p in e["pools"]) for e in w}) == 1
    fixed = next(b for b in block["baselines"] if b["name"] == "singlepool-fixed")
    peak = next(b for b in block["baselines"] if b["name"] == "singlepool-peak")
    assert fixed["peak_gpus"] == pb.gpu_budget // 8 * 8 >= peak["peak_gpus"] and peak["peak_gpus"] % 8 == 0
    assert fixed["energy_kwh"] >= peak["energy_kwh"] > 0  # same instances' load, more idle instances
    sv = block["savings"]
    assert sv["against"] == "singlepool-fixed"
    parts = sum(sv[f"{p}_kwh"] for p in ("sizing", "pools", "tp", "scaling", "frequency"))
    assert parts == pytest.approx(sv["vs_singlepool_kwh"])


def test_budget_too_small_names_the_smallest_budget(tmp_path: Path) -> None:
    pb = tiny_problem(tmp_path, mode="joint", gpu_budget=8)
    with pytest.raises(InfeasibleError) as err:
        solve(pb, SolveOptions())
    sf = err.value.shortfall
    assert sf.constraint == "gpu_budget" and sf.limit == 8
    need = int(sf.best)
    assert need > 8
    ok = tiny_problem(tmp_path, TINY, mode="joint", gpu_budget=need)
    assert all(e.gpus <= need for e in solve(ok, SolveOptions()).epochs)
    with pytest.raises(InfeasibleError):
        solve(tiny_problem(tmp_path, TINY, mode="joint", gpu_budget=need - 1), SolveOptions())


def test_trace_replay_plans_the_trace_hour(tmp_path: Path) -> None:
    """arrival: trace without a curve: the trace is classified and binned into 5-minute epochs on its own clock."""
    text = TINY.replace("count: 6", "count: 11").replace("dynamo:\n  horizon: 1h\n", "dynamo:\n")
    text = text.split("  load_curve:")[0] + "  arrival: trace\nslo: {ttft: 400ms, tbt: 100ms}\ndynamo: {mode: joint}\n"
    pb = tiny_problem(tmp_path, text)
    assert [e.label for e in pb.epochs][:2] == ["18:15", "18:20"] and len(pb.epochs) == 12
    assert sum(sum(e.requests.values()) for e in pb.epochs) == 19366
    day = solve(pb, SolveOptions())
    contract, _m, _t = plan_block(pb, day, all_baselines(pb, day.epochs))
    block = contract.dump()
    assert check_plan(pb, contract) == [] and block["epochs"][0]["start"] == "18:15"
