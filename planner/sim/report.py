"""The report of a simulation document as data: placements side by side, nodes, busiest links.

No rich: :mod:`planner.render` draws :func:`report` on the terminal and :func:`markdown_report` as markdown.
"""

from __future__ import annotations

from planner.report_data import Block, Bullets, Column, Heading, Report, Table, Text, fmt_num, fmt_pct
from planner.sim.document import LatencyStats, PlacementResult, SimulationDocument

#: Links shown per placement (busiest first).
TOP_LINKS = 5


def _lat(stats: LatencyStats, scale: float = 1.0, unit: str = "ms") -> str:
    if stats.count == 0:
        return "-"
    vals = (stats.p50_ms, stats.p90_ms, stats.p99_ms)
    return " / ".join(fmt_num(round(v / scale, 3)) for v in vals if v is not None) + f" {unit}"


def header(doc: SimulationDocument) -> str:
    w = doc.inputs.workload
    opts = doc.inputs.options
    arrivals = {"feeder": "offline (saturated)", "trace": "online, trace arrivals", "poisson": "online, Poisson"}
    rate = f" at {fmt_num(w.rate_rps)} req/s" if w.rate_rps else ""
    return (
        f"simulation: {arrivals[w.arrivals]}{rate}; {fmt_num(opts.get('duration_s'))} s measured after "
        f"{fmt_num(opts.get('warmup_s'))} s warm-up; seed {opts.get('seed')}; lengths from {w.trace.path} "
        f"(mean prompt {w.mean_input_tokens:.0f}, output {w.mean_output_tokens:.0f} tokens)"
    )


def summary_rows(doc: SimulationDocument) -> tuple[list[str], list[list[str]]]:
    """Row label + one column per placement."""
    ps = doc.placements
    walls = doc.run.placements_wall_s
    first = ps[0].plan
    rows: list[list[str]] = [
        ["mode"] + [p.mode for p in ps],
        ["plan's max flow (tok/s)"] + [fmt_num(p.bound_tok_s) for p in ps],
        ["decode throughput (tok/s)"] + [fmt_num(round(p.decode_throughput_tok_s, 2)) for p in ps],
        [f"decode vs {first}"] + [fmt_num(round(p.decode_vs_first_ratio or 0.0, 3)) + "x" for p in ps],
        ["prompt + decode (tok/s)"] + [fmt_num(round(p.total_throughput_tok_s, 2)) for p in ps],
        ["achieved / max flow"] + [fmt_pct(p.achieved_vs_bound_ratio) for p in ps],
        ["prompt latency p50/p90/p99"] + [_lat(p.prompt_latency, 1000.0, "s") for p in ps],
        ["token latency p50/p90/p99"] + [_lat(p.decode_token_latency) for p in ps],
        ["requests done / in flight / waiting"]
        + [
            f"{p.requests.completed_requests} / {p.requests.in_flight_requests} / {p.requests.waiting_requests}"
            for p in ps
        ],
        ["rejected (never fit)"] + [str(p.requests.rejected_requests) for p in ps],
        ["pipeline hops (mean)"] + [fmt_num(round(p.pipeline_mean_hops or 0.0, 2)) for p in ps],
        ["busiest node"] + [_busiest(p) for p in ps],
        ["simulated s / wall s"] + [f"{fmt_num(p.simulated_s)} / {fmt_num(walls.get(p.path, 0.0))}" for p in ps],
    ]
    return ["", *[p.plan for p in ps]], rows


def _busiest(p: PlacementResult) -> str:
    if not p.nodes:
        return "-"
    top = max(p.nodes, key=lambda n: (n.utilization_ratio, n.name))
    return f"{top.name} {fmt_pct(top.utilization_ratio)}"


def node_rows(p: PlacementResult) -> tuple[list[str], list[list[str]]]:
    head = ["node", "gpu", "layers", "planned tok/s", "sim tok/s", "busy", "decode batch", "KV mean", "KV peak"]
    rows = [
        [
            n.name,
            n.profile_gpu,
            f"[{n.layer_start}, {n.layer_end})",
            fmt_num(round(n.planned_tok_s, 1)),
            fmt_num(round(n.simulated_tok_s, 1)),
            fmt_pct(n.utilization_ratio),
            fmt_num(round(n.mean_decode_batch_tokens, 1)) if n.mean_decode_batch_tokens is not None else "-",
            fmt_pct(n.kv_mean_ratio),
            fmt_pct(n.kv_peak_ratio),
        ]
        for n in p.nodes
    ]
    return head, rows


def link_rows(p: PlacementResult, limit: int = TOP_LINKS) -> tuple[list[str], list[list[str]]]:
    head = ["link", "busy", "MB/s", "planned tok/s", "sim tok/s"]
    rows = [
        [
            f"{link.src} -> {link.dst}",
            fmt_pct(link.utilization_ratio),
            fmt_num(round(link.throughput_bytes_s / 1e6, 3)),
            fmt_num(round(link.planned_tok_s, 1)),
            fmt_num(round(link.simulated_tok_s, 1)),
        ]
        for link in p.links[:limit]
    ]
    return head, rows


def _table(title: str, head: list[str], rows: list[list[str]], numeric_from: int = 1, wrap: bool = False) -> Table:
    """Columns from ``numeric_from`` on are figures; ``wrap`` lets every cell fold between words (side by side)."""
    columns = tuple(Column(h, numeric=i >= numeric_from, wrap=wrap) for i, h in enumerate(head))
    return Table(title, columns, tuple(tuple(r) for r in rows))


def report(doc: SimulationDocument, verbose: bool = False) -> Report:
    """Summary side by side, then nodes and busiest links (every placement with --verbose, else the first)."""
    head, rows = summary_rows(doc)
    out: list[Block] = [Text(header(doc)), _table("Placements", head, rows, wrap=True)]
    shown = doc.placements if verbose or len(doc.placements) == 1 else doc.placements[:1]
    for p in shown:
        h, r = node_rows(p)
        out.append(_table(f"Nodes of {p.plan}", h, r, numeric_from=3))
        h, r = link_rows(p, limit=len(p.links) if verbose else TOP_LINKS)
        out.append(_table(f"Busiest links of {p.plan}", h, r))
    if not verbose and len(doc.placements) > 1:
        out.append(Text("(nodes and links of the other placements: --verbose, or --format json)"))
    return Report.of(out)


def markdown_report(doc: SimulationDocument) -> Report:
    """The same report for markdown (PR comments): every placement's nodes and busiest links."""
    head, rows = summary_rows(doc)
    out: list[Block] = [Text(header(doc)), _table("", head, rows)]
    for p in doc.placements:
        h, r = node_rows(p)
        out.append(_table(f"Nodes of {p.plan}", h, r, numeric_from=3))
        h, r = link_rows(p)
        out.append(_table(f"Busiest links of {p.plan}", h, r))
    if doc.warnings:
        out += [Heading("Warnings"), Bullets(tuple(doc.warnings))]
    return Report.of(out)
