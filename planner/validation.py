"""Turn pydantic validation errors into located, one-line spec problems.

Each pydantic error has a ``loc`` (``("nodes", 3, "gpu")``); we look its position up in the YAML position map and
rewrite the message in user terms. Unknown keys get a did-you-mean against the fields allowed at that place.
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from planner.errors import SpecProblem, did_you_mean
from planner.yamlmarks import PathKey, Positions, dotted, position


def _model_at(model: type[BaseModel], loc: PathKey) -> type[BaseModel] | None:
    """Follow ``loc`` through field annotations to the pydantic model that owns its last element."""
    current: Any = model
    for part in loc:
        current = _unwrap_to_model(current, part)
        if current is None:
            return None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap_to_model(tp: Any, part: str | int) -> Any:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        if isinstance(part, int):
            return None
        field = tp.model_fields.get(part) or next((f for f in tp.model_fields.values() if f.alias == part), None)
        return _first_model(field.annotation) if field else None
    return _first_model(tp, element=True)


def _first_model(tp: Any, element: bool = False) -> Any:
    """Strip Optional / list / dict / tuple wrappers down to a model class (or the original type)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        return _first_model(args[0], element)
    if origin in (typing.Union, types.UnionType):
        for a in args:
            found = _first_model(a, element)
            if isinstance(found, type) and issubclass(found, BaseModel):
                return found
        return None
    if origin in (list, tuple, set, frozenset) and args:
        return _first_model(args[0]) if element else tp
    if origin is dict and args:
        return _first_model(args[1]) if element else tp
    return tp


def _friendly(err: ErrorDetails) -> str:
    kind = err.get("type", "")
    msg = str(err.get("msg", "invalid value"))
    if kind == "missing":
        return "required field is missing"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if msg.startswith("Assertion failed, "):
        msg = msg[len("Assertion failed, ") :]
    got = err.get("input")
    if (
        kind not in ("missing", "extra_forbidden")
        and not isinstance(got, (dict, list))
        and got is not None
        and "got " not in msg
    ):
        return f"{msg} (got {got!r})"
    return msg


def problems_from_validation(
    exc: ValidationError, file: str, pos: Positions, model: type[BaseModel], prefix: PathKey = ()
) -> list[SpecProblem]:
    """Translate every error of ``exc`` into a :class:`SpecProblem` with file, line, column and dotted path."""
    out: list[SpecProblem] = []
    seen: set[tuple[str, str]] = set()
    for err in exc.errors(include_url=False):
        loc: PathKey = tuple(p for p in err["loc"] if isinstance(p, (str, int)))
        # pydantic adds the tag of a union member ("function-after[...]") into loc; drop non-data parts
        loc = tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p.startswith("function-"))))
        full = (*prefix, *loc)
        if err.get("type") == "extra_forbidden":
            owner = _model_at(model, loc[:-1])
            allowed = sorted(owner.model_fields) if owner else []
            key = str(loc[-1]) if loc else "?"
            message = f"unknown key '{key}'" + (did_you_mean(key, allowed) if allowed else "")
        else:
            message = _friendly(err)
        line, col = position(pos, full)
        key2 = (dotted(full), message)
        if key2 in seen:
            continue
        seen.add(key2)
        out.append(SpecProblem(file=file, path=dotted(full), message=message, line=line, column=col))
    return out
