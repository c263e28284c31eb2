"""Terminal and markdown report of a splitwise plan (reads the plan document only).

Designs side by side (pools, machines, cost, power, rate, worst SLO margin), the chosen pools with predicted
utilisation and launch hints, the nine SLOs with limits and margins, and in verbose mode every simulated point.
"""

from __future__ import annotations

from typing import Any

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


def design_rows(plan: Plan) -> tuple[list[str], list[list[Any]]]:
    b = plan.plan
    rate_head = "max req/s" if b["mode"] == "iso-budget" else "req/s"
    headers = ["design", "pools", "machines", "USD/h", "kW", rate_head, "USD/Mtok", "worst SLO (margin)", "status"]
    rows = []
    for r in b["designs"]:
        mark = " *" if r["design"] == b.get("design") else ""
        worst = "-" if r.get("worst_slo") is None else f"{r['worst_slo']} ({_pct(r['worst_slo_margin'])})"
        status = r["status"] + (f": {r['note']}" if r.get("note") else "")
        rows.append(
            [
                r["design"] + mark,
                _pools_text(r),
                r.get("machines"),
                r.get("cost_usd_h"),
                r.get("power_kw"),
                r.get("throughput_rps"),
                r.get("usd_per_mtok"),
                worst,
                status,
            ]
        )
    return headers, rows


def pool_rows(plan: Plan) -> tuple[list[str], list[list[Any]]]:
    headers = ["role", "machine", "count", "instances", "USD/h", "kW", "utilisation", "lent peak", "perf"]
    rows = [
        [
            p["role"] + ("" if p["provisioned"] else " (lent)"),
            p["machine"],
            p["count"],
            p["instances"],
            p["cost_usd_h"],
            p["power_kw"],
            _pct(p["utilisation"]),
            p["lent_peak"],
            p["perf_basis"] or "-",
        ]
        for p in plan.plan["pools"]
    ]
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
    t = Table(title=title, title_justify="left")
    for i, h in enumerate(headers):
        t.add_column(h, justify="left" if i == 0 or h in ("pools", "why", "status", "machine") else "right")
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
    console.print(_table("Designs (best point each; * = chosen)", *design_rows(plan)))
    if plan.plan.get("pools"):
        console.print(_table(f"Pools of {plan.plan['design']}", *pool_rows(plan)))
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
    parts = [f"**{_headline(plan)}**", "### Designs", md_table(*design_rows(plan))]
    if plan.plan.get("pools"):
        parts += ["### Pools", md_table(*pool_rows(plan)), "### SLOs", md_table(*slo_rows(plan))]
        lines = launch_lines(plan)
        if lines:
            parts += ["### Launch hints", "```\n" + "\n".join(lines) + "\n```"]
    return parts
