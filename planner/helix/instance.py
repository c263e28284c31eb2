"""The Helix instance: nodes with their tp(k) tables and layer limits K, and directed edges with capacities.

Built from a :class:`~planner.spec.loader.LoadedSpec` and the profile database (Helix reference sections 3-5):

* ``K_i = floor((1 - r) * VRAM_i / W)`` layers fit next to a KV reserve fraction ``r`` (the paper keeps half of
  VRAM for the KV cache), capped by the longest profiled table row;
* ``tp_i(k) = min(tp(type_i, k), NIC_i / activation_bytes)`` tokens/s;
* source -> i and i -> sink carry ``bandwidth / token_bytes`` tokens/s, i -> j ``bandwidth / activation_bytes``,
  each direction on its own. Bandwidths are bytes/s (reference section 4: the paper's "1 gbps" is 1 GB/s).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

from planner.errors import ProfileMissingError, SpecError, did_you_mean
from planner.helix.throughput import (
    HELIX_INPUT_TOKENS,
    HELIX_OUTPUT_TOKENS,
    RooflineInputs,
    ThroughputTables,
    roofline_tp,
)
from planner.profiles.db import ProfileDB
from planner.profiles.nodeperf import NodePerf, Workload, node_perf
from planner.profiles.roofline import peak_note
from planner.profiles.schema import GpuProfile, ModelProfile, Provenance
from planner.solver import Assumption, checkpoint
from planner.spec.cluster import Node
from planner.spec.loader import LoadedSpec
from planner.spec.sections.helix import HelixSection

SOURCE = "source"
SINK = "sink"
#: Share of a node's KV capacity the node model's batch may fill (the simulator's offline admission mark).
NODE_MODEL_HWM = 0.85

#: Loops over links poll :func:`~planner.solver.checkpoint` (the command's deadline) every this many items.
CHECK_EVERY = 4096


@dataclass(frozen=True)
class HelixNode:
    """A compute node: what it may hold (``max_layers``) and how fast it runs k layers (``tp_tok_s[k-1]``)."""

    name: str
    gpu: str
    gpus_per_node: int
    region: str
    profile_gpu: str
    max_layers: int
    tp_tok_s: tuple[float, ...]
    provenance: str = "measured"

    def tp(self, k: int) -> float:
        """Tokens/s of this node holding ``k`` layers (0 outside 1..K)."""
        return self.tp_tok_s[k - 1] if 1 <= k <= self.max_layers else 0.0

    @property
    def best_product(self) -> float:
        """max_k k * tp(k): layer-tokens per second at the node's best size (compute bound term)."""
        return max((k * t for k, t in enumerate(self.tp_tok_s, start=1)), default=0.0)


@dataclass(frozen=True)
class HelixEdge:
    """A directed edge of the flow graph; ``src`` may be ``source``, ``dst`` may be ``sink``."""

    src: str
    dst: str
    capacity_tok_s: float
    bandwidth_bytes_s: float
    latency_s: float


@dataclass
class HelixInstance:
    """Everything the placement problem needs, independent of any solver."""

    name: str
    model: str
    layers: int
    nodes: tuple[HelixNode, ...]
    edges: tuple[HelixEdge, ...]
    token_bytes: int
    activation_bytes: int
    layer_weight_bytes: float = 0.0
    kv_reserve_fraction: float = 0.5
    excluded: tuple[HelixNode, ...] = ()
    assumptions: list[Assumption] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    table_mix: str | None = None
    request_tokens: tuple[float, float] = (750.0, 240.0)

    @cached_property
    def by_name(self) -> dict[str, HelixNode]:
        return {n.name: n for n in self.nodes}

    def node(self, name: str) -> HelixNode:
        return self.by_name[name]

    @cached_property
    def edge_map(self) -> dict[tuple[str, str], HelixEdge]:
        return {(e.src, e.dst): e for e in self.edges}

    @cached_property
    def out_edges(self) -> dict[str, list[HelixEdge]]:
        out: dict[str, list[HelixEdge]] = {n.name: [] for n in self.nodes}
        out[SOURCE] = []
        for e in self.edges:
            out[e.src].append(e)
        return out

    @cached_property
    def in_edges(self) -> dict[str, list[HelixEdge]]:
        inn: dict[str, list[HelixEdge]] = {n.name: [] for n in self.nodes}
        inn[SINK] = []
        for e in self.edges:
            inn[e.dst].append(e)
        return inn

    @property
    def total_max_layers(self) -> int:
        return sum(n.max_layers for n in self.nodes)

    @property
    def regions(self) -> list[str]:
        return sorted({n.region for n in self.nodes})

    def with_edges(self, edges: Iterable[HelixEdge]) -> HelixInstance:
        """The same instance on another edge set (pruning)."""
        return HelixInstance(
            name=self.name,
            model=self.model,
            layers=self.layers,
            nodes=self.nodes,
            edges=tuple(sorted(edges, key=lambda e: (e.src, e.dst))),
            token_bytes=self.token_bytes,
            activation_bytes=self.activation_bytes,
            layer_weight_bytes=self.layer_weight_bytes,
            kv_reserve_fraction=self.kv_reserve_fraction,
            excluded=self.excluded,
            assumptions=list(self.assumptions),
            warnings=list(self.warnings),
            table_mix=self.table_mix,
            request_tokens=self.request_tokens,
        )


