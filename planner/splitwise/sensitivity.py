"""How far the recommended point's latency figures move when its iteration times are off by their error band.

A latency percentile is not as accurate as the iteration times it is simulated from: near a pool's capacity a few
percent slower iterations build a queue, and the p99 grows many times over. The flat profile band (the mean error
of the rows, docs/accuracy.md) then understates how far the figure may be off. So the recommended point is simulated
again, once with every iteration time of its machines scaled by ``1 - band`` and once by ``1 + band``
(:func:`planner.profiles.accuracy.band_factors`; the same requests, the same seed), and each latency figure carries,
on each side, the larger of the flat band and its own relative move that way (a queue grows faster than it shrinks,
so the sides differ near capacity). Measured on the published MLPerf runs (docs/accuracy.md, "Do the bands hold?"):
at 0.98x the iteration time an 8-GPU run's predicted TTFT p99 falls from +739 % to +370 % of the measured one, while
its TPOT p99 moves by 5 %.

Reads the instance and the chosen point; the search is not run again.
"""

from __future__ import annotations

from dataclasses import replace

from planner.profiles.accuracy import Move, band_factors
from planner.splitwise.evaluate import Evaluator, PointResult
from planner.splitwise.instance import Instance

#: The figures propagated: every latency percentile the plan reports (``evaluate.LATENCY_QUANTILES``).
PROPAGATED_PREFIXES = ("ttft_", "tbt_", "e2e_")


def scaled_evaluator(evaluator: Evaluator, machines: tuple[str, ...], factor: float) -> Evaluator:
    """``evaluator`` with every prompt and token iteration time of ``machines`` multiplied by ``factor`` (its
    cached lookup tables dropped; the request streams, which do not depend on the curves, kept)."""
    profiles = dict(evaluator.profiles)
    for name in machines:
        p = profiles[name]
        profiles[name] = replace(p, prompt=p.prompt.scaled(factor), token=p.token.scaled(factor))
    return replace(evaluator, profiles=profiles, _types={})


def latency_moves(inst: Instance, best: PointResult, band: float) -> dict[str, Move]:
    """Per latency figure of ``best``: how far it moves down and up when the chosen design's iteration times are
    scaled by ``1 -+ band`` (simulated to completion, no early stop). Figures without a value are left out."""
    if band <= 0:
        return {}
    design = inst.evaluator.designs[best.design]
    machines = tuple(sorted({m.name for m in design.machines}))
    moves: dict[str, Move] = {}
    for factor in band_factors(band):
        ev = scaled_evaluator(inst.evaluator, machines, factor)
        moved = ev.evaluate(best.design, best.point, best.rate_rps, early_stop=False)
        for name, nominal in best.latency_ms.items():
            value = moved.latency_ms.get(name)
            if not name.startswith(PROPAGATED_PREFIXES) or nominal is None or nominal <= 0 or value is None:
                continue
            moves[name] = moves.get(name, Move(0.0, 0.0)).widened(value / nominal - 1.0)
    return moves
