"""Per-request pipeline choice: interleaved weighted round-robin (IWRR) with KV-cache admission.

Helix reference README section 12 ("Request scheduling"):

* every source/compute node keeps an IWRR over its outgoing edges; an edge's weight is the flow the plan puts
  on it, loads start at 0;
* to choose, pick the unmasked candidate minimising ``load + workload / weight`` (ties: lowest index), then add
  ``workload / weight`` to its load; ``workload`` is the request's prompt length (the pipeline is fixed at the
  prompt and reused for every decode step); a rejected request undoes its load changes;
* a candidate is masked when its edge carries under 5 % of the node's outflow, or when the next node's KV
  admission check fails: admit iff ``reserved + expected_tokens x layers <= hwm x capacity`` with
  ``expected_tokens = input + ratio x mean_output`` (offline hwm 0.85, ratio 1; online hwm 0.9, ratio 0.6).

The KV "expectation" (reserved token-layers) is what admission looks at; the engine tracks the actual occupancy
separately for the report.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

#: Edges carrying less than this share of a node's outflow are never chosen (Helix section 12); the plan contract
#: holds the figure, which the served prediction reads too.
from planner.helix.contract import MIN_FLOW_SHARE


@dataclass(frozen=True)
class KvPolicy:
    """KV admission parameters (Helix section 12)."""

    hwm: float
    output_ratio: float

    @classmethod
    def for_mode(cls, offline: bool) -> KvPolicy:
        return cls(hwm=0.85, output_ratio=1.0) if offline else cls(hwm=0.9, output_ratio=0.6)


class InterleavedWRR:
    """IWRR over one node's successors (targets in ascending index order, weights = edge flows)."""

    __slots__ = ("targets", "weights", "active", "load")

    def __init__(self, targets: Sequence[int], weights: Sequence[float], min_share: float = MIN_FLOW_SHARE) -> None:
        if not targets or len(targets) != len(weights):
            raise ValueError("IWRR needs one positive weight per target")
        self.targets = list(targets)
        self.weights = [float(w) for w in weights]
        total = sum(self.weights)
        self.active = [w >= min_share * total and w > 0 for w in self.weights]
        if not any(self.active):  # more than 20 tiny edges: keep the largest rather than none
            best = max(range(len(self.weights)), key=lambda i: (self.weights[i], -i))
            self.active[best] = True
        self.load = [0.0] * len(self.targets)

    def choose(self, workload: float, admissible: Callable[[int], bool]) -> int | None:
        """Index (into ``targets``) of the chosen successor, its load already charged; None when all are masked."""
        order = sorted(
            (self.load[i] + workload / self.weights[i], i) for i in range(len(self.targets)) if self.active[i]
        )
        for _, i in order:
            if admissible(self.targets[i]):
                self.load[i] += workload / self.weights[i]
                return i
        return None

    def undo(self, i: int, workload: float) -> None:
        """Take back the load charged by :meth:`choose` (the request was rejected further down)."""
        self.load[i] -= workload / self.weights[i]


class KvLedger:
    """Expected KV-cache use per node, in token-layers (Helix ``KVExpectation``), plus the per-layer bottleneck."""

    __slots__ = ("capacity", "reserved", "hwm", "_layer_of", "_layer_cap", "_layer_used", "_starts", "_ends")

    def __init__(self, capacity: Sequence[float], starts: Sequence[int], ends: Sequence[int], layers: int, hwm: float):
        self.capacity = [float(c) for c in capacity]
        self.reserved = [0.0] * len(self.capacity)
        self.hwm = hwm
        self._starts, self._ends = list(starts), list(ends)
        self._layer_cap = [0.0] * layers
        self._layer_used = [0.0] * layers
        for c, s, e in zip(self.capacity, starts, ends, strict=True):
            for layer in range(s, e):
                self._layer_cap[layer] += c / (e - s)

    def can_admit(self, node: int, token_layers: float) -> bool:
        """Helix admission: the reservation stays within ``hwm`` of the node's capacity."""
        return self.reserved[node] + token_layers <= self.hwm * self.capacity[node]

    def reserve(self, node: int, token_layers: float) -> None:
        self.reserved[node] += token_layers
        self._spread(node, token_layers)

    def release(self, node: int, token_layers: float) -> None:
        self.reserved[node] -= token_layers
        self._spread(node, -token_layers)

    def _spread(self, node: int, amount: float) -> None:
        s, e = self._starts[node], self._ends[node]
        share = amount / (e - s)
        used = self._layer_used
        for layer in range(s, e):
            used[layer] += share

    def bottleneck_usage(self) -> float:
        """Largest expected KV usage over layers, as a fraction (Helix ``bottleneck_usage``; offline feeding)."""
        worst = 0.0
        for used, cap in zip(self._layer_used, self._layer_cap, strict=True):
            if cap > 0:
                worst = max(worst, used / cap)
            elif used > 0:
                return float("inf")
        return worst

    @property
    def idle(self) -> bool:
        """Nothing reserved anywhere (used to detect a request that can never fit)."""
        return not any(r > 1e-9 for r in self.reserved)
