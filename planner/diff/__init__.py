"""Plan x Plan -> what changed, by how much, and whether a guardrail is breached (``plan diff``).

Why a domain package: CI compares two deployment plans (a baseline and a proposed change) and must say, in terms an
operator recognises, what the deployment would become: ``helix.node[a100-0].layers``, ``splitwise.pool[prompt].count``,
``dynamo.epoch[08:00].pool[LL].freq_mhz``. It reads two :class:`planner.plan.Plan` documents (never solver objects)
and returns a versioned :class:`PlanDiff`; renderers live in :mod:`planner.render.diff`.

What counts as a change follows Terraform's plan semantics (``terraform plan -detailed-exitcode``):

* ``+`` add / ``-`` remove an element of a keyed collection (node, edge, pool, epoch, ...), ``~`` change a value;
* the plan block, the solver outcome, metrics, assumptions and warnings count;
* ``inputs`` (spec and profile digests, options) and a minor ``format_version`` bump are listed as context only:
  they explain a change but never make a diff "changed" on their own;
* the volatile ``run`` block (wall time, host, versions) is never read.

Numbers are compared with a relative tolerance (default 1e-9; plans round floats to 10 significant digits), so two
byte-identical plans and two plans from different machines that differ in the last digit both give "no change".

The package, one concern a module: :mod:`~planner.diff.document` (the result's models), :mod:`~planner.diff.layouts`
(per-solver collections, read from the plan-block contracts), :mod:`~planner.diff.walk` (the document walk),
:mod:`~planner.diff.metrics`, :mod:`~planner.diff.guardrails` (``--fail-on``), :mod:`~planner.diff.summary`,
:mod:`~planner.diff.reading` (which plans can be compared), :mod:`~planner.diff.compare` (the whole diff and its
exit code) and :mod:`~planner.diff.baseref` (``--base-ref``: the spec at a git ref, planned again).
"""

from __future__ import annotations

from planner.diff.compare import diff_plans, exit_code
from planner.diff.document import (
    COUNTED_SECTIONS,
    DEFAULT_REL_TOL,
    DIFF_FORMAT_VERSION,
    Action,
    Change,
    ElementCounts,
    GuardrailResult,
    MetricDelta,
    PlanDiff,
    PlanRef,
    Reason,
    Section,
)
from planner.diff.guardrails import (
    ACCEPTED_FORMS,
    KEYWORD_RULES,
    METRIC_ALIASES,
    Guardrail,
    GuardrailSyntaxError,
    evaluate_guardrail,
    parse_guardrails,
    resolve_metric,
)
from planner.diff.layouts import GENERIC_KEYS, Collection, layouts_of, normalise_block, summary_order
from planner.diff.metrics import metric_deltas, slo_margins
from planner.diff.reading import PlanReadError, PlansNotComparable, check_comparable, load_plan_for_diff
from planner.diff.summary import HEADLINE
from planner.diff.units import direction_of, unit_of
from planner.diff.walk import keyed_items, natural_key, numeric_delta, records, same_value, singular

__all__ = [
    "ACCEPTED_FORMS",
    "COUNTED_SECTIONS",
    "DEFAULT_REL_TOL",
    "DIFF_FORMAT_VERSION",
    "GENERIC_KEYS",
    "HEADLINE",
    "KEYWORD_RULES",
    "METRIC_ALIASES",
    "Action",
    "Change",
    "Collection",
    "ElementCounts",
    "Guardrail",
    "GuardrailResult",
    "GuardrailSyntaxError",
    "MetricDelta",
    "PlanDiff",
    "PlanReadError",
    "PlanRef",
    "PlansNotComparable",
    "Reason",
    "Section",
    "check_comparable",
    "diff_plans",
    "direction_of",
    "evaluate_guardrail",
    "exit_code",
    "keyed_items",
    "layouts_of",
    "load_plan_for_diff",
    "metric_deltas",
    "natural_key",
    "normalise_block",
    "numeric_delta",
    "parse_guardrails",
    "records",
    "resolve_metric",
    "same_value",
    "singular",
    "slo_margins",
    "summary_order",
    "unit_of",
]
