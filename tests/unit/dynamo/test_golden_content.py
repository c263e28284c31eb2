"""The dynamo goldens checked by content, not only against themselves: the solver-free verifier rebuilds the problem
from each golden's recorded inputs (spec, overrides, options), recomputes every group's energy, the SLO limits and
latencies, the totals (GPU-hours, cost, carbon, power) and the optimality certificate from the golden document, and
compares them with the figures the golden states; a tampered copy of each golden is refused."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from planner.dynamo.contract import DynamoPlanBlock
from planner.dynamo.instance import DynamoOptions, prepare
from planner.dynamo.verify import check_plan, verify_plan
from planner.errors import VerificationError
from planner.spec.loader import load_spec

ROOT = Path(__file__).resolve().parents[3]
GOLDEN = ROOT / "tests" / "golden"
NAMES = sorted(p.name for p in GOLDEN.glob("dynamo-*.json"))


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((GOLDEN / name).read_text())
    return data


def _problem(doc: dict[str, Any], db):  # type: ignore[no-untyped-def]
    inputs = doc["inputs"]
    o = inputs["options"]
    loaded = load_spec(ROOT / inputs["spec"]["path"], db, list(inputs["overrides"]))
    opts = DynamoOptions(
        mode=o["mode"],
        epoch_s=o["epoch_s"],
        reshard_epoch_s=o["reshard_epoch_s"],
        gpu_budget=o["gpu_budget"],
        slo_e2e_s=o["slo_e2e_s"],
        price_kwh=o["price_kwh"],
    )
    return prepare(loaded, db, opts)


def test_there_are_dynamo_goldens() -> None:
    assert len(NAMES) >= 2


@pytest.mark.parametrize("name", NAMES)
def test_golden_passes_the_verifier_and_states_the_recomputed_figures(name: str, profile_db) -> None:
    doc = _load(name)
    problem = _problem(doc, profile_db)
    verify_plan(problem, DynamoPlanBlock.model_validate(doc["plan"]))
    totals, metrics = doc["plan"]["totals"], doc["metrics"]
    for key in ("energy_kwh", "avg_power_kw", "peak_power_kw", "cost_usd", "gpu_cost_usd", "electricity_cost_usd"):
        assert metrics[key] == pytest.approx(totals[key], rel=1e-9), key
    assert metrics["allocated_gpu_h"] == pytest.approx(totals["gpu_h"], rel=1e-9)
    assert sum(e["energy_wh"] for e in doc["plan"]["epochs"]) / 1000 == pytest.approx(totals["energy_kwh"], rel=1e-6)
    cert = doc["plan"]["certificate"]
    assert doc["solver"]["status"] == "optimal" and cert["label"] == "optimal (solver-certified)"
    assert cert["objective_wh"] == pytest.approx(doc["solver"]["objective"], rel=1e-9)
    assert cert["bound_wh"] == pytest.approx(doc["solver"]["best_bound"], rel=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_every_power_energy_and_cost_figure_carries_its_band(name: str) -> None:
    """Power and energy figures, the reference SinglePool's average power included, carry the profile band; a cost
    (GPU-hours at a fixed price plus predicted electricity) carries that band scaled by the electricity's share of
    it (docs/dynamo.md); the GPU-hours, GPU cost and savings ratios carry none."""
    doc = _load(name)
    metrics, plan = doc["metrics"], doc["plan"]
    band = metrics["energy_kwh_err_ratio"]
    assert band == 0.25  # the shipped synthetic profile's
    parts = {"cost_usd": plan["totals"]}
    parts |= {f"baseline_{b['name'].replace('-', '_')}_cost_usd": b for b in plan["baselines"] if "cost_usd" in b}
    for key, value in metrics.items():
        if value is None or key.endswith("_err_ratio"):
            continue
        expected = None
        if key.endswith(("_kwh", "_wh", "_power_kw", "_kgco2")) or key == "electricity_cost_usd":
            expected = band
        elif key.endswith("cost_usd") and key != "gpu_cost_usd":
            part = parts[key]
            expected = round(band * part["electricity_cost_usd"] / part["cost_usd"], 4)
            assert 0 < expected < band, key
        assert metrics.get(f"{key}_err_ratio") == expected, key
    assert "baseline_singlepool_avg_power_kw_err_ratio" in metrics and "cost_usd_err_ratio" in metrics


def _tamper_total_energy(d: dict[str, Any]) -> None:
    d["plan"]["totals"]["energy_kwh"] *= 0.99


def _tamper_group_energy(d: dict[str, Any]) -> None:
    for e in d["plan"]["epochs"]:
        for p in e["pools"]:
            for c in p["configs"]:
                if c["classes"]:
                    c["energy_wh"] *= 0.98
                    return


def _tamper_cost(d: dict[str, Any]) -> None:
    d["plan"]["totals"]["cost_usd"] *= 1.01


def _tamper_electricity(d: dict[str, Any]) -> None:
    d["plan"]["totals"]["electricity_cost_usd"] *= 0.9


def _tamper_carbon(d: dict[str, Any]) -> None:
    d["plan"]["totals"]["carbon_kgco2"] *= 0.9


def _tamper_peak_power(d: dict[str, Any]) -> None:
    d["plan"]["totals"]["peak_power_kw"] *= 0.95


def _tamper_gpu_h(d: dict[str, Any]) -> None:
    d["plan"]["totals"]["gpu_h"] -= 1


def _tamper_slo_limit(d: dict[str, Any]) -> None:
    d["plan"]["classes"][0]["e2e_s"] = (d["plan"]["classes"][0]["e2e_s"] or 10.0) * 2


def _tamper_certificate_bound(d: dict[str, Any]) -> None:
    d["plan"]["certificate"]["bound_wh"] *= 1.01


def _tamper_certificate_objective(d: dict[str, Any]) -> None:
    d["plan"]["certificate"]["objective_wh"] *= 0.5
    d["plan"]["certificate"]["bound_wh"] *= 0.5


def _tamper_certificate_label(d: dict[str, Any]) -> None:
    d["plan"]["certificate"]["label"] = "optimal (independently verified)"


def _drop_certificate(d: dict[str, Any]) -> None:
    del d["plan"]["certificate"]


TAMPERS = [
    _tamper_total_energy,
    _tamper_group_energy,
    _tamper_cost,
    _tamper_electricity,
    _tamper_carbon,
    _tamper_peak_power,
    _tamper_gpu_h,
    _tamper_slo_limit,
    _tamper_certificate_bound,
    _tamper_certificate_objective,
    _tamper_certificate_label,
    _drop_certificate,
]


@pytest.fixture(scope="module")
def problems(profile_db) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {name: _problem(_load(name), profile_db) for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("tamper", TAMPERS, ids=[t.__name__ for t in TAMPERS])
def test_tampered_golden_is_refused(name: str, tamper: Any, problems: dict[str, Any]) -> None:
    d = copy.deepcopy(_load(name))
    assert not check_plan(problems[name], DynamoPlanBlock.model_validate(d["plan"]))
    tamper(d)
    with pytest.raises(VerificationError):
        verify_plan(problems[name], DynamoPlanBlock.model_validate(d["plan"]))
