"""Annotated field types that parse unit strings (``10Gbps``, ``1ms``) into SI floats at the schema boundary."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field, PlainSerializer

from planner.units import format_bandwidth, format_duration, parse_bandwidth, parse_duration, parse_power

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
