"""Units and "which way is better", read from a field or metric name's suffix (``throughput_tok_s`` -> tok/s).

Plans put units in names (:data:`planner.plan.METRIC_SUFFIXES`), so the diff can show and compare figures in their
own unit without a table per solver.
"""

from __future__ import annotations

import re
from typing import Any, Literal, TypeGuard

from planner.plan import METRIC_SUFFIXES

#: Display units for name suffixes (plan metrics and plan-block fields); longest suffix wins.
_UNIT_BY_SUFFIX: dict[str, str] = {
    "_tok_s": "tok/s", "_rps": "req/s", "_ms": "ms", "_s": "s", "_usd_h": "USD/h", "_usd": "USD",
    "_usd_per_mtok": "USD/Mtok", "_kw": "kW", "_w": "W", "_wh": "Wh", "_kwh": "kWh", "_gpus": "GPUs",
    "_gpu_h": "GPU-h", "_nodes": "nodes", "_machines": "machines", "_instances": "instances", "_count": "",
    "_hops": "hops", "_ratio": "", "_pct": "%", "_kgco2": "kgCO2", "_gco2": "gCO2", "_requests": "requests",
    "_layers": "layers", "_mhz": "MHz", "_bytes_s": "B/s", "_bytes": "B", "_gb": "GB", "_gib": "GiB",
    "_gbps": "Gbit/s",
}  # fmt: skip


_SUFFIXES_LONGEST_FIRST = tuple(sorted(set(_UNIT_BY_SUFFIX) | set(METRIC_SUFFIXES), key=len, reverse=True))


def unit_of(name: str) -> str:
    """The display unit encoded in a field or metric name (``throughput_tok_s`` -> ``tok/s``); '' if none."""
    leaf = name.rsplit(".", 1)[-1]
    if leaf.endswith("]"):
        return ""
    for suffix in _SUFFIXES_LONGEST_FIRST:
        if leaf.endswith(suffix) or (leaf == suffix[1:] and "_" in leaf):  # a bare unit name: usd_per_mtok
            return _UNIT_BY_SUFFIX.get(suffix, suffix.lstrip("_"))
    return ""


_HIGHER_BETTER = re.compile(r"(^|_)(throughput|goodput)|flow_vs_bound|slo\[.*\]\.margin$")
_LOWER_BETTER = re.compile(r"(cost|usd|power|energy|carbon|co2|gpu_h)|(^|\.)gap$")


def direction_of(name: str) -> Literal["higher_is_better", "lower_is_better", ""]:
    """Which way is better for a figure; '' when it is neutral (bounds, baselines, loads)."""
    if name.startswith("baseline_"):
        return ""
    if _HIGHER_BETTER.search(name):
        return "higher_is_better"
    if _LOWER_BETTER.search(name):
        return "lower_is_better"
    return ""


def is_num(v: object) -> TypeGuard[int | float]:
    """A number that is not a bool (JSON's true/false are not figures)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def short(v: Any) -> str:
    """A figure in six significant digits, anything else as text (for one-line messages)."""
    if is_num(v):
        return f"{v:.6g}"
    return str(v)
