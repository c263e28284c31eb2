"""Placements as data: reading ``--placement FILE`` and parking nodes a construction left unused.

A placement file is YAML or JSON in one of two shapes:

* a Helix plan JSON written by ``plan helix --out`` (its ``plan.nodes[].layer_start/layer_end`` and ``plan.mode``);
* a mapping ``{mode: strict|partial (optional), ranges: {node: [start, end], ...}}`` (end exclusive), or just the
  ``{node: [start, end]}`` mapping.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from planner.errors import SpecError, SpecProblem, did_you_mean
from planner.helix.flow import Mode
from planner.helix.instance import HelixInstance
from planner.inputfiles import load_json_file
from planner.paths import display_path
from planner.yamlmarks import load_yaml_file


class PlacementFile(BaseModel):
    """The mapping shape of a placement file."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["strict", "partial"] | None = None
    ranges: dict[str, tuple[int, int]] = Field(description="node -> [start, end), 0-based, end exclusive")


def plan_reserve(path: Path) -> float | None:
    """The KV reserve at which a served plan's placement was searched (None for any other placement file): the served
    search tries reserves below the spec's (more layers per node), so its recommended placement may hold more layers
    than the spec's reserve admits; fed back with ``--placement`` it is evaluated at its own reserve."""
    if path.suffix != ".json":
        return None
    data = load_json_file(path, display_path(path), "placement")
    if not (isinstance(data, dict) and data.get("kind") == "helix" and isinstance(data.get("plan"), dict)):
        return None
    search = (data["plan"].get("served") or {}).get("search") or {}
    chosen = search.get("chosen")
    for cand in search.get("candidates") or []:
        if isinstance(cand, dict) and cand.get("source") == chosen:
            reserve = cand.get("kv_reserve_fraction")
            return float(reserve) if isinstance(reserve, int | float) else None
    return None


def read_placement(path: Path, inst: HelixInstance) -> tuple[dict[str, tuple[int, int]], Mode | None]:
    """Ranges and (optional) mode from a placement file; every problem is a one-line SpecError (exit 2)."""
    name = display_path(path)
    if path.suffix == ".json":
        data = load_json_file(path, name, "placement")
    else:
        data, _ = load_yaml_file(path, name, "placement")
    if isinstance(data, dict) and data.get("kind") == "helix" and isinstance(data.get("plan"), dict):
        block = data["plan"]
        data = {
            "mode": block.get("mode"),
            "ranges": {
                n["name"]: (n["layer_start"], n["layer_end"]) for n in block.get("nodes", []) if n.get("layers", 0) > 0
            },
        }
    elif isinstance(data, dict) and "ranges" not in data:
        data = {"ranges": data}
    try:
        parsed = PlacementFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise SpecError.single(name, where, first["msg"]) from None
    problems: list[SpecProblem] = []
    known = [n.name for n in inst.nodes] + [n.name for n in inst.excluded]
    for node, (s, e) in parsed.ranges.items():
        if node not in known:
            problems.append(SpecProblem(name, f"ranges.{node}", f"unknown node '{node}'{did_you_mean(node, known)}"))
            continue
        if node in {x.name for x in inst.excluded}:
            problems.append(SpecProblem(name, f"ranges.{node}", "this node cannot hold a single layer"))
            continue
        k_max = inst.node(node).max_layers
        if not (0 <= s < e <= inst.layers):
            problems.append(SpecProblem(name, f"ranges.{node}", f"[{s}, {e}) is not inside 0..{inst.layers}"))
        elif e - s > k_max:
            problems.append(
                SpecProblem(name, f"ranges.{node}", f"holds {e - s} layers but at most {k_max} fit (memory)")
            )
    missing = [n.name for n in inst.nodes if n.name not in parsed.ranges]
    if missing:
        shown = ", ".join(missing[:6]) + (", ..." if len(missing) > 6 else "")
        problems.append(SpecProblem(name, "ranges", f"every node needs a range; missing: {shown}"))
    if problems:
        raise SpecError(problems)
    return dict(parsed.ranges), parsed.mode


def park_idle(inst: HelixInstance, ranges: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
    """Give every unplaced node a range: next to the weakest group it can join, else its first K layers.

    A strict plan needs every node to hold at least one layer (reference section 6, constraint 1). Joining the
    weakest existing range adds capacity where it is scarcest and can never reduce the max flow.
    """
    out = dict(ranges)
    groups: dict[tuple[int, int], float] = {}
    for name, (s, e) in out.items():
        groups[(s, e)] = groups.get((s, e), 0.0) + inst.node(name).tp(e - s)
    for node in inst.nodes:
        if node.name in out:
            continue
        options = sorted((cap, rng) for rng, cap in groups.items() if node.tp(rng[1] - rng[0]) > 0)
        if options:
            rng = options[0][1]
            groups[rng] += node.tp(rng[1] - rng[0])
        else:
            rng = (0, min(node.max_layers, inst.layers))
        out[node.name] = rng
    return out
