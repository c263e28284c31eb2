"""From a profile table (load sweeps) to the MILP's parameters under each class's SLO.

The table (``profiles/tables/dynamo_profile.csv`` or a user table in the same schema) has, per (model, gpu, class,
tp, freq_mhz), rows at increasing ``load_rps`` with p99 ``ttft``/``tbt``/``e2e`` latencies and average instance
``power_w``; the ``load_rps = 0`` row is the idle power and the isolated latency. For class k on configuration c:

* ``cap[k,c]`` (req/s): the highest load at which every latency meets the class's SLO, interpolated linearly
  between the last row that meets it and the first that does not (latencies grow convexly with load, so the chord
  is conservative), never beyond the last profiled row; 0 when even the isolated request misses the SLO. This is how
  SLOs enter a linear program (reference section 11).
* ``idle_w[c]``: power at load 0, ``P0_c`` of reference section 5.5.
* ``energy_wh[k,c]`` = (P(cap) - idle) / cap / 3600: the chord from idle to the capacity point, kept as a summary
  figure (Wh per request at capacity, screening bounds); the planner charges power through the curve below.
* ``curve[k,c]``: the instance's power as a function of its load, as piecewise-linear *operating points* over the
  utilisation ``u = load / cap`` in [0, 1]: the sweep rows below ``cap`` plus the capacity point, thinned where the
  sweep is straight (every dropped row within :data:`CURVE_TOL` of the power at capacity from the kept line).
  Power saturates with load (decode keeps the SMs busy from the first few requests on), so an instance at a tenth
  of its capacity draws far more than a tenth of its dynamic power: the MILP, the baselines and every reported
  figure use this curve.

No number is invented: a class, configuration or load-0 row that is missing raises ProfileMissingError.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from planner.errors import ProfileMissingError
from planner.profiles.db import ProfileDB

LATENCIES: tuple[str, ...] = ("ttft", "tbt", "e2e")
#: Largest gap between a thinned-out sweep row and the operating-point line that replaces it, as a share of the
#: instance's power at capacity (the curves the planner uses are within this of every profile row).
CURVE_TOL = 0.01


@dataclass(frozen=True)
class PowerCurve:
    """Dynamic power (W above idle) of one instance of c serving class k at utilisation u = load / cap_{k,c}.

    ``u`` rises from 0 to 1 (the capacity at SLO); ``dyn_w[0] = 0``. Linear between operating points.
    """

    u: tuple[float, ...]
    dyn_w: tuple[float, ...]

    def at(self, u: float) -> float:
        """Dynamic power at utilisation ``u`` (clamped to [0, 1])."""
        return float(np.interp(min(max(u, 0.0), 1.0), self.u, self.dyn_w))

    @property
    def segments(self) -> int:
        return len(self.u) - 1

    @property
    def concave(self) -> bool:
        """Slopes never rise (power saturates with load)."""
        slopes = [(self.dyn_w[i + 1] - self.dyn_w[i]) / (self.u[i + 1] - self.u[i]) for i in range(len(self.u) - 1)]
        return all(b <= a + 1e-9 for a, b in zip(slopes, slopes[1:], strict=False))

    @classmethod
    def linear(cls, wh_per_request: float, cap_rps: float) -> PowerCurve:
        """Power affine in the load: ``wh_per_request`` Wh per request on top of idle (reference 5.5, worked cases)."""
        return cls((0.0, 1.0), (0.0, wh_per_request * 3600.0 * cap_rps))


ZERO_CURVE = PowerCurve((0.0, 1.0), (0.0, 0.0))


def thin(u: list[float], w: list[float], tol: float) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Keep the fewest points (greedy, left to right) such that every dropped point lies within ``tol`` of the line
    between the kept points around it; the ends are always kept."""
    keep = [0]
    i = 0
    n = len(u)
    while i < n - 1:
        j = n - 1
        while j > i + 1:
            ok = all(abs(w[m] - (w[i] + (w[j] - w[i]) * (u[m] - u[i]) / (u[j] - u[i]))) <= tol for m in range(i + 1, j))
            if ok:
                break
            j -= 1
        keep.append(j)
        i = j
    return tuple(u[i] for i in keep), tuple(w[i] for i in keep)


@dataclass(frozen=True, order=True)
class Config:
    """An instance configuration: tensor-parallel degree and locked SM clock."""

    tp: int
    freq_mhz: int

    @property
    def key(self) -> str:
        return f"tp{self.tp}@{self.freq_mhz}"


