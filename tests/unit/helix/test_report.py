"""The helix report's notes: what ``--confirm`` simulated, each placement once."""

from __future__ import annotations

from planner.helix.contract import ConfirmedCandidate, ServedConfirmation
from planner.helix.report import _confirmation_note


def cand(source: str, predicted: float, simulated: float) -> ConfirmedCandidate:
    return ConfirmedCandidate(source=source, predicted_decode_tok_s=predicted, simulated_decode_tok_s=simulated)


def confirmation(chosen: str, *cands: ConfirmedCandidate) -> ServedConfirmation:
    return ServedConfirmation(chosen=chosen, seed=1, warmup_s=60, window_s=600, latency="auto", candidates=list(cands))


def test_the_winners_placement_is_not_listed_again_among_the_others() -> None:
    conf = confirmation(
        "baseline:petals",
        cand("baseline:petals", 50.0, 61.2),
        cand("local search from baseline:petals (0 moves)", 50.0, 61.2),  # the same placement as simulated
        cand("baseline:petals", 50.0, 61.2),  # named twice
        cand("max-flow", 70.0, 40.5),
    )
    note = _confirmation_note(conf, conf.candidates[0])
    assert note == (
        "simulated offline at seed 1, the most served of 4 candidates simulated (2 the same placement as another, "
        "not repeated); the others: max-flow 40.5"
    )


def test_two_identical_others_are_listed_once() -> None:
    conf = confirmation(
        "a",
        cand("a", 80.0, 75.0),
        cand("b", 70.0, 60.0),
        cand("c", 70.0, 60.0),
        cand("d", 69.0, 60.0),  # another placement that happens to serve the same: kept
    )
    note = _confirmation_note(conf, conf.candidates[0])
    assert note.endswith("(1 the same placement as another, not repeated); the others: b 60, d 60")


def test_distinct_placements_read_as_before() -> None:
    conf = confirmation("b", cand("a", 80.0, 70.0), cand("b", 70.0, 75.0), cand("c", 60.0, 50.0))
    note = _confirmation_note(conf, conf.candidates[1])
    assert note == "simulated offline at seed 1, the most served of 3 candidates simulated; the others: a 70, c 50"
