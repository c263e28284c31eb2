"""The sweep file: a base spec, a solver with its options, and the axes that vary.

.. code-block:: yaml

    spec: splitwise-bloom176b-coding.yaml      # the base spec, relative to this file
    solver: splitwise
    options: {designs: HH, duration: 10s}       # options of `plan splitwise`, without the dashes
    combine: product                            # product (default) or zip
    axes:
      - set: workload.rate_rps                  # any --set path of the base spec ...
        range: {start: 5, stop: 60, step: 5}    # ... over a range (stop included) ...
      - option: designs                         # ... or a solver option
        values: [HH, HA]                        # ... over a list
      - zip:                                    # a zipped group: its members move together
          - {set: splitwise.slo.ttft.p99, values: [4, 6]}
          - {set: splitwise.slo.tbt.p99, values: [3, 5]}

Everything is checked before anything runs, the way ``--set`` checks its paths: each ``set`` path must exist in the
base spec (or be a schema field of its parent) and each value must have the type the spec allows there; an option
must exist on the solver command and parse; no axis may be empty; the number of points must stay within
``--max-points``. Every problem is one line ``sweep.yaml:line:col: axes[0].values[2]: message`` (exit 2).
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from planner.errors import SpecError, SpecProblem
from planner.paths import display_path
from planner.spec.loader import apply_overrides
from planner.spec.models import ClusterSpec
from planner.validation import problems_from_validation
from planner.yamlmarks import PathKey, Positions, dotted, load_yaml_file, position

#: Points a sweep may have unless ``--max-points`` allows more (a typo in a range should not start 10^7 solves).
DEFAULT_MAX_POINTS = 10_000

#: Options that ``plan sweep`` sets itself for every point (each point's plan goes to the sweep's folder).
MANAGED_OPTIONS: frozenset[str] = frozenset(
    {"out", "format", "quiet", "verbose", "plot", "set", "profiles", "emit-baselines", "help", "version"}
)

Scalar = str | int | float | bool
#: ``check_option(solver, name, value)``: why the option is not accepted, or None (handed in by the CLI layer).
OptionChecker = Callable[[str, str, Any], str | None]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Range(_Strict):
    """``start``, ``start + step``, ... up to ``stop`` included (when it falls on the grid)."""

    start: float | int
    stop: float | int
    step: float | int = Field(gt=0)

    @model_validator(mode="after")
    def _not_empty(self) -> Range:
        if self.stop < self.start:
            raise ValueError(f"empty axis: stop {self.stop} is below start {self.start}")
        return self

    def values(self) -> list[float | int]:
        n = math.floor((self.stop - self.start) / self.step + 1e-9) + 1
        if all(isinstance(v, int) for v in (self.start, self.step)):
            return [int(self.start + i * self.step) for i in range(n)]
        # Round to 12 significant digits so that 0.1 + 2 * 0.1 is written 0.3 (the value goes into a spec).
        return [float(f"{self.start + i * self.step:.12g}") for i in range(n)]

    def count(self) -> int:
        return math.floor((self.stop - self.start) / self.step + 1e-9) + 1


class Axis(_Strict):
    """One varying value: a spec path (``set``) or a solver option (``option``), over ``values`` or a ``range``."""

    set: str | None = Field(default=None, description="a --set path of the base spec, e.g. workload.rate_rps")
    option: str | None = Field(default=None, description="an option of the solver command, e.g. designs")
    values: list[Any] | None = Field(default=None, description="the values, in order")
    range: Range | None = None

    @model_validator(mode="after")
    def _one_of_each(self) -> Axis:
        if (self.set is None) == (self.option is None):
            raise ValueError("an axis names exactly one of 'set' (a spec path) or 'option' (a solver option)")
        if (self.values is None) == (self.range is None):
            raise ValueError("an axis has exactly one of 'values' or 'range'")
        if self.values is not None and not self.values:
            raise ValueError("empty axis: 'values' has no value")
        return self

    @property
    def label(self) -> str:
        """The column name of this axis in the results: the spec path, or ``--option``."""
        return self.set if self.set is not None else f"--{self.option}"

    def expanded(self) -> list[Any]:
        if self.values is not None:
            return list(self.values)
        assert self.range is not None
        return self.range.values()

    def count(self) -> int:
        if self.values is not None:
            return len(self.values)
        assert self.range is not None  # the model validator requires values or range
        return self.range.count()


class ZipGroup(_Strict):
    """Axes that move together: point ``i`` takes the ``i``-th value of each (all must have the same length)."""

    zip: list[Axis] = Field(min_length=1)


class SweepFile(_Strict):
    """The sweep file as written (see the module docstring)."""

    name: str | None = None
    description: str | None = None
    spec: str = Field(description="the base cluster spec, relative to the sweep file")
    solver: Literal["helix", "splitwise", "dynamo"]
    profiles: str | None = Field(default=None, description="a profile directory layered over the shipped one")
    options: dict[str, Scalar | list[Scalar]] = Field(default_factory=dict)
    combine: Literal["product", "zip"] = "product"
    axes: list[dict[str, Any]] = Field(min_length=1)


@dataclass(frozen=True)
class AxisGroup:
    """What one entry of ``axes`` expands to: one or more axes (a zip group) moving in lock step."""

    axes: tuple[Axis, ...]

    def __len__(self) -> int:
        return self.axes[0].count()

    def values(self) -> list[tuple[Any, ...]]:
        """``values()[i]`` = the i-th value of every member (expanded only once the point count is known)."""
        return list(zip(*(a.expanded() for a in self.axes), strict=True))


@dataclass(frozen=True)
class Sweep:
    """A checked sweep: absolute paths, the solver's base options and the expanded axis groups."""

    file: Path
    display: str
    name: str
    solver: str
    spec_path: Path
    profiles: Path | None
    options: dict[str, Any]
    combine: str
    groups: tuple[AxisGroup, ...]

    @property
    def labels(self) -> list[str]:
        return [a.label for g in self.groups for a in g.axes]

    def count(self) -> int:
        """How many points (without building them)."""
        if self.combine == "zip":
            return len(self.groups[0])
        return math.prod(len(g) for g in self.groups)


