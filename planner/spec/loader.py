"""Load a cluster spec: YAML with positions -> ``--set`` overrides -> pydantic -> cross-checks with profiles.

Every problem found is reported at once as ``file:line:col: dotted.path: message`` (exit 2), and nothing is
written. Cross-checks that need the profile database (GPU and model names, link endpoints, trace files) live
here so that solvers receive a spec that is known to be consistent.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from planner.errors import SpecError, SpecProblem, did_you_mean
from planner.inputfiles import MAX_YAML_BYTES, decode_text, read_bytes_bounded
from planner.paths import display_path
from planner.profiles.db import ProfileDB
from planner.profiles.schema import ModelProfile
from planner.spec.cluster import Cluster, build_cluster, endpoint_error, self_link_error
from planner.spec.models import ClusterSpec
from planner.validation import _model_at, problems_from_validation
from planner.yamlmarks import PathKey, Positions, dotted, load_yaml_text, load_yaml_value, parse_dotted, position

SECTIONS_BY_SOLVER: dict[str, tuple[str, ...]] = {
    "helix": ("nodes", "network"),
    "splitwise": ("workload",),
    "dynamo": ("workload",),
}


@dataclass
class LoadedSpec:
    """A validated spec with everything solvers and plans need to know about where it came from."""

    spec: ClusterSpec
    path: Path
    display: str
    sha256: str
    positions: Positions
    model: ModelProfile
    cluster: Cluster
    overrides: list[str] = field(default_factory=list)

    def resolve(self, relative: str) -> Path:
        """A path written in the spec, resolved against the spec file's folder."""
        p = Path(relative)
        return p if p.is_absolute() else (self.path.parent / p)

    def where(self, path: PathKey) -> tuple[int | None, int | None]:
        return position(self.positions, path)

    def problem(self, path: PathKey, message: str) -> SpecProblem:
        """A located problem at ``path``; a value written by ``--set`` is reported against ``--set``."""
        line, col = self.where(path)
        return _blame_overrides([SpecProblem(self.display, dotted(path), message, line, col)], self.overrides)[0]

    def require(self, solver: str, *sections: str) -> None:
        """Raise a clear :class:`SpecError` when a section the solver needs is absent."""
        missing = [s for s in sections if not getattr(self.spec, s)]
        if missing:
            raise SpecError(
                [SpecProblem(self.display, s, f"required by plan {solver} but missing", None) for s in missing]
            )


def apply_overrides(data: Any, pos: Positions, overrides: list[str], file: str) -> Any:
    """Apply ``--set dotted.path=value`` overrides; the path must exist (or be a schema field of its parent)."""
    problems: list[SpecProblem] = []
    for item in overrides:
        if "=" not in item:
            problems.append(SpecProblem("--set", item, "expected dotted.path=value"))
            continue
        raw_path, raw_value = item.split("=", 1)
        try:
            path = parse_dotted(raw_path.strip())
        except ValueError as exc:
            problems.append(SpecProblem("--set", raw_path, f"cannot parse override: {exc}"))
            continue
        try:
            value = load_yaml_value(raw_value, "--set") if raw_value.strip() else ""
        except SpecError as exc:
            reasons = "; ".join(p.message for p in exc.problems)
            problems.append(SpecProblem("--set", raw_path, f"cannot parse value {raw_value[:40]!r}: {reasons}"))
            continue
        parent: Any = data
        ok = True
        for depth, part in enumerate(path[:-1]):
            try:
                parent = parent[part]
                continue
            except (KeyError, IndexError, TypeError):
                pass
            # A missing optional block may be created when it is a schema field at that place.
            owner = _model_at(ClusterSpec, path[:depth])
            if isinstance(parent, dict) and isinstance(part, str) and owner is not None and part in owner.model_fields:
                parent[part] = {}
                parent = parent[part]
                continue
            problems.append(
                SpecProblem("--set", raw_path, f"path does not exist in {file} (at {dotted(path[: depth + 1])})")
            )
            ok = False
            break
        if not ok:
            continue
        last = path[-1]
        if isinstance(parent, dict) and isinstance(last, str):
            if last not in parent:
                owner = _model_at(ClusterSpec, path[:-1])
                if owner is None or last not in owner.model_fields:
                    allowed = sorted(owner.model_fields) if owner else sorted(parent)
                    problems.append(
                        SpecProblem("--set", raw_path, f"path does not exist{did_you_mean(str(last), allowed)}")
                    )
                    continue
            parent[last] = value
        elif isinstance(parent, list) and isinstance(last, int) and -len(parent) <= last < len(parent):
            parent[last] = value
        else:
            problems.append(SpecProblem("--set", raw_path, f"path does not exist in {file}"))
            continue
    if problems:
        raise SpecError(problems)
    return data


#: Default of ``--max-nodes``: the largest cluster (nodes after expanding ``count``) a spec may describe. Every node
#: pair gets a link entry, so memory and time grow with the square of the node count (2,000 nodes: about 2 million
#: links and 0.5 GB before any solver runs); the shipped scale tests stop at 1,000 nodes.
DEFAULT_MAX_NODES = 2000


