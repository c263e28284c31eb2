"""Every ``--plot FILE.png`` figure, drawn with matplotlib on the headless Agg backend.

The data comes from the solvers' report modules (plan block -> figure data); only this module knows matplotlib.
Each ``*_figure`` returns the figure (tests read its axes instead of comparing pixels); each ``write_*`` saves a
PNG and returns the (x, y) labels of every axis drawn.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from planner.dynamo.report import DynamoFigure
from planner.helix.report import HelixFigure
from planner.sim.plot import SimulationFigure
from planner.splitwise.report import SplitwiseFigure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Labels = list[tuple[str, str]]


def use_agg() -> None:
    """Select the Agg backend (no display here or in CI) before ``matplotlib.pyplot`` is imported.

    Each drawing function imports pyplot itself, after this call: it is slow to load, so only a ``--plot`` pays.
    """
    import matplotlib

    matplotlib.use("Agg")


def save_png(fig: Figure, path: Path) -> Labels:
    """Write ``fig`` to ``path`` (folders created, 110 dpi), release it, return its axes' (x, y) labels."""
    use_agg()
    import matplotlib.pyplot as plt

    from planner.plan import write_atomic

    labels = [(a.get_xlabel(), a.get_ylabel()) for a in fig.get_axes()]
    try:
        # PNG whatever the suffix (savefig would guess from it, and append .png to a name without one); atomic,
        # so a failed write keeps the previous figure
        write_atomic(path, lambda fh: fig.savefig(fh, dpi=110, format="png"))
    finally:
        plt.close(fig)
    return labels


# ------------------------------------------------------------------------------------------------ helix


def helix_figure(data: HelixFigure) -> Figure:
    """Left: each node's layer range, coloured by node type, opacity by utilisation. Right: the flow graph."""
    use_agg()
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    nodes = data.nodes
    types = sorted({n.gpu for n in nodes})
    cmap = plt.get_cmap("tab10")
    colour = {t: cmap(i % 10) for i, t in enumerate(types)}
    fig, (ax_map, ax_flow) = plt.subplots(1, 2, figsize=(15, max(4.0, 0.28 * len(nodes) + 1.5)))

    for row, n in enumerate(nodes):
        if n.layers <= 0:
            continue
        ax_map.barh(row, n.layers, left=n.layer_start, color=colour[n.gpu], alpha=0.25 + 0.75 * n.use_ratio)
    ax_map.set_yticks(range(len(nodes)), [n.name for n in nodes], fontsize=7)
    ax_map.invert_yaxis()
    ax_map.set_xlim(0, data.layers)
    ax_map.set_xlabel("layer")
    ax_map.set_ylabel("node")
    ax_map.set_title("Layer map (opacity = utilisation)")
    handles = [Rectangle((0, 0), 1, 1, color=colour[t]) for t in types]
    ax_map.legend(handles, types, fontsize=7, loc="lower right")

    pos: dict[str, tuple[float, float]] = {
        "source": (-2.0, len(nodes) / 2),
        "sink": (data.layers + 2.0, len(nodes) / 2),
    }
    for row, n in enumerate(nodes):
        pos[n.name] = ((n.layer_start + n.layer_end) / 2, row)
    peak = max((e.flow_tok_s for e in data.edges), default=0.0) or 1.0
    for e in data.edges:
        if e.flow_tok_s <= 0 or e.src not in pos or e.dst not in pos:
            continue
        (x0, y0), (x1, y1) = pos[e.src], pos[e.dst]
        ax_flow.plot([x0, x1], [y0, y1], color="tab:blue", linewidth=0.4 + 3.0 * e.flow_tok_s / peak, alpha=0.7)
    for name, (x, y) in pos.items():
        ax_flow.scatter([x], [y], s=14, color="black" if name in ("source", "sink") else "tab:orange", zorder=3)
    ax_flow.invert_yaxis()
    ax_flow.set_xlabel("layer (node placed at the middle of its range)")
    ax_flow.set_ylabel("node (same order as the layer map)")
    ax_flow.set_title(f"Flow graph: {data.throughput_tok_s:,.1f} tokens/s (width = flow)")
    fig.tight_layout()
    return fig


def write_helix(data: HelixFigure, path: Path) -> Labels:
    return save_png(helix_figure(data), path)


# ------------------------------------------------------------------------------------------------ splitwise


