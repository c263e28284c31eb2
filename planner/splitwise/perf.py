"""Iteration-time model: prompt and token iteration times, piecewise-linear in batch tokens (Splitwise section V-B).

SplitwiseSim's database predictor, which the paper reports at MAPE < 3 %, takes x = batch tokens (sum of prompt
sizes of the prompt tasks + 1 per token task), interpolates the median measured time piecewise-linearly between the
profiled knots (x = 128 ... 32768) and extrapolates linearly beyond them. A batch of only prompts uses the prompt
curve, a batch of only tokens the token curve, and a mixed batch the prompt curve x 1.1 (reference README 6.2).
Measured noise is kept: the Llama2-70B / H100 prompt knots are not monotone, and the interpolator does not care.

Curves come from ``tables/splitwise_perf.csv`` (provenance per row: measured, or synthetic for the capped H100);
a machine with ``derive_from`` scales another machine's curves (the capped H100: prompt x 1.3, token x 1.0); any
other (model, machine) pair gets an analytic roofline estimate, marked ``analytic`` in the plan.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from planner.profiles.db import ProfileDB
from planner.profiles.roofline import node_peaks, peak_note, roofline_s
from planner.profiles.schema import ModelProfile, Provenance
from planner.spec.sections.splitwise import AnalyticProfile
from planner.splitwise.machines import Machine, find_machine

TABLE = "splitwise_perf"
#: Batch-token knots of the analytic fallback (the profiled grid of SplitwiseSim).
ANALYTIC_KNOTS = np.array([1, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768], dtype=float)
#: Iteration times never go below this (s): guards linear extrapolation towards x = 0.
MIN_ITERATION_S = 1e-4


@dataclass(frozen=True)
class Curve:
    """A piecewise-linear function of batch tokens with linear extrapolation at both ends (seconds)."""

    x: tuple[float, ...]
    y_s: tuple[float, ...]

    def __call__(self, x: np.ndarray | float) -> npt.NDArray[np.float64]:
        xs = np.asarray(self.x, dtype=float)
        ys = np.asarray(self.y_s, dtype=float)
        q = np.asarray(x, dtype=float)
        out: npt.NDArray[np.float64] = np.interp(q, xs, ys)
        if len(xs) >= 2:
            lo_slope = (ys[1] - ys[0]) / (xs[1] - xs[0])
            hi_slope = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
            out = np.where(q < xs[0], ys[0] + lo_slope * (q - xs[0]), out)
            out = np.where(q > xs[-1], ys[-1] + hi_slope * (q - xs[-1]), out)
        return np.maximum(out, MIN_ITERATION_S)

    def scaled(self, factor: float) -> Curve:
        return Curve(self.x, tuple(v * factor for v in self.y_s))

    def envelope(self) -> Curve:
        """The running maximum: a non-decreasing upper envelope (used where monotonicity must hold)."""
        return Curve(self.x, tuple(float(v) for v in np.maximum.accumulate(np.asarray(self.y_s))))


@dataclass(frozen=True)
class PerfProfile:
    """Prompt and token iteration-time curves of one model on one machine type, with what they rest on."""

    model: str
    machine: str
    prompt: Curve
    token: Curve
    provenance: Provenance
    source: str

    def prompt_s(self, batch_tokens: np.ndarray | float) -> np.ndarray:
        return self.prompt(batch_tokens)

    def token_s(self, batch_tokens: np.ndarray | float) -> np.ndarray:
        return self.token(batch_tokens)


def _table_profile(db: ProfileDB, model: ModelProfile, machine: Machine) -> PerfProfile | None:
    if machine.perf_hardware is None or not db.has_table(TABLE):
        return None
    df = db.table(TABLE)
    models = df["model"].astype(str).map(lambda m: db.resolve_model(m) or m)
    rows = df[(models == model.name) & (df["hardware"] == machine.perf_hardware) & (df["tp"] == machine.tp)]
    if rows.empty:
        return None
    rows = rows.sort_values("batch_tokens", kind="stable")
    x = tuple(float(v) for v in rows["batch_tokens"])
    provs = sorted(set(rows["provenance"]))
    prov: Provenance = "measured" if provs == ["measured"] else ("synthetic" if "synthetic" in provs else provs[0])
    return PerfProfile(
        model=model.name,
        machine=machine.name,
        prompt=Curve(x, tuple(float(v) / 1e3 for v in rows["prompt_ms"])),
        token=Curve(x, tuple(float(v) / 1e3 for v in rows["token_ms"])),
        provenance=prov,
        source=f"{TABLE}.csv: {rows['source'].iloc[0]} ({machine.perf_hardware}, tp {machine.tp}, {len(rows)} knots)",
    )


def analytic_profile(model: ModelProfile, machine: Machine, db: ProfileDB, opts: AnalyticProfile) -> PerfProfile:
    """Roofline estimate (the shared :mod:`planner.profiles.roofline`): an iteration costs
    max(FLOPs / achieved FLOP/s, weight bytes / achieved HBM bandwidth).

    Prompt batches of x tokens are compute-bound (2 x active parameters FLOPs per token, Kaplan et al.), token
    batches memory-bound (all weights streamed once per iteration); ``mfu``/``mbu`` are the achieved shares of the
    GPU peak, ``overhead`` a fixed launch/communication cost per iteration. Context-independent, like the measured
    token curves of the reference.
    """
    gpu = db.gpus[machine.gpu]
    peaks = node_peaks(gpu, machine.tp, opts.mfu, opts.mbu, dtype_bytes=model.dtype_bytes)
    flops = model.flops_per_token() * ANALYTIC_KNOTS
    prompt = opts.overhead + roofline_s(flops, model.weight_bytes, peaks)
    token = opts.overhead + roofline_s(flops, model.weight_bytes, peaks)
    x = tuple(float(v) for v in ANALYTIC_KNOTS)
    return PerfProfile(
        model=model.name,
        machine=machine.name,
        prompt=Curve(x, tuple(float(v) for v in prompt)),
        token=Curve(x, tuple(float(v) for v in token)),
        provenance="analytic",
        source=(
            f"analytic roofline: {machine.tp}x {machine.gpu}{peak_note(gpu, model.dtype_bytes)}, mfu {opts.mfu:g}, "
            f"mbu {opts.mbu:g}, overhead {opts.overhead * 1e3:g} ms"
        ),
    )


def build_profile(
    db: ProfileDB,
    model: ModelProfile,
    machine: Machine,
    machines: dict[str, Machine],
    opts: AnalyticProfile,
    _depth: int = 0,
) -> PerfProfile:
    """The profile of ``model`` on ``machine``: table rows, else derived from another machine, else analytic."""
    found = _table_profile(db, model, machine)
    if found is not None:
        return found
    if machine.derive_from is not None and _depth < 4:
        base_machine = find_machine(machines, machine.derive_from.machine)
        if base_machine is not None:
            base = build_profile(db, model, base_machine, machines, opts, _depth + 1)
            d = machine.derive_from
            return PerfProfile(
                model=model.name,
                machine=machine.name,
                prompt=base.prompt.scaled(d.prompt_time_factor),
                token=base.token.scaled(d.token_time_factor),
                provenance="analytic" if base.provenance == "analytic" else "synthetic",
                source=(
                    f"derived from {base_machine.name} (prompt x{d.prompt_time_factor:g}, token "
                    f"x{d.token_time_factor:g}); base: {base.source}"
                ),
            )
    return analytic_profile(model, machine, db, opts)


def lookup_list(curve: Curve, size: int) -> list[float]:
    """``curve`` evaluated at every integer batch size 0..size-1 (x = 0 maps to x = 1), as a Python list.

    The simulator indexes these lists in its inner loop: an O(1) list lookup costs far less than ``np.interp``.
    """
    xs = np.arange(size, dtype=float)
    xs[0] = 1.0
    return [float(v) for v in curve(xs)]
