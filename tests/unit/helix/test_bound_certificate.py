"""A proven bound below the verified flow is a bug to report, never a reason to relabel a plan optimal.

The audit of issue #17 halved the bound and saw geo-24 and the 42-node cluster labelled "optimal" with gap 0 while
every test stayed green; these tests make that mutation fail.
"""

from __future__ import annotations

import dataclasses

import pytest

from planner.errors import VerificationError
from planner.helix import solve as helix_solve
from planner.helix.solve import HelixOptions, solve
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
