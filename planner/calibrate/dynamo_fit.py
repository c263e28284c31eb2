"""Fit the model behind ``plan dynamo``'s profile to measured runs that state a clock or carry power.

The dynamo profile (``profiles/tables/dynamo_profile.csv``) holds, per (class, TP, locked SM clock), a load sweep of
p99 TTFT / TBT / E2E and instance power. The shipped rows are written by the physical model of
:mod:`planner.profiles.synth.dynamo_physics` with its default :class:`Parameters`. Calibration fits the parameters
that carry the hardware's behaviour, then writes the same sweeps from the fitted model for every (TP, clock) that
was measured, so the rows the planner reads reproduce the measured runs:

| symbol | parameter | what pins it down |
|---|---|---|
| ``mfu_pre`` | ``mfu_prefill`` | TTFT (prefill is compute-bound: scales with 1 / clock) |
| ``mbu`` | ``mbu_decode`` | TBT at small batches (decode streams the weights) |
| ``t_cpu`` | ``t_cpu_s`` | iteration time that does not move with the clock |
| ``t_clk`` | ``t_clk_s`` | iteration time that scales with 1 / clock (runs at two or more clocks) |
| ``P0``, ``P0f`` | ``idle_base_w``, ``idle_clock_w`` | power at low load, across clocks |
| ``P_sm``, ``P_hbm`` | ``sm_dyn_w``, ``hbm_w`` | power under load: prefill (SM-heavy) against decode (HBM-heavy) |

Observations (one per run or iteration row; ``I``, ``O`` the run's mean input and output tokens, ``lam`` its load:
the Poisson arrival rate of an open-loop run, the measured request throughput of a closed-loop one)::

    serve(t, f; I, O, lam)  ->  TTFT p99, TBT p99, E2E p99, power      (compared with TTFT p99, TPOT p99, E2E p99,
                                                                       the run's power; open loop also req/s)
    iteration(t, f; b, ctx, chunk) -> time, power                       (iteration-CSV rows; idle rows: idle power)

The parameters minimise ``sum log(predicted / measured)^2`` over every figure (scipy ``least_squares``, trust region
reflective, over log parameters so all stay positive) plus a weak pull ``PRIOR_WEIGHT * log(theta / theta0)`` to
the start point, which only decides parameters the data cannot see (no power measured: the power parameters stay
as they were). The start point is the current parameters; everything is deterministic. The TBT of the profile is
compared with the run's TPOT p99 (the per-request token interval vLLM reports); that approximation is part of the
accuracy ``plan accuracy`` measures.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from planner.calibrate.gridded import exp_on_grid, least_squares_on_grid
from planner.calibrate.ingest import IterationTable, MeasuredRun
from planner.profiles.db import ProfileDB
from planner.profiles.synth.dynamo_physics import DEFAULT_PARAMETERS, Instance, Parameters, max_stable_rps, serve

#: The parameters calibration fits (the others keep their documented values).
FITTED: tuple[str, ...] = (
    "mfu_prefill",
    "mbu_decode",
    "t_cpu_s",
    "t_clk_s",
    "idle_base_w",
    "idle_clock_w",
    "sm_dyn_w",
    "hbm_w",
)
PRIOR_WEIGHT = 1e-3
DIFF_STEP = 1e-4
MAX_EVALUATIONS = 200
#: The run figures the model predicts (throughputs for open-loop runs only).
JUDGED: tuple[str, ...] = (
    "request_throughput_rps",
    "output_tok_s",
    "ttft_p99_ms",
    "tpot_p99_ms",
    "e2e_p99_ms",
    "power_w",
)
#: A figure the model cannot produce (the load is beyond the instance's stable rate) counts as this log ratio.
_MISSING_PENALTY = 3.0


@dataclass(frozen=True)
class Observation:
    """One run or one iteration table of a (gpu, model), with the (TP, clock) it ran at."""

    label: str
    tp: int
    freq_mhz: int
    run: MeasuredRun | None = None
    table: IterationTable | None = None


@dataclass(frozen=True)
class DynamoFit:
    """Fitted parameters of one (gpu, model), what they were fitted on and how well."""

    gpu: str
    model: str
    params: Parameters
    configs: tuple[tuple[int, int], ...]  # (tp, freq_mhz) measured
    labels: tuple[str, ...]
    files: tuple[str, ...]
    residuals: int
    rms_log_ratio: float
    evaluations: int
    status: str
    provenance: str

    def fitted(self) -> dict[str, float]:
        return {k: round(float(getattr(self.params, k)), 6) for k in FITTED}


def is_open_loop(run: MeasuredRun) -> bool:
    """Requests arrive at a stated Poisson rate (not all at once, not held to a concurrency)."""
    return run.request_rate_rps is not None and run.max_concurrency is None


def load_of(run: MeasuredRun) -> float:
    """The arrival rate the run put on the instance (see the module notes)."""
    if is_open_loop(run):
        assert run.request_rate_rps is not None
        return run.request_rate_rps
    return run.metrics["request_throughput_rps"]


def observations(runs: Sequence[MeasuredRun], tables: Sequence[IterationTable], db: ProfileDB) -> list[Observation]:
    """Every DVFS-capable run and table (a clock or power stated), the clock defaulting to the GPU's maximum."""
    out: list[Observation] = []
    for r in runs:
        if r.dvfs:
            out.append(Observation(r.label, r.tp, r.freq_mhz or _fmax(db, r.gpu), run=r))
    for t in tables:
        if t.dvfs and t.rows:
            out.append(Observation(t.label, t.tp, t.freq_mhz or _fmax(db, t.gpu), table=t))
    return out


