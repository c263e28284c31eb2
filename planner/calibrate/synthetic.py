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

from planner.calibrate.ingest import EngineLimits, MeasuredRun
from planner.calibrate.itermodel import IterationModel, current_hardware, with_model
from planner.calibrate.replay import replay
from planner.profiles.db import ProfileDB

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
        noisy = {k: v * (1.0 + noise * float(rng.standard_normal())) for k, v in sorted(pred.items())}
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