def load_spec(
    path: Path, profiles: ProfileDB, overrides: list[str] | None = None, *, max_nodes: int = DEFAULT_MAX_NODES
) -> LoadedSpec:
    """Read, override, validate and cross-check a cluster spec (at most ``max_nodes`` nodes, see ``--max-nodes``)."""
    display = display_path(path)
    raw = read_bytes_bounded(path, display, "spec", MAX_YAML_BYTES)
    text = decode_text(raw, display, "spec")
    data, pos = load_yaml_text(text, display)
    if data is None:
        raise SpecError.single(display, "", "spec is empty (expected a mapping with at least 'model:')")
    if not isinstance(data, dict):
        raise SpecError.single(display, "", f"spec must be a mapping, got {type(data).__name__}", 1, 1)
    overrides = list(overrides or [])
    data = apply_overrides(data, pos, overrides, display)
    try:
        return _validate(path, profiles, raw, display, data, pos, overrides, max_nodes)
    except SpecError as exc:
        raise SpecError(_blame_overrides(exc.problems, overrides)) from None


def _blame_overrides(problems: list[SpecProblem], overrides: list[str]) -> list[SpecProblem]:
    """Problems in a value a ``--set`` wrote are reported against ``--set``, not the spec line it replaced."""
    written: list[str] = []
    for item in overrides:
        try:
            written.append(dotted(parse_dotted(item.split("=", 1)[0].strip())))
        except ValueError:
            continue
    out = []
    for p in problems:
        hit = next((w for w in written if p.path == w or p.path.startswith((w + ".", w + "["))), None)
        out.append(SpecProblem("--set", p.path, p.message) if hit else p)
    return out


def _validate(
    path: Path,
    profiles: ProfileDB,
    raw: bytes,
    display: str,
    data: dict[str, Any],
    pos: Positions,
    overrides: list[str],
    max_nodes: int,
) -> LoadedSpec:
    """Schema, size and profile cross-checks of the overridden spec data (see :func:`load_spec`)."""
    try:
        spec = ClusterSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(problems_from_validation(exc, display, pos, ClusterSpec)) from None

    total_nodes = sum(g.count for g in spec.nodes)
    if total_nodes > max_nodes:
        biggest = max(range(len(spec.nodes)), key=lambda i: spec.nodes[i].count)
        line, col = position(pos, ("nodes", biggest, "count"))
        raise SpecError.single(
            display,
            f"nodes[{biggest}].count",
            f"the spec describes {total_nodes:,} nodes, more than --max-nodes {max_nodes:,} (every node pair gets a "
            "link, so memory grows with the square of the count); raise --max-nodes to plan a larger cluster",
            line,
            col,
        )

    problems: list[SpecProblem] = []

    def add(p: PathKey, msg: str) -> None:
        line, col = position(pos, p)
        problems.append(SpecProblem(display, dotted(p), msg, line, col))

    model_key = profiles.resolve_model(spec.model)
    if model_key is None:
        add(("model",), f"unknown model '{spec.model}'{did_you_mean(spec.model, list(profiles.models))}")
    canonical: dict[str, str] = {}
    for i, g in enumerate(spec.nodes):
        key = profiles.resolve_gpu(g.gpu)
        if key is None:
            add(("nodes", i, "gpu"), f"unknown GPU '{g.gpu}'{did_you_mean(g.gpu, list(profiles.gpus))}")
        else:
            canonical[g.gpu] = key
    for section, table in (("pricing", spec.pricing.gpu_usd_h), ("power", spec.power.gpu_tdp_w)):
        field_name = "gpu_usd_h" if section == "pricing" else "gpu_tdp_w"
        for gpu in table:
            if profiles.resolve_gpu(gpu) is None:
                add((section, field_name, gpu), f"unknown GPU '{gpu}'{did_you_mean(gpu, list(profiles.gpus))}")
    if spec.workload is not None and spec.workload.trace:
        trace = Path(spec.workload.trace)
        trace = trace if trace.is_absolute() else path.parent / trace
        if not trace.is_file():
            add(("workload", "trace"), f"trace file not found: {display_path(trace)}")
    if problems:
        raise SpecError(problems)

    from planner.spec.cluster import expand_nodes

    nodes = expand_nodes(spec, canonical)
    if spec.network is not None:
        for i, ov in enumerate(spec.network.links):
            for j, end in enumerate(ov.between):
                msg = endpoint_error(end, nodes)
                if msg:
                    add(("network", "links", i, "between", j), msg)
            msg = self_link_error(ov.between, nodes)
            if msg:
                add(("network", "links", i, "between"), msg)
        regions = {n.region for n in nodes}
        coord = spec.network.coordinator.region
        if coord is not None and regions and coord not in regions:
            add(
                ("network", "coordinator", "region"),
                f"unknown region '{coord}'{did_you_mean(coord, regions)}",
            )
    if problems:
        raise SpecError(problems)
    try:
        cluster = build_cluster(spec, canonical)
    except ValueError as exc:
        raise SpecError.single(display, "network.links", str(exc), *position(pos, ("network", "links"))) from None
    assert model_key is not None
    return LoadedSpec(
        spec=spec,
        path=path,
        display=display,
        sha256=hashlib.sha256(raw).hexdigest(),
        positions=pos,
        model=profiles.models[model_key],
        cluster=cluster,
        overrides=overrides,
    )
