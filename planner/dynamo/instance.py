"""The dynamo instance (spec + profiles -> what ``plan dynamo`` plans from, resolved once): classes, SLOs,
per-(class, config) figures, epochs, budget.

Options come from the spec's ``dynamo:`` section, overridden by the command line (:class:`DynamoOptions`). SLO
precedence per class and metric: ``dynamo.slo.classes.<k>`` > the spec's top-level ``slo`` > the isolated-latency
rule (``isolated_multiple`` x the class's latency at load 0 on the reference configuration, DynamoLLM's "5x
isolated", reference section 7). ``--slo`` sets the end-to-end bound of every class and wins over the spec.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from planner.dynamo.classes import ClassScheme
from planner.dynamo.load import CarbonSeries, Epoch, LoadSource, TooManyEpochs, build_epochs, read_carbon
from planner.dynamo.pools import next_dominating
from planner.dynamo.profile import LATENCIES, Config, Figures, PowerCurve, ProfileSet, Slo, load_profiles
from planner.dynamo.solution import Group, make_group
from planner.errors import InfeasibleError, Shortfall, SpecError, UsageError
from planner.profiles.db import ProfileDB
from planner.profiles.schema import GpuProfile
from planner.solver import SolveOptions
from planner.spec.loader import LoadedSpec
from planner.spec.sections.dynamo import DynamoSection
from planner.units import format_duration

#: Default of ``--max-epochs``: one-minute epochs over a day (the shipped days use 288 five-minute epochs).
DEFAULT_MAX_EPOCHS = 1440


@dataclass(frozen=True)
class DynamoOptions(SolveOptions):
    """Command-line options of ``plan dynamo`` (None = take the spec's value).

    From :class:`~planner.solver.SolveOptions`: ``time_limit_s`` is the whole command's wall clock (the epoch loop
    splits what remains over the MILPs still to solve, :func:`planner.dynamo.solve.solve`), ``seed`` is SCIP's
    random seed.
    """

    mode: str | None = None
    epoch_s: float | None = None
    reshard_epoch_s: float | None = None
    gpu_budget: int | None = None
    slo_e2e_s: float | None = None
    carbon: Path | None = None
    price_kwh: float | None = None
    #: most epochs a day may be cut into (one MILP each); ``--max-epochs`` raises it
    max_epochs: int = DEFAULT_MAX_EPOCHS


@dataclass
class DynamoProblem:
    """A resolved planning problem (pure data; the solver modules read it, the verifier too)."""

    name: str
    model: str
    gpu: GpuProfile
    gpus_per_node: int
    scheme: ClassScheme
    profiles: ProfileSet
    slos: dict[str, Slo]
    figures: dict[tuple[str, Config], Figures]
    epochs: list[Epoch]
    load_source: LoadSource
    mode: str
    epoch_s: float
    reshard_epoch_s: float
    gpu_budget: int
    budget_source: str
    headroom: float
    dominance: bool
    homogeneous: bool
    start_s: float  # reconfiguration: GPU start (weights load) time
    reshard_s: float
    penalty_weight: float
    gpu_usd_h: float
    price_kwh: float
    price_source: str
    pue: float
    carbon: CarbonSeries | None
    carbon_constant: float | None
    released: str = "release"  # GPUs outside every instance: release (0 W) | park (idle at the lowest clock)
    savings_against: str = "singlepool-fixed"
    interference: bool = True
    _cross: dict[tuple[str, str, Config], float] = field(default_factory=dict, repr=False)
    warnings: list[str] = field(default_factory=list)

    # ------------------------------------------------------------------------------------------ derived data
    @property
    def classes(self) -> tuple[str, ...]:
        return self.scheme.names

    @property
    def configs(self) -> tuple[Config, ...]:
        return self.profiles.configs

    @property
    def max_freq(self) -> int:
        return max(c.freq_mhz for c in self.configs)

    @property
    def max_tp(self) -> int:
        return max(c.tp for c in self.configs)

    def cap(self, k: str, c: Config) -> float:
        return self.figures[(k, c)].cap_rps

    def energy_wh(self, k: str, c: Config) -> float:
        return self.figures[(k, c)].energy_wh

    def idle_w(self, c: Config) -> float:
        return self.profiles.idle_w(c)

    def curve(self, k: str, c: Config) -> PowerCurve:
        return self.figures[(k, c)].curve

    def cross_cap(self, j: str, k: str, c: Config) -> float:
        """Per-instance load of j on c that keeps k's SLO when they share an instance (interference model)."""
        if j == k or not self.interference:
            return self.cap(j, c)
        key = (j, k, c)
        if key not in self._cross:
            self._cross[key] = self.profiles.cross_cap(j, k, c, self.slos[k])
        return self._cross[key]

    def usage(self, load: dict[str, float], c: Config, interference: bool | None = None) -> float:
        """Instances of c the classes in ``load`` (req/s) need together: ``max_k sum_j x_j / cap[j|k,c]`` over the
        classes present (linear mixing under the tightest class's SLO, with interference); inf if two of them
        cannot share an instance of c. ``interference=False`` gives plain linear mixing of each class's own
        capacity (what a static deployment is sized by, see :func:`planner.dynamo.baselines.single_pool`)."""
        present = [k for k, x in load.items() if x > 0]
        mixed = self.interference if interference is None else interference and self.interference
        worst = 0.0
        for k in present:
            need = 0.0
            for j in present:
                cap = self.cross_cap(j, k, c) if mixed else self.cap(j, c)
                if cap <= 0:
                    return math.inf
                need += load[j] / cap
            worst = max(worst, need)
        return worst

    @property
    def parked_w_per_gpu(self) -> float:
        """Power of one GPU outside every instance: 0 when released, else idle at the lowest profiled clock."""
        if self.released == "release":
            return 0.0
        low = min(self.configs, key=lambda c: (c.freq_mhz, c.tp))
        return self.idle_w(low) / low.tp

    def parked_wh(self, gpus_used: int, length_s: float) -> float:
        """Energy of the budget's GPUs outside every instance over ``length_s``."""
        return max(self.gpu_budget - gpus_used, 0) * self.parked_w_per_gpu * length_s / 3600.0

    def serves(self) -> dict[str, tuple[str, ...]]:
        """Pool -> classes it may serve in the MILP: itself, or with dominance every class it dominates."""
        by = self.scheme.by_name()
        if self.dominance:
            return {p: tuple(k for k in self.classes if by[p].dominates(by[k])) for p in self.classes}
        return {p: (p,) for p in self.classes}

    def plan_serves(self) -> dict[str, tuple[str, ...]]:
        """Pool -> classes a plan may route to it: :meth:`serves`, and in hierarchical mode every class whose
        promotion chain (the fragmentation rule, :mod:`planner.dynamo.pools`) passes through it."""
        if self.mode == "hierarchical" and not self.dominance:
            nxt = self.promotion_next()
            out: dict[str, list[str]] = {p: [] for p in self.classes}
            for k in self.classes:
                p: str | None = k
                while p is not None:
                    out[p].append(k)
                    p = nxt[p]
            return {p: tuple(sorted(ks, key=self.classes.index)) for p, ks in out.items()}
        return self.serves()

    def promotion_next(self) -> dict[str, str | None]:
        """next(k) of the fragmentation rule: the first later class that dominates k (reference 5.3)."""
        by = self.scheme.by_name()
        dom = {(a, b): by[a].dominates(by[b]) for a in self.classes for b in self.classes}
        return next_dominating(self.classes, dom)

    def provisioned(self, epoch: Epoch) -> dict[str, float]:
        """lam_k = (1 + headroom) x the epoch's peak rate."""
        return {k: (1.0 + self.headroom) * epoch.peak_rps[k] for k in self.classes}

    def group(
        self,
        pool: str,
        c: Config,
        n: int,
        load: dict[str, float],
        epoch: Epoch,
        lam: dict[str, float] | None = None,
    ) -> Group:
        """``n`` instances of config ``c`` in ``pool`` serving ``load``, with this problem's power and capacity."""
        return make_group(
            pool,
            c,
            n,
            load,
            epoch,
            self.provisioned(epoch) if lam is None else lam,
            self.idle_w(c),
            {k: self.curve(k, c) for k in load},
            {k: self.cap(k, c) for k in load},
        )

    def served_fraction(self, epoch: Epoch) -> dict[str, float]:
        """rho_k = served requests / (lam_k T), 0 when nothing is provisioned."""
        lam = self.provisioned(epoch)
        return {k: (epoch.requests[k] / (lam[k] * epoch.length_s) if lam[k] > 0 else 0.0) for k in self.classes}

    def start_wh_per_gpu(self) -> float:
        """Energy of one GPU loading weights: start time x idle power per GPU at the top clock."""
        top = Config(self.max_tp, self.max_freq)
        return self.start_s * self.idle_w(top) / top.tp / 3600.0

    def reshard_wh_per_gpu(self) -> float:
        top = Config(self.max_tp, self.max_freq)
        return self.reshard_s * self.idle_w(top) / top.tp / 3600.0

    def carbon_g_per_kwh(self, epoch: Epoch) -> float | None:
        if self.carbon is not None:
            return self.carbon.mean_over(epoch.start_s, epoch.length_s)
        return self.carbon_constant


