"""The requests a simulation replays: lengths from a trace, arrivals online (trace or Poisson) or offline (fed).

Lengths come from an Azure-schema trace (default: the shipped Azure LLM conversation trace 2023, the paper's
workload). As the Helix length sampler does for that trace, requests with prompts over ``max_input_tokens``
(2048) or outputs over ``max_output_tokens`` (1024), and with fewer than ``MIN_TOKENS`` (4) tokens on either
side, are dropped (Helix ``length_sampler.py``: "remove too long / short request"); the count is reported.

* online, trace replay: the trace's own arrival times, from its first row, in order (``--load F`` rescales them
  so that the offered prompt + output tokens per second are F times the first plan's max-flow bound);
* online, ``--rps R``: Poisson arrivals at R with lengths drawn from the trace (seeded);
* offline: no arrivals; the engine launches requests whenever the cluster has KV room (see
  :mod:`planner.sim.engine`), drawing lengths from the trace in a seeded order.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from planner.paths import SHIPPED_PROFILES, display_path
from planner.workload import Requests, load_trace, poisson_arrivals

#: The default workload: Azure LLM inference trace 2023, conversation (CC BY 4.0; profiles/traces/SOURCE.md).
DEFAULT_TRACE = SHIPPED_PROFILES / "traces" / "azure_llm_2023_conv.csv"
#: Requests with fewer prompt or output tokens than this are dropped, as in the Helix length sampler.
MIN_TOKENS = 4


@dataclass(frozen=True)
class LengthPool:
    """The usable requests of a trace, after the length filter."""

    path: str
    sha256: str
    arrival_s: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray
    dropped: int

    def __len__(self) -> int:
        return int(self.input_tokens.shape[0])

    @property
    def mean_output_tokens(self) -> float:
        return float(self.output_tokens.mean())

    @property
    def mean_input_tokens(self) -> float:
        return float(self.input_tokens.mean())


def load_pool(trace: Path | None, max_input_tokens: int, max_output_tokens: int) -> LengthPool:
    """Read the trace (default: the shipped conversation trace) and apply the Helix length filter."""
    path = trace or DEFAULT_TRACE
    reqs = load_trace(path)
    keep = (
        (reqs.input_tokens >= MIN_TOKENS)
        & (reqs.output_tokens >= MIN_TOKENS)
        & (reqs.input_tokens <= max_input_tokens)
        & (reqs.output_tokens <= max_output_tokens)
    )
    return LengthPool(
        path=display_path(path),
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        arrival_s=reqs.arrival_s[keep],
        input_tokens=reqs.input_tokens[keep].astype(np.int64),
        output_tokens=reqs.output_tokens[keep].astype(np.int64),
        dropped=int((~keep).sum()),
    )


#: An online request stream: arrival times (s, from 0) with prompt and output lengths (the workload's own type).
Arrivals = Requests


def trace_rate_rps(pool: LengthPool) -> float:
    """Mean arrival rate of the (filtered) trace, requests per second."""
    span = float(pool.arrival_s[-1] - pool.arrival_s[0]) if len(pool) > 1 else 0.0
    return (len(pool) - 1) / span if span > 0 else float("nan")


def online_arrivals(
    pool: LengthPool, horizon_s: float, rps: float | None, seed: int, time_scale: float = 1.0
) -> Arrivals:
    """Arrivals before ``horizon_s``: the trace's own (replay) or Poisson at ``rps`` with resampled lengths.

    ``time_scale`` stretches (> 1) or compresses (< 1) the replayed trace's inter-arrival times, keeping the shape
    of its arrival process while changing its mean rate (Helix scales the Azure arrival process to the cluster).
    """
    if rps is None:
        t = (pool.arrival_s - (pool.arrival_s[0] if len(pool) else 0.0)) * time_scale
        keep = t < horizon_s
        return Arrivals(t[keep], pool.input_tokens[keep], pool.output_tokens[keep])
    rng = np.random.default_rng(seed)
    n = int(rps * horizon_s * 1.2 + 50)
    t = poisson_arrivals(rps, n, rng)
    while t[-1] < horizon_s:  # astronomically unlikely; keeps the horizon covered whatever the draw
        t = np.concatenate([t, t[-1] + poisson_arrivals(rps, n, rng)[1:] + 1.0 / rps])
    idx = rng.integers(0, len(pool), t.shape[0])
    keep = t < horizon_s
    return Arrivals(t[keep], pool.input_tokens[idx][keep], pool.output_tokens[idx][keep])


class OfflineSampler:
    """Seeded draws of (prompt, output) lengths from the pool, in chunks (offline feeding)."""

    __slots__ = ("_pool", "_rng", "_buf_in", "_buf_out", "_pos")

    CHUNK = 4096

    def __init__(self, pool: LengthPool, seed: int) -> None:
        self._pool = pool
        self._rng = np.random.default_rng(seed)
        self._buf_in: list[int] = []
        self._buf_out: list[int] = []
        self._pos = 0

    def draw(self) -> tuple[int, int]:
        if self._pos >= len(self._buf_in):
            idx = self._rng.integers(0, len(self._pool), self.CHUNK)
            self._buf_in = self._pool.input_tokens[idx].tolist()
            self._buf_out = self._pool.output_tokens[idx].tolist()
            self._pos = 0
        i = self._pos
        self._pos += 1
        return self._buf_in[i], self._buf_out[i]
