"""Plan x Plan -> what changed, by how much, and whether a guardrail is breached (``plan diff``).

Why a domain module: CI compares two deployment plans (a baseline and a proposed change) and must say, in terms an
operator recognises, what the deployment would become: ``helix.node[a100-0].layers``, ``splitwise.pool[prompt].count``,
``dynamo.epoch[08:00].pool[LL].freq_mhz``. This module reads two :class:`planner.plan.Plan` documents (never solver
objects) and returns a versioned :class:`PlanDiff`; renderers live in :mod:`planner.render.diff`.

What counts as a change follows Terraform's plan semantics (``terraform plan -detailed-exitcode``):

* ``+`` add / ``-`` remove an element of a keyed collection (node, edge, pool, epoch, ...), ``~`` change a value;
* the plan block, the solver outcome, metrics, assumptions and warnings count;
* ``inputs`` (spec and profile digests, options) and a minor ``format_version`` bump are listed as context only:
  they explain a change but never make a diff "changed" on their own;
* the volatile ``run`` block (wall time, host, versions) is never read.

Numbers are compared with a relative tolerance (default 1e-9; plans round floats to 10 significant digits), so two
byte-identical plans and two plans from different machines that differ in the last digit both give "no change".
"""

from __future__ import annotations

import enum
import functools
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeGuard

from pydantic import BaseModel, ConfigDict, Field

from planner import FORMAT_VERSION
from planner.errors import PlannerError, SpecError, UsageError, did_you_mean
from planner.inputfiles import load_json_file
from planner.paths import display_path
from planner.plan import FLOAT_DIGITS, METRIC_NAMES, METRIC_SUFFIXES, Plan, read_plan
from planner.profiles.accuracy import err_ratio_of
from planner.solver import Status

#: Semantic version of the ``plan diff --format json`` document (minor bumps only add fields).
DIFF_FORMAT_VERSION = "1.0.0"

#: Default relative tolerance under which two numbers are the same (plans keep 10 significant digits).
DEFAULT_REL_TOL = 1e-9


# --------------------------------------------------------------------------------------------------- errors


class PlansNotComparable(PlannerError):
    """The two plans cannot be diffed: different kinds or an unsupported major ``format_version``. Exit 1."""

    exit_code = 1


class PlanReadError(PlannerError):
    """A plan file is missing or malformed. Exit 1 (not 2: under ``--detailed-exitcode`` 2 means "changed")."""

    exit_code = 1

    def __init__(self, lines: list[str]) -> None:
        self._lines = lines
        super().__init__("; ".join(lines))

    def lines(self) -> list[str]:
        return list(self._lines)


class GuardrailSyntaxError(UsageError):
    """A ``--fail-on`` rule cannot be parsed; the message lists the accepted forms. Exit 2 (usage error)."""


# --------------------------------------------------------------------------------------------------- the document


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


# --------------------------------------------------------------------------------------------------- units


#: Display units for name suffixes (plan metrics and plan-block fields); longest suffix wins.
_UNIT_BY_SUFFIX: dict[str, str] = {
    "_tok_s": "tok/s", "_rps": "req/s", "_ms": "ms", "_s": "s", "_usd_h": "USD/h", "_usd": "USD",
    "_usd_per_mtok": "USD/Mtok", "_kw": "kW", "_w": "W", "_wh": "Wh", "_kwh": "kWh", "_gpus": "GPUs",
    "_gpu_h": "GPU-h", "_nodes": "nodes", "_machines": "machines", "_instances": "instances", "_count": "",
    "_hops": "hops", "_ratio": "", "_pct": "%", "_kgco2": "kgCO2", "_gco2": "gCO2", "_requests": "requests",
    "_layers": "layers", "_mhz": "MHz", "_bytes_s": "B/s", "_bytes": "B", "_gb": "GB", "_gib": "GiB",
    "_gbps": "Gbit/s",
}  # fmt: skip


