"""The one analytic performance model (roofline) shared by every solver and the simulator.

A piece of work that needs ``F`` FLOPs and moves ``B`` bytes through HBM on hardware reaching ``P`` FLOP/s and
``H`` bytes/s takes ``max(F / P, B / H)`` seconds (Williams et al., "Roofline", CACM 2009): it is bound by
whichever resource it exhausts first. ``P`` and ``H`` are the datasheet peaks of the node's GPUs times achieved
efficiencies (ideal tensor parallelism inside a node). ``P`` is the tensor peak for the model's storage type
(:meth:`~planner.profiles.schema.GpuProfile.tensor_tflops`): FP8 for one-byte models on GPUs with FP8 tensor cores,
else BF16/FP16. Every figure derived here is an *analytic* estimate and is labelled so by its callers; measured
tables always win where they exist.

Users:

* :mod:`planner.profiles.nodeperf` (``plan simulate --latency roofline|auto`` and the Helix node model): per-layer
  prompt and decode time of a batch, :func:`layer_prompt_s` / :func:`layer_decode_s`;
* :mod:`planner.helix.throughput`: Helix tp(k) for GPU/model pairs without a table (same two functions);
* :mod:`planner.splitwise.perf`: whole-model iteration times of a machine, :func:`roofline_s`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from planner.profiles.schema import GpuProfile, ModelProfile


@dataclass(frozen=True)
class RooflineParams:
    """Achieved shares of the datasheet peaks, and the largest decode batch an iteration takes.

    Defaults: 50 % of peak TFLOP/s, 80 % of peak HBM bandwidth, at most 128 sequences per decode step (the
    ``helix.roofline`` defaults of the spec, docs/helix.md).
    """

    compute_efficiency: float = 0.5
    memory_efficiency: float = 0.8
    max_decode_batch: int = 128


@dataclass(frozen=True)
class Peaks:
    """Achieved FLOP/s and HBM bytes/s of a node (its GPUs together)."""

    flops_s: float
    bytes_s: float


def node_peaks(
    gpu: GpuProfile, gpus: int, compute_efficiency: float, memory_efficiency: float, *, dtype_bytes: int
) -> Peaks:
    """Peaks of ``gpus`` GPUs of one type working as one node (ideal tensor parallelism), serving a model stored in
    ``dtype_bytes`` bytes per value (which tensor peak applies: :meth:`GpuProfile.tensor_tflops`)."""
    return Peaks(
        flops_s=gpus * gpu.tensor_tflops(dtype_bytes) * 1e12 * compute_efficiency,
        bytes_s=gpus * gpu.hbm_gb_s * 1e9 * memory_efficiency,
    )


def peak_note(gpu: GpuProfile, dtype_bytes: int) -> str:
    """``", FP8 tensor peak"`` when the estimate rests on the FP8 peak, else nothing (the BF16 peak is the default
    every existing text assumes), for the strings that say what a roofline estimate rests on."""
    return f", {gpu.tensor_peak_name(dtype_bytes)} tensor peak" if gpu.uses_fp8(dtype_bytes) else ""


def roofline_s(flops: np.ndarray | float, nbytes: np.ndarray | float, peaks: Peaks) -> np.ndarray:
    """Seconds for work of ``flops`` FLOPs moving ``nbytes`` bytes: ``max(F / P, B / H)`` (element-wise)."""
    return np.maximum(np.asarray(flops, dtype=float) / peaks.flops_s, np.asarray(nbytes, dtype=float) / peaks.bytes_s)


def layer_flops_per_token(model: ModelProfile, context_tokens: float) -> float:
    """FLOPs of one token in one layer at ``context_tokens`` of attention context."""
    return model.flops_per_token(int(round(context_tokens))) / model.layers


def kv_bytes_per_token_layer(model: ModelProfile) -> float:
    """KV-cache bytes of one token in one layer (GQA-aware: K and V of ``kv_heads`` heads)."""
    return model.kv_bytes_per_token / model.layers


def layer_prompt_s(
    model: ModelProfile, peaks: Peaks, tokens: np.ndarray | float, context: float, weight_bytes: float | None = None
) -> np.ndarray:
    """Time of one layer over a prompt batch of ``tokens`` tokens: ``max(P x F(c) / peak, W / hbm)``.

    ``context`` is the typical attention context of a prompt token (half the mean prompt); ``W`` the layer's
    weight bytes (default: from the architecture), read once per iteration.
    """
    w = model.layer_weight_bytes if weight_bytes is None else weight_bytes
    t = np.asarray(tokens, dtype=float)
    return roofline_s(t * layer_flops_per_token(model, context), np.full_like(t, w), peaks)


def layer_decode_s(
    model: ModelProfile, peaks: Peaks, batch: np.ndarray | float, context: float, weight_bytes: float | None = None
) -> np.ndarray:
    """Time of one layer over a decode batch of ``batch`` sequences: ``max(D x F(c) / peak, (W + D c kv) / hbm)``.

    Decoding reads the weights and every sequence's KV cache (``c`` tokens of context each) once per step.
    """
    w = model.layer_weight_bytes if weight_bytes is None else weight_bytes
    d = np.asarray(batch, dtype=float)
    kv = kv_bytes_per_token_layer(model)
    return roofline_s(d * layer_flops_per_token(model, context), w + d * context * kv, peaks)
