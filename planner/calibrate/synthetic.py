"""Synthetic benchmark files from a known iteration model plus noise: the recovery fixtures of calibration.

Every file written here is labelled ``synthetic`` (in its sidecar and its rows); none is ever shipped as measured.
A run's figures are what :func:`planner.calibrate.replay.replay` predicts with the known model, each multiplied by
``1 + noise * N(0, 1)`` independently (the duration too, so that the throughputs stay consistent with it): the noise
a repeated real benchmark shows between runs. A fit that recovers the known model within a few per cent, and an
accuracy check that reports errors at (not below) the noise level, is the evidence that calibration works.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from planner.calibrate.dynamo_fit import with_fitted
from planner.calibrate.ingest import METRICS, EngineLimits, MeasuredRun
from planner.calibrate.itermodel import IterationModel, current_hardware, with_model
from planner.calibrate.replay import replay
from planner.profiles.db import ProfileDB
from planner.profiles.synth.dynamo_physics import DEFAULT_PARAMETERS, Instance, max_stable_rps, serve

#: The known model of the recovery tests (shaped like a 70B model on 8 H100: see docs/accuracy.md).
KNOWN = IterationModel(
    prompt_base_ms=12.0, prompt_ms_per_ktok=60.0, prompt_ms_per_ktok2=5.0, token_base_ms=22.0, token_ms_per_100seq=8.0
)


@dataclass(frozen=True)
class Scenario:
    """One benchmark run to synthesise: mean lengths (requests drawn in [0.8, 1] x mean) and how they are sent."""

    input_len: int
    output_len: int
    num_prompts: int
    max_concurrency: int | None = None
    request_rate: float | None = None


def default_scenarios() -> list[Scenario]:
    """A small sweep like a user's: isolated requests of six prompt lengths (the prompt curve), a moderate
    concurrency, two high-concurrency decode-heavy runs (the token curve up to 256 sequences) and an open-loop rate.
    """
    return [
        *(Scenario(n, 64, 16, max_concurrency=1) for n in (128, 512, 2048, 4096, 8000, 12000)),
        Scenario(1024, 128, 32, max_concurrency=8),
        Scenario(64, 256, 128, max_concurrency=64),
        Scenario(64, 256, 512, max_concurrency=256),
        Scenario(1024, 256, 64, request_rate=4.0),
    ]


def _lengths(rng: np.random.Generator, mean: int, n: int) -> list[int]:
    return [int(v) for v in rng.integers(max(1, int(0.8 * mean)), mean + 1, size=n)]


def synthesize(
    db: ProfileDB,
    directory: Path,
    *,
    known: IterationModel = KNOWN,
    gpu: str = "H100-80G",
    tp: int = 8,
    model: str = "llama2-70b",
    noise: float = 0.02,
    seed: int = 0,
    scenarios: list[Scenario] | None = None,
) -> list[Path]:
    """Write one vLLM-format result JSON (+ sidecar) per scenario into ``directory``; returns the JSON paths."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    base = current_hardware(db, db.resolve_gpu(gpu) or gpu, tp, db.model(model).name)
    hw = with_model(base, known, "synthetic", "synthetic:known model")
    paths: list[Path] = []
    for i, sc in enumerate(scenarios or default_scenarios()):
        ins = _lengths(rng, sc.input_len, sc.num_prompts)
        outs = _lengths(rng, sc.output_len, sc.num_prompts)
        run = MeasuredRun(
            file="synthetic",
            label=f"synthetic-{i:02d}",
            engine="vllm",
            provenance="synthetic",
            source="synthetic",
            gpu=hw.gpu,
            tp=tp,
            model=hw.model.name,
            limits=EngineLimits(),
            completed=sc.num_prompts,
            input_tokens=tuple(ins),
            output_tokens=tuple(outs),
            per_request=True,
            request_rate_rps=sc.request_rate,
            max_concurrency=sc.max_concurrency,
            metrics={},
        )
        pred = replay(run, hw).metrics
        noisy = {k: v * (1.0 + noise * float(rng.standard_normal())) for k, v in sorted(pred.items()) if k in METRICS}
        duration = sc.num_prompts / noisy["request_throughput_rps"]
        rec = {
            "backend": "vllm",
            "model_id": "meta-llama/Llama-2-70b-hf",
            "num_prompts": sc.num_prompts,
            "request_rate": sc.request_rate if sc.request_rate is not None else "inf",
            "burstiness": 1.0,
            "max_concurrency": sc.max_concurrency,
            "duration": duration,
            "completed": sc.num_prompts,
            "total_input_tokens": sum(ins),
            "total_output_tokens": sum(outs),
            "request_throughput": sc.num_prompts / duration,
            "output_throughput": sum(outs) / duration,
            "median_ttft_ms": noisy["ttft_p50_ms"],
            "p99_ttft_ms": max(noisy["ttft_p99_ms"], noisy["ttft_p50_ms"]),
            "median_tpot_ms": noisy["tpot_p50_ms"],
            "p99_tpot_ms": max(noisy["tpot_p99_ms"], noisy["tpot_p50_ms"]),
            "p99_e2el_ms": noisy["e2e_p99_ms"],
            "input_lens": ins,
            "output_lens": outs,
        }
        path = directory / f"synthetic-{i:02d}.json"
        path.write_text(json.dumps(rec, indent=1, sort_keys=True) + "\n")
        side = {
            "gpu": gpu,
            "tp": tp,
            "model": model,
            "provenance": "synthetic",
            "source": (
                f"synthetic: llmplan calibrate.synthetic (known model {known.as_dict()}, noise {noise:g}, seed {seed})"
            ),
        }
        path.with_name(path.stem + ".meta.yaml").write_text(yaml.safe_dump(side, sort_keys=True))
        paths.append(path)
    return paths


