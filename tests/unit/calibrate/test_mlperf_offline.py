"""The v4.1 H100 systems' Offline runs (MLCommons inference results, Apache-2.0): they load as published, and what
they say about the Server runs of the same systems without any model (docs/accuracy.md, "Does a system's Offline run
pin its engine?")."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from planner.calibrate.ingest import MeasuredRun, load_all
from planner.profiles.db import ProfileDB

ROOT = Path(__file__).resolve().parents[3]
PUBLIC = ROOT / "tests" / "fixtures" / "calibrate" / "public"
SERVER = PUBLIC / "mlcommons-llama2-70b-server"
OFFLINE = PUBLIC / "mlcommons-llama2-70b-offline"
V41 = OFFLINE / "v4.1"
SUFFIX = "-offline.mlperf_log_summary.txt"


@pytest.fixture(scope="module")
def db() -> ProfileDB:
    return ProfileDB.load(SERVER / "profiles")


def _server_file(name: str) -> Path:
    found = [p for p in (*SERVER.glob(f"{name}.*.txt"), *SERVER.glob(f"*/{name}.*.txt")) if "meta" not in p.name]
    assert len(found) == 1, name
    return found[0]


def _sidecar(path: Path) -> dict[str, object]:
    return yaml.safe_load(path.with_name(path.name.replace(".txt", ".meta.yaml")).read_text())


def _loadgen_fields(path: Path) -> dict[str, float]:
    """Samples/s and tokens/s, and for a Server run the mean latency and TPOT p50 (ns), as LoadGen wrote them."""
    text = path.read_text()
    if "mlperf_log_detail" in path.name:
        keys = {
            "rate": "result_completed_samples_per_sec",
            "tok": "result_completed_tokens_per_second",
            "mean_ns": "result_mean_latency_ns",
            "tpot50_ns": "result_time_per_output_token_50.00_percentile_ns",
        }
        values = {}
        for line in text.splitlines():
            if line.startswith(":::MLLOG "):
                rec = json.loads(line.removeprefix(":::MLLOG "))
                values[rec["key"]] = rec["value"]
        return {k: float(values[v]) for k, v in keys.items()}

    def num(label: str) -> float:
        m = re.search(re.escape(label) + r"\s*:\s*([0-9.e+]+)", text)
        assert m, (path.name, label)
        return float(m.group(1))

    if "Scenario : Offline" in text:
        return {"rate": num("Samples per second"), "tok": num("Tokens per second")}
    return {
        "rate": num("Completed samples per second"),
        "tok": num("Completed tokens per second"),
        "mean_ns": num("Mean latency (ns)"),
        "tpot50_ns": num("50.00 percentile time to output token (ns)"),
    }


def test_the_offline_runs_load_as_published(db) -> None:
    """One Offline run per shipped v4.1 H100 Server run, each sending its whole query at once, with the submitter's
    Offline batch (896), KV share (0.90; HPE's 0.95) and the v4.1 token budget (4,096); throughput figures only."""
    files = sorted(V41.glob(f"*{SUFFIX}"))
    assert len(files) == 12
    runs, _ = load_all(files, db)
    for path, run in zip(files, runs, strict=True):
        assert isinstance(run, MeasuredRun)
        name = path.name.removesuffix(SUFFIX)
        server, _ = load_all([_server_file(name)], db)
        assert run.key() == server[0].key() == ("H100-80G", 2, "llama2-70b-fp8"), name
        assert run.instances == server[0].instances == (2 if "h100x4" in name else 4), name
        assert run.request_rate_rps is None and run.provenance == "measured", name
        queried = re.search(r"samples_per_query : (\d+)", path.read_text())
        assert queried and run.completed == int(queried.group(1)), name
        assert run.limits.max_batch_requests == 896 and run.limits.max_batch_tokens == 4096, name
        assert run.limits.kv_memory_fraction == (0.95 if "hpe" in name else 0.9), name
        f = _loadgen_fields(path)
        assert run.metrics == {"request_throughput_rps": f["rate"], "output_tok_s": f["tok"]}, name
        assert "llama2-70b-99.9/Offline/performance/run_1" in run.source and "Apache-2.0" in run.source, name
        # the dataset's published mean prompt, as every Server sidecar (test_mlperf.py checks it against its totals)
        assert _sidecar(path)["mean_input_tokens"] == _sidecar(_server_file(name))["mean_input_tokens"] == 222.33


def _littles_law_row(offline: Path) -> tuple[str, str]:
    """(run name, docs table row): per engine, the Offline run's tokens/s and time per token at its full batch, and
    the Server run's load, requests in flight (Little's law: rate x mean latency) and time per token at that
    concurrency (in flight / tokens/s), beside its measured TPOT p50. No model: the published figures only."""
    name = offline.name.removesuffix(SUFFIX)
    side = _sidecar(offline)
    engines = int(side["instances"])  # type: ignore[call-overload]
    batch = int(side["engine"]["max_batch_requests"])  # type: ignore[index]
    off, srv = _loadgen_fields(offline), _loadgen_fields(_server_file(name))
    rate = srv["rate"] / engines
    in_flight = rate * srv["mean_ns"] / 1e9
    per_token_ms = in_flight / (srv["tok"] / engines) * 1e3
    row = (
        f"| {name} | {engines} | {off['tok'] / engines:,.0f} | {batch / (off['tok'] / engines) * 1e3:.1f} | "
        f"{rate:.2f} | {in_flight:,.0f} | {per_token_ms:.1f} | {srv['tpot50_ns'] / 1e6:.1f} |"
    )
    return name, row


def test_docs_show_what_the_offline_and_server_runs_say_without_a_model() -> None:
    """The nine eight-GPU systems' engines are within 2.5 % of each other at full load (Offline), yet their Server runs
    imply 122-174 ms a token at 709-950 requests in flight; HPE's serves more load than NVIDIA's with fewer requests
    in flight and faster tokens, so no one iteration curve goes through both. The table is the docs'."""
    offline = [OFFLINE / f"v4.0-nvidia-dgx-h100x2-99.9{SUFFIX}", *sorted(V41.glob(f"*{SUFFIX}"))]
    rows = dict(_littles_law_row(p) for p in offline)
    docs = (ROOT / "docs" / "accuracy.md").read_text()
    for row in rows.values():
        assert docs.count(row) == 1, row
    cells = {n: [float(c.replace(",", "")) for c in r.strip("|").split("|")[1:]] for n, r in rows.items()}
    eight = {n: c for n, c in cells.items() if "h100x8" in n}
    full_load = [c[1] for c in eight.values()]
    assert len(eight) == 9 and max(full_load) / min(full_load) - 1.0 < 0.025
    server_token = [c[5] for c in eight.values()]
    assert min(server_token) < 125.0 and max(server_token) > 170.0
    hpe, nvidia = eight["v4.1-hpe-xd670-h100x8-99.9"], eight["v4.1-nvidia-dgx-h100x8-99.9"]
    assert hpe[3] > nvidia[3] and hpe[4] < nvidia[4] and hpe[5] < nvidia[5]  # more load, fewer in flight, faster
    for c in cells.values():
        assert c[5] == pytest.approx(c[6], rel=0.05)  # Little's law's time per token is the measured TPOT p50


@pytest.mark.slow
def test_the_held_out_fit_predicts_the_offline_runs(db, tmp_path) -> None:
    """The fit on the DGX H100 x2 Server and Offline runs (v4.0) predicts the twelve v4.1 Offline runs' throughput
    as docs/accuracy.md's table says (about 45 s): 11 of 12 within 10 %."""
    from planner.calibrate.api import accuracy_files, calibrate_files

    x2 = [
        SERVER / "v4.0-nvidia-dgx-h100x2-99.9.mlperf_log_summary.txt",
        OFFLINE / f"v4.0-nvidia-dgx-h100x2-99.9{SUFFIX}",
    ]
    calibrate_files(x2, db, tmp_path / "fit", loo=False)
    rep = accuracy_files(sorted(V41.glob(f"*{SUFFIX}")), ProfileDB.load(tmp_path / "fit"))
    docs = (ROOT / "docs" / "accuracy.md").read_text()
    within = 0
    for run in rep.runs:
        name = Path(run.label).name.removesuffix(SUFFIX)
        e = run.errors["request_throughput_rps"]
        row = (
            f"| {name} | {run.measured['request_throughput_rps']:.2f} | "
            f"{run.predicted['request_throughput_rps']:.2f} | {e * 100:+.1f} % |"
        )
        assert docs.count(row) == 1, row
        within += abs(e) <= 0.10
    assert within == 11
