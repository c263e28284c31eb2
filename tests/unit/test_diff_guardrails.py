"""plan diff --fail-on: parsing (typos exit 2 with the accepted forms) and evaluation on the fixture plans."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.diff import GuardrailSyntaxError, diff_plans, exit_code, parse_guardrails
from planner.plan import Plan, read_plan

PLANS = Path(__file__).resolve().parents[1] / "fixtures" / "plans"


def pair(kind: str) -> tuple[Plan, Plan]:
    return read_plan(PLANS / f"{kind}_old.json"), read_plan(PLANS / f"{kind}_new.json")


def verdicts(kind: str, rules: str, old: Plan | None = None, new: Plan | None = None) -> dict[str, tuple[bool, bool]]:
    """rule -> (applicable, breached)."""
    o, n = pair(kind)
    d = diff_plans(old or o, new or n, parse_guardrails(rules))
    return {g.rule: (g.applicable, g.breached) for g in d.guardrails}


# ------------------------------------------------------------------------------------------------ parsing


def test_parse_the_issue_example() -> None:
    rules = parse_guardrails("throughput<-5%,cost>+3%,energy>+3%,slo")
    assert [(g.name, g.op, g.threshold, g.relative) for g in rules] == [
        ("throughput", "<", -5.0, True),
        ("cost", ">", 3.0, True),
        ("energy", ">", 3.0, True),
        ("slo", None, None, False),
    ]


def test_parse_absolute_spaces_metric_names_and_case() -> None:
    rules = parse_guardrails(
        " throughput_tok_s <= -10 , Cost>=2.5% , status, gap>0.01, splitwise.slo[ttft_p99].margin<-.1"
    )
    assert [(g.name, g.op, g.threshold, g.relative) for g in rules] == [
        ("throughput_tok_s", "<=", -10.0, False),
        ("cost", ">=", 2.5, True),
        ("status", None, None, False),
        ("gap", ">", 0.01, False),
        ("splitwise.slo[ttft_p99].margin", "<", -0.1, False),
    ]
    assert parse_guardrails(None) == [] and parse_guardrails("  ") == []


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("thruput<-5%", "unknown metric 'thruput' in 'thruput<-5%' (did you mean 'throughput'?)"),
        ("throughput_tok_z<-5%", "unknown metric 'throughput_tok_z'"),
        ("throughput", "a metric needs a comparison and a number"),
        ("slo<3", "'slo' takes no threshold"),
        ("cost>>3%", "cannot parse 'cost>>3%'"),
        ("cost>3%%", "cannot parse 'cost>3%%'"),
        ("cost=+3%", "cannot parse 'cost=+3%'"),
        ("throughput<-5%,,slo", "empty rule"),
    ],
)
def test_typos_are_usage_errors_with_the_accepted_forms(text: str, fragment: str) -> None:
    with pytest.raises(GuardrailSyntaxError) as exc:
        parse_guardrails(text)
    message = str(exc.value)
    assert exc.value.exit_code == 2
    assert message.startswith("--fail-on: ") and fragment in message
    assert "accepted forms: METRIC<-N% or METRIC>+N%" in message and "slo, status" in message


# ------------------------------------------------------------------------------------------------ evaluation


def test_relative_thresholds_on_each_kind() -> None:
    assert verdicts("helix", "throughput<-3%,throughput<-5%") == {
        "throughput<-3%": (True, True),
        "throughput<-5%": (True, False),
    }
    assert verdicts("splitwise", "cost>+3%,cost>+5%,power>+3%") == {
        "cost>+3%": (True, True),
        "cost>+5%": (True, False),
        "power>+3%": (True, True),
    }
    assert verdicts("dynamo", "energy>+3%,energy<-2%") == {"energy>+3%": (True, False), "energy<-2%": (True, True)}


def test_absolute_thresholds_are_in_the_metric_unit() -> None:
    # throughput 300 -> 290.7 tok/s: a drop of 9.3 tok/s
    assert verdicts("helix", "throughput_tok_s<-5,throughput_tok_s<-10") == {
        "throughput_tok_s<-5": (True, True),
        "throughput_tok_s<-10": (True, False),
    }


def test_rules_for_figures_a_kind_lacks_are_not_applicable() -> None:
    assert verdicts("helix", "energy>+3%,cost>+3%") == {"energy>+3%": (False, False), "cost>+3%": (False, False)}


def test_unknown_exact_metric_name_suggests_a_close_one() -> None:
    d = diff_plans(*pair("helix"), parse_guardrails("thruput_tok_s<-5%"))
    g = d.guardrails[0]
    assert (g.applicable, g.breached) == (False, False)
    assert g.detail == "neither helix plan has thruput_tok_s (did you mean 'throughput_tok_s'?)"


def test_bound_and_gap() -> None:
    # helix: solver bound 300 -> 305, gap 0 -> 0.0492
    assert verdicts("helix", "bound<-1%,gap>+0.01,gap>+0.1") == {
        "bound<-1%": (True, False),
        "gap>+0.01": (True, True),
        "gap>+0.1": (True, False),
    }


def test_status_rule() -> None:
    assert verdicts("helix", "status") == {"status": (True, True)}  # optimal -> time_limit
    assert verdicts("dynamo", "status") == {"status": (True, False)}


def test_slo_rule_negative_margin_or_infeasible() -> None:
    old, new = pair("splitwise")
    assert verdicts("splitwise", "slo") == {"slo": (True, False)}
    new.plan["slos"][0]["margin"] = -0.05
    d = diff_plans(old, new, parse_guardrails("slo"))
    assert d.guardrails[0].breached and "splitwise.slo[e2e_p50] margin -0.05" in d.guardrails[0].detail
    old, new = pair("dynamo")
    new.solver.status, new.solver.message = "infeasible", "slo_e2e[LL] limit 15 s, best achievable 18 s"
    new.metrics["energy_kwh"] = None
    d = diff_plans(old, new, parse_guardrails("slo,energy>+3%"))
    slo, energy = d.guardrails
    assert slo.breached and slo.detail.startswith("new plan is infeasible: slo_e2e[LL]")
    assert energy.breached and energy.detail == "energy_kwh has no value in the new plan"


def test_breach_beats_changed_in_the_exit_code() -> None:
    d = diff_plans(*pair("splitwise"), parse_guardrails("cost>+3%"))
    assert exit_code(d, detailed=False) == 3 and exit_code(d, detailed=True) == 3
    d = diff_plans(*pair("splitwise"), parse_guardrails("cost>+5%"))
    assert exit_code(d, detailed=False) == 0 and exit_code(d, detailed=True) == 2


def test_relative_rule_from_zero_is_an_infinite_change() -> None:
    old, new = pair("dynamo")
    old.metrics["peak_power_kw"], new.metrics["peak_power_kw"] = 0.0, 1.0
    d = diff_plans(old, new, parse_guardrails("peak_power_kw>+50%"))
    assert d.guardrails[0].breached and d.guardrails[0].measured is None