def complete_edges(
    nodes: Iterable[HelixNode],
    bandwidth_bytes_s: float,
    latency_s: float,
    token_bytes: int,
    activation_bytes: int,
) -> tuple[HelixEdge, ...]:
    """Every edge of a complete graph with one link class (the paper's single-region clusters)."""
    names = [n.name for n in nodes]
    tok_cap = bandwidth_bytes_s / token_bytes
    act_cap = bandwidth_bytes_s / activation_bytes
    edges = [HelixEdge(SOURCE, a, tok_cap, bandwidth_bytes_s, latency_s) for a in names]
    edges += [HelixEdge(a, SINK, tok_cap, bandwidth_bytes_s, latency_s) for a in names]
    edges += [HelixEdge(a, b, act_cap, bandwidth_bytes_s, latency_s) for a in names for b in names if a != b]
    return tuple(sorted(edges, key=lambda e: (e.src, e.dst)))


def token_bytes_for(vocab_size: int) -> int:
    """Bytes of one token id: 2 while the vocabulary fits 16 bits (Helix uses 2 B for LLaMA), else 4."""
    return 2 if vocab_size <= 65536 else 4


def build_instance(loaded: LoadedSpec, db: ProfileDB, section: HelixSection) -> HelixInstance:
    """Expand the spec into a Helix instance (nodes, tp(k), K, directed edges); see the module docstring."""
    loaded.require("helix", "nodes", "network")
    model = loaded.model
    layers = model.layers
    weight = float(section.layer_weight_bytes or model.layer_weight_bytes)
    token_bytes = section.token_bytes or token_bytes_for(model.vocab_size)
    act_bytes = model.activation_bytes_per_token
    reserve = section.kv_reserve_fraction
    assumptions: list[Assumption] = []
    warnings: list[str] = []

    order = _heuristic_order(loaded, section)
    tables = ThroughputTables(db, model.name)
    node_types = [(n.gpu, n.gpus_per_node) for n in order]
    mix = None
    tables_wanted = section.throughput in ("auto", "table", "paper-table")
    if tables_wanted:
        if section.table_mix != "auto" and section.table_mix not in tables.mixes:
            raise SpecError([loaded.problem(("helix", "table_mix"), _unknown_mix(section.table_mix, tables))])
        choice = tables.choose_mix(node_types, section.table_mix)
        mix = choice.mix
        if mix is not None and not choice.exact:
            warnings.append(
                f"no Helix table for this cluster's GPU mix {choice.cluster_mix}; using mix {mix} "
                "(the tables depend on the mix, reference section 5)"
            )
    roof = RooflineInputs(
        input_tokens=section.roofline.input_tokens or _workload_mean(loaded, "input") or HELIX_INPUT_TOKENS,
        output_tokens=section.roofline.output_tokens or _workload_mean(loaded, "output") or HELIX_OUTPUT_TOKENS,
        layer_weight_bytes=weight,
        options=section.roofline,
    )

    nodes: list[HelixNode] = []
    excluded: list[HelixNode] = []
    type_basis: dict[str, tuple[Provenance, str]] = {}
    for n in order:
        checkpoint("building the Helix instance (node tables)")
        gpu = db.gpu(n.gpu)
        vram = gpu.vram_bytes * n.gpus_per_node
        k_mem = math.floor((1.0 - reserve) * vram / weight + 1e-9)
        entry = tables.entry(mix, n.gpu, n.gpus_per_node) if tables_wanted else None
        pname = tables.profile_name(n.gpu, n.gpus_per_node)
        if section.throughput == "node-model":
            node_wl = Workload(roof.input_tokens, roof.output_tokens)
            perf = node_perf(db, model, n.gpu, n.gpus_per_node, pname, node_wl)
            k = k_mem
            tp = tuple(perf.throughput_tok_s(j, node_wl, NODE_MODEL_HWM) for j in range(1, k + 1))
            provenance: Provenance = "analytic" if perf.provenance == "roofline" else "measured"
            type_basis.setdefault(pname, (provenance, _node_model_detail(perf, node_wl)))
        elif entry is not None:
            k = min(k_mem, len(entry.tp_tok_s))
            tp = entry.tp_tok_s[:k]
            provenance = "measured"
            type_basis.setdefault(pname, ("measured", f"Helix table {model.name}/{mix}: {entry.source}"))
        elif section.throughput in ("table", "paper-table"):
            raise ProfileMissingError("Helix throughput table tp(k)", gpu=pname, model=model.name, mix=mix or "none")
        else:
            k = k_mem
            tp = roofline_tp(gpu, n.gpus_per_node, model, k, roof) if k > 0 else ()
            provenance = "analytic"
            type_basis.setdefault(pname, ("analytic", _roofline_detail(roof, gpu, model)))
        nic_cap = n.gpus_per_node * gpu.nic_gbps * 1e9 / 8.0 / act_bytes
        tp = tuple(min(t, nic_cap) for t in tp)
        node = HelixNode(n.name, n.gpu, n.gpus_per_node, n.region, pname, k, tp, provenance)
        if k <= 0:
            excluded.append(node)
            warnings.append(
                f"node {n.name} ({pname}, {vram / 1e9:g} GB) cannot hold one layer ({weight / 1e9:.3g} GB of weights "
                f"with {reserve:.0%} of VRAM kept for KV cache); it holds nothing"
            )
        else:
            nodes.append(node)

    for pname, (basis, detail) in sorted(type_basis.items()):
        assumptions.append(Assumption(subject=f"tp[{pname}]", basis=basis, detail=detail))
    assumptions.append(
        Assumption(
            subject="max_layers",
            basis="default" if section.layer_weight_bytes is None else "option",
            detail=f"K = min(floor((1 - {reserve:g}) * VRAM / {weight / 1e9:.4g} GB per layer), longest table row)",
        )
    )
    assumptions.append(
        Assumption(
            subject="edge capacity",
            basis="analytic",
            detail=f"bandwidth / {act_bytes} B activation per token between nodes, bandwidth / {token_bytes} B per "
            "token on coordinator links, each direction separately (Helix reference section 5)",
        )
    )
    assumptions.append(
        Assumption(
            subject="throughput_tok_s",
            basis="analytic",
            detail="static max-flow bound of the placement; prompt and decode tokens counted alike (not simulated)",
        )
    )
    edges = _edges(loaded, [n.name for n in nodes], token_bytes, act_bytes)
    warnings += _disconnected(nodes, edges)
    return HelixInstance(
        name=loaded.spec.name or loaded.path.stem,
        model=model.name,
        layers=layers,
        nodes=tuple(nodes),
        edges=edges,
        token_bytes=token_bytes,
        activation_bytes=act_bytes,
        layer_weight_bytes=weight,
        kv_reserve_fraction=reserve,
        excluded=tuple(excluded),
        assumptions=assumptions,
        warnings=warnings,
        table_mix=mix,
        request_tokens=(roof.input_tokens, roof.output_tokens),
    )


