"""Instance level of the hierarchy: the SM clock of each instance (DynamoLLM reference section 5.4).

Rule: among the profiled clocks, the one with the least energy whose latency targets still hold; ties go to the
lower clock; if none holds, the maximum clock (the fallback of reference T3). Instances of one configuration in a
pool share its load evenly (the router balances them), so they share a clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ClockOption:
    """One clock: its energy (any unit, compared only) and whether the targets hold at it."""

    freq_mhz: int
    energy: float
    feasible: bool


@dataclass(frozen=True)
class ClockChoice:
    freq_mhz: int
    energy: float
    fallback: bool  # True when no clock was feasible and the maximum was taken


def pick_clock(options: Sequence[ClockOption]) -> ClockChoice:
    """Least-energy feasible clock (ties: lower clock); none feasible: the highest clock."""
    if not options:
        raise ValueError("no clock to choose from")
    feasible = [o for o in options if o.feasible]
    if not feasible:
        top = max(options, key=lambda o: o.freq_mhz)
        return ClockChoice(top.freq_mhz, top.energy, True)
    best = min(feasible, key=lambda o: (o.energy, o.freq_mhz))
    return ClockChoice(best.freq_mhz, best.energy, False)


def decode_step_options(table: Sequence[tuple[int, float, float]], tbt_slo_s: float) -> list[ClockOption]:
    """Options from (clock MHz, TBT s, power W) rows: energy per decode step = TBT x power (reference T3)."""
    return [ClockOption(f, tbt * power, tbt <= tbt_slo_s + 1e-12) for f, tbt, power in table]
