"""Request streams for the simulator: seeded Poisson resampling of a trace (as the paper does) or trace replay.

Splitwise's cluster experiments (section VI-A) and the artifact's ``generate_trace.py`` draw exponential
inter-arrival times at a tuned rate and resample prompt and output sizes **independently, with replacement** from
the production trace columns (reference README section 8). We keep that (``resample: independent``; ``joint``
draws whole trace rows instead) and add one property the planner needs: **common random numbers across rates**.
A unit-rate Poisson process U_1 < U_2 < ... and the size draws are generated once per seed; the stream at rate r
is arrival_k = U_k / r for every k with U_k / r < duration. Two rates therefore see the same requests, the
faster one compressed in time, which keeps feasibility close to monotone in the rate and makes the max-rate
bisection of the iso-budget search well behaved.

Numbers are generated in fixed blocks, each from its own ``SeedSequence([seed, block])``, so a longer stream is
an extension of a shorter one and the result never depends on how many requests were asked for first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from planner.errors import SpecError
from planner.spec.loader import LoadedSpec
from planner.spec.models import LengthDistribution
from planner.workload import Requests, load_trace, sample_lengths

BLOCK = 8192


@dataclass
class RequestSource:
    """Where requests come from, and how to draw ``duration`` seconds of them at a given rate."""

    kind: str  # "poisson" | "replay"
    seed: int
    resample: str
    description: str
    trace: Requests | None = None
    input_dist: LengthDistribution | None = None
    output_dist: LengthDistribution | None = None
    default_rate_rps: float | None = None
    _blocks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list, repr=False)

    def _block(self, b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        while len(self._blocks) <= b:
            i = len(self._blocks)
            rng = np.random.default_rng(np.random.SeedSequence([self.seed, i]))
            gaps = rng.exponential(1.0, BLOCK)
            if self.trace is not None:
                n = len(self.trace)
                if self.resample == "joint":
                    idx = rng.integers(0, n, BLOCK)
                    prompt, output = self.trace.input_tokens[idx], self.trace.output_tokens[idx]
                else:
                    prompt = self.trace.input_tokens[rng.integers(0, n, BLOCK)]
                    output = self.trace.output_tokens[rng.integers(0, n, BLOCK)]
            else:
                assert self.input_dist is not None and self.output_dist is not None
                prompt = sample_lengths(self.input_dist, BLOCK, rng)
                output = sample_lengths(self.output_dist, BLOCK, rng)
            self._blocks.append((gaps, np.asarray(prompt, dtype=np.int64), np.asarray(output, dtype=np.int64)))
        return self._blocks[b]

    def sample(self, rate_rps: float, duration_s: float) -> Requests:
        """Requests arriving in [0, duration) at ``rate_rps`` (replay: the trace time-scaled to that rate)."""
        if self.kind == "replay":
            return self._replay(rate_rps, duration_s)
        horizon = rate_rps * duration_s
        gaps_l, p_l, o_l = [], [], []
        offset, b = 0.0, 0
        while True:
            gaps, p, o = self._block(b)
            units = offset + np.cumsum(gaps)
            keep = units < horizon
            gaps_l.append(units[keep])
            p_l.append(p[keep])
            o_l.append(o[keep])
            if not keep.all():
                break
            offset = float(units[-1])
            b += 1
        units = np.concatenate(gaps_l)
        prompt = np.maximum(np.concatenate(p_l), 1)
        output = np.maximum(np.concatenate(o_l), 1)
        return Requests(units / rate_rps, prompt, output)

    def _replay(self, rate_rps: float, duration_s: float) -> Requests:
        assert self.trace is not None
        t = self.trace.arrival_s
        native = self.trace.rate_rps
        scale = native / rate_rps if rate_rps and np.isfinite(native) and native > 0 else 1.0
        arrival = t * scale
        keep = arrival < duration_s
        return Requests(
            arrival[keep],
            np.maximum(self.trace.input_tokens[keep], 1),
            np.maximum(self.trace.output_tokens[keep], 1),
        )


def request_source(loaded: LoadedSpec, resample: str, seed_offset: int = 0) -> RequestSource:
    """The spec's workload as a :class:`RequestSource` (the trace is validated with row numbers on load).

    The seed is ``workload.seed + seed_offset`` (``--seed`` shifts which requests are drawn).
    """
    wl = loaded.spec.workload
    if wl is None or not (wl.trace or wl.input_tokens):
        loaded.require("splitwise", "workload")
        raise SpecError([loaded.problem(("workload",), "plan splitwise needs a trace or input/output_tokens")])
    if wl.trace:
        path = loaded.resolve(wl.trace)
        trace = load_trace(path)
        kind = "replay" if wl.arrival == "trace" else "poisson"
        how = "independently" if resample == "independent" else "as whole rows"
        what = "replayed (time-scaled to the rate)" if kind == "replay" else f"Poisson, sizes resampled {how}"
        return RequestSource(
            kind=kind,
            seed=wl.seed + seed_offset,
            resample=resample,
            description=f"trace {wl.trace} ({len(trace)} rows), {what}, seed {wl.seed + seed_offset}",
            trace=trace,
            default_rate_rps=wl.rate_rps,
        )
    return RequestSource(
        kind="poisson",
        seed=wl.seed + seed_offset,
        resample=resample,
        description=(
            f"Poisson arrivals, input {wl.input_tokens.distribution if wl.input_tokens else '?'} / output "
            f"{wl.output_tokens.distribution if wl.output_tokens else '?'} length distributions, "
            f"seed {wl.seed + seed_offset}"
        ),
        input_dist=wl.input_tokens,
        output_dist=wl.output_tokens,
        default_rate_rps=wl.rate_rps,
    )
