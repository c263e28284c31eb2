"""Least squares on a grid: a fit gives the same bytes whatever linear-algebra kernels the CPU gets."""

from __future__ import annotations

import math
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from planner.calibrate.gridded import GRID, exp_on_grid, least_squares_on_grid, on_grid

ROOT = Path(__file__).resolve().parents[3]


@given(st.floats(min_value=-50.0, max_value=50.0, allow_nan=False))
def test_on_grid_is_the_nearest_grid_point_and_idempotent(v):
    g = float(on_grid([v])[0])
    assert abs(g - v) <= GRID / 2
    assert (g / GRID).is_integer()
    assert float(on_grid([g])[0]) == g


def test_the_objective_only_sees_grid_points_and_the_answer_is_one():
    seen: list[np.ndarray] = []

    def fun(u: np.ndarray) -> np.ndarray:
        seen.append(u.copy())
        return np.asarray([u[0] - 0.3, 2.0 * (u[1] + 1.7), u[0] * u[1] - 0.1], dtype=float)

    sol = least_squares_on_grid(fun, np.asarray([0.123456789, -0.987654321]), method="trf")
    assert seen and all(np.array_equal(on_grid(u), u) for u in seen)
    assert np.array_equal(on_grid(sol.x), sol.x)
    np.testing.assert_array_equal(sol.fun, on_grid(fun(sol.x)))
    # the C library's exp, element by element: numpy's vector exp may differ from it in the last bit on some CPUs
    # (it does on this Intel Xeon, not on the AMD EPYC this test was written on)
    np.testing.assert_array_equal(exp_on_grid(sol.x), [math.exp(v) for v in sol.x])
    np.testing.assert_allclose(exp_on_grid(sol.x), np.exp(sol.x), rtol=4e-16)


_DESCENT = """
from pathlib import Path
from planner.calibrate.fit import _descend, initial_guess
from planner.calibrate.ingest import load_all
from planner.calibrate.itermodel import current_hardware
from planner.paths import SHIPPED_PROFILES
from planner.profiles.db import ProfileDB
db = ProfileDB.load(SHIPPED_PROFILES)
runs, _ = load_all(sorted(Path("tests/fixtures/calibrate/synthetic").glob("synthetic-*.json"))[:2], db)
hw = current_hardware(db, "H100-80G", 8, "llama2-70b")
r = _descend(runs, [], hw, initial_guess(hw).vector(), "first guess")
print(repr(r.model.vector().tolist()), repr(r.rms_log_ratio), r.evaluations)
"""


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="OpenBLAS core types are x86-64's")
def test_a_descent_gives_the_same_bytes_with_other_blas_kernels():
    """OpenBLAS (numpy's and scipy's wheels) picks its kernels per CPU; ``OPENBLAS_CORETYPE`` forces them. Before
    the grid the same descent on two synthetic runs ended 1e-9 apart under the Prescott and Sandybridge kernels
    (17.7473800093 against 17.7473800091 ms prompt base); on the grid both print the same parameters, to the last
    bit."""
    outs = []
    for core in ("Prescott", "Sandybridge"):
        env = {**os.environ, "OPENBLAS_CORETYPE": core}
        res = subprocess.run([sys.executable, "-c", _DESCENT], cwd=ROOT, env=env, capture_output=True, text=True)
        assert res.returncode == 0, res.stderr[-2000:]
        outs.append(res.stdout)
    assert outs[0] == outs[1]