def _nodes(loaded: LoadedSpec, db: ProfileDB) -> tuple[GpuProfile, int, int]:
    """(GPU type, GPUs per node, total GPUs); plan dynamo plans one GPU type."""
    spec = loaded.spec
    if not spec.nodes:
        raise SpecError([loaded.problem(("nodes",), "plan dynamo needs nodes (the machines to plan on)")])
    gpus = {n.gpu for n in loaded.cluster.nodes}
    if len(gpus) > 1:
        raise SpecError(
            [loaded.problem(("nodes",), f"plan dynamo plans one GPU type, the spec has {', '.join(sorted(gpus))}")]
        )
    per_node = {n.gpus_per_node for n in loaded.cluster.nodes}
    total = sum(n.gpus_per_node for n in loaded.cluster.nodes)
    return db.gpu(next(iter(gpus))), min(per_node), total


def resolve_slos(
    loaded: LoadedSpec, section: DynamoSection, profiles: ProfileSet, classes: tuple[str, ...], e2e_s: float | None
) -> dict[str, Slo]:
    """Per-class SLOs with the source of every limit (module docstring)."""
    top = loaded.spec.slo
    rule = section.slo
    ref_tp = rule.reference_tp or max(c.tp for c in profiles.configs)
    ref_f = rule.reference_freq_mhz or max(c.freq_mhz for c in profiles.configs)
    ref = Config(ref_tp, ref_f)
    if ref not in profiles.configs:
        raise SpecError(
            [loaded.problem(("dynamo", "slo"), f"reference configuration {ref.key} is not in the profile table")]
        )
    unknown = sorted(set(rule.classes) - set(classes))
    if unknown:
        raise SpecError(
            [
                loaded.problem(("dynamo", "slo", "classes", k), f"unknown class '{k}' (classes: {', '.join(classes)})")
                for k in unknown
            ]
        )
    out = {}
    for k in classes:
        per = rule.classes.get(k)
        limits: dict[str, float | None] = {}
        source: dict[str, str] = {}
        for m in LATENCIES:
            value = getattr(per, m) if per is not None else None
            if value is not None:
                limits[m], source[m] = value, f"dynamo.slo.classes.{k}.{m}"
                continue
            if m == "e2e" and e2e_s is not None:
                limits[m], source[m] = e2e_s, "--slo"
                continue
            value = getattr(top, m) if top is not None else None
            if value is not None:
                limits[m], source[m] = value, f"slo.{m}"
                continue
            if m != "e2e" and rule.isolated_multiple is not None:
                limits[m] = rule.isolated_multiple * profiles.isolated(k, ref, m)
                source[m] = f"{rule.isolated_multiple:g}x isolated on {ref.key}"
                continue
            limits[m] = None
        if e2e_s is not None:
            limits["e2e"], source["e2e"] = e2e_s, "--slo"
        out[k] = Slo(limits.get("ttft"), limits.get("tbt"), limits.get("e2e"), source)
    return out


