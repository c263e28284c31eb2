"""The served-throughput objective (``--objective served``, the default): a search, each candidate evaluated exactly.

Candidate generation + exact evaluation (issue 13):

* **generation**: the max-flow method (:func:`planner.helix.solve.solve`: bounds, constructions, stage
  layouts, region blocks, the MILP) run under a grid of *hop limits* (at most H compute nodes per path: shorter
  pipelines, lower per-token latency) and of *KV reserves* (the share of VRAM kept for the KV cache, which caps the
  layers per node and therefore the requests a node can hold); plus the unrestricted max-flow plan;
* **evaluation**: every candidate's served decode throughput from :class:`planner.helix.served.ServedModel` (the
  shared node model, KV-bounded requests in flight, Little's law); the best one wins, ties to the earlier
  candidate (deterministic order).

The max-flow value and bound of the chosen placement are kept and reported second. The upper bound on served
throughput (:func:`served_upper_bound`) holds within the node model for any placement.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from planner.errors import InfeasibleError, Shortfall, TimeLimitReached, VerificationError
from planner.helix.instance import HelixInstance
from planner.helix.latency import hop_counts
from planner.helix.served import Prediction, ServedModel
from planner.helix.solve import HelixOptions, HelixResult, solve
from planner.solver import remaining_s, stop_scope

#: KV reserves tried on top of the spec's (share of VRAM kept for KV cache; more reserve, fewer layers per node).
EXTRA_RESERVES = (0.1, 0.2)


@dataclass
class ServedCandidate:
    source: str
    kv_reserve_fraction: float
    max_hops: int | None
    result: HelixResult
    prediction: Prediction

    def row(self) -> dict[str, object]:
        return {
            "source": self.source,
            "kv_reserve_fraction": self.kv_reserve_fraction,
            "max_hops": self.max_hops,
            "max_flow_tok_s": self.result.flow.value,
            "predicted_decode_tok_s": self.prediction.decode_tok_s,
            "predicted_total_tok_s": self.prediction.total_tok_s,
            "predicted_token_latency_p50_ms": self.prediction.token_latency_p50_ms,
        }


@dataclass
class ServedSearch:
    best: ServedCandidate
    candidates: list[ServedCandidate]
    upper_bound_tok_s: float | None
    wall_s: float
    skipped: int = 0
    rejected: list[str] = field(default_factory=list)


def label_of(reserve: float, hops: int | None) -> str:
    return f"reserve {reserve:g}, " + (f"<= {hops} hops" if hops is not None else "max flow")


def served_upper_bound(inst: HelixInstance, model: ServedModel) -> float:
    """Decode tokens/s no placement can exceed under the node model: every decode token crosses every layer once,
    and a node holding k layers decodes at most ``b / (k t_dec(b))`` tokens/s through them at any batch ``b`` its
    KV admits (``b`` sequences of the workload's in-flight length); so the sum over nodes of the best
    ``k x b / (k t_dec(b))`` layer-tokens/s, divided by L. Prompts, waiting and latency only lower it."""
    total = 0.0
    wl = model.workload
    for node in inst.nodes:
        perf = model.perf(node)
        best = 0.0
        for k in range(1, node.max_layers + 1):
            cap = perf.kv_capacity(k)
            b = min(int(model.params.admit_hwm * cap / (k * wl.inflight_tokens)), perf.latency.max_decode_tokens)
            if b <= 0:
                continue
            best = max(best, b / perf.latency.decode_s[b])  # layer-tokens/s: k layers x b / (k t_dec(b))
        total += best
    return total / inst.layers


def served_search(
    instance_for: Callable[[float], HelixInstance],
    base_reserve: float,
    opts: HelixOptions,
    model: ServedModel,
    first: HelixResult | None = None,
) -> ServedSearch:
    """Search hop limits x KV reserves; return the candidate with the highest predicted decode throughput."""
    started = time.perf_counter()
    reserves = [base_reserve] + [round(base_reserve + d, 6) for d in EXTRA_RESERVES if base_reserve + d < 0.95]
    insts: dict[float, HelixInstance] = {}
    skipped = 0
    try:
        with stop_scope(opts):  # building an instance stops at the command's deadline; the rest is not tried
            for r in reserves:
                insts[r] = instance_for(r)
    except TimeLimitReached:
        skipped += len(reserves) - len(insts)
        if first is None:
            raise
    plan: list[tuple[float, int | None]] = []
    for r in insts:
        inst = insts[r]
        plan += [(r, h) for h in hop_counts(inst) if h < len(inst.nodes)]
        plan.append((r, None))
    deadline = opts.deadline()  # the whole command's (SolveOptions.time_limit_s)
    each = max(remaining_s(deadline) / max(len(plan), 1), 1.0)
    cands: list[ServedCandidate] = []
    if first is not None:
        pred = model.predict(first.full, first.ranges, first.flow)
        cands.append(ServedCandidate("max-flow", base_reserve, opts.max_hops, first, pred))
    rejected: list[str] = []
    for r, hops in plan:
        if first is not None and r == base_reserve and hops == opts.max_hops:
            continue
        if remaining_s(deadline) <= 0:
            skipped += 1  # the time limit covers the whole command: the rest is not tried
            continue
        if opts.max_hops is not None and (hops is None or hops > opts.max_hops):
            continue
        inst = insts[r]
        budget = min(each, max(remaining_s(deadline), 0.5))
        sub = replace(opts, max_hops=hops, milp=opts.milp and hops is None, time_limit_s=budget, started_at=None)
        try:
            res = solve(inst, sub)
        except InfeasibleError:
            continue
        except TimeLimitReached:
            skipped += 1  # its budget ran out before it had a plan
            continue
        except VerificationError as exc:
            # A hop-limited flow whose paths cannot be re-verified within the limit: not a plan to recommend.
            rejected.append(f"{label_of(r, hops)}: {exc}")
            continue
        if res.flow.value <= 0:
            continue
        pred = model.predict(res.full, res.ranges, res.flow)
        cands.append(ServedCandidate(label_of(r, hops), r, hops, res, pred))
    if not cands:
        raise InfeasibleError(Shortfall(constraint="served", detail="no candidate placement carries flow"))
    best = cands[0]
    for c in cands[1:]:
        if c.prediction.decode_tok_s > best.prediction.decode_tok_s * (1 + 1e-9):
            best = c
    # The smallest KV reserve leaves the most layers per node: the loosest bound (the base instance if the time limit
    # stopped the others from being built).
    ub = served_upper_bound(insts[min(insts)] if insts else best.result.full, model)
    return ServedSearch(best, cands, ub, time.perf_counter() - started, skipped, rejected)
