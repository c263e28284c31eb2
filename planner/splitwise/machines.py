"""Machine types and designs: the catalogue (``profiles/machines.yaml`` + ``splitwise.machines``) resolved to numbers.

A *machine* is one DGX-class server holding the whole model (Splitwise section IV-A: tensor parallelism 8 inside an
8-GPU machine). A *design* is a pair (prompt machine type, token machine type), written with the machines' short
letters as in the paper (``HA`` = DGX-H100 prompt pool, DGX-A100 token pool; Splitwise section VI-A), or a one-pool
``baseline-<machine>`` where every machine runs both phases with mixed batching.

Cost and provisioned power are per machine. Power has two explicit bases (reference README section 4.3): ``gpu_tdp``
(GPUs x GPU TDP x power factor, the artifact's iso-power arithmetic: 40 DGX-H100 = 70 DGX-A100) and
``machine_tdp`` (the SKU nameplate x power factor, 40 DGX-H100 = 62 DGX-A100).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from planner.errors import SpecError, SpecProblem, UsageError, did_you_mean
from planner.profiles.db import ProfileDB
from planner.spec.loader import LoadedSpec
from planner.spec.sections.splitwise import DeriveFrom, MachineEntry, SplitwiseSection

CATALOGUE = "machines"
CATALOGUE_FILE = "profiles/machines.yaml"


@dataclass(frozen=True)
class Machine:
    """One machine type with every figure the planner uses, resolved from catalogue, GPU profile and spec."""

    name: str
    short: str
    aliases: tuple[str, ...]
    gpu: str
    gpus: int
    tp: int
    gpu_memory_bytes: float
    cost_usd_h: float
    power_kw: float
    power_kw_gpu_tdp: float
    power_kw_machine_tdp: float | None
    interconnect_bytes_s: float
    perf_hardware: str | None
    derive_from: DeriveFrom | None
    source: str

    @property
    def instances(self) -> int:
        """Model instances per machine (gpus / tp); Splitwise runs one (tp = gpus = 8)."""
        return self.gpus // self.tp

    @property
    def instance_memory_bytes(self) -> float:
        return self.tp * self.gpu_memory_bytes

    @property
    def baseline_tag(self) -> str:
        """The word after ``baseline-`` in design names (``a100`` for DGX-A100)."""
        return (self.aliases[0] if self.aliases else self.name).lower()


@dataclass(frozen=True)
class Design:
    """A cluster design: one pool doing both phases (baseline) or a prompt pool and a token pool (split)."""

    name: str
    kind: Literal["baseline", "split"]
    prompt: Machine
    token: Machine

    @property
    def machines(self) -> tuple[Machine, ...]:
        return (self.prompt,) if self.kind == "baseline" else (self.prompt, self.token)


def _entries(db: ProfileDB, section: SplitwiseSection, loaded: LoadedSpec) -> dict[str, tuple[MachineEntry, str]]:
    """Catalogue entries validated, then the spec's own machines layered over them (spec wins)."""
    out: dict[str, tuple[MachineEntry, str]] = {}
    problems: list[SpecProblem] = []
    for name, raw in sorted(db.catalog(CATALOGUE).items()):
        file = db.catalog_origins.get(CATALOGUE, {}).get(str(name), (CATALOGUE_FILE, {}))[0]
        if not isinstance(raw, dict):
            problems.append(db.catalog_problem(CATALOGUE, (str(name),), "a machine entry must be a mapping of fields"))
            continue
        try:
            out[str(name)] = (MachineEntry.model_validate(raw), file)
        except ValidationError as exc:
            problems += db.catalog_validation_problems(CATALOGUE, str(name), exc, MachineEntry)
    if problems:
        raise SpecError(problems)
    for name, entry in section.machines.items():
        out[name] = (entry, loaded.display)
    return out


