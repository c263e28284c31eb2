"""The report of a splitwise plan as data (:mod:`planner.render` draws it).

Reads the typed plan block (:class:`~planner.splitwise.contract.SplitwisePlanBlock`) and the plan's metrics, never
solver objects nor the plan document: the caller above the plan layer (:mod:`planner.render.registry`) unpacks it.

Designs side by side (pools, machines, cost, power, rate, worst SLO margin), the chosen pools with predicted
utilisation and launch hints, the nine SLOs with limits and margins, and in verbose mode every simulated point.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from planner.report_data import Block, Code, Column, Heading, Metrics, Report, Table, Text, fmt_num, fmt_pct, table
from planner.splitwise.contract import DesignRow, SplitwisePlanBlock


def _pools_text(row: DesignRow) -> str:
    if row.prompt is None:
        return "-"
    if row.kind == "baseline":
        return f"{row.prompt} x {row.prompt_machine}"
    return f"{row.prompt}P {row.prompt_machine} + {row.token}T {row.token_machine}"


def _money(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}" if x >= 100 else f"{x:.2f}"


def design_rows(block: SplitwisePlanBlock, verbose: bool = False) -> tuple[list[str], list[list[Any]]]:
    """Designs side by side: counts, cost, power, rate, worst SLO margin (notes and bounds when verbose)."""
    rate_head = "max req/s" if block.mode == "iso-budget" else "req/s"
    headers = ["design", "P", "T", "USD/h", "kW", rate_head, "USD/Mtok", "worst SLO (margin)"]
    if verbose:
        headers += ["pools", "bound", "points", "status"]
    rows = []
    for r in block.designs:
        mark = "*" if r.design == block.design else ""
        if r.prompt is None:
            worst = f"{r.status}: {r.note or '-'}"
        else:
            worst = f"{r.worst_slo or '-'} ({fmt_pct(r.worst_slo_margin)})"
        row = [
            r.design + mark,
            r.prompt,
            r.token if r.kind == "split" else "-",
            _money(r.cost_usd_h),
            r.power_kw,
            r.throughput_rps,
            _money(r.usd_per_mtok),
            worst,
        ]
        if verbose:
            row += [_pools_text(r), r.bound, r.simulated_points, r.status]
        rows.append(row)
    return headers, rows


def pool_rows(block: SplitwisePlanBlock, verbose: bool = False) -> tuple[list[str], list[list[Any]]]:
    """The chosen design's pools: busy share, KV memory in use, lending (when the mixed pool is on)."""
    lending = verbose or block.search.mixed_pool
    headers = ["role", "machine", "count", "USD/h", "kW", "busy", "KV used", "perf"]
    if lending:
        headers.insert(7, "lent peak")
    if verbose:
        headers.insert(3, "instances")
    rows = []
    for p in block.pools:
        row: list[Any] = [
            p.role + ("" if p.provisioned else " (lent)"),
            p.machine,
            p.count,
            _money(p.cost_usd_h),
            p.power_kw,
            fmt_pct(p.utilisation),
            fmt_pct(p.kv_utilisation),
            p.perf_basis or "-",
        ]
        if lending:
            row.insert(7, p.lent_peak)
        if verbose:
            row.insert(3, p.instances)
        rows.append(row)
    return headers, rows


def slo_rows(block: SplitwisePlanBlock) -> tuple[list[str], list[list[Any]]]:
    headers = ["SLO (slowdown)", "value", "limit", "margin"]
    rows: list[list[Any]] = [[s.name, s.value, s.limit, fmt_pct(s.margin)] for s in block.slos]
    return headers, rows


def ledger_rows(block: SplitwisePlanBlock) -> tuple[list[str], list[list[Any]]]:
    headers = ["design", "P", "T", "req/s", "USD/h", "feasible", "why"]
    rows: list[list[Any]] = [
        [r.design, r.prompt, r.token, r.rate_rps, r.cost_usd_h, r.feasible, r.reason or "-"] for r in block.ledger
    ]
    return headers, rows


