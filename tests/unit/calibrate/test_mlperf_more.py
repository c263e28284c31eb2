"""The v4.1 Server runs shipped in the thirteenth session (MLCommons inference results v4.1, Apache-2.0): three on
H100 (``mlcommons-llama2-70b-server/v4.1-more/``: Dell XE8640 x4, Fujitsu GX2560M7 x4, Google DGX-H100 x8) and three
on H200 (``mlcommons-llama2-70b-h200/v4.1-more/``: NVIDIA H200 x8 with its own harness and behind Triton, Dell XE9680
H200 x8). Each sidecar says what its submitter's config says, and docs/accuracy.md's block on them shows what the
code computes (H100: held out of the DGX H100 x2 fit, and the roofline; H200: held out of a fit on each of the two
v4.1 H200 runs shipped before)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from planner.calibrate.ingest import MeasuredRun, load_runs
from planner.profiles.db import ProfileDB

ROOT = Path(__file__).resolve().parents[3]
MLPERF = ROOT / "tests" / "fixtures" / "calibrate" / "public" / "mlcommons-llama2-70b-server"
MORE = MLPERF / "v4.1-more"
X2 = MLPERF / "v4.0-nvidia-dgx-h100x2-99.9.mlperf_log_summary.txt"
X2_OFFLINE = (
    MLPERF.parent / "mlcommons-llama2-70b-offline" / "v4.0-nvidia-dgx-h100x2-99.9-offline.mlperf_log_summary.txt"
)
COMMIT = "a2f5d66d17e8f75c02fd74dfe810ecca6a046696"
# name -> (label in docs/accuracy.md, engines, the config's server_target_qps, the summary's scheduled samples/s)
RUNS = {
    "v4.1-dell-xe8640-h100x4-99.9": ("Dell XE8640 x4 v4.1", 2, 33, 32.97),
    "v4.1-fujitsu-gx2560m7-h100x4-99.9": ("Fujitsu GX2560M7 x4 v4.1", 2, 33, 32.97),
    "v4.1-google-dgx-h100x8-99.9": ("Google DGX-H100 x8 v4.1", 4, 75, 75.10),
}
H200 = MLPERF.parent / "mlcommons-llama2-70b-h200"
H200_MORE = H200 / "v4.1-more"
H200_FITTED = {
    "FIT_L": H200 / "v4.1-lenovo-h200x8-99.9.mlperf_log_summary.txt",
    "FIT_G": H200 / "v4.1-gigacomputing-g593-h200x8-99.9.mlperf_log_summary.txt",
}
# name -> (label in docs/accuracy.md, the config's server_target_qps, the summary's target_qps, scheduled samples/s)
H200_RUNS = {
    "v4.1-dell-xe9680-h200x8-99.9": ("Dell XE9680 H200 x8 v4.1", 105, 102.5, 102.71),
    "v4.1-nvidia-h200x8-99.9": ("NVIDIA H200 x8 v4.1", 102.5, 101, 101.25),
    "v4.1-nvidia-h200x8-triton-99.9": ("NVIDIA H200 x8 v4.1, Triton", 103.9, 103.9, 104.11),
}
BLOCK = "### MLPerf Llama-2-70B Server runs of three more v4.1 systems"
FIGURES = ("request_throughput_rps", "ttft_p99_ms", "tpot_p99_ms", "e2e_p99_ms")


def _paths(folder: Path = MORE) -> list[Path]:
    return sorted(folder.glob("*.mlperf_log_summary.txt"))


def test_each_run_is_its_submitters_configured_system() -> None:
    """TP 2 engines, two on the four-GPU systems and four on the eight-GPU one, FP8, ``gpu_batch_size`` 1,024, the
    KV share 0.90 and ``max_num_tokens`` 4,096 of the v4.1 classes; scheduled at the config's target rate for
    LoadGen's 2,400 s, and cited with the commit the files were read at."""
    db = ProfileDB.load(MLPERF / "profiles")
    assert [p.name.removesuffix(".mlperf_log_summary.txt") for p in _paths()] == sorted(RUNS)
    for path in _paths():
        name = path.name.removesuffix(".mlperf_log_summary.txt")
        _, engines, target, scheduled = RUNS[name]
        (run,) = load_runs(path, db)
        assert isinstance(run, MeasuredRun)
        assert (run.gpu, run.tp, run.model, run.instances) == ("H100-80G", 2, "llama2-70b-fp8", engines), name
        assert run.limits.max_batch_requests == 1024 and run.limits.kv_memory_fraction == 0.9, name
        assert run.limits.max_batch_tokens == 4096, name
        assert f"mlperf_log_summary.txt @ {COMMIT} (Apache-2.0)" in run.source and "not modelled" in run.source
        assert run.request_rate_rps == scheduled and abs(scheduled - target) / target < 0.01, name
        assert run.completed == round(scheduled * 2400) + 1 and len(run.metrics) == 8, name


def _rows(text: str) -> dict[str, list[str]]:
    return {
        cells[0]: cells
        for line in text.splitlines()
        if line.startswith("| ") and (cells := [c.strip() for c in line.strip().strip("|").split("|")])
    }


def _assert_column(report: Any, rows: dict[str, list[str]], labels: dict[str, str], column: int) -> None:
    """Each of the three runs' signed errors (request throughput / TTFT p99 / TPOT p99 / E2E p99) are the cell in
    ``column`` of the docs table's row ``labels[run]``, and request throughput meets its 10 % bar."""
    assert len(report.runs) == 3
    for run in report.runs:
        name = Path(run.label).name.removesuffix(".mlperf_log_summary.txt")
        cells = rows[labels[name]]
        shown = " / ".join(f"{run.errors[m] * 100:+,.1f}" for m in FIGURES) + " %"
        assert cells[column] == shown, (name, column, cells)
        assert abs(run.errors["request_throughput_rps"]) < 0.10, name