def check_slos_achievable(
    profiles: ProfileSet, slos: dict[str, Slo], figures: dict[tuple[str, Config], Figures]
) -> None:
    """Exit 1 when some class has no configuration meeting its SLO, naming the class that needs the loosest SLO and
    that SLO (the smallest limit at which every class can be served at all: its best isolated latency)."""
    failing: list[tuple[float, str, str, Config, float, str]] = []  # (needed, class, metric, config, limit, source)
    joint: list[str] = []
    for k, slo in slos.items():
        if any(figures[(k, c)].cap_rps > 0 for c in profiles.configs):
            continue
        found = False
        for m in LATENCIES:
            limit = slo.limit(m)
            if limit is None:
                continue
            best_c = min(profiles.configs, key=partial(profiles.isolated, k, metric=m))
            best = profiles.isolated(k, best_c, m)
            if best > limit:
                failing.append((best, k, m, best_c, limit, slo.source.get(m, "?")))
                found = True
        if not found:
            joint.append(k)
    if failing:
        failing.sort(key=lambda f: (-f[0], f[1]))
        best, k, m, c, limit, source = failing[0]
        others = sorted({f[1] for f in failing} - {k})
        also = f"; also short: {', '.join(others)}" if others else ""
        raise InfeasibleError(
            Shortfall(
                constraint=f"slo_{m}[{k}]",
                limit=limit,
                best=best,
                unit="s",
                detail=f"class {k} needs a p{profiles.percentile:g} {m.upper()} SLO above {best:.4g} s (its isolated "
                f"latency on {c.key}, the smallest that would work); limit from {source}{also}",
            )
        )
    if joint:
        raise InfeasibleError(
            Shortfall(
                constraint=f"slo[{joint[0]}]",
                detail=f"class {', '.join(joint)}: no configuration meets TTFT, TBT and E2E together at any load",
            )
        )


