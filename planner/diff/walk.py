"""The document walk: two plan documents side by side -> changes, per-element counts and layer moves.

Lists of records are matched by key (:class:`~planner.diff.layouts.Collection`), mappings field by field, and
numbers compared with a relative tolerance. What is a collection and how it is keyed comes from the plan-block
contracts (:mod:`planner.diff.layouts`); lists no contract names are keyed by :data:`GENERIC_KEYS`.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from planner.diff.document import COUNTED_SECTIONS, DEFAULT_REL_TOL, Action, Change, Reason, Section
from planner.diff.layouts import GENERIC_KEYS, Collection, layouts_of, normalise_block
from planner.diff.units import is_num, unit_of
from planner.plan import FLOAT_DIGITS

MISSING: Any = object()


def same_value(a: Any, b: Any, rel_tol: float = DEFAULT_REL_TOL) -> bool:
    """Equality with a relative tolerance for numbers (ints and floats compare by value), exact otherwise."""
    if is_num(a) and is_num(b):
        if a == b:
            return True
        if not (math.isfinite(a) and math.isfinite(b)):
            return False
        return bool(abs(a - b) <= rel_tol * max(abs(a), abs(b)))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(same_value(a[k], b[k], rel_tol) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_value(x, y, rel_tol) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def numeric_delta(before: Any, after: Any) -> tuple[float | None, float | None]:
    """(after - before, percent change relative to |before|); None where undefined.

    Both are rounded to the plan's precision (:data:`planner.plan.FLOAT_DIGITS`) so that 290.7 - 300 reads -9.3.
    """
    if not (is_num(before) and is_num(after)):
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
class Walker:
    """Walks two plan documents side by side and records changes and per-element counts."""

    rel_tol: float
    changes: list[Change] = field(default_factory=list)
    stack: list[tuple[str, str]] = field(default_factory=list)
    added: dict[str, set[str]] = field(default_factory=dict)
    removed: dict[str, set[str]] = field(default_factory=dict)
    touched: dict[str, set[str]] = field(default_factory=dict)
    moved: set[str] = field(default_factory=set)

    def emit(self, section: Section, address: str, before: Any, after: Any, reason: Reason | None = None) -> None:
        if before is MISSING:
            action, why = Action.add, Reason.added
            before = None
        elif after is MISSING:
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
        if old is MISSING or new is MISSING:
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
            layout = collections.get(key, MISSING)
            if layout is None:
                continue  # deliberately not diffed (the contract says so)
            a, b = old.get(key, MISSING), new.get(key, MISSING)
            address = f"{prefix}.{key}" if prefix else key
            if (
                isinstance(layout, Collection)
                and _is_record_list(a, allow_missing=True)
                and _is_record_list(b, allow_missing=True)
            ):
                self.collection(section, prefix, [] if a is MISSING else a, [] if b is MISSING else b, layout)
            else:
                self.value(section, address, a, b, reasons)

    def collection(self, section: Section, prefix: str, old: list[Any], new: list[Any], layout: Collection) -> None:
        """Match elements by key; ``+``/``-`` whole elements, recurse into the fields of elements in both."""
        fmt = _choose_keys(old, new, layout.keys)
        old_by, new_by = keyed_items(old, fmt), keyed_items(new, fmt)
        base = f"{prefix}.{layout.label}" if prefix else layout.label
        for key in sorted(set(old_by) | set(new_by), key=natural_key):
            address = f"{base}[{key}]"
            a, b = old_by.get(key, MISSING), new_by.get(key, MISSING)
            if a is MISSING or b is MISSING:
                self.emit(section, address, a, b)
                if section in COUNTED_SECTIONS:
                    target = self.added if a is MISSING else self.removed
                    target.setdefault(layout.label, set()).add(address)
                continue
            self.stack.append((layout.label, address))
            if isinstance(a, Mapping) and isinstance(b, Mapping):
                self.mapping(section, address, a, b, layout.children, layout.reasons)
            else:
                self.value(section, address, a, b, layout.reasons)
            self.stack.pop()


def _is_record_list(v: Any, allow_missing: bool = False) -> bool:
    if allow_missing and v is MISSING:
        return True
    return isinstance(v, list) and all(isinstance(x, Mapping) for x in v)


def records(kind: str, block: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(address, record) for every mapping in a plan block, addressed as :func:`diff_plans` addresses changes."""
    yield from _records(kind, normalise_block(kind, block), layouts_of(kind))


def _records(
    address: str, value: Mapping[str, Any], collections: Mapping[str, Collection | None]
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    yield address, value
    for key, v in value.items():
        layout = collections.get(key, MISSING)
        if layout is None:
            continue
        if isinstance(v, Mapping):
            yield from _records(f"{address}.{key}", v, {})
        elif _is_record_list(v) and v:
            lay = layout if isinstance(layout, Collection) else Collection(singular(key), GENERIC_KEYS)
            for k, item in keyed_items(v, _choose_keys(v, v, lay.keys)).items():
                yield from _records(f"{address}.{lay.label}[{k}]", item, lay.children)
