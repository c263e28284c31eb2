"""Ingest: every supported format is read into the same figures; bad files get one line naming file and field."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from planner.calibrate.ingest import IterationTable, MeasuredRun, load_runs
from planner.errors import SpecError
from tests.unit.calibrate.conftest import vllm_record, write_json


def _one(path: Path, db, cli=None) -> MeasuredRun:
    runs = load_runs(path, db, cli)
    assert len(runs) == 1 and isinstance(runs[0], MeasuredRun)
    return runs[0]


def _error(path: Path, db, cli=None) -> str:
    with pytest.raises(SpecError) as exc:
        load_runs(path, db, cli)
    assert len(exc.value.lines()) == 1
    return exc.value.lines()[0]


def test_vllm_with_arrays(tmp_path, profile_db):
    run = _one(write_json(tmp_path, "v.json", vllm_record()), profile_db)
    assert run.engine == "vllm" and run.per_request
    assert (run.gpu, run.tp, run.model) == ("H100-80G", 8, "llama2-70b")
    assert run.request_rate_rps is None and run.max_concurrency == 2
    assert run.input_tokens == (100,) * 4 and run.output_tokens == (10,) * 4
    assert run.metrics["request_throughput_rps"] == 2.0
    assert run.metrics["ttft_p99_ms"] == 80.0 and run.metrics["tpot_p50_ms"] == 20.0
    # E2E p99 was not among --percentile-metrics: computed from ttfts + itls (230, 230, 230, 305 ms; numpy p99)
    assert run.metrics["e2e_p99_ms"] == pytest.approx(230 + 0.97 * 75)


def test_vllm_summary_only_uses_mean_lengths(tmp_path, profile_db):
    rec = vllm_record(p99_e2el_ms=400.0, request_rate=4.0)
    for k in ("input_lens", "output_lens", "ttfts", "itls", "errors"):
        rec.pop(k)
    run = _one(write_json(tmp_path, "v.json", rec), profile_db)
    assert not run.per_request and run.input_tokens == (100,) * 4 and run.output_tokens == (10,) * 4
    assert run.request_rate_rps == 4.0 and run.metrics["e2e_p99_ms"] == 400.0


def test_failed_requests_are_not_replayed(tmp_path, profile_db):
    rec = vllm_record(completed=3, request_throughput=1.5, output_throughput=15.0)
    rec["output_lens"] = [10, 10, 0, 10]
    rec["errors"] = ["", "", "timeout", ""]
    run = _one(write_json(tmp_path, "v.json", rec), profile_db)
    assert run.completed == 3 and len(run.input_tokens) == 3


def test_sglang_jsonl_holds_several_runs(tmp_path, profile_db):
    lines = []
    for rate in (1.0, 2.0):
        lines.append(
            json.dumps(
                {
                    "backend": "sglang",
                    "dataset_name": "random",
                    "request_rate": rate,
                    "max_concurrency": None,
                    "random_input_len": 1024,
                    "random_output_len": 128,
                    "duration": 100.0,
                    "completed": 100 * rate,
                    "total_input_tokens": 102400 * rate,
                    "total_output_tokens": 12800 * rate,
                    "total_output_tokens_retokenized": 12800 * rate,
                    "request_throughput": rate,
                    "input_throughput": 1024 * rate,
                    "output_throughput": 128 * rate,
                    "mean_e2e_latency_ms": 3000.0,
                    "median_e2e_latency_ms": 2900.0,
                    "p99_e2e_latency_ms": 4000.0,
                    "median_ttft_ms": 100.0,
                    "p99_ttft_ms": 300.0,
                    "median_tpot_ms": 22.0,
                    "p99_tpot_ms": 30.0,
                }  # fmt: skip
            )
        )
    p = tmp_path / "sg.jsonl"
    p.write_text("\n".join(lines) + "\n")
    runs = load_runs(p, profile_db, {"gpu": "h100", "tp": 8, "model": "llama-2-70b"})
    assert [r.engine for r in runs] == ["sglang", "sglang"]
    assert [r.label for r in runs] == [f"{p}#1", f"{p}#2"]
    assert runs[1].completed == 200 and runs[1].request_rate_rps == 2.0
    assert runs[0].metrics["e2e_p99_ms"] == 4000.0 and runs[0].input_tokens[0] == 1024


def test_genai_perf_export(tmp_path, profile_db):
    rec = {
        "request_throughput": {"unit": "requests/sec", "avg": 2.5},
        "output_token_throughput": {"unit": "tokens/sec", "avg": 500.0},
        "time_to_first_token": {"unit": "ms", "avg": 60.0, "p50": 55.0, "p99": 120.0},
        "inter_token_latency": {"unit": "ms", "avg": 21.0, "p50": 20.0, "p99": 26.0},
        "request_latency": {"unit": "ms", "avg": 4200.0, "p50": 4100.0, "p99": 5000.0},
        "input_sequence_length": {"unit": "tokens", "avg": 512.0},
        "output_sequence_length": {"unit": "tokens", "avg": 200.0},
        "request_count": {"unit": "count", "avg": 100},
        "input_config": {"loadgen": {"concurrency": 8}},
    }
    run = _one(write_json(tmp_path, "profile_export_genai_perf.json", rec), profile_db)
    assert run.engine == "genai-perf" and run.completed == 100 and run.max_concurrency == 8
    assert run.input_tokens[0] == 512 and run.output_tokens[0] == 200
    assert run.metrics == {
        "request_throughput_rps": 2.5, "output_tok_s": 500.0, "ttft_p50_ms": 55.0, "ttft_p99_ms": 120.0,
        "tpot_p50_ms": 20.0, "tpot_p99_ms": 26.0, "e2e_p99_ms": 5000.0,
    }  # fmt: skip


def test_iteration_csv(tmp_path, profile_db):
    p = tmp_path / "iters.csv"
    p.write_text("batch_size,tokens,prompt_ms,token_ms,power_w\n1,512,40,,600\n8,8,,25,450\n1,2048,130,,680\n")
    (t,) = load_runs(p, profile_db, {"gpu": "A100-80G", "tp": 4, "model": "llama2-70b"})
    assert isinstance(t, IterationTable)
    assert t.prompt_tokens == (512.0, 2048.0) and t.prompt_ms == (40.0, 130.0)
    assert t.token_batch == (8.0,) and t.token_ms == (25.0,) and t.power_w == (600.0, 450.0, 680.0)


@pytest.mark.parametrize(
    ("rec", "describe", "expected"),
    [
        ({"hello": 1}, True, "v.json: format: unrecognised benchmark format"),
        (vllm_record(request_throughput=3.0), True, "v.json: request_throughput: 3 req/s disagrees with completed"),
        (vllm_record(completed=3, request_throughput=1.5), True, "v.json: completed: 3 disagrees with 4 successful"),
        (vllm_record(p99_ttft_ms=10.0), True, "v.json: p99_ttft_ms: p99 10 is below the median median_ttft_ms 50"),
        (vllm_record(model_id="meta-llama/Llama-3.1-70B"), True, "v.json: model_id: 'meta-llama/Llama-3.1-70B' is"),
        (vllm_record(output_lens=[10, 10, 10]), True, "v.json: output_lens: has 3 entries, input_lens has 4"),
        (vllm_record(duration="long"), True, "v.json: duration: must be a number, got 'long'"),
        (vllm_record(), False, "v.json: gpu: not described: pass --gpu or put 'gpu:' in"),
    ],
)
def test_bad_files_name_file_and_field(tmp_path, profile_db, rec, describe, expected):
    msg = _error(write_json(tmp_path, "v.json", rec, describe=describe), profile_db)
    assert expected in msg, msg
    assert msg.startswith(str(tmp_path / "v.json")) or msg.startswith(str(tmp_path / "v.meta.yaml"))


def test_unknown_gpu_suggests(tmp_path, profile_db):
    p = write_json(tmp_path, "v.json", vllm_record(), describe=False)
    msg = _error(p, profile_db, {"gpu": "H100-80", "tp": 8, "model": "llama2-70b"})
    assert "gpu: unknown GPU 'H100-80' (did you mean 'H100-80G'?)" in msg


def test_sidecar_bad_value(tmp_path, profile_db):
    p = write_json(tmp_path, "v.json", vllm_record(), describe=False)
    p.with_name("v.meta.yaml").write_text("gpu: H100-80G\ntp: 0\nmodel: llama2-70b\n")
    assert "v.meta.yaml:2:5: tp: Input should be greater than 0" in _error(p, profile_db)


def test_sglang_reduced_record_derives_throughput(tmp_path, profile_db):
    # some bench_serving outputs keep only completed and duration (no request_throughput): it follows from them
    rec = {"backend": "sglang", "request_rate": 2.0, "max_concurrency": None, "total_input_tokens": 3000,
           "total_output_tokens": 6000, "total_output_tokens_retokenized": 5990, "median_e2e_latency_ms": 8000.0,
           "median_ttft_ms": 90.0, "output_throughput": 60.0, "duration": 100.0, "completed": 60}  # fmt: skip
    p = tmp_path / "sg.jsonl"
    p.write_text(json.dumps(rec) + "\n")
    (run,) = load_runs(p, profile_db, {"gpu": "H200", "tp": 8, "model": "llama3.1-70b"})
    assert run.metrics["request_throughput_rps"] == 0.6 and run.metrics["ttft_p50_ms"] == 90.0
    assert run.input_tokens[0] == 50 and run.output_tokens[0] == 100


def test_sidecar_clock_and_power_make_a_dvfs_run(tmp_path, profile_db):
    p = write_json(tmp_path, "run.json", vllm_record(), describe=False)
    p.with_name("run.meta.yaml").write_text(
        "gpu: H100-80G\ntp: 8\nmodel: llama2-70b\nfreq_mhz: 1400\npower_w: 2100.5\n"
    )
    (run,) = load_runs(p, profile_db)
    assert run.freq_mhz == 1400 and run.metrics["power_w"] == 2100.5 and run.dvfs
    plain = load_runs(write_json(tmp_path, "plain.json", vllm_record()), profile_db)[0]
    assert plain.freq_mhz is None and not plain.dvfs


def test_bad_clock_in_sidecar_exits_2_naming_it(tmp_path, profile_db):
    p = write_json(tmp_path, "run.json", vllm_record(), describe=False)
    p.with_name("run.meta.yaml").write_text("gpu: H100-80G\ntp: 8\nmodel: llama2-70b\nfreq_mhz: -5\n")
    with pytest.raises(SpecError) as exc:
        load_runs(p, profile_db)
    assert "run.meta.yaml" in str(exc.value) and "freq_mhz" in str(exc.value)


def test_iteration_csv_rows_keep_power_and_context_per_row(tmp_path, profile_db):
    p = tmp_path / "it.csv"
    p.write_text(
        "batch_size,tokens,prompt_ms,token_ms,context_tokens,power_w\n0,0,,,0,700\n1,512,40,,0,2200\n32,32,,18,1024,\n"
    )
    (t,) = load_runs(p, profile_db, {"gpu": "H100-80G", "tp": 8, "model": "llama2-70b", "freq_mhz": 1400})
    assert [r.kind for r in t.rows] == ["idle", "prompt", "token"]
    assert t.rows[0].power_w == 700 and t.rows[1].ms == 40 and t.rows[2].context == 1024 and t.rows[2].power_w is None
    assert t.freq_mhz == 1400 and t.dvfs


def test_published_open_loop_medians_without_throughput(tmp_path, profile_db):
    """A published table gives an open-loop run's medians but not its throughput: read, throughput not judged."""
    rec = {"completed": 100, "request_rate": 4, "total_input_tokens": 20000, "total_output_tokens": 19000,
           "median_ttft_ms": 30.0, "median_tpot_ms": 13.0, "median_e2e_latency_ms": 1500.0}  # fmt: skip
    p = tmp_path / "pub.jsonl"
    p.write_text(json.dumps(rec) + "\n")
    (run,) = load_runs(p, profile_db, {"gpu": "A100-80G", "tp": 1, "model": "llama3.1-8b"})
    assert run.engine == "sglang" and run.metrics == {"ttft_p50_ms": 30.0, "tpot_p50_ms": 13.0, "e2e_p50_ms": 1500.0}
    closed = {k: v for k, v in rec.items() if k != "request_rate"}
    p.write_text(json.dumps(closed) + "\n")
    with pytest.raises(SpecError) as exc:  # all at once: the throughput is the run's main figure, so it must be there
        load_runs(p, profile_db, {"gpu": "A100-80G", "tp": 1, "model": "llama3.1-8b"})
    assert "request_throughput: missing" in str(exc.value)


