"""The simulation document (``kind: simulation``): what ``plan simulate --out`` writes.

Its own small pydantic model, apart from the plan document (:mod:`planner.plan`), serialised the same canonical
way: sorted keys, floats rounded to :data:`planner.plan.FLOAT_DIGITS` significant digits, a trailing newline,
written atomically. Everything outside ``run`` is deterministic for the same plans, options and seed.

Units are in the field names (STYLE rule 7). Figures are measured inside the window ``[warmup, warmup + duration)``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from planner import FORMAT_VERSION
from planner.plan import InputFile, RunInfo, _canonical, write_json_atomic
from planner.solver import Assumption

SIMULATION_KIND: Final = "simulation"


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LatencyStats(_Doc):
    """Distribution of a latency over the window (``None`` when there is no sample)."""

    count: int = Field(ge=0)
    mean_ms: float | None = None
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None


class RequestCounts(_Doc):
    """Requests over the whole run (warm-up included)."""

    launched_requests: int = Field(description="reached the coordinator (arrived, or launched by the feeder)")
    admitted_requests: int = Field(description="got a pipeline with KV room on every hop")
    completed_requests: int
    rejected_requests: int = Field(description="could not fit even in an empty cluster (KV admission)")
    waiting_requests: int = Field(description="still waiting for admission at the end")
    in_flight_requests: int = Field(description="admitted and unfinished at the end")


class NodeResult(_Doc):
    """One node: planned versus simulated token throughput, utilisation, KV-cache occupancy."""

    name: str
    gpu: str
    profile_gpu: str
    layer_start: int
    layer_end: int
    planned_tok_s: float = Field(description="the plan's inflow (prompt + decode tokens per second)")
    simulated_tok_s: float = Field(description="prompt + decode tokens the node processed per second")
    utilization_ratio: float = Field(description="busy time / window")
    iterations_count: int
    mean_decode_batch_tokens: float | None
    kv_capacity_token_layers: float
    kv_mean_ratio: float | None = Field(description="time-averaged actual KV occupancy / capacity")
    kv_peak_ratio: float | None = Field(description="peak actual KV occupancy / capacity")
    kv_reserved_peak_ratio: float | None = Field(description="peak expected (admission) KV use / capacity")


class LinkResult(_Doc):
    """One directed link that carried traffic (coordinator ends are named ``source`` / ``sink``)."""

    src: str
    dst: str
    utilization_ratio: float = Field(description="transmission time / window")
    throughput_bytes_s: float
    planned_tok_s: float
    simulated_tok_s: float


class Timeline(_Doc):
    """Decode tokens per second in equal buckets over the whole run (warm-up included), for plots."""

    bucket_s: float
    decode_tok_s: list[float]


class PlacementResult(_Doc):
    """One simulated plan."""

    plan: str = Field(description="the plan's file name")
    path: str
    plan_sha256: str
    plan_name: str
    mode: Literal["strict", "partial"]
    bound_tok_s: float = Field(
        description="the plan's max-flow value (prompt + decode tokens per second): a static figure from tp(k), not "
        "a bound on the simulation, whose nodes run at the per-layer latency table's speed"
    )
    decode_throughput_tok_s: float = Field(description="decode-phase tokens delivered per second")
    prompt_throughput_tok_s: float = Field(description="prompt tokens whose first output token came back, per s")
    total_throughput_tok_s: float = Field(description="prompt + decode tokens per second (what the max flow counts)")
    achieved_vs_bound_ratio: float = Field(description="total_throughput_tok_s / bound_tok_s (can exceed 1)")
    decode_vs_first_ratio: float | None = Field(description="decode throughput relative to the first placement")
    prompt_latency: LatencyStats = Field(description="arrival at the coordinator to first token back")
    decode_token_latency: LatencyStats = Field(description="time between consecutive tokens of a request")
    requests: RequestCounts
    pipeline_mean_hops: float | None = Field(description="nodes on an admitted request's pipeline, on average")
    nodes: list[NodeResult]
    links: list[LinkResult] = Field(description="links that carried traffic, busiest first")
    timeline: Timeline
    simulated_s: float
    events_count: int
    warnings: list[str] = Field(default_factory=list)


class WorkloadInfo(_Doc):
    """Where the requests come from."""

    mode: Literal["offline", "online"]
    arrivals: Literal["feeder", "trace", "poisson"]
    trace: InputFile
    rate_rps: float | None = None
    max_input_tokens: int
    max_output_tokens: int
    dropped_requests: int = Field(description="trace rows removed by the length filter")
    usable_requests: int
    mean_input_tokens: float
    mean_output_tokens: float


class SimInputs(_Doc):
    """What the simulation was computed from: plans (with digests), workload, profiles, every option."""

    plans: list[InputFile]
    workload: WorkloadInfo
    profiles: list[InputFile] = Field(default_factory=list)
    options: dict[str, float | int | str | bool | None] = Field(default_factory=dict)


class SimRunInfo(RunInfo):
    """Volatile facts: total and per-placement wall time."""

    placements_wall_s: dict[str, float] = Field(default_factory=dict)


class SimulationDocument(_Doc):
    """The ``plan simulate`` result document."""

    format_version: str = FORMAT_VERSION
    kind: Literal["simulation"] = SIMULATION_KIND
    inputs: SimInputs
    placements: list[PlacementResult]
    assumptions: list[Assumption] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    run: SimRunInfo = Field(default_factory=SimRunInfo)


def document_json(doc: SimulationDocument) -> str:
    """Canonical JSON text: sorted keys, 2-space indent, rounded floats, trailing newline."""
    data = _canonical(doc.model_dump(mode="json"))
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_document(doc: SimulationDocument, path: Path) -> None:
    write_json_atomic(document_json(doc), path)
