"""The accuracy report as data: what its notes and verdict say about the figures that were judged."""

from __future__ import annotations

from planner.calibrate.accuracy import AccuracyReport, RunAccuracy, aggregate
from planner.calibrate.report import accuracy_json, accuracy_report
from planner.report_data import Table, Text


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


def test_runs_leave_one_out_could_not_judge_are_named():
    """Two runs judged and one alone of its hardware and model: the verdict stands on the two, and the per-run
    table says which run was left out and why."""
    runs = tuple(_run(f"r{i}.json", {"ttft_p50_ms": 100.0}, {"ttft_p50_ms": 105.0}, {}) for i in range(2))
    rep = AccuracyReport("loo", runs, aggregate(runs), alone=("dir/lone.json",))
    assert rep.why_nothing_judged() is None
    assert _notes(rep)[-1].startswith("1 run(s) not judged: leave-one-out") and _notes(rep)[-1].endswith("lone.json")
    doc = accuracy_json(rep, 0.1)
    assert doc["not_judged"] == ["dir/lone.json"] and doc["nothing_judged"] is None and not doc["failed"]


def test_a_gate_on_an_empty_report_fails():
    """Nothing judged (every run alone): the report and the JSON say why, and a gate counts as failed."""
    rep = AccuracyReport("loo", (), (), alone=("a.json", "b.json"))
    why = rep.why_nothing_judged()
    assert why is not None and why.startswith("no figure judged: leave-one-out") and why.endswith("a.json, b.json")
    texts = [b.text for b in accuracy_report(rep, 0.1).blocks if isinstance(b, Text)]
    assert texts == [f"{why} (--fail-above 10% fails: it judged nothing)"]
    assert accuracy_json(rep, 0.1)["failed"] and not accuracy_json(rep)["failed"]
    predicted = AccuracyReport("current", (_run("x.json", {}, {"ttft_p50_ms": 1.0}, {}),), ())
    assert predicted.why_nothing_judged() == (
        "no figure judged: the 1 run(s) predicted have no measured figure the prediction gives"
    )
