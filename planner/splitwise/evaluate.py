"""One grid point, evaluated: sample the requests at the rate, simulate the design's pools, judge the nine SLOs.

:class:`Evaluator` is plain data (numpy arrays, lists, frozen dataclasses) so it can be sent once to worker
processes; it caches the request stream and the simulator's lookup tables per rate and machine type.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from planner.spec.sections.splitwise import SplitwiseSection
from planner.splitwise.machines import Design, Machine
from planner.splitwise.model import Point
from planner.splitwise.perf import PerfProfile, lookup_list
from planner.splitwise.requests import RequestSource
from planner.splitwise.sim import BOTH, PROMPT, TOKEN, InstanceType, SimConfig, simulate
from planner.splitwise.slo import Reference, SloLimit, SloValue, evaluate, reference_latencies, slowdowns, worst
from planner.workload import Requests

LATENCY_QUANTILES: tuple[tuple[str, float], ...] = (("p50", 0.5), ("p99", 0.99))


@dataclass(frozen=True)
class PointResult:
    """The simulator's verdict on one (design, prompt, token, rate) point; ``reason`` says why it failed."""

    design: str
    prompt: int
    token: int
    rate_rps: float
    feasible: bool
    reason: str
    slos: tuple[SloValue, ...]
    requests: int
    oom: int
    stopped_early: bool
    utilisation: dict[str, float | None]
    kv_utilisation: dict[str, float | None]
    lent_peak: dict[str, int]
    latency_ms: dict[str, float | None]
    mean_prompt_tokens: float
    mean_output_tokens: float

    @property
    def point(self) -> Point:
        return Point(self.prompt, self.token)

    @property
    def worst(self) -> SloValue | None:
        return worst(list(self.slos))

    @property
    def key(self) -> tuple[str, float, int, int]:
        return (self.design, self.rate_rps, self.prompt, self.token)


