"""The simulated cluster of one placement: indexed nodes, KV-cache capacities, links and flow-weighted successors.

Numbers come from the plan and the profile database only:

* layer ranges, flows (routing weights), link bandwidths and latencies: the plan's ``nodes`` and ``edges``;
* per-layer batch time: :mod:`planner.sim.latency` (``helix_layer_latency``, by the node's ``profile_gpu``; the
  analytic roofline of the node's GPUs only with ``--latency auto|roofline``);
* KV-cache capacity (the shared node model, :mod:`planner.profiles.nodeperf`), in token-layers (one token's K
  and V in one layer, as Helix counts it): the node's memory
  (``gpus_per_node x vram``) times the usable fraction (vLLM's ``gpu_memory_utilization``, 0.9 by default), minus
  the weights of the layers it holds, divided by the model's KV bytes per token and layer (GQA-aware). Helix takes
  the same quantity from vLLM's block count (reference README section 12); here it is analytic and says so.
* bytes on the wire per token: the model's activation size (hidden x dtype) between nodes, and a token id of
  2 bytes on coordinator links (the Helix "token size", reference README section 3; 4 when the vocabulary
  exceeds 65,536 ids).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from planner.errors import ProfileMissingError
from planner.profiles.db import ProfileDB
from planner.profiles.nodeperf import kv_capacity_token_layers
from planner.profiles.schema import ModelProfile
from planner.sim.latency import LayerLatency, RooflineLatency, load_layer_latency, roofline_layer_latency
from planner.sim.placement import SINK, SOURCE, PlacementInput, PlanNode

#: Bytes of one token id on coordinator links while the vocabulary fits 16 bits (Helix reference README section 3:
#: token size 2 B for LLaMA); larger vocabularies need 4 B.
TOKEN_ID_BYTES = 2


def token_id_bytes(vocab_size: int) -> int:
    """Smallest of 2 or 4 bytes that holds every token id of the vocabulary."""
    return TOKEN_ID_BYTES if vocab_size <= 1 << 16 else 4


@dataclass(frozen=True)
class SimNode:
    """A compute node as the engine sees it."""

    index: int
    name: str
    gpu: str
    profile_gpu: str
    layer_start: int
    layer_end: int
    latency: LayerLatency
    kv_capacity_token_layers: float
    weight_bytes: float
    usable_bytes: float
    planned_tok_s: float

    @property
    def layers(self) -> int:
        return self.layer_end - self.layer_start


@dataclass(frozen=True)
class SimLink:
    """A directed link that carries traffic under the plan (one per plan edge, each direction separately)."""

    index: int
    src: str
    dst: str
    bandwidth_bytes_s: float
    latency_s: float
    planned_flow_tok_s: float


@dataclass(frozen=True)
class Successor:
    """A candidate next hop: node index (or ``Topology.sink``), its IWRR weight (the edge flow), the link."""

    target: int
    flow_tok_s: float
    link: int


@dataclass(frozen=True)
class Topology:
    """Everything the engine needs about one placement; node indices follow the plan's (sorted) node order."""

    model: ModelProfile
    layers: int
    mode: str
    nodes: tuple[SimNode, ...]
    links: tuple[SimLink, ...]
    successors: dict[int, tuple[Successor, ...]]
    activation_bytes: int
    token_bytes: int

    @property
    def sink(self) -> int:
        return len(self.nodes)

    @property
    def source(self) -> int:
        return len(self.nodes) + 1


@dataclass(frozen=True)
class LatencySource:
    """Where per-layer latencies come from: the measured table only (default), the table with the analytic
    roofline where it has no rows (``auto``), or the roofline for every node (``roofline``)."""

    mode: Literal["table", "auto", "roofline"] = "table"
    roofline: RooflineLatency = field(default_factory=RooflineLatency)
    prompt_context: float = 0.0
    decode_context: float = 0.0
    max_prompt_tokens: int = 2048


def _latency_for(
    db: ProfileDB,
    model: ModelProfile,
    node: PlanNode,
    source: LatencySource,
    cache: dict[tuple[str, int], LayerLatency],
) -> LayerLatency:
    key = (node.profile_gpu.lower(), 0) if source.mode != "roofline" else (node.gpu, node.gpus_per_node)
    if key in cache:
        return cache[key]
    lat: LayerLatency | None = None
    if source.mode != "roofline":
        try:
            lat = load_layer_latency(db, model.name, node.profile_gpu)
        except ProfileMissingError:
            if source.mode == "table":
                raise
            key = (node.gpu, node.gpus_per_node)
            lat = cache.get(key)
    if lat is None:
        lat = roofline_layer_latency(
            model,
            db.gpu(node.gpu),
            node.gpus_per_node,
            source.prompt_context,
            source.decode_context,
            source.max_prompt_tokens,
            source.roofline,
        )
    cache[key] = lat
    return lat


def build_topology(
    placement: PlacementInput,
    db: ProfileDB,
    gpu_memory_utilization: float,
    latency: LatencySource | None = None,
) -> Topology:
    """Index the plan's nodes and edges; load latency profiles and derive KV capacities."""
    block = placement.block
    model = db.model(block.model)
    latency_source = latency or LatencySource()
    latencies: dict[tuple[str, int], LayerLatency] = {}
    nodes: list[SimNode] = []
    for n in (n for n in block.nodes if n.held > 0):  # a node holding no layer takes no part
        i = len(nodes)
        lat = _latency_for(db, model, n, latency_source, latencies)
        vram = db.gpu(n.gpu).vram_bytes * n.gpus_per_node
        cap, weights, usable = kv_capacity_token_layers(model, vram, n.held, gpu_memory_utilization)
        nodes.append(
            SimNode(
                index=i,
                name=n.name,
                gpu=n.gpu,
                profile_gpu=n.profile_gpu,
                layer_start=n.layer_start,
                layer_end=n.layer_end,
                latency=lat,
                kv_capacity_token_layers=cap,
                weight_bytes=weights,
                usable_bytes=usable,
                planned_tok_s=float(n.inflow_tok_s or 0.0),
            )
        )
    index = {n.name: n.index for n in nodes}
    sink, source = len(nodes), len(nodes) + 1
    index[SINK], index[SOURCE] = sink, source
    links: list[SimLink] = []
    succ: dict[int, list[Successor]] = {}
    for e in block.edges:
        if e.flow_tok_s <= 0:
            continue
        link = SimLink(len(links), e.src, e.dst, e.bandwidth_bytes_s, e.latency_s, e.flow_tok_s)
        links.append(link)
        succ.setdefault(index[e.src], []).append(Successor(index[e.dst], e.flow_tok_s, link.index))
    return Topology(
        model=model,
        layers=block.layers,
        mode=block.mode,
        nodes=tuple(nodes),
        links=tuple(links),
        successors={k: tuple(sorted(v, key=lambda s: s.target)) for k, v in succ.items()},
        activation_bytes=model.activation_bytes_per_token,
        token_bytes=token_id_bytes(model.vocab_size),
    )
