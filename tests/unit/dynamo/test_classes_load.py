"""Classes, trace classification counts, per-epoch loads from curves and replays, carbon series."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from planner.dynamo.classes import ClassScheme
from planner.dynamo.load import curve_epochs, curve_rate, curve_stats, read_carbon, replay_epochs
from planner.errors import SpecError
from planner.spec.models import LoadPoint
from planner.workload import load_trace

from ...dynamo_specs import CONV


def test_conversation_trace_class_counts() -> None:
    """The 2023 conversation trace classified with the default cuts (counts checked by hand with pandas)."""
    trace = load_trace(CONV)
    counts = ClassScheme().counts(trace.input_tokens, trace.output_tokens)
    assert counts == {"SS": 693, "SM": 1898, "SL": 10, "MS": 3680, "MM": 2016, "ML": 1498, "LS": 2922, "LM": 1699,
                      "LL": 4950}  # fmt: skip
    assert sum(counts.values()) == len(trace) == 19366


def test_custom_cuts_and_labels() -> None:
    scheme = ClassScheme((512,), (128,), ("short", "long"), ("S", "L"))
    assert scheme.names == ("shortS", "shortL", "longS", "longL")
    assert scheme.classify(511, 127) == "shortS" and scheme.classify(512, 128) == "longL"
    by = scheme.by_name()
    assert by["longL"].dominates(by["shortS"]) and not by["shortL"].dominates(by["longS"])


def test_bad_cuts_rejected() -> None:
    with pytest.raises(ValueError, match="strictly increasing"):
        ClassScheme((1024, 256))
    with pytest.raises(ValueError, match="labels"):
        ClassScheme((256,), (100,), ("S", "M", "L"), ("S", "L"))


CURVE = (LoadPoint(at="00:00", rps=10.0), LoadPoint(at="12:00", rps=30.0))


def test_curve_steps_and_lines_wrap_at_midnight() -> None:
    assert curve_rate(CURVE, 6 * 3600, linear=False) == 10.0
    assert curve_rate(CURVE, 6 * 3600, linear=True) == pytest.approx(20.0)
    assert curve_rate(CURVE, 18 * 3600, linear=True) == pytest.approx(20.0)  # 30 -> 10 over 12:00..24:00
    peak, mean = curve_stats(CURVE, 11 * 3600, 2 * 3600, linear=False)
    assert (peak, mean) == (30.0, 20.0)
    peak, mean = curve_stats(CURVE, 0.0, 12 * 3600, linear=True)
    assert peak == pytest.approx(30.0) and mean == pytest.approx(20.0)


def test_curve_epochs_split_rate_by_mix() -> None:
    epochs = curve_epochs(CURVE, {"A": 0.25, "B": 0.75}, 0.0, 86400.0, 1800.0, linear=False)
    assert len(epochs) == 48 and epochs[24].label == "12:00"
    assert epochs[0].peak_rps == {"A": 2.5, "B": 7.5}
    assert epochs[0].requests["B"] == pytest.approx(7.5 * 1800)


def test_replay_bins_every_request_once() -> None:
    trace = load_trace(CONV)
    scheme = ClassScheme()
    epochs = replay_epochs(scheme, trace, 18 * 3600 + 15 * 60 + 46.68, 300.0, trace.duration_s)
    assert epochs[0].label == "18:15" and len(epochs) == 12
    total = {k: sum(e.requests[k] for e in epochs) for k in scheme.names}
    assert total == {k: float(v) for k, v in scheme.counts(trace.input_tokens, trace.output_tokens).items()}
    for e in epochs:  # the busiest minute is at least the epoch mean
        assert all(e.peak_rps[k] >= e.requests[k] / e.length_s - 1e-12 for k in scheme.names)


def test_carbon_series(tmp_path: Path) -> None:
    p = tmp_path / "ci.csv"
    p.write_text("time,gco2_per_kwh\n00:00,300\n12:00,100\n")
    series = read_carbon(p)
    assert series.mean_over(11 * 3600, 2 * 3600) == pytest.approx(200.0)
    p.write_text("hour,g\n0,1\n")
    with pytest.raises(SpecError, match="expected columns time,gco2_per_kwh"):
        read_carbon(p)
    p.write_text("time,gco2_per_kwh\n25:00,1\n")
    with pytest.raises(SpecError, match="row 1"):
        read_carbon(p)


def test_classify_many_matches_scalar() -> None:
    rng = np.random.default_rng(0)
    ins, outs = rng.integers(1, 5000, 200), rng.integers(1, 1000, 200)
    scheme = ClassScheme()
    idx = scheme.classify_many(ins, outs)
    assert [scheme.names[i] for i in idx] == [scheme.classify(int(a), int(b)) for a, b in zip(ins, outs, strict=True)]
