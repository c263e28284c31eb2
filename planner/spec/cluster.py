"""The cluster a spec describes, expanded: named nodes and every resolved link.

Solvers work on this view rather than on the YAML shape: ``nodes`` in spec order (groups in order, ``-0``, ``-1``
...), ``links`` for every connected pair of nodes (complete graph minus disabled overrides) and
``coordinator_links`` for every node the coordinator can reach. All bandwidths are bytes/s, latencies seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from planner.spec.models import ClusterSpec, LinkOverride

COORDINATOR = "coordinator"


@dataclass(frozen=True)
class Node:
    name: str
    group: str
    gpu: str  # canonical GPU type name
    gpus_per_node: int
    region: str


@dataclass(frozen=True)
class Link:
    bandwidth_bytes_s: float
    latency_s: float


@dataclass
class Cluster:
    nodes: list[Node]
    links: dict[tuple[str, str], Link] = field(default_factory=dict)  # key sorted (a < b)
    coordinator_links: dict[str, Link] = field(default_factory=dict)
    coordinator_region: str = "default"

    def node(self, name: str) -> Node:
        return self._by_name[name]

    def __post_init__(self) -> None:
        self._by_name = {n.name: n for n in self.nodes}

    def link(self, a: str, b: str) -> Link | None:
        return self.links.get((a, b) if a < b else (b, a))

    @property
    def regions(self) -> list[str]:
        return sorted({n.region for n in self.nodes})


def expand_nodes(spec: ClusterSpec, canonical_gpu: dict[str, str]) -> list[Node]:
    """Expand node groups into named nodes; ``canonical_gpu`` maps spec GPU names to catalogue names."""
    out: list[Node] = []
    for g in spec.nodes:
        for i in range(g.count):
            out.append(Node(f"{g.name}-{i}", g.name, canonical_gpu[g.gpu], g.gpus_per_node, g.region))
    return out


def _endpoint_nodes(endpoint: str, nodes: list[Node]) -> list[str] | None:
    """Node names an override endpoint denotes; None when it names nothing."""
    if endpoint == COORDINATOR:
        return [COORDINATOR]
    if endpoint.startswith("region:"):
        region = endpoint.split(":", 1)[1]
        found = [n.name for n in nodes if n.region == region]
        return found or None
    exact = [n.name for n in nodes if n.name == endpoint]
    if exact:
        return exact
    group = [n.name for n in nodes if n.group == endpoint]
    return group or None


def endpoint_error(endpoint: str, nodes: list[Node]) -> str | None:
    """Message for an override endpoint that names nothing, else None."""
    if _endpoint_nodes(endpoint, nodes) is not None:
        return None
    from planner.errors import did_you_mean

    choices = {n.name for n in nodes} | {n.group for n in nodes} | {f"region:{n.region}" for n in nodes}
    return f"unknown endpoint '{endpoint}'{did_you_mean(endpoint, choices | {COORDINATOR})}"


def self_link_error(between: tuple[str, str], nodes: list[Node]) -> str | None:
    """Message for an override whose endpoints both denote the same one node (``[a100-0, a100-0]``), else None.

    Such an override pairs no two endpoints, so it would change nothing: refused rather than ignored, since the user
    certainly meant another node. A group or region with itself (every pair inside it) is fine.
    """
    left, right = _endpoint_nodes(between[0], nodes), _endpoint_nodes(between[1], nodes)
    if left is None or right is None or any(a != b for a in left for b in right):
        return None
    return f"links {left[0]} to itself ({between[0]!r} and {between[1]!r}): a link joins two different endpoints"


def build_cluster(spec: ClusterSpec, canonical_gpu: dict[str, str]) -> Cluster:
    """Expand nodes and resolve every link from the region defaults and the ordered overrides."""
    nodes = expand_nodes(spec, canonical_gpu)
    net = spec.network
    cluster = Cluster(nodes=nodes)
    if net is None:
        return cluster
    regions = [g.region for g in spec.nodes]
    coord_region = net.coordinator.region or (regions[0] if regions else "default")
    cluster.coordinator_region = coord_region

    def default(a: str, b: str) -> Link:
        cls = net.intra_region if a == b or net.inter_region is None else net.inter_region
        return Link(cls.bandwidth, cls.latency)

    for i, a in enumerate(nodes):
        for b in nodes[i + 1 :]:
            cluster.links[(a.name, b.name) if a.name < b.name else (b.name, a.name)] = default(a.region, b.region)
        base = default(coord_region, a.region)
        bw = net.coordinator.bandwidth if net.coordinator.bandwidth is not None else base.bandwidth_bytes_s
        lat = net.coordinator.latency if net.coordinator.latency is not None else base.latency_s
        cluster.coordinator_links[a.name] = Link(bw, lat)

    for ov in net.links:
        _apply(cluster, ov, nodes)
    return cluster


def _apply(cluster: Cluster, ov: LinkOverride, nodes: list[Node]) -> None:
    left = _endpoint_nodes(ov.between[0], nodes) or []
    right = _endpoint_nodes(ov.between[1], nodes) or []
    for a in left:
        for b in right:
            if a == b:
                continue
            if COORDINATOR in (a, b):
                node = b if a == COORDINATOR else a
                if node == COORDINATOR:
                    continue
                key_c: str = node
                old = cluster.coordinator_links.get(key_c)
                if ov.disabled:
                    cluster.coordinator_links.pop(key_c, None)
                    continue
                cluster.coordinator_links[key_c] = _merged(old, ov)
                continue
            key = (a, b) if a < b else (b, a)
            if ov.disabled:
                cluster.links.pop(key, None)
                continue
            cluster.links[key] = _merged(cluster.links.get(key), ov)


def _merged(old: Link | None, ov: LinkOverride) -> Link:
    bw = ov.bandwidth if ov.bandwidth is not None else (old.bandwidth_bytes_s if old else None)
    lat = ov.latency if ov.latency is not None else (old.latency_s if old else 0.0)
    if bw is None:
        raise ValueError("an override that re-creates a removed link needs a bandwidth")
    return Link(bw, lat)
