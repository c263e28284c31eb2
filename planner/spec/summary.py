"""What ``plan validate`` reports: the cluster at a glance and which solvers the spec can feed."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from planner.profiles.db import ProfileDB
from planner.spec.loader import LoadedSpec


@dataclass
class SpecSummary:
    name: str
    model: str
    nodes_by_gpu: dict[str, dict[str, Any]]
    node_count: int
    gpu_count: int
    total_vram_gb: float
    regions: list[str]
    compute_links: int
    coordinator_links: int
    solvers: dict[str, list[str]] = field(default_factory=dict)  # solver -> missing items ([] = ready)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model": self.model,
            "nodes_by_gpu": self.nodes_by_gpu,
            "node_count": self.node_count,
            "gpu_count": self.gpu_count,
            "total_vram_gb": self.total_vram_gb,
            "regions": self.regions,
            "compute_links": self.compute_links,
            "coordinator_links": self.coordinator_links,
            "solvers": self.solvers,
        }


def solver_readiness(loaded: LoadedSpec) -> dict[str, list[str]]:
    """For each solver, the sections it needs that this spec lacks (empty list: the solver can run)."""
    spec = loaded.spec
    out: dict[str, list[str]] = {}
    helix: list[str] = []
    if not spec.nodes:
        helix.append("nodes")
    if spec.network is None:
        helix.append("network")
    out["helix"] = helix
    splitwise: list[str] = []
    if spec.workload is None or not (spec.workload.trace or spec.workload.input_tokens):
        splitwise.append("workload (trace or input_tokens/output_tokens)")
    out["splitwise"] = splitwise
    dynamo: list[str] = []
    if spec.workload is None or not (spec.workload.trace or spec.workload.input_tokens):
        dynamo.append("workload (trace or input_tokens/output_tokens)")
    gpu_types = {n.gpu for n in loaded.cluster.nodes}
    if not gpu_types:
        dynamo.append("nodes (one GPU type)")
    elif len(gpu_types) > 1:
        dynamo.append(f"nodes of one GPU type (found {len(gpu_types)}: {', '.join(sorted(gpu_types))})")
    out["dynamo"] = dynamo
    return out


def summarize(loaded: LoadedSpec, db: ProfileDB) -> SpecSummary:
    cluster = loaded.cluster
    counts: Counter[str] = Counter()
    gpus: Counter[str] = Counter()
    for n in cluster.nodes:
        counts[n.gpu] += 1
        gpus[n.gpu] += n.gpus_per_node
    by_gpu = {g: {"nodes": counts[g], "gpus": gpus[g], "vram_gb": gpus[g] * db.gpus[g].vram_gb} for g in sorted(counts)}
    return SpecSummary(
        name=loaded.spec.name or loaded.display,
        model=loaded.model.name,
        nodes_by_gpu=by_gpu,
        node_count=len(cluster.nodes),
        gpu_count=sum(gpus.values()),
        total_vram_gb=sum(v["vram_gb"] for v in by_gpu.values()),
        regions=cluster.regions,
        compute_links=len(cluster.links),
        coordinator_links=len(cluster.coordinator_links),
        solvers=solver_readiness(loaded),
    )
