"""Accuracy: leave-one-out reports the noise the synthetic files carry, not less; the shipped profile misses more."""

from __future__ import annotations

import math

import pytest

from planner.calibrate.accuracy import errors, leave_one_out, predict_current
from planner.calibrate.ingest import METRICS, load_all

NOISE = 0.02  # scripts/gen_synthetic_benchmarks.py default
EXPECTED_MEAN_ABS = NOISE * math.sqrt(2 / math.pi)  # E|N(0, s)| = s sqrt(2/pi)


def test_errors_are_signed_ratios():
    assert errors({"ttft_p50_ms": 100.0, "e2e_p99_ms": 0.0}, {"ttft_p50_ms": 110.0, "e2e_p99_ms": 5.0}) == {
        "ttft_p50_ms": pytest.approx(0.1)
    }


@pytest.fixture(scope="module")
def runs(synthetic_files, profile_db):
    return load_all(synthetic_files, profile_db)[0]


def test_leave_one_out_reports_the_noise_level(runs, profile_db):
    """Five of the ten synthetic runs (five folds, 10 s here; the ten take 75 s): each fold's four runs still pin the
    five-parameter model, so the error left is the noise's (2.0 % against E|noise| 1.6 %)."""
    five = runs[:5]
    rep = leave_one_out(five, profile_db)
    assert rep.mode == "loo" and len(rep.runs) == len(five)
    assert {a.metric for a in rep.aggregate} == set(METRICS)
    overall = rep.overall_mean_abs()
    assert overall is not None
    # not less than the noise (a model cannot predict noise it has not seen), and not much more
    assert 0.7 * EXPECTED_MEAN_ABS < overall < 1.6 * EXPECTED_MEAN_ABS, overall


def test_current_profile_is_judged_too(runs, profile_db):
    rep = predict_current(runs, profile_db)
    assert all(r.rests_on.startswith("measured: splitwise_perf.csv (h100-80gb, tp 8)") for r in rep.runs)
    worst = rep.worst_mean_abs()
    assert worst is not None and worst[1] > 0.1  # the shipped H100 curves are not the synthetic known model


def test_folds_run_in_worker_processes_with_the_same_results(runs, profile_db):
    """``--jobs 2``: the fits and folds of a leave-one-out run in a process pool and come back equal, figure for
    figure, to the ones computed here one after another (a fit is the same on any CPU), in the same order."""
    from planner.calibrate.accuracy import fits_and_folds
    from planner.executors import ExecutorConfig

    three = runs[:3]
    here = fits_and_folds(three, [], profile_db, lambda group, tabs: True)
    told: list[tuple[int, int]] = []
    pooled = fits_and_folds(
        three, [], profile_db, lambda group, tabs: True, ExecutorConfig("local", 2), lambda k, n: told.append((k, n))
    )
    assert told == [(1, 4), (2, 4), (3, 4), (4, 4)]  # the progress display: one full fit and three folds
    assert list(pooled) == list(here) and len(here) == 1
    (full, report), (full2, report2) = next(iter(here.values())), next(iter(pooled.values()))
    assert full == full2
    assert report is not None and report2 is not None and len(report.runs) == 3
    assert report2.runs == report.runs and report2.aggregate == report.aggregate
    assert [a.label for a in report.runs] == [r.label for r in three]


@pytest.mark.ray
def test_folds_on_ray_give_the_results_of_the_folds_here(runs, profile_db):
    """``--executor ray`` (``make test-ray``): the same fits and folds as here, on a Ray instance of 2 CPUs."""
    ray = pytest.importorskip("ray", reason="the optional extra llmplan[ray] is not installed (make test-ray)")
    from planner.calibrate.accuracy import leave_one_out
    from planner.executors import ExecutorConfig

    three = runs[:3]
    here = leave_one_out(three, profile_db)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        remote = leave_one_out(three, profile_db, where=ExecutorConfig("ray"))
    finally:
        ray.shutdown()
    assert remote.runs == here.runs and remote.fits == here.fits and len(here.runs) == 3


def test_bands_give_each_figure_a_plan_band_and_count_the_figures_within(runs, profile_db):
    """``--bands``: each figure carries the (low, high) band a plan on the same rows would (measured splitwise rows:
    6.33 %, or on each side the figure's own move with the rows x(1 -+ 6.33 %) when more), and the aggregate counts
    the runs inside it."""
    two = runs[:2]
    plain, banded = predict_current(two, profile_db), predict_current(two, profile_db, bands=True)
    assert all(not r.band for r in plain.runs) and all(a.within_band is None for a in plain.aggregate)
    for r, p in zip(banded.runs, plain.runs, strict=True):
        assert r.predicted == p.predicted  # the prediction itself does not change
        assert set(r.band) == set(r.predicted)
        assert all(low >= 0.0633 and high >= 0.0633 for low, high in r.band.values())
        assert max(r.band["tpot_p50_ms"]) < 0.2  # a sum of iteration times moves about as they do
        for m in r.errors:
            low, high = r.band[m]
            assert r.within_band(m) == (-low <= r.measured[m] / r.predicted[m] - 1 <= high)
    for a in banded.aggregate:
        assert a.banded == 2
        assert a.within_band == sum(bool(r.within_band(a.metric)) for r in banded.runs)
