"""Terminal and markdown report of a splitwise plan (reads the plan document only).

Designs side by side (pools, machines, cost, power, rate, worst SLO margin), the chosen pools with predicted
utilisation and launch hints, the nine SLOs with limits and margins, and in verbose mode every simulated point.
"""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from planner.plan import Plan
from planner.render.markdown import md_table
from planner.render.tables import fmt_num


def _pools_text(row: dict[str, Any]) -> str:
    if row.get("prompt") is None:
        return "-"
    if row["kind"] == "baseline":
        return f"{row['prompt']} x {row['prompt_machine']}"
    return f"{row['prompt']}P {row['prompt_machine']} + {row['token']}T {row['token_machine']}"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:.1f}%"


def _money(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}" if x >= 100 else f"{x:.2f}"


def design_rows(plan: Plan, verbose: bool = False) -> tuple[list[str], list[list[Any]]]:
    """Designs side by side: counts, cost, power, rate, worst SLO margin (notes and bounds when verbose)."""
    b = plan.plan
    rate_head = "max req/s" if b["mode"] == "iso-budget" else "req/s"
    headers = ["design", "P", "T", "USD/h", "kW", rate_head, "USD/Mtok", "worst SLO (margin)"]
    if verbose:
        headers += ["pools", "bound", "points", "status"]
    rows = []
    for r in b["designs"]:
        mark = "*" if r["design"] == b.get("design") else ""
        if r.get("prompt") is None:
            worst = f"{r['status']}: {r.get('note') or '-'}"
        else:
            worst = f"{r.get('worst_slo') or '-'} ({_pct(r.get('worst_slo_margin'))})"
        row = [
            r["design"] + mark,
            r.get("prompt"),
            r.get("token") if r["kind"] == "split" else "-",
            _money(r.get("cost_usd_h")),
            r.get("power_kw"),
            r.get("throughput_rps"),
            _money(r.get("usd_per_mtok")),
            worst,
        ]
        if verbose:
            row += [_pools_text(r), r.get("bound"), r.get("simulated_points"), r["status"]]
        rows.append(row)
    return headers, rows


def pool_rows(plan: Plan, verbose: bool = False) -> tuple[list[str], list[list[Any]]]:
    """The chosen design's pools: busy share, KV memory in use, lending (when the mixed pool is on)."""
    lending = verbose or bool((plan.plan.get("search") or {}).get("mixed_pool"))
    headers = ["role", "machine", "count", "USD/h", "kW", "busy", "KV used", "perf"]
    if lending:
        headers.insert(7, "lent peak")
    if verbose:
        headers.insert(3, "instances")
    rows = []
    for p in plan.plan["pools"]:
        row = [
            p["role"] + ("" if p["provisioned"] else " (lent)"),
            p["machine"],
            p["count"],
            _money(p["cost_usd_h"]),
            p["power_kw"],
            _pct(p["utilisation"]),
            _pct(p.get("kv_utilisation")),
            p["perf_basis"] or "-",
        ]
        if lending:
            row.insert(7, p["lent_peak"])
        if verbose:
            row.insert(3, p["instances"])
        rows.append(row)
    return headers, rows


def slo_rows(plan: Plan) -> tuple[list[str], list[list[Any]]]:
    headers = ["SLO (slowdown)", "value", "limit", "margin"]
    rows = [[s["name"], s["value"], s["limit"], _pct(s["margin"])] for s in plan.plan["slos"]]
    return headers, rows


def ledger_rows(plan: Plan) -> tuple[list[str], list[list[Any]]]:
    headers = ["design", "P", "T", "req/s", "USD/h", "feasible", "why"]
    rows = [
        [r["design"], r["prompt"], r["token"], r["rate_rps"], r["cost_usd_h"], r["feasible"], r["reason"] or "-"]
        for r in plan.plan["ledger"]
    ]
    return headers, rows


def launch_lines(plan: Plan) -> list[str]:
    out = []
    for p in plan.plan["pools"]:
        hints = p.get("launch") or {}
        for engine in ("vllm", "sglang"):
            if engine in hints:
                out.append(f"{p['role']} x{hints.get('instances', p['count'])} [{engine}]: {hints[engine]}")
    router = plan.plan.get("router") or {}
    if "sglang" in router:
        out.append(f"router [sglang]: {router['sglang']}")
    return out


def _table(title: str, headers: list[str], rows: list[list[Any]]) -> Table:
    t = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    text = ("pools", "why", "status", "machine", "worst SLO (margin)", "note", "role", "perf")
    for i, h in enumerate(headers):
        t.add_column(h, justify="left" if i == 0 or h in text else "right", overflow="fold")
    for r in rows:
        t.add_row(*(fmt_num(v) for v in r))
    return t


def _headline(plan: Plan) -> str:
    b = plan.plan
    if b.get("design") is None:
        return "no design meets the target"
    m = plan.metrics
    if b["mode"] == "iso-budget":
        budget = ", ".join(
            f"{fmt_num(v)} {'USD/h' if k == 'cost_usd_h' else 'kW'}" for k, v in b["budget"].items() if v is not None
        )
        return (
            f"best design {b['design']}: {fmt_num(m.get('throughput_rps'))} req/s within {budget} "
            f"({fmt_num(m.get('cost_usd_h'))} USD/h, {fmt_num(m.get('power_kw'))} kW)"
        )
    return (
        f"best design {b['design']} for {fmt_num(b['rate_rps'])} req/s by {b['objective']}: "
        f"{fmt_num(m.get('cost_usd_h'))} USD/h, {fmt_num(m.get('power_kw'))} kW, "
        f"{fmt_num(m.get('usd_per_mtok'))} USD/Mtok"
    )


def render_tables(plan: Plan, console: Console, verbose: bool = False) -> None:
    """The splitwise part of ``render_plan``: designs, pools, SLOs, launch hints (and the ledger when verbose)."""
    console.print(_headline(plan))
    console.print(
        _table("Designs (best point each; * = chosen; P/T = prompt/token machines)", *design_rows(plan, verbose))
    )
    if plan.plan.get("pools"):
        console.print(_table(f"Pools of {plan.plan['design']}", *pool_rows(plan, verbose)))
        console.print(_table("SLOs (slowdown vs the request alone on the reference machine)", *slo_rows(plan)))
        lines = launch_lines(plan)
        if lines:
            console.print("Launch hints (one line per machine of the pool):")
            for line in lines if verbose else lines[:4]:
                console.print(f"  {line}", soft_wrap=True, markup=False)
    if verbose:
        console.print(_table("Every simulated point", *ledger_rows(plan)))


def markdown_sections(plan: Plan) -> list[str]:
    """Markdown blocks for ``--format markdown`` (PR comments)."""
    parts = [f"**{_headline(plan)}**", "### Designs", md_table(*design_rows(plan, verbose=True))]
    if plan.plan.get("pools"):
        parts += ["### Pools", md_table(*pool_rows(plan)), "### SLOs", md_table(*slo_rows(plan))]
        lines = launch_lines(plan)
        if lines:
            parts += ["### Launch hints", "```\n" + "\n".join(lines) + "\n```"]
    return parts
