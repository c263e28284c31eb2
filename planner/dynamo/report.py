"""Terminal tables, markdown sections and the figure of a dynamo plan (read from the plan document only).

``render_tables`` and ``markdown_sections`` are called by :mod:`planner.render.tables` and
:mod:`planner.render.markdown`; ``write_plot`` by ``plan dynamo --plot FILE.png``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from planner.plan import Plan
from planner.render.plots import pyplot, save_png
from planner.render.tables import fmt_num

LADDER_TEXT = {
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
    epochs = plan.plan.get("epochs", [])
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
    lines = [
        f"Versus SinglePool the plan {verb} {abs(sv['vs_singlepool_kwh']):.1f} kWh ({abs(pct):.1f}% energy); "
        f"cost {'-' if (sv.get('cost_vs_singlepool_pct') or 0) >= 0 else '+'}"
        f"{abs(sv.get('cost_vs_singlepool_pct') or 0):.1f}% (GPU-hours + electricity). Where it comes from:"
    ]
    for part in ("pools", "tp", "scaling", "frequency"):
        if f"{part}_kwh" in sv:
            lines.append(f"  {sv[f'{part}_kwh']:+9.1f} kWh  {LADDER_TEXT[part]}")
    return lines


def render_tables(plan: Plan, console: Console, verbose: bool = False) -> None:
    """Classes and SLOs, totals versus baselines, the savings account, and the epochs (hourly unless verbose)."""
    block = plan.plan
    if not block.get("epochs"):
        if block.get("infeasible"):
            console.print(f"[red]infeasible:[/red] {block['infeasible']}")
        return
    console.print(
        f"mode {block['mode']}, {len(block['epochs'])} epochs of {block['reshard_epoch_s'] / 60:g} min "
        f"(cluster level every {block['epoch_s'] / 60:g} min), {block['model']} on {block['gpu']}, "
        f"budget {block['gpu_budget']} GPUs, headroom {block['headroom']:g}"
    )
    ct = Table(title=f"Classes and p{block['percentile']:g} SLOs", title_justify="left")
    for c in ("class", "input tokens", "output tokens", "share", "TTFT", "TBT", "E2E"):
        ct.add_column(c, justify="left" if c == "class" else "right")
    for c in block["classes"]:
        ct.add_row(
            c["class"],
            _range(c["input_tokens"]),
            _range(c["output_tokens"]),
            f"{c['share'] * 100:.1f}%",
            _ms(c["ttft_s"]),
            _ms(c["tbt_s"]),
            _ms(c["e2e_s"]),
        )
    console.print(ct)
    tt = Table(title="Plan versus baselines (energy at the GPUs)", title_justify="left")
    for c in ("deployment", "kWh", "avg kW", "peak kW", "GPU-h", "GPUs", "USD", "kgCO2"):
        tt.add_column(c, justify="left" if c == "deployment" else "right", no_wrap=True)
    for row in totals_rows(plan):
        tt.add_row(row[0], *(_short(v) for v in row[1:]))
    console.print(tt)
    for line in savings_lines(plan):
        console.print(line)
    title = "Epochs: pool = instances x TP @ MHz" + ("" if verbose else " (hourly; --verbose for all)")
    et = Table(title=title, title_justify="left")
    for c in ("start", "GPUs", "kW", "req/s"):
        et.add_column(c, justify="right", no_wrap=True)
    et.add_column("pools", overflow="fold")
    for e in _epoch_rows(plan, verbose):
        et.add_row(
            e["start"],
            str(e["gpus"]),
            f"{e['power_w'] / 1000:.1f}",
            f"{e['load_rps']:.1f}",
            "  ".join(f"{p['class']} {_pool_cell(p)}" for p in e["pools"]),
        )
    console.print(et)


def _short(v: Any) -> str:
    return fmt_num(v) if not isinstance(v, float) or abs(v) < 100 else f"{v:,.0f}"


def _range(r: list[int | None]) -> str:
    lo, hi = r
    return f"{lo}-{hi - 1}" if hi is not None else f">={lo}"


def markdown_sections(plan: Plan) -> list[str]:
    """Markdown: totals versus baselines, the savings account, hourly epochs."""
    from planner.render.markdown import md_table

    block = plan.plan
    if not block.get("epochs"):
        return [f"Infeasible: {block.get('infeasible', '')}"] if block.get("infeasible") else []
    sections = [
        "### Plan versus baselines",
        md_table(
            ["deployment", "energy kWh", "avg kW", "peak kW", "GPU-h", "peak GPUs", "cost USD", "kgCO2"],
            totals_rows(plan),
        ),
        "### Where the saving comes from\n\n" + "\n".join(f"- {line.strip()}" for line in savings_lines(plan)),
        "### Classes and SLOs",
        md_table(
            ["class", "share", "TTFT s", "TBT s", "E2E s"],
            [[c["class"], c["share"], c["ttft_s"], c["tbt_s"], c["e2e_s"]] for c in block["classes"]],
        ),
        "### Epochs (hourly)",
        md_table(
            ["start", "GPUs", "kW", *(c["class"] for c in block["classes"])],
            [
                [
                    e["start"],
                    e["gpus"],
                    e["power_w"] / 1000.0,
                    *({p["class"]: _pool_cell(p) for p in e["pools"]}.get(c["class"], "-") for c in block["classes"]),
                ]
                for e in _epoch_rows(plan, verbose=False)
            ],
        ),
    ]
    return sections


def write_plot(plan: Plan, path: Path) -> list[tuple[str, str]]:
    """GPUs per pool over the day (stacked) with the power line; energy per request per class versus clock.

    Returns the (x, y) labels of every axis drawn, so tests can check the figure without comparing pixels.
    """
    plt = pyplot()

    block = plan.plan
    classes = [c["class"] for c in block["classes"]]
    epochs = block["epochs"]
    hours = [i * block["reshard_epoch_s"] / 3600.0 for i in range(len(epochs))]
    fig = plt.figure(figsize=(13, 8))
    grid = fig.add_gridspec(2, 3, height_ratios=[1.2, 1.0])
    ax = fig.add_subplot(grid[0, :])
    stacks = [[sum(p["gpus"] for p in e["pools"] if p["class"] == k) for e in epochs] for k in classes]
    cmap = plt.get_cmap("tab10")
    ax.stackplot(hours, stacks, labels=classes, colors=[cmap(i) for i in range(len(classes))], step="post", alpha=0.85)
    ax.set_xlabel(f"hours from {epochs[0]['start'] if epochs else '00:00'}")
    ax.set_ylabel("GPUs per pool")
    ax.set_title(f"{plan.name}: GPUs per pool (stacked) and GPU power, {block['mode']} mode")
    ax2 = ax.twinx()
    ax2.plot(hours, [e["power_w"] / 1000.0 for e in epochs], color="black", lw=1.5, label="plan power")
    single = next((b for b in block.get("baselines", []) if b["name"] == "singlepool" and "avg_power_kw" in b), None)
    if single is not None:
        ax2.axhline(single["avg_power_kw"], color="grey", ls="--", lw=1, label="SinglePool average power")
    ax2.set_ylabel("power (kW)")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper left", ncol=6, fontsize=8)
    tps = sorted({r["tp"] for r in block.get("profile", [])})
    for i, tp in enumerate(tps[:3]):
        axp = fig.add_subplot(grid[1, i])
        for j, k in enumerate(classes):
            rows = [r for r in block["profile"] if r["class"] == k and r["tp"] == tp and r["wh_per_request_at_cap"]]
            if rows:
                axp.plot(
                    [r["freq_mhz"] for r in rows],
                    [r["wh_per_request_at_cap"] for r in rows],
                    marker="o",
                    ms=3,
                    color=cmap(j),
                    label=k,
                )
        axp.set_yscale("log")
        axp.set_xlabel("SM clock (MHz)")
        axp.set_ylabel("Wh per request at SLO capacity")
        axp.set_title(f"TP{tp}: energy per request vs clock")
        if i == 0:
            axp.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    labels = [(a.get_xlabel(), a.get_ylabel()) for a in fig.get_axes()]
    save_png(fig, path)
    return labels