def _totals_only_run(tmp_path: Path) -> Path:
    """An SGLang result that publishes only token totals (211 input and 194 output tokens per request on average)."""
    rec = {"backend": "sglang", "completed": 1000, "num_prompts": 1000, "request_rate": 4, "median_ttft_ms": 30.0,
           "median_tpot_ms": 12.0, "median_e2e_latency_ms": 1500.0, "total_input_tokens": 211000,
           "total_output_tokens": 194000}  # fmt: skip
    p = tmp_path / "run.jsonl"
    p.write_text(json.dumps(rec) + "\n")
    return p


def test_length_shape_gives_the_trace_shape_at_the_run_means(tmp_path, profile_db):
    """A file with totals only and a sidecar naming a trace: per-request lengths with the trace's spread (its median
    well below its mean) and the run's own means; deterministic; a missing trace is a one-line error."""
    from planner.paths import SHIPPED_PROFILES
    from planner.workload import load_trace

    p = _totals_only_run(tmp_path)
    side = "gpu: A100-80G\ntp: 1\nmodel: llama3.1-8b\n"
    p.with_name("run.meta.yaml").write_text(side)
    (flat,) = load_runs(p, profile_db)
    assert set(flat.output_tokens) == {194} and not flat.per_request and flat.lengths_from == ""
    p.with_name("run.meta.yaml").write_text(side + "length_shape: azure_llm_2023_conv\n")
    (shaped,) = load_runs(p, profile_db)
    assert not shaped.per_request and "azure_llm_2023_conv.csv" in shaped.lengths_from
    out, inp = np.asarray(shaped.output_tokens), np.asarray(shaped.input_tokens)
    assert out.mean() == pytest.approx(194, rel=0.002) and inp.mean() == pytest.approx(211, rel=0.002)
    trace = load_trace(SHIPPED_PROFILES / "traces" / "azure_llm_2023_conv.csv").output_tokens
    assert np.median(out) / out.mean() == pytest.approx(np.median(trace) / trace.mean(), abs=0.05)
    assert np.median(out) / out.mean() < 0.75  # the median request is much shorter than the mean one
    assert load_runs(p, profile_db)[0].output_tokens == shaped.output_tokens
    p.with_name("run.meta.yaml").write_text(side + "length_shape: no-such-trace\n")
    with pytest.raises(SpecError, match="length_shape: no trace"):
        load_runs(p, profile_db)


