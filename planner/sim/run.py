"""``plan simulate`` end to end: load plans and workload, simulate each placement, assemble the document.

Every placement of one invocation sees the same request stream (the same seed), so they are compared on equal
terms, as the Helix paper's placement ablation does with one scheduler for every placement (Fig. 9a).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from planner.errors import SpecError, UsageError
from planner.helix.contract import MIN_FLOW_SHARE
from planner.paths import display_path
from planner.plan import InputFile, run_info
from planner.profiles.db import ProfileDB
from planner.profiles.roofline import peak_note
from planner.profiles.schema import provenance_of
from planner.sim.document import PlacementResult, SimInputs, SimRunInfo, SimulationDocument, WorkloadInfo
from planner.sim.engine import OFFLINE_INITIAL_REQUESTS, Engine, SimConfig, SimOutcome
from planner.sim.latency import RooflineLatency
from planner.sim.metrics import placement_result
from planner.sim.placement import PlacementInput, ServesNothing, check_same_cluster, load_placement
from planner.sim.requests import LengthPool, load_pool, online_arrivals, trace_rate_rps
from planner.sim.scheduler import KvPolicy
from planner.sim.topology import LatencySource, SimNode, Topology, build_topology
from planner.solver import Assumption


class SimOptions(BaseModel):
    """Every option of a simulation (recorded in ``inputs.options``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    # simulated time costs wall time and memory linearly (10 minutes of single-24: ~135,000 events, ~2 s)
    duration_s: float = Field(default=600.0, gt=0, le=4 * 3600.0, description="measured window (at most 4h)")
    warmup_s: float = Field(default=60.0, ge=0, le=3600.0, description="simulated before measuring (at most 1h)")
    offline: bool = Field(default=False, description="keep the cluster saturated instead of replaying arrivals")
    trace: Path | None = Field(default=None, description="Azure-schema trace for lengths (and arrivals online)")
    rps: float | None = Field(default=None, gt=0, le=1e6, description="online Poisson arrivals at this rate")
    load: float | None = Field(
        default=None,
        gt=0,
        le=1000,
        description="online: replay the trace's arrivals scaled to this fraction of the bound",
    )
    seed: int = Field(default=0, ge=0, le=2**32 - 1)
    max_input_tokens: int = Field(default=2048, gt=0, le=10_000_000)
    max_output_tokens: int = Field(default=1024, gt=0, le=10_000_000)
    prompt_batch_tokens: int = Field(default=2048, gt=0, le=10_000_000, description="prompt tokens per node iteration")
    latency: Literal["table", "auto", "roofline"] = Field(
        default="table", description="per-layer latency: measured table, table else roofline, roofline only"
    )
    gpu_memory_utilization: float = Field(default=0.9, gt=0, le=1)
    feed_hwm: float = Field(default=0.8, gt=0, le=1, description="offline: feed while bottleneck KV use <= this")

    def recorded(self) -> dict[str, float | int | str | bool | None]:
        data = self.model_dump(mode="json")
        data["trace"] = display_path(self.trace) if self.trace else None
        return {k: data[k] for k in sorted(data)}


@dataclass
class SimulationRun:
    """The document plus what plots need (raw samples per placement)."""

    document: SimulationDocument
    outcomes: list[SimOutcome]


def _check_options(opts: SimOptions) -> None:
    if opts.offline and opts.rps is not None:
        raise UsageError("--offline and --rps exclude each other (offline keeps the cluster saturated)")
    if opts.load is not None and (opts.offline or opts.rps is not None):
        raise UsageError("--load scales the trace's arrivals online: it excludes --offline and --rps")


def _check_prompt_sizes(topos: list[Topology], placements: list[PlacementInput], opts: SimOptions) -> None:
    """A prompt longer than a node's largest measured prompt batch would need extrapolation: refuse it."""
    for topo, pl in zip(topos, placements, strict=True):
        for nd in topo.nodes:
            if opts.max_input_tokens > nd.latency.max_prompt_tokens:
                raise UsageError(
                    f"--max-input-tokens {opts.max_input_tokens} exceeds the largest measured prompt batch of "
                    f"{nd.profile_gpu} ({nd.latency.max_prompt_tokens} tokens, node {nd.name} in {pl.display})"
                )


def _workload(opts: SimOptions, pool: LengthPool, rate_rps: float | None) -> WorkloadInfo:
    mode: Literal["offline", "online"] = "offline" if opts.offline else "online"
    kind: Literal["feeder", "trace", "poisson"] = (
        "feeder" if opts.offline else ("poisson" if opts.rps is not None else "trace")
    )
    return WorkloadInfo(
        mode=mode,
        arrivals=kind,
        trace=InputFile(path=pool.path, sha256=pool.sha256),
        rate_rps=rate_rps,
        max_input_tokens=opts.max_input_tokens,
        max_output_tokens=opts.max_output_tokens,
        dropped_requests=pool.dropped,
        usable_requests=len(pool),
        mean_input_tokens=pool.mean_input_tokens,
        mean_output_tokens=pool.mean_output_tokens,
    )


def _assumptions(topos: list[Topology], opts: SimOptions, pool: LengthPool, db: ProfileDB) -> list[Assumption]:
    def fp8(nd: SimNode, t: Topology) -> str:
        return peak_note(db.gpu(nd.gpu), t.model.dtype_bytes) if nd.latency.provenance == "roofline" else ""

    lat = sorted({(nd.latency.gpu, nd.latency.provenance, fp8(nd, t)) for t in topos for nd in t.nodes})
    policy = KvPolicy.for_mode(opts.offline)
    roof = RooflineLatency()
    out = [
        Assumption(
            subject=f"layer_latency[{gpu}]",
            basis=provenance_of(prov) if "+" not in prov else "user",
            detail=(
                f"per-layer prompt/decode time vs batch tokens, table helix_layer_latency ({prov}); "
                "linear between grid points, never extrapolated"
            )
            if prov != "roofline"
            else (
                f"analytic roofline (--latency {opts.latency}): {roof.compute_efficiency:.0%} of peak TFLOP/s{note}, "
                f"{roof.memory_efficiency:.0%} of peak HBM bandwidth, at most {roof.max_decode_batch} decode "
                "sequences per iteration"
            ),
        )
        for gpu, prov, note in lat
    ]
    out += [
        Assumption(
            subject="batch_time",
            basis="paper",
            detail="a node iteration takes layers x (t_prompt(P) + t_decode(D)) (Helix profile model); continuous "
            f"batching, at most {opts.prompt_batch_tokens} prompt tokens (at least one prompt) and the largest "
            "measured decode batch per iteration",
        ),
        Assumption(
            subject="kv_capacity",
            basis="analytic",
            detail=f"gpus x VRAM x {opts.gpu_memory_utilization} - weights of the layers held, divided by the "
            "model's KV bytes per token and layer (GQA-aware)",
        ),
        Assumption(
            subject="scheduling",
            basis="paper",
            detail=f"IWRR over the plan's edge flows, masking edges under {MIN_FLOW_SHARE:.0%} of a node's "
            f"outflow and nodes failing KV admission (hwm {policy.hwm}, expected tokens = prompt + "
            f"{policy.output_ratio} x mean output {pool.mean_output_tokens:.1f}); pipeline fixed at the prompt",
        ),
        Assumption(
            subject="network",
            basis="option",
            detail="links from the plan's edges (each direction its own FIFO link): latency + bytes / bandwidth; "
            f"activation bytes per token between nodes, {topos[0].token_bytes} B token ids on coordinator links",
        ),
        Assumption(
            subject="workload",
            basis="measured",
            detail=f"lengths from {pool.path} ({len(pool)} requests; {pool.dropped} dropped: prompt or output "
            f"under 4 tokens, prompt over {opts.max_input_tokens}, output over {opts.max_output_tokens})",
        ),
    ]
    if opts.offline:
        out.append(
            Assumption(
                subject="offline_feeder",
                basis="paper",
                detail=f"{OFFLINE_INITIAL_REQUESTS} requests 0.1 s apart, then one more per completed prompt or "
                f"request while the bottleneck layer's expected KV use <= {opts.feed_hwm} (Helix offline mode)",
            )
        )
    return out


def _arrival_rate(opts: SimOptions, pool: LengthPool, first: PlacementInput) -> tuple[float | None, float]:
    """(mean arrival rate in req/s, time scale applied to the trace) for the online modes; (None, 1) offline.

    ``--load F`` keeps the trace's arrival process and scales its time axis so that the offered tokens per second,
    rate x (mean prompt + mean output), equal F x the first plan's max-flow bound (as Helix's online runs do).
    """
    if opts.offline:
        return None, 1.0
    if opts.rps is not None:
        return opts.rps, 1.0
    native = trace_rate_rps(pool)
    if opts.load is None:
        return native, 1.0
    target = opts.load * first.bound_tok_s / (pool.mean_input_tokens + pool.mean_output_tokens)
    if not native > 0:
        raise SpecError.single(pool.path, "", "--load needs a trace with at least two distinct arrival times")
    return target, native / target


#: The profile files a simulation reads (GPU and model catalogues, the latency table); their digests are recorded.
_PROFILE_FILES = ("gpus.yaml", "models.yaml", "helix_layer_latency.csv", "helix_layer_latency.meta.yaml")


def _profile_inputs(db: ProfileDB) -> list[InputFile]:
    used = [f for f in db.files if Path(f.path).name in _PROFILE_FILES]
    return [InputFile(path=f.path, sha256=f.sha256) for f in sorted(used, key=lambda f: f.path)]


def _load_placements(plan_paths: list[Path]) -> tuple[list[PlacementInput], list[str]]:
    """The plans to simulate, and a warning per compared plan left out because its placement serves nothing (an
    emitted baseline that carries no flow, say): one such plan must not abort the comparison of the others. The first
    plan is the reference of every ratio and of ``--load``: it must load."""
    placements = [load_placement(plan_paths[0])]
    left_out: list[str] = []
    for path in plan_paths[1:]:
        try:
            placements.append(load_placement(path))
        except ServesNothing as exc:
            left_out += [f"{line} (left out of the comparison)" for line in exc.lines()]
    return placements, left_out


def simulate(
    plan_paths: list[Path], opts: SimOptions, profiles: Path | None = None, db: ProfileDB | None = None
) -> SimulationRun:
    """Simulate every plan under the same workload and return the document (decode throughput, latencies, ...).

    ``db``: a profile database already loaded (``plan helix --confirm`` passes the one it planned with) instead of
    loading the shipped one with ``profiles`` layered over it."""
    _check_options(opts)
    if not plan_paths:
        raise UsageError("give at least one plan JSON")
    placements, left_out = _load_placements(plan_paths)
    warnings = left_out + check_same_cluster(placements)
    if db is None:
        db = ProfileDB.load(profiles)
    pool = load_pool(opts.trace, opts.max_input_tokens, opts.max_output_tokens)
    if len(pool) == 0:
        raise SpecError.single(pool.path, "", "no request left after the length filter (see --max-input-tokens)")
    source = LatencySource(
        mode=opts.latency,
        prompt_context=pool.mean_input_tokens / 2.0,
        decode_context=pool.mean_input_tokens + pool.mean_output_tokens / 2.0,
        max_prompt_tokens=max(opts.prompt_batch_tokens, opts.max_input_tokens),
    )
    topos = [build_topology(p, db, opts.gpu_memory_utilization, source) for p in placements]
    _check_prompt_sizes(topos, placements, opts)
    horizon = opts.warmup_s + opts.duration_s
    rate, scale = _arrival_rate(opts, pool, placements[0])
    arrivals = None if opts.offline else online_arrivals(pool, horizon, opts.rps, opts.seed, scale)
    span = float(pool.arrival_s[-1] - pool.arrival_s[0]) * scale
    if arrivals is not None and opts.rps is None and span < horizon:
        warnings.append(
            f"the trace spans {span:.0f} s, shorter than warm-up + duration ({horizon:.0f} s): no arrivals after it"
        )
    cfg = SimConfig(
        duration_s=opts.duration_s,
        warmup_s=opts.warmup_s,
        offline=opts.offline,
        seed=opts.seed,
        prompt_batch_tokens=opts.prompt_batch_tokens,
        feed_hwm=opts.feed_hwm,
        kv=KvPolicy.for_mode(opts.offline),
    )
    results: list[PlacementResult] = []
    outcomes: list[SimOutcome] = []
    walls: dict[str, float] = {}
    t_all = time.perf_counter()
    for placement, topo in zip(placements, topos, strict=True):
        t0 = time.perf_counter()
        outcome = Engine(topo, cfg, pool, arrivals).run()
        walls[placement.display] = round(time.perf_counter() - t0, 3)
        outcomes.append(outcome)
        results.append(placement_result(placement, topo, outcome))
    first = results[0].decode_throughput_tok_s
    for r in results:
        r.decode_vs_first_ratio = r.decode_throughput_tok_s / first if first > 0 else None
    info = run_info(time.perf_counter() - t_all)
    doc = SimulationDocument(
        inputs=SimInputs(
            plans=[InputFile(path=p.display, sha256=p.sha256) for p in placements],
            workload=_workload(opts, pool, rate),
            profiles=_profile_inputs(db),
            options=opts.recorded(),
        ),
        placements=results,
        assumptions=_assumptions(topos, opts, pool, db),
        warnings=warnings + [f"profile override: {c}" for c in db.conflicts],
        run=SimRunInfo(**info.model_dump(), placements_wall_s=walls),
    )
    return SimulationRun(document=doc, outcomes=outcomes)