def load_sweep(path: Path, check_option: OptionChecker | None = None, max_points: int = DEFAULT_MAX_POINTS) -> Sweep:
    """Read and check a sweep file; raise :class:`SpecError` (one located line per problem) when anything is off."""
    display = display_path(path)
    data, pos = load_yaml_file(path, display)
    if not isinstance(data, dict):
        raise SpecError.single(display, "", "a sweep file is a mapping with spec, solver and axes", 1, 1)
    try:
        sf = SweepFile.model_validate(data)
    except ValidationError as exc:
        raise SpecError(problems_from_validation(exc, display, pos, SweepFile)) from None

    problems: list[SpecProblem] = []

    def add(where: PathKey, message: str) -> None:
        line, col = position(pos, where)
        problems.append(SpecProblem(display, dotted(where), message, line, col))

    groups = _parse_axes(sf.axes, display, pos, problems)
    spec_path = _resolve(path, sf.spec)
    profiles = _resolve(path, sf.profiles) if sf.profiles is not None else None
    if not spec_path.is_file():
        add(("spec",), f"base spec not found: {display_path(spec_path)}")
    if profiles is not None and not profiles.is_dir():
        add(("profiles",), f"profile directory not found: {display_path(profiles)}")
    options = {_option_name(k): v for k, v in sf.options.items()}
    for raw, value in sf.options.items():
        _check_option(sf.solver, raw, value, ("options", raw), check_option, add)
    if problems and not spec_path.is_file():
        raise SpecError(problems)

    if groups and sf.combine == "zip" and len({len(g) for g in groups}) > 1:
        add(("combine",), f"combine: zip needs axes of one length (got {', '.join(str(len(g)) for g in groups)})")
        raise SpecError(problems)
    n = len(groups[0]) if groups and sf.combine == "zip" else math.prod(len(g) for g in groups)
    if n > max_points:
        add(("axes",), f"the sweep has {n:,} points, more than --max-points {max_points:,} (raise it to run them all)")
        raise SpecError(problems)

    base, _ = load_yaml_file(spec_path, display_path(spec_path))
    for gi, group in enumerate(groups):
        for mi, axis in enumerate(group.axes):
            where: PathKey = ("axes", gi, "zip", mi) if _is_zip(sf.axes[gi]) else ("axes", gi)
            members = axis.expanded()
            if axis.option is not None:
                if _option_name(axis.option) in options:
                    add((*where, "option"), f"option '{axis.option}' is both fixed in options and an axis")
                for vi, value in enumerate(members if axis.values is not None else members[:1]):
                    vwhere = (*where, "values", vi) if axis.values is not None else (*where, "range")
                    _check_option(sf.solver, axis.option, value, vwhere, check_option, add, key=(*where, "option"))
                continue
            assert axis.set is not None
            checked = range(len(members)) if axis.values is not None else sorted({0, len(members) - 1})
            for vi in checked:
                vwhere = (*where, "values", vi) if axis.values is not None else (*where, "range")
                msg = check_set_value(base, axis.set, members[vi], display_path(spec_path))
                if msg is not None:
                    missing = "path does not exist" in msg
                    add((*where, "set") if missing else vwhere, msg)
                    if missing:
                        break
    if problems:
        raise SpecError(problems)
    return Sweep(
        file=path,
        display=display,
        name=sf.name or path.stem,
        solver=sf.solver,
        spec_path=spec_path.resolve(),
        profiles=profiles.resolve() if profiles is not None else None,
        options=options,
        combine=sf.combine,
        groups=tuple(groups),
    )


