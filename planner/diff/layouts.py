"""Per-solver layouts of the plan block, read from the contracts: which lists are collections, how their elements
are keyed (``helix.node[a100-0]``), why a change to a field matters, and what the one-line summary names.

The contracts (``planner/<solver>/contract.py``) carry this as :class:`~planner.contract_base.Keyed` and
:class:`~planner.contract_base.ChangeReason` annotations, so a field added to a contract is diffed the way its
contract says, and no second list of field names can drift from the writers.
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from planner.contract_base import ChangeReason, Keyed
from planner.contracts import CONTRACTS
from planner.diff.document import Reason


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
    summary: bool = False

    @property
    def plural_label(self) -> str:
        return self.plural or f"{self.label}s"


#: Keys tried for collections no contract names (e.g. fields added by a newer minor format version).
GENERIC_KEYS: tuple[str, ...] = (
    "{name}", "{id}", "{key}", "{role}", "{class}", "{start}", "{design}", "{subject}", "{src}->{dst}", "{from}->{to}",
)  # fmt: skip

ASSUMPTIONS = Collection("assumption", ("{subject}", "{subject}:{basis}"))
PROFILES = Collection("profile", ("{path}",))


def _meta(info: Any, kind: type) -> Any:
    return next((m for m in info.metadata if isinstance(m, kind)), None)


def _item_model(annotation: Any) -> type[BaseModel] | None:
    """The model of a list's (or a grouped mapping's) elements: ``list[Pool] | None`` -> ``Pool``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) is not None:  # list[X], dict[str, X], X | None
        for arg in typing.get_args(annotation):
            found = _item_model(arg)
            if found is not None:
                return found
    return None


def _collection(meta: Keyed, item: type[BaseModel] | None) -> Collection:
    return Collection(
        label=meta.label,
        keys=meta.keys,
        reasons={name: Reason[reason] for name, reason in meta.reasons.items()},
        children={k: v for k, v in _collections(item).items() if v is not None} if item else {},
        plural=meta.plural,
        summary=meta.summary,
    )


def _collections(model: type[BaseModel]) -> dict[str, Collection | None]:
    """List fields of ``model`` -> their layout (None: deliberately not diffed), in the contract's field order."""
    out: dict[str, Collection | None] = {}
    for name, info in model.model_fields.items():
        meta = _meta(info, Keyed)
        if meta is None:
            continue
        key = info.alias or name
        out[meta.flat or key] = None if meta.ignored else _collection(meta, _item_model(info.annotation))
    return out


@functools.cache
def layouts_of(kind: str) -> Mapping[str, Collection | None]:
    """Per plan kind: list fields of the (normalised) plan block -> collection layout (None: not diffed)."""
    contract = CONTRACTS.get(kind)
    return types.MappingProxyType(_collections(contract) if contract else {})


@functools.cache
def scalar_reasons(kind: str) -> Mapping[str, Reason]:
    """Top-level scalar fields whose change has a reason other than ``value`` (splitwise ``design``)."""
    contract = CONTRACTS.get(kind)
    out: dict[str, Reason] = {}
    for name, info in (contract.model_fields if contract else {}).items():
        meta = _meta(info, ChangeReason)
        if meta is not None:
            out[info.alias or name] = Reason[meta.reason]
    return types.MappingProxyType(out)


def all_collections(kind: str) -> Iterator[Collection]:
    """Every collection of a kind, children after their parents (depth first, in contract order)."""
    stack = [c for c in reversed(list(layouts_of(kind).values())) if c is not None]
    while stack:
        c = stack.pop()
        yield c
        stack.extend(reversed(list(c.children.values())))


@functools.cache
def summary_order(kind: str) -> tuple[str, ...]:
    """Collections named in the one-line summary, in order. Others (routes follow the edge flows, compared designs
    and SLO figures are in the metric deltas) are listed in the table only, so the line stays one line."""
    return tuple(c.label for c in all_collections(kind) if c.summary)


def normalise_block(kind: str, block: Mapping[str, Any]) -> dict[str, Any]:
    """Reshape a plan block so that every collection is a keyed list.

    A mapping of lists declared ``grouped_by`` in its contract becomes one list: helix ``routing``
    ``{from: [{to, weight}]}`` becomes ``routes: [{from, to, weight}]``, so a change is addressed
    ``helix.route[source->a100-0].weight`` like an edge.
    """
    out = dict(block)
    contract = CONTRACTS.get(kind)
    for name, info in (contract.model_fields if contract else {}).items():
        meta = _meta(info, Keyed)
        key = info.alias or name
        if meta is None or not meta.grouped_by or not isinstance(out.get(key), Mapping):
            continue
        flat = []
        for group, records in out.pop(key).items():
            for r in records if isinstance(records, list) else []:
                if isinstance(r, Mapping):
                    flat.append({meta.grouped_by: group, **r})
        out[meta.flat] = flat
    return out
