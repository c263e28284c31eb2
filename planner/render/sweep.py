"""``plan sweep --plot FILE.png``: every usable point and the Pareto frontier, one panel per frontier (Agg)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from planner.render.plots import Labels, save_png, use_agg
from planner.sweep.results import Frontier

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def sweep_figure(found: list[Frontier], title: str) -> Figure:
    """One panel per frontier: all usable points in grey, the frontier as a stepped red line with its points."""
    use_agg()
    import matplotlib.pyplot as plt

    n = max(1, len(found))
    fig, axes = plt.subplots(1, n, figsize=(5.2 * n, 4.2), squeeze=False)
    for ax, f in zip(axes[0], found, strict=False):
        ax.scatter(f.usable[f.x], f.usable[f.y], s=14, color="0.65", label="points")
        front = f.points.sort_values(f.x)
        ax.plot(front[f.x], front[f.y], "o-", color="tab:red", drawstyle="steps-post", label="Pareto frontier")
        ax.set_xlabel(f.x)
        ax.set_ylabel(f.y)
        ax.set_title(f.title)
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)
    if not found:
        axes[0][0].text(0.5, 0.5, "no usable point with the figures of a frontier", ha="center", va="center")
        axes[0][0].set_axis_off()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def write_sweep(found: list[Frontier], title: str, path: Path) -> Labels:
    return save_png(sweep_figure(found, title), path)