# ----------------------------------------------------------------------------------------------- dynamo profile
#: The known parameters of the dynamo recovery tests (away from the shipped defaults, so a fit has to move).
KNOWN_DYNAMO: dict[str, float] = {
    "mfu_prefill": 0.48,
    "mbu_decode": 0.62,
    "t_cpu_s": 2.0e-3,
    "t_clk_s": 3.0e-3,
    "idle_base_w": 70.0,
    "idle_clock_w": 40.0,
    "sm_dyn_w": 500.0,
    "hbm_w": 110.0,
}


@dataclass(frozen=True)
class DvfsScenario:
    """One open-loop run at a locked clock: request size, TP, clock and load as a share of the stable maximum."""

    tp: int
    freq_mhz: int
    input_len: int
    output_len: int
    load_share: float
    num_prompts: int = 200


def default_dvfs_scenarios() -> list[DvfsScenario]:
    """Two TPs x three clocks x two request sizes x a light and a heavy load: what a DVFS sweep measures."""
    return [
        DvfsScenario(tp, f, i, o, share)
        for tp in (4, 8)
        for f in (1000, 1400, 1800)
        for i, o in ((512, 200), (2048, 400))
        for share in (0.25, 0.7)
    ]


@dataclass(frozen=True)
class IterationSweep:
    """The per-iteration profile a DVFS sweep logs: every (TP, locked clock) the planner chooses among, prompt chunks
    of several sizes, decode batches at several contexts (what the KV cache streams), idle readings, each shape
    logged ``repeats`` times (a profiler logs every iteration, each with its own jitter).

    Why this design: ``t_cpu_s`` (clock-insensitive) and ``t_clk_s / phi`` (clock-scaled) add up to 3-7 ms of a
    15-40 ms iteration, and the weights streamed (``mbu_decode``) add a third constant. The split is pinned only by
    how the iteration moves with the clock (the wider the clock range, the better), with the TP (weights / TP) and
    with the context (KV bytes). Three clocks of one TP leave ``t_cpu_s`` with a 9 % standard error at 2 % noise;
    this sweep brings every fitted parameter under 2 % (docs/accuracy.md).
    """

    tps: tuple[int, ...] = (4, 8)
    freqs_mhz: tuple[int, ...] = (800, 1000, 1200, 1400, 1600, 1800, 1980)
    prompt_tokens: tuple[int, ...] = (128, 256, 512, 1024, 2048)
    batches: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 48, 64, 96, 128)
    contexts: tuple[int, ...] = (256, 1024, 4096)
    idle_readings: int = 3
    repeats: int = 4


def _noisy(rng: np.random.Generator, value: float, noise: float) -> float:
    return value * (1.0 + noise * float(rng.standard_normal()))