def test_output_median_ratio_reshapes_the_answers_rank_for_rank(tmp_path, profile_db):
    """``output_median_ratio`` keeps the trace's pairing (each output keeps its rank) and the run's means, and gives
    the outputs a log-normal spread with that median over mean; without a length_shape it is a one-line error."""
    from scipy.stats import spearmanr

    p = _totals_only_run(tmp_path)
    side = "gpu: A100-80G\ntp: 1\nmodel: llama3.1-8b\nlength_shape: azure_llm_2023_conv\n"
    p.with_name("run.meta.yaml").write_text(side)
    (azure,) = load_runs(p, profile_db)
    p.with_name("run.meta.yaml").write_text(side + "output_median_ratio: 0.834\n")
    (reshaped,) = load_runs(p, profile_db)
    out = np.asarray(reshaped.output_tokens)
    assert out.mean() == pytest.approx(194, rel=0.002)
    assert np.median(out) / out.mean() == pytest.approx(0.834, abs=0.01)
    assert spearmanr(out, np.asarray(azure.output_tokens)).statistic > 0.99  # same order, other spread
    assert reshaped.input_tokens == azure.input_tokens
    assert "log-normal with median / mean 0.834" in reshaped.lengths_from
    p.with_name("run.meta.yaml").write_text("gpu: A100-80G\ntp: 1\nmodel: llama3.1-8b\noutput_median_ratio: 0.8\n")
    with pytest.raises(SpecError, match="output_median_ratio: reshapes the length_shape"):
        load_runs(p, profile_db)
    p.with_name("run.meta.yaml").write_text(side + "output_median_ratio: 1.2\n")
    with pytest.raises(SpecError, match="output_median_ratio"):
        load_runs(p, profile_db)
