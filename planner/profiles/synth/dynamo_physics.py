"""A documented physical model of one LLM inference instance, used only to *generate* the synthetic profile table.

The planner never calls this module while planning: it reads ``profiles/tables/dynamo_profile.csv`` (synthetic rows
written by ``scripts/gen_dynamo_profile.py`` from this model, or measured rows in the same schema). Keeping the
generator in the package lets tests check that the shipped table is exactly what the model produces, and lets a user
regenerate it for other class cut points, GPUs or models.

The model (DynamoLLM reference README section 6; the shape of the curves, not the paper's numbers)
----------------------------------------------------------------------------------------------------
One *instance* is a vLLM-like server of the model sharded over ``t`` GPUs (tensor parallelism) whose SM clock is
locked at ``f`` MHz; ``phi = f / f_max``. Hardware figures (peak tensor FLOP/s, HBM bandwidth, VRAM, TDP, clock
range) come from ``gpus.yaml`` (the peak is BF16, or FP8 for a one-byte model on a GPU with FP8 tensor cores:
``GpuProfile.tensor_tflops``); model figures (weight bytes, KV bytes per token, FLOPs per token) from ``models.yaml``.

*Iteration time (roofline).* One engine iteration over a decode batch of ``B`` sequences of mean context ``ctx``,
optionally carrying a prefill chunk of ``c`` tokens, takes::

    t_mem  = (W / t + B * ctx * kv / t) / (hbm * mbu)                         memory: weights + KV, clock-insensitive
    t_cmp  = (B * F(ctx) / mfu_dec + c * F(c/2) / mfu_pre) / (t * peak * phi)  compute, scales with the SM clock
    t_comm = 2 * L * [t > 1] * (ar_latency + 2 (t-1)/t * (B + c) * h * dtype / nvlink)   two all-reduces per layer
    s(B, c) = max(t_mem, t_cmp) + t_comm + t_cpu + t_clk / phi

``t_cpu`` (scheduler, sampling on the host) is clock-insensitive; ``t_clk`` (norms, rotary, launches: short
latency-bound kernels) scales with the clock. So **prefill is compute-bound and frequency-sensitive** and **decode is
memory-bound and nearly frequency-insensitive** (only ``t_clk/phi`` and, at large batches, ``t_cmp`` move).

*Serving at an arrival rate* ``lam`` (Poisson) with prefill priority and chunked prefill (chunks of ``C`` tokens):

* prefill work per request ``p = sum of s(0, c_j)`` over its chunks; prefill time share ``rho = lam * p``;
* decode gets the remaining ``1 - rho``; the mean number of decoding sequences ``N`` solves Little's law
  ``N = lam * (O - 1) * s(B, 0) / (1 - rho)`` with the busy batch ``B = N / (1 - exp(-N))`` (zero-truncated
  Poisson); stable only if a finite solution exists, ``rho < 1`` and the KV cache holds ``B99 * (I + O)`` tokens;
* ``B99 = B + z99 * sqrt(B)`` is the 99th-percentile batch; a token interval holds ``k99`` prefill chunks, the 99th
  percentile of Poisson(``m = lam * ceil(I/C) * TBT_mean``) in its normal approximation ``m + z99 sqrt(m)``
  (smooth in the load, so capacities do not jump with the integer quantile):
  ``TBT_p99 = s(B99, 0) / (1 - rho) + k99 * s(0, C)``;
* TTFT is an M/M/1-like prefill queue (conservative for near-deterministic service) behind the running iteration:
  ``TTFT_p99 = p + s(B, 0) + p / (1 - rho) * ln(100 rho)`` (the last term only when ``rho > 1%``);
* ``E2E_p99 = TTFT_p99 + (O - 1) * s(B99, 0) / (1 - rho)``.

*Power per GPU* (``P_dyn = C V^2 f``: static plus dynamic power rising super-linearly with the clock)::

    g(phi)  = phi * (V(phi) / V_max)^2,  V rising linearly from v_min_frac * V_max at f_min to V_max at f_max
    P_idle  = idle_base_w + idle_clock_w * g(phi)                      clock-locked idle (leakage + clock tree)
    P_iter  = sm_dyn_w * g(phi) * a + hbm_w * m                         a = SM activity, m = HBM busy share
    P       = P_idle + rho * P_iter(prefill) + (1 - rho) * (1 - exp(-N)) * P_iter(decode, B)

with ``a = t_cmp / s`` for prefill and ``a = kappa_dec + (1 - kappa_dec) * t_cmp / s`` for decode (memory-bound
kernels keep the SMs partly busy), ``m = t_mem / s``. Instance power is ``t * P``; the GPU is the energy boundary
(reference section 2).

Calibration (see :data:`DEFAULT_PARAMETERS` and docs/dynamo.md)
---------------------------------------------------------------
Datasheet figures are used as they are. Efficiencies and power coefficients take typical published values for H100
(prefill GEMM efficiency about 55%, decode bandwidth efficiency about 70%, clock-locked idle about 60-90 W, decode
about 300 W and prefill near the 700 W TDP at the top clock: reference section 6, H200 decode 137-300 W). They were
then checked against the reference anchors, never against a savings figure: the isolated-request energy of SS on
TP2 at 1200 MHz and of LL on TP8 at 1980 MHz (0.77 and 13.21 Wh in the paper, load definition unverified), a range
of more than 10x across classes, TP and frequency, and a U-shaped energy-versus-frequency curve with an interior
minimum. ``tests/unit/dynamo/test_physics.py`` asserts the anchors within the stated tolerance.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from functools import cached_property

from planner.profiles.schema import GpuProfile, ModelProfile

#: Standard normal 99th percentile (B99 = B + z99 sqrt(B)).
Z99 = 2.326


@dataclass(frozen=True)
class Parameters:
    """Free parameters of the physical model; every one is a physical quantity with a stated unit."""

    mfu_prefill: float = 0.55  # fraction of the tensor peak (bf16, or fp8) reached by prefill GEMMs
    mfu_decode: float = 0.35  # fraction of peak reached by the skinny decode GEMMs (matters at large batch)
    mbu_decode: float = 0.70  # fraction of HBM bandwidth reached while streaming weights and KV
    t_cpu_s: float = 1.5e-3  # host-side scheduling and sampling per iteration (clock-insensitive)
    t_clk_s: float = 4.0e-3  # latency-bound GPU kernels per iteration at f_max (scale with 1/phi)
    allreduce_latency_s: float = 8e-6  # latency of one all-reduce over NVLink
    nvlink_bytes_s: float = 450e9  # NVLink bandwidth per GPU and direction (H100 SXM: 900 GB/s bidirectional)
    vram_reserve_frac: float = 0.10  # VRAM kept for activations, CUDA graphs and the runtime
    prefill_chunk_tokens: int = 512  # chunked-prefill token budget per iteration
    idle_base_w: float = 60.0  # per GPU, at the lowest clock
    idle_clock_w: float = 30.0  # per GPU, extra clock-locked idle power at f_max (scales with g(phi))
    sm_dyn_w: float = 560.0  # per GPU, SM dynamic power at full activity and f_max
    hbm_w: float = 90.0  # per GPU, HBM and memory-controller power at full bandwidth
    kappa_decode: float = 0.30  # SM activity of memory-bound decode kernels
    v_min_frac: float = 0.65  # core voltage at f_min as a fraction of the voltage at f_max
    f_min_mhz: float = 800.0  # lowest locked clock of the DVFS line


DEFAULT_PARAMETERS = Parameters()


@dataclass(frozen=True)
class _Fixed:
    """What :meth:`Instance.iteration` reads that does not change with the batch (see ``Instance._fixed``)."""

    weight_share: float
    kv_bytes: int
    hbm_rate: float
    dense_flops: float
    attn_flops: float
    tensor_rate: float
    clk_s: float
    ring: float
    layers2: float


@dataclass(frozen=True)
class Instance:
    """One instance configuration: hardware, model, TP degree and locked SM clock."""

    gpu: GpuProfile
    model: ModelProfile
    tp: int
    freq_mhz: float
    params: Parameters = field(default_factory=Parameters)

    # ------------------------------------------------------------------------------------------ derived figures
    @property
    def phi(self) -> float:
        f_max = self.gpu.sm_clock_mhz_max or self.freq_mhz
        return self.freq_mhz / f_max

    @property
    def clock_power_factor(self) -> float:
        """g(phi) = phi (V/V_max)^2 with the voltage linear in the clock between f_min and f_max."""
        p = self.params
        f_max = self.gpu.sm_clock_mhz_max or self.freq_mhz
        span = max(f_max - p.f_min_mhz, 1e-9)
        v = p.v_min_frac + (1.0 - p.v_min_frac) * min(max((self.freq_mhz - p.f_min_mhz) / span, 0.0), 1.0)
        return self.phi * v * v

    @property
    def kv_capacity_tokens(self) -> float:
        """Tokens of KV cache the instance holds after weights and the runtime reserve (0 if the model won't fit)."""
        free = self.tp * self.gpu.vram_bytes * (1.0 - self.params.vram_reserve_frac) - self.model.weight_bytes
        return max(free, 0.0) / self.model.kv_bytes_per_token

    @property
    def fits(self) -> bool:
        return self.kv_capacity_tokens >= 1.0

    @cached_property
    def _fixed(self) -> _Fixed:
        """The factors of :meth:`iteration` that depend on the instance alone, each computed as the formula writes
        it (same operations, same order: the same floats). The load sweeps call :meth:`iteration` millions of times;
        reading these through the pydantic profiles each time was most of a profile sweep's run time."""
        p, g, m = self.params, self.gpu, self.model
        return _Fixed(
            weight_share=m.weight_bytes / self.tp,
            kv_bytes=m.kv_bytes_per_token,
            hbm_rate=g.hbm_gb_s * 1e9 * p.mbu_decode,
            dense_flops=2.0 * m.active_layer_params * m.layers,
            attn_flops=4.0 * m.layers * m.hidden_size,
            tensor_rate=self.tp * g.tensor_tflops(m.dtype_bytes) * 1e12 * self.phi,
            clk_s=p.t_clk_s / self.phi,
            ring=2.0 * (self.tp - 1) / self.tp,
            layers2=2.0 * m.layers,
        )

    def _flops(self, tokens: float, ctx: float) -> float:
        f = self._fixed
        return tokens * (f.dense_flops + f.attn_flops * int(ctx))  # tokens x ModelProfile.flops_per_token(ctx)

    def _comm_s(self, tokens: float) -> float:
        if self.tp == 1:
            return 0.0
        p, f = self.params, self._fixed
        payload = tokens * self.model.hidden_size * self.model.dtype_bytes
        per = p.allreduce_latency_s + f.ring * payload / p.nvlink_bytes_s
        return f.layers2 * per

    def iteration(self, batch: float, ctx: float, chunk: float = 0.0) -> tuple[float, float, float]:
        """(seconds, SM activity share, HBM busy share) of one iteration: ``batch`` decodes + a ``chunk`` prefill."""
        p, f = self.params, self._fixed
        bytes_read = f.weight_share + batch * ctx * f.kv_bytes / self.tp
        t_mem = bytes_read / f.hbm_rate
        work = self._flops(batch, ctx) / p.mfu_decode + self._flops(chunk, chunk / 2.0) / p.mfu_prefill
        t_cmp = work / f.tensor_rate
        s = max(t_mem, t_cmp) + self._comm_s(batch + chunk) + p.t_cpu_s + f.clk_s
        return s, t_cmp / s, t_mem / s

    def prefill_s(self, input_tokens: int) -> float:
        """Time to prefill ``input_tokens`` alone, in chunks of ``prefill_chunk_tokens``."""
        c = self.params.prefill_chunk_tokens
        full, rest = divmod(max(input_tokens, 1), c)
        total = full * self.iteration(0.0, 0.0, c)[0]
        return total + (self.iteration(0.0, 0.0, rest)[0] if rest else 0.0)

    def iteration_power_w(self, activity: float, hbm_share: float) -> float:
        """Power per GPU above clock-locked idle while an iteration runs."""
        p = self.params
        return p.sm_dyn_w * self.clock_power_factor * activity + p.hbm_w * hbm_share

    @property
    def idle_w(self) -> float:
        """Instance power with nothing to do (clock locked at ``freq_mhz``)."""
        p = self.params
        return self.tp * (p.idle_base_w + p.idle_clock_w * self.clock_power_factor)


@dataclass(frozen=True)
class LoadPoint:
    """The instance serving one class at ``load_rps``: p99 latencies (s) and average power (W)."""

    load_rps: float
    ttft_p99_s: float
    tbt_p99_s: float
    e2e_p99_s: float
    power_w: float
    batch: float  # mean busy decode batch
    prefill_share: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def serve(inst: Instance, input_tokens: int, output_tokens: int, load_rps: float) -> LoadPoint | None:
    """Steady state of ``inst`` serving requests of one size at ``load_rps``; None when unstable or out of memory.

    Chunked prefill merged into decode iterations (vLLM's default scheduler): see the module docstring.
    """
    i_tok, o_tok = max(input_tokens, 1), max(output_tokens, 1)
    ctx = i_tok + o_tok / 2.0
    budget = float(inst.params.prefill_chunk_tokens)
    chunks = math.ceil(i_tok / budget)
    chunk = min(float(i_tok), budget)
    kv_cap = inst.kv_capacity_tokens
    if load_rps <= 0:
        p_alone = inst.prefill_s(i_tok)
        s1 = inst.iteration(1.0, ctx)[0]
        return LoadPoint(0.0, p_alone, s1, p_alone + (o_tok - 1) * s1, inst.idle_w, 0.0, 0.0)

    def state(s: float) -> tuple[float, float, float]:
        """(busy batch B, mean prefill tokens per iteration, mean decoding sequences N) at iteration time s."""
        n = load_rps * (o_tok - 1) * s
        b = n / (1.0 - math.exp(-n)) if n > 1e-9 else 1.0
        return b, load_rps * i_tok * s, n

    def excess(s: float) -> float:
        b, c, _ = state(s)
        return inst.iteration(b, ctx, c)[0] - s

    # Smallest fixed point s = iteration(B(s), c(s)) below the memory and chunk-budget limits (excess is convex).
    s_lo = inst.iteration(1.0, ctx)[0] * 0.5
    s_hi = budget / (load_rps * i_tok)
    if o_tok > 1:
        s_hi = min(s_hi, kv_cap / (i_tok + o_tok) / (load_rps * (o_tok - 1)) * 0.999)
    if s_hi <= s_lo:
        return None
    grid = [s_lo * (s_hi / s_lo) ** (k / 400.0) for k in range(401)]
    prev = grid[0]
    if excess(prev) <= 0:
        return None  # cannot happen for positive fixed costs; guards the bisection
    root = None
    for s in grid[1:]:
        if excess(s) <= 0:
            lo, hi = prev, s
            for _ in range(60):
                mid = (lo + hi) / 2.0
                lo, hi = (mid, hi) if excess(mid) > 0 else (lo, mid)
            root = hi
            break
        prev = s
    if root is None:
        return None
    s_mean = root
    b, c_mean, n = state(s_mean)
    b99 = b + Z99 * math.sqrt(b)
    if b99 * (i_tok + o_tok) > kv_cap:
        return None
    m = load_rps * chunks * s_mean  # prefill chunks arriving per iteration
    c99 = min(budget, (m + Z99 * math.sqrt(m)) * chunk)
    tbt99 = inst.iteration(b99, ctx, c99)[0]
    rho = c_mean / budget  # share of the prefill token budget in use
    p_eff = chunks * inst.iteration(b, ctx, chunk)[0]
    wait99 = p_eff / (1.0 - rho) * math.log(100.0 * rho) if rho > 0.01 else 0.0
    ttft99 = p_eff + wait99
    e2e99 = ttft99 + (o_tok - 1) * inst.iteration(b99, ctx, c_mean)[0]
    s_b, t_cmp_share, hbm_share = inst.iteration(b, ctx, c_mean)
    kappa = inst.params.kappa_decode
    busy = 1.0 - math.exp(-(n + load_rps * p_eff))
    power = inst.idle_w + busy * inst.tp * inst.iteration_power_w(kappa + (1 - kappa) * t_cmp_share, hbm_share)
    return LoadPoint(load_rps, ttft99, tbt99, e2e99, power, b, rho)


def max_stable_rps(inst: Instance, input_tokens: int, output_tokens: int) -> float:
    """The largest arrival rate with a steady state (bisection on :func:`serve`), 0 if none."""
    hi = 1.0 / inst.prefill_s(max(input_tokens, 1))
    lo = 0.0
    if serve(inst, input_tokens, output_tokens, hi * 1e-6) is None:
        return 0.0
    for _ in range(60):
        mid = (lo + hi) / 2.0
        if serve(inst, input_tokens, output_tokens, mid) is None:
            hi = mid
        else:
            lo = mid
    return lo


def isolated_energy_wh(inst: Instance, input_tokens: int, output_tokens: int) -> float:
    """Energy of one request served alone (prefill then decode at batch 1), instance power included."""
    ctx = input_tokens + output_tokens / 2.0
    pre = inst.prefill_s(input_tokens)
    _, a_pre, m_pre = inst.iteration(0.0, 0.0, min(input_tokens, inst.params.prefill_chunk_tokens))
    s1, a1, m1 = inst.iteration(1.0, ctx)
    kappa = inst.params.kappa_decode
    p_pre = inst.idle_w + inst.tp * inst.iteration_power_w(a_pre, m_pre)
    p_dec = inst.idle_w + inst.tp * inst.iteration_power_w(kappa + (1 - kappa) * a1, m1)
    return (pre * p_pre + (output_tokens - 1) * s1 * p_dec) / 3600.0


#: Loads of the sweep as fractions of the highest stable rate (denser where SLO-limited capacities usually sit).
LOAD_FRACTIONS: tuple[float, ...] = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)

