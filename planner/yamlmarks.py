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
from planner.inputfiles import MAX_DEPTH, read_text_bounded

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


#: Most values (mappings, lists and scalars, aliases expanded) one YAML document may hold; a billion-laughs
#: document stops here instead of exhausting memory. Real specs hold a few thousand.
MAX_VALUES = 100_000

#: Tags a value may carry, explicitly or resolved implicitly: YAML's core schema (plus timestamps, which the
#: implicit resolver produces for dates). Anything else (``!!python/object``, ``!!binary``, ``!custom``) is refused.
_CORE_TAGS = frozenset(
    f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "timestamp", "map", "seq")
)


class _DepthError(yaml.composer.ComposerError):
    """The nesting bound was crossed (not a syntax error)."""


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader with a nesting bound: its composer recurses once per level (``RecursionError``)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                # types-PyYAML leaves Parser.peek_event unannotated (it returns an Event with a start_mark)
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise _DepthError(None, None, f"nesting deeper than {MAX_DEPTH} levels", mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _Builder:
    """Builds plain data from a composed node tree, recording positions and counting values against the bound."""

    def __init__(self, loader: _BoundedLoader, file: str) -> None:
        self.loader = loader
        self.file = file
        self.pos: Positions = {}
        self.problems: list[SpecProblem] = []
        self.count = 0

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        self.count += 1
        if self.count > MAX_VALUES:
            raise _TooBig(node)
        if len(path) > MAX_DEPTH:  # only reachable through an alias that contains itself
            raise _TooDeep(node)
        self.pos.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if node.tag not in _CORE_TAGS:
            self.problems.append(_problem(self.file, path, node, f"unsupported YAML tag '{_short(node.tag)}'"))
            return None
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    self.problems.append(_problem(self.file, path, key_node, "mapping keys must be plain scalars"))
                    continue
                key = self.scalar(key_node, path)
                if not isinstance(key, (str, int, float, bool)):
                    self.problems.append(_problem(self.file, path, key_node, "mapping keys must be plain scalars"))
                    continue
                skey = str(key)
                if skey in out:
                    self.problems.append(_problem(self.file, (*path, skey), key_node, f"duplicate key '{skey}'"))
                    continue
                out[skey] = self.build(value_node, (*path, skey))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self.scalar(node, path)

    def scalar(self, node: yaml.Node, path: PathKey) -> Any:
        """The value of a scalar node; a value its tag cannot read (``!!int abc``) is a located problem."""
        if node.tag not in _CORE_TAGS:
            self.problems.append(_problem(self.file, path, node, f"unsupported YAML tag '{_short(node.tag)}'"))
            return None
        try:
            return self.loader.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, KeyError, IndexError, AttributeError, TypeError, OverflowError):
            # PyYAML's core constructors raise whatever their parsing raises on a bad explicit tag
            value = str(node.value)
            shown = value if len(value) <= 40 else value[:37] + "..."
            self.problems.append(_problem(self.file, path, node, f"cannot read {shown!r} as {_short(node.tag)}"))
            return None


class _TooBig(Exception):
    def __init__(self, node: yaml.Node) -> None:
        self.node = node


class _TooDeep(_TooBig):
    pass


def _short(tag: str) -> str:
    return "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml.org,2002:") else tag


def _problem(file: str, path: PathKey, node: yaml.Node, msg: str) -> SpecProblem:
    return SpecProblem(
        file=file,
        path=dotted(path),
        message=msg,
        line=node.start_mark.line + 1,
        column=node.start_mark.column + 1,
    )


def _yaml_error(file: str, exc: yaml.YAMLError, text: str) -> SpecError:
    """One located line for any PyYAML error (never PyYAML's own ``"<unicode string>", line N`` text)."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        col = mark.column + 1 if mark else None
        reason = exc.problem or exc.context or "invalid YAML"
        kind = "YAML error" if isinstance(exc, _DepthError) else "YAML syntax error"
        return SpecError.single(file, "", f"{kind}: {reason}", line, col)
    if isinstance(exc, yaml.reader.ReaderError):
        # raised on non-printable characters; carries a character offset, not a mark
        before = text[: exc.position]
        line = before.count("\n") + 1
        col = exc.position - (before.rfind("\n") + 1) + 1
        return SpecError.single(file, "", f"YAML error: {exc.reason} (character {exc.character!r})", line, col)
    return SpecError.single(file, "", f"YAML error: {str(exc).splitlines()[0]}")


def load_yaml_text(text: str, file: str) -> tuple[Any, Positions]:
    """Parse YAML text into plain data plus positions; raise :class:`SpecError` on any problem.

    Bounded: nesting deeper than :data:`~planner.inputfiles.MAX_DEPTH` levels and documents that expand (through
    aliases) to more than :data:`MAX_VALUES` values are refused with the position where the bound was crossed.
    """
    try:
        loader = _BoundedLoader(text)
    except yaml.YAMLError as exc:  # the reader checks every character up front
        raise _yaml_error(file, exc, text) from None
    try:
        try:
            node = loader.get_single_node()
        except yaml.YAMLError as exc:
            raise _yaml_error(file, exc, text) from None
        if node is None:
            return None, {}
        builder = _Builder(loader, file)
        try:
            data = builder.build(node, ())
        except _TooDeep as exc:
            raise SpecError.single(
                file,
                "",
                f"nesting deeper than {MAX_DEPTH} levels (an alias that contains itself?)",
                exc.node.start_mark.line + 1,
                exc.node.start_mark.column + 1,
            ) from None
        except _TooBig as exc:
            raise SpecError.single(
                file,
                "",
                f"more than {MAX_VALUES:,} values once aliases are expanded; refusing to expand further",
                exc.node.start_mark.line + 1,
                exc.node.start_mark.column + 1,
            ) from None
    finally:
        loader.dispose()
    if builder.problems:
        raise SpecError(builder.problems)
    return data, builder.pos


def load_yaml_value(text: str, label: str) -> Any:
    """One YAML value written on the command line (``--set path=VALUE``), with the same tag rules and bounds."""
    data, _ = load_yaml_text(text, label)
    return data


def load_yaml_file(path: Path, display: str | None = None, what: str = "YAML") -> tuple[Any, Positions]:
    """Read (within :data:`~planner.inputfiles.MAX_YAML_BYTES`) and parse a YAML file (see :func:`load_yaml_text`)."""
    name = display or str(path)
    return load_yaml_text(read_text_bounded(path, name, what), name)


def position(pos: Positions, path: PathKey) -> tuple[int | None, int | None]:
    """Line/column of ``path``, or of its nearest ancestor that has one."""
    p = tuple(path)
    while True:
        if p in pos:
            return pos[p]
        if not p:
            return (None, None)
        p = p[:-1]
