"""The report of a dynamo plan as data (:mod:`planner.render` draws it).

Reads the typed plan block (:class:`~planner.dynamo.contract.DynamoPlanBlock`) and plain metadata (the plan's
name), never solver objects nor the plan document: the caller above the plan layer (:mod:`planner.render.registry`)
unpacks it.

:func:`report` feeds the terminal, :func:`markdown_report` the PR comment, :func:`figure_data` ``--plot``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from planner.contract_base import Number
from planner.dynamo.contract import DynamoBaseline, DynamoPlanBlock, DynamoPool, Epoch, Totals
from planner.report_data import Block, Bullets, Column, Heading, Metrics, Report, Text, fmt_num, table

LADDER_TEXT = {
    "sizing": "SinglePool sized for the day's peak instead of the whole budget",
    "pools": "per-class pools (rounding each pool up to whole instances; negative = fragmentation)",
    "tp": "TP chosen per class instead of TP-max",
    "scaling": "fewer instances over the day (scaling and re-sharding with the load)",
    "frequency": "lower GPU clocks where the SLO leaves slack",
}


def _pool_cell(pool: DynamoPool) -> str:
    """``2x8@1980``: instances x TP @ clock (MHz), ``+`` between configurations of one pool."""
    return "+".join(f"{c.instances}x{c.tp}@{c.freq_mhz}" for c in pool.configs)


def _ms(x: float | None) -> str:
    return "-" if x is None else f"{x * 1000:.0f} ms" if x < 1 else f"{x:.3g} s"


def _epoch_rows(block: DynamoPlanBlock, verbose: bool) -> list[Epoch]:
    epochs = block.epochs
    if verbose or len(epochs) <= 24:
        return list(epochs)
    step = max(1, round(3600.0 / epochs[0].length_s)) if epochs else 1
    return epochs[::step]


def _totals(t: Totals | DynamoBaseline | None) -> list[Number | None]:
    """Energy, power, GPU-hours, cost, carbon of the plan or a baseline (None where not known)."""
    if t is None:
        return [None] * 7
    return [t.energy_kwh, t.avg_power_kw, t.peak_power_kw, t.gpu_h, t.peak_gpus, t.cost_usd, t.carbon_kgco2]


def totals_rows(block: DynamoPlanBlock) -> list[list[Any]]:
    """Plan and baselines: energy, power, GPU-hours, cost, carbon."""
    rows: list[list[Any]] = [["plan", *_totals(block.totals)]]
    for b in block.baselines or []:
        rows.append([b.name, *_totals(b)])
    return rows


def savings_lines(block: DynamoPlanBlock) -> list[str]:
    """Plain-language account of the saving over SinglePool, step by step."""
    sv = block.savings
    if sv is None or sv.vs_singlepool_kwh is None:
        return ["SinglePool baseline unavailable: no saving computed."]
    pct = sv.vs_singlepool_pct or 0.0
    verb = "saves" if pct >= 0 else "uses more:"
    against = sv.against or "singlepool"
    cost_pct = sv.cost_vs_singlepool_pct or 0
    lines = [
        f"Versus SinglePool ({against}) the plan {verb} {abs(sv.vs_singlepool_kwh):.1f} kWh "
        f"({abs(pct):.1f}% energy); "
        f"cost {'-' if cost_pct >= 0 else '+'}"
        f"{abs(cost_pct):.1f}% (GPU-hours + electricity)."
    ]
    for other, other_pct in (
        ("singlepool-fixed", sv.vs_singlepool_fixed_pct),
        ("singlepool-peak", sv.vs_singlepool_peak_pct),
    ):
        if other_pct is not None and other != sv.against:
            lines[0] += f" Versus {other}: {other_pct:.1f}% energy."
    lines[0] += " Where it comes from:"
    ladder = (
        ("sizing", sv.sizing_kwh),
        ("pools", sv.pools_kwh),
        ("tp", sv.tp_kwh),
        ("scaling", sv.scaling_kwh),
        ("frequency", sv.frequency_kwh),
    )
    for part, kwh in ladder:
        if kwh is not None:
            lines.append(f"  {kwh:+9.1f} kWh  {LADDER_TEXT[part]}")
    return lines


def _minutes(seconds: Number | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:g}"


def report(block: DynamoPlanBlock, metrics: Metrics, verbose: bool = False) -> Report:
    """Classes and SLOs, totals versus baselines, the savings account, and the epochs (hourly unless verbose).

    ``metrics`` (the plan's figures) is part of every report's signature; the dynamo tables read the block only."""
    if not block.epochs:
        if block.infeasible:
            return Report.of([Text(f"infeasible: {block.infeasible}", tone="error")])
        return Report()
    classes = block.classes or []
    out: list[Block] = [
        Text(
            f"mode {block.mode}, {len(block.epochs)} epochs of {_minutes(block.reshard_epoch_s)} min "
            f"(cluster level every {_minutes(block.epoch_s)} min), {block.model} on {block.gpu}, "
            f"budget {block.gpu_budget} GPUs, headroom {_g(block.headroom)}"
        ),
        table(
            f"Classes and p{_g(block.percentile)} SLOs",
            [Column("class")] + [_num(c) for c in ("input tokens", "output tokens", "share", "TTFT", "TBT", "E2E")],
            [
                [
                    c.class_,
                    _range(c.input_tokens),
                    _range(c.output_tokens),
                    f"{c.share * 100:.1f}%",
                    _ms(c.ttft_s),
                    _ms(c.tbt_s),
                    _ms(c.e2e_s),
                ]
                for c in classes
            ],
        ),
        table(
            "Plan versus baselines (energy at the GPUs)",
            [Column("deployment")] + [_num(c) for c in ("kWh", "avg kW", "peak kW", "GPU-h", "GPUs", "USD", "kgCO2")],
            [[row[0], *(_short(v) for v in row[1:])] for row in totals_rows(block)],
        ),
    ]
    lines = savings_lines(block)
    out += [Text(lines[0])] + [Text(line, hang=_SAVING_HANG) for line in lines[1:]]
    title = "Epochs: pool = instances x TP @ MHz" + ("" if verbose else " (hourly; --verbose for all)")
    out.append(
        table(
            title,
            [_num(c) for c in ("start", "GPUs", "kW", "req/s")] + [Column("pools", wrap=True)],
            [
                [
                    e.start,
                    str(e.gpus),
                    f"{e.power_w / 1000:.1f}",
                    f"{e.load_rps:.1f}",
                    "  ".join(f"{p.class_} {_pool_cell(p)}" for p in e.pools),
                ]
                for e in _epoch_rows(block, verbose)
            ],
        )
    )
    return Report.of(out)


#: Continuation indent of a savings line (``"  {kwh:+9.1f} kWh  "``), so its words line up when folded.
_SAVING_HANG = 17


def _num(name: str) -> Column:
    return Column(name, numeric=True)


def _g(v: Number | None) -> str:
    return "-" if v is None else f"{v:g}"


def _short(v: Any) -> str:
    return fmt_num(v) if not isinstance(v, float) or abs(v) < 100 else f"{v:,.0f}"


def _range(r: list[int | None]) -> str:
    lo, hi = r
    return f"{lo}-{hi - 1}" if hi is not None else f">={lo}"


def markdown_report(block: DynamoPlanBlock, metrics: Metrics) -> Report:
    """Markdown: totals versus baselines, the savings account, classes, hourly epochs."""
    if not block.epochs:
        return Report.of([Text(f"Infeasible: {block.infeasible}")] if block.infeasible else [])
    classes = block.classes or []
    return Report.of(
        [
            table(
                "Plan versus baselines",
                ["deployment", "energy kWh", "avg kW", "peak kW", "GPU-h", "peak GPUs", "cost USD", "kgCO2"],
                totals_rows(block),
            ),
            Heading("Where the saving comes from"),
            Bullets(tuple(line.strip() for line in savings_lines(block))),
            table(
                "Classes and SLOs",
                ["class", "share", "TTFT s", "TBT s", "E2E s"],
                [[c.class_, c.share, c.ttft_s, c.tbt_s, c.e2e_s] for c in classes],
            ),
            table(
                "Epochs (hourly)",
                ["start", "GPUs", "kW", *(c.class_ for c in classes)],
                [
                    [
                        e.start,
                        e.gpus,
                        e.power_w / 1000.0,
                        *({p.class_: _pool_cell(p) for p in e.pools}.get(c.class_, "-") for c in classes),
                    ]
                    for e in _epoch_rows(block, verbose=False)
                ],
            ),
        ]
    )


@dataclass(frozen=True)
class ClockCurve:
    """Energy per request at SLO capacity versus SM clock, for one class at one TP."""

    cls: str
    freq_mhz: tuple[float, ...]
    wh_per_request: tuple[float, ...]


@dataclass(frozen=True)
class DynamoFigure:
    """What ``plan dynamo --plot`` draws: GPUs per class over the day with the power line; energy versus clock."""

    name: str
    mode: str
    classes: tuple[str, ...]
    start: str
    hours: tuple[float, ...]
    gpus_per_class: tuple[tuple[int, ...], ...]
    power_kw: tuple[float, ...]
    singlepool_avg_kw: float | None
    clock_curves: tuple[tuple[int, tuple[ClockCurve, ...]], ...]


def figure_data(block: DynamoPlanBlock, name: str) -> DynamoFigure:
    """The plot's data from the plan block and the plan's ``name`` (up to three TP degrees in the clock panels)."""
    classes = tuple(c.class_ for c in block.classes or [])
    epochs = block.epochs
    against = block.savings.against if block.savings and block.savings.against else "singlepool-fixed"
    single = next((b for b in block.baselines or [] if b.name == against and b.avg_power_kw is not None), None)
    profile = block.profile or []
    epoch_s = block.reshard_epoch_s or 0
    panels = []
    for tp in sorted({r.tp for r in profile})[:3]:
        curves = []
        for k in classes:
            rows = [r for r in profile if r.class_ == k and r.tp == tp and r.wh_per_request_at_cap]
            if rows:
                curves.append(
                    ClockCurve(k, tuple(r.freq_mhz for r in rows), tuple(r.wh_per_request_at_cap or 0.0 for r in rows))
                )
        panels.append((tp, tuple(curves)))
    return DynamoFigure(
        name=name,
        mode=block.mode or "",
        classes=classes,
        start=epochs[0].start if epochs else "00:00",
        hours=tuple(i * epoch_s / 3600.0 for i in range(len(epochs))),
        gpus_per_class=tuple(tuple(sum(p.gpus for p in e.pools if p.class_ == k) for e in epochs) for k in classes),
        power_kw=tuple(e.power_w / 1000.0 for e in epochs),
        singlepool_avg_kw=None if single is None else single.avg_power_kw,
        clock_curves=tuple(panels),
    )