_SUFFIXES_LONGEST_FIRST = tuple(sorted(set(_UNIT_BY_SUFFIX) | set(METRIC_SUFFIXES), key=len, reverse=True))


def unit_of(name: str) -> str:
    """The display unit encoded in a field or metric name (``throughput_tok_s`` -> ``tok/s``); '' if none."""
    leaf = name.rsplit(".", 1)[-1]
    if leaf.endswith("]"):
        return ""
    for suffix in _SUFFIXES_LONGEST_FIRST:
        if leaf.endswith(suffix) or (leaf == suffix[1:] and "_" in leaf):  # a bare unit name: usd_per_mtok
            return _UNIT_BY_SUFFIX.get(suffix, suffix.lstrip("_"))
    return ""


_HIGHER_BETTER = re.compile(r"(^|_)(throughput|goodput)|flow_vs_bound|slo\[.*\]\.margin$")
_LOWER_BETTER = re.compile(r"(cost|usd|power|energy|carbon|co2|gpu_h)|(^|\.)gap$")


def direction_of(name: str) -> Literal["higher_is_better", "lower_is_better", ""]:
    """Which way is better for a figure; '' when it is neutral (bounds, baselines, loads)."""
    if name.startswith("baseline_"):
        return ""
    if _HIGHER_BETTER.search(name):
        return "higher_is_better"
    if _LOWER_BETTER.search(name):
        return "lower_is_better"
    return ""


# --------------------------------------------------------------------------------------------------- layouts


@dataclass(frozen=True)
class Collection:
    """How a list of elements in a plan block is keyed and addressed.

    ``keys`` are format strings tried in order; the first whose value is present and unique in both plans wins
    (e.g. ``{role}`` then ``{role}:{machine}`` for Splitwise pools). ``reasons`` maps a field to the
    :class:`Reason` of a change to it.
    """

    label: str
    keys: tuple[str, ...]
    reasons: Mapping[str, Reason] = field(default_factory=dict)
    children: Mapping[str, Collection] = field(default_factory=dict)
    plural: str = ""

    @property
    def plural_label(self) -> str:
        return self.plural or f"{self.label}s"


#: Keys tried for collections no layout names (e.g. fields added by a newer minor format version).
GENERIC_KEYS: tuple[str, ...] = (
    "{name}", "{id}", "{key}", "{role}", "{class}", "{start}", "{design}", "{subject}", "{src}->{dst}", "{from}->{to}",
)  # fmt: skip

_POOL_SPLITWISE = Collection(
    "pool",
    ("{role}", "{role}:{machine}"),
    {"count": Reason.resized, "machine": Reason.hardware},
)
_POOL_DYNAMO = Collection(
    "pool",
    ("{class}",),
    {
        "instances": Reason.resized,
        "tp": Reason.parallelism,
        "freq_mhz": Reason.frequency,
        "load_rps": Reason.load,
        "energy_wh": Reason.energy,
    },
)

#: Per plan kind: list fields of the plan block -> collection layout (None: not diffed). Contracts: README/notes.
LAYOUTS: dict[str, dict[str, Collection | None]] = {
    "helix": {
        "nodes": Collection(
            "node",
            ("{name}",),
            {
                "layer_start": Reason.layer_move,
                "layer_end": Reason.layer_move,
                "layers": Reason.layer_move,
                "tp_tok_s": Reason.throughput,
                "inflow_tok_s": Reason.flow,
                "gpu": Reason.hardware,
                "profile_gpu": Reason.hardware,
                "gpus_per_node": Reason.hardware,
            },
        ),
        "edges": Collection(
            "edge",
            ("{src}->{dst}",),
            {
                "flow_tok_s": Reason.flow,
                "capacity_tok_s": Reason.link,
                "bandwidth_bytes_s": Reason.link,
                "latency_s": Reason.link,
            },
        ),
        "routes": Collection("route", ("{from}->{to}",), {"weight": Reason.routing}),
        "baselines": Collection("baseline", ("{name}",), {"throughput_tok_s": Reason.throughput}),
    },
    "splitwise": {
        "pools": _POOL_SPLITWISE,
        "designs": Collection("design", ("{design}", "{name}", "{design}:{objective}")),
        "slos": Collection(
            "slo", ("{name}",), {"value": Reason.slo, "margin": Reason.slo, "limit": Reason.slo}, {}, "SLOs"
        ),
        # Every evaluated grid point with why it failed: an audit trail of the search, not the deployment.
        "ledger": None,
    },
    "dynamo": {
        "epochs": Collection("epoch", ("{start}",), {}, {"pools": _POOL_DYNAMO}),
    },
}

