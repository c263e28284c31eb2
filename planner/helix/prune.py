"""Network pruning to shrink the per-node MILP (Helix reference section 8, made deterministic).

Every endpoint (each node and the coordinator) ranks its links by bandwidth (fastest first; ties: lower latency,
then the other endpoint's name) and keeps the first ``keep`` of them, plus every link at least ``threshold`` fast
when a threshold is given. A link survives if **either** endpoint keeps it, so degrees can exceed ``keep``. A
coordinator link is one physical link: ``source -> i`` and ``i -> sink`` survive or go together.

The links the warm start's flow uses are kept as well (so the warm start survives pruning).

Default rule (documented in docs/helix.md): prune with ``keep = 12`` (the paper's setting) only when the cluster
has more than :data:`AUTO_PRUNE_NODES` nodes; smaller graphs are solved whole.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.helix.flow import Mode
from planner.helix.instance import CHECK_EVERY, SINK, SOURCE, HelixEdge, HelixInstance
from planner.solver import checkpoint

AUTO_PRUNE_NODES = 32
AUTO_PRUNE_KEEP = 12
COORDINATOR = "coordinator"


@dataclass(frozen=True)
class PruneReport:
    """What pruning did: links kept, and the per-node MILP size before and after."""

    keep: int
    threshold_bytes_s: float | None
    reason: str
    links_before: int
    links_after: int
    variables_before: int
    constraints_before: int
    variables_after: int
    constraints_after: int


def _undirected(inst: HelixInstance) -> dict[tuple[str, str], HelixEdge]:
    """One representative edge per physical link, keyed by its sorted endpoints (coordinator as 'coordinator')."""
    links: dict[tuple[str, str], HelixEdge] = {}
    for i, e in enumerate(inst.edges):
        if i % CHECK_EVERY == 0:
            checkpoint("pruning links")
        a = COORDINATOR if e.src == SOURCE else e.src
        b = COORDINATOR if e.dst == SINK else e.dst
        key = (a, b) if a < b else (b, a)
        links.setdefault(key, e)
    return links


def link_key(src: str, dst: str) -> tuple[str, str]:
    """The physical link behind a directed edge (coordinator edges map to ('coordinator', node) sorted)."""
    a = COORDINATOR if src == SOURCE else src
    b = COORDINATOR if dst == SINK else dst
    return (a, b) if a < b else (b, a)


def kept_links(inst: HelixInstance, keep: int, threshold_bytes_s: float | None) -> set[tuple[str, str]]:
    """The physical links that survive pruning (module docstring)."""
    links = _undirected(inst)
    incident: dict[str, list[tuple[float, float, str, tuple[str, str]]]] = {}
    for key, e in links.items():
        a, b = key
        incident.setdefault(a, []).append((-e.bandwidth_bytes_s, e.latency_s, b, key))
        incident.setdefault(b, []).append((-e.bandwidth_bytes_s, e.latency_s, a, key))
    survivors: set[tuple[str, str]] = set()
    for _end, ranked in sorted(incident.items()):
        checkpoint("pruning links")
        ranked.sort()
        for pos, (neg_bw, _lat, _other, key) in enumerate(ranked):
            if pos < keep or (threshold_bytes_s is not None and -neg_bw >= threshold_bytes_s):
                survivors.add(key)
    return survivors


def prune(
    inst: HelixInstance,
    keep: int,
    threshold_bytes_s: float | None,
    mode: Mode,
    reason: str,
    protect: set[tuple[str, str]] | None = None,
) -> tuple[HelixInstance, PruneReport]:
    """The instance restricted to the surviving links, with the model-size report.

    ``protect`` lists links that survive regardless (the links the warm start's flow uses), so that the warm start
    stays feasible on the pruned graph -- the reference warns that a hint computed on the complete graph may rely
    on links pruning removed (section 9).
    """
    from planner.helix.model import model_size

    survivors = kept_links(inst, keep, threshold_bytes_s) | (protect or set())

    def alive(e: HelixEdge) -> bool:
        return link_key(e.src, e.dst) in survivors

    pruned = inst.with_edges(e for e in inst.edges if alive(e))
    v0, c0 = model_size(inst, mode)
    v1, c1 = model_size(pruned, mode)
    report = PruneReport(
        keep=keep,
        threshold_bytes_s=threshold_bytes_s,
        reason=reason,
        links_before=len(_undirected(inst)),
        links_after=len(survivors),
        variables_before=v0,
        constraints_before=c0,
        variables_after=v1,
        constraints_after=c1,
    )
    return pruned, report
