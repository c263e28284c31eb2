"""The nine latency SLOs of Splitwise (Table VI) and how a set of simulated requests is judged against them.

Each SLO is a *slowdown*: a request's latency divided by the latency of the same request running alone on the
reference machine (a DGX-A100, also for H100-only designs; Splitwise section V-B). The artifact's notebooks define
(reference README section 7):

* ``ttft``  = prompt completion - arrival (queueing included, KV transfer excluded);
* ``e2e``   = last token - arrival;
* ``tbt``   = (e2e - ttft) / output_tokens;
* reference ``ref_ttft = prompt_time_ref(prompt)``, ``ref_tbt = token_time_ref(x = prompt)`` (the token predictor
  indexed by prompt size), ``ref_e2e = ref_ttft + ref_tbt x (output - 1)``.

The P50/P90/P99 of each slowdown over requests (one value per request, linear interpolation between order
statistics) must be strictly below its limit; all nine must hold. A request that never finished (out of memory,
or a simulation cut short) counts as an infinite slowdown.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from planner.spec.sections.splitwise import SplitwiseSlo
from planner.splitwise.perf import PerfProfile

METRICS: tuple[str, ...] = ("ttft", "tbt", "e2e")
QUANTILES: tuple[tuple[str, float], ...] = (("p50", 0.50), ("p90", 0.90), ("p99", 0.99))
SLO_NAMES: tuple[str, ...] = tuple(f"{m}_{q}" for m in METRICS for q, _ in QUANTILES)


@dataclass(frozen=True)
class SloLimit:
    name: str
    metric: str
    quantile: float
    limit: float


@dataclass(frozen=True)
class SloValue:
    """One evaluated SLO: the slowdown quantile, its limit and the margin 1 - value / limit (> 0 means met)."""

    name: str
    value: float | None
    limit: float

    @property
    def margin(self) -> float | None:
        return None if self.value is None else 1.0 - self.value / self.limit

    @property
    def met(self) -> bool:
        return self.value is not None and self.value < self.limit


def slo_limits(slo: SplitwiseSlo) -> list[SloLimit]:
    """The nine limits in a fixed order (ttft, tbt, e2e x p50, p90, p99)."""
    out = []
    for metric in METRICS:
        limits = getattr(slo, metric)
        for qname, q in QUANTILES:
            out.append(SloLimit(f"{metric}_{qname}", metric, q, float(getattr(limits, qname))))
    return out


@dataclass(frozen=True)
class Reference:
    """Per-request latencies alone on the reference machine (seconds)."""

    ttft_s: np.ndarray
    tbt_s: np.ndarray
    e2e_s: np.ndarray


def reference_latencies(prompt: np.ndarray, output: np.ndarray, ref: PerfProfile) -> Reference:
    """The artifact's reference: prompt predictor at the prompt size, token predictor indexed by prompt size."""
    ttft = ref.prompt_s(prompt.astype(float))
    tbt = ref.token_s(prompt.astype(float))
    e2e = ttft + tbt * (output.astype(float) - 1.0)
    return Reference(ttft, tbt, e2e)


def slowdowns(ttft_s: np.ndarray, e2e_s: np.ndarray, output: np.ndarray, ref: Reference) -> dict[str, np.ndarray]:
    """Per-request slowdowns; unfinished requests (NaN) become +inf."""
    tbt = (e2e_s - ttft_s) / output.astype(float)
    out = {"ttft": ttft_s / ref.ttft_s, "tbt": tbt / ref.tbt_s, "e2e": e2e_s / ref.e2e_s}
    return {k: np.where(np.isnan(v), np.inf, v) for k, v in out.items()}


def evaluate(slow: dict[str, np.ndarray], limits: list[SloLimit]) -> list[SloValue]:
    """Quantiles of the slowdowns against the limits (an infinite quantile is reported as ``None``)."""
    out = []
    for lim in limits:
        values = slow[lim.metric]
        if values.size == 0:
            out.append(SloValue(lim.name, None, lim.limit))
            continue
        q = float(np.quantile(values, lim.quantile)) if np.isfinite(values).all() else _quantile_inf(values, lim)
        out.append(SloValue(lim.name, q if np.isfinite(q) else None, lim.limit))
    return out


def _quantile_inf(values: np.ndarray, lim: SloLimit) -> float:
    """``np.quantile`` with +inf entries (numpy's interpolation turns inf - inf into NaN)."""
    v = np.sort(values)
    pos = (v.size - 1) * lim.quantile
    lo, hi = int(np.floor(pos)), int(np.ceil(pos))
    if not np.isfinite(v[hi]):
        return float("inf")
    return float(v[lo] + (pos - lo) * (v[hi] - v[lo]))


def violation_allowance(n: int, quantile: float) -> int:
    """How many requests may reach a limit before the quantile surely does.

    With linear interpolation the q-quantile of n values is at least the order statistic v[f], f = floor((n-1) q).
    If more than n - 1 - f values are >= the limit, v[f] >= limit and the SLO (strictly below) is violated. The
    simulator stops as soon as any SLO is violated this way, which is what makes overloaded points cheap.
    """
    return n - 1 - int(np.floor((n - 1) * quantile))


def worst(values: list[SloValue]) -> SloValue | None:
    """The SLO with the smallest margin (an unknown/infinite value counts as the worst)."""
    if not values:
        return None
    return min(values, key=lambda v: (-np.inf if v.margin is None else v.margin, v.name))