#: Representative request of each length bucket (tokens): log-scale midpoints of the default buckets (input
#: [1,256) [256,1024) [1024,...), output [1,100) [100,350) [350,...)), the open top bucket at about twice its lower
#: bound. They sit near the class medians of the Azure 2023 conversation trace (docs/dynamo.md).
DEFAULT_INPUT_TOKENS: dict[str, int] = {"S": 128, "M": 512, "L": 2048}
DEFAULT_OUTPUT_TOKENS: dict[str, int] = {"S": 50, "M": 200, "L": 600}

#: Representative request of each default class (input, output tokens): the class's median input and median output
#: in the Azure LLM inference trace 2023, conversation (profiles/traces/azure_llm_2023_conv.csv, 19,366 requests,
#: CC-BY 4.0; DynamoLLM set its bins from a conversation trace), so each class's rows describe its typical request
#: rather than a bucket midpoint (e.g. LL: 1,091 / 409 tokens instead of 2,048 / 600). SL holds 10 requests of the
#: trace. ``tests/unit/dynamo/test_physics.py`` recomputes them from the trace.
DEFAULT_CLASS_TOKENS: dict[str, tuple[int, int]] = {
    "SS": (202, 64),
    "SM": (195, 167),
    "SL": (181, 1000),
    "MS": (397, 85),
    "MM": (404, 114),
    "ML": (998, 405),
    "LS": (3076, 59),
    "LM": (1613, 143),
    "LL": (1091, 409),
}


