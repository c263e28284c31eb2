"""Error bands: how far a predicted figure may be off, from the tracked accuracy of the rows it rests on.

The bands are data, in the ``accuracy`` catalogue (``profiles/accuracy.yaml``, layered like every catalogue, so a
calibrated profile directory adds its own entries). Each entry gives ``err_ratio``, the mean absolute relative error
of figures resting on rows of one kind, and says how it was obtained:

* ``measured:<table>``: the leave-one-out error of the shipped measured table (docs/accuracy.md);
* ``calibrated:<hardware>/tp<N>/<model>``: the leave-one-out error of a ``plan calibrate`` fit (written by it);
* ``calibrated:dynamo/<gpu>/<model>``: the same for a dynamo-profile fit;
* ``analytic`` / ``roofline``: the analytic roofline against the measured Splitwise curves;
* ``synthetic``: a documented assumption (no measured data to check the generators against).

A plan's band is the widest band among the profile rows its figures rest on (its profile assumptions: ``perf[..]``,
``tp[..]``, ``latency``, ``profile``), applied to every predicted figure (throughput, latency, energy, power, carbon,
cost per token); counts, prices and solver bounds on the plan's own structure carry none.

A figure predicted by a model with its own tracked error adds that error to the profile band (``model:`` entries,
:data:`MODEL_BANDS`): a Helix plan's ``predicted_*`` figures come from the served model, whose measured disagreement
with ``plan simulate`` (docs/helix.md, Agreement; :mod:`planner.calibrate.agreement`) is on top of the per-layer
latency's. The two add (the mean of ``|a + b|`` is at most the mean of ``|a|`` plus that of ``|b|``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from planner.profiles.db import ProfileDB

CATALOGUE = "accuracy"
#: Assumption subjects that name profile rows (the rows a plan's figures rest on).
PROFILE_SUBJECTS = re.compile(r"^(perf\[|tp\[|latency$|profile$)")
#: Table names as they appear in assumption details, with the accuracy entry of their measured rows.
TABLE_ENTRIES: tuple[tuple[str, str], ...] = (
    ("splitwise_perf", "measured:splitwise_perf"),
    ("helix_layer_latency", "measured:helix_layer_latency"),
    ("Helix table", "measured:helix_throughput"),
    ("helix_throughput", "measured:helix_throughput"),
    ("per-layer latency", "measured:helix_layer_latency"),
)
#: Predicted metrics per plan kind (regular expressions over metric names); others carry no band.
PREDICTED: dict[str, re.Pattern[str]] = {
    "helix": re.compile(r"(_tok_s|_latency_ms|_latency_p\d+_ms)$"),
    "splitwise": re.compile(
        r"^(throughput_rps|upper_bound_throughput_rps|(ttft|tbt|e2e)_p\d+_ms|(output_)?usd_per_mtok)$"
    ),
    "dynamo": re.compile(
        r"(_kwh|_wh|(^|_)avg_power_kw|(^|_)peak_power_kw|p50_power_kw|p99_power_kw|_kgco2|^electricity_cost_usd)$"
    ),
}


#: Figures predicted by a model with its own tracked error: per plan kind, (metric pattern, accuracy entry).
MODEL_BANDS: dict[str, tuple[tuple[re.Pattern[str], str], ...]] = {
    "helix": (
        (re.compile(r"^predicted_(decode|total)_tok_s$"), "model:helix_served_decode"),
        (re.compile(r"^predicted_token_latency_p50_ms$"), "model:helix_served_p50"),
        (re.compile(r"^predicted_token_latency_p99_ms$"), "model:helix_served_p99"),
    ),
}


#: The faster side's scale never goes below this: a band of 100 % or more would otherwise make iterations free.
MIN_FACTOR = 0.1


def band_factors(band: float) -> tuple[float, float]:
    """The scales a figure is predicted again at to propagate the rows' band: ``1 - band`` (at least
    :data:`MIN_FACTOR`) and ``1 + band``."""
    return max(1.0 - band, MIN_FACTOR), 1.0 + band


@dataclass(frozen=True)
class Move:
    """How far a figure moves down and up (relative, >= 0) when the rows it rests on move by their band."""

    down: float
    up: float

    def widened(self, rel: float) -> Move:
        """This move, widened on the side of ``rel`` (the figure's relative change at one of the scales)."""
        return Move(max(self.down, -rel), max(self.up, rel))


@dataclass(frozen=True)
class Band:
    """A relative error band and what it rests on."""

    err_ratio: float
    entry: str
    basis: str
    method: str


def _entry(db: ProfileDB, key: str) -> Band | None:
    raw: Any = db.catalog(CATALOGUE).get(key)
    if not isinstance(raw, dict) or not isinstance(raw.get("err_ratio"), (int, float)):
        return None
    return Band(float(raw["err_ratio"]), key, str(raw.get("basis", key.split(":")[0])), str(raw.get("method", "")))


def _calibrated(db: ProfileDB, detail: str) -> Band | None:
    """The band of a ``plan calibrate`` fit whose rows the assumption names: ``(<hardware>, tp <N>`` in detail."""
    for key in sorted(db.catalog(CATALOGUE)):
        if not key.startswith("calibrated:"):
            continue
        hw_tp = key.removeprefix("calibrated:").split("/")
        if len(hw_tp) >= 2 and f"({hw_tp[0]}, {hw_tp[1].replace('tp', 'tp ')}" in detail:
            return _entry(db, key)
    return None


def _calibrated_dynamo(db: ProfileDB, detail: str) -> Band | None:
    """The band of a dynamo-profile fit (``calibrated:dynamo/<gpu>/<model>``) for a "<model> on <gpu>:" detail."""
    for key in sorted(db.catalog(CATALOGUE)):
        parts = key.removeprefix("calibrated:dynamo/").split("/")
        if key.startswith("calibrated:dynamo/") and len(parts) == 2 and detail.startswith(f"{parts[1]} on {parts[0]}:"):
            return _entry(db, key)
    return None


def band_for(db: ProfileDB, basis: str, detail: str) -> Band | None:
    """The band of one profile assumption (``basis`` measured / synthetic / analytic / ...), None if unknown."""
    if basis == "measured":
        dynamo = _calibrated_dynamo(db, detail)
        if dynamo is not None:
            return dynamo
        if "plan calibrate" in detail:
            found = _calibrated(db, detail)
            if found is not None:
                return found
        for needle, key in TABLE_ENTRIES:
            if needle in detail:
                found = _entry(db, key)
                if found is not None:
                    return found
        return _entry(db, "measured")
    if basis in ("synthetic", "analytic", "roofline"):
        return _entry(db, basis)
    return None


def plan_band(db: ProfileDB, assumptions: list[Any]) -> Band | None:
    """The widest band among the plan's profile assumptions (None when it rests on no profile rows)."""
    bands = [
        b
        for a in assumptions
        if PROFILE_SUBJECTS.match(a.subject)
        for b in [band_for(db, str(a.basis), a.detail)]
        if b is not None
    ]
    return max(bands, key=lambda b: (b.err_ratio, b.entry)) if bands else None


def model_bands(db: ProfileDB, kind: str, metrics: dict[str, float | None]) -> dict[str, Band]:
    """The model band of each of ``metrics`` predicted by a model with a tracked error (:data:`MODEL_BANDS`)."""
    out: dict[str, Band] = {}
    for name, value in metrics.items():
        for pattern, key in MODEL_BANDS.get(kind, ()):
            band = _entry(db, key) if value is not None and pattern.search(name) else None
            if band is not None:
                out[name] = band
    return out


def with_bands(
    kind: str,
    metrics: dict[str, float | None],
    band: Band | None,
    model: dict[str, Band] | None = None,
    propagated: Mapping[str, Move] | None = None,
    shares: Mapping[str, float] | None = None,
) -> dict[str, float | None]:
    """``metrics`` plus ``<metric>_err_ratio`` for every predicted figure that has a value: the profile band, plus
    the model band of a figure that has one (``model``, from :func:`model_bands`), or the figure's own move when
    its profile rows are off by their band if that is more (``propagated``: a latency percentile near a pool's
    capacity moves many times the band). A propagated figure whose two sides differ also carries them,
    ``<metric>_err_low_ratio`` and ``<metric>_err_high_ratio``; ``_err_ratio`` is the wider.

    ``shares``: figures only part of which is predicted, with that part's share of the figure (a dynamo cost is
    GPU-hours at a fixed price plus predicted electricity): the part's error moves the whole by its share, so such a
    figure carries the profile band times the share."""
    if kind not in PREDICTED or (band is None and not model):
        return dict(metrics)
    pattern = PREDICTED[kind]
    out = dict(metrics)
    for name, value in metrics.items():
        if value is None or name.endswith("_err_ratio") or not pattern.search(name):
            continue
        extra = (model or {}).get(name)
        if band is not None or extra is not None:
            flat = (band.err_ratio if band is not None else 0.0) + (extra.err_ratio if extra is not None else 0.0)
            move = (propagated or {}).get(name, Move(0.0, 0.0))
            low, high = round(max(flat, move.down), 4), round(max(flat, move.up), 4)
            out[f"{name}_err_ratio"] = max(low, high)
            if low != high:
                out[f"{name}_err_low_ratio"], out[f"{name}_err_high_ratio"] = low, high
    for name, share in (shares or {}).items():
        if metrics.get(name) is not None and band is not None:
            out[f"{name}_err_ratio"] = round(band.err_ratio * share, 4)
    return out


def propagated_text(propagated: Mapping[str, Move], band: Band) -> str:
    """The propagated bands of a plan in words (for the ``error band`` assumption): which figures move more than
    the flat band when every iteration time of the rows moves by it."""
    b = band.err_ratio
    wider = {k: v for k, v in sorted(propagated.items()) if max(v.down, v.up) >= b + 0.005}
    shown = [f"{k} -{max(b, v.down) * 100:.0f} % / +{max(b, v.up) * 100:.0f} %" for k, v in wider.items()]
    moved = ", ".join(shown) if shown else "none moves more than the band"
    return f"latency figures re-simulated with every iteration time x(1 -+ {band.err_ratio:.3g}): {moved}"


def model_band_text(model: dict[str, Band]) -> str:
    """The model bands of a plan in words, one per entry (for the ``error band`` assumption)."""
    names: dict[str, list[str]] = {}
    for metric, band in sorted(model.items()):
        names.setdefault(band.entry, []).append(metric)
    parts = [
        f"{', '.join(metrics)} +-{model[metrics[0]].err_ratio * 100:.1f} % more ({entry})"
        for entry, metrics in sorted(names.items())
    ]
    return "; ".join(parts)


def err_pair_of(metrics: Mapping[str, Any], name: str) -> tuple[float, float] | None:
    """The (low, high) sides of a band stored beside metric ``name``, if it has two."""
    low, high = metrics.get(f"{name}_err_low_ratio"), metrics.get(f"{name}_err_high_ratio")
    if isinstance(low, (int, float)) and isinstance(high, (int, float)):
        return float(low), float(high)
    return None


#: Suffixes of the entries that give a metric's band (not figures of their own).
BAND_SUFFIXES = ("_err_ratio", "_err_low_ratio", "_err_high_ratio")


def err_ratio_of(metrics: Mapping[str, Any], name: str) -> float | None:
    """The band stored beside metric ``name`` in a plan's metrics, if any."""
    v = metrics.get(f"{name}_err_ratio")
    return float(v) if isinstance(v, (int, float)) else None