@pytest.mark.slow
def test_docs_show_the_held_out_and_roofline_figures_of_the_three_runs(tmp_path: Path) -> None:
    """docs/accuracy.md's block on these runs is what the code computes (about a minute): the fit on the DGX H100 x2
    Server and Offline runs predicts each run (signed request throughput / TTFT p99 / TPOT p99 / E2E p99), and the
    shipped profile without a fit (the roofline) does."""
    from planner.calibrate.api import accuracy_files, calibrate_files

    db = ProfileDB.load(MLPERF / "profiles")
    text = (ROOT / "docs" / "accuracy.md").read_text().split(BLOCK)[1].split("\n### ")[0]
    rows = _rows(text)
    calibrate_files([X2, X2_OFFLINE], db, tmp_path / "fit", loo=False)
    fitted = accuracy_files(_paths(), ProfileDB.load(tmp_path / "fit"))
    roofline = accuracy_files(_paths(), db)
    _assert_column(fitted, rows, {name: row[0] for name, row in RUNS.items()}, 3)
    _assert_column(roofline, rows, {name: row[0] for name, row in RUNS.items()}, 4)


def test_each_h200_run_is_its_submitters_configured_system() -> None:
    """Eight engines of TP 1, FP8, ``gpu_batch_size`` 896, KV share 0.90, ``max_num_tokens`` 4,096. Each summary's
    ``target_qps`` is a little below its class's ``server_target_qps`` but for the Triton run's (the runs' own
    settings, SOURCE.md); the replay takes the rate each summary states it scheduled."""
    db = ProfileDB.load(H200 / "profiles")
    assert [p.name.removesuffix(".mlperf_log_summary.txt") for p in _paths(H200_MORE)] == sorted(H200_RUNS)
    for path in _paths(H200_MORE):
        name = path.name.removesuffix(".mlperf_log_summary.txt")
        _, configured, logged, scheduled = H200_RUNS[name]
        (run,) = load_runs(path, db)
        assert isinstance(run, MeasuredRun)
        assert (run.gpu, run.tp, run.model, run.instances) == ("H200", 1, "llama2-70b-fp8", 8), name
        assert run.limits.max_batch_requests == 896 and run.limits.kv_memory_fraction == 0.9, name
        assert run.limits.max_batch_tokens == 4096, name
        assert f"target_qps : {logged:g}" in path.read_text() and logged <= configured, name
        assert f"mlperf_log_summary.txt @ {COMMIT} (Apache-2.0)" in run.source and "not modelled" in run.source
        assert run.request_rate_rps == scheduled and run.completed == round(scheduled * 2400) + 1, name
        assert len(run.metrics) == 8, name


H200_BLOCK = "### MLPerf Llama-2-70B Server runs of three more v4.1 H200 systems"


@pytest.mark.slow
def test_docs_show_the_h200_runs_held_out_of_each_v41_fit(tmp_path: Path) -> None:
    """docs/accuracy.md's block on the H200 runs is what the code computes (about 2 minutes): the fit on Lenovo's
    v4.1 H200 run (FIT_L), and the one on GigaComputing's (FIT_G), each predicts the three runs."""
    from planner.calibrate.api import accuracy_files, calibrate_files

    db = ProfileDB.load(H200 / "profiles")
    rows = _rows((ROOT / "docs" / "accuracy.md").read_text().split(H200_BLOCK)[1].split("\n### ")[0])
    for column, (fit_name, fitted) in enumerate(H200_FITTED.items(), start=3):
        calibrate_files([fitted], db, tmp_path / fit_name, loo=False)
        report = accuracy_files(_paths(H200_MORE), ProfileDB.load(tmp_path / fit_name))
        _assert_column(report, rows, {name: row[0] for name, row in H200_RUNS.items()}, column)


LOO_LABELS = {
    "v4.1-gigacomputing-g593-h200x8-99.9": "GigaComputing G593 x8",
    "v4.1-lenovo-h200x8-99.9": "Lenovo x8",
    **{name: row[0].removesuffix(" v4.1").replace(" v4.1,", ",") for name, row in H200_RUNS.items()},
}


@pytest.mark.slow
def test_docs_show_the_leave_one_out_over_the_five_v41_h200_runs() -> None:
    """docs/accuracy.md's leave-one-out table over the five v4.1 H200 runs (the two shipped before and the three of
    ``v4.1-more/``) is what the code computes (about 7 minutes on two cores): each run predicted by the fit on the
    other four."""
    from planner.calibrate.api import accuracy_files
    from planner.executors import ExecutorConfig

    paths = sorted(H200.glob("v4.1-*.mlperf_log_summary.txt")) + _paths(H200_MORE)
    assert len(paths) == 5
    report = accuracy_files(paths, ProfileDB.load(H200 / "profiles"), loo=True, where=ExecutorConfig(jobs=2))
    rows = _rows((ROOT / "docs" / "accuracy.md").read_text().split(H200_BLOCK)[1].split("\n### ")[0])
    assert len(report.runs) == 5
    for run in report.runs:
        name = Path(run.label).name.removesuffix(".mlperf_log_summary.txt")
        shown = " / ".join(f"{run.errors[m] * 100:+,.1f}" for m in FIGURES) + " %"
        assert rows[LOO_LABELS[name]][1] == shown, (name, rows[LOO_LABELS[name]])
