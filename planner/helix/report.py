"""Terminal and markdown report of a Helix plan (the generic renderer calls these two functions).

Reads the plan document only (never solver objects): nodes with their ranges, a layer map (nodes x layers), the
bounds and which one is active, bottleneck nodes and links, baselines side by side, and how the plan was found.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from planner.plan import Plan
from planner.render.tables import fmt_num

HELD_WITH_FLOW = "#"
HELD_IDLE = "-"
NOT_HELD = "."


def _nodes_by_start(plan: Plan) -> list[dict[str, Any]]:
    return sorted(plan.plan.get("nodes", []), key=lambda n: (n["layer_start"], n["layer_end"], n["name"]))


def layer_map(plan: Plan, width: int = 80) -> list[str]:
    """One text row per node: '#' held and carrying flow, '-' held but idle, '.' not held (columns = layers)."""
    layers = int(plan.plan.get("layers", 0))
    if layers <= 0:
        return []
    per_col = max(1, -(-layers // width))
    cols = -(-layers // per_col)
    nodes = _nodes_by_start(plan)
    name_w = max((len(n["name"]) for n in nodes), default=4)
    rows = []
    header = " " * (name_w + 1) + "".join(str((c * per_col) // 10 % 10) if (c * per_col) % 10 == 0 else " "
                                          for c in range(cols))  # fmt: skip
    rows.append(header)
    for n in nodes:
        mark = HELD_WITH_FLOW if n["inflow_tok_s"] > 1e-9 else HELD_IDLE
        line = "".join(mark if n["layer_start"] <= c * per_col < n["layer_end"] else NOT_HELD for c in range(cols))
        rows.append(f"{n['name']:<{name_w}} {line}")
    return rows


def _bounds_rows(plan: Plan) -> list[tuple[str, Any, str]]:
    m = plan.metrics
    b = plan.plan.get("bounds", {})
    rows = [
        ("throughput (max flow)", m.get("throughput_tok_s"), "verified with networkx"),
        ("best proven bound", b.get("best_tok_s"), b.get("active", "")),
        ("layer-covering bound", b.get("covering_tok_s"), b.get("covering_active", "")),
    ]
    if b.get("block_tok_s") is not None:
        rows.append(("solo/shared block bound", b.get("block_tok_s"), "strict mode"))
    if b.get("solver_tok_s") is not None:
        rows.append(("MILP bound", b.get("solver_tok_s"), ""))
    rows.append(("compute bound", b.get("compute_tok_s"), "sum_i max_k k tp_i(k) / L"))
    return rows


def render_tables(plan: Plan, console: Console, verbose: bool = False) -> None:
    """Rich tables for ``plan`` (called by planner.render.tables.render_plan)."""
    block = plan.plan
    console.print(
        f"model {block.get('model')} ({block.get('layers')} layers), mode {block.get('mode')}, "
        f"{len(block.get('nodes', []))} nodes; plan from {block.get('search', {}).get('chosen', '-')}"
    )
    t = Table(title="Throughput and bounds (tokens/s)", title_justify="left")
    t.add_column("figure")
    t.add_column("tok/s", justify="right")
    t.add_column("note", overflow="fold")
    for name, value, note in _bounds_rows(plan):
        t.add_row(name, fmt_num(value), note)
    for b in block.get("baselines", []):
        t.add_row(f"baseline {b['name']}", fmt_num(b["throughput_tok_s"]), b.get("note", "") or _params(b))
    console.print(t)

    nodes = Table(title="Nodes", title_justify="left")
    for col in ("node", "type", "region", "layers"):
        nodes.add_column(col)
    for col in ("k/K", "tp tok/s", "inflow tok/s", "use"):
        nodes.add_column(col, justify="right")
    for n in _nodes_by_start(plan):
        use = n["inflow_tok_s"] / n["tp_tok_s"] if n["tp_tok_s"] > 0 else 0.0
        nodes.add_row(
            n["name"],
            n["profile_gpu"],
            n["region"],
            f"[{n['layer_start']}, {n['layer_end']})" if n["layers"] else "-",
            f"{n['layers']}/{n['max_layers']}",
            fmt_num(n["tp_tok_s"]),
            fmt_num(n["inflow_tok_s"]),
            f"{use:.0%}",
        )
    console.print(nodes)
    console.print("Layer map ('#' holds and serves, '-' holds but idle, '.' not held):")
    for row in layer_map(plan):
        console.print(row, markup=False, highlight=False)
    bn = block.get("bottlenecks", {})
    if bn.get("nodes") or bn.get("edges"):
        console.print(
            "Bottlenecks (a minimum cut): "
            + ", ".join([f"node {x}" for x in bn.get("nodes", [])] + [f"link {x}" for x in bn.get("edges", [])])
        )
    lat = block.get("latency")
    if lat:
        console.print(
            f"Latency: pipeline depth {lat.get('max_hops')} hops (flow-weighted {fmt_num(lat.get('mean_hops'))}), "
            f"decode {fmt_num(lat.get('decode_ms_per_token_max'))} ms/token on the slowest path, prompt "
            f"{fmt_num(lat.get('prompt_ms_mean'))} ms, {fmt_num(lat.get('in_flight_requests'))} requests in flight "
            f"needed ({lat.get('basis')})"
        )
    if block.get("pareto"):
        t = Table(title="Throughput versus latency (each point a verified plan)", title_justify="left")
        for col in ("max hops", "tok/s", "bound", "decode ms/token", "prompt ms", "in flight"):
            t.add_column(col, justify="right")
        for p in block["pareto"]:
            t.add_row(
                str(p["max_hops"]),
                fmt_num(p["throughput_tok_s"]),
                fmt_num(p["bound_tok_s"]),
                fmt_num(p["decode_ms_per_token_max"]),
                fmt_num(p["prompt_ms_mean"]),
                fmt_num(p["in_flight_requests"]),
            )
        console.print(t)
    if verbose:
        _render_search(block, console)


def _params(b: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(b.get("params", {}).items()))


def _render_search(block: dict[str, Any], console: Console) -> None:
    search = block.get("search", {})
    t = Table(title="How the plan was found", title_justify="left")
    t.add_column("candidate")
    t.add_column("tok/s", justify="right")
    for c in search.get("candidates", []):
        t.add_row(c["source"], fmt_num(c["throughput_tok_s"]))
    console.print(t)
    prune = search.get("prune")
    if prune:
        console.print(
            f"pruning ({prune['reason']}): keep {prune['keep']} links per endpoint, links {prune['links_before']} -> "
            f"{prune['links_after']}, MILP {prune['variables_before']} x {prune['constraints_before']} -> "
            f"{prune['variables_after']} x {prune['constraints_after']} (variables x constraints)"
        )
    milp = search.get("milp", {})
    if milp.get("formulation") not in (None, "none"):
        console.print(
            f"MILP: {milp.get('formulation')} {milp.get('variables')} variables x {milp.get('constraints')} "
            f"constraints, warm start {milp.get('warm_start', '-')}, status {milp.get('status')}"
        )
    for note in search.get("notes", []):
        console.print(f"note: {note}")


def markdown_sections(plan: Plan) -> list[str]:
    """Markdown sections for ``plan`` (called by planner.render.markdown.render_markdown)."""
    from planner.render.markdown import md_table

    block = plan.plan
    out = [
        "### Throughput and bounds",
        "",
        md_table(
            ["figure", "tok/s", "note"],
            [list(r) for r in _bounds_rows(plan)]
            + [
                [f"baseline {b['name']}", b["throughput_tok_s"], b.get("note", "") or _params(b)]
                for b in block.get("baselines", [])
            ],
        ),  # fmt: skip
        "### Nodes",
        "",
        md_table(
            ["node", "type", "region", "layers", "k/K", "tp tok/s", "inflow tok/s"],
            [
                [
                    n["name"],
                    n["profile_gpu"],
                    n["region"],
                    f"[{n['layer_start']}, {n['layer_end']})" if n["layers"] else "-",
                    f"{n['layers']}/{n['max_layers']}",
                    n["tp_tok_s"],
                    n["inflow_tok_s"],
                ]
                for n in _nodes_by_start(plan)
            ],
        ),
        "### Layer map",
        "",
        "```\n" + "\n".join(layer_map(plan)) + "\n```",
    ]
    bn = block.get("bottlenecks", {})
    if bn.get("nodes") or bn.get("edges"):
        out += ["", "Bottlenecks (a minimum cut): " + ", ".join(bn.get("nodes", []) + bn.get("edges", []))]
    return out
