"""Read a Helix plan document into what the simulator needs: nodes, layer ranges, flows, links.

The simulator reads plans, never solver objects (README "Architecture"). The plan block is validated against the
helix contract (:class:`planner.helix.contract.HelixPlanBlock`, through the registry in :mod:`planner.contracts`),
ignoring unknown keys so that a newer minor version of the plan still loads; this module adds the checks only a
simulation needs (layer ranges chain, flows have somewhere to go). Every problem is a one-line
:class:`~planner.errors.SpecError` naming the file and the dotted path (exit 2).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from planner.contracts import parse_block
from planner.errors import SpecError
from planner.helix.contract import HelixEdge, HelixNode, HelixPlanBlock
from planner.paths import display_path
from planner.plan import Plan, read_plan

SOURCE = "source"
SINK = "sink"

#: The contract's names, as the simulator has always called them.
PlanNode = HelixNode
PlanEdge = HelixEdge
HelixBlock = HelixPlanBlock


@dataclass(frozen=True)
class PlacementInput:
    """A helix plan loaded for simulation."""

    path: Path
    display: str
    file_name: str
    sha256: str
    plan: Plan
    block: HelixBlock
    bound_tok_s: float

    @property
    def label(self) -> str:
        return self.path.stem


class ServesNothing(SpecError):
    """A plan whose placement carries no flow: no request can be routed, nothing to simulate. Exit 2 on its own;
    ``plan simulate --compare`` leaves such a compared plan out with a warning and simulates the others."""


def _problem(name: str, where: str, message: str) -> SpecError:
    return SpecError.single(name, where, message)


def load_placement(path: Path) -> PlacementInput:
    """Load and check one helix plan file: kind, status, layer ranges, edge endpoints, flows."""
    name = display_path(path)
    plan = read_plan(path, expected_kind="helix", reader="plan simulate")
    if plan.solver.status in ("infeasible", "error"):
        raise _problem(name, "solver.status", f"the plan has status {plan.solver.status}: nothing to simulate")
    try:
        block = parse_block("helix", plan.plan)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in ("plan", *err["loc"]))
        raise _problem(name, loc, err["msg"]) from None
    _check_block(name, block)
    bound = plan.metrics.get("throughput_tok_s")
    if bound is None:
        bound = plan.solver.objective
    if bound is None:
        raise _problem(name, "metrics.throughput_tok_s", "missing: the plan carries no max-flow value")
    if not math.isfinite(bound) or bound <= 0:
        raise _problem(name, "metrics.throughput_tok_s", f"the plan's max-flow bound must be positive, got {bound:g}")
    return PlacementInput(
        path=path,
        display=name,
        file_name=path.name,
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        plan=plan,
        block=block,
        bound_tok_s=float(bound),
    )


#: Most layers a simulated plan may have: models have at most a few hundred, and the simulator allocates per layer.
MAX_LAYERS = 10_000


def _check_block(name: str, block: HelixBlock) -> None:
    if not 1 <= block.layers <= MAX_LAYERS:
        raise _problem(name, "plan.layers", f"{block.layers} layers; a plan has between 1 and {MAX_LAYERS:,}")
    names = [n.name for n in block.nodes]
    if len(set(names)) != len(names):
        raise _problem(name, "plan.nodes", "node names must be unique")
    if SOURCE in names or SINK in names:
        raise _problem(name, "plan.nodes", f"'{SOURCE}' and '{SINK}' are reserved for the coordinator")
    empty = {n.name for n in block.nodes if n.layer_start == n.layer_end}  # holds nothing: not simulated
    for i, n in enumerate(block.nodes):
        if n.name in empty:
            continue
        if not 0 <= n.layer_start < n.layer_end <= block.layers:
            raise _problem(
                name,
                f"plan.nodes[{i}]",
                f"node {n.name}: layer range [{n.layer_start}, {n.layer_end}) outside [0, {block.layers})",
            )
    by_name = {n.name: n for n in block.nodes}
    has_source = False
    for i, e in enumerate(block.edges):
        if e.src != SOURCE and e.src not in by_name:
            raise _problem(name, f"plan.edges[{i}].src", f"unknown node '{e.src}'")
        if e.dst != SINK and e.dst not in by_name:
            raise _problem(name, f"plan.edges[{i}].dst", f"unknown node '{e.dst}'")
        if e.src in empty or e.dst in empty:
            raise _problem(name, f"plan.edges[{i}]", f"edge {e.src}->{e.dst} touches a node that holds no layer")
        if e.src == SOURCE and e.flow_tok_s > 0:
            has_source = True
        if e.src != SOURCE and e.dst != SINK:
            a, b = by_name[e.src], by_name[e.dst]
            ok = a.layer_end == b.layer_start if block.mode == "strict" else b.layer_start <= a.layer_end < b.layer_end
            if not ok:
                raise _problem(
                    name, f"plan.edges[{i}]", f"edge {e.src}->{e.dst} does not chain layers under {block.mode} mode"
                )
        if e.src == SOURCE and e.dst != SINK and by_name[e.dst].layer_start != 0:
            raise _problem(name, f"plan.edges[{i}]", f"source edge to {e.dst}, which does not start at layer 0")
        if e.dst == SINK and e.src != SOURCE and by_name[e.src].layer_end != block.layers:
            raise _problem(name, f"plan.edges[{i}]", f"sink edge from {e.src}, which does not end at the last layer")
    if not has_source:
        raise ServesNothing.single(name, "plan.edges", "no flow leaves the source: the placement serves nothing")
    inflow = {e.dst for e in block.edges if e.flow_tok_s > 0 and e.dst != SINK}
    outflow = {e.src for e in block.edges if e.flow_tok_s > 0}
    for node in sorted(inflow - outflow):
        raise _problem(name, "plan.edges", f"flow enters {node} but none leaves it: requests would be stranded")


def check_same_cluster(placements: list[PlacementInput]) -> list[str]:
    """``--compare`` runs one workload through placements of one cluster.

    A different model is an error (the workload and latency tables would differ); different node sets are only a
    warning, since a baseline may leave nodes out; the warnings are returned for the document.
    """
    first = placements[0]
    ref = {(n.name, n.gpu, n.gpus_per_node) for n in first.block.nodes}
    warnings: list[str] = []
    for other in placements[1:]:
        if other.block.model != first.block.model:
            raise SpecError.single(
                other.display, "plan.model", f"model '{other.block.model}' differs from {first.display}"
            )
        nodes = {(n.name, n.gpu, n.gpus_per_node) for n in other.block.nodes}
        if nodes != ref:
            diff = sorted({n[0] for n in nodes ^ ref})
            shown = ", ".join(diff[:5]) + (", ..." if len(diff) > 5 else "")
            warnings.append(f"{other.display}: nodes differ from {first.display} ({shown}): not the same cluster?")
    return warnings
