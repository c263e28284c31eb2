"""The published SGLang / vLLM runs (Apache-2.0, measured by the SGLang authors): they load as measured runs with
their citation, and docs/accuracy.md shows the accuracy the code computes on them."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.calibrate.accuracy import AccuracyReport, predict_current
from planner.calibrate.ingest import load_all

ROOT = Path(__file__).resolve().parents[3]
PUBLIC = ROOT / "tests" / "fixtures" / "calibrate" / "public" / "sglang-v0.3.0-vs-vllm-v0.6.0"


@pytest.fixture(scope="module")
def runs(profile_db):
    runs, tables = load_all(sorted(PUBLIC.glob("*.jsonl")), profile_db)
    assert not tables
    return runs


def test_published_runs_load_with_their_citation(runs):
    assert len(runs) == 12
    assert all(
        r.provenance == "measured" and "sgl-project/sglang" in r.source and "Apache-2.0" in r.source for r in runs
    )
    online = [r for r in runs if r.request_rate_rps is not None]
    assert len(online) == 8
    assert all(set(r.metrics) == {"ttft_p50_ms", "tpot_p50_ms", "e2e_p50_ms"} for r in online)
    offline = [r for r in runs if r.request_rate_rps is None]
    assert all(set(r.metrics) == {"request_throughput_rps", "output_tok_s"} for r in offline)
    assert {r.key() for r in runs} == {("A100-80G", 1, "llama3.1-8b"), ("H100-80G", 4, "llama3.1-70b")}


def table(rep: AccuracyReport) -> str:
    """The per-figure lines docs/accuracy.md shows for the current profiles."""
    return "\n".join(
        f"| `{a.metric}` | {a.runs} | {a.mean_abs * 100:.1f} % | {a.max_abs * 100:.1f} % |" for a in rep.aggregate
    )


def test_docs_show_the_computed_accuracy_on_the_published_runs(runs, profile_db):
    rep = predict_current(runs, profile_db)
    assert all(r.rests_on.startswith("analytic") for r in rep.runs)  # no measured rows for these models yet
    assert (ROOT / "docs" / "accuracy.md").read_text().count(table(rep)) == 1, table(rep)
