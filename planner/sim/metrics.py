"""From raw engine counters to the figures of the simulation document (throughput, percentiles, utilisation)."""

from __future__ import annotations

from array import array

import numpy as np

from planner.helix.contract import TAIL_MIN_REQUESTS
from planner.sim.document import LatencyStats, LinkResult, NodeResult, PlacementResult, RequestCounts, Timeline
from planner.sim.engine import SimOutcome
from planner.sim.placement import PlacementInput
from planner.sim.topology import Topology


def latency_stats(samples_s: array[float]) -> LatencyStats:
    """Mean and p50/p90/p99/max in milliseconds (numpy's linear percentile)."""
    if len(samples_s) == 0:
        return LatencyStats(count=0)
    ms = np.frombuffer(samples_s, dtype=np.float64) * 1000.0
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    return LatencyStats(
        count=int(ms.size),
        mean_ms=float(ms.mean()),
        p50_ms=float(p50),
        p90_ms=float(p90),
        p99_ms=float(p99),
        max_ms=float(ms.max()),
    )


def _ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


def placement_result(placement: PlacementInput, topo: Topology, out: SimOutcome) -> PlacementResult:
    """The document entry of one simulated placement (``decode_vs_first_ratio`` is filled by the caller)."""
    window = out.config.duration_s
    nodes: list[NodeResult] = []
    for nd, st in zip(topo.nodes, out.nodes, strict=True):
        cap = nd.kv_capacity_token_layers
        nodes.append(
            NodeResult(
                name=nd.name,
                gpu=nd.gpu,
                profile_gpu=nd.profile_gpu,
                layer_start=nd.layer_start,
                layer_end=nd.layer_end,
                planned_tok_s=nd.planned_tok_s,
                simulated_tok_s=(st.prompt_tokens + st.decode_tokens) / window,
                utilization_ratio=st.busy_s / window,
                iterations_count=st.iterations,
                mean_decode_batch_tokens=_ratio(st.decode_tokens, st.iterations),
                kv_capacity_token_layers=cap,
                kv_mean_ratio=_ratio(st.kv_integral / window, cap),
                kv_peak_ratio=_ratio(st.kv_peak, cap),
                kv_reserved_peak_ratio=_ratio(st.kv_reserved_peak, cap),
            )
        )
    links = [
        LinkResult(
            src=link.src,
            dst=link.dst,
            utilization_ratio=st.busy_s / window,
            throughput_bytes_s=st.bytes / window,
            planned_tok_s=link.planned_flow_tok_s,
            simulated_tok_s=st.tokens / window,
        )
        for link, st in zip(topo.links, out.links, strict=True)
        if st.bytes > 0
    ]
    links.sort(key=lambda r: (-r.utilization_ratio, r.src, r.dst))
    total = (out.prompt_tokens + out.decode_tokens) / window
    return PlacementResult(
        plan=placement.file_name,
        path=placement.display,
        plan_sha256=placement.sha256,
        plan_name=placement.plan.name,
        mode=placement.block.mode,
        bound_tok_s=placement.bound_tok_s,
        decode_throughput_tok_s=out.decode_tokens / window,
        prompt_throughput_tok_s=out.prompt_tokens / window,
        total_throughput_tok_s=total,
        achieved_vs_bound_ratio=total / placement.bound_tok_s if placement.bound_tok_s > 0 else 0.0,
        decode_vs_first_ratio=None,
        prompt_latency=latency_stats(out.prompt_latency_s),
        decode_token_latency=latency_stats(out.token_latency_s),
        requests=RequestCounts(
            launched_requests=out.launched,
            admitted_requests=out.admitted,
            completed_requests=out.completed,
            rejected_requests=out.rejected,
            waiting_requests=out.pending_end,
            in_flight_requests=out.in_flight_end,
        ),
        pipeline_mean_hops=_ratio(out.hops_total, out.admitted),
        nodes=nodes,
        links=links,
        timeline=Timeline(
            bucket_s=out.timeline_bucket_s,
            decode_tok_s=[c / out.timeline_bucket_s for c in out.timeline_decode_tokens],
        ),
        simulated_s=out.simulated_s,
        events_count=out.events,
        warnings=list(out.warnings) + _kv_warnings(nodes) + _tail_warnings(out),
    )


def _tail_warnings(out: SimOutcome) -> list[str]:
    """Online, say when the window holds too few requests for its p99 to describe a tail, at the count below which
    a Helix plan's report says the same of its prediction (docs/helix.md, Limitations). What is measured does not
    change: the count is of the requests whose first token came inside the window."""
    started = len(out.prompt_latency_s)
    if out.config.offline or started >= TAIL_MIN_REQUESTS:
        return []
    return [
        f"the measured window holds {started} requests (first token inside it), fewer than {TAIL_MIN_REQUESTS}: its "
        "p99 per-token latency rests on the few prompts among them; a longer --duration measures the steady state"
    ]


def _kv_warnings(nodes: list[NodeResult]) -> list[str]:
    """Admission works on expected lengths; when real outputs run longer the cache can overflow (vLLM would preempt)."""
    return [
        f"{n.name}: actual KV cache peaked at {n.kv_peak_ratio:.0%} of capacity (longer outputs than expected; a "
        "real server would preempt or swap)"
        for n in nodes
        if n.kv_peak_ratio is not None and n.kv_peak_ratio > 1.0
    ]
