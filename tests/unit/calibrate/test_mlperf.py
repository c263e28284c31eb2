"""MLPerf LoadGen summaries (``mlperf_log_summary.txt``): the published Llama-2-70B Server runs (MLCommons inference
results, Apache-2.0) load with the figures the files state, a bad file gets one line naming file and field (exit
2), and the replay splits a run's load over the engine instances its system ran."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from planner.calibrate.accuracy import Aggregate
from planner.calibrate.api import accuracy_files
from planner.calibrate.fit import fit_sample
from planner.calibrate.ingest import MeasuredRun, load_runs
from planner.calibrate.itermodel import current_hardware
from planner.calibrate.replay import kv_admission, mixed_batch, replay
from planner.cli.app import app
from planner.errors import SpecError
from planner.profiles.db import ProfileDB

ROOT = Path(__file__).resolve().parents[3]
MLPERF = ROOT / "tests" / "fixtures" / "calibrate" / "public" / "mlcommons-llama2-70b-server"
H100X2 = MLPERF / "v4.0-nvidia-dgx-h100x2-99.9.mlperf_log_summary.txt"
OFFLINE = MLPERF.parent / "mlcommons-llama2-70b-offline"
H100X2_OFFLINE = OFFLINE / "v4.0-nvidia-dgx-h100x2-99.9-offline.mlperf_log_summary.txt"
# the second calibration set: H200-SXM-141GB, one TP 1 engine per GPU (SOURCE.md there); its Offline run in offline/
H200 = MLPERF.parent / "mlcommons-llama2-70b-h200"
H200X8 = H200 / "v4.0-nvidia-h200x8-99.9.mlperf_log_summary.txt"
H200X8_OFFLINE = H200 / "offline" / "v4.0-nvidia-h200x8-99.9-offline.mlperf_log_summary.txt"
SIDECAR = "gpu: H100-80G\ntp: 2\nmodel: llama2-70b-fp8\nmean_input_tokens: 512\n"
# the six runs the fifth session's held-out and leave-one-out table was measured on (docs/accuracy.md); the runs
# added later have their own held-out table
FIRST_SIX = [
    MLPERF / f"{name}.mlperf_log_summary.txt"
    for name in (
        "v4.0-dell-xe8640-h100x4-99.9",
        "v4.0-dell-xe9680-h100x8-99.9",
        "v4.0-nvidia-dgx-h100x2-99.9",
        "v4.0-nvidia-dgx-h100x8-99.9",
        "v4.0-supermicro-sys821ge-h100x8-99.9",
        "v4.1-nvidia-dgx-h100x8-99.9",
    )
]
# what a submitter's own config sets apart from NVIDIA's classes (``kvcache_free_gpu_mem_frac``, ``gpu_batch_size``
# in ``closed/HPE/configs/llama2-70b/Server/custom.py``, v4.0 and v4.1; SOURCE.md)
KV_SHARE = {"v4.0-hpe-xd670-h100x8-99.9": 0.97, "v4.1-hpe-xd670-h100x8-99.9": 0.97}
BATCH = {"v4.0-hpe-xd670-h100x8-99.9": 896}
# the two Dell v4.1 runs (and GigaComputing's v4.1 H200 run) whose Server accuracy.txt is not in the stored copies:
# the same system's Offline accuracy run (same engine build and greedy decoding) stands in
OFFLINE_ACCURACY = {
    "v4.1-dell-xe9680-h100x8-99.9",
    "v4.1-dell-xe9640-h100x4-99.9",
    "v4.1-gigacomputing-g593-h200x8-99.9",
}
# each shipped set of Server runs: its directory, how many runs, the (GPU, TP) key of its engines and the LoadGen file
# each run ships as (the Supermicro v4.1 runs of detail/: LoadGen's detail log; test_mlperf_detail.py)
SETS = {
    "h100": (MLPERF, 15, ("H100-80G", 2), "summary"),
    "h200": (H200, 3, ("H200", 1), "summary"),
    "h100-detail": (MLPERF / "detail", 4, ("H100-80G", 2), "detail"),
    "h100-more": (MLPERF / "v4.1-more", 3, ("H100-80G", 2), "summary"),
    "h200-more": (H200 / "v4.1-more", 3, ("H200", 1), "summary"),
}


@pytest.fixture(scope="module")
def fp8_db() -> ProfileDB:
    return ProfileDB.load(MLPERF / "profiles")


def _one(path: Path, db: ProfileDB) -> MeasuredRun:
    runs = load_runs(path, db)
    assert len(runs) == 1 and isinstance(runs[0], MeasuredRun)
    return runs[0]


def test_published_server_run_loads_the_stated_figures(fp8_db):
    run = _one(H100X2, fp8_db)
    assert run.engine == "mlperf" and run.provenance == "measured"
    assert "mlcommons/inference_results_v4.0" in run.source and "Apache-2.0" in run.source
    assert (run.gpu, run.tp, run.model, run.instances) == ("H100-80G", 2, "llama2-70b-fp8", 1)
    assert run.limits.max_batch_requests == 1024
    m = run.metrics
    assert m["request_throughput_rps"] == 18.06 and m["output_tok_s"] == 5271.98
    assert m["ttft_p50_ms"] == pytest.approx(354.963724) and m["ttft_p99_ms"] == pytest.approx(596.238777)
    assert m["tpot_p50_ms"] == pytest.approx(136.885751) and m["tpot_p99_ms"] == pytest.approx(167.933588)
    assert m["e2e_p50_ms"] == pytest.approx(33536.121888) and m["e2e_p99_ms"] == pytest.approx(130074.779176)
    # Poisson arrivals at the rate LoadGen drew, (n - 1) / the final query's time, which is the 600 s minimum
    # duration: n = 18.36 x 600 + 1; its throughput figures are over the final query's completion (LoadGen's)
    assert run.request_rate_rps == 18.36 and run.completed == round(18.36 * 600) + 1
    assert run.throughput_window == "final-query"
    # the published totals are kept: mean output = tokens/s / samples/s, the stated mean input
    assert sum(run.output_tokens) / run.completed == pytest.approx(5271.98 / 18.06, rel=0.01)
    assert sum(run.input_tokens) / run.completed == pytest.approx(222.33, rel=0.01)


def test_every_published_run_loads(fp8_db):
    runs = [_one(p, fp8_db) for p in sorted(MLPERF.glob("*.mlperf_log_summary.txt"))]
    assert len(runs) == 15 and set(FIRST_SIX) <= set(MLPERF.glob("*.mlperf_log_summary.txt"))
    assert {r.instances for r in runs} == {1, 2, 4}
    assert all(len(r.metrics) == 8 for r in runs)  # throughput, tok/s, TTFT / TPOT / E2E p50 and p99


def test_offline_summary_gives_throughput_only(tmp_path, fp8_db):
    f = tmp_path / "off.mlperf_log_summary.txt"
    f.write_text(
        "MLPerf Results Summary\nScenario : Offline\nMode     : PerformanceOnly\nSamples per second: 40.5\n"
        "Tokens per second: 11800.0\nmin_duration (ms): 600000\nperformance_sample_count : 24576\n"
    )
    (tmp_path / "off.mlperf_log_summary.meta.yaml").write_text(SIDECAR)
    run = _one(f, fp8_db)
    assert run.request_rate_rps is None and run.completed == 24576
    assert run.metrics == {"request_throughput_rps": 40.5, "output_tok_s": 11800.0}


def test_published_h200_runs_load_eight_tp1_engines(fp8_db):
    """The H200 set: NVIDIA's v4.0 x8 (``H200_SXM_141GBx8``), Lenovo's and GigaComputing's v4.1 x8, each eight TP 1
    engines behind one LoadGen at the rate the summary states, over LoadGen's 2,400 s minimum duration."""
    runs = {p.name: _one(p, fp8_db) for p in sorted(H200.glob("*.mlperf_log_summary.txt"))}
    assert len(runs) == 3
    for name, run in runs.items():
        assert (run.gpu, run.tp, run.model, run.instances) == ("H200", 1, "llama2-70b-fp8", 8), name
        assert run.provenance == "measured" and "Apache-2.0" in run.source, name
        assert run.request_rate_rps is not None and run.completed == round(run.request_rate_rps * 2400) + 1, name
        assert len(run.metrics) == 8, name
    m = runs[H200X8.name].metrics
    assert m["request_throughput_rps"] == 90.35 and m["output_tok_s"] == 26485.43
    assert m["ttft_p99_ms"] == pytest.approx(753.113481) and m["tpot_p99_ms"] == pytest.approx(194.987874)
    assert m["e2e_p99_ms"] == pytest.approx(159314.242438)
    off = _one(H200X8_OFFLINE, fp8_db)
    assert off.request_rate_rps is None and off.completed == 253440 and off.instances == 8
    assert off.limits.max_batch_requests == 806 and off.limits.kv_memory_fraction == 0.9
    assert off.metrics == {"request_throughput_rps": 94.6223, "output_tok_s": 27738.3}


