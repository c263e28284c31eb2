"""``plan simulate --plot FILE.png``: decode throughput over time and latency CDFs, one line per placement.

matplotlib with the Agg backend (no display needed; STYLE "Smaller habits").
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from planner.render.plots import pyplot, save_png

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from planner.sim.run import SimulationRun


def _cdf(ax: object, samples: np.ndarray, label: str) -> None:
    if samples.size == 0:
        return
    xs = np.sort(samples)
    ys = np.arange(1, xs.size + 1) / xs.size
    ax.plot(xs, ys, label=label)  # type: ignore[attr-defined]


def plot_simulation(run: SimulationRun, path: Path) -> None:
    """Write a three-panel PNG: decode tok/s over time (warm-up shaded), prompt-latency and token-latency CDFs."""
    save_png(simulation_figure(run), path)


def simulation_figure(run: SimulationRun) -> Figure:
    """The figure of :func:`plot_simulation` (separate so tests can inspect its axes)."""
    plt = pyplot()

    doc = run.document
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), constrained_layout=True)
    ax_t, ax_p, ax_d = axes
    warmup = float(doc.inputs.options.get("warmup_s") or 0.0)  # type: ignore[arg-type]
    for placement, outcome in zip(doc.placements, run.outcomes, strict=True):
        tl = placement.timeline
        t = (np.arange(len(tl.decode_tok_s)) + 0.5) * tl.bucket_s
        ax_t.plot(t, tl.decode_tok_s, label=placement.plan)
        _cdf(ax_p, np.frombuffer(outcome.prompt_latency_s, dtype=np.float64), placement.plan)
        _cdf(ax_d, np.frombuffer(outcome.token_latency_s, dtype=np.float64) * 1000.0, placement.plan)
    if warmup > 0:
        ax_t.axvspan(0, warmup, color="0.9", label="warm-up")
    ax_t.set(title="Decode throughput over time", xlabel="simulated time (s)", ylabel="decode tokens/s")
    ax_p.set(title="Prompt latency CDF", xlabel="arrival to first token (s)", ylabel="fraction of requests")
    ax_d.set(title="Per-token decode latency CDF", xlabel="time between tokens (ms)", ylabel="fraction of tokens")
    for ax in axes:
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    return fig