def check_set_value(base: Any, set_path: str, value: Any, spec_display: str) -> str | None:
    """Why ``--set set_path=value`` is not accepted on the base spec (the checks ``--set`` makes), or None."""
    data = copy.deepcopy(base)
    try:
        data = apply_overrides(data, {}, [override_text(set_path, value)], spec_display)
    except SpecError as exc:
        return "; ".join(f"{set_path}: {p.message}" for p in exc.problems)
    try:
        ClusterSpec.model_validate(data)
    except ValidationError as exc:
        wanted = tuple(parse_path(set_path))
        probs = problems_from_validation(exc, spec_display, {}, ClusterSpec)
        mine = [p for p in probs if p.path == dotted(wanted) or p.path.startswith(dotted(wanted) + ".")]
        if mine:
            return f"{set_path}: {mine[0].message}"
        return None  # the base spec's own problems are the point's to report, not this axis's
    return None


def override_text(set_path: str, value: Any) -> str:
    """``path=value`` as ``--set`` reads it: the value written as JSON (which YAML reads back unchanged)."""
    return f"{set_path}={json.dumps(value)}"


def parse_path(text: str) -> PathKey:
    from planner.yamlmarks import parse_dotted

    return parse_dotted(text)


def _option_name(name: str) -> str:
    return name.strip().lstrip("-").replace("_", "-")


def _check_option(
    solver: str,
    raw: str,
    value: Any,
    where: PathKey,
    check_option: OptionChecker | None,
    add: Callable[[PathKey, str], None],
    key: PathKey | None = None,
) -> None:
    name = _option_name(raw)
    if name in MANAGED_OPTIONS:
        add(key or where, f"--{name} is set by plan sweep for every point and cannot be an option of the sweep")
        return
    if isinstance(value, list) and not all(isinstance(v, (str, int, float)) for v in value):
        add(where, "a list option takes plain values (it is passed comma-separated)")
        return
    if check_option is not None:
        msg = check_option(solver, name, value)
        if msg is not None:
            add(key if key is not None and msg.startswith("no such option") else where, msg)


def _is_zip(entry: dict[str, Any]) -> bool:
    return "zip" in entry


def _parse_axes(
    entries: list[dict[str, Any]], display: str, pos: Positions, problems: list[SpecProblem]
) -> list[AxisGroup]:
    groups: list[AxisGroup] = []
    for i, entry in enumerate(entries):
        prefix: PathKey = ("axes", i)
        model: type[ZipGroup] | type[Axis] = ZipGroup if _is_zip(entry) else Axis
        try:
            parsed = model.model_validate(entry)
        except ValidationError as exc:
            problems.extend(problems_from_validation(exc, display, pos, model, prefix=prefix))
            continue
        members = parsed.zip if isinstance(parsed, ZipGroup) else [parsed]
        lengths = [m.count() for m in members]
        if len(set(lengths)) > 1:
            line, col = position(pos, (*prefix, "zip"))
            problems.append(
                SpecProblem(display, dotted((*prefix, "zip")), f"zipped axes differ in length ({lengths})", line, col)
            )
            continue
        groups.append(AxisGroup(axes=tuple(members)))
    labels = [a.label for g in groups for a in g.axes]
    dup = sorted({x for x in labels if labels.count(x) > 1})
    if dup:
        line, col = position(pos, ("axes",))
        problems.append(
            SpecProblem(display, "axes", f"an axis varies the same thing twice: {', '.join(dup)}", line, col)
        )
    return groups


def _resolve(sweep_file: Path, relative: str) -> Path:
    p = Path(relative)
    return p if p.is_absolute() else sweep_file.parent / p


__all__ = [
    "DEFAULT_MAX_POINTS",
    "Axis",
    "AxisGroup",
    "OptionChecker",
    "Range",
    "Sweep",
    "SweepFile",
    "check_set_value",
    "load_sweep",
    "override_text",
]