#: Collections named in the one-line summary, in order. Others (routes follow the edge flows, compared designs and
#: SLO figures are in the metric deltas) are listed in the table only, so the line stays one line.
SUMMARY_ORDER: dict[str, tuple[str, ...]] = {
    "helix": ("node", "edge"),
    "splitwise": ("pool",),
    "dynamo": ("epoch", "pool"),
}

#: Top-level scalar fields whose reason is not ``value``.
SCALAR_REASONS: dict[str, dict[str, Reason]] = {"splitwise": {"design": Reason.design}}

_ASSUMPTIONS = Collection("assumption", ("{subject}", "{subject}:{basis}"))
_PROFILES = Collection("profile", ("{path}",))


def normalise_block(kind: str, block: Mapping[str, Any]) -> dict[str, Any]:
    """Reshape a plan block so that every collection is a keyed list.

    Helix's ``routing`` is ``{from: [{to, weight}]}``; it becomes ``routes: [{from, to, weight}]`` so a change is
    addressed ``helix.route[source->a100-0].weight`` like an edge.
    """
    out = dict(block)
    if kind == "helix" and isinstance(out.get("routing"), Mapping):
        routes = []
        for src, targets in out.pop("routing").items():
            for t in targets if isinstance(targets, list) else []:
                if isinstance(t, Mapping):
                    routes.append({"from": src, **t})
        out["routes"] = routes
    return out


# --------------------------------------------------------------------------------------------------- comparison


_MISSING: Any = object()


