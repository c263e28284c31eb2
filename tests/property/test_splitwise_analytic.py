"""Property: in the analytic model, adding machines never adds an SLO violation (and never raises a slowdown)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.profiles.db import ProfileDB
from planner.spec.loader import load_spec
from planner.splitwise.analytic import capacity_rate
from planner.splitwise.instance import SplitwiseOptions, build
from planner.splitwise.solve import analytic_model

ROOT = Path(__file__).resolve().parents[2]
DESIGNS = ["baseline-a100", "AA", "HH", "HA", "HHcap"]


@pytest.fixture(scope="module")
def models():
    db = ProfileDB.load()
    loaded = load_spec(ROOT / "cluster_specs" / "splitwise-bloom176b-coding.yaml", db)
    inst = build(loaded, db, SplitwiseOptions(rps=70.0, designs=DESIGNS, duration_s=30.0, workers=1))
    return {d.name: analytic_model(inst, d) for d in inst.designs}


def _value(v) -> float:
    return math.inf if v.value is None else v.value


@settings(max_examples=60, deadline=None)
@given(
    design=st.sampled_from(DESIGNS),
    prompt=st.integers(1, 60),
    token=st.integers(1, 30),
    more_prompt=st.integers(0, 10),
    more_token=st.integers(0, 10),
    rate=st.floats(5.0, 150.0),
)
def test_more_machines_never_add_violations(models, design, prompt, token, more_prompt, more_token, rate) -> None:
    model, (cp, ct) = models[design]
    token = 0 if design.startswith("baseline") else token
    more_token = 0 if design.startswith("baseline") else more_token
    small = model.predict(prompt, token, rate)
    big = model.predict(prompt + more_prompt, token + more_token, rate)
    for a, b in zip(small.values, big.values, strict=True):
        assert _value(b) <= _value(a) + 1e-12, (a.name, a.value, b.value)
        assert b.met or not a.met
    assert big.feasible or not small.feasible
    lending = not design.startswith("baseline")
    assert capacity_rate(prompt + more_prompt, token + more_token, cp, ct, lending) >= capacity_rate(
        prompt, token, cp, ct, lending
    )
