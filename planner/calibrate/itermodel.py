"""The iteration latency model that calibration fits, and the current profile's curves for a (gpu, tp, model).

Model (times in ms; ``x`` = tokens in a prompt batch, ``b`` = sequences in a decode batch)::

    prompt_ms(x) = p0 + p1 * (x / 1000) + p2 * (x / 1000)^2      launch + GEMMs linear in x + attention ~ x^2
    token_ms(b)  = t0 + t1 * (b / 100)                            weights streamed once + per-sequence work

This is the shape of the Splitwise measured curves (prompt time super-linear in batch tokens, token time nearly
flat in the batch: ``profiles/tables/splitwise_perf.csv``) and of SplitwiseSim's piecewise-linear predictor, which
the splitwise simulator reads as knots. A fitted model is written as knots on the same batch-token grid, so the
simulator, ``plan splitwise`` and ``plan simulate`` consume calibrated rows exactly like shipped ones.

| symbol | code | unit |
|---|---|---|
| p0, p1, p2 | ``prompt_base_ms``, ``prompt_ms_per_ktok``, ``prompt_ms_per_ktok2`` | ms, ms/1k tok, ms/(1k tok)^2 |
| t0, t1 | ``token_base_ms``, ``token_ms_per_100seq`` | ms, ms/100 sequences |
"""

from __future__ import annotations

from dataclasses import astuple, dataclass
from typing import Any

import numpy as np

from planner.errors import ProfileMissingError
from planner.profiles.db import ProfileDB
from planner.profiles.schema import ModelProfile
from planner.spec.sections.splitwise import AnalyticProfile
from planner.splitwise.machines import Machine
from planner.splitwise.perf import TABLE, Curve, analytic_profile

#: Knots the fitted model is written at (the SplitwiseSim grid, plus small batches for the token curve).
KNOTS: tuple[int, ...] = (1, 8, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768)
PARAM_NAMES: tuple[str, ...] = (
    "prompt_base_ms",
    "prompt_ms_per_ktok",
    "prompt_ms_per_ktok2",
    "token_base_ms",
    "token_ms_per_100seq",
)


@dataclass(frozen=True)
class IterationModel:
    """Parameters of the iteration model (see the module notes); all >= 0."""

    prompt_base_ms: float
    prompt_ms_per_ktok: float
    prompt_ms_per_ktok2: float
    token_base_ms: float
    token_ms_per_100seq: float

    @classmethod
    def from_vector(cls, v: np.ndarray | list[float]) -> IterationModel:
        return cls(*(float(x) for x in v))

    def vector(self) -> np.ndarray:
        return np.asarray(astuple(self), dtype=float)

    def prompt_ms(self, x: np.ndarray | float) -> np.ndarray:
        k = np.asarray(x, dtype=float) / 1000.0
        return self.prompt_base_ms + self.prompt_ms_per_ktok * k + self.prompt_ms_per_ktok2 * k * k

    def token_ms(self, b: np.ndarray | float) -> np.ndarray:
        return self.token_base_ms + self.token_ms_per_100seq * np.asarray(b, dtype=float) / 100.0

    def curves(self) -> tuple[Curve, Curve]:
        """(prompt, token) as the simulator's piecewise-linear curves, in seconds, on :data:`KNOTS`."""
        x = np.asarray(KNOTS, dtype=float)
        return (
            Curve(tuple(float(v) for v in x), tuple(float(v) / 1e3 for v in self.prompt_ms(x))),
            Curve(tuple(float(v) for v in x), tuple(float(v) / 1e3 for v in self.token_ms(x))),
        )

    def as_dict(self) -> dict[str, float]:
        return {k: round(float(v), 6) for k, v in zip(PARAM_NAMES, astuple(self), strict=True)}


@dataclass(frozen=True)
class Hardware:
    """What replay needs about the serving instance: its curves, KV capacity and what the curves rest on."""

    gpu: str
    tp: int
    model: ModelProfile
    prompt: Curve
    token: Curve
    kv_capacity_tokens: int
    provenance: str
    source: str
    perf_hardware: str


def perf_hardware_name(db: ProfileDB, gpu: str, tp: int) -> tuple[str, dict[str, Any] | None]:
    """The ``hardware`` name of (gpu, tp) in ``splitwise_perf`` (from the machine catalogue), and its entry.

    Without a catalogue machine of that GPU and TP the name is the GPU's own (lower case); rows written under it are
    used by calibration and accuracy, and by ``plan splitwise`` once a machine entry names it as ``perf_hardware``.
    """
    for _name, entry in sorted(db.catalog("machines").items()):
        if not isinstance(entry, dict):
            continue
        same = db.resolve_gpu(str(entry.get("gpu", ""))) == gpu and int(entry.get("tp") or entry.get("gpus") or 0) == tp
        if same and entry.get("perf_hardware") and not entry.get("derive_from"):
            return str(entry["perf_hardware"]), entry
    return gpu.lower(), None


#: GPUs one tensor-parallel group spans at most when the machine catalogue lists no larger machine of its GPU: an
#: HGX / DGX node, whose GPUs share NVLink (the all-reduces of every layer leave no time for the network).
NODE_GPUS = 8


