"""The report of a Helix plan as data: tables, lines and the layer map that :mod:`planner.render` draws.

Reads the typed plan block (:class:`~planner.helix.contract.HelixPlanBlock`) and the plan's metrics, never solver
objects nor the plan document (the caller above the plan layer, :mod:`planner.render.registry`, unpacks it): nodes
with their ranges, a layer map (nodes x layers), the bounds and which one is active, bottleneck nodes and links,
baselines side by side, and how the plan was found. No rich and no solver imports: :func:`report` feeds the
terminal, :func:`markdown_report` the PR comment, and :func:`figure_data` the ``--plot`` figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from planner.helix.contract import (
    TAIL_MIN_REQUESTS,
    ConfirmedCandidate,
    HelixBaseline,
    HelixBounds,
    HelixNode,
    HelixPlanBlock,
    ParetoPoint,
    ServedConfirmation,
)
from planner.profiles.accuracy import err_ratio_of
from planner.report_data import (
    Block,
    Column,
    Heading,
    Metrics,
    RangeChart,
    Report,
    Span,
    Text,
    fmt_band,
    fmt_num,
    table,
)

HELD_WITH_FLOW = "#"
HELD_IDLE = "-"
NOT_HELD = "."


def _num(name: str) -> Column:
    return Column(name, numeric=True)


def _tail_note(requests: int | None) -> str:
    """Say so when the online window holds too few requests for its p99 to be a tail (docs/helix.md, Limitations)."""
    if requests is None or requests >= TAIL_MIN_REQUESTS:
        return ""
    return (
        f"; the online window holds {requests} requests, fewer than {TAIL_MIN_REQUESTS}: its p99 rests on the few "
        "prompts among them (a longer plan simulate --duration measures the steady state)"
    )


def _nodes_by_start(block: HelixPlanBlock) -> list[HelixNode]:
    return sorted(block.nodes, key=lambda n: (n.layer_start, n.layer_end, n.name))


def _inflow(n: HelixNode) -> float:
    return n.inflow_tok_s or 0.0


def _use(n: HelixNode) -> float:
    """Inflow over throughput: the share of the node's capacity the planned flow uses."""
    return _inflow(n) / n.tp_tok_s if n.tp_tok_s is not None and n.tp_tok_s > 0 else 0.0


def layer_chart(block: HelixPlanBlock) -> RangeChart:
    """One row per node: '#' held and carrying flow, '-' held but idle, '.' not held (columns = layers)."""
    spans = tuple(
        Span(n.name, n.layer_start, n.layer_end, HELD_WITH_FLOW if _inflow(n) > 1e-9 else HELD_IDLE)
        for n in _nodes_by_start(block)
    )
    return RangeChart(block.layers, spans, empty=NOT_HELD, unit="layers")


def _bounds_rows(block: HelixPlanBlock, metrics: Metrics) -> list[list[Any]]:
    b = block.bounds or HelixBounds()
    rows: list[list[Any]] = []
    served = block.served
    if served:  # served throughput first, the max flow second (issue 13)
        decode = fmt_band(served.decode_tok_s, err_ratio_of(metrics, "predicted_decode_tok_s"))
        total = fmt_band(served.total_tok_s, err_ratio_of(metrics, "predicted_total_tok_s"))
        rows.append(["served decode (predicted)", decode, f"saturated; {served.kv_limit}"])
        rows.append(["served prompt + decode", total, "predicted; plan simulate --offline judges"])
        conf = served.search.confirmation if served.search is not None else None
        if conf is not None:
            mine = next(c for c in conf.candidates if c.source == conf.chosen)
            rows.append(["served decode (confirmed)", mine.simulated_decode_tok_s, _confirmation_note(conf, mine)])
        if served.upper_bound_decode_tok_s is not None:
            rows.append(["served decode bound", served.upper_bound_decode_tok_s, "node model, any placement"])
    rows += [
        ["throughput (max flow)", metrics.get("throughput_tok_s"), "verified with networkx"],
        ["best proven bound", b.best_tok_s, b.active or ""],
        ["layer-covering bound", b.covering_tok_s, b.covering_active or ""],
    ]
    if b.block_tok_s is not None:
        rows.append(["solo/shared block bound", b.block_tok_s, "strict mode"])
    if b.solver_tok_s is not None:
        rows.append(["MILP bound", b.solver_tok_s, ""])
    rows.append(["compute bound", b.compute_tok_s, "sum_i max_k k tp_i(k) / L"])
    for base in block.baselines or []:
        rows.append(
            [f"baseline {base.name}", base.throughput_tok_s, "; ".join(x for x in (_params(base), base.note) if x)]
        )
    return rows


