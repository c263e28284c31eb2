"""The report of a Helix plan as data: tables, lines and the layer map that :mod:`planner.render` draws.

Reads the plan document only (never solver objects): nodes with their ranges, a layer map (nodes x layers), the
bounds and which one is active, bottleneck nodes and links, baselines side by side, and how the plan was found.
No rich and no solver imports: :func:`report` feeds the terminal, :func:`markdown_report` the PR comment, and
:func:`figure_data` the ``--plot`` figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from planner.plan import Plan
from planner.report_data import Block, Column, Heading, RangeChart, Report, Span, Text, fmt_num, table

HELD_WITH_FLOW = "#"
HELD_IDLE = "-"
NOT_HELD = "."


def _num(name: str) -> Column:
    return Column(name, numeric=True)


def _nodes_by_start(plan: Plan) -> list[dict[str, Any]]:
    return sorted(plan.plan.get("nodes", []), key=lambda n: (n["layer_start"], n["layer_end"], n["name"]))


def layer_chart(plan: Plan) -> RangeChart:
    """One row per node: '#' held and carrying flow, '-' held but idle, '.' not held (columns = layers)."""
    spans = tuple(
        Span(n["name"], n["layer_start"], n["layer_end"], HELD_WITH_FLOW if n["inflow_tok_s"] > 1e-9 else HELD_IDLE)
        for n in _nodes_by_start(plan)
    )
    return RangeChart(int(plan.plan.get("layers", 0)), spans, empty=NOT_HELD, unit="layers")


def _bounds_rows(plan: Plan) -> list[list[Any]]:
    m = plan.metrics
    b = plan.plan.get("bounds", {})
    rows: list[list[Any]] = []
    served = plan.plan.get("served")
    if served:  # served throughput first, the max flow second (issue 13)
        rows.append(["served decode (predicted)", served["decode_tok_s"], f"saturated; {served['kv_limit']}"])
        rows.append(["served prompt + decode", served["total_tok_s"], "predicted; plan simulate --offline judges"])
        if served.get("upper_bound_decode_tok_s") is not None:
            rows.append(["served decode bound", served["upper_bound_decode_tok_s"], "node model, any placement"])
    rows += [
        ["throughput (max flow)", m.get("throughput_tok_s"), "verified with networkx"],
        ["best proven bound", b.get("best_tok_s"), b.get("active", "")],
        ["layer-covering bound", b.get("covering_tok_s"), b.get("covering_active", "")],
    ]
    if b.get("block_tok_s") is not None:
        rows.append(["solo/shared block bound", b.get("block_tok_s"), "strict mode"])
    if b.get("solver_tok_s") is not None:
        rows.append(["MILP bound", b.get("solver_tok_s"), ""])
    rows.append(["compute bound", b.get("compute_tok_s"), "sum_i max_k k tp_i(k) / L"])
    for base in plan.plan.get("baselines", []):
        rows.append([f"baseline {base['name']}", base["throughput_tok_s"], base.get("note", "") or _params(base)])
    return rows


def _params(b: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(b.get("params", {}).items()))


def _range(n: dict[str, Any]) -> str:
    return f"[{n['layer_start']}, {n['layer_end']})" if n["layers"] else "-"


def report(plan: Plan, verbose: bool = False) -> Report:
    """The terminal report: bounds and baselines, nodes, layer map, bottlenecks, latency, Pareto front."""
    block = plan.plan
    out: list[Block] = [
        Text(
            f"model {block.get('model')} ({block.get('layers')} layers), mode {block.get('mode')}, "
            f"{len(block.get('nodes', []))} nodes; plan from {block.get('search', {}).get('chosen', '-')}"
        ),
        table(
            "Throughput and bounds (tokens/s)",
            [Column("figure"), _num("tok/s"), Column("note", wrap=True, detail=True)],
            _bounds_rows(plan),
        ),
    ]
    served = block.get("served")
    if served:
        out.append(
            Text(
                f"Served ({served['objective']}): {fmt_num(served['in_flight_requests'])} requests in flight; "
                f"per-token latency online at 0.6 load p50 {fmt_num(served['token_latency_p50_ms'])} ms, p99 "
                f"{fmt_num(served['token_latency_p99_ms'])} ms ({served['basis']})"
            )
        )
    node_rows = []
    for n in _nodes_by_start(plan):
        use = n["inflow_tok_s"] / n["tp_tok_s"] if n["tp_tok_s"] > 0 else 0.0
        node_rows.append(
            [
                n["name"],
                n["profile_gpu"],
                n["region"],
                _range(n),
                f"{n['layers']}/{n['max_layers']}",
                n["tp_tok_s"],
                n["inflow_tok_s"],
                f"{use:.0%}",
            ]
        )
    out.append(
        table(
            "Nodes",
            [Column("node"), Column("type"), Column("region"), Column("layers")]
            + [_num(c) for c in ("k/K", "tp tok/s", "inflow tok/s", "use")],
            node_rows,
        )
    )
    out.append(Text("Layer map ('#' holds and serves, '-' holds but idle, '.' not held):"))
    out.append(layer_chart(plan))
    bn = block.get("bottlenecks", {})
    if bn.get("nodes") or bn.get("edges"):
        cut = [f"node {x}" for x in bn.get("nodes", [])] + [f"link {x}" for x in bn.get("edges", [])]
        out.append(Text("Bottlenecks (a minimum cut): " + ", ".join(cut)))
    lat = block.get("latency")
    if lat:
        out.append(
            Text(
                f"Latency: pipeline depth {lat.get('max_hops')} hops (flow-weighted {fmt_num(lat.get('mean_hops'))}), "
                f"decode {fmt_num(lat.get('decode_ms_per_token_max'))} ms/token on the slowest path, prompt "
                f"{fmt_num(lat.get('prompt_ms_mean'))} ms, {fmt_num(lat.get('in_flight_requests'))} requests in "
                f"flight needed ({lat.get('basis')})"
            )
        )
    if block.get("pareto"):
        out.append(
            table(
                "Throughput versus latency (each point a verified plan)",
                [_num(c) for c in ("max hops", "tok/s", "bound", "decode ms/token", "prompt ms", "in flight")],
                [
                    [
                        str(p["max_hops"]),
                        p["throughput_tok_s"],
                        p["bound_tok_s"],
                        p["decode_ms_per_token_max"],
                        p["prompt_ms_mean"],
                        p["in_flight_requests"],
                    ]
                    for p in block["pareto"]
                ],
            )
        )
    if verbose:
        out += _search_blocks(block)
    return Report.of(out)


def _search_blocks(block: dict[str, Any]) -> list[Block]:
    search = block.get("search", {})
    out: list[Block] = [
        table(
            "How the plan was found",
            [Column("candidate"), _num("tok/s")],
            [[c["source"], c["throughput_tok_s"]] for c in search.get("candidates", [])],
        )
    ]
    prune = search.get("prune")
    if prune:
        out.append(
            Text(
                f"pruning ({prune['reason']}): keep {prune['keep']} links per endpoint, links {prune['links_before']}"
                f" -> {prune['links_after']}, MILP {prune['variables_before']} x {prune['constraints_before']} -> "
                f"{prune['variables_after']} x {prune['constraints_after']} (variables x constraints)"
            )
        )
    milp = search.get("milp", {})
    if milp.get("formulation") not in (None, "none"):
        out.append(
            Text(
                f"MILP: {milp.get('formulation')} {milp.get('variables')} variables x {milp.get('constraints')} "
                f"constraints, warm start {milp.get('warm_start', '-')}, status {milp.get('status')}"
            )
        )
    out += [Text(f"note: {note}") for note in search.get("notes", [])]
    return out


def markdown_report(plan: Plan) -> Report:
    """The markdown sections: bounds and baselines, nodes, layer map, bottlenecks."""
    block = plan.plan
    out: list[Block] = [
        table("Throughput and bounds", ["figure", "tok/s", "note"], _bounds_rows(plan)),
        table(
            "Nodes",
            ["node", "type", "region", "layers", "k/K", "tp tok/s", "inflow tok/s"],
            [
                [
                    n["name"],
                    n["profile_gpu"],
                    n["region"],
                    _range(n),
                    f"{n['layers']}/{n['max_layers']}",
                    n["tp_tok_s"],
                    n["inflow_tok_s"],
                ]
                for n in _nodes_by_start(plan)
            ],
        ),  # fmt: skip
        Heading("Layer map"),
        layer_chart(plan),
    ]
    bn = block.get("bottlenecks", {})
    if bn.get("nodes") or bn.get("edges"):
        out.append(Text("Bottlenecks (a minimum cut): " + ", ".join(bn.get("nodes", []) + bn.get("edges", []))))
    return Report.of(out)


# ------------------------------------------------------------------------------------------------ figure


@dataclass(frozen=True)
class NodeBar:
    """One node of the figure: its layer range, GPU type and utilisation (inflow / throughput)."""

    name: str
    gpu: str
    layer_start: int
    layer_end: int
    layers: int
    use_ratio: float


@dataclass(frozen=True)
class FlowEdge:
    src: str
    dst: str
    flow_tok_s: float


@dataclass(frozen=True)
class HelixFigure:
    """What ``plan helix --plot`` draws: the layer map (bars) and the flow graph (edges between node ranges)."""

    layers: int
    nodes: tuple[NodeBar, ...]
    edges: tuple[FlowEdge, ...]
    throughput_tok_s: float


def figure_data(plan: Plan) -> HelixFigure:
    """The plot's data from the plan block: nodes in layer order, edges with their flow."""
    block = plan.plan
    nodes = tuple(
        NodeBar(
            n["name"],
            n["profile_gpu"],
            n["layer_start"],
            n["layer_end"],
            n["layers"],
            n["inflow_tok_s"] / n["tp_tok_s"] if n["tp_tok_s"] > 0 else 0.0,
        )
        for n in _nodes_by_start(plan)
    )
    edges = tuple(FlowEdge(e["src"], e["dst"], e["flow_tok_s"]) for e in block["edges"])
    return HelixFigure(block["layers"], nodes, edges, plan.metrics.get("throughput_tok_s") or 0.0)
