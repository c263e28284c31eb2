"""calibrate -> profile directory -> --profiles: calibrated rows are read by the splitwise and helix simulators."""

from __future__ import annotations

import pytest

from planner.calibrate.api import accuracy_files, calibrate_files
from planner.profiles.db import ProfileDB
from planner.sim.latency import load_layer_latency


@pytest.fixture(scope="module")
def calibrated(synthetic_files, profile_db, tmp_path_factory):
    out = tmp_path_factory.mktemp("cal")
    cal, dynamo, written = calibrate_files(synthetic_files, profile_db, out, loo=False)
    assert dynamo == []  # default-clock runs without power: no dynamo rows
    return out, cal, written


def test_profile_dir_layers_over_shipped(calibrated, synthetic_files):
    out, cal, written = calibrated
    assert {p.name for p in written} >= {"splitwise_perf.csv", "helix_layer_latency.csv", "calibration.yaml"}
    db = ProfileDB.load(out)
    sw = db.table("splitwise_perf")
    rows = sw[(sw["hardware"] == "h100-80gb") & (sw["tp"] == 8) & (sw["model"] == "llama2-70b")]
    assert set(rows["provenance"]) == {"synthetic"}  # the inputs were synthetic, so the rows say so
    source = rows["source"].iloc[0]
    assert source.startswith("synthetic:") and "synthetic-00.json +9 more file(s)" in source
    assert any("overrides table 'splitwise_perf'" in c for c in db.conflicts)
    lat = load_layer_latency(db, "llama2-70b", "H100-80Gx8")
    per_layer_ms = cal[0].fit.model.prompt_ms(1024.0) / 80
    assert lat.prompt_s[1024] * 1e3 == pytest.approx(float(per_layer_ms), rel=1e-5)


def test_calibrated_profile_predicts_the_runs(calibrated, synthetic_files):
    out, _, _ = calibrated
    rep = accuracy_files(synthetic_files, ProfileDB.load(out))
    assert all("synthetic:" in r.rests_on for r in rep.runs)
    overall = rep.overall_mean_abs()
    assert overall is not None and overall < 0.03  # in-sample: the noise level


def test_recalibration_replaces_only_its_key(calibrated, synthetic_files, profile_db):
    out, _, _ = calibrated
    before = (out / "tables" / "splitwise_perf.csv").read_text()
    calibrate_files(synthetic_files, profile_db, out, loo=False)
    assert (out / "tables" / "splitwise_perf.csv").read_text() == before


def test_a_fit_band_is_its_loo_error_on_throughputs_and_medians(synthetic_files, profile_db, tmp_path):
    """The band written for a fit is the leave-one-out error of what its curves set directly (throughputs and
    medians); the p99 figures are left out, since plans propagate the band to them (docs/accuracy.md)."""
    import yaml

    from planner.calibrate.writer import ROW_FIGURES

    cal, _, _ = calibrate_files(synthetic_files[:3], profile_db, tmp_path, loo=True)
    loo = cal[0].loo
    assert loo is not None
    rows = loo.mean_abs_over(ROW_FIGURES)
    assert rows is not None and rows != loo.mean_abs_over(("ttft_p99_ms", "tpot_p99_ms", "e2e_p99_ms"))
    (entry,) = yaml.safe_load((tmp_path / "accuracy.yaml").read_text()).values()
    assert entry["err_ratio"] == round(rows, 4)
    assert "throughputs and medians" in entry["method"]