def _confirmation_note(conf: ServedConfirmation, mine: ConfirmedCandidate) -> str:
    """What ``--confirm`` simulated, each placement once. Two candidates can be one placement as simulated (their
    ranges differ only on nodes that carry no flow, which the simulator never reaches; or a source named twice):
    same source, or the same predicted and simulated figures (both deterministic), is the same placement, so the
    winner is not listed again among "the others", nor another placement twice."""

    def same(a: ConfirmedCandidate, b: ConfirmedCandidate) -> bool:
        figures = (a.predicted_decode_tok_s, a.simulated_decode_tok_s)
        return a.source == b.source or figures == (b.predicted_decode_tok_s, b.simulated_decode_tok_s)

    shown: list[ConfirmedCandidate] = [mine]
    for c in conf.candidates:
        if not any(same(c, s) for s in shown):
            shown.append(c)
    others = ", ".join(f"{c.source} {fmt_num(c.simulated_decode_tok_s)}" for c in shown[1:])
    repeats = len(conf.candidates) - len(shown)
    again = f" ({repeats} the same placement as another, not repeated)" if repeats else ""
    return (
        f"simulated offline at seed {conf.seed}, the most served of {len(conf.candidates)} candidates simulated"
        f"{again}; the others: {others or 'none'}"
    )


def _params(b: HelixBaseline) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(b.params.items()))


def _range(n: HelixNode) -> str:
    return f"[{n.layer_start}, {n.layer_end})" if n.layers else "-"


