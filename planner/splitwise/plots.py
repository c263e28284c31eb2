"""The data of ``--plot FILE.png`` that only the solver can give: the analytic model's predictions.

The figure (drawn by :func:`planner.render.plots.splitwise_figure`) shows, left, the (prompt, token) feasibility
grid of the chosen design at the plan's rate: simulated points solid, the rest of the grid the analytic model's
prediction, pale. Right: cost versus request rate, with per design the analytic model's cheapest predicted-feasible
point over a range of rates (dashed). Everything else comes from the plan block
(:func:`planner.splitwise.report.figure_data`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np

from planner.splitwise.report import Curve, SplitwiseFigure, figure_data, heatmap_window

if TYPE_CHECKING:
    from planner.splitwise.contract import SplitwisePlanBlock
    from planner.splitwise.instance import Instance
    from planner.splitwise.solve import Solution


class RunResult(Protocol):
    """What a splitwise run hands the plot: its typed plan block, instance and solution (the runner's
    ``RunResult``; a protocol here so that the solver package does not import the runner above it)."""

    block: SplitwisePlanBlock
    instance: Instance
    solution: Solution


def _analytic_cells(result: RunResult, p_range: range, t_range: range, rate: float) -> list[list[int]]:
    from planner.splitwise.solve import analytic_model

    inst = result.instance
    design = next(d for d in inst.designs if d.name == result.block.design)
    model, _ = analytic_model(inst, design)
    return [[1 if model.predict(p, t, rate).feasible else 0 for p in p_range] for t in t_range]


def _analytic_curves(result: RunResult) -> list[Curve]:
    """Per design: the analytic model's cheapest predicted-feasible cost at rates around the plan's."""
    from planner.splitwise.model import cost_usd_h
    from planner.splitwise.search import analytic_cheapest
    from planner.splitwise.solve import analytic_model

    inst = result.instance
    rates = [float(r.throughput_rps) for r in result.block.designs if r.throughput_rps] or [inst.rate_rps or 1.0]
    top = max(rates) * 1.3
    grid = [float(x) for x in np.linspace(top / 12, top, 12)]
    out = []
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
        out.append(Curve(design.name, tuple(xs), tuple(ys)))
    return out


def plot_data(result: RunResult) -> SplitwiseFigure:
    """The figure's data for a finished run (plan block + the analytic model's predictions)."""
    window = heatmap_window(result.block)
    cells = None
    if window is not None and result.block.rate_rps is not None:
        cells = _analytic_cells(result, *window, float(result.block.rate_rps))
    return figure_data(result.block, cells, _analytic_curves(result))
