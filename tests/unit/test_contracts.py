"""Every plan the project ships or tests with follows its kind's plan-block contract (planner/contracts.py).

Goldens come from the writers, fixtures are built by hand-made scripts: both must validate *strictly* (no key the
contract does not declare) and survive a read-then-dump round trip unchanged, types included (an int written as
``5`` must not come back as ``5.0``), so the contract, the writers and the fixtures cannot drift apart.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pydantic
import pytest

from planner.contracts import CONTRACTS, contract_for, parse_block
from planner.plan import canonical

ROOT = Path(__file__).resolve().parents[2]
PLANS = sorted(
    p
    for pattern in ("tests/golden/*.json", "tests/fixtures/plans/*.json", "tests/fixtures/helix_plans/**/*.json")
    for p in ROOT.glob(pattern)
    if json.loads(p.read_text()).get("kind") in ("helix", "splitwise", "dynamo")
)


def _typed(value: Any) -> str:
    """JSON text that tells 5 from 5.0 (plain ``==`` does not)."""
    return json.dumps(canonical(value), sort_keys=True)


@pytest.mark.parametrize("path", PLANS, ids=[str(p.relative_to(ROOT)) for p in PLANS])
def test_plan_block_follows_its_contract(path: Path) -> None:
    doc = json.loads(path.read_text())
    assert doc["kind"] in CONTRACTS, f"no contract for {doc['kind']}"
    block = parse_block(doc["kind"], doc["plan"], strict=True)
    assert _typed(block.dump()) == _typed(doc["plan"])


def test_every_kind_is_covered() -> None:
    kinds = {json.loads(p.read_text())["kind"] for p in PLANS}
    assert kinds == {"helix", "splitwise", "dynamo"}


def test_strict_refuses_an_unknown_key_and_readers_ignore_it() -> None:
    doc = json.loads((ROOT / "tests" / "golden" / "helix-10node-llama30b.json").read_text())
    doc["plan"]["nodes"][0]["why"] = "a typo"
    with pytest.raises(pydantic.ValidationError, match="why"):
        parse_block("helix", doc["plan"], strict=True)
    assert parse_block("helix", doc["plan"]).nodes[0].name == doc["plan"]["nodes"][0]["name"]


def test_unset_optional_keys_stay_out_of_the_document() -> None:
    helix = contract_for("helix")
    block = helix.model_validate({"model": "m", "layers": 2, "nodes": [], "edges": []})
    assert set(block.dump()) == {"model", "layers", "nodes", "edges"}
