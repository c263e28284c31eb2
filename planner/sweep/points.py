"""The points of a sweep and the command line each one runs.

A point is the single-plan command with the point's ``--set`` overrides and options:
``plan splitwise BASE.yaml --designs HH --set workload.rate_rps=10``. The sweep adds ``--out`` (and output
options that do not touch the plan) when it runs one.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from planner.sweep.schema import Sweep, override_text


@dataclass(frozen=True)
class Point:
    """One point: its number in the sweep, the value of every axis, and the command line that plans it."""

    index: int
    values: tuple[tuple[str, Any], ...]  # (axis label, value) in axis order
    overrides: tuple[str, ...]  # --set path=value, in axis order
    options: tuple[tuple[str, Any], ...]  # solver options (base options, then axis options), sorted by name

    def argv(self, sweep: Sweep) -> list[str]:
        """``[solver, spec, --option value ..., --set path=value ..., --profiles DIR]`` (no output options)."""
        args = [sweep.solver, str(sweep.spec_path)]
        for name, value in self.options:
            args += option_argv(name, value)
        for o in self.overrides:
            args += ["--set", o]
        if sweep.profiles is not None:
            args += ["--profiles", str(sweep.profiles)]
        return args


def option_argv(name: str, value: Any) -> list[str]:
    """An option as typed on the command line: ``--designs HH,HA``; a true flag is ``--pareto``, false omitted."""
    flag = f"--{name}"
    if isinstance(value, bool):
        return [flag] if value else []
    if isinstance(value, list):
        return [flag, ",".join(str(v) for v in value)]
    return [flag, str(value)]


def points(sweep: Sweep, defaults: dict[str, Any] | None = None) -> Iterator[Point]:
    """Every point, numbered from 0: the cartesian product of the axis groups (last axis fastest), or their zip.

    ``defaults`` are options the sweep sets unless the sweep file does (``workers: 1``: parallelism is across
    points, not inside one).
    """
    groups = [g.values() for g in sweep.groups]
    combos: Iterator[tuple[tuple[Any, ...], ...]]
    combos = zip(*groups, strict=True) if sweep.combine == "zip" else itertools.product(*groups)
    base = {**(defaults or {}), **sweep.options}
    for index, combo in enumerate(combos):
        values: list[tuple[str, Any]] = []
        overrides: list[str] = []
        options = dict(base)
        for group, member_values in zip(sweep.groups, combo, strict=True):
            for axis, value in zip(group.axes, member_values, strict=True):
                values.append((axis.label, value))
                if axis.set is not None:
                    overrides.append(override_text(axis.set, value))
                else:
                    assert axis.option is not None
                    options[axis.option.lstrip("-").replace("_", "-")] = value
        yield Point(index, tuple(values), tuple(overrides), tuple(sorted(options.items())))
