"""``--fail-on`` rules: parse ``"throughput<-5%,cost>+3%,slo"`` and judge each on the change from old to new."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict

from planner.diff.document import GuardrailResult, MetricDelta
from planner.diff.metrics import slo_margins
from planner.diff.units import is_num, short
from planner.errors import UsageError, did_you_mean
from planner.plan import METRIC_NAMES, METRIC_SUFFIXES, Plan
from planner.solver import Status


class GuardrailSyntaxError(UsageError):
    """A ``--fail-on`` rule cannot be parsed; the message lists the accepted forms. Exit 2 (usage error)."""


#: Names accepted in ``--fail-on`` for the usual figures, each tried in order against the plans' metrics.
METRIC_ALIASES: dict[str, tuple[str, ...]] = {
    "served": ("predicted_decode_tok_s",),
    "throughput": ("throughput_tok_s", "throughput_rps"),
    "cost": ("cost_usd_h", "cost_usd"),
    "power": ("power_kw", "avg_power_kw", "average_power_kw", "peak_power_kw"),
    "energy": ("energy_kwh", "energy_wh"),
    "usd_per_mtok": ("usd_per_mtok", "cost_usd_per_mtok"),
    "carbon": ("carbon_kgco2", "carbon_gco2"),
    "bound": ("solver.best_bound",),
    "objective": ("solver.objective",),
    "gap": ("solver.gap", "gap"),
}
#: Rules without a threshold.
KEYWORD_RULES: dict[str, str] = {
    "slo": "the new plan misses an SLO (a negative margin) or is infeasible",
    "status": "the solver outcome got worse (optimal > feasible > time_limit > infeasible/error)",
}

ACCEPTED_FORMS = (
    "accepted forms: METRIC<-N% or METRIC>+N% (relative change), METRIC<-N or METRIC>+N (absolute change in the "
    "metric's unit; also <= and >=), slo, status; METRIC is one of "
    + ", ".join(METRIC_ALIASES)
    + " or a metric name such as throughput_tok_s; rules are comma-separated, e.g. "
    '"throughput<-5%,cost>+3%,energy>+3%,slo"'
)

_RULE = re.compile(
    r"^(?P<name>[A-Za-z_][\w.\[\]:-]*?)\s*(?P<op><=|>=|<|>)\s*(?P<num>[+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*(?P<pct>%?)$"
)


GuardrailOp = Literal["<", ">", "<=", ">="]
#: The comparison operators a rule may use (the rule pattern accepts exactly these).
_OPS: dict[str, GuardrailOp] = {"<": "<", ">": ">", "<=": "<=", ">=": ">="}


class Guardrail(BaseModel):
    """A parsed ``--fail-on`` rule: ``name op threshold[%]`` on the change from old to new, or a keyword."""

    model_config = ConfigDict(extra="forbid")

    rule: str
    name: str
    op: GuardrailOp | None = None
    threshold: float | None = None
    relative: bool = False


def parse_guardrails(text: str | None) -> list[Guardrail]:
    """Parse ``"throughput<-5%,cost>+3%,slo"``; a typo raises :class:`GuardrailSyntaxError` (exit 2)."""
    if not text or not text.strip():
        return []
    rules: list[Guardrail] = []
    for raw in text.split(","):
        rule = raw.strip()
        if not rule:
            raise GuardrailSyntaxError(f"--fail-on: empty rule in {text!r}; {ACCEPTED_FORMS}")
        if rule.lower() in KEYWORD_RULES:
            rules.append(Guardrail(rule=rule, name=rule.lower()))
            continue
        m = _RULE.match(rule)
        word = re.match(r"^[A-Za-z_][\w.]*", rule)
        if m is None or (word and word.group(0).lower() in KEYWORD_RULES):
            hint = ""
            if word and word.group(0).lower() in KEYWORD_RULES:
                hint = f" ('{word.group(0)}' takes no threshold)"
            elif word and word.group(0).lower() in METRIC_ALIASES:
                hint = " (a metric needs a comparison and a number, e.g. throughput<-5%)"
            raise GuardrailSyntaxError(f"--fail-on: cannot parse {rule!r}{hint}; {ACCEPTED_FORMS}")
        name = m.group("name")
        if name.lower() in METRIC_ALIASES:
            name = name.lower()
        if name not in METRIC_ALIASES and not _is_metric_name(name):
            known = list(METRIC_ALIASES) + list(KEYWORD_RULES)
            raise GuardrailSyntaxError(
                f"--fail-on: unknown metric {name!r} in {rule!r}{did_you_mean(name, known)}; {ACCEPTED_FORMS}"
            )
        rules.append(
            Guardrail(
                rule=rule,
                name=name,
                op=_OPS[m.group("op")],
                threshold=float(m.group("num")),
                relative=m.group("pct") == "%",
            )
        )
    return rules


def _is_metric_name(name: str) -> bool:
    if name.startswith("solver.") and name[7:] in ("objective", "best_bound", "gap"):
        return True
    if name.endswith(".margin"):
        return True
    return name in METRIC_NAMES or (name.endswith(METRIC_SUFFIXES) and re.fullmatch(r"[a-z0-9_]+", name) is not None)


def resolve_metric(name: str, deltas: Mapping[str, MetricDelta]) -> str | None:
    """The metric a guardrail or headline name stands for in these plans, or None if neither plan has it."""
    for candidate in METRIC_ALIASES.get(name, (name,)):
        if candidate in deltas:
            return candidate
    return None


def evaluate_guardrail(g: Guardrail, old: Plan, new: Plan, deltas: Mapping[str, MetricDelta]) -> GuardrailResult:
    """Is the rule breached by going from ``old`` to ``new``? Thresholds apply to the change, never the level."""
    if g.name == "slo":
        misses = [f"{a} margin {m:g}" for a, m in slo_margins(new).items() if is_num(m) and m < 0]
        if new.solver.status in ("infeasible", "error"):
            why = f": {new.solver.message}" if new.solver.message else ""
            misses.insert(0, f"new plan is {new.solver.status}{why}")
        return GuardrailResult(
            rule=g.rule, breached=bool(misses), detail="; ".join(misses) if misses else "every SLO met"
        )
    if g.name == "status":
        a, b = old.solver.status, new.solver.status
        worse = Status(b).tier > Status(a).tier  # planner.solver.Status: a move to a less usable tier
        detail = f"status {a} -> {b}" if a != b else f"status {a} (unchanged)"
        return GuardrailResult(rule=g.rule, breached=worse, detail=detail)
    metric = resolve_metric(g.name, deltas)
    if metric is None:
        hint = "" if g.name in METRIC_ALIASES else did_you_mean(g.name, list(deltas))
        return GuardrailResult(rule=g.rule, applicable=False, detail=f"neither {old.kind} plan has {g.name}{hint}")
    d = deltas[metric]
    if d.before is None:
        return GuardrailResult(rule=g.rule, metric=metric, applicable=False, detail=f"{metric} not in the old plan")
    if d.after is None:
        return GuardrailResult(
            rule=g.rule, metric=metric, breached=True, detail=f"{metric} has no value in the new plan"
        )
    if g.relative:
        measured = d.delta_pct
        if measured is None:  # from zero: an infinite relative change in the direction of the move
            measured = math.copysign(math.inf, d.delta or 0.0) if d.delta else 0.0
    else:
        measured = d.delta if d.delta is not None else 0.0
    assert g.threshold is not None
    breached = {
        "<": measured < g.threshold,
        ">": measured > g.threshold,
        "<=": measured <= g.threshold,
        ">=": measured >= g.threshold,
    }[g.op or ">"]
    shown = _fmt_change(d)
    return GuardrailResult(
        rule=g.rule,
        metric=metric,
        breached=breached,
        measured=measured if math.isfinite(measured) else None,
        detail=f"{metric} {shown}",
    )


def _fmt_change(d: MetricDelta) -> str:
    """``-3.1% (300 -> 290.7 tok/s)``; the absolute change when a percentage is undefined (from zero)."""
    unit = f" {d.unit}" if d.unit else ""
    change = f"{d.delta_pct:+.1f}%" if d.delta_pct is not None else f"{d.delta:+.4g}{unit}"
    return f"{change} ({short(d.before)} -> {short(d.after)}{unit})"