def launch_lines(block: SplitwisePlanBlock) -> list[str]:
    out = []
    for p in block.pools:
        hints = p.launch
        for engine in ("vllm", "sglang"):
            if engine in hints:
                out.append(f"{p.role} x{hints.get('instances', p.count)} [{engine}]: {hints[engine]}")
    if "sglang" in block.router:
        out.append(f"router [sglang]: {block.router['sglang']}")
    return out


#: Columns of free text (left-aligned, may fold); the others are figures.
_TEXT = ("pools", "why", "status", "machine", "worst SLO (margin)", "note", "role", "perf")
#: Columns that may move under a table too wide for the terminal.
_DETAIL = ("worst SLO (margin)", "pools", "status", "why", "instances", "perf")


def _table(title: str, headers: list[str], rows: list[list[Any]]) -> Table:
    columns = [
        Column(h, numeric=i > 0 and h not in _TEXT, wrap=h in _TEXT, detail=h in _DETAIL) for i, h in enumerate(headers)
    ]
    return table(title, columns, rows, compact=True)


def _headline(block: SplitwisePlanBlock, metrics: Metrics) -> str:
    if block.design is None:
        return "no design meets the target"
    m = metrics
    if block.mode == "iso-budget":
        targets = (("USD/h", block.budget.cost_usd_h), ("kW", block.budget.power_kw))
        budget = ", ".join(f"{fmt_num(v)} {unit}" for unit, v in targets if v is not None)
        return (
            f"best design {block.design}: {fmt_num(m.get('throughput_rps'))} req/s within {budget} "
            f"({fmt_num(m.get('cost_usd_h'))} USD/h, {fmt_num(m.get('power_kw'))} kW)"
        )
    return (
        f"best design {block.design} for {fmt_num(block.rate_rps)} req/s by {block.objective}: "
        f"{fmt_num(m.get('cost_usd_h'))} USD/h, {fmt_num(m.get('power_kw'))} kW, "
        f"{fmt_num(m.get('usd_per_mtok'))} USD/Mtok"
    )


def report(block: SplitwisePlanBlock, metrics: Metrics, verbose: bool = False) -> Report:
    """The terminal report: designs, pools, SLOs, launch hints (and every simulated point when verbose)."""
    out: list[Block] = [
        Text(_headline(block, metrics)),
        _table("Designs (best point each; * = chosen; P/T = prompt/token machines)", *design_rows(block, verbose)),
    ]
    if block.pools:
        out.append(_table(f"Pools of {block.design}", *pool_rows(block, verbose)))
        out.append(_table("SLOs (slowdown vs the request alone on the reference machine)", *slo_rows(block)))
        lines = launch_lines(block)
        if lines:
            out.append(Text("Launch hints (one line per machine of the pool):"))
            out.append(Code(tuple(lines if verbose else lines[:4]), shell=True, indent=2))
    if verbose:
        out.append(_table("Every simulated point", *ledger_rows(block)))
    return Report.of(out)


def markdown_report(block: SplitwisePlanBlock, metrics: Metrics) -> Report:
    """Markdown blocks for ``--format markdown`` (PR comments)."""
    out: list[Block] = [
        Text(_headline(block, metrics), tone="strong"),
        table("Designs", *design_rows(block, verbose=True)),
    ]
    if block.pools:
        out += [table("Pools", *pool_rows(block)), table("SLOs", *slo_rows(block))]
        lines = launch_lines(block)
        if lines:
            out += [Heading("Launch hints"), Code(tuple(lines))]
    return Report.of(out)


# ------------------------------------------------------------------------------------------------ figure

#: Heat-map cell values: the analytic model's prediction (pale) unless the point was simulated (solid).
ANALYTIC_INFEASIBLE, ANALYTIC_FEASIBLE, SIMULATED_INFEASIBLE, SIMULATED_FEASIBLE = 0, 1, 2, 3


@dataclass(frozen=True)
class Curve:
    """One named series of (x, y) points."""

    name: str
    x: tuple[float, ...]
    y: tuple[float, ...]