def test_published_offline_run_sends_its_one_query_at_once(fp8_db):
    run = _one(H100X2_OFFLINE, fp8_db)
    assert run.request_rate_rps is None and run.completed == 24576 and run.limits.max_batch_requests == 896
    assert run.metrics == {"request_throughput_rps": 18.9752, "output_tok_s": 5539.47}
    rep = accuracy_files([H100X2_OFFLINE], fp8_db)
    assert {e for r in rep.runs for e in r.errors} == {"request_throughput_rps", "output_tok_s"}


def _bad(tmp_path: Path, text: str, sidecar: str = SIDECAR) -> str:
    f = tmp_path / "x.mlperf_log_summary.txt"
    f.write_text(text)
    (tmp_path / "x.mlperf_log_summary.meta.yaml").write_text(sidecar)
    with pytest.raises(SpecError) as exc:
        load_runs(f, ProfileDB.load(MLPERF / "profiles"))
    assert len(exc.value.lines()) == 1
    return exc.value.lines()[0]


def test_bad_files_name_the_file_and_the_field(tmp_path):
    good = H100X2.read_text()
    line = _bad(tmp_path, good.replace("99.00 percentile first token latency (ns)", "99 pct first token"))
    assert line.endswith("x.mlperf_log_summary.txt: 99.00 percentile first token latency (ns): missing")
    tokens = "Completed tokens per second                 : 5271.98"
    assert "Completed tokens per second: must be a number" in _bad(
        tmp_path, good.replace(tokens, "Completed tokens per second : n/a")
    )
    assert "Scenario: 'SingleStream' is not replayable" in _bad(tmp_path, good.replace("Server", "SingleStream"))
    assert "unrecognised text file" in _bad(tmp_path, "hello\n")
    no_input = _bad(tmp_path, good, SIDECAR.replace("mean_input_tokens: 512\n", ""))
    assert "x.mlperf_log_summary.meta.yaml: mean_input_tokens:" in no_input