def _sig(x: float, digits: int = 6) -> float:
    return float(f"{x:.{digits}g}")


def profile_rows(
    gpu: GpuProfile,
    model: ModelProfile,
    classes: dict[str, tuple[int, int]],
    tps: tuple[int, ...],
    freqs_mhz: tuple[float, ...],
    source: str,
    params: Parameters = DEFAULT_PARAMETERS,
) -> list[dict[str, object]]:
    """Rows of the dynamo profile table: per class, TP and clock, a load sweep of p99 latencies and power.

    ``classes`` maps a class name to its representative (input, output) tokens. Configurations where the model does
    not fit are skipped; loads are fractions :data:`LOAD_FRACTIONS` of the highest stable rate (rounded).
    """
    rows: list[dict[str, object]] = []
    for name in sorted(classes):
        i_tok, o_tok = classes[name]
        for tp in tps:
            for f in freqs_mhz:
                inst = Instance(gpu, model, tp, f, params)
                if not inst.fits:
                    continue
                lam_max = max_stable_rps(inst, i_tok, o_tok)
                for frac in LOAD_FRACTIONS:
                    lam = _sig(frac * lam_max, 4)
                    point = serve(inst, i_tok, o_tok, lam)
                    if point is None:
                        continue
                    rows.append(
                        {
                            "model": model.name,
                            "gpu": gpu.name,
                            "class": name,
                            "tp": tp,
                            "freq_mhz": int(f),
                            "load_rps": lam,
                            "input_tokens": i_tok,
                            "output_tokens": o_tok,
                            "ttft_p99_s": _sig(point.ttft_p99_s),
                            "tbt_p99_s": _sig(point.tbt_p99_s),
                            "e2e_p99_s": _sig(point.e2e_p99_s),
                            "power_w": _sig(point.power_w),
                            "source": source,
                        }
                    )
    return rows