def prepare(loaded: LoadedSpec, db: ProfileDB, opts: DynamoOptions) -> DynamoProblem:
    """Resolve the spec, profiles and options into a :class:`DynamoProblem` (typed errors on bad input)."""
    loaded.require("dynamo", "workload")
    section = loaded.spec.dynamo or DynamoSection()
    gpu, per_node, total_gpus = _nodes(loaded, db)
    mode = opts.mode or section.mode
    if mode not in ("joint", "hierarchical"):
        raise UsageError(f"--mode must be joint or hierarchical, got '{mode}'")
    epoch_s = opts.epoch_s or section.epoch
    reshard_s = opts.reshard_epoch_s or section.reshard_epoch
    ratio = epoch_s / reshard_s
    if abs(ratio - round(ratio)) > 1e-9 or round(ratio) < 1:
        raise UsageError(f"--epoch ({epoch_s:g}s) must be a whole multiple of --reshard-epoch ({reshard_s:g}s)")
    c = section.classes
    scheme = ClassScheme(c.input_cuts, c.output_cuts, c.input_labels, c.output_labels)
    slo_top = loaded.spec.slo
    percentile = slo_top.percentile if slo_top is not None else 99.0
    profiles = load_profiles(
        db,
        section.profile_table,
        loaded.model.name,
        gpu.name,
        scheme.names,
        section.tp,
        section.freqs_mhz,
        percentile,
        per_node,
    )
    bad_tp = [t for t in {cfg.tp for cfg in profiles.configs} if t > per_node or per_node % t]
    if bad_tp:
        raise SpecError([loaded.problem(("dynamo", "tp"), f"TP {bad_tp} must divide the {per_node} GPUs of a node")])
    slos = resolve_slos(loaded, section, profiles, scheme.names, opts.slo_e2e_s)
    figures = {(k, cfg): profiles.figures(k, cfg, slos[k]) for k in scheme.names for cfg in profiles.configs}
    check_slos_achievable(profiles, slos, figures)
    wl = loaded.spec.workload
    assert wl is not None
    try:
        epochs, source = build_epochs(
            wl,
            scheme,
            loaded.resolve,
            reshard_s,
            section.horizon,
            section.load_interpolation == "linear",
            loaded.display,
            max_epochs=opts.max_epochs,
        )
    except TooManyEpochs as exc:
        what = (
            f"{format_duration(exc.length_s)} epochs over a {format_duration(exc.horizon_s)} horizon make "
            f"{exc.count:,} epochs (one MILP each), more than --max-epochs {exc.limit:,}; use a longer period "
            "or raise --max-epochs"
        )
        if opts.reshard_epoch_s:
            raise UsageError(f"--reshard-epoch: {what}") from None
        raise SpecError([loaded.problem(("dynamo", "reshard_epoch"), what)]) from None
    budget = opts.gpu_budget or section.gpu_budget or total_gpus
    budget_source = "--gpu-budget" if opts.gpu_budget else ("dynamo.gpu_budget" if section.gpu_budget else "nodes")
    carbon = None
    if opts.carbon is not None:
        carbon = read_carbon(opts.carbon)
    elif section.carbon_intensity:
        carbon = read_carbon(loaded.resolve(section.carbon_intensity))
    price = opts.price_kwh if opts.price_kwh is not None else loaded.spec.pricing.electricity_usd_kwh
    if price < 0 or not math.isfinite(price):
        raise UsageError("--price-kwh must be a non-negative number")
    gpu_price = loaded.spec.pricing.gpu_usd_h.get(gpu.name)
    if gpu_price is None:
        for alias, value in loaded.spec.pricing.gpu_usd_h.items():
            if db.resolve_gpu(alias) == gpu.name:
                gpu_price = value
    rc = section.reconfiguration
    warnings = _representative_warnings(scheme, profiles)
    return DynamoProblem(
        name=loaded.spec.name or Path(loaded.display).stem,
        model=loaded.model.name,
        gpu=gpu,
        gpus_per_node=per_node,
        scheme=scheme,
        profiles=profiles,
        slos=slos,
        figures=figures,
        epochs=epochs,
        load_source=source,
        mode=mode,
        epoch_s=epoch_s,
        reshard_epoch_s=reshard_s,
        gpu_budget=int(budget),
        budget_source=budget_source,
        headroom=section.headroom,
        dominance=section.dominance,
        homogeneous=section.homogeneous_pools,
        start_s=rc.instance_start,
        reshard_s=rc.reshard,
        penalty_weight=rc.penalty_weight,
        gpu_usd_h=gpu_price if gpu_price is not None else gpu.price_usd_h,
        price_kwh=price,
        price_source=_price_source(opts, loaded, gpu_price is not None),
        pue=loaded.spec.power.pue,
        carbon=carbon,
        carbon_constant=loaded.spec.power.carbon_g_per_kwh,
        released=section.released_gpus,
        savings_against=section.savings_against,
        interference=section.interference,
        warnings=warnings,
    )


def _price_source(opts: DynamoOptions, loaded: LoadedSpec, gpu_from_spec: bool) -> str:
    energy = (
        "--price-kwh"
        if opts.price_kwh is not None
        else "pricing.electricity_usd_kwh"
        if "electricity_usd_kwh" in loaded.spec.pricing.model_fields_set
        else "default"
    )
    return f"electricity: {energy}; GPU: {'pricing.gpu_usd_h' if gpu_from_spec else 'gpus.yaml list price'}"


def _representative_warnings(scheme: ClassScheme, profiles: ProfileSet) -> list[str]:
    """Warn when a class's profile rows were made for a request outside the class's buckets (other cut points)."""
    out = []
    for rc in scheme.classes:
        sw = profiles.sweeps[(rc.name, profiles.configs[0])]
        i = int(scheme.classify_many(np.array([sw.input_tokens]), np.array([sw.output_tokens]))[0])
        if sw.input_tokens and sw.output_tokens and scheme.classes[i].name != rc.name:
            out.append(
                f"profile rows of class {rc.name} describe {sw.input_tokens} input / {sw.output_tokens} output tokens, "
                "outside its buckets: regenerate the table for these cut points (scripts/gen_dynamo_profile.py)"
            )
    return out
