"""YAML loading that remembers where every value came from.

PyYAML's composer gives nodes with start marks; we build the plain Python value from the node tree ourselves and
keep ``{path: (line, column)}`` (1-based) so that a schema error on ``nodes[3].gpu`` can be reported as
``spec.yaml:41:10: nodes[3].gpu: ...``. Duplicate mapping keys, which PyYAML silently accepts, are errors here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from planner.errors import SpecError, SpecProblem

PathKey = tuple[str | int, ...]
Positions = dict[PathKey, tuple[int, int]]


def dotted(path: PathKey | list[str | int]) -> str:
    """Render ``("nodes", 3, "gpu")`` as ``nodes[3].gpu``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def parse_dotted(text: str) -> PathKey:
    """Inverse of :func:`dotted`: ``nodes[3].gpu`` -> ``("nodes", 3, "gpu")``."""
    parts: list[str | int] = []
    for chunk in text.split("."):
        if not chunk:
            raise ValueError(f"empty segment in path {text!r}")
        name, *indices = chunk.split("[")
        if name:
            parts.append(name)
        for idx in indices:
            if not idx.endswith("]") or not idx[:-1].lstrip("-").isdigit():
                raise ValueError(f"bad index in path {text!r}")
            parts.append(int(idx[:-1]))
    return tuple(parts)


def _construct(node: yaml.Node, path: PathKey, pos: Positions, file: str, problems: list[SpecProblem]) -> Any:
    pos[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = yaml.safe_load(yaml.serialize(key_node)) if not isinstance(key_node, yaml.ScalarNode) else None
            if isinstance(key_node, yaml.ScalarNode):
                key = _scalar(key_node)
            if not isinstance(key, (str, int, float, bool)):
                problems.append(_problem(file, path, key_node, "mapping keys must be plain scalars"))
                continue
            skey = str(key)
            if skey in out:
                problems.append(_problem(file, (*path, skey), key_node, f"duplicate key '{skey}'"))
                continue
            out[skey] = _construct(value_node, (*path, skey), pos, file, problems)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, (*path, i), pos, file, problems) for i, item in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    constructor = yaml.SafeLoader(stream="")
    try:
        return constructor.construct_object(node, deep=True)
    finally:
        constructor.dispose()


def _problem(file: str, path: PathKey, node: yaml.Node, msg: str) -> SpecProblem:
    return SpecProblem(
        file=file,
        path=dotted(path),
        message=msg,
        line=node.start_mark.line + 1,
        column=node.start_mark.column + 1,
    )


def load_yaml_text(text: str, file: str) -> tuple[Any, Positions]:
    """Parse YAML text into plain data plus positions; raise :class:`SpecError` on any syntax problem."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        col = mark.column + 1 if mark else None
        reason = exc.problem or exc.context or "invalid YAML"
        raise SpecError.single(file, "", f"YAML syntax error: {reason}", line, col) from None
    except yaml.YAMLError as exc:
        raise SpecError.single(file, "", f"YAML error: {exc}") from None
    if node is None:
        return None, {}
    pos: Positions = {}
    problems: list[SpecProblem] = []
    try:
        data = _construct(node, (), pos, file, problems)
    except yaml.YAMLError as exc:
        raise SpecError.single(file, "", f"YAML error: {exc}") from None
    if problems:
        raise SpecError(problems)
    return data, pos


def load_yaml_file(path: Path, display: str | None = None) -> tuple[Any, Positions]:
    """Read and parse a YAML file (see :func:`load_yaml_text`)."""
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError.single(name, "", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError.single(name, "", f"cannot read file: {exc}") from None
    return load_yaml_text(text, name)


def position(pos: Positions, path: PathKey) -> tuple[int | None, int | None]:
    """Line/column of ``path``, or of its nearest ancestor that has one."""
    p = tuple(path)
    while True:
        if p in pos:
            return pos[p]
        if not p:
            return (None, None)
        p = p[:-1]
