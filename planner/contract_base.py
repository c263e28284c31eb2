"""What every solver's plan-block contract is made of: a strict pydantic base and the diff metadata of a list.

Each solver package declares its ``plan`` block in ``contract.py`` on top of this module; the registry in
:mod:`planner.contracts` maps a plan kind to its contract. This module sits below the solvers and imports nothing
from ``planner``, so a contract never depends on the plan layer that reads it.

Why ``exclude_unset`` (see :meth:`Block.dump`): several keys of a plan block are written only in some plans (the
helix ``latency`` block only in solved plans, dynamo's ``carbon_g_per_kwh`` only with a carbon trace). A field the
writer did not set is left out of the JSON, a field it set to ``None`` is written as ``null``: the document says
exactly what the writer said, and reading a plan then dumping it gives the same keys back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

#: A number kept as the writer gave it: an int stays an int in the JSON (``5``), a float stays a float (``5.0``).
Number = int | float


class Block(BaseModel):
    """Base of every plan-block model: unknown keys are errors when writing (typos), frozen once built.

    Readers that must accept a newer minor format version validate with ``extra="ignore"``
    (:func:`planner.contracts.parse_block`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_by_name=True, validate_by_alias=True)

    def dump(self) -> dict[str, Any]:
        """The JSON-ready dict of what was set (unset optional keys are left out; floats not yet rounded)."""
        return self.model_dump(mode="python", exclude_unset=True, by_alias=True)


@dataclass(frozen=True)
class Keyed:
    """Diff metadata of a list field of a plan block, attached with ``Annotated[list[Item], Keyed(...)]``.

    ``plan diff`` matches the elements of the old and new list by the first key format (``keys``, tried in order)
    that names every element uniquely, and addresses a change like ``helix.node[a100-0].layers``. ``reasons`` maps
    a field of an element to the name of the diff's ``Reason`` for a change to it (``"layer_move"``);
    ``summary`` puts the collection in the one-line summary; ``ignored`` leaves a field out of the diff (an audit
    trail rather than the deployment). ``grouped_by`` marks a mapping ``{key: [records]}`` that the diff flattens
    into a list named ``flat`` whose records carry the mapping key under ``grouped_by`` (helix ``routing``).
    """

    label: str = ""
    keys: tuple[str, ...] = ()
    reasons: Mapping[str, str] = field(default_factory=dict)
    plural: str = ""
    summary: bool = False
    ignored: bool = False
    grouped_by: str = ""
    flat: str = ""


#: Diff metadata for a list the diff should skip entirely.
NOT_DIFFED = Keyed(ignored=True)


@dataclass(frozen=True)
class ChangeReason:
    """Diff metadata of a scalar field: the name of the diff's ``Reason`` for a change to it (``"design"``)."""

    reason: str


class Empty(Block):
    """A block written as ``{}`` (e.g. splitwise ``workload`` when no design meets the SLOs)."""
