"""The classic placements Helix compares against (reference section 11), evaluated with the same max flow.

* **Petals**: nodes in a seeded shuffle take their maximum ``K_i`` layers at the window whose sorted per-layer
  throughput is lexicographically smallest (earliest start on ties); ranges overlap, so they pay off only with
  partial inference.
* **Swarm** (``S`` stages of ``L/S`` layers): nodes sorted by ``(tp_i(L/S), index)`` descending each join the stage
  with the least throughput so far (lowest stage on ties).
* **Separate pipelines**: one evenly split pipeline per node type, run as independent sub-clusters whose flows
  add up. The paper's simulator force-loads layers beyond ``K``; here a type whose even split exceeds its ``K``
  contributes nothing (no number is invented for a node that cannot hold its layers) and the note says so.

Node order ("id") is the instance's node order: spec order, or ``helix.heuristic_order`` (the paper's node ids).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from planner.helix.flow import FlowResult, Mode, max_flow
from planner.helix.instance import SINK, SOURCE, HelixInstance

BASELINES = ("petals", "swarm", "separate-pipelines")


@dataclass
class Baseline:
    """A baseline placement with its max flow (strict and partial) and how it was built."""

    name: str
    ranges: dict[str, tuple[int, int]]
    flow: FlowResult | None
    partial_flow_tok_s: float
    note: str = ""
    params: dict[str, int] = field(default_factory=dict)

    @property
    def throughput_tok_s(self) -> float:
        return self.flow.value if self.flow is not None else 0.0


def petals_order(n: int, seed: int) -> list[int]:
    """Node indices in the order the Petals rule processes them: Python's ``random.shuffle`` under ``seed``."""
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return order


def petals_ranges(inst: HelixInstance, seed: int = 0) -> dict[str, tuple[int, int]]:
    """Petals placement (reference section 11, Petals steps 1-3)."""
    layers = inst.layers
    layer_tp = [0.0] * layers
    ranges: dict[str, tuple[int, int]] = {}
    for idx in petals_order(len(inst.nodes), seed):
        node = inst.nodes[idx]
        m = min(node.max_layers, layers)
        perf = node.tp(node.max_layers)
        best_start, best_key = 0, None
        for s in range(layers - m + 1):
            key = sorted(layer_tp[s : s + m])
            if best_key is None or key < best_key:
                best_start, best_key = s, key
        for layer in range(best_start, best_start + m):
            layer_tp[layer] += perf
        ranges[node.name] = (best_start, best_start + m)
    return ranges


def swarm_ranges(inst: HelixInstance, stages: int) -> dict[str, tuple[int, int]] | None:
    """Swarm placement with ``stages`` stages, or None when L is not divisible or a node cannot hold L/S layers."""
    layers = inst.layers
    if stages < 1 or layers % stages:
        return None
    per = layers // stages
    if any(per > n.max_layers for n in inst.nodes):
        return None
    order = sorted(((n.tp(per), idx) for idx, n in enumerate(inst.nodes)), reverse=True)
    stage_tp = [0.0] * stages
    ranges: dict[str, tuple[int, int]] = {}
    for perf, idx in order:
        stage = min(range(stages), key=lambda s: (stage_tp[s], s))
        stage_tp[stage] += perf
        ranges[inst.nodes[idx].name] = (stage * per, (stage + 1) * per)
    return ranges


def swarm_stage_options(inst: HelixInstance) -> list[int]:
    """Stage counts the Swarm rule accepts on this cluster (L divisible, every node holds L/S layers)."""
    return [s for s in range(1, inst.layers + 1) if swarm_ranges_ok(inst, s)]


