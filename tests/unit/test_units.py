import pytest
from hypothesis import given
from hypothesis import strategies as st

from planner.units import (
    UnitError,
    format_bandwidth,
    format_duration,
    parse_bandwidth,
    parse_duration,
    parse_power,
    parse_size,
)


@pytest.mark.parametrize(
    ("text", "bytes_s"),
    [
        ("10Gbps", 1.25e9),
        ("1.25GB/s", 1.25e9),
        ("500Mbps", 62.5e6),
        ("100kbps", 12.5e3),
        ("1e9B/s", 1e9),
        ("12.5MB/s", 12.5e6),
        ("8 Gbps", 1e9),
    ],
)
def test_bandwidth_forms(text: str, bytes_s: float) -> None:
    assert parse_bandwidth(text) == pytest.approx(bytes_s)


@pytest.mark.parametrize("bad", [10, "10", "10 gigs", "Gbps", True, "10Gb"])
def test_bandwidth_rejects_with_accepted_forms(bad: object) -> None:
    with pytest.raises(UnitError, match="10Gbps"):
        parse_bandwidth(bad)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1ms", 1e-3), ("15s", 15), ("30m", 1800), ("2h", 7200), ("250us", 250e-6), ("1d", 86400)],
)
def test_duration_forms(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


def test_duration_rejects_bare_number() -> None:
    with pytest.raises(UnitError, match="needs a unit"):
        parse_duration(5)


def test_power_and_size() -> None:
    assert parse_power("6.5kW") == 6500
    assert parse_power(700) == 700
    assert parse_size("40GiB") == 40 * 1024**3
    assert parse_size("80GB") == 80e9


@given(st.floats(min_value=1.0, max_value=1e13, allow_nan=False))
def test_bandwidth_round_trip(x: float) -> None:
    assert parse_bandwidth(format_bandwidth(x)) == pytest.approx(x, rel=1e-5)


@given(st.floats(min_value=0.0, max_value=1e6, allow_nan=False))
def test_duration_round_trip(x: float) -> None:
    assert parse_duration(format_duration(x)) == pytest.approx(x, rel=1e-5, abs=1e-9)
