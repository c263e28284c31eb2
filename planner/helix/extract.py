"""From a :class:`~planner.helix.solve.HelixResult` to the plan document's ``plan`` block, metrics and assumptions.

The block is built as the helix contract (:class:`planner.helix.contract.HelixPlanBlock`, docs/helix.md, "Plan
document"), so a key the contract does not declare cannot be written: ``model``, ``layers``, ``mode``, ``nodes``
sorted by name (nodes holding nothing useful still appear), ``edges`` valid under the placement sorted by
(src, dst), ``routing`` weights from the flow, ``baselines``; plus ``bounds``, ``bottlenecks``, ``search`` and
``latency``. Nothing volatile (times) goes here: same inputs and seed give the same block.
"""

from __future__ import annotations

from typing import Any

from planner.helix.baselines import Baseline
from planner.helix.contract import (
    Bottlenecks,
    Candidate,
    HelixBaseline,
    HelixBounds,
    HelixCertificate,
    HelixEdge,
    HelixLatency,
    HelixNode,
    HelixPlanBlock,
    HelixSearch,
    ParetoPoint,
    Prune,
    RouteWeight,
)
from planner.helix.flow import FlowResult, Mode, routing_weights
from planner.helix.instance import HelixInstance
from planner.helix.solve import HelixResult
from planner.solver import Assumption


def metric_name(baseline: str) -> str:
    return f"baseline_{baseline.replace('-', '_')}_tok_s"


def _node_row(node: Any, start: int, end: int, max_layers: int, tp_tok_s: float, inflow_tok_s: float) -> HelixNode:
    return HelixNode(
        name=node.name,
        gpu=node.gpu,
        gpus_per_node=node.gpus_per_node,
        region=node.region,
        profile_gpu=node.profile_gpu,
        layer_start=start,
        layer_end=end,
        layers=end - start,
        max_layers=max_layers,
        tp_tok_s=tp_tok_s,
        inflow_tok_s=inflow_tok_s,
        provenance=node.provenance,
    )


def nodes_block(full: HelixInstance, ranges: dict[str, tuple[int, int]], flow: FlowResult) -> list[HelixNode]:
    """Every node of the cluster, sorted by name; nodes left out (too small for one layer) hold nothing."""
    rows: list[HelixNode] = []
    for node in full.nodes:
        s, e = ranges.get(node.name, (0, 0))
        rows.append(_node_row(node, s, e, node.max_layers, node.tp(e - s), flow.node_inflow.get(node.name, 0.0)))
    rows += [_node_row(node, 0, 0, 0, 0.0, 0.0) for node in full.excluded]
    return sorted(rows, key=lambda r: r.name)


def edges_block(flow: FlowResult) -> list[HelixEdge]:
    return [
        HelixEdge(
            src=e.src,
            dst=e.dst,
            flow_tok_s=flow.edge_flow.get((e.src, e.dst), 0.0),
            capacity_tok_s=e.capacity_tok_s,
            bandwidth_bytes_s=e.bandwidth_bytes_s,
            latency_s=e.latency_s,
        )
        for e in sorted(flow.edges, key=lambda e: (e.src, e.dst))
    ]


def routing_block(flow: FlowResult) -> dict[str, list[RouteWeight]]:
    return {u: [RouteWeight(to=v, weight=w) for v, w in succ] for u, succ in sorted(routing_weights(flow).items())}


def baselines_block(baselines: list[Baseline]) -> list[HelixBaseline]:
    return [
        HelixBaseline(
            name=b.name,
            throughput_tok_s=b.throughput_tok_s,
            partial_throughput_tok_s=b.partial_flow_tok_s,
            params=dict(b.params),
            note=b.note,
        )
        for b in baselines
    ]


def placement_block(
    full: HelixInstance,
    mode: Mode,
    ranges: dict[str, tuple[int, int]],
    flow: FlowResult,
    **more: Any,
) -> HelixPlanBlock:
    """The contract keys shared by solved, infeasible and emitted baseline plans; ``more`` adds other blocks."""
    return HelixPlanBlock(
        model=full.model,
        layers=full.layers,
        mode=mode,
        nodes=nodes_block(full, ranges, flow),
        edges=edges_block(flow),
        routing=routing_block(flow),
        bottlenecks=Bottlenecks(nodes=list(flow.cut_nodes), edges=[f"{u}->{v}" for u, v in flow.cut_edges]),
        **more,
    )


