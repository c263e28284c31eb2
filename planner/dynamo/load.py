"""Per-epoch, per-class request rates from the spec's workload, and the carbon-intensity series.

Two sources (README "Spec format", ``workload``):

* a **load curve** (``workload.load_curve``: request rate over the day) times a **class mix** -- the class shares of
  the trace (``workload.trace``) or of requests sampled from the length distributions with the workload's seed.
  The curve is read as steps (each point holds until the next; the last wraps to the first) or, with
  ``dynamo.load_interpolation: linear``, as straight lines between points (wrapping around midnight);
* a **trace replay** (``arrival: trace``): requests are classified and binned by arrival time into epochs.

Per epoch and class the planner needs the *provisioned* rate (the epoch's peak rate: the curve's maximum over the
epoch, or for a replay the busiest minute -- reference section 5.6 provisions for the maximum forecast rate) and
the *served* requests (the integral of the rate over the epoch), so that headroom costs idle power but not
per-request energy.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from planner.dynamo.classes import ClassScheme
from planner.errors import SpecError
from planner.paths import display_path
from planner.spec.models import LoadPoint, Workload
from planner.workload import Requests, load_trace, sample_lengths

DAY_S = 86400.0
#: Requests sampled from length distributions to estimate the class mix (seeded by workload.seed).
MIX_SAMPLES = 20000
#: Sub-window of a trace replay whose busiest instance sets an epoch's provisioned rate.
PEAK_WINDOW_S = 60.0


@dataclass(frozen=True)
class Epoch:
    """One planning epoch: start (seconds after midnight), length, and per-class load."""

    start_s: float
    length_s: float
    peak_rps: dict[str, float]  # provisioned (before headroom)
    requests: dict[str, float]  # served requests in the epoch

    @property
    def label(self) -> str:
        return clock(self.start_s)

    def mean_rps(self, k: str) -> float:
        return self.requests[k] / self.length_s


def clock(seconds: float) -> str:
    """``HH:MM`` of a time of day (wrapping at 24 h)."""
    m = int(round(seconds / 60.0)) % (24 * 60)
    return f"{m // 60:02d}:{m % 60:02d}"


def parse_clock(text: str) -> float:
    hh, mm = text.split(":")
    return int(hh) * 3600.0 + int(mm) * 60.0


@dataclass(frozen=True)
class LoadSource:
    """What the epochs rest on, for the plan's assumptions."""

    kind: str  # curve | replay | constant
    detail: str
    mix: dict[str, float]


def class_mix(scheme: ClassScheme, requests_in: np.ndarray, requests_out: np.ndarray) -> dict[str, float]:
    counts = scheme.counts(requests_in, requests_out)
    total = sum(counts.values())
    return {k: counts[k] / total for k in scheme.names}


def curve_rate(points: tuple[LoadPoint, ...], t: float, linear: bool) -> float:
    """The curve's rate at time of day ``t`` (seconds), steps or straight lines, wrapping at midnight."""
    times = [parse_clock(p.at) for p in points]
    rates = [p.rps for p in points]
    t = t % DAY_S
    idx = int(np.searchsorted(times, t, side="right")) - 1  # -1: before the first point, wrap to the last
    if not linear:
        return rates[idx]
    t0, r0 = (times[idx], rates[idx]) if idx >= 0 else (times[-1] - DAY_S, rates[-1])
    nxt = idx + 1
    t1, r1 = (times[nxt], rates[nxt]) if nxt < len(times) else (times[0] + DAY_S, rates[0])
    if t1 <= t0:
        return r0
    return r0 + (r1 - r0) * (t - t0) / (t1 - t0)


def curve_stats(points: tuple[LoadPoint, ...], start: float, length: float, linear: bool) -> tuple[float, float]:
    """(peak rate, mean rate) of the curve over [start, start + length): exact for steps and lines."""
    times = sorted({parse_clock(p.at) % DAY_S for p in points})
    knots = [start, start + length]
    for day in (0.0, DAY_S):
        knots += [t + day for t in times if start < t + day < start + length]
    knots = sorted(knots)
    peak, area = 0.0, 0.0
    for a, b in zip(knots[:-1], knots[1:], strict=True):
        ra = curve_rate(points, a, linear)
        rb = curve_rate(points, b - 1e-9, linear) if linear else ra
        peak = max(peak, ra, rb)
        area += (ra + rb) / 2.0 * (b - a) if linear else ra * (b - a)
    return peak, area / length


