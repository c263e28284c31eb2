"""The ``plan diff`` document: what changed, addressed and explained, as versioned pydantic models.

:func:`planner.diff.diff_plans` fills a :class:`PlanDiff`; :mod:`planner.render.diff` draws it and
``plan diff --format json`` writes it. A minor :data:`DIFF_FORMAT_VERSION` bump only adds fields.
"""

from __future__ import annotations

import enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

#: Semantic version of the ``plan diff --format json`` document (minor bumps only add fields).
DIFF_FORMAT_VERSION = "1.1.0"

#: Default relative tolerance under which two numbers are the same (plans keep 10 significant digits).
DEFAULT_REL_TOL = 1e-9


class Action(enum.StrEnum):
    """Terraform's change symbols."""

    add = "+"
    remove = "-"
    change = "~"


class Reason(enum.StrEnum):
    """Why a value changed, in words (linopy's ``RebuildReason`` idea): lets a reviewer skim a long diff."""

    added = "added"
    removed = "removed"
    layer_move = "layer range moved"
    resized = "count changed"
    hardware = "hardware changed"
    parallelism = "tensor parallelism changed"
    frequency = "GPU frequency changed"
    throughput = "throughput changed"
    flow = "flow changed"
    link = "link changed"
    routing = "routing changed"
    load = "load changed"
    energy = "energy changed"
    slo = "SLO figure changed"
    design = "design changed"
    status = "solver outcome changed"
    value = "value changed"


class Section(enum.StrEnum):
    """Where in the plan document a change is. ``inputs`` and ``document`` are context and never count."""

    plan = "plan"
    solver = "solver"
    assumptions = "assumptions"
    warnings = "warnings"
    inputs = "inputs"
    document = "document"


COUNTED_SECTIONS: frozenset[Section] = frozenset({Section.plan, Section.solver, Section.assumptions, Section.warnings})


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Change(_Doc):
    """One added, removed or changed value, addressed like ``helix.node[a100-0].layers``."""

    address: str
    action: Action
    reason: Reason
    section: Section
    before: Any = None
    after: Any = None
    delta: float | None = Field(default=None, description="after - before, for numbers, in `unit`")
    delta_pct: float | None = Field(default=None, description="delta relative to |before|, in percent")
    unit: str = Field(default="", description="unit read from the field's name suffix, e.g. tok/s")
    counted: bool = Field(default=True, description="false for context (inputs, format_version)")


class MetricDelta(_Doc):
    """A figure before and after, with its absolute and relative change in the figure's own unit."""

    name: str
    unit: str = ""
    before: float | None = None
    after: float | None = None
    delta: float | None = None
    delta_pct: float | None = None
    changed: bool = False
    direction: Literal["higher_is_better", "lower_is_better", ""] = ""
    verdict: Literal["better", "worse", "same", ""] = ""
    band: float | None = Field(
        default=None, description="the wider error band of the figure in either plan (its `_err_ratio`), a ratio"
    )
    within_band: bool | None = Field(
        default=None, description="the relative change is inside the band (noise); null without a band or a change %"
    )


class ElementCounts(_Doc):
    added: int = 0
    removed: int = 0
    changed: int = 0

    def total(self) -> int:
        return self.added + self.removed + self.changed


class GuardrailResult(_Doc):
    """One ``--fail-on`` rule evaluated on the diff."""

    rule: str
    metric: str | None = Field(default=None, description="the metric the rule resolved to")
    applicable: bool = True
    breached: bool = False
    measured: float | None = Field(default=None, description="the change compared with the threshold")
    detail: str = ""


class PlanRef(_Doc):
    """Which plan a side of the diff is."""

    label: str
    kind: str
    name: str
    format_version: str
    status: str
    spec: str = ""
    spec_sha256: str = ""


class PlanDiff(_Doc):
    """The versioned result of ``plan diff`` (``--format json``)."""

    diff_format_version: str = DIFF_FORMAT_VERSION
    kind: str
    old: PlanRef
    new: PlanRef
    changed: bool = Field(description="true when a counted change or a metric change exists")
    summary: str
    counts: dict[str, ElementCounts] = Field(default_factory=dict, description="per collection label")
    layer_moves: int = Field(default=0, description="helix nodes whose layer range moved")
    changes: list[Change] = Field(default_factory=list)
    metrics: list[MetricDelta] = Field(default_factory=list)
    guardrails: list[GuardrailResult] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    @property
    def breached(self) -> list[GuardrailResult]:
        return [g for g in self.guardrails if g.breached]

    @property
    def counted_changes(self) -> list[Change]:
        return [c for c in self.changes if c.counted]
