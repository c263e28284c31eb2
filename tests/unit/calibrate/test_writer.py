"""calibrate -> profile directory -> --profiles: calibrated rows are read by the splitwise and helix simulators."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from planner.calibrate import writer
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

    cal, _, written = calibrate_files(synthetic_files[:3], profile_db, tmp_path, loo=True)
    assert tmp_path / "accuracy.yaml" in written  # listed like every other file written
    loo = cal[0].loo
    assert loo is not None
    rows = loo.mean_abs_over(ROW_FIGURES)
    assert rows is not None and rows != loo.mean_abs_over(("ttft_p99_ms", "tpot_p99_ms", "e2e_p99_ms"))
    (entry,) = yaml.safe_load((tmp_path / "accuracy.yaml").read_text()).values()
    assert entry["err_ratio"] == round(rows, 4)
    assert "throughputs and medians" in entry["method"]


def _tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}  # fmt: skip


@pytest.mark.parametrize("existing", [True, False])
def test_a_failing_write_leaves_the_directory_as_it_was(calibrated, tmp_path, monkeypatch, existing):
    """A write failing midway (here after the tables were written, before accuracy.yaml and calibration.yaml) leaves
    no file of it in ``out``: neither a new directory nor tables without the calibration.yaml that describes them;
    an existing directory keeps its files, the user's own included, and no staging folder is left beside it."""
    import shutil

    src, cal, _ = calibrated
    out = tmp_path / "prof"
    if existing:
        shutil.copytree(src, out)
        (out / "notes.txt").write_text("mine")
    before = _tree(tmp_path)

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer, "_write_bands", full_disk)
    with pytest.raises(OSError, match="No space left"):
        writer.write_profile_dir(out, cal)
    assert _tree(tmp_path) == before
    monkeypatch.undo()
    written = writer.write_profile_dir(out, cal)  # and once it can, the whole directory
    assert {p.relative_to(out).as_posix() for p in written} >= {"tables/splitwise_perf.csv", "calibration.yaml"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prof"]
    assert (out / "notes.txt").exists() == existing
