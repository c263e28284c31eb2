"""Capacity at SLO from a load sweep, SLO precedence, and missing-profile errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from planner.dynamo.profile import Config, ProfileSet, Slo, Sweep
from planner.errors import ProfileMissingError

from .conftest import TINY, tiny_problem

C = Config(4, 1400)


def hand_profile() -> ProfileSet:
    """One class on one config: latencies rise with load, power 300 W idle + 100 W per req/s."""
    loads = np.array([0.0, 1.0, 2.0, 3.0])
    sweep = Sweep(
        load_rps=loads,
        power_w=300.0 + 100.0 * loads,
        lat={
            "ttft": np.array([0.1, 0.2, 0.4, 0.8]),
            "tbt": np.array([0.02, 0.03, 0.05, 0.09]),
            "e2e": np.array([2.0, 3.0, 5.0, 9.0]),
        },
        provenance="synthetic",
        input_tokens=512,
        output_tokens=100,
    )
    return ProfileSet("m", "g", ("MM",), (C,), {("MM", C): sweep}, 99.0, ("synthetic",))


def test_capacity_interpolates_at_the_binding_limit() -> None:
    f = hand_profile().figures("MM", C, Slo(ttft_s=0.3, tbt_s=0.1))
    assert f.cap_rps == pytest.approx(1.5) and f.binding == "ttft"
    assert f.power_at_cap_w == pytest.approx(450.0)
    assert f.energy_wh == pytest.approx(150.0 / 1.5 / 3600.0)  # chord from idle: 100 W per req/s
    f = hand_profile().figures("MM", C, Slo(ttft_s=1.0, tbt_s=0.04))
    assert f.cap_rps == pytest.approx(1.5) and f.binding == "tbt"


def test_capacity_never_extrapolates_and_zero_when_isolated_fails() -> None:
    f = hand_profile().figures("MM", C, Slo())
    assert f.cap_rps == 3.0 and f.binding == "profiled-range"
    f = hand_profile().figures("MM", C, Slo(e2e_s=1.5))
    assert f.cap_rps == 0.0 and f.binding == "isolated"


def test_slo_precedence(tmp_path: Path) -> None:
    text = TINY.replace("dynamo:\n", "dynamo:\n  slo:\n    classes:\n      LL: {ttft: 900ms}\n")
    text = text.replace("slo: {ttft: 400ms, tbt: 100ms}", "slo: {ttft: 400ms}")
    pb = tiny_problem(tmp_path, text, slo_e2e_s=20.0)
    assert pb.slos["LL"].ttft_s == pytest.approx(0.9) and pb.slos["LL"].source["ttft"] == "dynamo.slo.classes.LL.ttft"
    assert pb.slos["SS"].ttft_s == pytest.approx(0.4) and pb.slos["SS"].source["ttft"] == "slo.ttft"
    assert pb.slos["SS"].source["tbt"] == "5x isolated on tp8@1980"
    ref = pb.profiles.isolated("SS", Config(8, 1980), "tbt")
    assert pb.slos["SS"].tbt_s == pytest.approx(5 * ref)
    assert pb.slos["MM"].e2e_s == 20.0 and pb.slos["MM"].source["e2e"] == "--slo"


def test_unknown_slo_class_is_a_spec_error(tmp_path: Path) -> None:
    from planner.errors import SpecError

    text = TINY.replace("dynamo:\n", "dynamo:\n  slo:\n    classes:\n      XX: {ttft: 1s}\n")
    with pytest.raises(SpecError, match="unknown class 'XX'"):
        tiny_problem(tmp_path, text)


def test_missing_profile_rows(tmp_path: Path) -> None:
    text = TINY.replace("gpu: H100-80G", "gpu: A100-80G")
    with pytest.raises(ProfileMissingError, match="gpu=A100-80G"):
        tiny_problem(tmp_path, text)
    text = TINY.replace("dynamo:\n", "dynamo:\n  classes: {input_cuts: [512], input_labels: [S, L]}\n")
    assert tiny_problem(tmp_path, text).warnings == []  # rows of S and L inputs (128, 2048 tokens) fit the buckets
    text = TINY.replace("dynamo:\n", "dynamo:\n  classes: {input_cuts: [4096], input_labels: [S, L]}\n")
    warned = [w.split(" describe")[0] for w in tiny_problem(tmp_path, text).warnings]
    assert warned == ["profile rows of class LS", "profile rows of class LM", "profile rows of class LL"]
    text = TINY.replace("dynamo:\n", "dynamo:\n  classes: {input_cuts: [512], input_labels: [A, B]}\n")
    with pytest.raises(ProfileMissingError, match="class=AS"):
        tiny_problem(tmp_path, text)
