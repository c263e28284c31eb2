"""The FP8 tensor-core peak: a model stored in one byte per value runs its GEMMs at the GPU's FP8 rate where the GPU
has FP8 tensor cores (``fp8_tflops`` in gpus.yaml: H100, H200, L4, L40S), and at the BF16/FP16 rate elsewhere
(A100, V100, T4, A10G). Every analytic model goes through :meth:`GpuProfile.tensor_tflops`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from planner.cli.app import app
from planner.errors import SpecError
from planner.helix.instance import HelixNode
from planner.helix.latency import LayerLatency
from planner.helix.throughput import RooflineInputs, roofline_tp
from planner.profiles.db import ProfileDB
from planner.profiles.roofline import RooflineParams, layer_flops_per_token, layer_prompt_s, node_peaks
from planner.profiles.schema import GpuProfile, ModelProfile
from planner.profiles.synth.dynamo_physics import Instance
from planner.spec.sections.helix import RooflineOptions
from planner.spec.sections.splitwise import AnalyticProfile
from planner.splitwise.machines import Machine
from planner.splitwise.perf import analytic_profile

EFF = RooflineParams()


def _fp8(model: ModelProfile) -> ModelProfile:
    return model.model_copy(update={"name": f"{model.name}-fp8", "dtype_bytes": 1})


def _peaks(gpu: GpuProfile, model: ModelProfile, gpus: int = 2):
    return node_peaks(gpu, gpus, EFF.compute_efficiency, EFF.memory_efficiency, dtype_bytes=model.dtype_bytes)


def test_shipped_fp8_peaks_are_half_the_datasheets_sparsity_figures(profile_db: ProfileDB) -> None:
    sparse = {"H100-80G": 3958, "H200": 3958, "L4": 485, "L40S": 1466}
    for name, with_sparsity in sparse.items():
        assert profile_db.gpu(name).fp8_tflops == with_sparsity / 2, name
        assert "sparsity / 2" in profile_db.gpu(name).source, name
    for name in ("A100-40G", "A100-80G", "V100", "T4", "A10G"):
        assert profile_db.gpu(name).fp8_tflops is None, name


def test_fp8_model_on_h100_gets_twice_the_bf16_compute_peak(profile_db: ProfileDB) -> None:
    h100, bf16 = profile_db.gpu("H100-80G"), profile_db.model("llama2-70b")
    fp8 = _fp8(bf16)
    p8, p16 = _peaks(h100, fp8), _peaks(h100, bf16)
    assert p8.flops_s == 2 * 1979e12 * EFF.compute_efficiency
    assert p8.flops_s / p16.flops_s == pytest.approx(2.0, rel=1e-3)  # 1979 / 989: the datasheet's own rounding
    assert p8.bytes_s == p16.bytes_s  # the HBM side does not depend on the storage type
    # a GPU whose FP8 figure is exactly twice its BF16 one: exactly half the time on compute-bound work
    even = h100.model_copy(update={"bf16_tflops": 1000.0, "fp8_tflops": 2000.0})
    e8, e16 = _peaks(even, fp8), _peaks(even, bf16)
    assert e8.flops_s == 2 * e16.flops_s
    # 8,192 prompt tokens at the same FLOPs and the same weight bytes: compute-bound, so half the layer time
    tokens, ctx, weight = 8192.0, 2048.0, bf16.layer_weight_bytes
    t8 = float(layer_prompt_s(fp8, e8, tokens, ctx, weight_bytes=weight))
    t16 = float(layer_prompt_s(bf16, e16, tokens, ctx, weight_bytes=weight))
    flops = tokens * layer_flops_per_token(bf16, ctx)
    assert layer_flops_per_token(fp8, ctx) == layer_flops_per_token(bf16, ctx)
    assert t16 == flops / e16.flops_s > weight / e16.bytes_s  # compute-bound
    assert t8 == flops / e8.flops_s
    assert t8 == pytest.approx(t16 / 2, rel=1e-15)


def test_fp8_model_on_a100_falls_back_to_the_bf16_peak(profile_db: ProfileDB) -> None:
    a100 = profile_db.gpu("A100-80G")
    fp8 = _fp8(profile_db.model("llama2-70b"))
    assert a100.tensor_tflops(1) == a100.bf16_tflops == 312
    assert _peaks(a100, fp8).flops_s == _peaks(a100, profile_db.model("llama2-70b")).flops_s
    assert _peaks(a100, fp8).flops_s == 2 * 312e12 * EFF.compute_efficiency
    assert not a100.uses_fp8(1) and a100.tensor_peak_name(1) == "BF16"


def test_two_byte_model_on_h100_keeps_the_bf16_peak(profile_db: ProfileDB) -> None:
    h100 = profile_db.gpu("H100-80G")
    for name in ("llama2-70b", "llama3.1-8b", "mixtral-8x7b"):
        model = profile_db.model(name)
        assert model.dtype_bytes == 2
        assert _peaks(h100, model).flops_s == 2 * 989e12 * EFF.compute_efficiency, name
        assert h100.tensor_tflops(model.dtype_bytes) == 989 and h100.tensor_peak_name(2) == "BF16"
    assert h100.tensor_tflops(4) == 989  # fp32 storage: no faster path than the bf16 tensor peak


def test_every_analytic_model_uses_the_fp8_peak(profile_db: ProfileDB) -> None:
    """Splitwise's analytic profile, Helix's roofline tp(k) and the dynamo physics model all go through the one
    method: an FP8 model on H100 is faster where compute binds, and the splitwise basis names the FP8 peak."""
    h100, bf16 = profile_db.gpu("H100-80G"), profile_db.model("llama2-70b")
    fp8 = _fp8(bf16)
    machine = Machine(
        name="2xH100", short="", aliases=(), gpu="H100-80G", gpus=2, tp=2, gpu_memory_bytes=h100.vram_bytes,
        cost_usd_h=0.0, power_kw=0.0, power_kw_gpu_tdp=0.0, power_kw_machine_tdp=None,
        interconnect_bytes_s=1e11, perf_hardware=None, derive_from=None, source="test",
    )  # fmt: skip
    opts = AnalyticProfile()
    s8, s16 = analytic_profile(fp8, machine, profile_db, opts), analytic_profile(bf16, machine, profile_db, opts)
    assert "FP8 tensor peak" in s8.source and "FP8" not in s16.source
    # the largest prompt knot is compute-bound in both: FP8 halves the FLOP time (the weight bytes halve too)
    big = -1
    flops = bf16.flops_per_token() * s8.prompt.x[big]
    assert s8.prompt.y_s[big] - opts.overhead == pytest.approx(flops / (2 * 1979e12 * opts.mfu), rel=1e-12)
    assert s16.prompt.y_s[big] - opts.overhead == pytest.approx(flops / (2 * 989e12 * opts.mfu), rel=1e-12)

    inputs = RooflineInputs(1024.0, 16.0, bf16.layer_weight_bytes, RooflineOptions())
    tp8, tp16 = roofline_tp(h100, 8, fp8, 4, inputs), roofline_tp(h100, 8, bf16, 4, inputs)
    assert all(a > b for a, b in zip(tp8, tp16, strict=True))

    # the Helix latency report's per-layer roofline (no measured curve for this model): prompt time halves
    node = HelixNode("n0", "H100-80G", 8, "r", "H100x8", 4, (1.0,), "analytic")
    lat8 = LayerLatency(profile_db, fp8, bf16.layer_weight_bytes).ms(node, "prompt", 8192)
    lat16 = LayerLatency(profile_db, bf16, bf16.layer_weight_bytes).ms(node, "prompt", 8192)
    assert lat8 == pytest.approx(lat16 * 989 / 1979, rel=1e-12)

    i8 = Instance(gpu=h100, model=fp8, tp=2, freq_mhz=1980)
    i16 = Instance(gpu=h100, model=bf16, tp=2, freq_mhz=1980)
    assert i8.prefill_s(8192) < i16.prefill_s(8192)


def test_fp8_tflops_must_be_positive(tmp_path: Path, runner) -> None:
    for bad in ("0", "-1979"):
        (tmp_path / "gpus.yaml").write_text(
            "X1:\n  vram_gb: 80\n  bf16_tflops: 989\n"
            f"  fp8_tflops: {bad}\n"
            "  hbm_gb_s: 3350\n  tdp_w: 700\n  price_usd_h: 1\n  nic_gbps: 400\n  source: s\n"
        )
        with pytest.raises(SpecError) as exc:
            ProfileDB.load(tmp_path)
        lines = exc.value.lines()
        assert len(lines) == 1 and "gpus.yaml:4:" in lines[0] and "X1.fp8_tflops" in lines[0], lines
        assert "greater than 0" in lines[0], lines
        res = runner.invoke(app, ["profiles", "list", "--profiles", str(tmp_path)])
        assert res.exit_code == 2
        assert res.stderr.strip().splitlines() == lines


def test_profiles_list_shows_the_fp8_column(runner) -> None:
    res = runner.invoke(app, ["profiles", "list"], env={"COLUMNS": "200"})
    assert res.exit_code == 0
    header = next(line for line in res.stdout.splitlines() if "bf16_tflops" in line)
    assert "fp8_tflops" in header
    row = {line.split()[1]: line for line in res.stdout.splitlines() if line.startswith("│")}
    assert "1,979.0" in row["H100-80G"] and "242.5" in row["L4"]
    cells = [c.strip() for c in row["A100-80G"].split("│")]
    assert cells[4] == "-"  # name, vram_gb, bf16_tflops, fp8_tflops
    assert np.isfinite(float(cells[3]))
