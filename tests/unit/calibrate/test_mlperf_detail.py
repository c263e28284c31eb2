"""MLPerf LoadGen detail logs (``mlperf_log_detail.txt``, one ``:::MLLOG {json}`` record a line): read into the same
run as the summary of the same test (hand-made logs and the shipped Supermicro v4.1 runs, whose summaries ship beside
them in ``detail/same-run/``), and a bad log gets one line naming the file and the record (exit 2)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from planner.calibrate.ingest import MeasuredRun, load_runs
from planner.cli.app import app
from planner.errors import SpecError
from planner.profiles.db import ProfileDB

ROOT = Path(__file__).resolve().parents[3]
MLPERF = ROOT / "tests" / "fixtures" / "calibrate" / "public" / "mlcommons-llama2-70b-server"
DETAIL = MLPERF / "detail"
SAME_RUN = DETAIL / "same-run"
SIDECAR = "gpu: H100-80G\ntp: 2\nmodel: llama2-70b-fp8\nmean_input_tokens: 222.33\n"
# what the run's summary states; the detail records below hold the same test at six significant digits
SERVER = {
    "effective_scenario": "Server",
    "effective_test_mode": "PerformanceOnly",
    "effective_target_qps": 18.2,
    "effective_min_duration_ms": 600000,
    "effective_samples_per_query": 1,
    "effective_performance_sample_count": 24576,
    "result_scheduled_samples_per_sec": 18.3614,
    "result_completed_samples_per_sec": 18.0592,
    "result_completed_tokens_per_second": 5271.98,
    "result_50.00_percentile_latency_ns": 33536121888,
    "result_99.00_percentile_latency_ns": 130074779176,
    "result_first_token_50.00_percentile_latency_ns": 354963724,
    "result_first_token_99.00_percentile_latency_ns": 596238777,
    "result_time_per_output_token_50.00_percentile_ns": 136885751,
    "result_time_per_output_token_99.00_percentile_ns": 167933588,
}
SUMMARY = """================================================
MLPerf Results Summary
================================================
Scenario : Server
Mode     : PerformanceOnly
Completed samples per second    : 18.06
Completed tokens per second: 5271.98
Scheduled samples per second : 18.36
50.00 percentile latency (ns)   : 33536121888
99.00 percentile latency (ns)   : 130074779176
50.00 percentile first token latency (ns)   : 354963724
99.00 percentile first token latency (ns)   : 596238777
50.00 percentile time to output token (ns)   : 136885751
99.00 percentile time to output token (ns)   : 167933588
target_qps : 18.2
min_duration (ms): 600000
"""


def _record(key: str, value: Any) -> str:
    meta = {"is_error": False, "is_warning": False, "file": "loadgen.cc", "line_no": 1, "pid": 1, "tid": 1}
    rec = {"key": key, "value": value, "time_ms": 0.0, "namespace": "mlperf::logging", "event_type": "POINT_IN_TIME"}
    return ":::MLLOG " + json.dumps({**rec, "metadata": meta})


def _log(records: dict[str, Any], *extra: str) -> str:
    lines = [_record("loadgen_version", "4.1 @ test"), _record("generic_message", "Starting performance mode")]
    lines += [_record(k, v) for k, v in records.items()]
    return "\n".join([*lines, _record("generic_message", "Ending naturally"), *extra]) + "\n"


def _load(path: Path, text: str, sidecar: str = SIDECAR) -> MeasuredRun:
    path.write_text(text)
    path.with_name(path.stem + ".meta.yaml").write_text(sidecar)
    runs = load_runs(path, ProfileDB.load(MLPERF / "profiles"))
    assert len(runs) == 1 and isinstance(runs[0], MeasuredRun)
    return runs[0]


def _same(a: MeasuredRun, b: MeasuredRun) -> dict[str, tuple[Any, Any]]:
    """The fields in which two runs differ, beside the file they were read from."""
    x, y = a.model_dump(exclude={"file", "label"}), b.model_dump(exclude={"file", "label"})
    return {k: (x[k], y[k]) for k in x if x[k] != y[k]}


def test_a_detail_log_gives_the_run_its_summary_gives(tmp_path):
    detail = _load(tmp_path / "a.mlperf_log_detail.txt", _log(SERVER))
    summary = _load(tmp_path / "a.mlperf_log_summary.txt", SUMMARY)
    assert _same(detail, summary) == {}
    assert detail.engine == "mlperf" and detail.throughput_window == "final-query"
    # the Server rates at the summary's two decimals: the scheduled 18.3614 req/s is the summary's 18.36
    assert detail.request_rate_rps == 18.36 and detail.completed == round(18.36 * 600) + 1
    assert detail.metrics["request_throughput_rps"] == 18.06 and detail.metrics["tpot_p99_ms"] == 167.933588


def test_an_offline_detail_log_gives_throughput_only(tmp_path):
    off = {
        "effective_scenario": "Offline",
        "effective_test_mode": "PerformanceOnly",
        "effective_min_duration_ms": 600000,
        "effective_samples_per_query": 24576,
        "result_samples_per_second": 18.9752,
        "result_tokens_per_second": 5539.47,
    }
    run = _load(tmp_path / "o.mlperf_log_detail.txt", _log(off))
    assert run.request_rate_rps is None and run.completed == 24576 and run.throughput_window == "last-completion"
    # Offline: the summary prints the rates as the detail log holds them (six digits); no rounding
    assert run.metrics == {"request_throughput_rps": 18.9752, "output_tok_s": 5539.47}


def test_a_rate_on_a_rounding_tie_keeps_its_six_digits(tmp_path):
    """102.705 may be the summary's 102.70 or 102.71 (the six digits were rounded once already): kept as logged."""
    run = _load(tmp_path / "t.mlperf_log_detail.txt", _log({**SERVER, "result_scheduled_samples_per_sec": 102.705}))
    assert run.request_rate_rps == 102.705
    run = _load(tmp_path / "t.mlperf_log_detail.txt", _log({**SERVER, "result_scheduled_samples_per_sec": 102.7051}))
    assert run.request_rate_rps == 102.71


