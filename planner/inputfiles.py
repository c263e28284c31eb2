"""Reading user-supplied files within bounds: size, nesting depth and text encoding checked before parsing.

Every file a command reads (spec, profile catalogue, plan JSON, placement) comes through here so that a hostile or
mistaken input (``/dev/zero`` as a spec, a directory, a 5,000-level nested JSON, a 5,000-digit integer) ends as one
:class:`~planner.errors.SpecError` line naming the file (exit 2) instead of a ``MemoryError`` or ``RecursionError``.
The limits are far above any real input: the largest shipped spec is a few kB and the largest plan a few MB.
"""

from __future__ import annotations

import json
import math
import stat
from pathlib import Path
from typing import Any

from planner.errors import SpecError

#: Largest YAML file (spec, catalogue, placement, meta sidecar) read, bytes.
MAX_YAML_BYTES = 8 * 1024 * 1024
#: Largest plan / simulation JSON read, bytes.
MAX_JSON_BYTES = 256 * 1024 * 1024
#: Deepest nesting of mappings and lists accepted in any YAML or JSON input (real inputs stay below 10).
MAX_DEPTH = 64


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):g} MiB"


def read_bytes_bounded(path: Path, display: str, what: str, limit: int) -> bytes:
    """The bytes of ``path``, refusing directories, unreadable paths and anything longer than ``limit``.

    Reads at most ``limit + 1`` bytes, so an endless device (``/dev/zero``) or a huge file costs no more memory
    than the limit. Pipes and process substitutions (``<(...)``) are read like files.
    """
    try:
        st = path.stat()
    except FileNotFoundError:
        raise SpecError.single(display, "", f"{what} file not found") from None
    except OSError as exc:
        raise SpecError.single(display, "", f"cannot read {what} file: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise SpecError.single(display, "", f"is a directory, expected a {what} file")
    try:
        with path.open("rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise SpecError.single(display, "", f"cannot read {what} file: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise SpecError.single(display, "", f"{what} file is larger than {_mib(limit)}; refusing to read it")
    return data


def decode_text(data: bytes, display: str, what: str) -> str:
    """UTF-8 text of ``data`` (a byte-order mark is dropped); one located error line otherwise."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SpecError.single(display, "", f"{what} file is not UTF-8 text (byte {exc.start})", line) from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise SpecError.single(display, "", f"{what} file holds NUL bytes (not a text file)", line)
    return text


def read_text_bounded(path: Path, display: str, what: str, limit: int = MAX_YAML_BYTES) -> str:
    """:func:`read_bytes_bounded` then :func:`decode_text`."""
    return decode_text(read_bytes_bounded(path, display, what, limit), display, what)


def nesting_depth(value: Any) -> int:
    """Depth of nested dicts and lists (a scalar is 0), computed without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            items: Any = item.values()
        elif isinstance(item, list):
            items = item
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        stack.extend((child, depth) for child in items)
    return deepest


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON (plans never hold non-finite numbers)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]}... is out of range")
    return value


def _bounded_int(text: str) -> int:
    # an integer no float can hold is no plan figure (it would overflow every comparison downstream)
    if len(text.lstrip("-")) > 300:
        raise ValueError(f"integer of {len(text.lstrip('-'))} digits is out of range")
    return int(text)


def parse_json_text(text: str, display: str, what: str) -> Any:
    """JSON text -> plain data; malformed JSON, NaN / Infinity, huge integers and deep nesting are one-line errors."""
    try:
        data = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float, parse_int=_bounded_int)
    except json.JSONDecodeError as exc:
        raise SpecError.single(display, "", f"not a {what} JSON: {exc.msg}", exc.lineno, exc.colno) from None
    except ValueError as exc:  # huge integers (int_max_str_digits), NaN / Infinity, float overflow
        raise SpecError.single(display, "", f"not a {what} JSON: {str(exc).splitlines()[0]}") from None
    except RecursionError:
        raise SpecError.single(display, "", f"not a {what} JSON: nesting deeper than {MAX_DEPTH} levels") from None
    if nesting_depth(data) > MAX_DEPTH:
        raise SpecError.single(display, "", f"not a {what} JSON: nesting deeper than {MAX_DEPTH} levels")
    return data


def load_json_file(path: Path, display: str, what: str, limit: int = MAX_JSON_BYTES) -> Any:
    """Read and parse a JSON file within the size and depth bounds."""
    return parse_json_text(read_text_bounded(path, display, what, limit), display, what)