def baseline_plan_block(res: HelixResult, baseline: Baseline, ranges: dict[str, tuple[int, int]]) -> HelixPlanBlock:
    """The block of a plan written by ``--emit-baselines``: the baseline's placement, short bounds and search."""
    assert baseline.flow is not None
    return placement_block(
        res.full,
        res.mode,
        ranges,
        baseline.flow,
        baselines=baselines_block(res.baselines),
        bounds=HelixBounds(best_tok_s=res.best_bound_tok_s, active=res.bound_source),
        search=HelixSearch(chosen=f"baseline:{baseline.name}", params=dict(baseline.params)),
    )


def _search(res: HelixResult) -> HelixSearch:
    more: dict[str, Any] = {}
    if res.prune is not None:
        p = res.prune
        more["prune"] = Prune(
            keep=p.keep,
            threshold_bytes_s=p.threshold_bytes_s,
            reason=p.reason,
            links_before=p.links_before,
            links_after=p.links_after,
            variables_before=p.variables_before,
            variables_after=p.variables_after,
            constraints_before=p.constraints_before,
            constraints_after=p.constraints_after,
        )
    return HelixSearch(
        chosen=res.chosen,
        candidates=[Candidate(source=c.source, throughput_tok_s=c.flow_tok_s) for c in res.candidates],
        milp={k: v for k, v in res.milp.items() if k not in ("wall_s", "incumbents")},
        notes=list(res.notes),
        **more,
    )


def result_block(
    res: HelixResult, latency: HelixLatency | None = None, pareto: list[ParetoPoint] | None = None
) -> HelixPlanBlock:
    """The block of a solved plan; ``latency`` and ``pareto`` are written only when given."""
    more: dict[str, Any] = {}
    if latency is not None:
        more["latency"] = latency
    if pareto is not None:
        more["pareto"] = pareto
    return placement_block(
        res.full,
        res.mode,
        res.ranges,
        res.flow,
        baselines=baselines_block(res.baselines),
        bounds=HelixBounds(
            compute_tok_s=res.compute_bound_tok_s,
            covering_tok_s=res.covering.value,
            covering_active=res.covering.active,
            block_tok_s=res.block_bound_tok_s,
            solver_tok_s=res.solver_bound_tok_s,
            best_tok_s=res.best_bound_tok_s,
            active=res.bound_source,
            binding_regions=list(res.covering.binding_regions),
            certificate=_certificate(res),
        ),
        search=_search(res),
        **more,
    )


def _certificate(res: HelixResult) -> HelixCertificate | None:
    c = res.certificate
    if c is None:
        return None
    return HelixCertificate.model_validate(
        {
            "bound": c.kind,
            "value_tok_s": c.value_tok_s,
            "checked_above_tok_s": c.checked_at_tok_s,
            "label": c.label,
            "derivation": c.detail,
            "witness": dict(c.witness),
        }
    )


def metrics(res: HelixResult) -> dict[str, float | None]:
    value = res.flow.value
    tighter = res.best_bound_tok_s
    out: dict[str, float | None] = {
        "throughput_tok_s": value,
        "upper_bound_tok_s": res.compute_bound_tok_s,
        "covering_bound_tok_s": min(res.covering.value, res.block_bound_tok_s or float("inf")),
        "solver_bound_tok_s": res.best_bound_tok_s,
        "flow_vs_bound": value / tighter if tighter > 0 else None,
        "gap": res.report.gap,
        "active_nodes": float(sum(1 for f in res.flow.node_inflow.values() if f > 1e-9)),
    }
    for b in res.baselines:
        out[metric_name(b.name)] = b.throughput_tok_s
    return out


def assumptions(res: HelixResult) -> list[Assumption]:
    out = list(res.full.assumptions)
    out.append(
        Assumption(
            subject="mode",
            basis="option" if res.mode == "partial" else "default",
            detail="partial inference: j may repeat layers i ran (start_j <= end_i < end_j)"
            if res.mode == "partial"
            else "strict chaining: i -> j only when end_i = start_j (as in every paper run)",
        )
    )
    out.append(
        Assumption(
            subject="bounds",
            basis="analytic",
            detail="compute bound sum_i max_k k tp_i(k) / L; layer-covering bound with link cuts"
            + ("; solo/shared block bound" if res.block_bound_tok_s is not None else "")
            + "; all proven from the same tp(k) tables and link capacities (docs/helix.md)",
        )
    )
    return out