def _detail_runs() -> list[Path]:
    return sorted(DETAIL.glob("*.mlperf_log_detail.txt"))


def test_every_shipped_detail_log_gives_the_run_of_its_published_summary(tmp_path):
    """The four Supermicro v4.1 runs ship as LoadGen's detail logs, and their summaries (the same test, published
    beside them) in ``same-run/``: each pair reads into the same run. The one difference LoadGen's two files allow:
    tokens/s above 10,000, which the detail log holds to one decimal and the summary to two (within 0.05)."""
    paths = _detail_runs()
    assert len(paths) == 4
    db = ProfileDB.load(MLPERF / "profiles")
    for path in paths:
        name = path.name.removesuffix(".mlperf_log_detail.txt")
        summary = tmp_path / f"{name}.mlperf_log_summary.txt"
        shutil.copy(SAME_RUN / summary.name, summary)
        shutil.copy(path.with_name(path.stem + ".meta.yaml"), summary.with_name(summary.stem + ".meta.yaml"))
        (detail,) = load_runs(path, db)
        (published,) = load_runs(summary, db)
        assert isinstance(detail, MeasuredRun) and isinstance(published, MeasuredRun)
        differ = _same(detail, published)
        assert set(differ) <= {"metrics"}, (name, set(differ))
        if differ:
            a, b = detail.metrics, published.metrics
            assert {m for m in a if a[m] != b[m]} == {"output_tok_s"}, name
            assert abs(a["output_tok_s"] - b["output_tok_s"]) <= 0.05 and a["output_tok_s"] > 10_000, name
        assert detail.completed == published.completed and detail.request_rate_rps == published.request_rate_rps


def test_the_shipped_detail_runs_are_supermicros_eight_gpu_systems():
    """TP 2 x 4 engines (``H100_SXM_80GB_TP2x4_HighAccuracy``), ``gpu_batch_size`` 1,024, KV share 0.90, and the
    v4.1 parent class's ``max_num_tokens`` 4,096 (SOURCE.md); each at the rate its summary states."""
    db = ProfileDB.load(MLPERF / "profiles")
    for path in _detail_runs():
        (run,) = load_runs(path, db)
        assert isinstance(run, MeasuredRun)
        assert (run.gpu, run.tp, run.model, run.instances) == ("H100-80G", 2, "llama2-70b-fp8", 4), path.name
        assert run.limits.max_batch_requests == 1024 and run.limits.kv_memory_fraction == 0.9, path.name
        assert run.limits.max_batch_tokens == 4096, path.name
        assert "mlperf_log_detail.txt @ a2f5d66d17e8f75c02fd74dfe810ecca6a046696" in run.source, path.name
        assert run.request_rate_rps is not None and run.completed == round(run.request_rate_rps * 2400) + 1
        assert len(run.metrics) == 8, path.name


def _bad(tmp_path: Path, text: str) -> str:
    with pytest.raises(SpecError) as exc:
        _load(tmp_path / "x.mlperf_log_detail.txt", text)
    assert len(exc.value.lines()) == 1
    return exc.value.lines()[0]