def observations_by_hardware(
    runs: Sequence[MeasuredRun], tables: Sequence[IterationTable], db: ProfileDB
) -> dict[tuple[str, str], list[Observation]]:
    """The DVFS-capable observations grouped per (gpu, model), file order kept: one physics fit per group."""
    groups: dict[tuple[str, str], list[Observation]] = {}
    for o in observations(runs, tables, db):
        src = o.run if o.run is not None else o.table
        assert src is not None
        groups.setdefault((src.gpu, src.model), []).append(o)
    return groups


def _fmax(db: ProfileDB, gpu: str) -> int:
    f = db.gpu(gpu).sm_clock_mhz_max
    if not f:
        raise ValueError(f"{gpu}: no sm_clock_mhz_max in gpus.yaml; state the run's freq_mhz")
    return int(f)


def _mean(values: tuple[int, ...]) -> float:
    return float(np.mean(values)) if values else 0.0


def predict_run(run: MeasuredRun, inst: Instance) -> dict[str, float]:
    """The figures the model predicts for ``run`` on ``inst`` (empty latencies when the load is unstable)."""
    i_tok, o_tok = max(1, round(_mean(run.input_tokens))), max(1, round(_mean(run.output_tokens)))
    lam = load_of(run)
    point = serve(inst, i_tok, o_tok, lam)
    out: dict[str, float] = {}
    if point is None:
        if is_open_loop(run):
            cap = max_stable_rps(inst, i_tok, o_tok)
            out["request_throughput_rps"] = cap
            out["output_tok_s"] = cap * _mean(run.output_tokens)
        return out
    if is_open_loop(run):
        out["request_throughput_rps"] = lam
        out["output_tok_s"] = lam * _mean(run.output_tokens)
    out["ttft_p99_ms"] = point.ttft_p99_s * 1e3
    out["tpot_p99_ms"] = point.tbt_p99_s * 1e3
    out["e2e_p99_ms"] = point.e2e_p99_s * 1e3
    out["power_w"] = point.power_w
    return out