@dataclass(frozen=True)
class Slo:
    """Latency limits (seconds) of one class; None = unbounded. ``source`` says where each came from."""

    ttft_s: float | None = None
    tbt_s: float | None = None
    e2e_s: float | None = None
    source: dict[str, str] = field(default_factory=dict, compare=False)

    def limit(self, metric: str) -> float | None:
        return {"ttft": self.ttft_s, "tbt": self.tbt_s, "e2e": self.e2e_s}[metric]


@dataclass(frozen=True)
class Figures:
    """Class k on configuration c under k's SLO (units in names)."""

    cap_rps: float
    energy_wh: float
    power_at_cap_w: float
    ttft_s: float
    tbt_s: float
    e2e_s: float
    binding: str  # which limit sets the capacity: ttft | tbt | e2e | profiled-range | isolated
    provenance: str
    curve: PowerCurve = ZERO_CURVE


@dataclass
class Sweep:
    """One (class, config) load sweep as arrays sorted by load."""

    load_rps: np.ndarray
    power_w: np.ndarray
    lat: dict[str, np.ndarray]
    provenance: str
    input_tokens: int
    output_tokens: int


@dataclass
class ProfileSet:
    """All sweeps of one model on one GPU type, for the requested classes and configurations."""

    model: str
    gpu: str
    classes: tuple[str, ...]
    configs: tuple[Config, ...]
    sweeps: dict[tuple[str, Config], Sweep]
    percentile: float
    provenance: tuple[str, ...]

    def idle_w(self, c: Config) -> float:
        """Idle power of c (the load-0 row; the same for every class, taken from the first)."""
        return float(self.sweeps[(self.classes[0], c)].power_w[0])

    def isolated(self, k: str, c: Config, metric: str) -> float:
        return float(self.sweeps[(k, c)].lat[metric][0])

    def figures(self, k: str, c: Config, slo: Slo) -> Figures:
        """``cap``, marginal energy and the latencies at capacity of class k on c under ``slo``."""
        return sweep_figures(self.sweeps[(k, c)], slo)

    def cross_cap(self, j: str, k: str, c: Config, slo_k: Slo) -> float:
        """Interference: the highest per-instance load of class j on c at which requests of class k sharing the
        instance still meet k's SLO (``cap[j,c]`` itself when j = k).

        The instance's queue and iterations are shared: a k request waits behind j's prefills as long as a j request
        does (``TTFT_k = TTFT_k(0) + TTFT_j(L) - TTFT_j(0)``: short prefills queue behind long ones), and its tokens
        come out at the instance's TBT (``TBT_k = TBT_j(L)``: decode slowed by co-running prefill chunks, never faster
        than k alone); E2E adds both over k's output. Read from j's sweep, so it is as measured (or synthetic) as the
        sweep itself.
        """
        sw_j, sw_k = self.sweeps[(j, c)], self.sweeps[(k, c)]
        if j == k:
            return sweep_figures(sw_k, slo_k).cap_rps
        wait = sw_j.lat["ttft"] - sw_j.lat["ttft"][0]
        tbt = np.maximum(sw_j.lat["tbt"], sw_k.lat["tbt"][0])
        out_k = max(sw_k.output_tokens - 1, 0)
        slow = np.maximum(tbt - sw_k.lat["tbt"][0], 0.0)
        lat = {
            "ttft": sw_k.lat["ttft"][0] + wait,
            "tbt": tbt,
            "e2e": sw_k.lat["e2e"][0] + wait + out_k * slow,
        }
        mixed = Sweep(sw_j.load_rps, sw_j.power_w, lat, sw_j.provenance, sw_j.input_tokens, sw_j.output_tokens)
        return sweep_figures(mixed, slo_k).cap_rps


