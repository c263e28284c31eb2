"""``plan helix --confirm N``: the served search's best placements simulated before one is recommended.

Why: the search keeps the candidate *predicted* highest, so the placement it recommends is the one whose prediction
most likely errs high (docs/helix.md, "Held out"). On two of the eleven held-out clusters the recommended plan
serves less than separate pipelines the search itself evaluated; and a served model that scores better on fixed
plans was measured to lead the search to plans it over-predicts by up to 75 % ("A better-scoring model the search
exploits"). Confirming does not trust the ranking at the top: it simulates the ``N - 1`` best distinct placements by
prediction and the best-predicted baseline, offline, with ``plan simulate``'s engine (the referee, unchanged and
called as it is), and recommends the one that serves the most decode tokens.

The simulation runs on a request sample of its own, ``seed + CONFIRM_SEED_OFFSET`` (1 by default), so that
``plan simulate`` at its default seed (0) still judges the plan on requests the choice never saw. The runner calls
the simulator; the solver package never does (spec -> solver -> plan -> simulate).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Final, Literal

from planner.errors import PlannerError
from planner.helix.contract import ConfirmedCandidate, ServedConfirmation
from planner.helix.objective import ServedCandidate, ServedSearch, placement_key
from planner.plan import Plan, write_plan
from planner.profiles.db import ProfileDB
from planner.sim.run import SimOptions, simulate

#: The confirmation's request sample is the plan's seed plus this (``plan simulate`` judges at seed 0).
CONFIRM_SEED_OFFSET = 1

#: ``--latency auto``: the measured rows, the labelled roofline where a GPU has none (the served model's basis too).
CONFIRM_LATENCY: Final[Literal["auto"]] = "auto"


def confirm_set(search: ServedSearch, n: int) -> list[ServedCandidate]:
    """The ``n - 1`` best distinct searched placements by predicted decode throughput (each at its best-predicted
    routing), then the best-predicted baseline: the baselines are what the plan must beat, and their predictions
    err less than the searched placements' (they are not chosen by the prediction). Order: by prediction (ties: the
    search's own order)."""
    ranked = sorted(range(len(search.candidates)), key=lambda i: (-search.candidates[i].prediction.decode_tok_s, i))
    seen: set[tuple[tuple[str, tuple[int, int]], ...]] = set()
    searched: list[ServedCandidate] = []
    baseline: ServedCandidate | None = None
    for i in ranked:
        c = search.candidates[i]
        key = placement_key(c)
        if key in seen or c.result.flow.value <= 0:
            continue
        seen.add(key)
        if c.source.startswith("baseline:"):
            baseline = baseline or c
        elif len(searched) < n - 1:
            searched.append(c)
    picked = searched + ([baseline] if baseline is not None else [])
    return sorted(picked, key=lambda c: -c.prediction.decode_tok_s)


def confirm_choice(
    search: ServedSearch,
    n: int,
    plan_of: Callable[[ServedCandidate], Plan],
    db: ProfileDB,
    seed: int,
) -> tuple[ServedCandidate, ServedConfirmation | None, list[str]]:
    """Simulate :func:`confirm_set` offline on one request sample and return the candidate that serves the most
    (ties: the better predicted), the record of what was simulated, and a note per candidate the simulator refused
    (a new user's cluster may hold a node ``plan simulate`` cannot replay; the others are still compared, and if none
    can be, the prediction's choice stands and the record is None). ``plan_of`` writes a candidate as the plan
    document ``plan simulate`` reads. Each is simulated alone: offline, every run draws the same requests from the
    seed, as one ``plan simulate`` of several plans would."""
    opts = SimOptions(offline=True, seed=seed + CONFIRM_SEED_OFFSET, latency=CONFIRM_LATENCY)
    served: list[tuple[ServedCandidate, float]] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="plan-helix-confirm-") as tmp:
        for i, c in enumerate(confirm_set(search, n)):
            path = Path(tmp) / f"candidate-{i}.json"
            write_plan(plan_of(c), path)
            try:
                run = simulate([path], opts, db=db)
            except PlannerError as exc:
                notes.append(f"--confirm: candidate {c.source} was not simulated ({exc}); compared without it")
                continue
            served.append((c, run.document.placements[0].decode_throughput_tok_s))
    if not served:
        return search.best, None, notes
    best = max(range(len(served)), key=lambda i: (served[i][1], -i))
    record = ServedConfirmation(
        chosen=served[best][0].source,
        seed=opts.seed,
        warmup_s=opts.warmup_s,
        window_s=opts.duration_s,
        latency=CONFIRM_LATENCY,
        candidates=[
            ConfirmedCandidate(
                source=c.source, predicted_decode_tok_s=c.prediction.decode_tok_s, simulated_decode_tok_s=s
            )
            for c, s in served
        ],
    )
    return served[best][0], record, notes