def swarm_ranges_ok(inst: HelixInstance, stages: int) -> bool:
    return inst.layers % stages == 0 and all(inst.layers // stages <= n.max_layers for n in inst.nodes)


def even_split(count: int, layers: int) -> list[int]:
    """Layers per node of an evenly split pipeline: the first nodes get the floor, the rest one more."""
    base, extra = divmod(layers, count)
    return [base] * (count - extra) + [base + 1] * extra


def separate_pipelines(inst: HelixInstance, mode: Mode) -> Baseline:
    """One evenly split pipeline per node type (profile GPU), evaluated as independent sub-clusters."""
    by_type: dict[str, list[str]] = {}
    for n in inst.nodes:
        by_type.setdefault(n.profile_gpu, []).append(n.name)
    ranges: dict[str, tuple[int, int]] = {}
    notes: list[str] = []
    total = FlowResult(0.0, {}, {}, {})
    partial = 0.0
    for ptype in sorted(by_type):
        names = by_type[ptype]
        split = even_split(len(names), inst.layers)
        pos = 0
        for name, k in zip(names, split, strict=True):
            ranges[name] = (pos, pos + k)
            pos += k
        k_max = max(split)
        cap = min(inst.node(n).max_layers for n in names)
        if k_max > cap:
            notes.append(f"{ptype}: {len(names)} nodes x up to {k_max} layers exceed K={cap} (contributes 0)")
        sub = _sub_instance(inst, set(names))
        sub_ranges = {n: ranges[n] for n in names}
        res = max_flow(sub, sub_ranges, "strict")
        partial += max_flow(sub, sub_ranges, "partial").value
        res = max_flow(sub, sub_ranges, mode) if mode == "partial" else res
        total.value += res.value
        total.node_capacity.update(res.node_capacity)
        total.node_inflow.update(res.node_inflow)
        total.edge_flow.update(res.edge_flow)
        total.edges += res.edges
        total.cut_nodes += res.cut_nodes
        total.cut_edges += res.cut_edges
    total.edges.sort(key=lambda e: (e.src, e.dst))
    return Baseline("separate-pipelines", ranges, total, partial, "; ".join(notes))


def _sub_instance(inst: HelixInstance, names: set[str]) -> HelixInstance:
    sub = HelixInstance(
        name=inst.name,
        model=inst.model,
        layers=inst.layers,
        nodes=tuple(n for n in inst.nodes if n.name in names),
        edges=tuple(
            e for e in inst.edges if (e.src in names or e.src == "source") and (e.dst in names or e.dst == "sink")
        ),
        token_bytes=inst.token_bytes,
        activation_bytes=inst.activation_bytes,
    )
    return sub


def all_baselines(
    inst: HelixInstance, mode: Mode, petals_seed: int = 0, swarm_stages: int | None = None
) -> list[Baseline]:
    """Petals, Swarm (the given stage count, else the best accepted one) and separate pipelines."""
    out: list[Baseline] = []
    pr = petals_ranges(inst, petals_seed)
    out.append(
        Baseline(
            "petals", pr, max_flow(inst, pr, mode), max_flow(inst, pr, "partial").value, params={"seed": petals_seed}
        )
    )
    options = [swarm_stages] if swarm_stages else swarm_stage_options(inst)
    best: Baseline | None = None
    for s in options:
        sr = swarm_ranges(inst, s)
        if sr is None:
            continue
        res = max_flow(inst, sr, mode)
        if best is None or res.value > best.throughput_tok_s + 1e-9:
            best = Baseline("swarm", sr, res, max_flow(inst, sr, "partial").value, params={"stages": s})
    if best is None:
        reason = (
            f"{swarm_stages} stages not accepted (L={inst.layers} must divide evenly and fit every node's K)"
            if swarm_stages
            else "no stage count fits (L/S must not exceed any node's K)"
        )
        best = Baseline("swarm", {}, None, 0.0, note=reason)
    out.append(best)
    out.append(separate_pipelines(inst, mode))
    return out


def force_loaded_flow(
    inst: HelixInstance, ranges: dict[str, tuple[int, int]], capacity: dict[str, float]
) -> FlowResult:
    """Flows of independent pipelines when nodes run beyond their K (the paper's simulator force-loads them).

    ``ranges`` must chain into pipelines that each start at layer 0 (the separate-pipeline layouts); each pipeline
    carries the smallest of its nodes' ``capacity`` (tokens/s, e.g. the node model's throughput at its k) and of its
    links' capacities. The result routes a simulator over exactly those chains.
    """
    edge_map = inst.edge_map
    by_start: dict[int, list[str]] = {}
    for name in sorted(ranges):
        by_start.setdefault(ranges[name][0], []).append(name)
    total = FlowResult(0.0, {}, {}, {})
    used: set[str] = set()
    for head in by_start.get(0, []):
        chain, pos = [head], ranges[head][1]
        used.add(head)
        while pos < inst.layers:
            nxt = next((n for n in by_start.get(pos, []) if n not in used and (chain[-1], n) in edge_map), None)
            if nxt is None:
                break
            chain.append(nxt)
            used.add(nxt)
            pos = ranges[nxt][1]
        hops = [SOURCE, *chain, SINK]
        pairs = list(zip(hops, hops[1:], strict=False))
        if pos != inst.layers or any(p not in edge_map for p in pairs):
            continue
        value = min([capacity.get(n, 0.0) for n in chain] + [edge_map[p].capacity_tok_s for p in pairs])
        if value <= 0:
            continue
        total.value += value
        for n in chain:
            total.node_capacity[n] = capacity.get(n, 0.0)
            total.node_inflow[n] = value
        for p in pairs:
            total.edge_flow[p] = value
            total.edges.append(edge_map[p])
    total.edges.sort(key=lambda e: (e.src, e.dst))
    return total
