"""The registry of plan-block contracts: plan kind -> the pydantic model of its ``plan`` block.

Each solver package declares its block in ``contract.py`` (:mod:`planner.helix.contract`,
:mod:`planner.splitwise.contract`, :mod:`planner.dynamo.contract`); this module is the one place that maps a
``kind`` to it. Writers build the contract, :mod:`planner.plan` serialises it, and every reader (the simulator,
``plan diff``, reports, the test fixtures, the shipped JSON Schema) goes through :func:`parse_block`, so the block
is defined once. Solver packages never import this module (it sits in the plan layer, above them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeVar, overload

from pydantic import BaseModel

from planner.contract_base import Block
from planner.dynamo.contract import DynamoPlanBlock
from planner.helix.contract import HelixPlanBlock
from planner.splitwise.contract import SplitwisePlanBlock

#: Contract model of each plan kind's ``plan`` block.
CONTRACTS: dict[str, type[Block]] = {
    "helix": HelixPlanBlock,
    "splitwise": SplitwisePlanBlock,
    "dynamo": DynamoPlanBlock,
}

B = TypeVar("B", bound=Block)


def contract_for(kind: str) -> type[Block]:
    """The contract of ``kind``; a ``KeyError`` names the known kinds (a bug: plan kinds are validated on read)."""
    try:
        return CONTRACTS[kind]
    except KeyError:
        raise KeyError(f"no plan-block contract for kind '{kind}' (known: {', '.join(CONTRACTS)})") from None


@overload
def parse_block(kind: Literal["helix"], block: Mapping[str, Any], *, strict: bool = False) -> HelixPlanBlock: ...
@overload
def parse_block(
    kind: Literal["splitwise"], block: Mapping[str, Any], *, strict: bool = False
) -> SplitwisePlanBlock: ...
@overload
def parse_block(kind: Literal["dynamo"], block: Mapping[str, Any], *, strict: bool = False) -> DynamoPlanBlock: ...
@overload
def parse_block(kind: str, block: Mapping[str, Any], *, strict: bool = False) -> Block: ...
def parse_block(kind: str, block: Mapping[str, Any], *, strict: bool = False) -> Block:
    """Validate a plan block against its contract.

    Readers ignore keys the contract does not know (a newer minor format version may add some); ``strict`` refuses
    them, which is what the writers' tests and the fixtures' checks want. Raises ``pydantic.ValidationError``.
    """
    return contract_for(kind).model_validate(dict(block), extra="forbid" if strict else "ignore")


def block_dict(block: BaseModel | Mapping[str, Any]) -> dict[str, Any]:
    """A plan block as the plan document stores it: a contract model dumped (unset keys left out), or a dict."""
    if isinstance(block, Block):
        return block.dump()
    if isinstance(block, BaseModel):
        return block.model_dump(mode="python", exclude_unset=True, by_alias=True)
    return dict(block)
