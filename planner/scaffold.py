"""``plan init``: write a complete, commented cluster spec for the user's own hardware.

The generated YAML spells out every default (bandwidths, latencies, workload, SLOs) so that a new user sees what
the planner will assume and can edit it; ``plan validate`` accepts it and the chosen solver runs on it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from planner.errors import UsageError, did_you_mean
from planner.profiles.db import ProfileDB

SOLVERS = ("helix", "splitwise", "dynamo")

#: ``[N x][G x]GPU[@region]``: ``4xA100-80G``, ``2x8xH100-80G@us-east`` (2 nodes of 8 GPUs), ``L4``.
_GROUP_RE = re.compile(
    r"^(?:(?P<count>\d+)x)?(?:(?P<per>\d+)x)?(?P<gpu>[A-Za-z][A-Za-z0-9._-]*)(?:@(?P<region>[A-Za-z0-9._-]+))?$"
)

GPUS_FORMS = "e.g. 4xA100-80G,8xL4@us-east,2x8xH100-80G@eu-west (count x [gpus per node x] GPU [@region])"

# Defaults written into scaffolded specs (and commented there).
DEFAULT_INTRA = ("10Gbps", "1ms")
DEFAULT_INTER = ("1Gbps", "50ms")
DEFAULT_REGION = "region-1"
#: KV-cache share of VRAM the scaffolded helix section writes (``kv_reserve_fraction``); the rest holds weights.
HELIX_KV_RESERVE = 0.5

#: What ``plan init --solver S`` assumes when --gpus / --model are not given: hardware the solver has profiles for.
SOLVER_DEFAULTS: dict[str, tuple[str, str]] = {
    "helix": ("4xA100-80G,8xL4@us-east,12xT4@eu-west", "llama3.1-70b"),
    "splitwise": ("4x8xH100-80G,4x8xA100-80G", "llama2-70b"),
    "dynamo": ("4x8xH100-80G", "llama2-70b"),
}


@dataclass(frozen=True)
class GroupRequest:
    name: str
    gpu: str
    gpus_per_node: int
    count: int
    region: str


def parse_gpus(text: str, db: ProfileDB) -> list[GroupRequest]:
    """Parse ``--gpus``; unknown GPU names get a did-you-mean, malformed items the accepted form."""
    groups: list[GroupRequest] = []
    used: dict[str, int] = {}
    items = [t.strip() for t in text.split(",") if t.strip()]
    # Groups without @region join the first region named anywhere in the list (one region when none is named).
    named = [m["region"] for m in map(_GROUP_RE.match, items) if m and m["region"]]
    default_region = named[0] if named else DEFAULT_REGION
    for raw in items:
        m = _GROUP_RE.match(raw)
        if not m:
            raise UsageError(f"--gpus: cannot read '{raw}' ({GPUS_FORMS})")
        gpu = db.resolve_gpu(m["gpu"])
        if gpu is None:
            raise UsageError(
                f"--gpus: unknown GPU '{m['gpu']}'{did_you_mean(m['gpu'], list(db.gpus))}; "
                "add one to profiles/gpus.yaml (README: Add a GPU)"
            )
        count = int(m["count"] or 1)
        per = int(m["per"] or 1)
        if count < 1 or per < 1:
            raise UsageError(f"--gpus: counts must be positive in '{raw}'")
        base = re.sub(r"[^a-z0-9]+", "-", gpu.lower()).strip("-")
        if per > 1:
            base += f"x{per}"
        n = used.get(base, 0)
        used[base] = n + 1
        name = base if n == 0 else f"{base}-{chr(ord('a') + n)}"
        groups.append(GroupRequest(name, gpu, per, count, m["region"] or default_region))
    if not groups:
        raise UsageError(f"--gpus: no GPUs given ({GPUS_FORMS})")
    return groups


def _nodes_yaml(groups: list[GroupRequest]) -> str:
    lines = ["nodes:                # groups of identical nodes, expanded to <name>-0, <name>-1, ..."]
    for g in groups:
        lines.append(
            f"  - {{name: {g.name}, gpu: {g.gpu}, gpus_per_node: {g.gpus_per_node}, count: {g.count}, "
            f"region: {g.region}}}"
        )
    return "\n".join(lines)


def _network_yaml(groups: list[GroupRequest]) -> str:
    regions = sorted({g.region for g in groups})
    lines = [
        "network:              # complete graph by default; bandwidth in bits (Gbps) or bytes (GB/s), explicit",
        f"  intra_region: {{bandwidth: {DEFAULT_INTRA[0]}, latency: {DEFAULT_INTRA[1]}}}   # links within a region",
    ]
    inter = f"  inter_region: {{bandwidth: {DEFAULT_INTER[0]}, latency: {DEFAULT_INTER[1]}}}    # links across regions"
    lines.append(inter if len(regions) > 1 else "#" + inter[1:])
    lines += [
        f"  coordinator: {{region: {groups[0].region}}}   # request source/sink; links default to the region class",
        "  links: []            # overrides, e.g. {between: [a-0, region:eu-west], bandwidth: 5Gbps}",
    ]
    return "\n".join(lines)


WORKLOAD_YAML = """workload:
  # Request lengths fitted to the Azure LLM inference trace 2023 (conversation): mean input 1155 tokens
  # (std 1109), mean output 211 (std 163). Or replay a trace: trace: path/to/trace.csv (TIMESTAMP,ContextTokens,
  # GeneratedTokens), relative to this file.
  input_tokens: {distribution: lognormal, mean: 1155, std: 1109, max: 8192}
  output_tokens: {distribution: lognormal, mean: 211, std: 163, max: 2048}
  rate_rps: 5           # mean request rate (Poisson arrivals)