def report(block: HelixPlanBlock, metrics: Metrics, verbose: bool = False) -> Report:
    """The terminal report: bounds and baselines, nodes, layer map, bottlenecks, latency, Pareto front."""
    out: list[Block] = [
        Text(
            f"model {block.model} ({block.layers} layers), mode {block.mode}, "
            f"{len(block.nodes)} nodes; plan from {block.search.chosen if block.search else '-'}"
        ),
        table(
            "Throughput and bounds (tokens/s)",
            [Column("figure"), _num("tok/s"), Column("note", wrap=True, detail=True)],
            _bounds_rows(block, metrics),
        ),
    ]
    served = block.served
    if served:
        p50 = fmt_band(served.token_latency_p50_ms, err_ratio_of(metrics, "predicted_token_latency_p50_ms"), "ms")
        p99 = fmt_band(served.token_latency_p99_ms, err_ratio_of(metrics, "predicted_token_latency_p99_ms"), "ms")
        out.append(
            Text(
                f"Served ({served.objective}): {fmt_num(served.in_flight_requests)} requests in flight; "
                f"per-token latency online at 0.6 load p50 {p50}, p99 {p99} ({served.basis})"
                + _tail_note(served.online_window_requests)
            )
        )
    node_rows = []
    for n in _nodes_by_start(block):
        node_rows.append(
            [
                n.name,
                n.profile_gpu,
                n.region,
                _range(n),
                f"{n.layers}/{n.max_layers}",
                n.tp_tok_s,
                n.inflow_tok_s,
                f"{_use(n):.0%}",
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
    out.append(layer_chart(block))
    bn = block.bottlenecks
    if bn and (bn.nodes or bn.edges):
        cut = [f"node {x}" for x in bn.nodes] + [f"link {x}" for x in bn.edges]
        out.append(Text("Bottlenecks (a minimum cut): " + ", ".join(cut)))
    lat = block.latency
    if lat:
        out.append(
            Text(
                f"Latency: pipeline depth {lat.max_hops} hops (flow-weighted {fmt_num(lat.mean_hops)}), "
                f"decode {fmt_num(lat.decode_ms_per_token_max)} ms/token on the slowest path, prompt "
                f"{fmt_num(lat.prompt_ms_mean)} ms, {fmt_num(lat.in_flight_requests)} requests in "
                f"flight needed ({lat.basis})"
            )
        )
    if block.pareto:
        out.append(_pareto_table(block.pareto, block.served is not None and block.served.objective == "max-flow"))
    if verbose:
        out += _search_blocks(block)
    return Report.of(out)


def _pareto_table(points: list[ParetoPoint], by_max_flow: bool) -> Block:
    """The frontier, one row per point: its max flow and static latency, its served prediction, its plan file."""
    axes = "max flow vs slowest-path decode ms" if by_max_flow else "served tok/s vs p50 and p99 latency"
    notes = [
        "served: predicted decode tokens/s, saturated; p50 / p99: predicted per-token latency online at 0.6 load; "
        "decode ms: slowest path at the max flow (static)"
    ]
    columns = [_num(c) for c in ("max hops", "hops", "max flow", "decode ms", "served tok/s", "p50 ms", "p99 ms")]
    rows: list[list[Any]] = [
        [
            str(p.max_hops),
            str(p.pipeline_depth_hops),
            p.throughput_tok_s,
            p.decode_ms_per_token_max,
            p.predicted_decode_tok_s,
            p.predicted_token_latency_p50_ms,
            p.predicted_token_latency_p99_ms,
        ]
        for p in points
    ]
    if any(p.plan_file for p in points):
        columns.append(Column("plan", detail=True))
        for row, p in zip(rows, points, strict=True):
            row.append(p.plan_file or "-")
        notes.append("plan: the point's complete plan, written in --pareto-dir")
    return table(f"Throughput versus latency ({axes}; each point a verified plan)", columns, rows, notes)


def _search_blocks(block: HelixPlanBlock) -> list[Block]:
    search = block.search
    out: list[Block] = [
        table(
            "How the plan was found",
            [Column("candidate"), _num("tok/s")],
            [[c.source, c.throughput_tok_s] for c in (search.candidates if search else None) or []],
        )
    ]
    if search is None:
        return out
    prune = search.prune
    if prune:
        out.append(
            Text(
                f"pruning ({prune.reason}): keep {prune.keep} links per endpoint, links {prune.links_before}"
                f" -> {prune.links_after}, MILP {prune.variables_before} x {prune.constraints_before} -> "
                f"{prune.variables_after} x {prune.constraints_after} (variables x constraints)"
            )
        )
    milp = search.milp or {}  # the MILP's own report: free-form by design (HelixSearch.milp)
    if milp.get("formulation") not in (None, "none"):
        out.append(
            Text(
                f"MILP: {milp.get('formulation')} {milp.get('variables')} variables x {milp.get('constraints')} "
                f"constraints, warm start {milp.get('warm_start', '-')}, status {milp.get('status')}"
            )
        )
    out += [Text(f"note: {note}") for note in search.notes or []]
    return out


def markdown_report(block: HelixPlanBlock, metrics: Metrics) -> Report:
    """The markdown sections: bounds and baselines, nodes, layer map, bottlenecks."""
    out: list[Block] = [
        table("Throughput and bounds", ["figure", "tok/s", "note"], _bounds_rows(block, metrics)),
        table(
            "Nodes",
            ["node", "type", "region", "layers", "k/K", "tp tok/s", "inflow tok/s"],
            [
                [
                    n.name,
                    n.profile_gpu,
                    n.region,
                    _range(n),
                    f"{n.layers}/{n.max_layers}",
                    n.tp_tok_s,
                    n.inflow_tok_s,
                ]
                for n in _nodes_by_start(block)
            ],
        ),  # fmt: skip
        Heading("Layer map"),
        layer_chart(block),
    ]
    bn = block.bottlenecks
    if bn and (bn.nodes or bn.edges):
        out.append(Text("Bottlenecks (a minimum cut): " + ", ".join(bn.nodes + bn.edges)))
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


def figure_data(block: HelixPlanBlock, metrics: Metrics) -> HelixFigure:
    """The plot's data from the plan block: nodes in layer order, edges with their flow."""
    nodes = tuple(
        NodeBar(n.name, n.profile_gpu, n.layer_start, n.layer_end, n.held if n.layers is None else n.layers, _use(n))
        for n in _nodes_by_start(block)
    )
    edges = tuple(FlowEdge(e.src, e.dst, e.flow_tok_s) for e in block.edges)
    return HelixFigure(block.layers, nodes, edges, metrics.get("throughput_tok_s") or 0.0)
