"""Request workloads: Azure LLM inference traces (2023 schema) and seeded synthetic arrivals.

The trace schema is ``TIMESTAMP,ContextTokens,GeneratedTokens`` with timestamps ``YYYY-MM-DD HH:MM:SS.fffffff``.
Loading checks every row and reports the first problems with their row numbers (1-based data rows; the header is
line 1 of the file, so row r sits on line r + 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from planner.errors import SpecError, SpecProblem
from planner.paths import display_path
from planner.spec.models import LengthDistribution, Workload

TRACE_COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")


@dataclass(frozen=True)
class Requests:
    """Arrays of equal length: arrival time (s from the first arrival), prompt and output tokens."""

    arrival_s: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray

    def __len__(self) -> int:
        return int(self.arrival_s.shape[0])

    @property
    def duration_s(self) -> float:
        return float(self.arrival_s[-1] - self.arrival_s[0]) if len(self) > 1 else 0.0

    @property
    def rate_rps(self) -> float:
        return (len(self) - 1) / self.duration_s if self.duration_s > 0 else float("nan")


def load_trace(path: Path) -> Requests:
    """Read and validate an Azure-schema trace CSV."""
    name = display_path(path)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise SpecError.single(name, "", "trace file not found") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise SpecError.single(name, "", f"cannot read trace CSV: {str(exc).splitlines()[0]}") from None
    if tuple(df.columns) != TRACE_COLUMNS:
        raise SpecError.single(
            name,
            "header",
            f"expected columns {','.join(TRACE_COLUMNS)}, got {','.join(map(str, df.columns))}",
            1,
        )
    if df.empty:
        raise SpecError.single(name, "", "trace has no rows", 2)
    problems: list[SpecProblem] = []
    ts = pd.to_datetime(df["TIMESTAMP"], format="%Y-%m-%d %H:%M:%S.%f", errors="coerce")
    ctx = pd.to_numeric(df["ContextTokens"], errors="coerce")
    gen = pd.to_numeric(df["GeneratedTokens"], errors="coerce")
    for col, bad, what in (
        ("TIMESTAMP", ts.isna(), "timestamp YYYY-MM-DD HH:MM:SS.fffffff"),
        ("ContextTokens", _not_a_count(ctx), "non-negative integer"),
        ("GeneratedTokens", _not_a_count(gen), "non-negative integer"),
    ):
        for idx in np.flatnonzero(bad.to_numpy())[:5]:
            problems.append(
                SpecProblem(name, f"row {idx + 1}.{col}", f"expected {what}, got {df[col].iloc[idx]!r}", idx + 2)
            )
    if not problems:
        deltas = ts.diff().dt.total_seconds().to_numpy()[1:]
        for idx in np.flatnonzero(deltas < 0)[:5]:
            problems.append(SpecProblem(name, f"row {idx + 2}.TIMESTAMP", "timestamps must not decrease", idx + 3))
    if problems:
        raise SpecError(problems)
    t = (ts - ts.iloc[0]).dt.total_seconds().to_numpy(dtype=float)
    return Requests(t, ctx.to_numpy(dtype=np.int64), gen.to_numpy(dtype=np.int64))


def _not_a_count(values: pd.Series[float]) -> pd.Series[bool]:
    """Rows that are not a non-negative integer (missing, negative or fractional)."""
    return values.isna() | (values < 0) | (values != values.round())


def sample_lengths(dist: LengthDistribution, n: int, rng: np.random.Generator) -> npt.NDArray[np.int64]:
    """Draw ``n`` token lengths from a spec distribution (clipped to [min, max], rounded)."""
    out: npt.NDArray[np.float64]
    if dist.distribution == "fixed":
        out = np.full(n, float(dist.mean or 1))
    elif dist.distribution == "uniform":
        out = rng.uniform(dist.min, float(dist.max or dist.min), n)
    elif dist.distribution == "normal":
        out = rng.normal(float(dist.mean or 1), float(dist.std or 0), n)
    else:  # lognormal parameterised by its own mean and std
        mean, std = float(dist.mean or 1), float(dist.std or 0)
        sigma2 = np.log1p((std / mean) ** 2)
        out = rng.lognormal(np.log(mean) - sigma2 / 2, np.sqrt(sigma2), n)
    hi = dist.max if dist.max is not None else np.inf
    return np.clip(np.rint(out), dist.min, hi).astype(np.int64)


def poisson_arrivals(rate_rps: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """Arrival times of ``n`` requests of a Poisson process at ``rate_rps``, starting at 0."""
    gaps = rng.exponential(1.0 / rate_rps, n)
    gaps[0] = 0.0
    return np.cumsum(gaps)


def synthesize(
    workload: Workload,
    n: int,
    rng: np.random.Generator,
    trace: Requests | None = None,
    rate_rps: float | None = None,
) -> Requests:
    """``n`` requests: lengths from the trace (resampled) or distributions; arrivals Poisson at the rate.

    With ``workload.arrival == 'trace'`` and a trace, the trace's own arrivals are replayed (first ``n`` rows).
    """
    if trace is not None and workload.arrival == "trace":
        m = min(n, len(trace))
        return Requests(trace.arrival_s[:m], trace.input_tokens[:m], trace.output_tokens[:m])
    rate = rate_rps or workload.rate_rps or (trace.rate_rps if trace is not None else None)
    if not rate or not np.isfinite(rate):
        raise SpecError.single("workload", "workload.rate_rps", "a request rate is needed (rate_rps or --rps)")
    if trace is not None:
        idx = rng.integers(0, len(trace), n)
        inp, out = trace.input_tokens[idx], trace.output_tokens[idx]
    elif workload.input_tokens is not None and workload.output_tokens is not None:
        inp = sample_lengths(workload.input_tokens, n, rng)
        out = sample_lengths(workload.output_tokens, n, rng)
    else:
        raise SpecError.single("workload", "workload", "needs a trace or input_tokens/output_tokens")
    return Requests(poisson_arrivals(rate, n, rng), inp, out)