def resolve_machines(db: ProfileDB, loaded: LoadedSpec, section: SplitwiseSection) -> dict[str, Machine]:
    """Every machine type known to this run, with cost and power after spec overrides (``pricing``, ``power``)."""
    spec = loaded.spec
    problems: list[SpecProblem] = []
    machines: dict[str, Machine] = {}
    entries = _entries(db, section, loaded)
    for name, (entry, file) in entries.items():
        where: tuple[Any, ...] = ("splitwise", "machines", name) if file == loaded.display else (name,)

        def bad(field: str, msg: str, where: tuple[Any, ...] = where, file: str = file) -> None:
            if file == loaded.display:
                problems.append(loaded.problem((*where, field), msg))
            else:
                problems.append(db.catalog_problem(CATALOGUE, (*where, field), msg))

        gpu_key = db.resolve_gpu(entry.gpu)
        if gpu_key is None:
            bad("gpu", f"unknown GPU '{entry.gpu}'{did_you_mean(entry.gpu, list(db.gpus))}")
            continue
        gpu = db.gpus[gpu_key]
        tp = entry.tp or entry.gpus
        price = _lookup(spec.pricing.gpu_usd_h, db, gpu_key)
        if price is not None:
            cost = entry.gpus * price
        elif entry.cost_usd_h is not None:
            cost = entry.cost_usd_h
        else:
            cost = entry.gpus * gpu.price_usd_h
        tdp_w = _lookup(spec.power.gpu_tdp_w, db, gpu_key) or gpu.tdp_w
        power_gpu = entry.gpus * tdp_w * entry.power_factor / 1000.0
        power_sku = entry.machine_tdp_kw * entry.power_factor if entry.machine_tdp_kw is not None else None
        if section.power_basis == "machine_tdp" and power_sku is None:
            bad("machine_tdp_kw", "needed with splitwise.power_basis: machine_tdp")
            continue
        machines[name] = Machine(
            name=name,
            short=entry.short,
            aliases=entry.aliases,
            gpu=gpu_key,
            gpus=entry.gpus,
            tp=tp,
            gpu_memory_bytes=entry.gpu_memory if entry.gpu_memory is not None else gpu.vram_bytes,
            cost_usd_h=cost,
            power_kw=power_sku if section.power_basis == "machine_tdp" and power_sku is not None else power_gpu,
            power_kw_gpu_tdp=power_gpu,
            power_kw_machine_tdp=power_sku,
            interconnect_bytes_s=entry.interconnect or entry.gpus * gpu.nic_gbps * 1e9 / 8.0,
            perf_hardware=entry.perf_hardware,
            derive_from=entry.derive_from,
            source=entry.source,
        )
    files = {name: file for name, (_, file) in entries.items()}

    def located(name: str, field: tuple[str, ...], msg: str) -> SpecProblem:
        if files.get(name) == loaded.display:
            return loaded.problem(("splitwise", "machines", name, *field), msg)
        return db.catalog_problem(CATALOGUE, (name, *field), msg)

    for name, m in machines.items():
        if m.derive_from is not None and find_machine(machines, m.derive_from.machine) is None:
            unknown = m.derive_from.machine
            problems.append(
                located(
                    name,
                    ("derive_from", "machine"),
                    f"unknown machine '{unknown}'{did_you_mean(unknown, list(machines))}",
                )
            )
    shorts: dict[str, str] = {}
    for name, m in sorted(machines.items()):
        if m.short in shorts:
            problems.append(located(name, ("short",), f"short '{m.short}' already used by {shorts[m.short]}"))
        shorts[m.short] = name
    if problems:
        raise SpecError(problems)
    return machines


def _lookup(table: dict[str, float], db: ProfileDB, gpu_key: str) -> float | None:
    for k, v in table.items():
        if db.resolve_gpu(k) == gpu_key:
            return float(v)
    return None


def find_machine(machines: dict[str, Machine], word: str) -> Machine | None:
    """A machine by name, alias or short letters (case-insensitive for names and aliases)."""
    low = word.lower()
    for m in machines.values():
        if m.name.lower() == low or low in (a.lower() for a in m.aliases):
            return m
    for m in machines.values():
        if m.short == word:
            return m
    return None


def parse_design(text: str, machines: dict[str, Machine]) -> Design:
    """``baseline-a100`` / ``HA`` / ``HHcap`` / ``DGX-H100/DGX-A100`` -> :class:`Design` (usage error otherwise)."""
    word = text.strip()
    if word.lower().startswith("baseline-"):
        m = find_machine(machines, word[len("baseline-") :])
        if m is None:
            tags = [f"baseline-{x.baseline_tag}" for x in machines.values()]
            raise UsageError(f"unknown design '{word}'{did_you_mean(word, tags)}")
        return Design(name=f"baseline-{m.baseline_tag}", kind="baseline", prompt=m, token=m)
    if "/" in word:
        left, right = word.split("/", 1)
        p, t = find_machine(machines, left), find_machine(machines, right)
        if p is None or t is None:
            missing = left if p is None else right
            raise UsageError(f"unknown machine '{missing}' in design '{word}'{did_you_mean(missing, list(machines))}")
        return Design(name=p.short + t.short, kind="split", prompt=p, token=t)
    by_short = {m.short: m for m in machines.values()}
    matches = [
        (by_short[word[:i]], by_short[word[i:]])
        for i in range(1, len(word))
        if word[:i] in by_short and word[i:] in by_short
    ]
    if len(matches) != 1:
        known = [f"{a}{b}" for a in sorted(by_short) for b in sorted(by_short)]
        known += [f"baseline-{x.baseline_tag}" for x in machines.values()]
        why = "ambiguous" if matches else "unknown"
        raise UsageError(f"{why} design '{word}'{did_you_mean(word, known)}")
    p, t = matches[0]
    return Design(name=p.short + t.short, kind="split", prompt=p, token=t)


def parse_designs(names: list[str] | tuple[str, ...], machines: dict[str, Machine]) -> list[Design]:
    """Parse and de-duplicate design names, keeping the user's order."""
    out: list[Design] = []
    seen: set[str] = set()
    for n in names:
        if not n.strip():
            continue
        d = parse_design(n, machines)
        if d.name not in seen:
            seen.add(d.name)
            out.append(d)
    if not out:
        raise UsageError("--designs: no design given")
    return out
