"""``--fail-on`` at the edges of each rule (issue 17, mutation testing): thresholds met with equality, changes from
zero, missing values, and the exact words of each verdict. Deltas are built by hand so that every figure is known."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from planner.diff import GuardrailSyntaxError, parse_guardrails
from planner.diff import guardrails as guardrails_mod
from planner.diff.document import GuardrailResult, MetricDelta
from planner.diff.guardrails import Guardrail, evaluate_guardrail
from planner.plan import Plan, read_plan

PLANS = Path(__file__).resolve().parents[1] / "fixtures" / "plans"
OLD = read_plan(PLANS / "helix_old.json")  # status optimal
NEW = read_plan(PLANS / "helix_new.json")  # status time_limit


def _with_status(plan: Plan, status: str, message: str = "") -> Plan:
    return plan.model_copy(update={"solver": plan.solver.model_copy(update={"status": status, "message": message})})


def _delta(name: str = "throughput_tok_s", **kw: object) -> dict[str, MetricDelta]:
    return {name: MetricDelta(name=name, **kw)}  # type: ignore[arg-type]


def _one(rule: str, deltas: dict[str, MetricDelta], old: Plan = OLD, new: Plan = NEW) -> GuardrailResult:
    (g,) = parse_guardrails(rule)
    return evaluate_guardrail(g, old, new, deltas)


# ------------------------------------------------------------------------------------------------ parsing
def test_solver_figures_are_metric_names_and_nothing_else_under_solver() -> None:
    names = [g.name for g in parse_guardrails("solver.objective<-1,solver.best_bound>1%,solver.gap>0.1")]
    assert names == ["solver.objective", "solver.best_bound", "solver.gap"]
    for bad in ("solver.status<1", "solver.objectives<1", "abcdefggap<1"):
        with pytest.raises(GuardrailSyntaxError, match="unknown metric"):
            parse_guardrails(bad)


def test_parse_errors_carry_their_exact_hint() -> None:
    with pytest.raises(GuardrailSyntaxError) as exc:
        parse_guardrails("throughput_tok_s>>3")
    assert str(exc.value).startswith("--fail-on: cannot parse 'throughput_tok_s>>3'; accepted forms: ")
    with pytest.raises(GuardrailSyntaxError) as exc:
        parse_guardrails("throughput")
    assert str(exc.value).startswith(
        "--fail-on: cannot parse 'throughput' (a metric needs a comparison and a number, e.g. throughput<-5%); "
        "accepted forms: "
    )
    with pytest.raises(GuardrailSyntaxError) as exc:
        parse_guardrails("SLO<3")  # a keyword in capitals is still a keyword
    assert str(exc.value).startswith("--fail-on: cannot parse 'SLO<3' ('SLO' takes no threshold); ")
    with pytest.raises(GuardrailSyntaxError) as exc:
        parse_guardrails("<5")  # no name at all
    assert str(exc.value).startswith("--fail-on: cannot parse '<5'; accepted forms: ")


# ---------------------------------------------------------------------------------------------------- slo
def test_slo_margin_of_zero_is_met(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(guardrails_mod, "slo_margins", lambda plan: {"a": 0.0, "b": 0.5})
    res = _one("slo", {})
    assert (res.breached, res.detail) == (False, "every SLO met")


def test_slo_lists_the_failed_plan_first_then_the_missed_margins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(guardrails_mod, "slo_margins", lambda plan: {"a": -1.5, "b": 0.0, "c": -0.25})
    res = _one("slo", {}, new=_with_status(NEW, "infeasible", "memory short"))
    assert res.breached
    assert res.detail == "new plan is infeasible: memory short; a margin -1.5; c margin -0.25"
    monkeypatch.setattr(guardrails_mod, "slo_margins", lambda plan: {})
    res = _one("slo", {}, new=_with_status(NEW, "error"))
    assert (res.breached, res.detail) == (True, "new plan is error")


# ------------------------------------------------------------------------------------------------- status
def test_status_words() -> None:
    same = _one("status", {}, old=OLD, new=OLD)
    assert (same.breached, same.detail) == (False, "status optimal (unchanged)")
    worse = _one("status", {})
    assert worse == GuardrailResult(rule="status", breached=True, detail="status optimal -> time_limit")
    better = _one("status", {}, old=NEW, new=OLD)
    assert (better.breached, better.detail) == (False, "status time_limit -> optimal")


# ------------------------------------------------------------------------------------------ missing values
def test_a_metric_neither_plan_has() -> None:
    assert _one("carbon>+1%", {}) == GuardrailResult(
        rule="carbon>+1%", applicable=False, detail="neither helix plan has carbon"
    )
    res = _one("energy_kwh>1", _delta("energy_wh"))  # not an alias: the closest name of the diff is suggested
    assert res.detail == "neither helix plan has energy_kwh (did you mean 'energy_wh'?)"


def test_a_metric_missing_on_one_side() -> None:
    assert _one("throughput<-5%", _delta(after=3.0)) == GuardrailResult(
        rule="throughput<-5%",
        metric="throughput_tok_s",
        applicable=False,
        detail="throughput_tok_s not in the old plan",
    )
    assert _one("throughput<-5%", _delta(before=3.0)) == GuardrailResult(
        rule="throughput<-5%",
        metric="throughput_tok_s",
        breached=True,
        detail="throughput_tok_s has no value in the new plan",
    )


# -------------------------------------------------------------------------------------------- thresholds
@pytest.mark.parametrize(
    ("rule", "breached"), [("x<-5", False), ("x<=-5", True), ("x>-5", False), ("x>=-5", True), ("x<-4.9", True)]
)
def test_a_change_equal_to_the_threshold(rule: str, breached: bool) -> None:
    deltas = _delta(before=100.0, after=95.0, delta=-5.0, delta_pct=-5.0, unit="tok/s")
    res = _one(rule.replace("x", "throughput_tok_s"), deltas)
    assert res.breached is breached
    assert res.measured == -5.0 and res.metric == "throughput_tok_s"
    assert res.detail == "throughput_tok_s -5.0% (100 -> 95 tok/s)"


def test_a_rule_without_an_operator_means_above() -> None:
    g = Guardrail(rule="raw", name="throughput_tok_s", threshold=1.0)  # built in code, not parsed
    assert evaluate_guardrail(g, OLD, NEW, _delta(before=1.0, after=3.0, delta=2.0)).breached
    assert not evaluate_guardrail(g, OLD, NEW, _delta(before=1.0, after=2.0, delta=1.0)).breached


def test_relative_change_from_zero_is_infinite_in_its_direction() -> None:
    up = _one("cost_usd_h>+5%", _delta("cost_usd_h", before=0.0, after=2.0, delta=2.0, unit="USD/h"))
    assert up.breached and up.measured is None  # +inf is not a number a table can show
    assert up.detail == "cost_usd_h +2 USD/h (0 -> 2 USD/h)"
    down = _one("cost_usd_h<-5%", _delta("cost_usd_h", before=0.0, after=-2.0, delta=-2.0))
    assert down.breached and down.detail == "cost_usd_h -2 (0 -> -2)"
    flat = _one("cost_usd_h>+0.5%", _delta("cost_usd_h", before=0.0, after=0.0, delta=0.0))
    assert not flat.breached and flat.measured == 0.0


def test_absolute_change_without_a_delta_counts_as_none() -> None:
    res = _one("throughput_tok_s>0.5", _delta(before=1.0, after=1.0, delta_pct=0.0))
    assert not res.breached and res.measured == 0.0
    assert math.isfinite(res.measured or 0.0)
