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


def _offline_fields(path: Path) -> dict[str, float]:
    """An Offline summary's samples/s and tokens/s as LoadGen wrote them (read apart from ingest, to check it)."""
    text = path.read_text()
    found = {
        k: re.search(re.escape(k) + r"\s*:\s*([0-9.e+]+)", text) for k in ("Samples per second", "Tokens per second")
    }
    assert all(found.values()), path.name
    return {k: float(m.group(1)) for k, m in found.items() if m}


def _mean_latency_s(path: Path) -> float:
    """A Server run's mean latency as LoadGen logged it: the one figure used here that ingest does not read."""
    text = path.read_text()
    if "mlperf_log_detail" in path.name:
        records = (json.loads(x.removeprefix(":::MLLOG ")) for x in text.splitlines() if x.startswith(":::MLLOG "))
        return next(float(r["value"]) for r in records if r["key"] == "result_mean_latency_ns") / 1e9
    m = re.search(r"Mean latency \(ns\)\s*:\s*([0-9.e+]+)", text)
    assert m, path.name
    return float(m.group(1)) / 1e9


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
        f = _offline_fields(path)
        assert run.metrics == {
            "request_throughput_rps": f["Samples per second"],
            "output_tok_s": f["Tokens per second"],
        }
        assert "llama2-70b-99.9/Offline/performance/run_1" in run.source and "Apache-2.0" in run.source, name
        # the dataset's published mean prompt, as every Server sidecar (test_mlperf.py checks it against its totals)
        assert _sidecar(path)["mean_input_tokens"] == _sidecar(_server_file(name))["mean_input_tokens"] == 222.33


def _littles_law_row(offline: Path, db: ProfileDB) -> tuple[str, str]:
    """(run name, docs table row): per engine, the Offline run's tokens/s and time per token at its full batch, and
    the Server run's load, requests in flight (Little's law: rate x mean latency) and time per token at that
    concurrency (in flight / tokens/s), beside its measured TPOT p50. No model: the published figures only."""
    name = offline.name.removesuffix(SUFFIX)
    server = _server_file(name)
    (off, srv), _ = load_all([offline, server], db)
    engines, batch = off.instances, off.limits.max_batch_requests
    off_tok = off.metrics["output_tok_s"] / engines
    rate = srv.metrics["request_throughput_rps"] / engines
    in_flight = rate * _mean_latency_s(server)
    per_token_ms = in_flight / (srv.metrics["output_tok_s"] / engines) * 1e3
    row = (
        f"| {name} | {engines} | {off_tok:,.0f} | {batch / off_tok * 1e3:.1f} | {rate:.2f} | {in_flight:,.0f} | "
        f"{per_token_ms:.1f} | {srv.metrics['tpot_p50_ms']:.1f} |"
    )
    return name, row


def test_docs_show_what_the_offline_and_server_runs_say_without_a_model(db) -> None:
    """The nine eight-GPU systems' engines are within 2.5 % of each other at full load (Offline), yet their Server runs
    imply 122-174 ms a token at 709-950 requests in flight; HPE's serves more load than NVIDIA's with fewer requests
    in flight and faster tokens, so no one iteration curve goes through both. The table is the docs'."""
    offline = [OFFLINE / f"v4.0-nvidia-dgx-h100x2-99.9{SUFFIX}", *sorted(V41.glob(f"*{SUFFIX}"))]
    rows = dict(_littles_law_row(p, db) for p in offline)
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