def synthesize_dvfs(
    db: ProfileDB,
    directory: Path,
    *,
    known: dict[str, float] | None = None,
    gpu: str = "H100-80G",
    model: str = "llama2-70b",
    noise: float = 0.02,
    seed: int = 0,
    scenarios: list[DvfsScenario] | None = None,
    sweep: IterationSweep | None = None,
    provenance: str = "synthetic",
) -> list[Path]:
    """vLLM result JSONs at locked clocks with measured power (sidecars), plus one iteration CSV with power per
    (TP, clock) of the ``sweep`` (default :class:`IterationSweep`).

    Each figure is what :mod:`planner.profiles.synth.dynamo_physics` predicts with the ``known`` parameters, times
    ``1 + noise * N(0, 1)``. ``provenance`` stays ``synthetic`` for everything shipped; tests of how labels flow into
    plans may write ``measured`` copies into a temporary directory.
    """
    params = with_fitted(DEFAULT_PARAMETERS, known or KNOWN_DYNAMO)
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    g, m = db.gpu(db.resolve_gpu(gpu) or gpu), db.model(model)
    source = (
        f"synthetic: llmplan calibrate.synthetic dvfs (known {known or KNOWN_DYNAMO}, noise {noise:g}, seed {seed})"
    )
    paths: list[Path] = []
    for i, sc in enumerate(scenarios or default_dvfs_scenarios()):
        inst = Instance(g, m, sc.tp, float(sc.freq_mhz), params)
        lam = round(sc.load_share * max_stable_rps(inst, sc.input_len, sc.output_len), 4)
        point = serve(inst, sc.input_len, sc.output_len, lam)
        if point is None:
            raise ValueError(f"scenario {sc} is unstable")
        n = sc.num_prompts
        duration = n / _noisy(rng, lam, noise)
        rec = {
            "backend": "vllm",
            "model_id": "meta-llama/Llama-2-70b-hf",
            "num_prompts": n,
            "request_rate": lam,
            "burstiness": 1.0,
            "max_concurrency": None,
            "duration": duration,
            "completed": n,
            "total_input_tokens": n * sc.input_len,
            "total_output_tokens": n * sc.output_len,
            "request_throughput": n / duration,
            "output_throughput": n * sc.output_len / duration,
            "p99_ttft_ms": _noisy(rng, point.ttft_p99_s * 1e3, noise),
            "p99_tpot_ms": _noisy(rng, point.tbt_p99_s * 1e3, noise),
            "p99_e2el_ms": _noisy(rng, point.e2e_p99_s * 1e3, noise),
        }
        path = directory / f"dvfs-{i:02d}.json"
        path.write_text(json.dumps(rec, indent=1, sort_keys=True) + "\n")
        side = {
            "gpu": gpu,
            "tp": sc.tp,
            "model": model,
            "freq_mhz": sc.freq_mhz,
            "power_w": round(_noisy(rng, point.power_w, noise), 3),
            "provenance": provenance,
            "source": source,
        }
        path.with_name(path.stem + ".meta.yaml").write_text(yaml.safe_dump(side, sort_keys=True))
        paths.append(path)
    sw = sweep or IterationSweep()
    for tp in sw.tps:
        for f in sw.freqs_mhz:
            inst = Instance(g, m, tp, float(f), params)
            paths.append(_iteration_csv_with_power(directory, inst, sw, rng, noise, gpu, model, provenance, source))
    return paths


def _iteration_csv_with_power(
    directory: Path,
    inst: Instance,
    sweep: IterationSweep,
    rng: np.random.Generator,
    noise: float,
    gpu: str,
    model: str,
    provenance: str,
    source: str,
) -> Path:
    """One per-iteration CSV of ``inst`` (TP and clock): idle readings, prompt chunks, decode batches at each context
    that fits the KV cache, each shape ``sweep.repeats`` times, with power: what a profiler logs while a sweep runs."""
    tp, kappa = inst.tp, inst.params.kappa_decode
    lines = ["batch_size,tokens,prompt_ms,token_ms,context_tokens,power_w"]
    lines += [f"0,0,,,0,{_noisy(rng, inst.idle_w, noise):.3f}" for _ in range(sweep.idle_readings)]
    for _ in range(sweep.repeats):
        for x in sweep.prompt_tokens:
            s, act, hbm = inst.iteration(0.0, 0.0, float(x))
            w = inst.idle_w + tp * inst.iteration_power_w(act, hbm)
            lines.append(f"1,{x},{_noisy(rng, s * 1e3, noise):.4f},,0,{_noisy(rng, w, noise):.3f}")
        for ctx in sweep.contexts:
            for b in sweep.batches:
                if b * ctx > inst.kv_capacity_tokens:
                    continue  # the server could not hold this batch: a real sweep cannot log it either
                s, act, hbm = inst.iteration(float(b), float(ctx))
                w = inst.idle_w + tp * inst.iteration_power_w(kappa + (1 - kappa) * act, hbm)
                lines.append(f"{b},{b},,{_noisy(rng, s * 1e3, noise):.4f},{ctx},{_noisy(rng, w, noise):.3f}")
    freq = round(inst.freq_mhz)
    path = directory / f"dvfs-iterations-tp{tp}-{freq}.csv"
    path.write_text("# SYNTHETIC per-iteration latencies and power (see the sidecar)\n" * (provenance == "synthetic")
                    + "\n".join(lines) + "\n")  # fmt: skip
    side = {"gpu": gpu, "tp": tp, "model": model, "freq_mhz": freq, "provenance": provenance, "source": source}
    path.with_name(path.stem + ".meta.yaml").write_text(yaml.safe_dump(side, sort_keys=True))
    return path
