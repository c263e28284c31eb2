"""The data of ``plan simulate --plot FILE.png``: decode throughput over time and latency CDFs per placement.

The raw latency samples live in the run (:class:`planner.sim.run.SimulationRun`), not in the document, so this
module turns them into series; :func:`planner.render.plots.simulation_figure` draws them (matplotlib, Agg).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from planner.sim.run import SimulationRun


@dataclass(frozen=True)
class Series:
    x: tuple[float, ...]
    y: tuple[float, ...]


@dataclass(frozen=True)
class PlacementSeries:
    """One placement: decode tok/s per time bucket, and the CDFs of prompt latency (s) and token latency (ms)."""

    label: str
    decode_tok_s: Series
    prompt_latency_cdf: Series
    token_latency_ms_cdf: Series


@dataclass(frozen=True)
class SimulationFigure:
    warmup_s: float
    placements: tuple[PlacementSeries, ...]


def _cdf(samples: np.ndarray) -> Series:
    xs = np.sort(samples)
    ys = np.arange(1, xs.size + 1) / xs.size if xs.size else xs
    return Series(tuple(float(v) for v in xs), tuple(float(v) for v in ys))


def figure_data(run: SimulationRun) -> SimulationFigure:
    """Series per placement, in the document's order."""
    doc = run.document
    out = []
    for placement, outcome in zip(doc.placements, run.outcomes, strict=True):
        tl = placement.timeline
        t = (np.arange(len(tl.decode_tok_s)) + 0.5) * tl.bucket_s
        out.append(
            PlacementSeries(
                placement.plan,
                Series(tuple(float(v) for v in t), tuple(tl.decode_tok_s)),
                _cdf(np.frombuffer(outcome.prompt_latency_s, dtype=np.float64)),
                _cdf(np.frombuffer(outcome.token_latency_s, dtype=np.float64) * 1000.0),
            )
        )
    warmup = float(doc.inputs.options.get("warmup_s") or 0.0)
    return SimulationFigure(warmup, tuple(out))