def test_bad_file_exits_2_on_the_command_line(runner, tmp_path):
    f = tmp_path / "x.mlperf_log_summary.txt"
    f.write_text(H100X2.read_text().replace("Completed samples per second    : 18.06\n", ""))
    (tmp_path / "x.mlperf_log_summary.meta.yaml").write_text(SIDECAR)
    res = runner.invoke(app, ["accuracy", str(f), "--profiles", str(MLPERF / "profiles")])
    assert res.exit_code == 2
    assert res.stderr.strip().splitlines() == [f"{f}: Completed samples per second: missing"]


def test_the_load_is_split_across_the_instances(fp8_db):
    """Four engines take four times the load of one at the same latency: the one-instance replay of a four-engine
    run is saturated (its queue grows for the whole run), the four-instance replay is not."""
    run = _one(MLPERF / "v4.0-nvidia-dgx-h100x8-99.9.mlperf_log_summary.txt", fp8_db)
    run = run.model_copy(update={"input_tokens": run.input_tokens[:4000], "output_tokens": run.output_tokens[:4000]})
    hw = current_hardware(fp8_db, *run.key())
    four = replay(run, hw).metrics
    one = replay(run.model_copy(update={"instances": 1}), hw).metrics
    assert four["request_throughput_rps"] > 1.5 * one["request_throughput_rps"]
    assert four["ttft_p50_ms"] < one["ttft_p50_ms"] / 2


