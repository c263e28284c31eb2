"""The splitwise goldens checked by content, not only against themselves: the solver-free verifier recomputes
every pool's cost and power, the nine SLO margins and the ledger choice from the golden document alone, and a
tampered copy of each golden is refused."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from planner.errors import VerificationError
from planner.plan import Plan
from planner.runner.splitwise import verify_document

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
NAMES = sorted(p.name for p in GOLDEN.glob("splitwise-*.json"))


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((GOLDEN / name).read_text())
    return data


def test_there_are_splitwise_goldens() -> None:
    assert len(NAMES) >= 3


@pytest.mark.parametrize("name", NAMES)
def test_golden_passes_the_verifier(name: str) -> None:
    verify_document(Plan.model_validate(_load(name)))


def _tamper_cost(d: dict[str, Any]) -> None:
    d["metrics"]["cost_usd_h"] *= 1.01


def _tamper_power(d: dict[str, Any]) -> None:
    d["metrics"]["power_kw"] *= 0.99


def _tamper_slo_margin(d: dict[str, Any]) -> None:
    d["plan"]["slos"][0]["margin"] += 0.01


def _tamper_pool_count(d: dict[str, Any]) -> None:
    d["plan"]["pools"][0]["count"] += 1


def _tamper_claim_optimal(d: dict[str, Any]) -> None:
    d["solver"]["status"] = "optimal"


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    "tamper", [_tamper_cost, _tamper_power, _tamper_slo_margin, _tamper_pool_count, _tamper_claim_optimal]
)
def test_tampered_golden_is_refused(name: str, tamper: Any) -> None:
    d = copy.deepcopy(_load(name))
    tamper(d)
    with pytest.raises(VerificationError):
        verify_document(Plan.model_validate(d))