slo:                    # latency targets (percentile below)
  ttft: 2s              # time to first token
  tbt: 200ms            # time between tokens
  e2e: 60s              # end-to-end
  percentile: 99
pricing:
  electricity_usd_kwh: 0.10   # GPU-hour prices default to profiles/gpus.yaml; override with gpu_usd_h: {GPU: price}
power:
  pue: 1.2              # facility overhead on GPU power"""


def render_spec(solver: str, groups: list[GroupRequest], model: str, db: ProfileDB) -> str:
    """The commented YAML text of a scaffolded spec."""
    if solver not in SOLVERS:
        raise UsageError(f"--solver: unknown solver '{solver}'{did_you_mean(solver, SOLVERS)}")
    model_key = db.resolve_model(model)
    if model_key is None:
        raise UsageError(
            f"--model: unknown model '{model}'{did_you_mean(model, list(db.models))}; "
            "add one to profiles/models.yaml (README: Add a model)"
        )
    head = [
        f"# Cluster spec scaffolded by `plan init --solver {solver}`. Edit freely; check with `plan validate FILE`.",
        f"# Run: plan {solver} FILE",
        f"name: my-{solver}-cluster",
        f"model: {model_key}          # from profiles/models.yaml (`plan profiles list`)",
        _nodes_yaml(groups),
        _network_yaml(groups),
        WORKLOAD_YAML,
    ]
    if solver == "dynamo" and len({g.gpu for g in groups}) > 1:
        raise UsageError("--gpus: plan dynamo plans one GPU type; give groups of a single GPU type")
    head.append(_SECTIONS[solver](groups))
    return "\n".join(head) + "\n"


def _helix_section(groups: list[GroupRequest]) -> str:
    return f"""helix:                  # options of plan helix (defaults spelled out)
  kv_reserve_fraction: {HELIX_KV_RESERVE:g}     # share of VRAM kept for KV cache; the rest holds layer weights
  partial_inference: false     # allow overlapping layer ranges (i->j when start_j <= end_i < end_j)"""


def _machine_names(groups: list[GroupRequest]) -> list[tuple[str, str]]:
    """(machine name, design letters) per group, e.g. ("H100x8", "H100x8"); unique."""
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for g in groups:
        stem = re.sub(r"[^A-Za-z0-9]", "", g.gpu.split("-")[0]).upper() or "GPU"
        name = f"{stem}x{g.gpus_per_node}"
        base, i = name, 1
        while name in seen:
            i += 1
            name = f"{base}v{i}"
        seen.add(name)
        out.append((name, name))
    return out