def _is_num(v: object) -> TypeGuard[int | float]:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def same_value(a: Any, b: Any, rel_tol: float = DEFAULT_REL_TOL) -> bool:
    """Equality with a relative tolerance for numbers (ints and floats compare by value), exact otherwise."""
    if _is_num(a) and _is_num(b):
        if a == b:
            return True
        if not (math.isfinite(a) and math.isfinite(b)):
            return False
        return abs(a - b) <= rel_tol * max(abs(a), abs(b))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(same_value(a[k], b[k], rel_tol) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_value(x, y, rel_tol) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def numeric_delta(before: Any, after: Any) -> tuple[float | None, float | None]:
    """(after - before, percent change relative to |before|); None where undefined.

    Both are rounded to the plan's precision (:data:`planner.plan.FLOAT_DIGITS`) so that 290.7 - 300 reads -9.3.
    """
    if not (_is_num(before) and _is_num(after)):
        return None, None
    delta = _round(float(after) - float(before))
    if before == 0:
        return delta, (0.0 if delta == 0 else None)
    return delta, _round(delta / abs(float(before)) * 100.0)


def _round(x: float) -> float:
    return float(f"{x:.{FLOAT_DIGITS}g}") if math.isfinite(x) else x


def singular(name: str) -> str:
    """Address label of a list field: ``pools`` -> ``pool`` (a field not ending in s is kept)."""
    return name[:-1] if name.endswith("s") and len(name) > 1 else name


@functools.lru_cache(maxsize=1 << 16)
def natural_key(text: str) -> tuple[Any, ...]:
    """Sort ``a100-2`` before ``a100-10``: digits compare as numbers."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", text) if p)


def _choose_keys(items_old: list[Any], items_new: list[Any], candidates: Iterable[str]) -> str | None:
    """The first key format that names every element of both lists uniquely; None when none does."""
    for fmt in candidates:
        try:
            unique = all(
                len({fmt.format_map(_Strict(it)) for it in items}) == len(items) for items in (items_old, items_new)
            )
        except (KeyError, TypeError, ValueError):
            continue
        if unique:
            return fmt
    return None


def keyed_items(items: list[Any], fmt: str | None) -> dict[str, Any]:
    """Elements by key (``fmt`` from :func:`_choose_keys`), or by position when no key format fits."""
    if fmt is None:
        return {str(i): it for i, it in enumerate(items)}
    return {fmt.format_map(_Strict(it)): it for it in items}


class _Strict(dict[str, Any]):
    """``format_map`` helper: a missing or null field fails the key candidate instead of printing 'None'."""

    def __init__(self, item: Any) -> None:
        if not isinstance(item, Mapping):
            raise TypeError("not a mapping")
        super().__init__(item)

    def __getitem__(self, key: str) -> Any:
        value = super().__getitem__(key)
        if value is None or isinstance(value, (Mapping, list)):
            raise KeyError(key)
        return value


@dataclass
class _Walker:
    """Walks two plan documents side by side and records changes and per-element counts."""

    rel_tol: float
    changes: list[Change] = field(default_factory=list)
    stack: list[tuple[str, str]] = field(default_factory=list)
    added: dict[str, set[str]] = field(default_factory=dict)
    removed: dict[str, set[str]] = field(default_factory=dict)
    touched: dict[str, set[str]] = field(default_factory=dict)
    moved: set[str] = field(default_factory=set)

    def emit(self, section: Section, address: str, before: Any, after: Any, reason: Reason | None = None) -> None:
        if before is _MISSING:
            action, why = Action.add, Reason.added
            before = None
        elif after is _MISSING:
            action, why = Action.remove, Reason.removed
            after = None
        else:
            action, why = Action.change, reason or Reason.value
        delta, pct = numeric_delta(before, after) if action is Action.change else (None, None)
        counted = section in COUNTED_SECTIONS
        self.changes.append(
            Change(
                address=address,
                action=action,
                reason=why,
                section=section,
                before=before,
                after=after,
                delta=delta,
                delta_pct=pct,
                unit=unit_of(address),
                counted=counted,
            )
        )
        if counted:
            for label, element in self.stack:
                self.touched.setdefault(label, set()).add(element)
            if why is Reason.layer_move and self.stack:
                self.moved.add(self.stack[-1][1])

    def value(self, section: Section, address: str, old: Any, new: Any, reasons: Mapping[str, Reason]) -> None:
        """Diff any JSON value: mappings field by field, keyed lists by element, everything else as a whole."""
        if old is _MISSING or new is _MISSING:
            self.emit(section, address, old, new)
            return
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            self.mapping(section, address, old, new, {}, reasons)
            return
        if _is_record_list(old) and _is_record_list(new) and (old or new):
            parent, _, leaf = address.rpartition(".")
            self.collection(section, parent, old, new, Collection(singular(leaf), GENERIC_KEYS))
            return
        if not same_value(old, new, self.rel_tol):
            leaf = re.sub(r"\[.*?\]", "", address.rsplit(".", 1)[-1])
            self.emit(section, address, old, new, reasons.get(leaf))

    def mapping(
        self,
        section: Section,
        prefix: str,
        old: Mapping[str, Any],
        new: Mapping[str, Any],
        collections: Mapping[str, Collection | None],
        reasons: Mapping[str, Reason],
    ) -> None:
        order = list(collections)

        def position(key: str) -> tuple[Any, ...]:  # scalars first, then collections in layout order
            return (order.index(key) + 1 if key in collections else 0, natural_key(key))

        for key in sorted(set(old) | set(new), key=position):
            layout = collections.get(key, _MISSING)
            if layout is None:
                continue  # deliberately not diffed (see LAYOUTS)
            a, b = old.get(key, _MISSING), new.get(key, _MISSING)
            address = f"{prefix}.{key}" if prefix else key
            if (
                isinstance(layout, Collection)
                and _is_record_list(a, allow_missing=True)
                and _is_record_list(b, allow_missing=True)
            ):
                self.collection(section, prefix, [] if a is _MISSING else a, [] if b is _MISSING else b, layout)
            else:
                self.value(section, address, a, b, reasons)

    def collection(self, section: Section, prefix: str, old: list[Any], new: list[Any], layout: Collection) -> None:
        """Match elements by key; ``+``/``-`` whole elements, recurse into the fields of elements in both."""
        fmt = _choose_keys(old, new, layout.keys)
        old_by, new_by = keyed_items(old, fmt), keyed_items(new, fmt)
        base = f"{prefix}.{layout.label}" if prefix else layout.label
        for key in sorted(set(old_by) | set(new_by), key=natural_key):
            address = f"{base}[{key}]"
            a, b = old_by.get(key, _MISSING), new_by.get(key, _MISSING)
            if a is _MISSING or b is _MISSING:
                self.emit(section, address, a, b)
                if section in COUNTED_SECTIONS:
                    target = self.added if a is _MISSING else self.removed
                    target.setdefault(layout.label, set()).add(address)
                continue
            self.stack.append((layout.label, address))
            if isinstance(a, Mapping) and isinstance(b, Mapping):
                self.mapping(section, address, a, b, layout.children, layout.reasons)
            else:
                self.value(section, address, a, b, layout.reasons)
            self.stack.pop()


def _is_record_list(v: Any, allow_missing: bool = False) -> bool:
    if allow_missing and v is _MISSING:
        return True
    return isinstance(v, list) and all(isinstance(x, Mapping) for x in v)


# --------------------------------------------------------------------------------------------------- reading


def load_plan_for_diff(path: Path) -> Plan:
    """Read a plan for diffing: a different major format version is refused (exit 1), read errors exit 1 too."""
    try:
        data = load_json_file(path, display_path(path), "plan")
    except SpecError as exc:
        raise PlanReadError(exc.lines()) from None
    if isinstance(data, dict) and "format_version" in data:
        major = str(data["format_version"]).split(".")[0]
        if major != FORMAT_VERSION.split(".")[0]:
            raise PlansNotComparable(
                f"refusing to diff: {display_path(path)} is plan format {data['format_version']}, this llmplan "
                f"reads {FORMAT_VERSION.split('.')[0]}.x (re-plan both sides with the same llmplan version)"
            )
    try:
        return read_plan(path)
    except SpecError as exc:
        raise PlanReadError(exc.lines()) from None


def check_comparable(old: Plan, new: Plan, old_label: str = "old", new_label: str = "new") -> list[str]:
    """Refuse plans of different kinds or major versions; return notes (e.g. a minor version difference)."""
    if old.kind != new.kind:
        raise PlansNotComparable(
            f"refusing to diff a {old.kind} plan ({old_label}) against a {new.kind} plan ({new_label}): "
            "plans must be of the same kind"
        )
    ma, mb = old.format_version.split(".")[0], new.format_version.split(".")[0]
    if ma != mb:
        raise PlansNotComparable(
            f"refusing to diff plan format {old.format_version} ({old_label}) against {new.format_version} "
            f"({new_label}): different major versions"
        )
    if old.format_version != new.format_version:
        return [f"plan formats differ ({old.format_version} vs {new.format_version}); fields only one has are listed"]
    return []


# --------------------------------------------------------------------------------------------------- metrics


def records(kind: str, block: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(address, record) for every mapping in a plan block, addressed as :func:`diff_plans` addresses changes."""
    yield from _records(kind, normalise_block(kind, block), LAYOUTS.get(kind, {}))


def _records(
    address: str, value: Mapping[str, Any], collections: Mapping[str, Collection | None]
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    yield address, value
    for key, v in value.items():
        layout = collections.get(key, _MISSING)
        if layout is None:
            continue
        if isinstance(v, Mapping):
            yield from _records(f"{address}.{key}", v, {})
        elif _is_record_list(v) and v:
            lay = layout if isinstance(layout, Collection) else Collection(singular(key), GENERIC_KEYS)
            for k, item in keyed_items(v, _choose_keys(v, v, lay.keys)).items():
                yield from _records(f"{address}.{lay.label}[{k}]", item, lay.children)


def slo_margins(plan: Plan) -> dict[str, Any]:
    """Every SLO-like record (a mapping with ``limit`` and ``margin``; margin >= 0 means met) -> its margin."""
    return {a: r.get("margin") for a, r in records(plan.kind, plan.plan) if "margin" in r and "limit" in r}


def metric_deltas(old: Plan, new: Plan, rel_tol: float = DEFAULT_REL_TOL) -> list[MetricDelta]:
    """Every metric of either plan, the solver's objective, bound and gap, and every SLO margin."""
    pairs: dict[str, tuple[Any, Any]] = {}
    for name in sorted(set(old.metrics) | set(new.metrics)):
        pairs[name] = (old.metrics.get(name), new.metrics.get(name))
    for name in ("objective", "best_bound", "gap"):
        pairs[f"solver.{name}"] = (getattr(old.solver, name), getattr(new.solver, name))
    margins_old, margins_new = slo_margins(old), slo_margins(new)
    for address in sorted(set(margins_old) | set(margins_new), key=natural_key):
        pairs[f"{address}.margin"] = (margins_old.get(address), margins_new.get(address))
    out = []
    for name, (a, b) in pairs.items():
        if a is None and b is None:
            continue
        delta, pct = numeric_delta(a, b)
        changed = not same_value(a, b, rel_tol)
        direction = direction_of(name)
        verdict: Literal["better", "worse", "same", ""] = ""
        if not changed:
            verdict = "same"
        elif direction and delta is not None:
            verdict = "better" if (delta > 0) == (direction == "higher_is_better") else "worse"
        unit = "" if name.endswith("gap") else unit_of(name)
        out.append(
            MetricDelta(
                name=name,
                unit=unit,
                before=a,
                after=b,
                delta=delta,
                delta_pct=pct,
                changed=changed,
                direction=direction,
                verdict=verdict,
            )
        )
    return out


# --------------------------------------------------------------------------------------------------- guardrails


#: Names accepted in ``--fail-on`` for the usual figures, each tried in order against the plans' metrics.
METRIC_ALIASES: dict[str, tuple[str, ...]] = {
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
#: Headline figures of the one-line summary, in order.
HEADLINE = ("throughput", "cost", "power", "energy")

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


class Guardrail(_Doc):
    """A parsed ``--fail-on`` rule: ``name op threshold[%]`` on the change from old to new, or a keyword."""

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
        misses = [f"{a} margin {m:g}" for a, m in slo_margins(new).items() if _is_num(m) and m < 0]
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
    return f"{change} ({_short(d.before)} -> {_short(d.after)}{unit})"


def _short(v: Any) -> str:
    if _is_num(v):
        return f"{v:.6g}"
    return str(v)


# --------------------------------------------------------------------------------------------------- diff


def diff_plans(
    old: Plan,
    new: Plan,
    guardrails: Iterable[Guardrail] = (),
    rel_tol: float = DEFAULT_REL_TOL,
    old_label: str = "old",
    new_label: str = "new",
) -> PlanDiff:
    """Diff two plans of the same kind: changes, metric deltas, guardrail verdicts and the one-line summary."""
    notes = check_comparable(old, new, old_label, new_label)
    kind = old.kind
    w = _Walker(rel_tol)
    w.mapping(
        Section.plan,
        kind,
        normalise_block(kind, old.plan),
        normalise_block(kind, new.plan),
        LAYOUTS.get(kind, {}),
        SCALAR_REASONS.get(kind, {}),
    )
    plan_counts = _counts(w)
    for name in ("backend", "status", "message"):
        a, b = getattr(old.solver, name), getattr(new.solver, name)
        w.value(Section.solver, f"solver.{name}", a, b, {"status": Reason.status})
    w.collection(
        Section.assumptions,
        "",
        [a.model_dump() for a in old.assumptions],
        [a.model_dump() for a in new.assumptions],
        _ASSUMPTIONS,
    )
    _diff_warnings(w, old.warnings, new.warnings)
    _diff_inputs(w, old, new)
    for name in ("name", "format_version"):
        w.value(Section.document, name, getattr(old, name), getattr(new, name), {})

    deltas = metric_deltas(old, new, rel_tol)
    by_name = {d.name: d for d in deltas}
    results = [evaluate_guardrail(g, old, new, by_name) for g in guardrails]
    counted = [c for c in w.changes if c.counted]
    changed = bool(counted) or any(d.changed for d in deltas)
    summary = _summary(kind, plan_counts, len(w.moved), counted, by_name, old, new, changed)
    return PlanDiff(
        kind=kind,
        old=_ref(old, old_label),
        new=_ref(new, new_label),
        changed=changed,
        summary=summary,
        counts=plan_counts,
        layer_moves=len(w.moved),
        changes=w.changes,
        metrics=deltas,
        guardrails=results,
        notes=notes,
    )


def _counts(w: _Walker) -> dict[str, ElementCounts]:
    labels = set(w.added) | set(w.removed) | set(w.touched)
    out = {}
    for label in sorted(labels):
        added, removed = w.added.get(label, set()), w.removed.get(label, set())
        touched = w.touched.get(label, set()) - added - removed
        out[label] = ElementCounts(added=len(added), removed=len(removed), changed=len(touched))
    return out


def _diff_warnings(w: _Walker, old: list[str], new: list[str]) -> None:
    """Warnings are a set of sentences: each one is added or removed, never "changed"."""
    for text in sorted(set(old) - set(new)):
        w.emit(Section.warnings, "warning", text, _MISSING)
    for text in sorted(set(new) - set(old)):
        w.emit(Section.warnings, "warning", _MISSING, text)


def _diff_inputs(w: _Walker, old: Plan, new: Plan) -> None:
    a, b = old.inputs, new.inputs
    w.value(Section.inputs, "inputs.spec.path", a.spec.path, b.spec.path, {})
    w.value(Section.inputs, "inputs.spec.sha256", a.spec.sha256, b.spec.sha256, {})
    w.collection(
        Section.inputs,
        "inputs",
        [p.model_dump() for p in a.profiles],
        [p.model_dump() for p in b.profiles],
        _PROFILES,
    )
    w.value(Section.inputs, "inputs.overrides", a.overrides, b.overrides, {})
    w.mapping(Section.inputs, "inputs.options", a.options, b.options, {}, {})


def _ref(p: Plan, label: str) -> PlanRef:
    return PlanRef(
        label=label,
        kind=p.kind,
        name=p.name,
        format_version=p.format_version,
        status=p.solver.status,
        spec=p.inputs.spec.path,
        spec_sha256=p.inputs.spec.sha256,
    )


def _plural(n: int, label: str, plural: str) -> str:
    return f"{n} {label if n == 1 else plural}"


def _summary(
    kind: str,
    counts: Mapping[str, ElementCounts],
    moves: int,
    counted: list[Change],
    deltas: Mapping[str, MetricDelta],
    old: Plan,
    new: Plan,
    changed: bool,
) -> str:
    """``Plan: 2 pools changed, 5 layer moves; throughput -3.1%, cost +4.0%, energy -2.2%``."""
    if not changed:
        return "Plan: no changes"
    layouts = {c.label: c for c in _all_collections(kind)}
    parts = [_scalar_phrase(ch) for ch in counted if _is_top_scalar(ch)]
    for label in SUMMARY_ORDER.get(kind, ()):
        c = counts.get(label)
        if c is None:
            continue
        plural = layouts[label].plural_label if label in layouts else f"{label}s"
        others = c.changed
        if label == "node" and moves:
            parts.append(_plural(moves, "layer move", "layer moves"))
            others -= moves
        phrases = [(n, verb) for n, verb in ((c.added, "added"), (c.removed, "removed"), (others, "changed")) if n > 0]
        for i, (n, verb) in enumerate(phrases):
            parts.append(f"{_plural(n, label, plural) if i == 0 else n} {verb}")
    if old.solver.status != new.solver.status:
        parts.append(f"status {old.solver.status} -> {new.solver.status}")
    summarised = set(SUMMARY_ORDER.get(kind, ()))
    rest = [
        c
        for c in counted
        if c.address != "solver.status"
        and not _is_top_scalar(c)
        and not (c.section is Section.plan and _top_label(c.address) in summarised)
    ]
    if rest:
        parts.append(f"{_plural(len(rest), 'other change', 'other changes')}")
    head = ", ".join(parts) if parts else "no structural changes"
    figures = []
    for alias in HEADLINE:
        metric = resolve_metric(alias, deltas)
        if metric is None:
            continue
        d = deltas[metric]
        band = _band_pct(metric, old, new)
        if d.delta_pct is not None and band is not None and abs(d.delta_pct) < band:
            figures.append(f"{alias} {d.delta_pct:+.1f}% (noise: within the +-{band:.0f}% error band)")
        elif d.delta_pct is not None:
            figures.append(f"{alias} {d.delta_pct:+.1f}%")
        elif d.before is None:
            figures.append(f"{alias} new")
        elif d.after is None:
            figures.append(f"{alias} gone")
        else:
            figures.append(f"{alias} {_short(d.before)} -> {_short(d.after)}")
    return f"Plan: {head}" + (f"; {', '.join(figures)}" if figures else "")


def _band_pct(metric: str, old: Plan, new: Plan) -> float | None:
    """The wider error band (in %) of ``metric`` in either plan (docs/accuracy.md), None when neither has one."""
    bands = [b for p in (old, new) for b in [err_ratio_of(p.metrics, metric)] if b is not None]
    return max(bands) * 100 if bands else None


def _top_label(address: str) -> str:
    """``helix.route[a->b].weight`` -> ``route``: the collection a plan-block address starts in."""
    return address.split(".", 1)[-1].split("[", 1)[0].split(".", 1)[0]


def _is_top_scalar(ch: Change) -> bool:
    """A change to a top-level field of the plan block such as ``splitwise.design`` or ``helix.mode``."""
    return ch.section is Section.plan and ch.address.count(".") == 1 and "[" not in ch.address


def _scalar_phrase(ch: Change) -> str:
    """``design HH -> HA`` for a short top-level value, ``mode added`` / ``totals changed`` otherwise."""
    name = ch.address.split(".", 1)[1]
    short = (str, int, float)
    if ch.action is Action.change and isinstance(ch.before, short) and isinstance(ch.after, short):
        return f"{name} {_short(ch.before)} -> {_short(ch.after)}"
    return f"{name} {ch.reason.value if ch.action is not Action.change else 'changed'}"


def _all_collections(kind: str) -> Iterator[Collection]:
    stack = [c for c in LAYOUTS.get(kind, {}).values() if c is not None]
    while stack:
        c = stack.pop()
        yield c
        stack.extend(c.children.values())


# --------------------------------------------------------------------------------------------------- exit code


def exit_code(diff: PlanDiff, detailed: bool) -> int:
    """Terraform-style: 3 when a guardrail is breached; with ``detailed``, 2 when changed, else 0."""
    if diff.breached:
        return 3
    if detailed and diff.changed:
        return 2
    return 0
