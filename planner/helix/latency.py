"""Latency of a placement (issue 8): pipeline depth per path, per-token decode and prompt latency, requests in flight.

Throughput alone favours long pipelines, which raise per-token latency and need many requests in flight. For a
plan's flow:

1. **Paths.** The edge flows are decomposed into source-to-sink paths (a DAG, so this terminates); a path's *hops*
   are its compute nodes.
2. **Per-layer latency** at batch ``b`` from ``helix_layer_latency`` (the paper's measured per-layer prompt and
   decode times, linear interpolation as the Helix profile code does) for the node's profile GPU; without a table,
   a roofline (``max(W / HBM, b * FLOPs / peak)`` per layer; marked analytic).
3. **Load.** A request has ``I`` prompt and ``O`` output tokens (workload means, else Helix's 750/240). Path ``p``
   with flow ``phi_p`` serves ``phi_p / (I + O)`` requests/s. Its decode latency per token is
   ``sum_i k_i d_i(b_i) + sum_links (latency + activation bytes / bandwidth)`` and its prompt latency
   ``sum_i k_i p_i(I) + sum_links (latency + I x activation bytes / bandwidth)``. By Little's law the path holds
   ``N_p = rate_p x (prompt + O x decode)`` requests; node ``i`` then decodes ``b_i = sum_{p through i} N_p``
   sequences per step. ``b`` is iterated to a fixed point (from 1).
4. **Hop-limited flow** (``--max-hops``): the max flow using only paths of at most H compute nodes, a linear program
   over the node copies ``(i, h)`` sharing each node's capacity (scipy HiGHS; no MILP solver).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from planner.helix.flow import FlowResult, Mode, Ranges, valid_edges
from planner.helix.instance import SINK, SOURCE, HelixEdge, HelixInstance, HelixNode
from planner.profiles.roofline import RooflineParams, node_peaks

if TYPE_CHECKING:
    from planner.profiles.db import ProfileDB
    from planner.profiles.schema import ModelProfile

MAX_PATHS = 2000
EPS = 1e-9


@dataclass
class PathLatency:
    nodes: list[str]
    flow_tok_s: float
    decode_ms: float = 0.0
    prompt_ms: float = 0.0
    in_flight: float = 0.0

    @property
    def hops(self) -> int:
        return len(self.nodes)


@dataclass
class LatencyReport:
    paths: list[PathLatency]
    input_tokens: float
    output_tokens: float
    basis: str
    notes: list[str] = field(default_factory=list)

    @property
    def max_hops(self) -> int:
        return max((p.hops for p in self.paths), default=0)

    def weighted(self, attr: str) -> float:
        total = sum(p.flow_tok_s for p in self.paths)
        return sum(getattr(p, attr) * p.flow_tok_s for p in self.paths) / total if total > 0 else 0.0

    def block(self) -> dict[str, Any]:
        top = sorted(self.paths, key=lambda p: (-p.flow_tok_s, p.nodes))[:10]
        return {
            "max_hops": self.max_hops,
            "mean_hops": self.weighted("hops"),
            "decode_ms_per_token_max": max((p.decode_ms for p in self.paths), default=0.0),
            "decode_ms_per_token_mean": self.weighted("decode_ms"),
            "prompt_ms_max": max((p.prompt_ms for p in self.paths), default=0.0),
            "prompt_ms_mean": self.weighted("prompt_ms"),
            "in_flight_requests": sum(p.in_flight for p in self.paths),
            "request_tokens": {"input": self.input_tokens, "output": self.output_tokens},
            "basis": self.basis,
            "paths": [
                {
                    "nodes": p.nodes,
                    "hops": p.hops,
                    "flow_tok_s": p.flow_tok_s,
                    "decode_ms_per_token": p.decode_ms,
                    "prompt_ms": p.prompt_ms,
                    "in_flight_requests": p.in_flight,
                }
                for p in top
            ],
            "paths_total": len(self.paths),
            "notes": list(self.notes),
        }


def decompose(flow: FlowResult) -> list[tuple[list[str], float]]:
    """Source-to-sink paths carrying the edge flows (deterministic: successors in name order)."""
    residual: dict[str, dict[str, float]] = {}
    for (u, v), f in sorted(flow.edge_flow.items()):
        if f > EPS:
            residual.setdefault(u, {})[v] = f
    paths: list[tuple[list[str], float]] = []
    while len(paths) < MAX_PATHS and residual.get(SOURCE):
        path, node = [SOURCE], SOURCE
        while node != SINK:
            succ = residual.get(node)
            if not succ:
                break
            node = min(succ, key=lambda v: (-succ[v], v))
            path.append(node)
        if node != SINK:  # a dead end left by rounding: drop its first edge
            residual[SOURCE].pop(path[1], None)
            continue
        amount = min(residual[a][b] for a, b in zip(path, path[1:], strict=False))
        for a, b in zip(path, path[1:], strict=False):
            residual[a][b] -= amount
            if residual[a][b] <= EPS:
                del residual[a][b]
        paths.append((path[1:-1], amount))
    return paths


class LayerLatency:
    """Per-layer latency (ms) of a node type at a batch size: measured table, else a roofline."""

    def __init__(self, db: ProfileDB | None, model: ModelProfile, layer_weight_bytes: float) -> None:
        self.model = model
        self.weight = layer_weight_bytes
        self.db = db
        self.curves: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
        if db is not None and db.has_table("helix_layer_latency"):
            df = db.table("helix_layer_latency")
            df = df[df["model"] == model.name]
            for (gpu, phase), grp in df.groupby(["gpu", "phase"], sort=True):
                grp = grp.sort_values("tokens_in_batch")
                x = grp["tokens_in_batch"].to_numpy(dtype=float)
                self.curves[(str(gpu), str(phase))] = (x, grp["ms_per_layer"].to_numpy(dtype=float))

    def measured(self, profile_gpu: str) -> bool:
        return (profile_gpu, "decode") in self.curves and (profile_gpu, "prompt") in self.curves

    def ms(self, node: HelixNode, phase: str, tokens: float) -> float:
        curve = self.curves.get((node.profile_gpu, phase))
        if curve is not None:
            x, y = curve
            if tokens <= x[-1]:
                return float(np.interp(tokens, x, y))
            slope = (y[-1] - y[-2]) / (x[-1] - x[-2]) if len(x) > 1 and x[-1] > x[-2] else 0.0
            return float(y[-1] + slope * (tokens - x[-1]))
        gpu = self.db.gpu(node.gpu) if self.db is not None else None
        if gpu is None:
            return 0.0
        flops = 2.0 * self.model.active_layer_params * tokens
        roof = RooflineParams()  # 50 % of the tensor peak, 80 % of HBM bandwidth
        peaks = node_peaks(
            gpu, node.gpus_per_node, roof.compute_efficiency, roof.memory_efficiency, dtype_bytes=self.model.dtype_bytes
        )
        return 1e3 * max(self.weight / peaks.bytes_s, flops / peaks.flops_s)


def latency_report(
    inst: HelixInstance,
    ranges: Ranges,
    flow: FlowResult,
    lat: LayerLatency,
    input_tokens: float,
    output_tokens: float,
) -> LatencyReport:
    """Paths, hops, decode/prompt latency and requests in flight under the planned load (module docstring)."""
    paths = [PathLatency(nodes, f) for nodes, f in decompose(flow)]
    edge = inst.edge_map
    measured = all(lat.measured(inst.node(n).profile_gpu) for p in paths for n in p.nodes)
    basis = "measured per-layer latency (helix_layer_latency)" if measured else "analytic roofline latency"
    per_request = input_tokens + output_tokens

    def link_ms(u: str, v: str, tokens: float) -> float:
        e: HelixEdge | None = edge.get((u, v))
        if e is None:
            return 0.0
        size = inst.token_bytes if SOURCE in (u,) or v == SINK else inst.activation_bytes
        return 1e3 * (e.latency_s + tokens * size / e.bandwidth_bytes_s)

    batch = {n.name: 1.0 for n in inst.nodes}
    notes: list[str] = []
    for _ in range(40):
        for p in paths:
            hops = [SOURCE, *p.nodes, SINK]
            p.decode_ms = sum(lat.ms(inst.node(n), "decode", batch[n]) * (ranges[n][1] - ranges[n][0]) for n in p.nodes)
            p.decode_ms += sum(link_ms(a, b, 1.0) for a, b in zip(hops, hops[1:], strict=False))
            p.prompt_ms = sum(lat.ms(inst.node(n), "prompt", input_tokens) * (ranges[n][1] - ranges[n][0])
                              for n in p.nodes)  # fmt: skip
            p.prompt_ms += sum(link_ms(a, b, input_tokens) for a, b in zip(hops, hops[1:], strict=False))
            rate = p.flow_tok_s / per_request
            p.in_flight = rate * (p.prompt_ms + output_tokens * p.decode_ms) / 1e3
        new = {n.name: 0.0 for n in inst.nodes}
        for p in paths:
            for n in p.nodes:
                new[n] += p.in_flight
        new = {k: max(1.0, min(v, 4096.0)) for k, v in new.items()}
        change = max((abs(new[k] - batch[k]) / batch[k] for k in batch), default=0.0)
        batch = new
        if change < 1e-6:
            break
    else:
        notes.append("decode batch sizes did not settle in 40 rounds (the plan may overload some node)")
    return LatencyReport(paths, input_tokens, output_tokens, basis, notes)


def longest_path_hops(inst: HelixInstance, ranges: Ranges, mode: Mode) -> int:
    """The most compute nodes on any source-to-sink path of valid edges (the DAG of the placement)."""
    edges = valid_edges(inst, ranges, mode)
    succ: dict[str, list[str]] = {}
    for e in edges:
        succ.setdefault(e.src, []).append(e.dst)
    memo: dict[str, int] = {}

    def depth(u: str) -> int:  # nodes from u (inclusive) to the sink; -inf when the sink is unreachable
        if u == SINK:
            return 0
        if u in memo:
            return memo[u]
        memo[u] = -(10**9)
        best = max((depth(v) for v in succ.get(u, [])), default=-(10**9))
        memo[u] = best + (0 if u == SOURCE else 1)
        return memo[u]

    import sys

    sys.setrecursionlimit(max(10_000, 4 * len(inst.nodes) + 100))
    return max(depth(SOURCE), 0)


def hop_limited_flow(inst: HelixInstance, ranges: Ranges, mode: Mode, max_hops: int) -> FlowResult:
    """Max flow over paths with at most ``max_hops`` compute nodes (an LP over node copies, solved with GLOP).

    Copy ``(i, h)`` is node i as the h-th compute node of a path; edges join level h to h + 1, and the copies of a
    node share its capacity. The result's edge flows add the levels up.
    """
    from ortools.math_opt.python import mathopt

    edges = valid_edges(inst, ranges, mode)
    cap = {n.name: n.tp(ranges[n.name][1] - ranges[n.name][0]) for n in inst.nodes}
    m = mathopt.Model(name="hop_limited_flow")
    x: dict[tuple[str, str, int], Any] = {}
    for e in edges:
        if e.src == SOURCE:
            levels = [1]
        elif e.dst == SINK:
            levels = list(range(1, max_hops + 1))  # the tail's level
        else:
            levels = list(range(2, max_hops + 1))  # the head's level
        for h in levels:
            x[(e.src, e.dst, h)] = m.add_variable(lb=0.0, ub=e.capacity_tok_s, name=f"x[{e.src},{e.dst},{h}]")
    arrive: dict[tuple[str, int], list[Any]] = {}
    leave: dict[tuple[str, int], list[Any]] = {}
    for (u, v, h), var in x.items():
        if u == SOURCE:
            arrive.setdefault((v, 1), []).append(var)
        elif v == SINK:
            leave.setdefault((u, h), []).append(var)
        else:
            arrive.setdefault((v, h), []).append(var)
            leave.setdefault((u, h - 1), []).append(var)
    for key in sorted(set(arrive) | set(leave)):  # constraint order fixed: GLOP picks among optimal flows by it
        m.add_linear_constraint(mathopt.LinearSum(arrive.get(key, [])) - mathopt.LinearSum(leave.get(key, [])) == 0.0)
    for n in inst.nodes:
        into = [var for (u, v, h), var in x.items() if v == n.name]
        if into:
            m.add_linear_constraint(mathopt.LinearSum(into) <= cap[n.name])
    m.maximize(mathopt.LinearSum([var for (u, _, _), var in x.items() if u == SOURCE]))
    result = mathopt.solve(m, mathopt.SolverType.GLOP)
    edge_flow: dict[tuple[str, str], float] = {(e.src, e.dst): 0.0 for e in edges}
    if result.has_primal_feasible_solution():
        values = result.variable_values()
        for (u, v, _h), var in x.items():
            edge_flow[(u, v)] += max(float(values[var]), 0.0)
    inflow = {n.name: 0.0 for n in inst.nodes}
    for (_u, v), f in edge_flow.items():
        if v != SINK:
            inflow[v] += f
    value = sum(f for (u, _), f in edge_flow.items() if u == SOURCE)
    return FlowResult(value, cap, inflow, edge_flow, edges)


def fewest_hops(inst: HelixInstance) -> int:
    """The fewest nodes whose layer limits K add up to the model (the largest first): no path of fewer nodes can
    cover every layer, in strict or partial mode (each node adds at most K new layers). The cluster size when even
    all of them cannot (the memory check refuses such a cluster first)."""
    ks = sorted((n.max_layers for n in inst.nodes), reverse=True)
    total = 0
    for i, k in enumerate(ks, start=1):
        total += k
        if total >= inst.layers:
            return i
    return len(ks)


def hop_counts(inst: HelixInstance) -> list[int]:
    """A handful of hop limits for --pareto: from the fewest nodes that can hold the model to the cluster size."""
    fewest = fewest_hops(inst)
    most = len(inst.nodes)
    values = {fewest, most}
    step = fewest
    while step < most:
        values.add(step)
        step = max(step + 1, int(step * 1.6))
    return sorted(values)
