"""Fit: the known model behind the synthetic benchmarks is recovered within 5 %, deterministically."""

from __future__ import annotations

import numpy as np
import pytest

from planner.calibrate.fit import fit
from planner.calibrate.ingest import IterationTable, load_all
from planner.calibrate.itermodel import PARAM_NAMES, IterationModel, current_hardware
from planner.calibrate.synthetic import KNOWN


@pytest.fixture(scope="module")
def synthetic_fit(synthetic_files, profile_db):
    runs, _ = load_all(synthetic_files, profile_db)
    assert all(r.provenance == "synthetic" for r in runs)
    hw = current_hardware(profile_db, "H100-80G", 8, "llama2-70b")
    return runs, hw, fit(runs, [], hw)


def test_recovers_known_parameters_within_5_percent(synthetic_fit):
    _, _, result = synthetic_fit
    rel = result.model.vector() / KNOWN.vector() - 1
    for name, err in zip(PARAM_NAMES, rel, strict=True):
        assert abs(err) < 0.05, f"{name}: {err:+.1%}"
    # the residual is the 2 % noise the files carry, not less (no over-fit) and not much more
    assert 0.01 < result.rms_log_ratio < 0.03


def test_fit_is_deterministic(synthetic_fit):
    runs, hw, result = synthetic_fit
    again = fit(runs, [], hw)
    assert again.model == result.model


def test_iteration_table_fit_is_exact_without_noise(profile_db):
    true = IterationModel(10.0, 50.0, 3.0, 20.0, 6.0)
    x = np.asarray([128, 512, 1024, 2048, 4096, 8192], dtype=float)
    b = np.asarray([1, 8, 32, 64, 128, 256], dtype=float)
    table = IterationTable(
        file="t.csv", label="t.csv", provenance="synthetic", source="", gpu="A100-80G", tp=8, model="llama2-70b",
        prompt_tokens=tuple(x), prompt_ms=tuple(true.prompt_ms(x)),
        token_batch=tuple(b), token_ms=tuple(true.token_ms(b)),
    )  # fmt: skip
    hw = current_hardware(profile_db, "A100-80G", 8, "llama2-70b")
    result = fit([], [table], hw)
    np.testing.assert_allclose(result.model.vector(), true.vector(), rtol=1e-4)


@pytest.mark.slow
def test_a_second_start_escapes_a_poor_local_minimum():
    """The replayed objective is not convex: on the published DGX H100 x2 MLPerf run the descent from the first guess
    (the roofline's curves) stops at an rms log error of 0.21, the descent from the best-scored other start at 0.15;
    the fit keeps the lower, so it is never worse than the first guess's descent."""
    from pathlib import Path

    from planner.calibrate.fit import _descend, initial_guess
    from planner.profiles.db import ProfileDB

    mlperf = Path(__file__).resolve().parents[3] / "tests/fixtures/calibrate/public/mlcommons-llama2-70b-server"
    db = ProfileDB.load(mlperf / "profiles")
    runs, _ = load_all([mlperf / "v4.0-nvidia-dgx-h100x2-99.9.mlperf_log_summary.txt"], db)
    hw = current_hardware(db, "H100-80G", 2, "llama2-70b-fp8")
    first = _descend(runs, [], hw, initial_guess(hw).vector(), "first guess")
    best = fit(runs, [], hw)
    assert first.rms_log_ratio == pytest.approx(0.21, abs=0.01)
    assert best.rms_log_ratio == pytest.approx(0.15, abs=0.01) and "start x1 prompt, x2 token" in best.status