def test_the_roofline_serves_a_published_runs_load_and_predicts_its_latencies_low(fp8_db):
    """One run (the two-GPU system: the smallest replay) predicted on all eight figures by the analytic roofline
    (no measured row exists for FP8 Llama-2-70B): at the H100's FP8 tensor peak its load is served (request
    throughput within 5 %) and the roofline's optimism shows in every latency, predicted low. The same over all 15
    runs, with the table docs/accuracy.md prints, is the slow test below (three minutes of replay)."""
    rep = accuracy_files([H100X2], fp8_db)
    (run,) = rep.runs
    assert run.rests_on.startswith("analytic") and "2x H100-80G, FP8 tensor peak" in run.rests_on
    assert {a.metric for a in rep.aggregate} >= {"ttft_p99_ms", "tpot_p99_ms", "e2e_p99_ms"}
    assert abs(run.errors["request_throughput_rps"]) < 0.05
    assert all(run.errors[m] < 0 for m in ("ttft_p50_ms", "tpot_p50_ms", "tpot_p99_ms", "e2e_p99_ms"))


@pytest.mark.slow
def test_accuracy_runs_on_the_published_runs(fp8_db):
    """Every run is predicted on all eight figures, and docs/accuracy.md shows the errors the code computes (the
    analytic roofline: no measured row exists for FP8 Llama-2-70B). The FP8 weights run at the H100's FP8 tensor
    peak and the prompts at the dataset's published mean: every run's load is served (request throughput within
    5 %; 55.0 % off with the BF16 peak), and the roofline's optimism shows in every latency, predicted low."""
    rep = accuracy_files(sorted(MLPERF.glob("*.mlperf_log_summary.txt")), fp8_db)
    assert len(rep.runs) == 15 and all(r.rests_on.startswith("analytic") for r in rep.runs)
    assert all("2x H100-80G, FP8 tensor peak" in r.rests_on for r in rep.runs)
    figures = {a.metric: a for a in rep.aggregate}
    assert figures["ttft_p99_ms"].runs == 15 and figures["tpot_p99_ms"].runs == 15 and figures["e2e_p99_ms"].runs == 15
    assert figures["request_throughput_rps"].max_abs < 0.05
    for run in rep.runs:
        assert all(run.errors[m] < 0 for m in ("ttft_p50_ms", "tpot_p50_ms", "tpot_p99_ms", "e2e_p99_ms")), run.label
    lines = "\n".join(
        f"| `{a.metric}` | {a.runs} | {a.mean_abs * 100:.1f} % | {a.median_abs * 100:.1f} % | {a.p90_abs * 100:.1f} % "
        f"| {a.max_abs * 100:.1f} % |"
        for a in rep.aggregate
    )
    assert (ROOT / "docs" / "accuracy.md").read_text().count(lines) == 1, lines


@pytest.mark.parametrize(
    ("runs", "batch", "tokens"),
    [
        ("h100", 1024, 16384),
        ("h200", 896, 16384),
        ("h100-detail", 1024, 16384),
        ("h100-more", 1024, 16384),
        ("h200-more", 896, 16384),
    ],
)
def test_the_runs_replay_a_paged_engine_with_the_submissions_cache_share(fp8_db, runs, batch, tokens):
    """TensorRT-LLM under NVIDIA's harness (MAX_UTILIZATION: KV allocated as tokens are produced), 0.9 of the memory
    after weights for the cache (the submissions' ``kvcache_free_gpu_mem_frac``; HPE's 0.97), decode-plus-prompt
    iterations, and each submission's ``gpu_batch_size`` (H100: 1,024, HPE's v4.0 896; H200: 896)."""
    folder, count, key, log = SETS[runs]
    paths = sorted(folder.glob(f"*.mlperf_log_{log}.txt"))
    assert len(paths) == count
    for p in paths:
        run = _one(p, fp8_db)
        name = p.name.removesuffix(f".mlperf_log_{log}.txt")
        assert (run.gpu, run.tp) == key, name
        assert kv_admission(run) == "on-demand" and run.limits.kv_memory_fraction == KV_SHARE.get(name, 0.9), name
        assert run.limits.max_batch_requests == BATCH.get(name, batch), name
        # the engine build's max_num_tokens: v4.0, NVIDIA's builder default, which the Server classes do not override;
        # v4.1, the parent classes' 4,096 (SOURCE.md; the v4.1 sidecars said 16,384 until the eighth session)
        assert run.limits.max_batch_tokens == (4096 if name.startswith("v4.1") else tokens), p.name
        assert mixed_batch(run) == "decode-plus-prompt", p.name
    assert kv_admission(_one(H100X2, fp8_db).model_copy(update={"engine": "genai-perf"})) == "on-demand"  # stated