def splitwise_figure(data: SplitwiseFigure) -> Figure:
    """Left: the (prompt, token) feasibility heat-map of the chosen design; right: cost versus throughput."""
    use_agg()
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    fig, (ax_h, ax_p) = plt.subplots(1, 2, figsize=(13, 5.2))
    heat = data.heatmap
    if heat is not None:
        grid = np.array(heat.cells, dtype=float)
        rows, cols = grid.shape
        cmap = ListedColormap(["#f6d5d5", "#d8efd8", "#d62728", "#2ca02c"])
        extent = (heat.p_start - 0.5, heat.p_start + cols - 0.5, heat.t_start - 0.5, heat.t_start + rows - 0.5)
        ax_h.imshow(grid, origin="lower", cmap=cmap, vmin=0, vmax=3, extent=extent, aspect="auto")
        ax_h.plot([heat.best[0]], [heat.best[1]], marker="*", markersize=18, color="gold", markeredgecolor="black")
        if heat.budget_line:
            ax_h.plot([p for p, _ in heat.budget_line], [t for _, t in heat.budget_line], "k--", linewidth=1,
                      label="budget line")  # fmt: skip
            ax_h.legend(fontsize=7, loc="upper right")
        ax_h.set_title(f"{heat.design} at {heat.rate_rps:g} req/s: simulated (solid) / analytic (pale)")
    else:
        ax_h.text(0.5, 0.5, "no feasible design", ha="center", va="center", transform=ax_h.transAxes)
    ax_h.set_xlabel("prompt machines (P)")
    ax_h.set_ylabel("token machines (T)")

    colours = {name: f"C{i % 10}" for i, name in enumerate(data.designs)}
    for curve in data.analytic:
        ax_p.plot(curve.x, curve.y, "--", color=colours.get(curve.name, "grey"), linewidth=1, alpha=0.7)
    for curve in data.simulated:
        ax_p.scatter(curve.x, curve.y, s=12, alpha=0.5, color=colours[curve.name])
    for curve in data.best:
        ax_p.scatter(curve.x, curve.y, s=60, color=colours[curve.name], label=curve.name)
        ax_p.annotate(curve.name, (curve.x[0], curve.y[0]), fontsize=8)
    if data.pareto.x:
        ax_p.step(data.pareto.x, data.pareto.y, where="post", color="black", linewidth=1, label=data.pareto.name)
    ax_p.plot([], [], "k--", linewidth=1, label="analytic cheapest point")
    ax_p.set_xlabel("throughput (req/s)")
    ax_p.set_ylabel("cost (USD/h)")
    ax_p.set_title("cost vs throughput (dots: simulated feasible points)")
    ax_p.legend(fontsize=7)
    fig.tight_layout()
    return fig


def write_splitwise(data: SplitwiseFigure, path: Path) -> Labels:
    return save_png(splitwise_figure(data), path)


# ------------------------------------------------------------------------------------------------ dynamo


def dynamo_figure(data: DynamoFigure) -> Figure:
    """GPUs per pool over the day (stacked) with the power line; energy per request per class versus clock."""
    use_agg()
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(13, 8))
    grid = fig.add_gridspec(2, 3, height_ratios=[1.2, 1.0])
    ax = fig.add_subplot(grid[0, :])
    cmap = plt.get_cmap("tab10")
    colours = [cmap(i) for i in range(len(data.classes))]
    ax.stackplot(data.hours, data.gpus_per_class, labels=data.classes, colors=colours, step="post", alpha=0.85)
    ax.set_xlabel(f"hours from {data.start}")
    ax.set_ylabel("GPUs per pool")
    ax.set_title(f"{data.name}: GPUs per pool (stacked) and GPU power, {data.mode} mode")
    ax2 = ax.twinx()
    ax2.plot(data.hours, data.power_kw, color="black", lw=1.5, label="plan power")
    if data.singlepool_avg_kw is not None:
        ax2.axhline(data.singlepool_avg_kw, color="grey", ls="--", lw=1, label="SinglePool average power")
    ax2.set_ylabel("power (kW)")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper left", ncol=6, fontsize=8)
    for i, (tp, curves) in enumerate(data.clock_curves):
        axp = fig.add_subplot(grid[1, i])
        for curve in curves:
            colour = cmap(data.classes.index(curve.cls))
            axp.plot(curve.freq_mhz, curve.wh_per_request, marker="o", ms=3, color=colour, label=curve.cls)
        axp.set_yscale("log")
        axp.set_xlabel("SM clock (MHz)")
        axp.set_ylabel("Wh per request at SLO capacity")
        axp.set_title(f"TP{tp}: energy per request vs clock")
        if i == 0:
            axp.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    return fig


def write_dynamo(data: DynamoFigure, path: Path) -> Labels:
    return save_png(dynamo_figure(data), path)


# ------------------------------------------------------------------------------------------------ simulate


def simulation_figure(data: SimulationFigure) -> Figure:
    """Three panels: decode tok/s over time (warm-up shaded), prompt-latency and token-latency CDFs."""
    use_agg()
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), constrained_layout=True)
    ax_t, ax_p, ax_d = axes
    for p in data.placements:
        ax_t.plot(p.decode_tok_s.x, p.decode_tok_s.y, label=p.label)
        for ax, cdf in ((ax_p, p.prompt_latency_cdf), (ax_d, p.token_latency_ms_cdf)):
            if cdf.x:
                ax.plot(cdf.x, cdf.y, label=p.label)
    if data.warmup_s > 0:
        ax_t.axvspan(0, data.warmup_s, color="0.9", label="warm-up")
    ax_t.set(title="Decode throughput over time", xlabel="simulated time (s)", ylabel="decode tokens/s")
    ax_p.set(title="Prompt latency CDF", xlabel="arrival to first token (s)", ylabel="fraction of requests")
    ax_d.set(title="Per-token decode latency CDF", xlabel="time between tokens (ms)", ylabel="fraction of tokens")
    for ax in axes:
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:  # a short run may leave a panel empty: no legend to draw there
            ax.legend(fontsize=8)
    return fig


def write_simulation(data: SimulationFigure, path: Path) -> Labels:
    return save_png(simulation_figure(data), path)