def sweep_figures(sw: Sweep, slo: Slo) -> Figures:
    """``cap``, marginal energy, power curve and latencies at capacity of one sweep under ``slo``."""
    n = len(sw.load_rps)
    limits = {m: slo.limit(m) for m in LATENCIES}

    def ok(i: int) -> bool:
        return all(lim is None or sw.lat[m][i] <= lim + 1e-12 for m, lim in limits.items())

    def at(i: int, t: float) -> tuple[float, float, dict[str, float]]:
        j = min(i + 1, n - 1)

        def lerp(a: np.ndarray) -> float:
            return float(a[i] + t * (a[j] - a[i]))

        return lerp(sw.load_rps), lerp(sw.power_w), {m: lerp(sw.lat[m]) for m in LATENCIES}

    if not ok(0):
        lat0 = {m: float(sw.lat[m][0]) for m in LATENCIES}
        ttft, tbt, e2e = lat0["ttft"], lat0["tbt"], lat0["e2e"]
        return Figures(0.0, math.inf, float(sw.power_w[0]), ttft, tbt, e2e, "isolated", sw.provenance)
    i = 0
    while i + 1 < n and ok(i + 1):
        i += 1
    binding, t = "profiled-range", 0.0
    if i + 1 < n:
        t, binding = 1.0, "profiled-range"
        for m, lim in limits.items():
            if lim is None:
                continue
            lo, hi = float(sw.lat[m][i]), float(sw.lat[m][i + 1])
            if hi > lim:
                tm = (lim - lo) / (hi - lo) if hi > lo else 0.0
                if tm < t:
                    t, binding = tm, m
    load, power, lat = at(i, t)
    if load <= 0:
        return Figures(0.0, math.inf, power, lat["ttft"], lat["tbt"], lat["e2e"], binding, sw.provenance)
    idle = float(sw.power_w[0])
    energy = max(power - idle, 0.0) / load / 3600.0
    us = [float(x) / load for x in sw.load_rps[: i + 1]] + ([1.0] if t > 0 else [])
    ws = [max(float(x) - idle, 0.0) for x in sw.power_w[: i + 1]] + ([max(power - idle, 0.0)] if t > 0 else [])
    us[-1] = 1.0
    curve = PowerCurve(*thin(us, ws, CURVE_TOL * power))
    return Figures(load, energy, power, lat["ttft"], lat["tbt"], lat["e2e"], binding, sw.provenance, curve)


def load_profiles(
    db: ProfileDB,
    table: str,
    model: str,
    gpu: str,
    classes: tuple[str, ...],
    tps: tuple[int, ...] | None,
    freqs: tuple[int, ...] | None,
    percentile: float,
    max_tp: int,
) -> ProfileSet:
    """Select the sweeps for ``model`` on ``gpu``; every (class, config) pair must have rows incl. load 0."""
    df = db.table(table)
    pct = f"p{percentile:g}".replace(".", "_")
    cols = {m: f"{m}_{pct}_s" for m in LATENCIES}
    missing_cols = [c for c in cols.values() if c not in df.columns]
    if missing_cols or "power_w" not in df.columns:
        raise ProfileMissingError(
            f"table '{table}' columns {', '.join(missing_cols or ['power_w'])} (SLO percentile {percentile:g})",
            gpu,
            model,
        )
    sel = df[(df["model"] == model) & (df["gpu"] == gpu)]
    if sel.empty:
        raise ProfileMissingError(f"table '{table}'", gpu, model)
    all_tps = sorted({int(t) for t in sel["tp"]})
    all_freqs = sorted({int(f) for f in sel["freq_mhz"]})
    use_tps = tuple(sorted(tps)) if tps else tuple(t for t in all_tps if t <= max_tp and max_tp % t == 0)
    use_freqs = tuple(sorted(freqs)) if freqs else tuple(all_freqs)
    configs = tuple(Config(t, f) for t in use_tps for f in use_freqs)
    sweeps: dict[tuple[str, Config], Sweep] = {}
    groups = {key: g for key, g in sel.groupby(["class", "tp", "freq_mhz"], sort=True)}
    for k in classes:
        for c in configs:
            g = groups.get((k, c.tp, c.freq_mhz))
            if g is None:
                raise ProfileMissingError(
                    f"table '{table}'", gpu, model, **{"class": k, "tp": c.tp, "freq": c.freq_mhz}
                )
            g = g.sort_values("load_rps", kind="stable")
            loads = g["load_rps"].to_numpy(dtype=float)
            if loads[0] != 0.0:
                raise ProfileMissingError(
                    f"the idle row (load_rps = 0) of table '{table}'", gpu, model, **{"class": k, "tp": c.tp}
                )
            sweeps[(k, c)] = Sweep(
                load_rps=loads,
                power_w=g["power_w"].to_numpy(dtype=float),
                lat={m: g[col].to_numpy(dtype=float) for m, col in cols.items()},
                provenance=str(g["provenance"].iloc[0]),
                input_tokens=int(g["input_tokens"].iloc[0]) if "input_tokens" in g else 0,
                output_tokens=int(g["output_tokens"].iloc[0]) if "output_tokens" in g else 0,
            )
    provenance = tuple(sorted({s.provenance for s in sweeps.values()}))
    return ProfileSet(model, gpu, tuple(classes), configs, sweeps, percentile, provenance)


def table_sources(df: pd.DataFrame) -> list[str]:
    """Distinct ``source`` strings of a table (for the plan's assumptions)."""
    return sorted({str(s) for s in df["source"]})
