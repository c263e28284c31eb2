"""Event kinds and the event queue shared by every discrete-event simulator (``plan simulate``, splitwise's).

It sits at the bottom layer so that a solver package (splitwise) and the simulator (planner/sim) can both use it
without a solver importing the simulator.

Events are tuples ``(time_s, kind, seq, target, payload)`` in a binary heap. Ties at the same time are broken by
``kind`` and then by ``seq`` (a global counter), so the order, and hence the whole simulation, is deterministic
(STYLE rule 12, after vidur's ``BaseEvent.__lt__``). ``START`` sorts last at a given instant, so a node that
becomes free starts its next iteration only after every delivery of that instant has joined its queues:
continuous batching sees all the work that is there.
"""

from __future__ import annotations

import heapq
from enum import IntEnum
from typing import Any


class Kind(IntEnum):
    """Event kinds, in tie-break order at equal times."""

    DELIVER = 0  # a batch of work items reaches a node (or the coordinator) over a link
    ARRIVAL = 1  # a request reaches the coordinator (online trace / Poisson, or an offline launch)
    DONE = 2  # a node finishes an iteration
    START = 3  # a node forms its next batch from its queues


class EventQueue:
    """A heap of ``(time_s, kind, seq, target, payload)`` tuples."""

    __slots__ = ("heap", "seq")

    def __init__(self) -> None:
        self.heap: list[tuple[float, int, int, int, Any]] = []
        self.seq = 0

    def push(self, time_s: float, kind: Kind, target: int, payload: Any = None) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (time_s, int(kind), self.seq, target, payload))

    def pop(self) -> tuple[float, int, int, int, Any]:
        return heapq.heappop(self.heap)

    def __len__(self) -> int:
        return len(self.heap)