def curve_epochs(
    points: tuple[LoadPoint, ...], mix: dict[str, float], start: float, horizon: float, length: float, linear: bool
) -> list[Epoch]:
    """Epochs of ``length`` from ``start`` over ``horizon``; each class's rate is its mix share of the curve."""
    out = []
    n = int(math.ceil(horizon / length - 1e-9))
    for i in range(n):
        t0 = start + i * length
        peak, mean = curve_stats(points, t0, length, linear)
        out.append(
            Epoch(
                start_s=t0 % DAY_S,
                length_s=length,
                peak_rps={k: peak * share for k, share in mix.items()},
                requests={k: mean * share * length for k, share in mix.items()},
            )
        )
    return out


def replay_epochs(scheme: ClassScheme, trace: Requests, first_s: float, length: float, horizon: float) -> list[Epoch]:
    """Classify a trace's requests and bin them by arrival into epochs aligned to multiples of ``length``."""
    start = math.floor(first_s / length) * length
    t = trace.arrival_s + first_s
    cls = scheme.classify_many(trace.input_tokens, trace.output_tokens)
    names = scheme.names
    n = max(1, int(math.ceil((first_s + min(trace.duration_s, horizon) - start) / length - 1e-9)))
    window = min(PEAK_WINDOW_S, length)
    out = []
    for i in range(n):
        a = start + i * length
        in_epoch = (t >= a) & (t < a + length)
        peak, requests = {}, {}
        sub = np.floor((t[in_epoch] - a) / window).astype(int)
        for j, k in enumerate(names):
            mask = cls[in_epoch] == j
            requests[k] = float(mask.sum())
            busiest = np.bincount(sub[mask]).max() if mask.any() else 0
            peak[k] = float(busiest) / window
        out.append(Epoch(start_s=a % DAY_S, length_s=length, peak_rps=peak, requests=requests))
    return out


class TooManyEpochs(Exception):
    """The horizon cut into epochs of the requested length gives more epochs than allowed (``--max-epochs``).

    Raised before any epoch is built: one MILP is solved per epoch, so 1-second epochs over a day (86,400 solves)
    or shorter would run for hours and hold every epoch in memory. :func:`planner.dynamo.instance.prepare` turns it
    into a located error naming the period that produced it.
    """

    def __init__(self, count: int, horizon_s: float, length_s: float, limit: int) -> None:
        self.count, self.horizon_s, self.length_s, self.limit = count, horizon_s, length_s, limit
        super().__init__(f"{count} epochs")


def _limit_epochs(count: int, horizon_s: float, length_s: float, max_epochs: int | None) -> None:
    if max_epochs is not None and count > max_epochs:
        raise TooManyEpochs(count, horizon_s, length_s, max_epochs)