@dataclass(frozen=True)
class Heatmap:
    """The (prompt, token) grid around the chosen point at the plan's rate.

    ``cells[i][j]`` is the state of ``T = t_start + i``, ``P = p_start + j`` (the ``ANALYTIC_*`` / ``SIMULATED_*``
    constants); ``budget_line`` lists the budget-filling splits under a budget.
    """

    design: str
    rate_rps: float
    p_start: int
    t_start: int
    cells: tuple[tuple[int, ...], ...]
    best: tuple[int, int]
    budget_line: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class SplitwiseFigure:
    """What ``plan splitwise --plot`` draws: the heat-map (None without a feasible design) and cost versus rate.

    ``designs`` fixes the colour order; ``analytic`` holds each design's cheapest predicted-feasible cost over a
    range of rates, ``simulated`` every simulated feasible point, ``best`` each design's best point and
    ``pareto`` the least cost for at least that rate among the simulated points.
    """

    heatmap: Heatmap | None
    designs: tuple[str, ...]
    analytic: tuple[Curve, ...]
    simulated: tuple[Curve, ...]
    best: tuple[Curve, ...]
    pareto: Curve


def heatmap_window(block: SplitwisePlanBlock) -> tuple[range, range] | None:
    """The (prompt, token) ranges the heat-map covers: every simulated point at the plan's rate, plus two."""
    design, rate = block.design, block.rate_rps
    pts = [r for r in block.ledger if r.design == design and r.rate_rps == rate]
    if design is None or not pts:
        return None
    best_p, best_t = _best_point(block)
    ps = [r.prompt for r in pts] + [best_p]
    ts = [r.token for r in pts] + [best_t]
    p_range = range(max(1, min(ps) - 2), max(ps) + 3)
    t_range = range(0 if best_t == 0 else max(1, min(ts) - 2), max(ts) + 3)
    return p_range, t_range


def _best_point(block: SplitwisePlanBlock) -> tuple[int, int]:
    best_p = next(p.count for p in block.pools if p.role in ("prompt", "both"))
    best_t = next((p.count for p in block.pools if p.role == "token"), 0)
    return best_p, best_t


def figure_data(
    block: SplitwisePlanBlock, analytic_cells: Sequence[Sequence[int]] | None, analytic: Sequence[Curve]
) -> SplitwiseFigure:
    """The figure's data from the plan block, with the analytic model's predictions supplied by the solver side
    (``analytic_cells`` over :func:`heatmap_window`, 0/1 = predicted infeasible/feasible)."""
    heat = None
    window = heatmap_window(block)
    design, rate = block.design, block.rate_rps
    if window is not None and analytic_cells is not None and design is not None and rate is not None:
        p_range, t_range = window
        cells = [list(row) for row in analytic_cells]
        for r in block.ledger:
            if r.design == design and r.rate_rps == rate:
                cells[r.token - t_range.start][r.prompt - p_range.start] = (
                    SIMULATED_FEASIBLE if r.feasible else SIMULATED_INFEASIBLE
                )
        best = _best_point(block)
        line: tuple[tuple[int, int], ...] = ()
        if block.mode == "iso-budget" and best[1] > 0:
            line = tuple(sorted({(r.prompt, r.token) for r in block.ledger if r.design == design}))
        heat = Heatmap(design, float(rate), p_range.start, t_range.start, tuple(map(tuple, cells)), best, line)
    feasible = [r for r in block.ledger if r.feasible]
    designs = tuple(r.design for r in block.designs)
    simulated = []
    for name in designs:
        rows = [r for r in feasible if r.design == name]
        if rows:
            simulated.append(Curve(name, tuple(r.rate_rps for r in rows), tuple(r.cost_usd_h for r in rows)))
    best_points = tuple(
        Curve(r.design, (r.throughput_rps,), (r.cost_usd_h,))
        for r in block.designs
        if r.throughput_rps is not None and r.cost_usd_h is not None
    )
    xs: list[float] = []
    ys: list[float] = []
    cheapest = float("inf")
    for r in sorted(feasible, key=lambda r: (-r.rate_rps, r.cost_usd_h)):
        if r.cost_usd_h < cheapest:
            cheapest = r.cost_usd_h
            xs.append(r.rate_rps)
            ys.append(r.cost_usd_h)
    pareto = Curve("Pareto (simulated)", tuple(xs[::-1]), tuple(ys[::-1]))
    return SplitwiseFigure(heat, designs, tuple(analytic), tuple(simulated), best_points, pareto)