def test_a_fit_replays_one_engines_share_of_a_multi_engine_run(fp8_db):
    run = _one(MLPERF / "v4.1-nvidia-dgx-h100x8-99.9.mlperf_log_summary.txt", fp8_db)
    assert run.instances == 4 and run.request_rate_rps is not None
    share, times = fit_sample(run)
    assert times == 4 and share.instances == 1
    assert share.input_tokens == run.input_tokens[::4] and share.output_tokens == run.output_tokens[::4]
    assert share.completed == len(share.input_tokens) == -(-run.completed // 4)
    assert share.request_rate_rps == pytest.approx(run.request_rate_rps / 4)
    # the same window (requests over rate), and the lengths keep their spread
    assert share.completed / share.request_rate_rps == pytest.approx(run.completed / run.request_rate_rps, rel=1e-4)
    assert sum(share.output_tokens) / share.completed == pytest.approx(sum(run.output_tokens) / run.completed, rel=0.02)
    single = _one(H100X2, fp8_db)
    assert fit_sample(single) == (single, 1)  # one engine: replayed whole


@pytest.mark.parametrize("runs", sorted(SETS))
def test_each_runs_mean_output_agrees_with_its_published_accuracy_run(fp8_db, runs):
    """The shipped accuracy-run totals (24,576 samples, greedy decoding, one row per run) reproduce the tokens per
    sample each submission states, and the mean output the replay uses (the performance run's tokens/s over
    samples/s) is within 0.5 % of its own run's accuracy-run total: the same outputs in both modes."""
    folder, count, _, log = SETS[runs]
    totals = pd.read_csv(folder / "accuracy_run_totals.csv", comment="#")
    summaries = {p.name.removesuffix(f".mlperf_log_{log}.txt"): p for p in folder.glob(f"*.mlperf_log_{log}.txt")}
    assert sorted(totals["run"]) == sorted(summaries) and len(totals) == count
    for row in totals.itertuples():
        assert row.samples == 24576, row.run
        assert round(row.output_tokens / row.samples, 1) == row.tokens_per_sample, row.run
        assert row.repository.startswith("mlcommons/inference_results_v4.") and len(row.commit) == 40, row.run
        scenario = "Offline" if row.run in OFFLINE_ACCURACY else "Server"
        assert row.path.endswith(f"/llama2-70b-99.9/{scenario}/accuracy/accuracy.txt"), row.run
        run = _one(summaries[row.run], fp8_db)
        mean_out = sum(run.output_tokens) / run.completed
        assert mean_out == pytest.approx(row.output_tokens / row.samples, rel=0.005), row.run


def test_each_sidecar_states_the_datasets_published_mean_input():
    """The sidecars' ``mean_input_tokens`` is the dataset's prompt total over its samples, as shipped in
    ``dataset_length_totals.csv`` (24,576 samples; a third party's figures, see SOURCE.md), and the prompts the
    replay draws stay within the dataset's published range on average."""
    totals = pd.read_csv(MLPERF / "dataset_length_totals.csv", comment="#").set_index("column")
    row = totals.loc["tok_input_length"]
    assert row["samples"] == 24576 and (row["min"], row["max"]) == (48, 1021)
    mean = row["sum"] / row["samples"]
    sidecars = [*MLPERF.glob("*.meta.yaml"), *H200.glob("*.meta.yaml"), *(H200 / "offline").glob("*.meta.yaml")]
    sidecars += [*(MLPERF / "detail").glob("*.meta.yaml"), *(MLPERF / "v4.1-more").glob("*.meta.yaml")]
    sidecars += [*(H200 / "v4.1-more").glob("*.meta.yaml")]
    assert len(sidecars) == 15 + 3 + 1 + 4 + 3 + 3
    for side in sorted(sidecars):
        stated = yaml.safe_load(side.read_text())["mean_input_tokens"]
        assert stated == pytest.approx(mean, abs=0.005), side.name
        assert row["min"] <= stated <= row["max"]


MORE_RUNS = "### MLPerf Llama-2-70B Server runs of more submitters"


def _table_rows(text: str, metric: str, bar: str) -> list[list[str]]:
    return [
        [c.strip().replace("**", "") for c in line.strip("|").split("|")]
        for line in text.splitlines()
        if line.startswith(f"| `{metric}` | {bar} | ") and "held out" not in line
    ]


def _doc_row(metric: str, bar: str) -> list[str]:
    """The cells of the fifth session's re-measured MLPerf table's row for ``metric`` (the last such row of
    docs/accuracy.md before the block on more submitters' runs; older tables stay as measured), bold marks removed."""
    rows = _table_rows((ROOT / "docs" / "accuracy.md").read_text().split(MORE_RUNS)[0], metric, bar)
    assert rows, f"no row for {metric}"
    return rows[-1]


BARS = {"request_throughput_rps": "10 %", "ttft_p50_ms": "-", "ttft_p99_ms": "20 %", "tpot_p50_ms": "-",
        "tpot_p99_ms": "20 %", "e2e_p50_ms": "-", "e2e_p99_ms": "10 %"}  # fmt: skip


@pytest.mark.slow
def test_docs_show_the_mlperf_held_out_accuracy(fp8_db, tmp_path):
    """The fifth session's re-measured table of docs/accuracy.md is what the code computes on the first six runs
    (about 5 minutes): held out (the fit on the one single-engine run, then on that system's Server and Offline runs,
    predicts the five others), mean / max per figure; and the bar on request throughput met. Its leave-one-out
    column (the tenth session's, 7 min 42 s with ``--jobs 2``) is not checked here."""
    from planner.calibrate.api import calibrate_files

    others = [p for p in FIRST_SIX if p != H100X2]
    held: list[dict[str, Aggregate]] = []
    for fit_on, name in (([H100X2], "fit"), ([H100X2, H100X2_OFFLINE], "fit_offline")):
        calibrate_files(fit_on, fp8_db, tmp_path / name, loo=False)  # carries the FP8 model's definition
        held.append({a.metric: a for a in accuracy_files(others, ProfileDB.load(tmp_path / name)).aggregate})
    for metric, bar in BARS.items():
        cells = _doc_row(metric, bar)
        for agg, cell in ((held[0][metric], cells[2]), (held[1][metric], cells[3])):
            assert cell.startswith(f"{agg.mean_abs * 100:,.1f} / {agg.max_abs * 100:,.1f} %"), (metric, cell)
    assert held[0]["request_throughput_rps"].max_abs < 0.10 and held[1]["request_throughput_rps"].max_abs < 0.10


@pytest.mark.slow
def test_docs_show_the_held_out_accuracy_over_every_shipped_server_run(fp8_db, tmp_path):
    """The table of docs/accuracy.md's block on more submitters' runs is what the code computes (about 4 minutes):
    the fit on the DGX H100 x2 Server and Offline runs predicts the 14 other Server runs, mean / max per figure and
    the runs within each bar; request throughput is within its bar on every run."""
    from planner.calibrate.api import calibrate_files

    others = [p for p in sorted(MLPERF.glob("*.mlperf_log_summary.txt")) if p != H100X2]
    assert len(others) == 14
    calibrate_files([H100X2, H100X2_OFFLINE], fp8_db, tmp_path / "fit", loo=False)
    rep = accuracy_files(others, ProfileDB.load(tmp_path / "fit"))
    held = {a.metric: a for a in rep.aggregate}
    bars = {"request_throughput_rps": 0.10, "ttft_p99_ms": 0.20, "tpot_p99_ms": 0.20, "e2e_p99_ms": 0.10}
    text = (ROOT / "docs" / "accuracy.md").read_text().split(MORE_RUNS)[1]
    for metric, bar in BARS.items():
        rows = _table_rows(text, metric, bar)
        assert rows, f"no row for {metric}"
        cells, agg = rows[-1], held[metric]
        assert cells[2].startswith(f"{agg.mean_abs * 100:,.1f} / {agg.max_abs * 100:,.1f} %"), (metric, cells)
        if metric in bars:
            within = sum(abs(r.errors[metric]) <= bars[metric] for r in rep.runs)
            assert cells[3] == f"{within} of {len(rep.runs)}", (metric, cells)
    assert held["request_throughput_rps"].max_abs < 0.10


@pytest.mark.slow
def test_docs_show_the_h200_held_out_and_roofline_figures(tmp_path):
    """The H200 block of docs/accuracy.md shows what the code computes (about 2 minutes): the fit on NVIDIA's v4.0
    H200 x8 Server run alone predicts the two v4.1 runs (signed request throughput / TTFT p99 / TPOT p99 / E2E p99),
    and the roofline those of all three; request throughput is within its bar on every run."""
    from planner.calibrate.api import calibrate_files

    db = ProfileDB.load(H200 / "profiles")
    text = (ROOT / "docs" / "accuracy.md").read_text().split("### MLPerf Llama-2-70B on H200")[1]
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ")}
    figures = ("request_throughput_rps", "ttft_p99_ms", "tpot_p99_ms", "e2e_p99_ms")

    def cell(errors: dict[str, float]) -> str:
        return " / ".join(f"{errors[m] * 100:+,.1f}" for m in figures) + " %"

    held_out = [
        H200 / f"{n}.mlperf_log_summary.txt" for n in ("v4.1-lenovo-h200x8-99.9", "v4.1-gigacomputing-g593-h200x8-99.9")
    ]
    calibrate_files([H200X8], db, tmp_path / "fit", loo=False)
    rep = accuracy_files(held_out, ProfileDB.load(tmp_path / "fit"))
    roof = accuracy_files(sorted(H200.glob("*.mlperf_log_summary.txt")), db)
    labels = {
        "v4.0-nvidia": "NVIDIA v4.0 x8 (the fitted run)",
        "v4.1-lenovo": "Lenovo v4.1 x8",
        "v4.1-gigac": "GigaComputing v4.1 x8",
    }
    for report, column in ((rep, 2), (roof, 3)):
        for run in report.runs:
            label = next(v for k, v in labels.items() if Path(run.label).name.startswith(k))
            cells = [c.strip() for c in rows[label].strip().strip("|").split("|")]
            assert cells[column] == cell(run.errors), (label, column, cells)
            assert abs(run.errors["request_throughput_rps"]) < 0.10, label


V41_H200 = {
    "Lenovo": H200 / "v4.1-lenovo-h200x8-99.9.mlperf_log_summary.txt",
    "GigaComputing": H200 / "v4.1-gigacomputing-g593-h200x8-99.9.mlperf_log_summary.txt",
}


@pytest.mark.slow
def test_docs_show_the_h200_v41_cross_check(tmp_path):
    """The H200 block's v4.1 cross check is what the code computes (about 7 minutes): the fit on one v4.1 Server run
    alone predicts the other (signed request throughput / TTFT p99 / TPOT p99 / E2E p99), both ways."""
    from planner.calibrate.api import calibrate_files

    db = ProfileDB.load(H200 / "profiles")
    text = (ROOT / "docs" / "accuracy.md").read_text().split("### MLPerf Llama-2-70B on H200")[1].split("\n### ")[0]
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ")}
    figures = ("request_throughput_rps", "ttft_p99_ms", "tpot_p99_ms", "e2e_p99_ms")
    for fitted, held in (("Lenovo", "GigaComputing"), ("GigaComputing", "Lenovo")):
        label = f"{held} v4.1 x8, fit on {fitted} v4.1 x8"
        calibrate_files([V41_H200[fitted]], db, tmp_path / fitted, loo=False)
        (run,) = accuracy_files([V41_H200[held]], ProfileDB.load(tmp_path / fitted)).runs
        cells = [c.strip() for c in rows[label].strip().strip("|").split("|")]
        assert cells[1] == " / ".join(f"{run.errors[m] * 100:+,.1f}" for m in figures) + " %", (label, cells)
        assert abs(run.errors["request_throughput_rps"]) < 0.10, label
