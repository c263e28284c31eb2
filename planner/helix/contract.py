"""The helix plan block (the ``plan`` section of a ``kind: helix`` plan document), as a pydantic contract.

Written by :mod:`planner.helix.extract`; read by the simulator (:mod:`planner.sim.placement`), ``plan diff``
(element keys and change reasons come from the :class:`~planner.contract_base.Keyed` annotations below), the
report and the test fixtures; the shipped JSON Schema is generated from it. See docs/helix.md, "Plan document".

Three shapes share the contract: a solved plan carries every block; an infeasible plan only the placement
(``model`` .. ``bottlenecks``); a baseline plan written by ``--emit-baselines`` carries ``baselines``, a short
``bounds`` (``best_tok_s``, ``active``) and ``search`` (``chosen``, ``params``). Keys a plan does not carry are
left out of the JSON rather than written as null.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from planner.contract_base import Block, Keyed, Number


class HelixNode(Block):
    """One compute node of the cluster (``plan.nodes[]``, sorted by name); a node holding nothing has 0 layers."""

    name: str
    gpu: str
    gpus_per_node: int = Field(default=1, ge=1)
    region: str = "default"
    profile_gpu: str = Field(min_length=1, description="the GPU name used in the Helix tables, e.g. A100, L4x2")
    layer_start: int = Field(ge=0)
    layer_end: int = Field(ge=0, description="exclusive")
    layers: int | None = Field(default=None, ge=0, description="layer_end - layer_start")
    max_layers: int | None = Field(default=None, ge=0, description="most layers the node's memory holds")
    tp_tok_s: Number | None = Field(default=None, description="node throughput tp(k) at its k layers")
    inflow_tok_s: Number | None = Field(default=None, description="tokens per second routed through the node")
    provenance: str | None = Field(default=None, description="what tp(k) rests on: measured, analytic, ...")

    @property
    def held(self) -> int:
        """Layers the node holds (``layers`` is written too, but a hand-made plan may leave it out)."""
        return self.layer_end - self.layer_start


class HelixEdge(Block):
    """One directed edge valid under the placement (``plan.edges[]``, sorted by (src, dst))."""

    src: str
    dst: str
    flow_tok_s: Number = Field(ge=0)
    capacity_tok_s: Number | None = None
    bandwidth_bytes_s: Number = Field(gt=0)
    latency_s: Number = Field(ge=0)


class RouteWeight(Block):
    """One successor of a node in the interleaved weighted round-robin (``plan.routing[node][]``)."""

    to: str
    weight: Number


class Bottlenecks(Block):
    """The minimum cut of the max flow: saturated nodes and ``src->dst`` edges."""

    nodes: list[str]
    edges: list[str]


class HelixBaseline(Block):
    """A published placement (Petals, Swarm, separate pipelines) evaluated with the same max flow."""

    name: str
    throughput_tok_s: Number
    partial_throughput_tok_s: Number | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    note: str = ""


class HelixCertificate(Block):
    """The bound an "optimal" label rests on, as the solver-free verifier (planner/helix/verify.py) checked it."""

    bound: Literal["compute", "coordinator_cut", "covering", "block", "hop", "milp"]
    value_tok_s: Number = Field(description="the proven upper bound on the max flow")
    checked_above_tok_s: Number = Field(description="the flow the verifier's own argument excludes: value (1 + 1e-6)")
    label: Literal["optimal (independently verified)", "optimal (solver-certified)"]
    derivation: str = Field(description="how the verifier derived it, with its numbers")
    witness: dict[str, Number] = Field(default_factory=dict, description="the multiplier (lambda, mu) it used")


class HelixBounds(Block):
    """Proven upper bounds on the max flow (a baseline plan carries only ``best_tok_s`` and ``active``)."""

    compute_tok_s: Number | None = None
    covering_tok_s: Number | None = None
    covering_active: str | None = None
    block_tok_s: Number | None = None
    solver_tok_s: Number | None = None
    best_tok_s: Number | None = None
    active: str | None = Field(default=None, description="which bound is the tightest")
    binding_regions: list[str] | None = None
    certificate: HelixCertificate | None = Field(default=None, description="written with every optimal label")


class Candidate(Block):
    """A placement the search evaluated."""

    source: str
    throughput_tok_s: Number


class Prune(Block):
    """What link pruning kept before the MILP."""

    keep: int
    threshold_bytes_s: Number | None
    reason: str
    links_before: int
    links_after: int
    variables_before: int
    variables_after: int
    constraints_before: int
    constraints_after: int


class HelixSearch(Block):
    """How the placement was found (a baseline plan carries ``chosen`` and ``params``)."""

    chosen: str
    candidates: list[Candidate] | None = None
    milp: dict[str, Any] | None = Field(default=None, description="the MILP's own report (volatile keys removed)")
    notes: list[str] | None = None
    prune: Prune | None = None
    params: dict[str, Any] | None = Field(default=None, description="a baseline's parameters")


class LatencyPath(Block):
    """One source-to-sink path of the flow decomposition with its per-token latency."""

    nodes: list[str]
    hops: int
    flow_tok_s: Number
    decode_ms_per_token: Number
    prompt_ms: Number
    in_flight_requests: Number


class RequestTokens(Block):
    input: Number
    output: Number


class HelixLatency(Block):
    """Per-path latency of the planned flow (top paths by flow; ``paths_total`` counts them all)."""

    max_hops: int
    mean_hops: Number
    decode_ms_per_token_max: Number
    decode_ms_per_token_mean: Number
    prompt_ms_max: Number
    prompt_ms_mean: Number
    in_flight_requests: Number
    request_tokens: RequestTokens
    basis: str
    paths: list[LatencyPath]
    paths_total: int
    notes: list[str]


class ParetoPoint(Block):
    """One point of the throughput-versus-latency frontier (``--pareto``): the max flow of the placement found under
    ``max_hops`` and its static latency, its served prediction (decode tokens/s saturated, per-token latency online
    at 0.6 load), and the file its plan was written to (``--pareto-dir``)."""

    max_hops: int
    throughput_tok_s: Number
    bound_tok_s: Number
    pipeline_depth_hops: int
    decode_ms_per_token_max: Number
    prompt_ms_mean: Number
    in_flight_requests: Number
    source: str
    predicted_decode_tok_s: Number | None = None
    predicted_token_latency_p50_ms: Number | None = None
    predicted_token_latency_p99_ms: Number | None = None
    plan_file: str | None = None


class ServedPath(Block):
    """One path of the prediction: its flow share, requests in flight, per-token latency and decode throughput."""

    nodes: list[str]
    flow_tok_s: Number
    in_flight_requests: Number
    token_ms: Number
    decode_tok_s: Number


class ServedCandidate(Block):
    """One placement the served search evaluated."""

    source: str
    kv_reserve_fraction: Number
    max_hops: int | None = None
    max_flow_tok_s: Number
    predicted_decode_tok_s: Number
    predicted_total_tok_s: Number
    #: Online p50, computed for the chosen candidate only (None for the others).
    predicted_token_latency_p50_ms: Number | None = None


class ServedRefinement(Block):
    """One local search of the served search (:mod:`planner.helix.refine`): where it started and where it stopped."""

    start: str
    start_decode_tok_s: Number
    decode_tok_s: Number
    evaluations: int
    moves: int
    stopped: str


class ConfirmedCandidate(Block):
    """One placement ``--confirm N`` simulated: its prediction and what the simulator served."""

    source: str
    predicted_decode_tok_s: Number
    simulated_decode_tok_s: Number


class ServedConfirmation(Block):
    """``--confirm N``: the search's best placements by prediction (and its best baseline) simulated offline with
    ``plan simulate``'s engine before one is recommended (:mod:`planner.runner.helix_confirm`). ``seed`` is the
    request sample they were simulated on; ``plan simulate``'s default (0) is another, so it judges the plan on
    requests the choice did not see."""

    chosen: str
    seed: int
    warmup_s: Number
    window_s: Number
    latency: str
    candidates: list[ConfirmedCandidate]


class ServedSearchBlock(Block):
    """How ``--objective served`` chose the placement: every candidate, the local searches from the best of them,
    how many candidates the time limit cut, and (``--confirm N``) the simulation that confirmed the choice."""

    chosen: str
    candidates: list[ServedCandidate]
    not_tried_time_limit: int = 0
    local_search: list[ServedRefinement] = []
    confirmation: ServedConfirmation | None = None


#: Below this many requests in the online window a p99 rests on the few prompts among them: the plan's report and
#: ``plan simulate`` (online) both say so. On the 10-node plans, 25-37 requests in 600 s gave a p99 a third of what
#: 1,000 give (the separate pipelines: 289 ms simulated in 600 s, 1,689 ms over 1,000 requests).
TAIL_MIN_REQUESTS = 100

#: A plan's edge that carries less than this share of its node's outflow is never routed to (Helix section 12:
#: the scheduler's IWRR masks it): ``plan simulate`` replays plans so, and the served prediction reads them so.
MIN_FLOW_SHARE = 0.05


class HelixServed(Block):
    """The served-throughput prediction of the placement (``plan.served``; docs/helix.md, Served throughput).

    Offline (saturated) decode / prompt throughput and requests in flight; per-token latency online at 0.6 of the
    predicted capacity (p50 / p99); what the figures rest on (``basis``) and what bounds the requests in flight.
    """

    objective: str
    decode_tok_s: Number
    prompt_tok_s: Number
    total_tok_s: Number
    in_flight_requests: Number
    token_latency_mean_ms: Number
    token_latency_p50_ms: Number
    token_latency_p99_ms: Number
    #: Requests of the online replay inside the measured window (what the p50 / p99 rest on); absent in plans
    #: written before it was recorded.
    online_window_requests: int | None = Field(default=None, ge=0)
    kv_limit: str
    basis: str
    paths: list[ServedPath]
    upper_bound_decode_tok_s: Number | None = None
    search: ServedSearchBlock | None = None


_NODE_REASONS = {
    "layer_start": "layer_move",
    "layer_end": "layer_move",
    "layers": "layer_move",
    "tp_tok_s": "throughput",
    "inflow_tok_s": "flow",
    "gpu": "hardware",
    "profile_gpu": "hardware",
    "gpus_per_node": "hardware",
}
_EDGE_REASONS = {
    "flow_tok_s": "flow",
    "capacity_tok_s": "link",
    "bandwidth_bytes_s": "link",
    "latency_s": "link",
}


class HelixPlanBlock(Block):
    """The ``plan`` block of a helix plan document."""

    model: str
    layers: int = Field(gt=0)
    mode: Literal["strict", "partial"] = "strict"
    nodes: Annotated[list[HelixNode], Keyed("node", ("{name}",), _NODE_REASONS, summary=True)]
    edges: Annotated[list[HelixEdge], Keyed("edge", ("{src}->{dst}",), _EDGE_REASONS, summary=True)]
    routing: Annotated[
        dict[str, list[RouteWeight]],
        Keyed("route", ("{from}->{to}",), {"weight": "routing"}, grouped_by="from", flat="routes"),
    ] = Field(default_factory=dict)
    bottlenecks: Bottlenecks | None = None
    baselines: Annotated[
        list[HelixBaseline] | None, Keyed("baseline", ("{name}",), {"throughput_tok_s": "throughput"})
    ] = None
    bounds: HelixBounds | None = None
    search: HelixSearch | None = None
    latency: HelixLatency | None = None
    pareto: list[ParetoPoint] | None = None
    served: HelixServed | None = None
