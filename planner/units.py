"""The few unit conversions llmplan needs, parsed exactly from explicit strings.

Specs write quantities with their unit (``10Gbps``, ``1.25GB/s``, ``500Mbps``, ``1ms``, ``30m``); internally every
bandwidth is bytes/s and every duration seconds. A bare number is refused for bandwidths and durations because
the bits-versus-bytes confusion changes results by 8x (see the Helix reference, section 4).

Decimal prefixes only (k = 1e3, M = 1e6, G = 1e9, T = 1e12), as network vendors use them; ``bps`` means bits,
``B/s`` bytes.
"""

from __future__ import annotations

import re

_NUM = r"(?P<num>[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)"

_PREFIX = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}

BANDWIDTH_FORMS = "e.g. 10Gbps, 500Mbps, 100kbps (bits/s) or 1.25GB/s, 800MB/s, 1e9B/s (bytes/s)"
DURATION_FORMS = "e.g. 250us, 1ms, 1.5s, 30m, 2h, 1d"
POWER_FORMS = "e.g. 700W, 6.5kW, 1.2MW"
SIZE_FORMS = "e.g. 80GB, 40GiB, 512MB"

_BW_RE = re.compile(rf"^\s*{_NUM}\s*(?P<prefix>[kKMGT]?)(?P<unit>bps|bit/s|B/s|Bps)\s*$")
_DUR_RE = re.compile(rf"^\s*{_NUM}\s*(?P<unit>ns|us|µs|ms|s|sec|m|min|h|d)\s*$")
_POW_RE = re.compile(rf"^\s*{_NUM}\s*(?P<prefix>[kKMG]?)W\s*$")
_SIZE_RE = re.compile(rf"^\s*{_NUM}\s*(?P<prefix>[kKMGT]?)(?P<bin>i?)B\s*$")

_DUR_FACTOR = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "sec": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}


class UnitError(ValueError):
    """A quantity string is not in an accepted form; the message lists the accepted forms."""


def parse_bandwidth(value: object) -> float:
    """Return bytes/s for ``10Gbps`` (bits) or ``1.25GB/s`` (bytes). Bare numbers are refused."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise UnitError(f"bandwidth needs a unit, got {value!r} ({BANDWIDTH_FORMS})")
    m = _BW_RE.match(value)
    if not m:
        raise UnitError(f"cannot read bandwidth {value!r} ({BANDWIDTH_FORMS})")
    raw = float(m["num"]) * _PREFIX[m["prefix"]]
    if m["unit"] in ("bps", "bit/s"):
        return raw / 8.0
    return raw


def parse_duration(value: object) -> float:
    """Return seconds for ``1ms``, ``15s``, ``30m``, ``2h``. Bare numbers are refused."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise UnitError(f"duration needs a unit, got {value!r} ({DURATION_FORMS})")
    m = _DUR_RE.match(value)
    if not m:
        raise UnitError(f"cannot read duration {value!r} ({DURATION_FORMS})")
    return float(m["num"]) * _DUR_FACTOR[m["unit"]]


def parse_power(value: object) -> float:
    """Return watts for ``700W`` / ``6.5kW``; plain numbers are taken as watts."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str):
        raise UnitError(f"cannot read power {value!r} ({POWER_FORMS})")
    m = _POW_RE.match(value)
    if not m:
        raise UnitError(f"cannot read power {value!r} ({POWER_FORMS})")
    return float(m["num"]) * _PREFIX[m["prefix"]]


def parse_size(value: object) -> float:
    """Return bytes for ``80GB`` (decimal) or ``40GiB`` (binary)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str):
        raise UnitError(f"cannot read size {value!r} ({SIZE_FORMS})")
    m = _SIZE_RE.match(value)
    if not m:
        raise UnitError(f"cannot read size {value!r} ({SIZE_FORMS})")
    num = float(m["num"])
    if m["bin"]:
        power = {"": 0, "k": 1, "K": 1, "M": 2, "G": 3, "T": 4}[m["prefix"]]
        return num * 1024.0**power
    return num * _PREFIX[m["prefix"]]


def format_bandwidth(bytes_per_s: float) -> str:
    """Render bytes/s in the decimal byte form that ``parse_bandwidth`` reads back exactly."""
    for prefix, factor in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if bytes_per_s >= factor:
            return f"{bytes_per_s / factor:.6g}{prefix}B/s"
    return f"{bytes_per_s:.6g}B/s"


def format_duration(seconds: float) -> str:
    """Render seconds in a form ``parse_duration`` reads back."""
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.6g}s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.6g}ms"
    return f"{seconds * 1e6:.6g}us"