def _splitwise_section(groups: list[GroupRequest]) -> str:
    names = _machine_names(groups)
    lines = [
        "splitwise:               # options of plan splitwise; machines are your node groups",
        "  objective: cost        # least cost at workload.rate_rps (or use --cost-target / --power-target)",
        "  duration: 1m           # simulated trace per evaluated point (the paper: 2m)",
        "  machines:              # cost defaults to gpus x the GPU's list price; perf: measured table or roofline",
    ]
    for (name, short), g in zip(names, groups, strict=True):
        lines.append(f"    {name}: {{short: {short}, gpu: {g.gpu}, gpus: {g.gpus_per_node}}}")
    designs = [f"baseline-{n}" for n, _ in names] + [f"{a}/{b}" for a, _ in names for b, _ in names]
    lines.append(f"  designs: [{', '.join(designs)}]   # baseline-M: one pool; P/T: prompt pool P, token pool T")
    return "\n".join(lines)


def _dynamo_section(groups: list[GroupRequest]) -> str:
    return """dynamo:                 # options of plan dynamo
  mode: hierarchical      # pools every epoch, TP mix every reshard_epoch, clock per instance (or: joint)
  epoch: 30m
  reshard_epoch: 5m
  headroom: 0.1           # provision 1.1 x each epoch's peak rate
# For a day of changing load add workload.load_curve: [{at: "00:00", rps: 3}, {at: "09:00", rps: 12}, ...]"""


def capacity_warnings(solver: str, groups: list[GroupRequest], model: str, db: ProfileDB) -> list[str]:
    """Warnings when the scaffolded cluster cannot hold the model at all (the solver would only say infeasible).

    Helix spreads layers over nodes: the cluster must hold every layer once in the VRAM left after the KV reserve
    (each node holds whole layers). Splitwise and DynamoLLM put the whole model on one node (tensor parallelism
    inside it): every node must hold all the weights. The shortfall says how many more nodes of each listed GPU
    type would close it.
    """
    key = db.resolve_model(model)
    if key is None:
        return []
    prof = db.models[key]
    if solver == "helix":
        weight = prof.layer_weight_bytes
        room: dict[tuple[str, int], int] = {}
        for g in groups:
            vram = db.gpus[g.gpu].vram_bytes * g.gpus_per_node
            room[(g.gpu, g.gpus_per_node)] = math.floor((1.0 - HELIX_KV_RESERVE) * vram / weight + 1e-9)
        held = sum(room[(g.gpu, g.gpus_per_node)] * g.count for g in groups)
        short = prof.layers - held
        if short <= 0:
            return []
        fixes = [
            f"{math.ceil(short / k)} more {_node_label(gpu, per)} node{'s' if math.ceil(short / k) > 1 else ''}"
            for (gpu, per), k in room.items()
            if k > 0
        ]
        how = f"; it would fit with {' or '.join(fixes)}" if fixes else "; no listed GPU holds even one layer"
        return [
            f"warning: this cluster cannot hold {key}: {held * weight / 1e9:.1f} GB of weight room "
            f"({held} layers in the VRAM left after kv_reserve_fraction {HELIX_KV_RESERVE:g}) against "
            f"{prof.layers * weight / 1e9:.1f} GB needed ({prof.layers} layers of {weight / 1e9:.3g} GB), "
            f"short by {short * weight / 1e9:.1f} GB ({short} layer{'s' if short > 1 else ''}){how}"
        ]
    out = []
    for g in groups:
        vram = db.gpus[g.gpu].vram_bytes * g.gpus_per_node
        if vram < prof.weight_bytes:
            need = math.ceil(prof.weight_bytes / db.gpus[g.gpu].vram_bytes)
            out.append(
                f"warning: a {_node_label(g.gpu, g.gpus_per_node)} node ({vram / 1e9:.1f} GB) cannot hold the "
                f"{prof.weight_bytes / 1e9:.1f} GB of {key} weights that plan {solver} places on one node; "
                f"it needs at least {need} GPUs per node"
            )
    return out


def _node_label(gpu: str, per: int) -> str:
    return gpu if per == 1 else f"{per}x{gpu}"


_SECTIONS = {"helix": _helix_section, "splitwise": _splitwise_section, "dynamo": _dynamo_section}
