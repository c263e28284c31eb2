"""The accuracy report as data: what its notes and verdict say about the figures that were judged."""

from __future__ import annotations

from planner.calibrate.accuracy import AccuracyReport, RunAccuracy, aggregate
from planner.calibrate.report import accuracy_report
from planner.report_data import Table


def _run(label: str, measured: dict[str, float], predicted: dict[str, float], spread: dict[str, tuple[float, float]]):
    errors = {m: predicted[m] / v - 1.0 for m, v in measured.items() if m in predicted}
    return RunAccuracy(label, ("H100-80G", 8, "llama2-70b"), "measured", measured, predicted, errors, "test", 0, spread)


def _notes(rep: AccuracyReport) -> tuple[str, ...]:
    first = accuracy_report(rep).blocks[0]
    assert isinstance(first, Table)
    return first.notes


def test_the_widest_draw_range_is_of_a_figure_the_run_measured():
    """A run that publishes medians only (no throughput) is predicted on every figure, but its throughput's spread
    over the draws is not part of any judged figure: the note names the widest range among the measured ones."""
    medians = _run(
        "runs.jsonl#1",
        {"ttft_p50_ms": 100.0},
        {"ttft_p50_ms": 150.0, "output_tok_s": 750.0},
        {"ttft_p50_ms": (145.0, 155.0), "output_tok_s": (700.0, 800.0)},  # 6.7 % against 13 %
    )
    rates = _run("runs.jsonl#2", {"output_tok_s": 800.0}, {"output_tok_s": 780.0}, {"output_tok_s": (779.0, 781.0)})
    runs = (medians, rates)
    note = [n for n in _notes(AccuracyReport("current", runs, aggregate(runs))) if n.startswith("predictions:")]
    assert note == [
        "predictions: median of 5 arrival draws; the widest range, ttft_p50_ms of runs.jsonl#1: 145 to 155 "
        "(JSON: predicted_range)"
    ]
