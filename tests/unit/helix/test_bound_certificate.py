"""A proven bound below the verified flow is a bug to report, never a reason to relabel a plan optimal.

The audit of issue #17 halved the bound and saw geo-24 and the 42-node cluster labelled "optimal" with gap 0 while
every test stayed green; these tests make that mutation fail.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from planner.errors import VerificationError
from planner.helix import solve as helix_solve
from planner.helix.flow import flow_value
from planner.helix.solve import HelixOptions, solve
from planner.helix.verify import INDEPENDENT, SOLVER_CERTIFIED, check_bound, check_plan_certificate
from tests.unit.helix.tiny import brute_force, tiny_instance

TABLES = [(30.0, 20.0), (25.0, 12.0), (10.0, 6.0)]


def test_the_solver_reaches_the_enumerated_optimum_with_an_honest_bound() -> None:
    inst = tiny_instance(TABLES, 3)
    best, _ = brute_force(inst, "strict")
    res = solve(inst, HelixOptions(mode="strict", time_limit_s=10, rel_gap=0.0))
    assert res.report.status == "optimal"
    assert res.flow.value == pytest.approx(best, rel=1e-9)
    assert res.best_bound_tok_s == pytest.approx(best, rel=1e-9)


def test_a_halved_bound_fails_loudly_instead_of_claiming_optimal(monkeypatch: pytest.MonkeyPatch) -> None:
    inst = tiny_instance(TABLES, 3)
    real = helix_solve.covering_bound

    def halved(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        cov = real(*args, **kwargs)  # type: ignore[arg-type]
        return dataclasses.replace(cov, value=cov.value / 2)

    monkeypatch.setattr(helix_solve, "covering_bound", halved)
    monkeypatch.setattr(helix_solve, "block_bound", lambda inst, cov: cov)
    with pytest.raises(VerificationError, match="exceeds the"):
        solve(inst, HelixOptions(mode="strict", time_limit_s=10, rel_gap=0.0, milp=False))


def test_verification_error_exits_1() -> None:
    assert VerificationError.exit_code == 1


# --- Certificates: every optimal label names its bound, and the solver-free verifier recomputes it ---------------

ROOT = Path(__file__).resolve().parents[3]
HELIX_GOLDENS = sorted((ROOT / "tests" / "golden").glob("helix-*.json"))


def test_an_optimal_label_carries_its_certificate() -> None:
    """The tiny optimum is proved by the MILP (solver-certified); two equal nodes that split the model evenly are
    proved by the covering argument, which the verifier recomputes (independently verified)."""
    inst = tiny_instance(TABLES, 3)
    res = solve(inst, HelixOptions(mode="strict", time_limit_s=10, rel_gap=0.0))
    assert res.report.status == "optimal" and res.certificate is not None
    assert res.report.message.startswith(res.certificate.label)
    assert (res.certificate.kind == "milp") == (res.certificate.label == SOLVER_CERTIFIED)
    even = tiny_instance([(10.0, 6.0), (10.0, 6.0)], 2)
    res = solve(even, HelixOptions(mode="strict", time_limit_s=10, rel_gap=0.0, milp=False))
    assert res.report.status == "optimal" and res.certificate is not None
    assert res.certificate.label == INDEPENDENT and res.report.message.startswith(INDEPENDENT)
    assert res.certificate.value_tok_s == pytest.approx(res.best_bound_tok_s, rel=1e-12)
    check_bound(even, "strict", res.certificate.kind, res.certificate.value_tok_s)


def test_a_bound_that_only_a_weaker_placement_meets_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """The lie of the audit without the tell-tale "flow above bound": the bound comes out exactly at a suboptimal
    placement's flow, so the placement "meets" it. The verifier's own argument admits more flow, and refuses."""
    inst = tiny_instance(TABLES, 3)
    best, _ = brute_force(inst, "strict")
    weak = {"n0": (0, 1), "n1": (1, 2), "n2": (2, 3)}
    weak_value = flow_value(inst, weak, "strict")
    assert 0 < weak_value < best * 0.9
    real = helix_solve.covering_bound
    monkeypatch.setattr(
        helix_solve, "covering_bound", lambda *a, **k: dataclasses.replace(real(*a, **k), value=weak_value)
    )
    monkeypatch.setattr(helix_solve, "block_bound", lambda inst, cov: cov)
    with pytest.raises(VerificationError, match=r"admits .* the certificate is wrong"):
        solve(inst, HelixOptions(mode="strict", time_limit_s=10, rel_gap=0.0, milp=False), placement=weak)


def test_a_milp_dual_bound_is_only_solver_certified() -> None:
    inst = tiny_instance(TABLES, 3)
    assert check_bound(inst, "strict", "milp", 1.0).label == SOLVER_CERTIFIED
    with pytest.raises(VerificationError, match="unknown bound"):
        check_bound(inst, "strict", "gut-feeling", 1.0)


def test_geo24_optimum_needs_the_forced_sharing_argument(profile_db) -> None:
    """1,754.38 is proved by the block bound with two forced shared nodes; the covering argument alone admits more."""
    inst = _instance(ROOT / "cluster_specs" / "helix-geo24-llama2-70b.yaml", profile_db)
    ok = check_bound(inst, "strict", "block", 1754.38189)
    assert ok.independent and ok.witness["forced_shared_nodes"] == 2
    with pytest.raises(VerificationError, match="covering bound claims no flow above 1754"):
        check_bound(inst, "strict", "covering", 1754.38189)
    with pytest.raises(VerificationError, match="block bound claims"):
        check_bound(inst, "strict", "block", 1754.38189 * 0.999)


def _instance(spec: Path, db, overrides: list[str] | None = None):  # type: ignore[no-untyped-def]
    from planner.helix.instance import build_instance
    from planner.spec.loader import load_spec
    from planner.spec.sections.helix import HelixSection

    loaded = load_spec(spec, db)
    return build_instance(loaded, db, loaded.spec.helix or HelixSection())


def _golden(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROOT / "tests" / "golden" / name).read_text())
    return data


def test_there_are_helix_goldens() -> None:
    assert len(HELIX_GOLDENS) >= 3


@pytest.mark.parametrize("path", HELIX_GOLDENS, ids=[p.stem for p in HELIX_GOLDENS])
def test_golden_certificate_is_recomputed(path: Path, profile_db) -> None:
    doc = _golden(path.name)
    assert doc["solver"]["status"] == "optimal"
    checked = check_plan_certificate(_instance(ROOT / doc["inputs"]["spec"]["path"], profile_db), doc)
    assert checked is not None and checked.independent
    assert doc["plan"]["bounds"]["certificate"]["label"] == INDEPENDENT


def _lower_bound_value(d: dict[str, Any]) -> None:
    d["plan"]["bounds"]["certificate"]["value_tok_s"] *= 0.99
    d["plan"]["bounds"]["best_tok_s"] *= 0.99
    d["solver"]["best_bound"] *= 0.99


def _claim_solver_certified(d: dict[str, Any]) -> None:
    d["plan"]["bounds"]["certificate"]["label"] = SOLVER_CERTIFIED


def _claim_milp_as_independent(d: dict[str, Any]) -> None:
    d["plan"]["bounds"]["certificate"]["bound"] = "milp"


def _claim_compute_bound(d: dict[str, Any]) -> None:
    d["plan"]["bounds"]["certificate"]["bound"] = "compute"


def _drop_certificate(d: dict[str, Any]) -> None:
    del d["plan"]["bounds"]["certificate"]


def _lower_throughput(d: dict[str, Any]) -> None:
    d["metrics"]["throughput_tok_s"] *= 0.98


@pytest.mark.parametrize("path", HELIX_GOLDENS, ids=[p.stem for p in HELIX_GOLDENS])
@pytest.mark.parametrize(
    "tamper",
    [
        _lower_bound_value,
        _claim_solver_certified,
        _claim_milp_as_independent,
        _claim_compute_bound,
        _drop_certificate,
        _lower_throughput,
    ],
)
def test_tampered_certificate_is_refused(path: Path, tamper: Any, profile_db) -> None:
    doc = copy.deepcopy(_golden(path.name))
    tamper(doc)
    with pytest.raises(VerificationError):
        check_plan_certificate(_instance(ROOT / doc["inputs"]["spec"]["path"], profile_db), doc)
