"""The few unit conversions llmplan needs, parsed exactly from explicit strings.

Specs write quantities with their unit (``10Gbps``, ``1.25GB/s``, ``500Mbps``, ``1ms``, ``30m``); internally every
bandwidth is bytes/s and every duration seconds. A bare number is refused for bandwidths and durations because
the bits-versus-bytes confusion changes results by 8x (see the Helix reference, section 4).

Decimal prefixes only (k = 1e3, M = 1e6, G = 1e9, T = 1e12), as network vendors use them; ``bps`` means bits,
``B/s`` bytes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

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


#: Accepted ranges of positive quantities (SI: bytes/s, seconds, watts, bytes). Zero stays possible where the
#: schema allows it; anything outside is not a physical value of the kind (``1e-300bps``, ``1e30Gbps``) and would
#: only surface later as an overflow or a solver failure far from the line that wrote it.
BANDWIDTH_RANGE = (0.125, 1e15)  # 1 bit/s .. 8 Pbit/s
DURATION_RANGE = (0.0, 3.2e7)  # up to about a year
POWER_RANGE = (1e-3, 1e9)  # 1 mW .. 1 GW
SIZE_RANGE = (1.0, 1e15)  # 1 byte .. 1 PB


def _bounded(value: float, text: object, what: str, bounds: tuple[float, float], show: Callable[[float], str]) -> float:
    """``value`` when finite and, unless zero, within ``bounds``; a :class:`UnitError` naming the range otherwise."""
    lo, hi = bounds
    if not math.isfinite(value):
        raise UnitError(f"{what} {text!r} is not a finite number")
    if value != 0 and not lo <= value <= hi:
        raise UnitError(f"{what} {text!r} is outside the accepted range {show(lo)} .. {show(hi)}")
    return value


def parse_bandwidth(value: object) -> float:
    """Return bytes/s for ``10Gbps`` (bits) or ``1.25GB/s`` (bytes). Bare numbers are refused."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise UnitError(f"bandwidth needs a unit, got {value!r} ({BANDWIDTH_FORMS})")
    m = _BW_RE.match(value)
    if not m:
        raise UnitError(f"cannot read bandwidth {value!r} ({BANDWIDTH_FORMS})")
    raw = float(m["num"]) * _PREFIX[m["prefix"]]
    if m["unit"] in ("bps", "bit/s"):
        raw /= 8.0
    return _bounded(raw, value, "bandwidth", BANDWIDTH_RANGE, _bits)


def parse_duration(value: object) -> float:
    """Return seconds for ``1ms``, ``15s``, ``30m``, ``2h``. Bare numbers are refused."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise UnitError(f"duration needs a unit, got {value!r} ({DURATION_FORMS})")
    m = _DUR_RE.match(value)
    if not m:
        raise UnitError(f"cannot read duration {value!r} ({DURATION_FORMS})")
    return _bounded(float(m["num"]) * _DUR_FACTOR[m["unit"]], value, "duration", DURATION_RANGE, format_duration)


def parse_power(value: object) -> float:
    """Return watts for ``700W`` / ``6.5kW``; plain numbers are taken as watts."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _bounded(float(value), value, "power", POWER_RANGE, _watts)
    if not isinstance(value, str):
        raise UnitError(f"cannot read power {value!r} ({POWER_FORMS})")
    m = _POW_RE.match(value)
    if not m:
        raise UnitError(f"cannot read power {value!r} ({POWER_FORMS})")
    return _bounded(float(m["num"]) * _PREFIX[m["prefix"]], value, "power", POWER_RANGE, _watts)


def parse_size(value: object) -> float:
    """Return bytes for ``80GB`` (decimal) or ``40GiB`` (binary)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _bounded(float(value), value, "size", SIZE_RANGE, _bytes)
    if not isinstance(value, str):
        raise UnitError(f"cannot read size {value!r} ({SIZE_FORMS})")
    m = _SIZE_RE.match(value)
    if not m:
        raise UnitError(f"cannot read size {value!r} ({SIZE_FORMS})")
    num = float(m["num"])
    if m["bin"]:
        power = {"": 0, "k": 1, "K": 1, "M": 2, "G": 3, "T": 4}[m["prefix"]]
        return _bounded(num * 1024.0**power, value, "size", SIZE_RANGE, _bytes)
    return _bounded(num * _PREFIX[m["prefix"]], value, "size", SIZE_RANGE, _bytes)


def _bits(bytes_per_s: float) -> str:
    return f"{bytes_per_s * 8:g}bps"


def _watts(w: float) -> str:
    return f"{w:g}W"


def _bytes(b: float) -> str:
    return f"{b:g}B"


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
