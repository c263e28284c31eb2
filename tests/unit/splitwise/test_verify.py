"""The solver-free Splitwise verifier (planner.splitwise.verify) check by check, on tampered copies of two goldens.

Coding golden (iso-throughput, objective cost): HA = 5 DGX-H100 prompt (38.08 USD/h, 5.2 kW each) + 1 DGX-A100
token (17.68 USD/h, 5.2 kW) = 208.08 USD/h, 31.2 kW at 10 req/s; HH costs 228.48 and baseline-h100 304.64.
Conversation golden (iso-budget, 60 kW): HHcap 6P + 6T = 456.96 USD/h, 57.12 kW, 37 req/s; baseline-h100 33 req/s.
Each tamper breaks exactly one claim; the verifier must name it, and a change inside the tolerance must pass.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from planner.errors import VerificationError
from planner.splitwise.contract import SplitwisePlanBlock
from planner.splitwise.verify import verify_plan

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
CODING = json.loads((GOLDEN / "splitwise-bloom176b-coding-rps10.json").read_text())
BUDGET = json.loads((GOLDEN / "splitwise-bloom176b-conversation-power60.json").read_text())

Doc = dict[str, Any]


def _check(doc: Doc, tamper: Callable[[Doc], object] | None = None) -> None:
    d = copy.deepcopy(doc)
    if tamper is not None:
        tamper(d)
    verify_plan(SplitwisePlanBlock.model_validate(d["plan"]), d["metrics"])


def _refused(doc: Doc, tamper: Callable[[Doc], object], message: str) -> None:
    with pytest.raises(VerificationError, match="^" + re.escape("splitwise plan verification failed: " + message)):
        _check(doc, tamper)


def _pool(d: Doc, role: str) -> dict[str, Any]:
    return next(p for p in d["plan"]["pools"] if p["role"] == role)


def _design(d: Doc, name: str) -> dict[str, Any]:
    return next(r for r in d["plan"]["designs"] if r["design"] == name)


def test_the_goldens_pass() -> None:
    _check(CODING)
    _check(BUDGET)


def test_an_infeasible_plan_claims_nothing() -> None:
    def infeasible(d: Doc) -> None:
        d["plan"]["design"] = None
        d["metrics"]["cost_usd_h"] = 1e9
        d["plan"]["slos"] = []

    _check(CODING, infeasible)


def test_pools_must_be_prompt_and_token_or_both() -> None:
    _refused(
        CODING, lambda d: _pool(d, "token").update(provisioned=False), "provisioned pools must be 'both' or "
        "'prompt'+'token', got ['prompt']"
    )  # fmt: skip


def test_a_pool_with_no_machine() -> None:
    _refused(CODING, lambda d: _pool(d, "token").update(count=0), "pool token has 0 machines")


def test_pool_cost_follows_from_its_machines() -> None:
    _refused(CODING, lambda d: _pool(d, "prompt").update(cost_usd_h=190.5), "pool prompt cost 190.5 != 5 x 38.08")
    _check(CODING, lambda d: _pool(d, "prompt").update(cost_usd_h=190.4 * (1 + 5e-7)))  # relative 1e-6


def test_plan_cost_and_power_are_the_sums_of_the_pools() -> None:
    _refused(
        CODING, lambda d: d["metrics"].update(cost_usd_h=208.1), "cost_usd_h 208.1 != sum of pools 208.07999999999998"
    )
    _refused(CODING, lambda d: d["metrics"].update(power_kw=31.0), "power_kw 31.0 != sum of pools 31.2")
    _refused(CODING, lambda d: d["metrics"].update(power_kw=None), "power_kw None != sum of pools 31.2")
    _check(CODING, lambda d: d["metrics"].update(power_kw=31.2 * (1 - 5e-7)))


def test_budget_is_respected_up_to_rounding() -> None:
    _refused(
        BUDGET, lambda d: d["plan"]["budget"].update(power_kw=57.0), "power 57.11999999999999 exceeds the budget 57.0"
    )  # fmt: skip
    _check(BUDGET, lambda d: d["plan"]["budget"].update(power_kw=57.12 / (1 + 5e-7)))
    _refused(
        BUDGET, lambda d: d["plan"]["budget"].update(power_kw=57.12 / (1 + 2e-6)), "power 57.11999999999999 exceeds"
    )
    _refused(
        BUDGET, lambda d: d["plan"]["budget"].update(cost_usd_h=456.0), "cost 456.96 exceeds the budget 456.0"
    )  # fmt: skip
    _check(BUDGET, lambda d: d["plan"]["budget"].update(cost_usd_h=456.96))
    # the budget binds only an iso-budget plan
    _check(CODING, lambda d: d["plan"]["budget"].update(cost_usd_h=1.0, power_kw=1.0))


def test_nine_slos_each_met_with_its_margin() -> None:
    _refused(CODING, lambda d: d["plan"]["slos"].pop(), "expected 9 SLOs, got 8")

    def at_limit(d: Doc) -> None:
        d["plan"]["slos"][0].update(value=2.0, margin=0.0)

    _refused(CODING, at_limit, "SLO ttft_p50 not met: 2.0 vs 2.0")
    _refused(CODING, lambda d: d["plan"]["slos"][0].update(value=None), "SLO ttft_p50 not met: None vs 2.0")

    def margin(d: Doc) -> None:
        d["plan"]["slos"][0]["margin"] = 0.75

    _refused(CODING, margin, "SLO ttft_p50 margin 0.75 != 1 - value/limit")

    def exact(d: Doc) -> None:
        s = d["plan"]["slos"][0]
        s.update(value=1.0, margin=0.5)

    _check(CODING, exact)


def test_the_chosen_point_is_a_feasible_ledger_point() -> None:
    def infeasible_point(d: Doc) -> None:
        for r in d["plan"]["ledger"]:
            if r["design"] == "HA" and (r["prompt"], r["token"]) == (5, 1):
                r["feasible"] = False

    _refused(CODING, infeasible_point, "chosen point 5P+1T of HA at 10.0 req/s is not a feasible ledger point")

    def other_rate(d: Doc) -> None:
        for r in d["plan"]["ledger"]:
            if r["design"] == "HA" and (r["prompt"], r["token"]) == (5, 1):
                r["rate_rps"] = 11.0

    _refused(CODING, other_rate, "chosen point 5P+1T of HA at 10.0 req/s")


def _extra_ledger_point(design: str, prompt: int, token: int, cost: float, power: float, rate: float = 10.0):
    def add(d: Doc) -> None:
        row = copy.deepcopy(next(r for r in d["plan"]["ledger"] if r["design"] == design and r["feasible"]))
        row.update(prompt=prompt, token=token, cost_usd_h=cost, power_kw=power, rate_rps=rate, feasible=True)
        d["plan"]["ledger"].append(row)

    return add


def test_no_feasible_ledger_point_beats_the_reported_one() -> None:
    _refused(
        CODING, _extra_ledger_point("HA", 4, 1, 170.0, 26.0),
        "design HA: ledger point 4P+1T is better than the reported one",
    )  # fmt: skip
    # the same cost with fewer machines, or fewer prompt machines, is better too
    _refused(CODING, _extra_ledger_point("HA", 4, 1, 208.08, 26.0), "design HA: ledger point 4P+1T")
    _refused(CODING, _extra_ledger_point("HA", 4, 2, 208.08, 26.0), "design HA: ledger point 4P+2T")
    # an equal point, a costlier one, or one at another rate is no reason to refuse
    _check(CODING, _extra_ledger_point("HA", 5, 1, 208.08, 31.2))
    _check(CODING, _extra_ledger_point("HA", 4, 1, 208.1, 26.0))
    _check(CODING, _extra_ledger_point("HA", 4, 1, 170.0, 26.0, rate=9.0))


def test_the_chosen_design_is_the_best_of_the_designs() -> None:
    _refused(CODING, lambda d: _design(d, "HH").update(cost_usd_h=200.0), "design HH is cheaper than the chosen one")
    _check(CODING, lambda d: _design(d, "HH").update(cost_usd_h=208.08))  # a tie keeps the reported choice
    _refused(
        BUDGET, lambda d: _design(d, "baseline-h100").update(throughput_rps=38.0),
        "design baseline-h100 sustains more (38.0) than the chosen one",
    )  # fmt: skip
    _check(BUDGET, lambda d: _design(d, "baseline-h100").update(throughput_rps=37.0))


def test_designs_without_a_point_are_skipped_and_missing_figures_refused() -> None:
    def no_point(d: Doc) -> None:
        _design(d, "HH").update(prompt=None, token=None, cost_usd_h=None, power_kw=None, throughput_rps=None)

    _check(CODING, no_point)
    _refused(CODING, lambda d: _design(d, "HH").update(cost_usd_h=None), "design HH has no cost to compare")


def test_other_objectives() -> None:
    # power: HA 31.2 kW beats HH 33.6 kW and baseline-h100 44.8 kW
    _check(CODING, lambda d: d["plan"].update(objective="power"))
    _refused(
        CODING, lambda d: (d["plan"].update(objective="power"), _design(d, "HH").update(power_kw=30.0)),
        "design HH is cheaper than the chosen one",
    )  # fmt: skip
    _refused(
        CODING, lambda d: (d["plan"].update(objective="power"), _design(d, "HH").update(power_kw=None)),
        "design HH has no power to compare",
    )  # fmt: skip
    # machines: HA and HH both use 6, baseline-h100 8
    _check(CODING, lambda d: d["plan"].update(objective="machines"))
    _refused(
        CODING, lambda d: (d["plan"].update(objective="machines"), _design(d, "HH").update(prompt=4)),
        "design HH is cheaper than the chosen one",
    )  # fmt: skip


def test_usd_per_mtok_follows_from_cost_rate_and_tokens() -> None:
    _refused(CODING, lambda d: d["metrics"].update(usd_per_mtok=2.7), "usd_per_mtok 2.7 != 2.69546")
    _check(CODING, lambda d: d["metrics"].update(usd_per_mtok=2.695462001 * (1 + 5e-7)))


def test_ledger_ties_go_to_fewer_machines_then_fewer_prompt_machines() -> None:
    # same cost, 7 machines against the reported 6: not better, however the 7 split between prompt and token
    _check(CODING, _extra_ledger_point("HA", 3, 4, 208.08, 26.0))
    _check(CODING, _extra_ledger_point("HA", 6, 1, 208.08, 26.0))


def test_iso_budget_designs_compare_ledger_points_by_cost() -> None:
    # a cheaper feasible HHcap point at the design's rate beats the reported one, even with more machines
    _refused(
        BUDGET, _extra_ledger_point("HHcap", 7, 6, 400.0, 50.0, rate=37.0),
        "design HHcap: ledger point 7P+6T is better than the reported one",
    )  # fmt: skip
    _check(BUDGET, _extra_ledger_point("HHcap", 5, 6, 500.0, 50.0, rate=37.0))  # fewer machines but dearer


def test_a_design_without_a_point_does_not_end_the_checks() -> None:
    def no_point_then_better_ledger(d: Doc) -> None:
        _design(d, "HH").update(prompt=None, token=None, cost_usd_h=None, power_kw=None, throughput_rps=None)
        _extra_ledger_point("HA", 4, 1, 170.0, 26.0)(d)

    _refused(CODING, no_point_then_better_ledger, "design HA: ledger point 4P+1T is better than the reported one")
