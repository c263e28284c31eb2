"""Annotated field types that parse unit strings (``10Gbps``, ``1ms``) into SI floats at the schema boundary."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, ConfigDict, Field, PlainSerializer

from planner.units import format_bandwidth, format_duration, parse_bandwidth, parse_duration, parse_power

#: Configuration of every spec model: unknown keys are errors, values immutable, and no float field accepts NaN or
#: infinity (``.inf`` rates, ``.nan`` prices and ``1e999Gbps`` are refused where they are written).
STRICT_CONFIG = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

#: Upper bounds of values that have no natural one, far above any real deployment, so that a typo (``1e30``) is an
#: error at its line instead of a hang or an overflow deep in a solver.
MAX_RATE_RPS = 1e6
MAX_TOKENS = 10_000_000
MAX_USD_H = 1e7
MAX_SEED = 2**32 - 1

BandwidthBytesPerS = Annotated[
    float,
    BeforeValidator(parse_bandwidth),
    PlainSerializer(format_bandwidth, return_type=str),
    Field(gt=0, description="bandwidth with unit, e.g. 10Gbps or 1.25GB/s; stored as bytes/s"),
]
DurationS = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    Field(ge=0, description="duration with unit, e.g. 1ms, 15s, 30m; stored as seconds"),
]
PowerW = Annotated[
    float,
    BeforeValidator(parse_power),
    Field(gt=0, description="power, e.g. 700W or 6.5kW; stored as watts"),
]
