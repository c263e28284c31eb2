"""``--plot FILE.png``: the (prompt, token) feasibility heat-map of the chosen design and a cost/throughput Pareto.

Left: the grid around the chosen point at the plan's rate. Simulated points are drawn solid (green feasible, red
not), the rest of the grid shows the analytic model's prediction in pale colours, the optimum is starred and, under
a budget, the budget-filling line is drawn. Right: cost versus request rate: per design the analytic model's
cheapest predicted-feasible point over a range of rates (dashed), every simulated feasible point (dots), each
design's best point (labelled) and the Pareto front of the simulated points (least cost for at least that rate).
Matplotlib with the Agg backend (no display needed).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from planner.render.plots import pyplot, save_png

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from planner.splitwise.run import RunResult


def _analytic_grid(result: RunResult, p_range: range, t_range: range, rate: float) -> np.ndarray:
    from planner.splitwise.solve import analytic_model

    inst = result.instance
    design = next(d for d in inst.designs if d.name == result.plan.plan["design"])
    model, _ = analytic_model(inst, design)
    grid = np.zeros((len(t_range), len(p_range)))
    for i, t in enumerate(t_range):
        for j, p in enumerate(p_range):
            grid[i, j] = 1.0 if model.predict(p, t, rate).feasible else 0.0
    return grid


def _analytic_curves(result: RunResult) -> dict[str, tuple[list[float], list[float]]]:
    """Per design: the analytic model's cheapest predicted-feasible cost at rates around the plan's."""
    from planner.splitwise.model import cost_usd_h
    from planner.splitwise.search import analytic_cheapest
    from planner.splitwise.solve import analytic_model

    inst = result.instance
    b = result.plan.plan
    rates = [r["throughput_rps"] for r in b["designs"] if r.get("throughput_rps")] or [inst.rate_rps or 1.0]
    top = max(rates) * 1.3
    grid = [float(x) for x in np.linspace(top / 12, top, 12)]
    out: dict[str, tuple[list[float], list[float]]] = {}
    for design in inst.designs:
        if design.name in result.solution.unusable:
            continue
        model, _ = analytic_model(inst, design)
        xs, ys = [], []
        for rate in grid:
            pt = analytic_cheapest(design, rate, model, "cost", inst.section.search.max_machines)
            if pt is not None:
                xs.append(rate)
                ys.append(cost_usd_h(design, pt))
        out[design.name] = (xs, ys)
    return out


def write_plot(result: RunResult, path: Path) -> None:
    """Render :func:`build_figure` to ``path`` (PNG)."""
    save_png(build_figure(result), path)


def build_figure(result: RunResult) -> Figure:
    """The heat-map (left) and the cost/throughput chart (right) of a finished run."""
    plt = pyplot()
    from matplotlib.colors import ListedColormap

    plan = result.plan
    b = plan.plan
    fig, (ax_h, ax_p) = plt.subplots(1, 2, figsize=(13, 5.2))
    design, rate = b.get("design"), b.get("rate_rps")
    pts = [r for r in b["ledger"] if r["design"] == design and r["rate_rps"] == rate]
    if design is not None and pts:
        best_p = next(p["count"] for p in b["pools"] if p["role"] in ("prompt", "both"))
        best_t = next((p["count"] for p in b["pools"] if p["role"] == "token"), 0)
        ps = [r["prompt"] for r in pts] + [best_p]
        ts = [r["token"] for r in pts] + [best_t]
        p_range = range(max(1, min(ps) - 2), max(ps) + 3)
        t_range = range(0 if best_t == 0 else max(1, min(ts) - 2), max(ts) + 3)
        grid = _analytic_grid(result, p_range, t_range, float(rate))
        for r in pts:
            i, j = r["token"] - t_range.start, r["prompt"] - p_range.start
            grid[i, j] = 3.0 if r["feasible"] else 2.0
        cmap = ListedColormap(["#f6d5d5", "#d8efd8", "#d62728", "#2ca02c"])
        extent = (p_range.start - 0.5, p_range.stop - 0.5, t_range.start - 0.5, t_range.stop - 0.5)
        ax_h.imshow(grid, origin="lower", cmap=cmap, vmin=0, vmax=3, extent=extent, aspect="auto")
        ax_h.plot([best_p], [best_t], marker="*", markersize=18, color="gold", markeredgecolor="black")
        if b["mode"] == "iso-budget" and best_t > 0:
            line = [(r["prompt"], r["token"]) for r in b["ledger"] if r["design"] == design]
            line = sorted(set(line))
            ax_h.plot([p for p, _ in line], [t for _, t in line], "k--", linewidth=1, label="budget line")
            ax_h.legend(fontsize=7, loc="upper right")
        ax_h.set_title(f"{design} at {rate:g} req/s: simulated (solid) / analytic (pale)")
    else:
        ax_h.text(0.5, 0.5, "no feasible design", ha="center", va="center", transform=ax_h.transAxes)
    ax_h.set_xlabel("prompt machines (P)")
    ax_h.set_ylabel("token machines (T)")

    feasible = [r for r in b["ledger"] if r["feasible"]]
    colours: dict[str, str] = {}
    for i, row in enumerate(b["designs"]):
        colours[row["design"]] = f"C{i % 10}"
    for name, (xs_a, ys_a) in _analytic_curves(result).items():
        ax_p.plot(xs_a, ys_a, "--", color=colours.get(name, "grey"), linewidth=1, alpha=0.7)
    for name in colours:
        rows = [r for r in feasible if r["design"] == name]
        if rows:
            ax_p.scatter(
                [r["rate_rps"] for r in rows], [r["cost_usd_h"] for r in rows], s=12, alpha=0.5, color=colours[name]
            )
    for r in b["designs"]:
        if r.get("throughput_rps") is not None:
            ax_p.scatter([r["throughput_rps"]], [r["cost_usd_h"]], s=60, color=colours[r["design"]], label=r["design"])
            ax_p.annotate(r["design"], (r["throughput_rps"], r["cost_usd_h"]), fontsize=8)
    front = sorted(feasible, key=lambda r: (-r["rate_rps"], r["cost_usd_h"]))
    xs, ys, cheapest = [], [], float("inf")
    for r in front:
        if r["cost_usd_h"] < cheapest:
            cheapest = r["cost_usd_h"]
            xs.append(r["rate_rps"])
            ys.append(r["cost_usd_h"])
    if xs:
        ax_p.step(xs[::-1], ys[::-1], where="post", color="black", linewidth=1, label="Pareto (simulated)")
    ax_p.plot([], [], "k--", linewidth=1, label="analytic cheapest point")
    ax_p.set_xlabel("throughput (req/s)")
    ax_p.set_ylabel("cost (USD/h)")
    ax_p.set_title("cost vs throughput (dots: simulated feasible points)")
    ax_p.legend(fontsize=7)
    fig.tight_layout()
    return fig
