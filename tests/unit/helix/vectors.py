"""Instances built straight from the Helix reference test vectors (no spec, no profile database)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

from planner.helix.instance import HelixInstance, HelixNode, complete_edges

#: A copy of the reference test vectors, shipped with the tests so they run on a bare clone.
VECTORS = Path(__file__).resolve().parents[2] / "fixtures" / "helix" / "test_vectors.yaml"


@cache
def vectors() -> dict[str, Any]:
    return yaml.safe_load(VECTORS.read_text())


def node_name(node_id: int) -> str:
    return f"n{node_id:02d}"


def instance(cluster: str) -> HelixInstance:
    """The test-vector cluster with full-precision tables, nodes in the paper's id order."""
    tv = vectors()
    c = tv["clusters"][cluster]
    m = tv["models"][c["model"]]
    table = tv["throughput_tables_full_precision"][c["throughput_table"]]
    nodes = tuple(
        HelixNode(node_name(d["id"]), d["type"], 1, "r0", d["type"], d["max_layers"], tuple(table[d["type"]]))
        for d in c["nodes"]
    )
    bw = c["links"]["every_link"]["bandwidth_bytes_per_s"]
    edges = complete_edges(
        nodes, bw, c["links"]["every_link"]["latency_s"], m["token_size_bytes"], m["activation_size_bytes"]
    )
    return HelixInstance(
        cluster, c["model"], m["num_layers"], nodes, edges, m["token_size_bytes"], m["activation_size_bytes"]
    )


def placement(cluster: str, name: str) -> dict[str, tuple[int, int]]:
    ranges = vectors()["clusters"][cluster]["placements"][name]["ranges"]
    return {node_name(int(k)): (int(v[0]), int(v[1])) for k, v in ranges.items()}


def cases() -> list[tuple[str, str]]:
    return [(c, p) for c, body in vectors()["clusters"].items() for p in body["placements"]]