def _table_pairs(t: IterationTable, inst: Instance) -> list[tuple[float, float]]:
    """(predicted, measured) for every time and power of the table's rows."""
    out: list[tuple[float, float]] = []
    kappa = inst.params.kappa_decode
    for row in t.rows:
        if row.kind == "idle":
            if row.power_w:
                out.append((inst.idle_w, row.power_w))
            continue
        if row.kind == "prompt":
            s, act, hbm = inst.iteration(0.0, 0.0, row.tokens)
        else:
            s, act, hbm = inst.iteration(row.batch, row.context)
            act = kappa + (1 - kappa) * act
        if row.ms:
            out.append((s * 1e3, row.ms))
        if row.power_w:
            out.append((inst.idle_w + inst.tp * inst.iteration_power_w(act, hbm), row.power_w))
    return out


def _log_ratios(obs: Sequence[Observation], params: Parameters, db: ProfileDB, gpu: str, model: str) -> list[float]:
    g, m = db.gpu(gpu), db.model(model)
    out: list[float] = []
    for o in obs:
        inst = Instance(g, m, o.tp, float(o.freq_mhz), params)
        if o.run is not None:
            pred = predict_run(o.run, inst)
            for k, v in sorted(o.run.metrics.items()):
                if v <= 0 or k not in JUDGED or k == "output_tok_s":
                    continue
                if k == "request_throughput_rps" and not is_open_loop(o.run):
                    continue  # a closed-loop run's throughput is its load: nothing to predict
                p = pred.get(k)
                out.append(math.log(p / v) if p is not None and p > 0 else _MISSING_PENALTY)
        if o.table is not None:
            out += [math.log(max(p, 1e-12) / v) for p, v in _table_pairs(o.table, inst) if v > 0]
    return out


def with_fitted(base: Parameters, values: dict[str, float]) -> Parameters:
    fields: dict[str, Any] = {k: float(v) for k, v in values.items() if k in FITTED}
    return replace(base, **fields)


def fit_dynamo(
    obs: Sequence[Observation], db: ProfileDB, gpu: str, model: str, start: Parameters | None = None
) -> tuple[Parameters, int, float, int, str]:
    """Least squares of :data:`FITTED` to ``obs``; returns (params, residuals, rms log ratio, evaluations, status).

    The weak prior pulls towards the current parameters; ``start`` only moves the start point (leave-one-out folds
    do not use it: they start from the current parameters, as the full fit, never from a fit that saw the run).
    """
    if not obs:
        raise ValueError("nothing to fit")
    base = current_parameters(db, gpu, model)[0]
    u0 = np.log(np.asarray([getattr(base, k) for k in FITTED], dtype=float))
    x0 = np.log(np.asarray([getattr(start or base, k) for k in FITTED], dtype=float))

    def params_of(u: np.ndarray) -> Parameters:
        return with_fitted(base, dict(zip(FITTED, exp_on_grid(u), strict=True)))

    def residuals(u: np.ndarray) -> np.ndarray:
        data = _log_ratios(obs, params_of(u), db, gpu, model)
        return np.asarray(data + list(PRIOR_WEIGHT * (u - u0)), dtype=float)

    sol = least_squares_on_grid(
        residuals,
        x0,
        method="trf",
        diff_step=np.full(len(u0), DIFF_STEP),
        xtol=1e-10,
        ftol=1e-10,
        max_nfev=MAX_EVALUATIONS,
    )
    params = params_of(sol.x)
    res = np.asarray(_log_ratios(obs, params, db, gpu, model), dtype=float)
    rms = float(np.sqrt(np.mean(res**2))) if res.size else 0.0
    return params, int(res.size), rms, int(sol.nfev), str(sol.message)


