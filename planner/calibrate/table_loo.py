"""Leave-one-out accuracy of the shipped measured tables: how well a measured point is predicted from the others.

Two tables hold measured latencies the simulators interpolate:

* ``splitwise_perf`` (Splitwise DGX-A100 / DGX-H100 iteration times, prompt and token curves by batch tokens): each
  interior knot is dropped and predicted (a) by the simulator's own rule, piecewise-linear interpolation between the
  remaining knots (:class:`planner.splitwise.perf.Curve`), and (b) by the iteration model
  (:mod:`planner.calibrate.itermodel`) fitted to the remaining knots of the curve;
* ``helix_layer_latency`` (Helix per-layer times by tokens in the batch, prompt and decode, per node type): each
  interior row is dropped and predicted by linear interpolation of the rest (the rule of ``plan simulate``).

End knots are not scored: the simulators do not extrapolate beyond a measured grid (splitwise extrapolates
linearly, but its batches stay inside the grid on every shipped spec). The figures are reported in docs/accuracy.md
and are the measured error bands of rows with provenance ``measured`` (:mod:`planner.calibrate.bands`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from planner.calibrate.agreement import agreement_entries, read_records
from planner.calibrate.gridded import exp_on_grid, least_squares_on_grid
from planner.paths import SHIPPED_PROFILES
from planner.profiles.db import ProfileDB
from planner.spec.sections.splitwise import AnalyticProfile
from planner.splitwise.machines import Machine
from planner.splitwise.perf import Curve, PerfProfile, analytic_profile

SPLITWISE = "splitwise_perf"
HELIX = "helix_layer_latency"


@dataclass(frozen=True)
class LooStats:
    """Absolute relative errors of the held-out points of one table and method."""

    table: str
    method: str
    curves: int
    points: int
    mean_abs: float
    median_abs: float
    p90_abs: float
    max_abs: float

    @classmethod
    def of(cls, table: str, method: str, curves: int, errs: list[float]) -> LooStats:
        a = np.abs(np.asarray(errs, dtype=float))
        return cls(table, method, curves, int(a.size), float(a.mean()), float(np.median(a)),
                   float(np.percentile(a, 90)), float(a.max()))  # fmt: skip


def _interp_loo(x: np.ndarray, y: np.ndarray) -> list[float]:
    errs: list[float] = []
    for i in range(1, len(x) - 1):
        keep = np.arange(len(x)) != i
        pred = float(Curve(tuple(x[keep]), tuple(y[keep]))(x[i]))
        errs.append(pred / y[i] - 1.0)
    return errs


def _poly_fit(x: np.ndarray, y: np.ndarray, degree: int) -> np.ndarray:
    """Non-negative coefficients of ``sum c_k (x/1000)^k`` fitted in log ratio (the iteration model's shape)."""
    k = x / 1000.0
    basis = np.column_stack([k**d for d in range(degree + 1)])
    c0, *_ = np.linalg.lstsq(basis, y, rcond=None)
    c0 = np.maximum(c0, 1e-3 * max(float(y.min()), 1e-6))

    def log_ratio(u: np.ndarray) -> np.ndarray:
        ratio: np.ndarray = np.log(basis @ np.exp(u) / y)
        return ratio

    def jacobian(u: np.ndarray) -> np.ndarray:
        # d log(sum_k B_ik e^u_k) / d u_j = B_ij e^u_j / sum_k B_ik e^u_k: exact, where finite differences on the
        # flat directions (a coefficient near zero) made the answer depend on the step
        terms: np.ndarray = basis * np.exp(u)
        shares: np.ndarray = terms / terms.sum(axis=1, keepdims=True)
        return shares

    sol = least_squares_on_grid(log_ratio, np.log(c0), jac=jacobian, method="trf")
    coef: np.ndarray = exp_on_grid(sol.x)
    return coef


def _model_loo(x: np.ndarray, y: np.ndarray, degree: int) -> list[float]:
    errs: list[float] = []
    for i in range(1, len(x) - 1):
        keep = np.arange(len(x)) != i
        c = _poly_fit(x[keep], y[keep], degree)
        pred = float(sum(cd * (x[i] / 1000.0) ** d for d, cd in enumerate(c)))
        errs.append(pred / y[i] - 1.0)
    return errs


def splitwise_loo(db: ProfileDB) -> list[LooStats]:
    """LOO of every measured (model, hardware, tp) curve of ``splitwise_perf``, per phase and method."""
    df = db.table(SPLITWISE)
    df = df[df["provenance"] == "measured"]
    out: list[LooStats] = []
    for col, degree in (("prompt_ms", 2), ("token_ms", 1)):
        interp: list[float] = []
        model: list[float] = []
        curves = 0
        for _, g in df.groupby(["model", "hardware", "tp"], sort=True):
            g = g.sort_values("batch_tokens")
            x = g["batch_tokens"].to_numpy(dtype=float)
            y = g[col].to_numpy(dtype=float)
            if len(x) < 4:
                continue
            curves += 1
            interp += _interp_loo(x, y)
            model += _model_loo(x, y, degree)
        phase = col.removesuffix("_ms")
        out.append(LooStats.of(SPLITWISE, f"{phase}: piecewise-linear (simulator)", curves, interp))
        out.append(LooStats.of(SPLITWISE, f"{phase}: iteration model fit", curves, model))
    return out


def helix_loo(db: ProfileDB) -> list[LooStats]:
    """LOO of every measured (model, gpu, phase) curve of ``helix_layer_latency`` by linear interpolation."""
    df = db.table(HELIX)
    df = df[(df["provenance"] == "measured") & (df["tokens_in_batch"] > 0)]
    out: list[LooStats] = []
    for phase in ("prompt", "decode"):
        errs: list[float] = []
        curves = 0
        for _, g in df[df["phase"] == phase].groupby(["model", "gpu"], sort=True):
            g = g.sort_values("tokens_in_batch")
            x = g["tokens_in_batch"].to_numpy(dtype=float)
            y = g["ms_per_layer"].to_numpy(dtype=float)
            if len(x) < 3 or (y <= 0).any():
                continue
            curves += 1
            for i in range(1, len(x) - 1):
                keep = np.arange(len(x)) != i
                errs.append(float(np.interp(x[i], x[keep], y[keep])) / y[i] - 1.0)
        out.append(LooStats.of(HELIX, f"{phase}: linear interpolation (simulator)", curves, errs))
    return out


def shipped_loo(db: ProfileDB) -> list[LooStats]:
    """Both tables' leave-one-out statistics, in a fixed order."""
    return splitwise_loo(db) + helix_loo(db)


def markdown(stats: list[LooStats]) -> str:
    """The docs/accuracy.md table of ``stats`` (percentages, one decimal)."""
    lines = [
        "| table | held-out points predicted by | curves | points | mean | median | p90 | max |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for s in stats:
        lines.append(
            f"| `{s.table}` | {s.method} | {s.curves} | {s.points} | {s.mean_abs * 100:.1f} % | "
            f"{s.median_abs * 100:.1f} % | {s.p90_abs * 100:.1f} % | {s.max_abs * 100:.1f} % |"
        )
    return "\n".join(lines) + "\n"


#: The band of synthetic rows: an assumption, not a measurement (docs/accuracy.md, "Error bands").
SYNTHETIC_BAND = 0.25


def analytic_errors(db: ProfileDB) -> list[float]:
    """Relative errors of the analytic roofline against every measured Splitwise knot it would stand in for.

    Prompt curves at every knot; token curves at decode batches up to 512 sequences (the simulator's
    ``max_batch_requests``: larger token knots are never read).
    """
    df = db.table(SPLITWISE)
    df = df[df["provenance"] == "measured"]
    gpus = {
        str(e["perf_hardware"]): db.resolve_gpu(str(e["gpu"]))
        for e in db.catalog("machines").values()
        if isinstance(e, dict) and e.get("perf_hardware")
    }
    errs: list[float] = []
    for (model, hw, tp), g in df.groupby(["model", "hardware", "tp"], sort=True):
        gpu = gpus.get(str(hw))
        if gpu is None:
            continue
        analytic = _analytic(db, gpu, int(str(tp)), str(model))
        x = g["batch_tokens"].to_numpy(dtype=float)
        errs += list(np.asarray(analytic.prompt(x)) * 1e3 / g["prompt_ms"].to_numpy(dtype=float) - 1.0)
        k = x <= 512
        errs += list(np.asarray(analytic.token(x[k])) * 1e3 / g["token_ms"].to_numpy(dtype=float)[k] - 1.0)
    return errs


def _analytic(db: ProfileDB, gpu: str, tp: int, model: str) -> PerfProfile:
    """The analytic curves of (gpu, tp, model), as if the table had no rows for it."""
    g = db.gpu(gpu)
    machine = Machine(
        name=f"{tp}x{gpu}", short="", aliases=(), gpu=gpu, gpus=tp, tp=tp, gpu_memory_bytes=g.vram_bytes,
        cost_usd_h=0.0, power_kw=0.0, power_kw_gpu_tdp=0.0, power_kw_machine_tdp=None,
        interconnect_bytes_s=g.nic_gbps * 1e9 / 8 * tp, perf_hardware=None, derive_from=None, source="accuracy",
    )  # fmt: skip
    return analytic_profile(db.model(model), machine, db, AnalyticProfile())


def band_entries(db: ProfileDB) -> dict[str, dict[str, object]]:
    """The shipped ``accuracy`` catalogue (profiles/accuracy.yaml), computed from the tables it describes."""
    sw = splitwise_loo(db)
    hx = helix_loo(db)

    def pooled(stats: list[LooStats]) -> float:
        pts = sum(s.points for s in stats)
        return sum(s.mean_abs * s.points for s in stats) / pts

    sw_sim = [s for s in sw if "simulator" in s.method]
    sw_err, hx_err = pooled(sw_sim), pooled(hx)
    an = np.abs(np.asarray(analytic_errors(db)))
    loo = "mean absolute leave-one-out error of every interior measured point, predicted by the simulator's rule"
    analytic = {
        "basis": "analytic",
        "err_ratio": round(float(an.mean()), 4),
        "method": f"mean absolute error of the analytic roofline against {an.size} measured Splitwise knots",
    }
    entries: dict[str, dict[str, object]] = {
        "measured:splitwise_perf": {"basis": "measured", "err_ratio": round(sw_err, 4), "method": loo},
        "measured:helix_layer_latency": {"basis": "measured", "err_ratio": round(hx_err, 4), "method": loo},
        "measured:helix_throughput": {
            "basis": "measured",
            "err_ratio": round(hx_err, 4),
            "method": "computed by the Helix profile model from helix_layer_latency: that table's figure",
        },
        "measured": {
            "basis": "measured",
            "err_ratio": round(max(sw_err, hx_err), 4),
            "method": "other measured rows: the wider of the two shipped measured tables' figures",
        },
        "analytic": analytic,
        "roofline": {**analytic, "basis": "roofline"},
        "synthetic": {
            "basis": "synthetic",
            "err_ratio": SYNTHETIC_BAND,
            "method": "assumption: no measured runs to check the synthetic generators against",
        },
    }
    # The served model's own error against plan simulate (Helix predicted_* figures add it to their profile band).
    rows, records = read_records(SHIPPED_PROFILES)
    entries.update(agreement_entries(rows, records))
    return entries
