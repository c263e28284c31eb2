"""Edges of the Splitwise verifier that mutation testing found untested (issue 17): exact tolerance boundaries,
zero machine counts in the tie-break, the ledger key of a non-cost objective, a workload without token figures.

Same goldens as tests/unit/splitwise/test_verify.py. Coding (iso-throughput, cost): HA 5P+1T = 208.08 USD/h chosen,
HH 5P+1T 228.48, baseline-h100 8 'both' 304.64; 10 req/s. Conversation (iso-budget 60 kW): HHcap 6P+6T = 456.96
USD/h, 57.12 kW (summed in binary64 as 57.11999999999999), 37 req/s; baseline-h100 33 req/s.
"""

from __future__ import annotations

import math

from tests.unit.splitwise.test_verify import BUDGET, CODING, Doc, _check, _design, _extra_ledger_point, _refused

REL = 1e-6


def test_a_budget_met_to_the_last_bit_of_its_tolerance_passes() -> None:
    # the budget allows cost <= budget * (1 + 1e-6); these budgets make that product exactly the plan's figure
    cost_budget, power_budget = 456.959543040457, 57.11994288005712
    assert cost_budget * (1 + REL) == 456.96
    assert power_budget * (1 + REL) == 57.11999999999999
    _check(BUDGET, lambda d: d["plan"]["budget"].update(cost_usd_h=cost_budget))
    _check(BUDGET, lambda d: d["plan"]["budget"].update(power_kw=power_budget))
    below = math.nextafter(cost_budget, 0.0)
    _refused(BUDGET, lambda d: d["plan"]["budget"].update(cost_usd_h=below), f"cost 456.96 exceeds the budget {below}")


def test_a_margin_rounded_to_zero_is_accepted() -> None:
    # 1 - value/limit = 1e-10: a stated margin of 0.0 is within the absolute tolerance 1e-9
    def tiny_margin(d: Doc) -> None:
        d["plan"]["slos"][0].update(value=2.0 - 2e-10, margin=0.0)

    _check(CODING, tiny_margin)

    def wrong_margin(d: Doc) -> None:
        d["plan"]["slos"][0].update(value=2.0 - 2e-10, margin=3e-9)

    _refused(CODING, wrong_margin, "SLO ttft_p50 margin 3e-09 != 1 - value/limit")


def test_the_machines_objective_counts_prompt_plus_token() -> None:
    # HH as 3P+3T: 6 machines, a tie with HA's 5P+1T, so HA stays the choice (a difference would make HH 0 < 4)
    def hh_3_3(d: Doc) -> None:
        d["plan"]["objective"] = "machines"
        _design(d, "HH").update(prompt=3, token=3)

    _check(CODING, hh_3_3)

    def hh_no_token(d: Doc) -> None:
        d["plan"]["objective"] = "machines"
        _design(d, "HH").update(token=None)

    _refused(CODING, hh_no_token, "design HH has no machines to compare")


def test_ledger_costs_tie_at_nine_decimals() -> None:
    # 208.08 + 2e-10 rounds to the reported 208.08: a tie, and the point's 5 machines beat the reported 6
    _refused(CODING, _extra_ledger_point("HA", 4, 1, 208.08 + 2e-10, 26.0), "design HA: ledger point 4P+1T is better")
    # 208.08 + 2e-9 is dearer
    _check(CODING, _extra_ledger_point("HA", 4, 1, 208.08 + 2e-9, 26.0))


def test_zero_prompt_or_token_machines_count_as_zero_in_the_tie_break() -> None:
    # reported HA 5P+1T (6 machines). 5P+0T: 5 machines at the same cost, better.
    _refused(CODING, _extra_ledger_point("HA", 5, 0, 208.08, 26.0), "design HA: ledger point 5P+0T is better")
    # 0P+6T: 6 machines, a tie, then 0 prompt machines against 5, better
    _refused(CODING, _extra_ledger_point("HA", 0, 6, 208.08, 26.0), "design HA: ledger point 0P+6T is better")

    # reported as 1P+5T: 0P+6T still has fewer prompt machines (0 < 1)
    def reported_1_5(d: Doc) -> None:
        _design(d, "HA").update(prompt=1, token=5)
        _extra_ledger_point("HA", 0, 6, 208.08, 26.0)(d)

    _refused(CODING, reported_1_5, "design HA: ledger point 0P+6T is better")


def test_ledger_points_are_compared_by_the_plan_objective() -> None:
    # objective power: a ledger point cheaper in USD but drawing more power is not better
    def power_objective(d: Doc) -> None:
        d["plan"]["objective"] = "power"
        _extra_ledger_point("HA", 4, 1, 170.0, 40.0)(d)

    _check(CODING, power_objective)

    def lower_power(d: Doc) -> None:
        d["plan"]["objective"] = "power"
        _extra_ledger_point("HA", 4, 1, 300.0, 30.0)(d)

    _refused(CODING, lower_power, "design HA: ledger point 4P+1T is better than the reported one")


def test_design_comparison_tolerances_are_exclusive() -> None:
    # a design sustaining exactly 1e-9 req/s more is a tie; one ulp more is refused
    tie = 37.0 + 1e-9
    _check(BUDGET, lambda d: _design(d, "baseline-h100").update(throughput_rps=tie))
    more = math.nextafter(tie, math.inf)
    _refused(
        BUDGET, lambda d: _design(d, "baseline-h100").update(throughput_rps=more),
        f"design baseline-h100 sustains more ({more}) than the chosen one",
    )  # fmt: skip
    # a design exactly 1e-9 USD/h cheaper is a tie
    _check(CODING, lambda d: _design(d, "HH").update(cost_usd_h=208.08 - 1e-9))
    _refused(CODING, lambda d: _design(d, "HH").update(cost_usd_h=208.08 - 2e-9), "design HH is cheaper")


def test_missing_throughput_counts_as_zero_under_a_budget() -> None:
    # chosen 0.5 req/s, the other design none (0): the choice stands
    def other_none(d: Doc) -> None:
        _design(d, "HHcap").update(throughput_rps=0.5)
        _design(d, "baseline-h100").update(throughput_rps=None)

    _check(BUDGET, other_none)

    # chosen none (0), the other 0.5 req/s: the other sustains more
    def chosen_none(d: Doc) -> None:
        _design(d, "HHcap").update(throughput_rps=None)
        _design(d, "baseline-h100").update(throughput_rps=0.5)

    _refused(BUDGET, chosen_none, "design baseline-h100 sustains more (0.5) than the chosen one")


def test_usd_per_mtok_needs_token_figures() -> None:
    # no workload figures: nothing to derive usd_per_mtok from, so it is not checked
    def no_workload(d: Doc) -> None:
        d["plan"]["workload"] = {}
        d["metrics"]["usd_per_mtok"] = 123.0

    _check(CODING, no_workload)

    # one token per request: 208.08 USD/h / (10 req/s * 1 token * 3600 s/h / 1e6) = 5780 USD per million tokens
    def one_token(d: Doc) -> None:
        d["plan"]["workload"].update(mean_prompt_tokens=0.5, mean_output_tokens=0.5)

    _refused(CODING, one_token, "usd_per_mtok 2.695462001 != 5780.0")
    _check(CODING, lambda d: (one_token(d), d["metrics"].update(usd_per_mtok=5780.0)))