def calibrate_dynamo(
    runs: Sequence[MeasuredRun], tables: Sequence[IterationTable], db: ProfileDB
) -> list[tuple[DynamoFit, list[Observation]]]:
    """One fit per (gpu, model) among the DVFS-capable runs and tables (file order kept)."""
    groups = observations_by_hardware(runs, tables, db)
    out: list[tuple[DynamoFit, list[Observation]]] = []
    for (gpu, model), group in groups.items():
        params, n, rms, nfev, status = fit_dynamo(group, db, gpu, model)
        srcs = [o.run if o.run is not None else o.table for o in group]
        synthetic = any(s is not None and s.provenance == "synthetic" for s in srcs)
        files = tuple(dict.fromkeys(s.file for s in srcs if s is not None))
        fitted = DynamoFit(
            gpu=gpu,
            model=model,
            params=params,
            configs=tuple(sorted({(o.tp, o.freq_mhz) for o in group})),
            labels=tuple(o.label for o in group),
            files=files,
            residuals=n,
            rms_log_ratio=rms,
            evaluations=nfev,
            status=status,
            provenance="synthetic" if synthetic else "measured",
        )
        out.append((fitted, group))
    return out


# ----------------------------------------------------------------------------------------------- current profile
CALIBRATION_FILE = "calibration.yaml"
SECTION = "dynamo_fits"


def fit_key(gpu: str, model: str) -> str:
    return f"{gpu}/{model}"


def current_parameters(db: ProfileDB, gpu: str, model: str) -> tuple[Parameters, str, str]:
    """The parameters behind the profile rows ``plan dynamo`` reads for (gpu, model), their basis and source.

    A ``plan calibrate`` fit in a layered profile directory (its ``calibration.yaml``) wins; otherwise the defaults
    the shipped synthetic table was generated with.
    """
    for root in reversed(db.roots[1:]):
        path = Path(root) / CALIBRATION_FILE
        if not path.is_file():
            continue
        doc: Any = yaml.safe_load(path.read_text()) or {}
        entry = (doc.get(SECTION) or {}).get(fit_key(gpu, model)) if isinstance(doc, dict) else None
        if isinstance(entry, dict) and isinstance(entry.get("parameters"), dict):
            params = with_fitted(DEFAULT_PARAMETERS, entry["parameters"])
            basis = str(entry.get("provenance", "measured"))
            return params, basis, f"{CALIBRATION_FILE} dynamo fit ({', '.join(entry.get('files', [])[:1])})"
    return DEFAULT_PARAMETERS, "synthetic", "dynamo physics defaults (profiles/tables/dynamo_profile.csv)"


def parameters_dict(p: Parameters) -> dict[str, float]:
    """All parameters, rounded for the calibration file."""
    return {k: round(float(v), 8) for k, v in asdict(p).items()}


def standard_errors(
    obs: Sequence[Observation], params: Parameters, db: ProfileDB, gpu: str, model: str, noise: float
) -> dict[str, float]:
    """Gauss-Newton standard error of each fitted parameter (relative) if every figure carried ``noise``.

    ``noise * sqrt(diag((J^T J)^-1))`` with ``J`` the Jacobian of the log ratios in the log parameters (central
    differences): how tightly a design of runs and iteration rows pins each parameter, before any fit is run. A
    parameter whose error is above the accuracy wanted needs another design (wider clock range, more TPs, contexts),
    not a looser check.
    """
    u0 = np.log(np.asarray([getattr(params, k) for k in FITTED], dtype=float))
    cols = []
    for i in range(len(u0)):
        du = np.zeros_like(u0)
        du[i] = DIFF_STEP
        hi = _log_ratios(obs, with_fitted(params, dict(zip(FITTED, np.exp(u0 + du), strict=True))), db, gpu, model)
        lo = _log_ratios(obs, with_fitted(params, dict(zip(FITTED, np.exp(u0 - du), strict=True))), db, gpu, model)
        cols.append((np.asarray(hi) - np.asarray(lo)) / (2 * DIFF_STEP))
    jac = np.asarray(cols).T
    cov = np.linalg.inv(jac.T @ jac) * noise**2
    return {k: float(np.sqrt(cov[i, i])) for i, k in enumerate(FITTED)}