def _disconnected(nodes: list[HelixNode], edges: tuple[HelixEdge, ...]) -> list[str]:
    """Warnings for nodes that no chain of links joins to the coordinator (they can never carry flow)."""
    parent = {n.name: n.name for n in nodes}
    parent["coordinator"] = "coordinator"

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, e in enumerate(edges):
        if i % CHECK_EVERY == 0:
            checkpoint("building the Helix instance (connectivity)")
        a = "coordinator" if e.src == SOURCE else e.src
        b = "coordinator" if e.dst == SINK else e.dst
        parent[find(a)] = find(b)
    root = find("coordinator")
    cut_off = [n for n in nodes if find(n.name) != root]
    out = []
    for region in sorted({n.region for n in cut_off}):
        members = [n.name for n in cut_off if n.region == region]
        whole = all(n.region != region or n in cut_off for n in nodes)
        what = f"region {region} is" if whole else f"{len(members)} node(s) of region {region} are"
        out.append(f"{what} disconnected from the coordinator: {', '.join(members[:6])} cannot carry flow")
    return out


def _unknown_mix(mix: str, tables: ThroughputTables) -> str:
    return f"no Helix table mix '{mix}' for this model{did_you_mean(mix, tables.mixes or ['<none>'])}"


def _heuristic_order(loaded: LoadedSpec, section: HelixSection) -> list[Node]:
    nodes = list(loaded.cluster.nodes)
    if section.heuristic_order is None:
        return nodes
    names = [n.name for n in nodes]
    given = list(section.heuristic_order)
    unknown = [g for g in given if g not in names]
    problems = [
        loaded.problem(("helix", "heuristic_order", given.index(u)), f"unknown node '{u}'{did_you_mean(u, names)}")
        for u in unknown
    ]
    missing = [n for n in names if n not in given]
    dup = sorted({g for g in given if given.count(g) > 1})
    if missing or dup:
        msg = "must list every node exactly once"
        msg += f"; missing: {', '.join(missing[:5])}" if missing else ""
        msg += f"; repeated: {', '.join(dup[:5])}" if dup else ""
        problems.append(loaded.problem(("helix", "heuristic_order"), msg))
    if problems:
        raise SpecError(problems)
    by_name = {n.name: n for n in nodes}
    return [by_name[g] for g in given]


