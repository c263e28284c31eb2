"""Dynamo-profile calibration: recovery of known parameters from SYNTHETIC DVFS runs (2 % noise), the rows written,
their layering over the shipped table, and accuracy at the noise level, not less."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from planner.calibrate.accuracy import predict_current_dynamo
from planner.calibrate.api import default_clock
from planner.calibrate.dynamo_fit import FITTED, calibrate_dynamo, current_parameters, with_fitted
from planner.calibrate.ingest import load_all
from planner.calibrate.synthetic import KNOWN_DYNAMO
from planner.calibrate.writer import CalibratedDynamo, write_profile_dir
from planner.profiles.db import ProfileDB
from planner.profiles.synth.dynamo_physics import DEFAULT_PARAMETERS, Instance, max_stable_rps, serve

DVFS = Path(__file__).resolve().parents[2] / "fixtures" / "calibrate" / "dvfs"
NOISE = 0.02
EXPECTED_MEAN_ABS = NOISE * float(np.sqrt(2 / np.pi))  # E|N(0, noise)|


@pytest.fixture(scope="module")
def inputs(profile_db):
    files = sorted(DVFS.glob("dvfs-*.json")) + sorted(DVFS.glob("dvfs-*.csv"))
    assert len(files) == 24 + 14  # 24 runs, an iteration CSV per (TP 4 / 8, clock of the planner's grid)
    return load_all(files, profile_db)


@pytest.fixture(scope="module")
def fitted(inputs, profile_db):
    runs, tables = inputs
    out = calibrate_dynamo(runs, tables, profile_db)
    assert len(out) == 1
    return out[0]


def test_inputs_are_labelled_synthetic_dvfs_runs(inputs):
    runs, tables = inputs
    assert all(r.provenance == "synthetic" and r.dvfs and "power_w" in r.metrics for r in runs)
    assert {(t.tp, t.freq_mhz) for t in tables} == {(tp, f) for tp in (4, 8) for f in range(800, 1801, 200)} | {
        (4, 1980),
        (8, 1980),
    }
    assert {r.context for t in tables for r in t.rows if r.kind == "token"} == {256, 1024, 4096}
    assert {r.kind for t in tables for r in t.rows} == {"idle", "prompt", "token"}
    assert default_clock(runs, tables) == ([], [])  # locked-clock runs stay out of the default-clock model


def test_fit_recovers_the_known_parameters(fitted):
    fit, _obs = fitted
    got = fit.fitted()
    for k in FITTED:
        assert got[k] == pytest.approx(KNOWN_DYNAMO[k], rel=0.05), k
    assert fit.provenance == "synthetic" and len(fit.configs) == 14
    # the residual is the noise, not less (no over-fit) and not much more
    assert 0.7 * NOISE < fit.rms_log_ratio < 1.3 * NOISE


def test_fit_recovers_the_profile_rows(fitted, profile_db):
    """What plan dynamo reads: latencies and power along the load sweep, and the stable rate, within 5 %."""
    fit, _obs = fitted
    g, m = profile_db.gpu("H100-80G"), profile_db.model("llama2-70b")
    known = with_fitted(DEFAULT_PARAMETERS, KNOWN_DYNAMO)
    worst = 0.0
    for tp, freq in fit.configs:
        a, b = Instance(g, m, tp, float(freq), known), Instance(g, m, tp, float(freq), fit.params)
        for i_tok, o_tok in ((128, 50), (512, 200), (2048, 600)):
            cap_a, cap_b = max_stable_rps(a, i_tok, o_tok), max_stable_rps(b, i_tok, o_tok)
            worst = max(worst, abs(cap_b / cap_a - 1))
            for share in (0.0, 0.3, 0.6, 0.9):
                pa, pb = serve(a, i_tok, o_tok, share * cap_a), serve(b, i_tok, o_tok, share * cap_a)
                assert pa is not None and pb is not None
                for attr in ("ttft_p99_s", "tbt_p99_s", "e2e_p99_s", "power_w"):
                    worst = max(worst, abs(getattr(pb, attr) / getattr(pa, attr) - 1))
    assert worst < 0.05, worst


def test_fit_is_deterministic(inputs, fitted, profile_db):
    runs, tables = inputs
    again = calibrate_dynamo(runs[:6], tables[:1], profile_db)[0][0]
    twice = calibrate_dynamo(runs[:6], tables[:1], profile_db)[0][0]
    assert again.fitted() == twice.fitted() and again.rms_log_ratio == twice.rms_log_ratio


@pytest.fixture(scope="module")
def written(fitted, profile_db, tmp_path_factory):
    out = tmp_path_factory.mktemp("dvfs") / "prof"
    write_profile_dir(out, [], [CalibratedDynamo(fitted[0])], profile_db)
    return out


def test_rows_replace_whole_sweeps_of_the_shipped_table(written, fitted):
    db = ProfileDB.load(written)
    df = db.table("dynamo_profile")
    sel = df[(df["tp"] == 8) & (df["freq_mhz"] == 1400) & (df["class"] == "LL")]
    assert set(sel["provenance"]) == {"synthetic"}  # the fixtures are synthetic, and say so
    assert sel["source"].str.contains("plan calibrate: dynamo physics").all()
    assert sel["load_rps"].is_monotonic_increasing and sel["load_rps"].iloc[0] == 0
    mine = df[df["source"].str.contains("plan calibrate")]
    assert len(mine.groupby(["class", "tp", "freq_mhz"])) == 9 * len(fitted[0].configs)
    untouched = df[(df["tp"] == 2)]
    assert not untouched.empty and not untouched["source"].str.contains("plan calibrate").any()
    assert any("replaces 126 group(s)" in c for c in db.conflicts)


def test_accuracy_reports_the_noise_level_not_less(written, inputs, profile_db):
    runs, _ = inputs
    db = ProfileDB.load(written)
    params, basis, source = current_parameters(db, "H100-80G", "llama2-70b")
    assert basis == "synthetic" and "calibration.yaml" in source and params.mbu_decode != DEFAULT_PARAMETERS.mbu_decode
    rep = predict_current_dynamo(runs, db)
    errs = [abs(e) for r in rep for e in r.errors.values()]
    assert {m for r in rep for m in r.errors} >= {"ttft_p99_ms", "tpot_p99_ms", "e2e_p99_ms", "power_w"}
    calibrated = float(np.mean(errs))
    assert 0.7 * EXPECTED_MEAN_ABS < calibrated < 1.6 * EXPECTED_MEAN_ABS
    shipped = predict_current_dynamo(runs, profile_db)  # the shipped defaults are not the known model
    assert all(r.rests_on.startswith("synthetic: dynamo physics defaults") for r in shipped)
    assert float(np.mean([abs(e) for r in shipped for e in r.errors.values()])) > 3 * calibrated


def test_dvfs_fixtures_are_what_the_script_writes(tmp_path, profile_db):
    from planner.calibrate.synthetic import synthesize_dvfs

    written = synthesize_dvfs(profile_db, tmp_path)
    shipped = sorted(DVFS.glob("dvfs-*.json")) + sorted(DVFS.glob("dvfs-*.csv"))
    assert sorted(p.name for p in written) == sorted(p.name for p in shipped)
    for new in written:
        old = DVFS / new.name
        assert new.read_bytes() == old.read_bytes(), new.name
        meta = new.with_name(new.stem + ".meta.yaml")
        assert meta.read_bytes() == old.with_name(old.stem + ".meta.yaml").read_bytes()
        assert "provenance: synthetic" in meta.read_text()


def test_the_sweep_pins_every_parameter_the_old_design_did_not(inputs, profile_db):
    """Why the recovery needs the full sweep: at 2 % noise, three clocks of TP 8 with one context leave t_cpu_s (the
    clock-insensitive part of the iteration) with a 9 % standard error; the shipped sweep brings every parameter
    under 2 %, so recovery within 5 % is the design's precision, not luck."""
    from planner.calibrate.dynamo_fit import observations, standard_errors

    runs, tables = inputs
    known = with_fitted(DEFAULT_PARAMETERS, KNOWN_DYNAMO)
    full = standard_errors(observations(runs, tables, profile_db), known, profile_db, "H100-80G", "llama2-70b", NOISE)
    assert max(full.values()) < 0.02, full

    def old_design(rows):  # one idle reading, five prompt sizes, five batches at a 1k context, logged once
        idle = [r for r in rows if r.kind == "idle"][:1]
        prompt = [r for r in rows if r.kind == "prompt"][:5]
        token = [r for r in rows if r.kind == "token" and r.context == 1024 and r.batch in (1, 8, 32, 64, 128)][:5]
        return tuple(idle + prompt + token)

    old_rows = [
        t.model_copy(update={"rows": old_design(t.rows)})
        for t in tables
        if t.tp == 8 and t.freq_mhz in (1000, 1400, 1800)
    ]
    old = standard_errors(observations(runs, old_rows, profile_db), known, profile_db, "H100-80G", "llama2-70b", NOISE)
    assert old["t_cpu_s"] > 0.05 and old["t_cpu_s"] > 4 * full["t_cpu_s"], old