def build_epochs(
    workload: Workload,
    scheme: ClassScheme,
    resolve: Callable[[str], Path],
    length_s: float,
    horizon_s: float | None,
    linear: bool,
    spec_name: str,
    max_epochs: int | None = None,
) -> tuple[list[Epoch], LoadSource]:
    """Epochs for the spec's workload (see module docstring). ``resolve`` maps spec-relative paths to files.

    Raises :class:`TooManyEpochs` before building anything when there would be more than ``max_epochs``.
    """
    trace: Requests | None = None
    first_s = 0.0
    trace_name = ""
    if workload.trace:
        path = resolve(workload.trace)
        trace = load_trace(path)
        trace_name = display_path(path)
        first = pd.read_csv(path, nrows=1)["TIMESTAMP"].iloc[0]
        ts = pd.Timestamp(first)
        first_s = ts.hour * 3600.0 + ts.minute * 60.0 + ts.second + ts.microsecond / 1e6
    if trace is not None and workload.arrival == "trace" and workload.load_curve is None:
        horizon = horizon_s or min(max(trace.duration_s, 1.0), DAY_S)  # plans are one day: HH:MM epoch labels
        start = math.floor(first_s / length_s) * length_s
        count = max(1, int(math.ceil((first_s + min(trace.duration_s, horizon) - start) / length_s - 1e-9)))
        _limit_epochs(count, horizon, length_s, max_epochs)
        epochs = replay_epochs(scheme, trace, first_s, length_s, horizon)
        mix = class_mix(scheme, trace.input_tokens, trace.output_tokens)
        return epochs, LoadSource("replay", f"trace {trace_name} replayed ({len(trace)} requests)", mix)
    if trace is not None:
        mix = class_mix(scheme, trace.input_tokens, trace.output_tokens)
        mix_from = f"class mix of {trace_name} ({len(trace)} requests)"
    elif workload.input_tokens is not None and workload.output_tokens is not None:
        rng = np.random.default_rng(workload.seed)
        ins = sample_lengths(workload.input_tokens, MIX_SAMPLES, rng)
        outs = sample_lengths(workload.output_tokens, MIX_SAMPLES, rng)
        mix = class_mix(scheme, ins, outs)
        mix_from = f"class mix of {MIX_SAMPLES} requests sampled from the length distributions (seed {workload.seed})"
    else:
        raise SpecError.single(spec_name, "workload", "plan dynamo needs a trace or input_tokens/output_tokens")
    if workload.load_curve:
        horizon = horizon_s or DAY_S
        start = parse_clock(workload.load_curve[0].at) if horizon < DAY_S else 0.0
        _limit_epochs(int(math.ceil(horizon / length_s - 1e-9)), horizon, length_s, max_epochs)
        epochs = curve_epochs(workload.load_curve, mix, start, horizon, length_s, linear)
        how = "linear between points" if linear else "steps"
        detail = f"load curve ({len(workload.load_curve)} points, {how}) x {mix_from}"
        return epochs, LoadSource("curve", detail, mix)
    rate = workload.rate_rps or (trace.rate_rps if trace is not None else None)
    if not rate or not math.isfinite(rate):
        raise SpecError.single(spec_name, "workload.rate_rps", "plan dynamo needs rate_rps or a load_curve")
    horizon = horizon_s or length_s
    _limit_epochs(int(math.ceil(horizon / length_s - 1e-9)), horizon, length_s, max_epochs)
    points = (LoadPoint(at="00:00", rps=float(rate)),)
    epochs = curve_epochs(points, mix, 0.0, horizon, length_s, False)
    return epochs, LoadSource("constant", f"constant {rate:g} req/s x {mix_from}", mix)


@dataclass(frozen=True)
class CarbonSeries:
    """Grid carbon intensity over the day (gCO2/kWh), read as steps."""

    times_s: tuple[float, ...]
    g_per_kwh: tuple[float, ...]
    source: str

    def mean_over(self, start: float, length: float) -> float:
        points = tuple(LoadPoint(at=clock(t), rps=v) for t, v in zip(self.times_s, self.g_per_kwh, strict=True))
        return curve_stats(points, start, length, linear=False)[1]


def read_carbon(path: Path) -> CarbonSeries:
    """A CSV with columns ``time`` (HH:MM) and ``gco2_per_kwh``, times increasing within one day."""
    name = display_path(path)
    try:
        df = pd.read_csv(path, comment="#", dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise SpecError.single(name, "", "carbon intensity file not found") from None
    except OSError as exc:
        raise SpecError.single(name, "", f"cannot read carbon intensity file: {exc.strerror or exc}") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise SpecError.single(name, "", f"cannot read CSV: {str(exc).splitlines()[0]}") from None
    if list(df.columns) != ["time", "gco2_per_kwh"]:
        raise SpecError.single(name, "header", f"expected columns time,gco2_per_kwh, got {','.join(df.columns)}", 1)
    if df.empty:
        raise SpecError.single(name, "", "no rows", 2)
    times, values = [], []
    for i, (t, v) in enumerate(zip(df["time"], df["gco2_per_kwh"], strict=True)):
        try:
            point = LoadPoint(at=t.strip(), rps=float(v))
        except ValueError:
            raise SpecError.single(
                name, f"row {i + 1}", f"expected HH:MM and a non-negative number, got {t},{v}", i + 2
            ) from None
        times.append(parse_clock(point.at))
        values.append(point.rps)
    if times != sorted(set(times)):
        raise SpecError.single(name, "time", "times must be strictly increasing", 2)
    return CarbonSeries(tuple(times), tuple(values), name)