def _workload_mean(loaded: LoadedSpec, which: str) -> float | None:
    """Mean prompt / output length of the spec's workload distributions (traces are not read here)."""
    wl = loaded.spec.workload
    if wl is None:
        return None
    dist = wl.input_tokens if which == "input" else wl.output_tokens
    if dist is None:
        return None
    if dist.mean is not None:
        return float(dist.mean)
    if dist.distribution == "uniform" and dist.max is not None:
        return (dist.min + dist.max) / 2.0
    return None


def _node_model_detail(perf: NodePerf, workload: Workload) -> str:
    lat = (
        "measured per-layer latency"
        if perf.provenance != "roofline"
        else f"roofline per-layer latency{peak_note(perf.gpu, perf.model.dtype_bytes)}"
    )
    return (
        f"shared node model ({lat}, {perf.latency.gpu}): this node alone at the batch its KV admits "
        f"({NODE_MODEL_HWM:g} of VRAM x {perf.gpu_memory_utilization:g} - weights), requests of "
        f"{workload.input_tokens:g} prompt + {workload.output_tokens:g} output tokens; no cluster mix enters"
    )


def _roofline_detail(roof: RooflineInputs, gpu: GpuProfile, model: ModelProfile) -> str:
    o = roof.options
    fp8 = " (FP8 tensor peak)" if gpu.uses_fp8(model.dtype_bytes) else ""
    return (
        f"roofline from the {gpu.name} datasheet: {o.compute_efficiency:g} of peak TFLOP/s{fp8}, "
        f"{o.memory_efficiency:g} of peak HBM GB/s, batch <= {o.max_batch} sized by {o.kv_high_water:g} of the free "
        "KV memory, requests of "
        f"{roof.input_tokens:g} prompt + {roof.output_tokens:g} output tokens"
    )


def _edges(loaded: LoadedSpec, names: list[str], token_bytes: int, act_bytes: int) -> tuple[HelixEdge, ...]:
    cluster = loaded.cluster
    keep = set(names)
    edges: list[HelixEdge] = []
    for node, link in cluster.coordinator_links.items():
        if node not in keep:
            continue
        cap = link.bandwidth_bytes_s / token_bytes
        edges.append(HelixEdge(SOURCE, node, cap, link.bandwidth_bytes_s, link.latency_s))
        edges.append(HelixEdge(node, SINK, cap, link.bandwidth_bytes_s, link.latency_s))
    for i, ((a, b), link) in enumerate(cluster.links.items()):
        if i % CHECK_EVERY == 0:
            checkpoint("building the Helix instance (link table)")
        if a not in keep or b not in keep:
            continue
        cap = link.bandwidth_bytes_s / act_bytes
        edges.append(HelixEdge(a, b, cap, link.bandwidth_bytes_s, link.latency_s))
        edges.append(HelixEdge(b, a, cap, link.bandwidth_bytes_s, link.latency_s))
    return tuple(sorted(edges, key=lambda e: (e.src, e.dst)))