def test_bad_detail_logs_name_the_file_and_the_record(tmp_path):
    without = {k: v for k, v in SERVER.items() if k != "result_first_token_99.00_percentile_latency_ns"}
    line = _bad(tmp_path, _log(without))
    assert line.endswith("x.mlperf_log_detail.txt: result_first_token_99.00_percentile_latency_ns: missing")
    line = _bad(tmp_path, _log({**SERVER, "result_completed_tokens_per_second": "n/a"}))
    assert line.endswith("result_completed_tokens_per_second: must be a number, got 'n/a'")
    line = _bad(tmp_path, _log({**SERVER, "result_time_per_output_token_99.00_percentile_ns": 100}))
    assert "result_time_per_output_token_99.00_percentile_ns: p99" in line
    assert "below the median result_time_per_output_token_50.00_percentile_ns" in line
    assert "effective_test_mode: 'AccuracyOnly' carries no performance" in _bad(
        tmp_path, _log({**SERVER, "effective_test_mode": "AccuracyOnly"})
    )
    assert "effective_scenario: 'SingleStream' is not replayable" in _bad(
        tmp_path, _log({**SERVER, "effective_scenario": "SingleStream"})
    )
    twice = _log(SERVER, _record("result_completed_samples_per_sec", 17.0))
    assert "result_completed_samples_per_sec: logged twice with different values (18.0592, then 17.0" in _bad(
        tmp_path, twice
    )
    broken = _log(SERVER).splitlines()
    broken[2] = broken[2].replace(":::MLLOG {", ":::MLLOG {{")
    assert "x.mlperf_log_detail.txt:3: line 3: invalid JSON" in _bad(tmp_path, "\n".join(broken))
    assert ": line 2: not a LoadGen ':::MLLOG {json}' record" in _bad(tmp_path, _record("a", 1) + "\nhello\n")
    assert "line 1: a record must be a JSON object with 'key' and 'value'" in _bad(tmp_path, ':::MLLOG {"k": 1}\n')
    assert "unrecognised text file" in _bad(tmp_path, "hello\n")


def test_a_bad_detail_log_exits_2_on_the_command_line(runner, tmp_path):
    f = tmp_path / "x.mlperf_log_detail.txt"
    f.write_text(_log({k: v for k, v in SERVER.items() if k != "result_completed_samples_per_sec"}))
    (tmp_path / "x.mlperf_log_detail.meta.yaml").write_text(SIDECAR)
    res = runner.invoke(app, ["accuracy", str(f), "--profiles", str(MLPERF / "profiles")])
    assert res.exit_code == 2
    assert res.stderr.strip().splitlines() == [f"{f}: result_completed_samples_per_sec: missing"]


DETAIL_BLOCK = "### MLPerf Llama-2-70B Server runs read from LoadGen's detail log"
X2 = MLPERF / "v4.0-nvidia-dgx-h100x2-99.9.mlperf_log_summary.txt"
X2_OFFLINE = (
    MLPERF.parent / "mlcommons-llama2-70b-offline" / "v4.0-nvidia-dgx-h100x2-99.9-offline.mlperf_log_summary.txt"
)
LABELS = {
    "v4.1-supermicro-as4125gs": "Supermicro AS-4125GS-TNHR2-LCC x8 v4.1",
    "v4.1-supermicro-as8125gs": "Supermicro AS-8125GS-TNHR x8 v4.1",
    "v4.1-supermicro-sys421ge": "Supermicro SYS-421GE-TNHR2-LCC x8 v4.1",
    "v4.1-supermicro-sys821ge": "Supermicro SYS-821GE-TNHR x8 v4.1",
}


@pytest.mark.slow
def test_docs_show_the_held_out_figures_of_the_detail_runs(tmp_path):
    """docs/accuracy.md's block on the detail-log runs shows what the code computes (about 5 minutes): the fit on the
    DGX H100 x2 Server and Offline runs predicts the four Supermicro runs (signed request throughput / TTFT p99 / TPOT
    p99 / E2E p99), as shipped (``max_batch_tokens`` 4,096) and with the 16,384 the older v4.1 sidecars stated
    until the eighth session."""
    from planner.calibrate.api import accuracy_files, calibrate_files

    db = ProfileDB.load(MLPERF / "profiles")
    text = (ROOT / "docs" / "accuracy.md").read_text().split(DETAIL_BLOCK)[1].split("\n### ")[0]
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ")}
    figures = ("request_throughput_rps", "ttft_p99_ms", "tpot_p99_ms", "e2e_p99_ms")

    def cell(errors: dict[str, float]) -> str:
        return " / ".join(f"{errors[m] * 100:+,.1f}" for m in figures) + " %"

    tokens16k = tmp_path / "tokens16k"
    tokens16k.mkdir()
    for path in _detail_runs():
        shutil.copy(path, tokens16k / path.name)
        side = path.with_name(path.stem + ".meta.yaml")
        (tokens16k / side.name).write_text(
            side.read_text().replace("max_batch_tokens: 4096", "max_batch_tokens: 16384")
        )
    calibrate_files([X2, X2_OFFLINE], db, tmp_path / "fit", loo=False)
    fit = ProfileDB.load(tmp_path / "fit")
    shipped = accuracy_files(_detail_runs(), fit)
    wider = accuracy_files(sorted(tokens16k.glob("*.mlperf_log_detail.txt")), fit)
    for report, column in ((shipped, 3), (wider, 4)):
        assert len(report.runs) == 4
        for run in report.runs:
            label = next(v for k, v in LABELS.items() if Path(run.label).name.startswith(k))
            cells = [c.strip() for c in rows[label].strip().strip("|").split("|")]
            assert cells[column] == cell(run.errors), (label, column, cells)
            assert abs(run.errors["request_throughput_rps"]) < 0.10, label
