from pathlib import Path

import numpy as np
import pytest

from planner.errors import SpecError
from planner.spec.models import LengthDistribution, Workload
from planner.workload import load_trace, sample_lengths, synthesize


def test_malformed_trace_names_the_row(tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    p.write_text(
        "TIMESTAMP,ContextTokens,GeneratedTokens\n"
        "2023-11-16 18:17:03.9799600,4808,10\n"
        "2023-11-16 18:17:04.0319600,abc,8\n"
    )
    with pytest.raises(SpecError) as exc:
        load_trace(p)
    assert exc.value.lines() == [f"{p}:3: row 2.ContextTokens: expected non-negative integer, got 'abc'"]


def test_bad_header(tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    p.write_text("time,in,out\n1,2,3\n")
    with pytest.raises(SpecError, match="expected columns TIMESTAMP,ContextTokens,GeneratedTokens"):
        load_trace(p)


def test_azure_code_trace_loads() -> None:
    from planner.paths import REPO_ROOT

    req = load_trace(REPO_ROOT / "profiles" / "traces" / "azure_llm_2023_code.csv")
    assert len(req) > 1000
    assert req.arrival_s[0] == 0.0 and np.all(np.diff(req.arrival_s) >= 0)


def test_sampling_is_seeded() -> None:
    d = LengthDistribution(distribution="lognormal", mean=750, std=300, max=4096)
    a = sample_lengths(d, 1000, np.random.default_rng(7))
    b = sample_lengths(d, 1000, np.random.default_rng(7))
    assert (a == b).all()
    assert 650 < a.mean() < 850 and a.max() <= 4096
    w = Workload(input_tokens=d, output_tokens=LengthDistribution(mean=240), rate_rps=5)
    r = synthesize(w, 2000, np.random.default_rng(1))
    assert r.rate_rps == pytest.approx(5, rel=0.1)
    assert (r.output_tokens == 240).all()
