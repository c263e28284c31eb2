"""The synthetic profile generator: physical shape, calibration against the reference anchors, reproducibility.

Calibration figures (docs/dynamo.md): the reference quotes 0.77 Wh (SS, TP2 @ 1200 MHz) and 13.21 Wh (LL, TP8 @
1980 MHz) per request "at 2K tokens/s", load definition and energy boundary unverified. Our GPU-only model gives,
per request of the classes' median requests (SS 202/64, LL 1091/409 tokens), instance power x p99 latency at 2,000
tokens/s per instance 0.40 and 4.6 Wh, and for an isolated request 0.28 and 4.0 Wh: 0.3-0.5x the anchors
(consistent with a server-level boundary in the paper: DGX-H100 10.2 kW vs 5.6 kW of GPUs), the LL/SS ratio
(12-14x) within 1.5x of the anchors' 17x, and a range far above 10x.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import sys

import pytest

from planner.dynamo.profile import Config, Slo
from planner.profiles.synth.dynamo_physics import (
    DEFAULT_CLASS_TOKENS,
    Instance,
    isolated_energy_wh,
    serve,
)

from .conftest import ROOT

ANCHOR_SS, ANCHOR_LL = 0.77, 13.21


@pytest.fixture(scope="module")
def hw(profile_db):
    return profile_db.gpu("H100-80G"), profile_db.model("llama2-70b")


def rep(cls: str) -> tuple[int, int]:
    return DEFAULT_CLASS_TOKENS[cls]


def test_prefill_is_clock_sensitive_decode_is_not(hw) -> None:
    gpu, model = hw
    slow, fast = Instance(gpu, model, 4, 800), Instance(gpu, model, 4, 1980)
    prefill_ratio = slow.prefill_s(2048) / fast.prefill_s(2048)
    decode_ratio = slow.iteration(8, 1000)[0] / fast.iteration(8, 1000)[0]
    assert prefill_ratio > 2.0  # compute-bound: close to 1980/800
    assert decode_ratio < 1.3  # memory-bound: weights and KV streaming do not follow the SM clock


def test_power_static_plus_superlinear_dynamic(hw) -> None:
    gpu, model = hw
    powers = [Instance(gpu, model, 8, f).iteration_power_w(1.0, 0.0) for f in (800, 1200, 1600, 1980)]
    steps = [b - a for a, b in zip(powers[:-1], powers[1:], strict=True)]
    assert all(s > 0 for s in steps) and steps[0] < steps[1] < steps[2]  # convex in the clock
    assert Instance(gpu, model, 8, 800).idle_w < Instance(gpu, model, 8, 1980).idle_w
    peak = Instance(gpu, model, 8, 1980).params.idle_base_w + Instance(gpu, model, 8, 1980).params.idle_clock_w
    assert peak + powers[-1] <= gpu.tdp_w + 1e-9  # full prefill activity stays within the 700 W TDP


def test_latency_and_power_grow_with_load(hw) -> None:
    gpu, model = hw
    inst = Instance(gpu, model, 4, 1400)
    points = [serve(inst, 512, 200, lam) for lam in (0.0, 1.0, 3.0, 6.0)]
    assert all(p is not None for p in points)
    for a, b in zip(points[:-1], points[1:], strict=True):
        assert b.ttft_p99_s >= a.ttft_p99_s and b.tbt_p99_s >= a.tbt_p99_s and b.power_w > a.power_w
    assert serve(inst, 512, 200, 1e3) is None  # far beyond the stable rate


def test_tp2_holds_little_kv(hw) -> None:
    gpu, model = hw
    assert 10_000 < Instance(gpu, model, 2, 1980).kv_capacity_tokens < 30_000  # 138 GB of weights on 160 GB
    assert not Instance(gpu, model, 1, 1980).fits


def test_anchor_calibration(hw) -> None:
    gpu, model = hw
    ss, ll = Instance(gpu, model, 2, 1200), Instance(gpu, model, 8, 1980)
    iso_ss, iso_ll = isolated_energy_wh(ss, *rep("SS")), isolated_energy_wh(ll, *rep("LL"))
    at = {}
    for name, inst in (("SS", ss), ("LL", ll)):
        i, o = rep(name)
        p = serve(inst, i, o, 2000.0 / (i + o))
        at[name] = p.power_w * p.e2e_p99_s / 3600.0
    for got, anchor in ((iso_ss, ANCHOR_SS), (iso_ll, ANCHOR_LL), (at["SS"], ANCHOR_SS), (at["LL"], ANCHOR_LL)):
        assert anchor / 4.0 < got < anchor  # GPU-only figures sit below the (likely server-level) anchors
    anchor_ratio = ANCHOR_LL / ANCHOR_SS
    for ratio in (iso_ll / iso_ss, at["LL"] / at["SS"]):
        assert anchor_ratio / 2.0 < ratio < anchor_ratio * 2.0


def test_energy_range_and_u_shape_in_the_shipped_table(tmp_path) -> None:
    from .conftest import tiny_problem

    pb = tiny_problem(tmp_path)
    slo = Slo(ttft_s=0.4, tbt_s=0.1)
    per_req = {}
    for k in pb.classes:
        for c in pb.configs:
            f = pb.profiles.figures(k, c, slo)
            if f.cap_rps > 0:
                per_req[(k, c)] = pb.idle_w(c) / f.cap_rps / 3600.0 + f.energy_wh
    assert max(per_req.values()) / min(per_req.values()) > 10.0
    interior = 0
    for k in pb.classes:
        for tp in (2, 4, 8):
            curve = [per_req.get((k, Config(tp, f))) for f in (800, 1000, 1200, 1400, 1600, 1800, 1980)]
            curve = [e for e in curve if e is not None]
            if len(curve) >= 3 and 0 < curve.index(min(curve)) < len(curve) - 1:
                interior += 1
    assert interior >= 5  # U-shaped energy versus clock, minimum at a middle clock, for several class/TP pairs


def _generator():
    spec = importlib.util.spec_from_file_location("gen_dynamo_profile", ROOT / "scripts" / "gen_dynamo_profile.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_dynamo_profile"] = module
    spec.loader.exec_module(module)
    return module


def test_shipped_rows_are_what_the_generator_writes(hw) -> None:
    """One (class, TP, clock) sweep regenerated and compared with the shipped CSV (the full table: slow test)."""
    from planner.profiles.synth.dynamo_physics import profile_rows

    gen = _generator()
    gpu, model = hw
    rows = profile_rows(gpu, model, {"MM": rep("MM")}, (4,), (1400.0,), gen.GENERATOR)
    buf = io.StringIO()
    csv.DictWriter(buf, fieldnames=gen.COLUMNS, lineterminator="\n").writerows(rows)
    shipped = (ROOT / "profiles" / "tables" / "dynamo_profile.csv").read_text()
    assert len(rows) == 14 and buf.getvalue() in shipped


@pytest.mark.slow
def test_full_table_regenerates_byte_identical() -> None:
    gen = _generator()
    text = gen.build_table(gen.parser().parse_args([]))
    assert text == (ROOT / "profiles" / "tables" / "dynamo_profile.csv").read_text()
