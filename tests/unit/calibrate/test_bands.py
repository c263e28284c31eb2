"""Error bands: shipped from the measured accuracy, attached to predicted figures, printed, and used by plan diff."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from planner.diff import diff_plans
from planner.plan import read_plan
from planner.profiles.accuracy import Band, Move, band_for, plan_band, with_bands
from planner.render.tables import fmt_band
from planner.solver import Assumption

ROOT = Path(__file__).resolve().parents[3]


def _script():
    spec = importlib.util.spec_from_file_location("accuracy_report", ROOT / "scripts" / "accuracy_report.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_shipped_bands_are_the_computed_ones(profile_db):
    assert (ROOT / "profiles" / "accuracy.yaml").read_text() == _script().bands_text(profile_db)


def test_band_per_basis(profile_db):
    sw = band_for(profile_db, "measured", "splitwise_perf.csv: measured:x (a100-80gb, tp 8, 9 knots)")
    hx = band_for(profile_db, "measured", "Helix table llama1-30b/l4x4-t4x6: measured:Thesys-lab/Helix-ASPLOS25")
    an = band_for(profile_db, "analytic", "analytic roofline")
    syn = band_for(profile_db, "synthetic", "p99 latency and power load sweeps")
    assert sw is not None and hx is not None and an is not None and syn is not None
    assert sw.entry == "measured:splitwise_perf" and hx.entry == "measured:helix_throughput"
    assert hx.err_ratio < sw.err_ratio < syn.err_ratio < an.err_ratio  # measured < synthetic < analytic
    assert band_for(profile_db, "option", "x") is None


def test_plan_band_is_the_widest_profile_band(profile_db):
    assumptions = [
        Assumption(subject="perf[DGX-A100]", basis="measured", detail="splitwise_perf.csv: measured:x"),
        Assumption(subject="perf[DGX-X]", basis="analytic", detail="analytic roofline"),
        Assumption(subject="kv transfer", basis="analytic", detail="not a profile row"),
    ]
    band = plan_band(profile_db, assumptions)
    assert band is not None and band.entry == "analytic"
    assert plan_band(profile_db, assumptions[:1]).entry == "measured:splitwise_perf"  # type: ignore[union-attr]
    assert plan_band(profile_db, assumptions[2:]) is None


def test_only_predicted_figures_carry_a_band():
    band = Band(0.06, "measured:splitwise_perf", "measured", "")
    out = with_bands("splitwise", {"throughput_rps": 110.0, "ttft_p99_ms": 900.0, "cost_usd_h": 5.0,
                                   "total_machines": 3, "e2e_p50_ms": None}, band)  # fmt: skip
    assert out["throughput_rps_err_ratio"] == 0.06 and out["ttft_p99_ms_err_ratio"] == 0.06
    assert "cost_usd_h_err_ratio" not in out and "total_machines_err_ratio" not in out
    assert "e2e_p50_ms_err_ratio" not in out  # no value, no band
    assert with_bands("splitwise", {"throughput_rps": 1.0}, None) == {"throughput_rps": 1.0}


def test_a_figure_partly_predicted_carries_the_band_of_that_part_scaled_by_its_share():
    """A dynamo cost is GPU-hours at a fixed price plus predicted electricity: the electricity's band moves the cost
    by the electricity's share of it, and by no more."""
    band = Band(0.25, "synthetic", "synthetic", "")
    metrics = {"cost_usd": 1000.0, "electricity_cost_usd": 40.0, "gpu_cost_usd": 960.0, "baseline_x_cost_usd": None}
    out = with_bands("dynamo", metrics, band, shares={"cost_usd": 0.04, "baseline_x_cost_usd": 0.5})
    assert out["cost_usd_err_ratio"] == 0.01 and out["electricity_cost_usd_err_ratio"] == 0.25
    assert "gpu_cost_usd_err_ratio" not in out and "baseline_x_cost_usd_err_ratio" not in out  # no value, no band
    assert "cost_usd_err_ratio" not in with_bands("dynamo", metrics, None, shares={"cost_usd": 0.04})


def test_report_prints_value_with_band():
    assert fmt_band(110.0, 0.06) == "110 +-6 %"
    assert fmt_band(110.0, None) == "110"


def test_calibrated_band_from_the_profile_dir(tmp_path):
    from planner.profiles.db import ProfileDB

    (tmp_path / "accuracy.yaml").write_text(
        "calibrated:h100-80gb/tp8/llama2-70b: {basis: measured, err_ratio: 0.031, method: plan calibrate}\n"
    )
    db = ProfileDB.load(tmp_path)
    detail = "splitwise_perf.csv: measured:run.json (plan calibrate: 5 run(s)) (h100-80gb, tp 8, 13 knots)"
    band = band_for(db, "measured", detail)
    assert band is not None and band.entry == "calibrated:h100-80gb/tp8/llama2-70b" and band.err_ratio == 0.031
    other = band_for(
        db, "measured", "splitwise_perf.csv: measured:run.json (plan calibrate) (a100-80gb, tp 8, 9 knots)"
    )
    assert other is not None and other.entry == "measured:splitwise_perf"


