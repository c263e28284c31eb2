"""docs/accuracy.md, "Do the bands hold?": the table of the 21 H100 Server runs held out of the DGX H100 x2 fit is
what ``plan accuracy --bands`` computes (slow: a fit and 63 replays, about 2.5 minutes on two cores)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from planner.profiles.db import ProfileDB

ROOT = Path(__file__).resolve().parents[3]
MLPERF = ROOT / "tests" / "fixtures" / "calibrate" / "public" / "mlcommons-llama2-70b-server"
X2 = MLPERF / "v4.0-nvidia-dgx-h100x2-99.9.mlperf_log_summary.txt"
X2_OFFLINE = (
    MLPERF.parent / "mlcommons-llama2-70b-offline" / "v4.0-nvidia-dgx-h100x2-99.9-offline.mlperf_log_summary.txt"
)
BLOCK = "### Do the bands hold? And a second run of one system"
#: the docs table's row labels -> the report's figure names
LABELS = {
    "request throughput": "request_throughput_rps",
    "output tokens/s": "output_tok_s",
    "TTFT p50": "ttft_p50_ms",
    "TTFT p99": "ttft_p99_ms",
    "TPOT p50": "tpot_p50_ms",
    "TPOT p99": "tpot_p99_ms",
    "E2E p50": "e2e_p50_ms",
    "E2E p99": "e2e_p99_ms",
}


def _held_out() -> list[Path]:
    files = [*MLPERF.glob("*.txt"), *(MLPERF / "v4.1-more").glob("*.txt"), *(MLPERF / "detail").glob("*.txt")]
    return sorted(f for f in files if f != X2)


@pytest.mark.slow
def test_docs_show_the_bands_of_the_21_held_out_h100_runs(tmp_path: Path) -> None:
    from planner.calibrate.api import accuracy_files, calibrate_files
    from planner.executors import ExecutorConfig

    db = ProfileDB.load(MLPERF / "profiles")
    calibrate_files([X2, X2_OFFLINE], db, tmp_path / "fit", loo=False)
    files = _held_out()
    assert len(files) == 21
    rep = accuracy_files(files, ProfileDB.load(tmp_path / "fit"), bands=True, where=ExecutorConfig(jobs=2))
    text = (ROOT / "docs" / "accuracy.md").read_text().split(BLOCK)[1]
    counted = {a.metric: a for a in rep.aggregate}
    for label, metric in LABELS.items():
        row = re.search(rf"^\| {re.escape(label)} \|.*\| (\d+) of 21 \|$", text, re.M)
        assert row is not None, label
        assert counted[metric].within_band == int(row.group(1)), label
        assert counted[metric].banded == 21
    inside = sum(a.within_band or 0 for a in rep.aggregate if a.metric in LABELS.values())
    assert f"{inside} of the 168 figures" in text
