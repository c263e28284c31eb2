"""Bad benchmark files through ``plan accuracy`` / ``plan calibrate``: one line naming the file and the field, exit 2,
never a traceback (the error contract of planner/errors.py), and contradictory figures refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from planner.calibrate.ingest import MLPERF_RATE_TOLERANCE, IterationTable, MeasuredRun, load_runs
from planner.cli.app import app
from planner.profiles.db import ProfileDB
from tests.unit.calibrate.conftest import vllm_record, write_json

DESCRIBED = ["--gpu", "H100-80G", "--tp", "8", "--model", "llama2-70b"]


def _exit_2(runner: Any, path: Path, *args: str, command: str = "accuracy") -> str:
    """The one stderr line of a command refused with exit 2 (no traceback)."""
    res = runner.invoke(app, [command, str(path), *args])
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    lines = res.stderr.strip().splitlines()
    assert res.exit_code == 2 and len(lines) == 1, res.output
    assert "<root>" not in lines[0] and "np.float" not in lines[0], lines[0]
    return lines[0]


def test_non_utf8_benchmark_files_name_the_file(runner, tmp_path):
    for name in ("v.json", "s.txt", "i.csv", "r.jsonl"):
        p = tmp_path / name
        p.write_bytes(b'{"completed": 4, "x": "\xff\xfe"}\n')
        assert _exit_2(runner, p, *DESCRIBED).startswith(f"{p}:1: file: benchmark file is not UTF-8 text")


def test_unknown_extension_lists_the_accepted_formats(runner, tmp_path):
    p = tmp_path / "run.xml"
    p.write_text("<run/>")
    msg = _exit_2(runner, p, *DESCRIBED)
    assert msg.startswith(f"{p}: format: '.xml' is not a recognised benchmark format (accepted: .json")
    assert all(ext in msg for ext in (".jsonl", ".txt", ".csv")) and "invalid JSON" not in msg


def test_whole_file_problems_name_what_is_wrong_not_root(runner, tmp_path):
    p = write_json(tmp_path, "v.json", {"hello": 1})
    assert _exit_2(runner, p).startswith(f"{p}: format: unrecognised benchmark format")
    p.write_text("[1, 2]")
    assert _exit_2(runner, p) == f"{p}: format: a benchmark result must be a JSON object"
    p.write_text('{"completed": 4,\n "duration": }')
    assert _exit_2(runner, p) == f"{p}:2: line 2: invalid JSON: Expecting value"
    p.write_text("[" * 100_000 + "]" * 100_000)
    assert _exit_2(runner, p).startswith(f"{p}: file: invalid JSON: ")


def _vllm(tmp_path: Path, **over: Any) -> Path:
    return write_json(tmp_path, "v.json", vllm_record(**over))


def _summary_only(**over: Any) -> dict[str, Any]:
    """A vLLM result saved without its per-request arrays."""
    rec = vllm_record(**over)
    for k in ("input_lens", "output_lens", "ttfts", "itls", "errors"):
        rec.pop(k)
    return rec


@pytest.mark.parametrize(
    ("over", "expected"),
    [
        ({"request_throughput": 0}, "request_throughput: must be > 0, got 0"),
        ({"output_throughput": 0}, "output_throughput: must be > 0, got 0"),
        ({"duration": 0}, "duration: must be > 0, got 0"),
        ({"burstiness": 0}, "burstiness: must be > 0, got 0"),
        ({"itls": [["a"] * 9] * 4}, "itls[0][0]: must be a time >= 0 in seconds, got 'a'"),
        ({"itls": "fast"}, "itls: must be a list of per-request lists of times in seconds, got 'fast'"),
        ({"ttfts": [0.05, "x", 0.08, 0.05]}, "ttfts[1]: must be a time >= 0 in seconds, got 'x'"),
        ({"ttfts": [0.05, 0.05, -0.08, 0.05]}, "ttfts[2]: must be a time >= 0 in seconds, got -0.08"),
        (
            {"itls": [[0.02] * 9] * 2 + [[0.02] * 8 + [-1], [0.02] * 9]},
            "itls[2][8]: must be a time >= 0 in seconds, got -1",
        ),
        ({"median_ttft_ms": -20.1}, "median_ttft_ms: must be >= 0, got -20.1"),
        ({"duration": 10**400}, "duration: an integer of 401 digits is out of range"),
        ({"ttfts": [0.05, 10**400, 0.08, 0.05]}, "ttfts[1]: must be a time >= 0 in seconds, got an integer of 401"),
        ({"input_lens": [100, 10**12, 100, 100]}, "input_lens: must be a list of token counts (integers from 0 to"),
    ],
)
def test_impossible_vllm_figures_exit_2_naming_the_field(runner, tmp_path, over, expected):
    p = _vllm(tmp_path, **over)
    assert _exit_2(runner, p).startswith(f"{p}: {expected}")


def test_absurd_request_count_is_refused_before_any_allocation(runner, tmp_path):
    huge = _summary_only(completed=1e12, request_throughput=5e11, num_prompts=1e12)
    p = write_json(tmp_path, "v.json", huge)
    assert _exit_2(runner, p) == f"{p}: completed: 1000000000000 requests is not a plausible run (at most 2,000,000)"
    huge.pop("num_prompts")
    p.write_text(json.dumps(huge))
    assert "completed: 1000000000000 requests is not a plausible run" in _exit_2(runner, p)
    huge["num_prompts"] = 4
    p.write_text(json.dumps(huge))
    assert _exit_2(runner, p) == f"{p}: completed: 1000000000000 is more than num_prompts 4 (the requests sent)"


@pytest.mark.parametrize(
    ("text", "prompts", "tokens"),
    [
        ("batch_size,tokens,token_ms\n8,8,25\n16,16,27\n", 0, 2),
        ("tokens,prompt_ms\n512,40\n2048,130\n", 2, 0),
    ],
)
def test_iteration_csv_with_either_time_column_alone_calibrates(runner, tmp_path, profile_db, text, prompts, tokens):
    """The reader accepts prompt_ms or token_ms alone and the fit takes whichever curve a table has: a table of one
    kind loads (it was a KeyError on the other column) and calibrates."""
    p = tmp_path / "iters.csv"
    p.write_text(text)
    (table,) = load_runs(p, profile_db, {"gpu": "H100-80G", "tp": 8, "model": "llama2-70b"})
    assert isinstance(table, IterationTable)
    assert (len(table.prompt_ms), len(table.token_ms)) == (prompts, tokens)
    res = runner.invoke(app, ["calibrate", str(p), "--out", str(tmp_path / "prof"), "--no-loo", *DESCRIBED])
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize(
    ("cells", "where", "got"),
    [
        ("1,512,inf,", "2: row 1.prompt_ms", "inf"),
        ("1,512,nan,", "2: row 1.prompt_ms", "'nan'"),
        ("1,512,-20.1,", "2: row 1.prompt_ms", "-20.1"),
        ("8,8,,NaN", "2: row 1.token_ms", "'NaN'"),
        ("8,8,," + "9" * 400, "2: row 1.token_ms", "an integer of 400 digits"),
    ],
)
def test_iteration_csv_refuses_non_finite_cells_naming_row_and_column(runner, tmp_path, cells, where, got):
    p = tmp_path / "iters.csv"
    p.write_text(f"batch_size,tokens,prompt_ms,token_ms\n{cells}\n8,8,,25\n")
    msg = _exit_2(runner, p, "--out", str(tmp_path / "prof"), *DESCRIBED, command="calibrate")
    assert msg == f"{p}:{where}: must be a finite number >= 0, got {got}"


def test_vllm_output_throughput_is_checked_against_the_totals_without_arrays(runner, tmp_path):
    p = write_json(tmp_path, "v.json", _summary_only(output_throughput=40.0))
    msg = _exit_2(runner, p)
    assert msg == (
        f"{p}: output_throughput: 40 disagrees with total_output_tokens / duration = 20 (more than 5 % apart)"
    )
    p.write_text(json.dumps(_summary_only(output_throughput=20.9)))  # 4.5 %: rounding, accepted
    assert "output_throughput" not in runner.invoke(app, ["accuracy", str(p)]).stderr


def test_vllm_completed_above_num_prompts_is_refused(runner, tmp_path):
    p = write_json(tmp_path, "v.json", _summary_only(num_prompts=2))
    assert _exit_2(runner, p) == f"{p}: completed: 4 is more than num_prompts 2 (the requests sent)"


def test_vllm_e2e_below_ttft_is_refused(runner, tmp_path):
    p = _vllm(tmp_path, p99_e2el_ms=70.0)
    assert _exit_2(runner, p).startswith(f"{p}: p99_e2el_ms: 70 ms is below p99_ttft_ms 80 ms")


GENAI = {
    "request_throughput": {"unit": "requests/sec", "avg": 2.5},
    "output_token_throughput": {"unit": "tokens/sec", "avg": 500.0},
    "time_to_first_token": {"unit": "ms", "avg": 60.0, "min": 20.0, "p50": 55.0, "p90": 100.0, "p99": 120.0},
    "inter_token_latency": {"unit": "ms", "avg": 21.0, "p50": 20.0, "p99": 26.0},
    "request_latency": {"unit": "ms", "avg": 4200.0, "p50": 4100.0, "p90": 4800.0, "p99": 5000.0, "max": 5100.0},
    "input_sequence_length": {"unit": "tokens", "avg": 512.0},
    "output_sequence_length": {"unit": "tokens", "avg": 200.0},
    "request_count": {"unit": "count", "avg": 100},
    "input_config": {"loadgen": {"concurrency": 8}},
}


@pytest.mark.parametrize(
    ("metric", "over", "expected"),
    [
        ("request_throughput", {"avg": 0}, "request_throughput.avg: must be > 0, got 0"),
        ("request_latency", {"p50": 6000.0}, "request_latency.p90: 4800 is below request_latency.p50 6000"),
        ("request_latency", {"max": 4000.0}, "request_latency.max: 4000 is below request_latency.p99 5000"),
        ("time_to_first_token", {"p50": 130.0}, "time_to_first_token.p90: 100 is below time_to_first_token.p50 130"),
        (
            "request_latency",
            {"unit": "s", "p50": 0.09, "p90": 0.1, "p99": 0.1, "max": 0.2},
            "request_latency.p99: 100 ms is below time_to_first_token.p99 120 ms",
        ),
        (
            "output_token_throughput",
            {"avg": 5000.0},
            "output_token_throughput.avg: 5000 disagrees with request_throughput.avg x output_sequence_length.avg",
        ),
    ],
)
def test_contradictory_genai_perf_export_is_refused(runner, tmp_path, metric, over, expected):
    rec = json.loads(json.dumps(GENAI))
    rec[metric].update(over)
    p = write_json(tmp_path, "profile_export_genai_perf.json", rec)
    assert _exit_2(runner, p).startswith(f"{p}: {expected}")


def test_genai_perf_percentiles_left_null_are_skipped_not_a_crash(tmp_path, profile_db):
    rec = json.loads(json.dumps(GENAI))
    rec["request_latency"]["p99"] = None
    (run,) = load_runs(write_json(tmp_path, "profile_export_genai_perf.json", rec), profile_db)
    assert isinstance(run, MeasuredRun) and "e2e_p99_ms" not in run.metrics


def test_genai_perf_output_throughput_tolerance_is_generous(tmp_path, profile_db):
    rec = json.loads(json.dumps(GENAI))
    rec["output_token_throughput"]["avg"] = 600.0  # 20 % above 2.5 req/s x 200 tokens
    (run,) = load_runs(write_json(tmp_path, "profile_export_genai_perf.json", rec), profile_db)
    assert isinstance(run, MeasuredRun) and run.metrics["output_tok_s"] == 600.0


MLPERF = Path(__file__).resolve().parents[2] / "fixtures" / "calibrate" / "public" / "mlcommons-llama2-70b-server"
H100X2 = MLPERF / "v4.0-nvidia-dgx-h100x2-99.9.mlperf_log_summary.txt"
MLPERF_SIDECAR = "gpu: H100-80G\ntp: 2\nmodel: llama2-70b-fp8\nmean_input_tokens: 512\n"


def _summary(tmp_path: Path, old: str, new: str) -> Path:
    """The published DGX H100 x2 Server summary with one line changed, and its sidecar."""
    text = H100X2.read_text()
    assert old in text
    p = tmp_path / "x.mlperf_log_summary.txt"
    p.write_text(text.replace(old, new))
    (tmp_path / "x.mlperf_log_summary.meta.yaml").write_text(MLPERF_SIDECAR)
    return p


def test_mlperf_scheduled_rate_far_below_completed_is_refused(runner, tmp_path):
    p = _summary(tmp_path, "Scheduled samples per second : 18.36", "Scheduled samples per second : 9.00")
    msg = _exit_2(runner, p, "--profiles", str(MLPERF / "profiles"))
    assert msg.startswith(f"{p}: Scheduled samples per second: 9 is below Completed samples per second 18.06")


def test_every_shipped_mlperf_summary_passes_the_rate_check(tmp_path):
    """Completed / scheduled on the published Server runs: 0.966-0.995, inside the tolerance with room."""
    summaries = sorted(MLPERF.parent.rglob("*.mlperf_log_summary.txt"))
    ratios = []
    for f in summaries:
        lines = dict(line.split(":", 1) for line in f.read_text().splitlines() if ":" in line)
        lines = {" ".join(k.split()): v.strip() for k, v in lines.items()}
        if "Scheduled samples per second" in lines:
            ratios.append(float(lines["Completed samples per second"]) / float(lines["Scheduled samples per second"]))
    assert len(ratios) >= 20 and max(ratios) < 1 + MLPERF_RATE_TOLERANCE


def test_vllm_result_without_completed_names_the_missing_field(runner, tmp_path):
    rec = vllm_record()
    rec.pop("completed")
    p = write_json(tmp_path, "v.json", rec)
    assert _exit_2(runner, p) == f"{p}: completed: missing"
    summary = _summary_only()
    summary.pop("completed")
    p.write_text(json.dumps(summary))  # request_throughput and the TTFT summary, no arrays: still a vLLM result
    assert _exit_2(runner, p) == f"{p}: completed: missing"


def _described_by(tmp_path: Path, sidecar: str) -> Path:
    p = write_json(tmp_path, "run.json", vllm_record(), describe=False)
    (tmp_path / "run.meta.yaml").write_text(sidecar)
    return p


@pytest.mark.parametrize(
    ("sidecar", "expected"),
    [
        ("gpu: H100-80\ntp: 8\nmodel: llama2-70b\n", "1:6: gpu: unknown GPU 'H100-80' (did you mean 'H100-80G'?)"),
        ("gpu: H100-80G\ntp: 8\nmodel: nomodel-7b\n", "3:8: model: unknown model 'nomodel-7b'"),
        ("gpu: H100-80G\ntp: [8\nmodel: llama2-70b\n", "3:6: sidecar: YAML syntax error: expected ',' or ']'"),
        ("gpu: H100-80G\ntp: 8\ntp: 4\nmodel: llama2-70b\n", "3:1: tp: duplicate key 'tp'"),
        ("gpu: H100-80G\ntp: 8\ntp: 4\nmodel: llama2-70b\nmodel: x\n", "3:1: tp: duplicate key 'tp'"),
        ("gpu: H100-80G\ntp: 8\nmodel: llama2-70b\nengine:\n  max_batch_tokens: 0\n", "5:21: engine.max_batch_tokens:"),
        ("- gpu: H100-80G\n", "1: sidecar: must be a mapping (gpu, tp, model, ...)"),
    ],
)
def test_sidecar_problems_are_reported_against_the_sidecar_and_its_key(runner, tmp_path, sidecar, expected):
    p = _described_by(tmp_path, sidecar)
    assert _exit_2(runner, p).startswith(f"{tmp_path / 'run.meta.yaml'}:{expected}")


def test_non_utf8_sidecar_names_the_sidecar(runner, tmp_path):
    p = write_json(tmp_path, "run.json", vllm_record(), describe=False)
    (tmp_path / "run.meta.yaml").write_bytes(b"gpu: H100-80G\xff\n")
    assert _exit_2(runner, p).startswith(f"{tmp_path / 'run.meta.yaml'}:1: sidecar: sidecar file is not UTF-8 text")


def test_a_command_line_value_is_reported_against_the_benchmark_file(runner, tmp_path):
    p = _described_by(tmp_path, "gpu: H100-80G\ntp: 8\nmodel: llama2-70b\n")
    assert _exit_2(runner, p, "--gpu", "H100-80").startswith(f"{p}: gpu: unknown GPU 'H100-80'")


def test_mlperf_run_marked_invalid_is_used_with_a_one_line_warning(runner, tmp_path):
    p = _summary(tmp_path, "Result is : VALID", "Result is : INVALID")
    res = runner.invoke(app, ["accuracy", str(p), "--profiles", str(MLPERF / "profiles"), "--format", "json"])
    assert res.exit_code == 0, res.output
    warnings = [line for line in res.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: {p}: Result is: INVALID: LoadGen found the run's constraints unmet; its measured "
                        "figures are used"]  # fmt: skip
    assert json.loads(res.stdout)["runs"]


def test_mlperf_detail_log_marked_invalid_warns_and_valid_runs_do_not(tmp_path):
    db = ProfileDB.load(MLPERF / "profiles")
    detail = sorted((MLPERF / "detail").glob("*.mlperf_log_detail.txt"))[0]
    valid: list[str] = []
    assert len(load_runs(detail, db, warn=valid.append)) == 1 and valid == []
    p = tmp_path / detail.name
    text = detail.read_text()
    assert '"key": "result_validity", "value": "VALID"' in text
    p.write_text(
        text.replace('"key": "result_validity", "value": "VALID"', '"key": "result_validity", "value": "INVALID"')
    )
    shutil.copy(detail.with_name(detail.stem + ".meta.yaml"), p.with_name(p.stem + ".meta.yaml"))
    warned: list[str] = []
    (run,) = load_runs(p, db, warn=warned.append)
    assert isinstance(run, MeasuredRun) and warned == [f"{p}: result_validity: INVALID: LoadGen found the run's "
                                                        "constraints unmet; its measured figures are used"]  # fmt: skip