@pytest.mark.parametrize(("factor", "noise"), [(1.03, True), (1.2, False)])
def test_diff_calls_changes_inside_the_band_noise(factor, noise):
    old = read_plan(ROOT / "tests" / "golden" / "splitwise-bloom176b-coding-rps10.json")
    assert old.metrics["throughput_rps_err_ratio"] is not None
    metrics = dict(old.metrics)
    metrics["throughput_rps"] = float(old.metrics["throughput_rps"] or 0) * factor
    new = old.model_copy(update={"metrics": metrics})
    summary = diff_plans(old, new).summary
    assert ("(noise: within the +-6.3% error band)" in summary) is noise, summary


def test_a_model_band_adds_to_the_profile_band():
    """The served prediction's own error (model:helix_served_*) is added to the per-layer latency's band, on the
    figures that model predicts only; the max-flow figures keep the profile band."""
    profile = Band(0.02, "measured:helix_layer_latency", "measured", "")
    model = {
        "predicted_decode_tok_s": Band(0.08, "model:helix_served_decode", "analytic", ""),
        "predicted_token_latency_p99_ms": Band(0.2, "model:helix_served_p99", "analytic", ""),
    }
    metrics = {"predicted_decode_tok_s": 300.0, "predicted_token_latency_p99_ms": 900.0,
               "predicted_token_latency_p50_ms": 400.0, "throughput_tok_s": 6000.0}  # fmt: skip
    out = with_bands("helix", metrics, profile, model)
    assert out["predicted_decode_tok_s_err_ratio"] == 0.1
    assert out["predicted_token_latency_p99_ms_err_ratio"] == 0.22
    assert out["predicted_token_latency_p50_ms_err_ratio"] == 0.02  # a latency percentile carries the profile band
    assert out["throughput_tok_s_err_ratio"] == 0.02


def test_shipped_model_bands_are_the_agreement_record(profile_db):
    from planner.calibrate.agreement import RECORDS, agreement_entries, read_records
    from planner.profiles.accuracy import model_bands

    rows, records = read_records(ROOT / "profiles")
    assert records == RECORDS  # both shipped: the layouts the model was developed on and those held out
    entries = agreement_entries(rows, records)
    metrics = {"predicted_decode_tok_s": 1.0, "predicted_total_tok_s": 2.0, "predicted_token_latency_p50_ms": 3.0,
               "predicted_token_latency_p99_ms": 4.0, "predicted_in_flight_requests": 5.0}  # fmt: skip
    bands = model_bands(profile_db, "helix", metrics)
    assert set(bands) == set(metrics) - {"predicted_in_flight_requests"}
    assert bands["predicted_decode_tok_s"].err_ratio == entries["model:helix_served_decode"]["err_ratio"]
    assert bands["predicted_token_latency_p99_ms"].err_ratio == entries["model:helix_served_p99"]["err_ratio"]
    recommended = [r for r in rows if r.layout == "default"]
    assert len(recommended) == 16  # five shipped specs' and eleven held-out clusters' recommended plans
    mean_abs = sum(abs(r.error) for r in recommended) / len(recommended)
    assert bands["predicted_total_tok_s"].err_ratio == round(mean_abs, 4)
    assert model_bands(profile_db, "splitwise", {"throughput_rps": 1.0}) == {}


def test_a_propagated_move_wider_than_the_band_replaces_it():
    """A latency figure that moves more than the flat band when its rows move by it carries its own move; one that
    moves less keeps the band (the band is a floor: the rows' own measured error)."""
    profile = Band(0.06, "measured:splitwise_perf", "measured", "")
    metrics = {"ttft_p99_ms": 900.0, "tbt_p50_ms": 40.0, "throughput_rps": 10.0}
    moves = {"ttft_p99_ms": Move(0.2, 1.5), "tbt_p50_ms": Move(0.01, 0.01)}
    out = with_bands("splitwise", metrics, profile, None, moves)
    assert out["ttft_p99_ms_err_ratio"] == 1.5  # the wider side
    assert (out["ttft_p99_ms_err_low_ratio"], out["ttft_p99_ms_err_high_ratio"]) == (0.2, 1.5)
    assert out["tbt_p50_ms_err_ratio"] == 0.06 and "tbt_p50_ms_err_low_ratio" not in out  # one side: the band
    assert out["throughput_rps_err_ratio"] == 0.06
    assert fmt_band(out["ttft_p99_ms"], 1.5, pair=(0.2, 1.5)) == "900 -20 % / +150 %"
