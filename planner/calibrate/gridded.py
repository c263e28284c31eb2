"""Least squares whose answer does not depend on the CPU's linear-algebra kernels.

Why: scipy's trust-region solver takes its steps through LAPACK and BLAS, and the OpenBLAS that numpy and scipy
ship is built ``DYNAMIC_ARCH``: it picks its kernels per CPU, so sums run in another order and steps differ in
their last digits from one machine to the next. On a smooth, well-posed problem that is invisible; on a replayed
objective (queues that appear and vanish as the parameters move, figures that trade against each other) a
last-digit difference is carried into another trust-region decision and the descent ends at another optimum.
Measured before this module (docs/accuracy.md): the same H200 fit predicted a held-out run's TTFT p99 at
+3,767 %, +3,310 % or +3,032 % depending on the CPU and the kernels OpenBLAS chose.

How: the objective only ever sees parameters on a grid (:data:`GRID` in the solver's variable, the log of the
parameters everywhere here) and returns residuals on the same grid. The solver's own noise (about 1e-16 of a
value) is far below a grid step, so every evaluation returns the same numbers on every CPU, every trust-region
decision taken on them is the same, and the returned parameters are the grid point of the last accepted step.
What is left: an iterate within about 1e-16 of a grid midpoint (odds of order 1e-7 a step), and the C library's
``exp`` (used for the parameters instead of numpy's per-CPU vector code), whose rare last-digit differences between
its own CPU variants the next grid step absorbs.

The grid (2^-32, about 2.3e-10) is far below any figure's measured noise: a parameter moves by at most 1.2e-10 of
itself, a log-ratio residual by 1.2e-10.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.optimize import OptimizeResult, least_squares

#: Grid step of the solver's variable and of the residuals (a power of two: the rounding is exact arithmetic).
GRID = 2.0**-32


def on_grid(values: np.ndarray | list[float]) -> np.ndarray:
    """``values`` rounded to the nearest multiple of :data:`GRID` (ties to even; exact in binary floating point)."""
    out: np.ndarray = np.round(np.asarray(values, dtype=float) / GRID) * GRID
    return out


def exp_on_grid(u: np.ndarray | list[float]) -> np.ndarray:
    """``exp`` of ``u`` on the grid, element by element through the C library (numpy's vectorised ``exp`` has
    CPU-specific code paths that may differ in the last digit)."""
    return np.asarray([math.exp(float(v)) for v in on_grid(u)], dtype=float)


def least_squares_on_grid(
    fun: Callable[[np.ndarray], np.ndarray], x0: np.ndarray | list[float], **kwargs: Any
) -> OptimizeResult:
    """:func:`scipy.optimize.least_squares` of ``fun`` with ``fun`` evaluated on the grid only (module notes).

    ``fun`` (and ``jac`` when it is a function) receives grid points; the result's ``x`` is the grid point the
    solver's last accepted iterate maps to, and ``fun`` evaluated there is what the solver saw. A finite-difference
    Jacobian needs a ``diff_step`` far above :data:`GRID` (the residuals are rounded to it)."""

    def gridded(u: np.ndarray) -> np.ndarray:
        return on_grid(np.asarray(fun(on_grid(u)), dtype=float))

    exact = kwargs.get("jac")
    if callable(exact):
        kwargs["jac"] = lambda u: on_grid(np.asarray(exact(on_grid(u)), dtype=float))
    sol = least_squares(gridded, on_grid(x0), **kwargs)
    sol.x = on_grid(sol.x)
    return sol