def kv_capacity_tokens(machine: Machine, weight_bytes: float, kv_bytes_per_token: float) -> int:
    """KV-cache tokens one model instance of ``machine`` can hold after the weights (<= 0: the model does not fit)."""
    return int((machine.instance_memory_bytes - weight_bytes) // kv_bytes_per_token)


@dataclass
class Evaluator:
    """Everything needed to evaluate points, for every design of a run (picklable)."""

    source: RequestSource
    duration_s: float
    designs: dict[str, Design]
    profiles: dict[str, PerfProfile]
    reference: PerfProfile
    limits: list[SloLimit]
    config: SimConfig
    kv_capacity: dict[str, int]
    _requests: dict[float, tuple[Requests, Reference]] = field(default_factory=dict, repr=False)
    _types: dict[tuple[str, int], InstanceType] = field(default_factory=dict, repr=False)

    @classmethod
    def from_section(
        cls,
        source: RequestSource,
        section: SplitwiseSection,
        designs: dict[str, Design],
        profiles: dict[str, PerfProfile],
        reference: PerfProfile,
        limits: list[SloLimit],
        kv_bytes_per_token: float,
        kv_capacity: dict[str, int],
    ) -> Evaluator:
        cfg = SimConfig(
            kv_bytes_per_token=kv_bytes_per_token,
            max_batch_tokens=section.max_batch_tokens,
            max_batch_requests=section.max_batch_requests,
            mixed_batch_factor=section.mixed_batch_factor,
            mixed_pool=section.mixed_pool.enabled,
            long_queue_tokens=section.mixed_pool.long_queue_tokens,
            max_preemptions=section.max_preemptions,
        )
        return cls(source, section.duration, designs, profiles, reference, limits, cfg, kv_capacity)

    def requests(self, rate_rps: float) -> tuple[Requests, Reference]:
        """The request stream at ``rate_rps`` and each request's reference latencies (cached)."""
        if rate_rps not in self._requests:
            reqs = self.source.sample(rate_rps, self.duration_s)
            ref = reference_latencies(reqs.input_tokens, reqs.output_tokens, self.reference)
            self._requests[rate_rps] = (reqs, ref)
        return self._requests[rate_rps]

    def instance_type(self, machine: Machine, max_prompt: int) -> InstanceType:
        size = self.config.max_batch_tokens + self.config.max_batch_requests + max_prompt + 2
        key = (machine.name, size)
        if key not in self._types:
            prof = self.profiles[machine.name]
            self._types[key] = InstanceType(
                name=machine.name,
                prompt_s=lookup_list(prof.prompt, size),
                token_s=lookup_list(prof.token, self.config.max_batch_requests + 1),
                kv_capacity_tokens=self.kv_capacity[machine.name],
                link_bytes_s=machine.interconnect_bytes_s * machine.tp / machine.gpus,
            )
        return self._types[key]

    def evaluate(self, design_name: str, point: Point, rate_rps: float, early_stop: bool = True) -> PointResult:
        """Simulate one point; ``early_stop`` ends the run once an SLO is surely violated (values then unknown)."""
        design = self.designs[design_name]
        reqs, ref = self.requests(rate_rps)
        n = len(reqs)
        max_prompt = int(reqs.input_tokens.max()) if n else 1
        if design.kind == "baseline":
            pools = [(BOTH, self.instance_type(design.prompt, max_prompt), point.prompt * design.prompt.instances)]
        else:
            pools = [
                (PROMPT, self.instance_type(design.prompt, max_prompt), point.prompt * design.prompt.instances),
                (TOKEN, self.instance_type(design.token, max_prompt), point.token * design.token.instances),
            ]
        abort = [(lim, getattr(ref, f"{lim.metric}_s") * lim.limit) for lim in self.limits] if early_stop else None
        res = simulate(reqs.arrival_s, reqs.input_tokens, reqs.output_tokens, pools, self.config, abort)
        slow = slowdowns(res.ttft_s, res.e2e_s, reqs.output_tokens, ref)
        values = tuple(evaluate(slow, self.limits)) if res.aborted is None else ()
        reasons = []
        if res.oom:
            cap = self.kv_capacity[design.token.name]
            reasons.append(f"oom: {res.oom} requests need more KV memory than {design.token.name} holds ({cap} tokens)")
        if res.aborted is not None:
            reasons.append(res.aborted + " (simulation stopped early)")
        for v in values:
            if not v.met:
                shown = "never finished" if v.value is None else f"{v.value:.3g}"
                reasons.append(f"{v.name} {shown} >= {v.limit:g}")
        util: dict[str, float | None] = {
            k: res.utilisation(k) for k in ("prompt", "token", "both") if k in res.instances
        }
        kv_util: dict[str, float | None] = {k: res.kv_utilisation(k) for k in ("token", "both") if k in res.instances}
        latency: dict[str, float | None] = {}
        tbt = (res.e2e_s - res.ttft_s) / reqs.output_tokens
        for metric, arr in (("ttft", res.ttft_s), ("tbt", tbt), ("e2e", res.e2e_s)):
            for qname, q in LATENCY_QUANTILES:
                ok = res.aborted is None and n > 0 and bool(np.isfinite(arr).all())
                latency[f"{metric}_{qname}_ms"] = float(np.quantile(arr, q)) * 1e3 if ok else None
        return PointResult(
            design=design_name,
            prompt=point.prompt,
            token=point.token,
            rate_rps=rate_rps,
            feasible=not reasons and n > 0,
            reason="; ".join(reasons) if reasons else ("" if n else "no requests in the simulated window"),
            slos=values,
            requests=n,
            oom=res.oom,
            stopped_early=res.aborted is not None,
            utilisation=util,
            kv_utilisation=kv_util,
            lent_peak=dict(res.lent_peak),
            latency_ms=latency,
            mean_prompt_tokens=float(reqs.input_tokens.mean()) if n else 0.0,
            mean_output_tokens=float(reqs.output_tokens.mean()) if n else 0.0,
        )
