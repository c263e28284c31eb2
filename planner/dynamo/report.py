"""The report of a dynamo plan as data (read from the plan document only; :mod:`planner.render` draws it).

:func:`report` feeds the terminal, :func:`markdown_report` the PR comment, :func:`figure_data` ``--plot``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from planner.plan import Plan
from planner.report_data import Block, Bullets, Column, Heading, Report, Text, fmt_num, table

LADDER_TEXT = {
    "sizing": "SinglePool sized for the day's peak instead of the whole budget",
    "pools": "per-class pools (rounding each pool up to whole instances; negative = fragmentation)",
    "tp": "TP chosen per class instead of TP-max",
    "scaling": "fewer instances over the day (scaling and re-sharding with the load)",
    "frequency": "lower GPU clocks where the SLO leaves slack",
}


def _pool_cell(pool: dict[str, Any]) -> str:
    """``2x8@1980``: instances x TP @ clock (MHz), ``+`` between configurations of one pool."""
    return "+".join(f"{c['instances']}x{c['tp']}@{c['freq_mhz']}" for c in pool["configs"])


def _ms(x: float | None) -> str:
    return "-" if x is None else f"{x * 1000:.0f} ms" if x < 1 else f"{x:.3g} s"


def _epoch_rows(plan: Plan, verbose: bool) -> list[dict[str, Any]]:
    epochs: list[dict[str, Any]] = plan.plan.get("epochs", [])
    if verbose or len(epochs) <= 24:
        return list(epochs)
    step = max(1, round(3600.0 / epochs[0]["length_s"])) if epochs else 1
    return epochs[::step]


def totals_rows(plan: Plan) -> list[list[Any]]:
    """Plan and baselines: energy, power, GPU-hours, cost, carbon."""
    rows = []
    t = plan.plan.get("totals", {})
    cols = ("energy_kwh", "avg_power_kw", "peak_power_kw", "gpu_h", "peak_gpus", "cost_usd", "carbon_kgco2")
    rows.append(["plan", *[t.get(c) for c in cols]])
    for b in plan.plan.get("baselines", []):
        rows.append([b["name"], *[b.get(c) for c in cols]])
    return rows


def savings_lines(plan: Plan) -> list[str]:
    """Plain-language account of the saving over SinglePool, step by step."""
    sv = plan.plan.get("savings", {})
    if "vs_singlepool_kwh" not in sv:
        return ["SinglePool baseline unavailable: no saving computed."]
    pct = sv.get("vs_singlepool_pct") or 0.0
    verb = "saves" if pct >= 0 else "uses more:"
    against = sv.get("against", "singlepool")
    lines = [
        f"Versus SinglePool ({against}) the plan {verb} {abs(sv['vs_singlepool_kwh']):.1f} kWh "
        f"({abs(pct):.1f}% energy); "
        f"cost {'-' if (sv.get('cost_vs_singlepool_pct') or 0) >= 0 else '+'}"
        f"{abs(sv.get('cost_vs_singlepool_pct') or 0):.1f}% (GPU-hours + electricity)."
    ]
    for other in ("singlepool_fixed", "singlepool_peak"):
        if f"vs_{other}_pct" in sv and other.replace("_", "-") != sv.get("against"):
            lines[0] += f" Versus {other.replace('_', '-')}: {sv[f'vs_{other}_pct']:.1f}% energy."
    lines[0] += " Where it comes from:"
    for part in ("sizing", "pools", "tp", "scaling", "frequency"):
        if f"{part}_kwh" in sv:
            lines.append(f"  {sv[f'{part}_kwh']:+9.1f} kWh  {LADDER_TEXT[part]}")
    return lines


def report(plan: Plan, verbose: bool = False) -> Report:
    """Classes and SLOs, totals versus baselines, the savings account, and the epochs (hourly unless verbose)."""
    block = plan.plan
    if not block.get("epochs"):
        if block.get("infeasible"):
            return Report.of([Text(f"infeasible: {block['infeasible']}", tone="error")])
        return Report()
    out: list[Block] = [
        Text(
            f"mode {block['mode']}, {len(block['epochs'])} epochs of {block['reshard_epoch_s'] / 60:g} min "
            f"(cluster level every {block['epoch_s'] / 60:g} min), {block['model']} on {block['gpu']}, "
            f"budget {block['gpu_budget']} GPUs, headroom {block['headroom']:g}"
        ),
        table(
            f"Classes and p{block['percentile']:g} SLOs",
            [Column("class")] + [_num(c) for c in ("input tokens", "output tokens", "share", "TTFT", "TBT", "E2E")],
            [
                [
                    c["class"],
                    _range(c["input_tokens"]),
                    _range(c["output_tokens"]),
                    f"{c['share'] * 100:.1f}%",
                    _ms(c["ttft_s"]),
                    _ms(c["tbt_s"]),
                    _ms(c["e2e_s"]),
                ]
                for c in block["classes"]
            ],
        ),
        table(
            "Plan versus baselines (energy at the GPUs)",
            [Column("deployment")] + [_num(c) for c in ("kWh", "avg kW", "peak kW", "GPU-h", "GPUs", "USD", "kgCO2")],
            [[row[0], *(_short(v) for v in row[1:])] for row in totals_rows(plan)],
        ),
    ]
    lines = savings_lines(plan)
    out += [Text(lines[0])] + [Text(line, hang=_SAVING_HANG) for line in lines[1:]]
    title = "Epochs: pool = instances x TP @ MHz" + ("" if verbose else " (hourly; --verbose for all)")
    out.append(
        table(
            title,
            [_num(c) for c in ("start", "GPUs", "kW", "req/s")] + [Column("pools", wrap=True)],
            [
                [
                    e["start"],
                    str(e["gpus"]),
                    f"{e['power_w'] / 1000:.1f}",
                    f"{e['load_rps']:.1f}",
                    "  ".join(f"{p['class']} {_pool_cell(p)}" for p in e["pools"]),
                ]
                for e in _epoch_rows(plan, verbose)
            ],
        )
    )
    return Report.of(out)


#: Continuation indent of a savings line (``"  {kwh:+9.1f} kWh  "``), so its words line up when folded.
_SAVING_HANG = 17


def _num(name: str) -> Column:
    return Column(name, numeric=True)


def _short(v: Any) -> str:
    return fmt_num(v) if not isinstance(v, float) or abs(v) < 100 else f"{v:,.0f}"


def _range(r: list[int | None]) -> str:
    lo, hi = r
    return f"{lo}-{hi - 1}" if hi is not None else f">={lo}"


def markdown_report(plan: Plan) -> Report:
    """Markdown: totals versus baselines, the savings account, classes, hourly epochs."""
    block = plan.plan
    if not block.get("epochs"):
        return Report.of([Text(f"Infeasible: {block.get('infeasible', '')}")] if block.get("infeasible") else [])
    return Report.of(
        [
            table(
                "Plan versus baselines",
                ["deployment", "energy kWh", "avg kW", "peak kW", "GPU-h", "peak GPUs", "cost USD", "kgCO2"],
                totals_rows(plan),
            ),
            Heading("Where the saving comes from"),
            Bullets(tuple(line.strip() for line in savings_lines(plan))),
            table(
                "Classes and SLOs",
                ["class", "share", "TTFT s", "TBT s", "E2E s"],
                [[c["class"], c["share"], c["ttft_s"], c["tbt_s"], c["e2e_s"]] for c in block["classes"]],
            ),
            table(
                "Epochs (hourly)",
                ["start", "GPUs", "kW", *(c["class"] for c in block["classes"])],
                [
                    [
                        e["start"],
                        e["gpus"],
                        e["power_w"] / 1000.0,
                        *(
                            {p["class"]: _pool_cell(p) for p in e["pools"]}.get(c["class"], "-")
                            for c in block["classes"]
                        ),
                    ]
                    for e in _epoch_rows(plan, verbose=False)
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


def figure_data(plan: Plan) -> DynamoFigure:
    """The plot's data from the plan block (up to three TP degrees in the clock panels)."""
    block = plan.plan
    classes = tuple(c["class"] for c in block["classes"])
    epochs = block["epochs"]
    against = block.get("savings", {}).get("against", "singlepool-fixed")
    single = next((b for b in block.get("baselines", []) if b["name"] == against and "avg_power_kw" in b), None)
    panels = []
    for tp in sorted({r["tp"] for r in block.get("profile", [])})[:3]:
        curves = []
        for k in classes:
            rows = [r for r in block["profile"] if r["class"] == k and r["tp"] == tp and r["wh_per_request_at_cap"]]
            if rows:
                curves.append(
                    ClockCurve(k, tuple(r["freq_mhz"] for r in rows), tuple(r["wh_per_request_at_cap"] for r in rows))
                )
        panels.append((tp, tuple(curves)))
    return DynamoFigure(
        name=plan.name,
        mode=block["mode"],
        classes=classes,
        start=epochs[0]["start"] if epochs else "00:00",
        hours=tuple(i * block["reshard_epoch_s"] / 3600.0 for i in range(len(epochs))),
        gpus_per_class=tuple(
            tuple(sum(p["gpus"] for p in e["pools"] if p["class"] == k) for e in epochs) for k in classes
        ),
        power_kw=tuple(e["power_w"] / 1000.0 for e in epochs),
        singlepool_avg_kw=None if single is None else single["avg_power_kw"],
        clock_curves=tuple(panels),
    )
