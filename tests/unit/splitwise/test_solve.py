"""End-to-end solves on tiny instances: contract keys, verification, determinism, budgets, infeasibility."""

from __future__ import annotations

import copy

import pytest

from planner.errors import InfeasibleError, VerificationError
from planner.plan import plan_json
from planner.runner.splitwise import run, verify_document
from planner.splitwise.instance import SplitwiseOptions, build

TINY = dict(duration_s=20.0, workers=1)


def _stable(plan) -> str:
    return plan_json(plan.model_copy(update={"run": plan.run.model_copy(update={"wall_s": 0, "started_at": ""})}))


def test_iso_throughput_plan_follows_the_contract(db, coding) -> None:
    res = run(coding, db, SplitwiseOptions(rps=8.0, designs=["HH", "baseline-h100"], **TINY))
    plan = res.plan
    b = plan.plan
    assert plan.kind == "splitwise" and plan.solver.status == "feasible"
    assert {"design", "pools", "designs", "slos", "ledger"} <= set(b)
    assert b["design"] in ("HH", "baseline-h100")
    assert [s["name"] for s in b["slos"]] == [f"{m}_{q}" for m in ("ttft", "tbt", "e2e") for q in ("p50", "p90", "p99")]
    assert all(s["value"] < s["limit"] and s["margin"] > 0 for s in b["slos"])
    for key in ("cost_usd_h", "power_kw", "throughput_rps", "usd_per_mtok"):
        assert plan.metrics[key] is not None and plan.metrics[key] > 0
    roles = {p["role"] for p in b["pools"] if p["provisioned"]}
    assert roles in ({"prompt", "token"}, {"both"})
    assert plan.metrics["throughput_rps"] == 8.0
    assert plan.solver.best_bound is not None and plan.solver.best_bound <= plan.solver.objective
    assert any(a.basis == "measured" for a in plan.assumptions)
    assert len(b["designs"]) == 2 and all(r["simulated_points"] >= 1 for r in b["designs"])
    assert all(r["reason"] for r in b["ledger"] if not r["feasible"])  # every failure says why
    verify_document(plan)


def test_same_seed_same_plan_other_seed_other_requests(db, coding) -> None:
    opts = SplitwiseOptions(rps=8.0, designs=["HA"], **TINY)
    a, b = run(coding, db, opts), run(coding, db, opts)
    assert _stable(a.plan) == _stable(b.plan)
    c = run(coding, db, SplitwiseOptions(rps=8.0, designs=["HA"], seed=1, **TINY))
    assert c.plan.plan["ledger"] != a.plan.plan["ledger"]


def test_verification_catches_a_tampered_plan(db, coding) -> None:
    plan = run(coding, db, SplitwiseOptions(rps=8.0, designs=["HH"], **TINY)).plan
    bad = copy.deepcopy(plan)
    bad.plan["pools"][0]["count"] += 1
    with pytest.raises(VerificationError):
        verify_document(bad)
    worse = copy.deepcopy(plan)
    worse.plan["slos"][0]["margin"] = 0.9
    with pytest.raises(VerificationError):
        verify_document(worse)


def test_iso_budget_stays_within_the_budget(db, coding) -> None:
    res = run(coding, db, SplitwiseOptions(cost_target_usd_h=300.0, designs=["HA", "baseline-a100"], **TINY))
    b = res.plan.plan
    assert b["mode"] == "iso-budget" and b["objective"] == "throughput"
    assert res.plan.metrics["cost_usd_h"] <= 300.0
    assert res.plan.metrics["throughput_rps"] == b["rate_rps"] > 0
    assert res.plan.solver.best_bound >= res.plan.solver.objective  # capacity bound on the rate


def test_kv_transfer_is_gqa_correct(db, coding) -> None:
    inst = build(coding, db, SplitwiseOptions(rps=8.0, designs=["AA"], **TINY))
    bloom_bytes = inst.evaluator.config.kv_bytes_per_token * 1500
    assert bloom_bytes == pytest.approx(6.021e9, rel=1e-3)  # BLOOM has no GQA: 4,014,080 B/token
    a100 = inst.machines["DGX-A100"]
    assert bloom_bytes / a100.interconnect_bytes_s * 1e3 == pytest.approx(30.1, abs=0.05)
    assert db.model("llama2-70b").kv_bytes_per_token == 327_680  # 8 KV heads: 8x less than the artifact assumed


def test_a_target_no_design_meets_is_infeasible_with_the_plan(db, coding) -> None:
    with pytest.raises(InfeasibleError) as exc:
        run(coding, db, SplitwiseOptions(cost_target_usd_h=30.0, designs=["HH", "HA"], **TINY))
    assert "cost budget" in str(exc.value) and "limit 30 USD/h" in str(exc.value)
    assert exc.value.plan.solver.status == "infeasible"


def test_a_machine_with_tp_below_its_gpus_runs_several_instances(db, tmp_path) -> None:
    from planner.spec.loader import load_spec

    spec = tmp_path / "tp4.yaml"
    spec.write_text(
        "model: llama2-70b\n"
        "workload: {input_tokens: {distribution: fixed, mean: 500}, output_tokens: {distribution: fixed, mean: 20}}\n"
        "splitwise:\n"
        "  machines:\n"
        "    A100x2: {short: B, gpu: A100-80G, gpus: 8, tp: 4, gpu_memory: 80GiB, cost_usd_h: 17.68,"
        " perf_hardware: a100-80gb}\n"
    )
    res = run(load_spec(spec, db), db, SplitwiseOptions(rps=4.0, designs=["BB"], **TINY))
    pools = {p["role"]: p for p in res.plan.plan["pools"]}
    assert pools["prompt"]["instances"] == 2 * pools["prompt"]["count"]
    assert res.plan.plan["machines"]["A100x2"]["perf_basis"] == "measured"  # the TP 4 rows of the table


def test_the_chosen_point_resimulates_to_the_reported_slos(db, coding) -> None:
    """An independent build re-simulates the plan's chosen point to exactly the SLO values the plan reports."""
    from planner.splitwise.model import Point

    opts = SplitwiseOptions(rps=8.0, designs=["HA", "AA"], **TINY)
    plan = run(coding, db, opts).plan
    pools = {p["role"]: p["count"] for p in plan.plan["pools"] if p["provisioned"]}
    fresh = build(coding, db, opts).evaluator
    again = fresh.evaluate(plan.plan["design"], Point(pools["prompt"], pools["token"]), plan.plan["rate_rps"], False)
    assert again.feasible
    assert [v.value for v in again.slos] == pytest.approx([s["value"] for s in plan.plan["slos"]], rel=1e-12)