def node_gpus(db: ProfileDB, gpu: str) -> int:
    """GPUs in one node of ``gpu``: the largest machine of that GPU in the catalogue, at least :data:`NODE_GPUS`."""
    sizes = [
        int(entry.get("gpus") or 0)
        for entry in db.catalog("machines").values()
        if isinstance(entry, dict) and db.resolve_gpu(str(entry.get("gpu", ""))) == gpu
    ]
    return max([NODE_GPUS, *sizes])


def tp_problem(db: ProfileDB, gpu: str, tp: int, model_name: str) -> str | None:
    """Why one instance of ``model_name`` cannot run at TP ``tp`` on ``gpu`` (None when it can): more GPUs than a
    node, attention heads that do not split evenly over the GPUs, or weights that leave no memory for the KV cache.
    Without this check such a TP was predicted as if servable (TP 3 of 64 heads) or reported as missing rows."""
    model, node, vram = db.model(model_name), node_gpus(db, gpu), db.gpu(gpu).vram_bytes
    runs_at = [t for t in range(1, node + 1) if model.attention_heads % t == 0 and model.weight_bytes < vram * t]
    shown = ", ".join(map(str, runs_at))
    where = f"; {model.name} runs on {gpu} at TP {shown}" if runs_at else f"; no TP up to {node} holds it"
    if tp > node:
        return f"more GPUs than one {gpu} node holds ({node}; tensor parallelism runs within a node){where}"
    if model.attention_heads % tp:
        return f"does not divide the {model.attention_heads} attention heads of {model.name}{where}"
    if model.weight_bytes >= vram * tp:
        return (
            f"{model.name} does not fit in {tp}x {gpu}: its weights take {model.weight_bytes / 1e9:,.0f} GB of "
            f"the {vram * tp / 1e9:,.0f} GB of GPU memory{where}"
        )
    return None


def kv_capacity(db: ProfileDB, gpu: str, tp: int, model: ModelProfile) -> int:
    """KV-cache tokens one instance holds after its weights (tp GPUs' memory; the model's GQA-correct KV bytes)."""
    mem = db.gpu(gpu).vram_bytes * tp
    cap = int((mem - model.weight_bytes) // model.kv_bytes_per_token)
    if cap <= 0:
        raise ProfileMissingError(f"memory for the KV cache ({model.name} does not fit {tp}x {gpu})", gpu, model.name)
    return cap


def current_hardware(db: ProfileDB, gpu: str, tp: int, model_name: str) -> Hardware:
    """The curves the planner would use today for (gpu, tp, model): table rows, else the analytic roofline."""
    model = db.model(model_name)
    hw, _entry = perf_hardware_name(db, gpu, tp)
    cap = kv_capacity(db, gpu, tp, model)
    if db.has_table(TABLE):
        df = db.table(TABLE)
        models = df["model"].astype(str).map(lambda m: db.resolve_model(m) or m)
        rows = df[(models == model.name) & (df["hardware"].astype(str) == hw) & (df["tp"] == tp)]
        if not rows.empty:
            rows = rows.sort_values("batch_tokens", kind="stable")
            x = tuple(float(v) for v in rows["batch_tokens"])
            provs = sorted(set(rows["provenance"]))
            prov = "measured" if provs == ["measured"] else ("synthetic" if "synthetic" in provs else provs[0])
            return Hardware(
                gpu=gpu,
                tp=tp,
                model=model,
                prompt=Curve(x, tuple(float(v) / 1e3 for v in rows["prompt_ms"])),
                token=Curve(x, tuple(float(v) / 1e3 for v in rows["token_ms"])),
                kv_capacity_tokens=cap,
                provenance=prov,
                source=f"{TABLE}.csv ({hw}, tp {tp}): {rows['source'].iloc[0]}",
                perf_hardware=hw,
            )
    # Analytic roofline: the very estimate plan splitwise uses for pairs without rows (its default options).
    g = db.gpu(gpu)
    machine = Machine(
        name=f"{tp}x{gpu}", short="", aliases=(), gpu=gpu, gpus=tp, tp=tp, gpu_memory_bytes=g.vram_bytes,
        cost_usd_h=0.0, power_kw=0.0, power_kw_gpu_tdp=0.0, power_kw_machine_tdp=None,
        interconnect_bytes_s=g.nic_gbps * 1e9 / 8 * tp, perf_hardware=None, derive_from=None, source="calibration",
    )  # fmt: skip
    prof = analytic_profile(model, machine, db, AnalyticProfile())
    return Hardware(
        gpu=gpu,
        tp=tp,
        model=model,
        prompt=prof.prompt,
        token=prof.token,
        kv_capacity_tokens=cap,
        provenance="analytic",
        source=prof.source,
        perf_hardware=hw,
    )


def with_model(hw: Hardware, it: IterationModel, provenance: str, source: str) -> Hardware:
    """``hw`` with its curves replaced by the iteration model ``it``."""
    prompt, token = it.curves()
    return Hardware(hw.gpu, hw.tp, hw.model, prompt, token, hw.kv_capacity_tokens, provenance, source, hw.perf_hardware)
