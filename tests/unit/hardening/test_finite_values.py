"""Root cause 3 of issue 18: non-finite and degenerate values are refused by the schema and the units parser, at the
line that wrote them, instead of passing (exit 0 with ``cost_usd: null``) or failing deep in a solver."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.errors import SpecError
from planner.spec.loader import load_spec
from planner.units import UnitError, parse_bandwidth, parse_duration, parse_power, parse_size

ROOT = Path(__file__).resolve().parents[3]
TINY = ROOT / "tests" / "fixtures" / "specs" / "tiny.yaml"
SPLITWISE = ROOT / "cluster_specs" / "splitwise-bloom176b-coding.yaml"
DYNAMO = ROOT / "cluster_specs" / "dynamo-llama2-70b-h100.yaml"


@pytest.mark.parametrize(
    ("parse", "text", "message"),
    [
        (parse_bandwidth, "1e999Gbps", "is not a finite number"),
        (parse_bandwidth, "1e-300bps", r"outside the accepted range 1bps \.\. 8e\+15bps"),
        (parse_bandwidth, "1e30GB/s", "outside the accepted range"),
        (parse_duration, "1e999s", "is not a finite number"),
        (parse_duration, "1e12s", "outside the accepted range"),
        (parse_power, "1e999W", "is not a finite number"),
        (parse_power, float("nan"), "is not a finite number"),
        (parse_size, "1e999GB", "is not a finite number"),
        (parse_size, float("inf"), "is not a finite number"),
    ],
)
def test_units_refuse_non_finite_and_unphysical(parse, text, message: str) -> None:
    with pytest.raises(UnitError, match=message):
        parse(text)


def test_units_keep_accepting_real_values() -> None:
    assert parse_bandwidth("1bps") == 0.125
    assert parse_bandwidth("100kbps") == 12_500.0
    assert parse_duration("0s") == 0.0
    assert parse_duration("30d") == 30 * 86_400.0


@pytest.mark.parametrize(
    ("spec", "override", "path", "message"),
    [
        (TINY, "network.inter_region.bandwidth=1e999Gbps", "network.inter_region.bandwidth", "not a finite number"),
        (TINY, "network.inter_region.bandwidth=1e-300bps", "network.inter_region.bandwidth", "accepted range"),
        (TINY, "network.intra_region.latency=1e999s", "network.intra_region.latency", "not a finite number"),
        (TINY, "workload.rate_rps=.inf", "workload.rate_rps", "finite number"),
        (TINY, "workload.rate_rps=1e30", "workload.rate_rps", "less than or equal to 1000000"),
        (TINY, "pricing.gpu_usd_h={A100-40G: .nan}", "pricing.gpu_usd_h.A100-40G", "finite number"),
        (TINY, "pricing.gpu_usd_h={A100-40G: -1}", "pricing.gpu_usd_h.A100-40G", "greater than or equal to 0"),
        (TINY, "power.gpu_tdp_w={L4: 0}", "power.gpu_tdp_w.L4", "greater than 0"),
        (TINY, "slo.percentile=.nan", "slo.percentile", "finite number"),
        (SPLITWISE, "splitwise.duration=0s", "splitwise.duration", "greater than 0"),
        (SPLITWISE, "splitwise.duration=2h", "splitwise.duration", "less than or equal to 3600"),
        (SPLITWISE, "splitwise.cost_target_usd_h=.inf", "splitwise.cost_target_usd_h", "finite number"),
        (DYNAMO, "dynamo.headroom=.nan", "dynamo.headroom", "finite number"),
        (DYNAMO, "workload.load_curve[0].rps=.inf", "workload.load_curve[0].rps", "finite number"),
    ],
)
def test_schema_refuses_non_finite_and_degenerate(profile_db, spec: Path, override: str, path: str, message: str):
    with pytest.raises(SpecError) as exc:
        load_spec(spec, profile_db, [override])
    problems = [p for p in exc.value.problems if p.path == path]
    assert problems, exc.value.lines()
    assert message in problems[0].message


def test_profile_catalogue_refuses_nan(tmp_path: Path) -> None:
    from planner.profiles.db import ProfileDB

    (tmp_path / "gpus.yaml").write_text(
        "X1:\n  vram_gb: .nan\n  bf16_tflops: 1\n  hbm_gb_s: 1\n  tdp_w: 1\n  price_usd_h: 1\n  nic_gbps: 1\n"
        "  source: test\n"
    )
    with pytest.raises(SpecError) as exc:
        ProfileDB.load(tmp_path)
    assert any(p.path == "X1.vram_gb" and "finite" in p.message for p in exc.value.problems)
