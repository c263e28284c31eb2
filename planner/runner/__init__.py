"""The plan layer above the solvers: load a solver's inputs, run it, assemble the versioned plan document.

Solvers stay free of plan and CLI concerns: a solver receives its instance and options and returns its solution and
report; the modules of this package (:mod:`planner.runner.helix`, :mod:`~planner.runner.splitwise`,
:mod:`~planner.runner.dynamo`) turn that into a :class:`~planner.plan.Plan` with :func:`assemble_plan`. The CLI
(:mod:`planner.cli`) sits on top: it parses options, calls one function here, renders and writes the result.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planner.contract_base import Block
from planner.contracts import block_dict
from planner.paths import SHIPPED_SPECS, display_path
from planner.plan import InputFile, Inputs, Plan, PlanKind, SolverBlock, run_info
from planner.profiles.accuracy import (
    PREDICTED,
    Move,
    model_band_text,
    model_bands,
    plan_band,
    propagated_text,
    with_bands,
)
from planner.profiles.db import ProfileDB
from planner.solver import Assumption, SolveReport
from planner.spec.loader import DEFAULT_MAX_NODES, LoadedSpec, load_spec

#: The spec each solver runs on when the user gives none (first-run experience).
DEFAULT_SPECS: dict[str, str] = {
    "helix": "helix-single24-llama2-70b.yaml",
    "splitwise": "splitwise-bloom176b-coding.yaml",
    "dynamo": "dynamo-llama2-70b-h100.yaml",
}


def default_spec(solver: str) -> Path:
    return SHIPPED_SPECS / DEFAULT_SPECS[solver]


@dataclass
class SolverInputs:
    """What a solver receives: the validated spec and the profile database it was checked against."""

    loaded: LoadedSpec
    profiles: ProfileDB


def load_inputs(
    spec_path: Path,
    profiles: Path | None = None,
    overrides: list[str] | None = None,
    max_nodes: int = DEFAULT_MAX_NODES,
) -> SolverInputs:
    """Load the profile database (shipped + the ``--profiles`` layer) and the spec with its ``--set`` overrides."""
    db = ProfileDB.load(profiles)
    loaded = load_spec(spec_path, db, list(overrides or []), max_nodes=max_nodes)
    return SolverInputs(loaded, db)


def make_inputs(loaded: LoadedSpec, db: ProfileDB, options: dict[str, Any]) -> Inputs:
    """The plan's ``inputs`` block: spec and profile digests, overrides and every option that shaped the plan."""
    return Inputs(
        spec=InputFile(path=loaded.display, sha256=loaded.sha256),
        profiles=[InputFile(path=f.path, sha256=f.sha256) for f in db.used_files()],
        overrides=list(loaded.overrides),
        options={k: options[k] for k in sorted(options)},
    )


def assemble_plan(
    kind: PlanKind,
    loaded: LoadedSpec,
    db: ProfileDB,
    report: SolveReport,
    plan_block: Block | dict[str, Any],
    metrics: dict[str, float | None],
    assumptions: list[Assumption],
    warnings: list[str],
    options: dict[str, Any],
    wall_s: float,
    band_rests_on: list[Assumption] | None = None,
    propagated: dict[str, Move] | None = None,
    shares: dict[str, float] | None = None,
) -> Plan:
    """Build the plan document; profile conflicts become warnings so a user sees their overrides took effect.

    ``band_rests_on``: the profile assumptions the predicted figures rest on, when narrower than ``assumptions``
    (a splitwise plan's figures rest on its chosen design's rows, not on every candidate's); ``propagated``: per
    figure, how far it moves when its profile rows are off by their band; ``shares``: figures only part of which is
    predicted, with that part's share (both :func:`with_bands`)."""
    all_warnings = list(warnings) + [f"profile override: {c}" for c in db.conflicts]
    band = plan_band(db, assumptions if band_rests_on is None else band_rests_on)
    model = model_bands(db, kind, metrics)
    metrics = with_bands(kind, metrics, band, model, propagated, shares)
    if band is not None and kind in PREDICTED:
        detail = (
            f"+-{band.err_ratio * 100:.1f} % on every predicted figure ({band.entry}: {band.method}; docs/accuracy.md)"
        )
        if model:
            detail += f"; figures of a model with its own measured error add it: {model_band_text(model)}"
        if propagated:
            detail += f"; {propagated_text(propagated, band)}"
        # The band's basis is read from the accuracy file: pydantic checks it against the Assumption vocabulary.
        band_assumption = Assumption.model_validate({"subject": "error band", "basis": band.basis, "detail": detail})
        assumptions = [*assumptions, band_assumption]
    assumptions = [*assumptions, options_assumption(options)]
    return Plan(
        kind=kind,
        name=loaded.spec.name or Path(loaded.display).stem,
        inputs=make_inputs(loaded, db, options),
        solver=SolverBlock.from_report(report),
        plan=block_dict(plan_block),
        metrics=metrics,
        assumptions=assumptions,
        warnings=all_warnings,
        run=run_info(wall_s),
    )


def options_assumption(options: dict[str, Any]) -> Assumption:
    """Every option the run used, defaults included, so the report shows what the figures were computed under."""

    def show(v: Any) -> str:
        if v is None:
            return "unset (spec or built-in default)"
        if isinstance(v, float):
            return f"{v:g}"
        return str(v)

    detail = "; ".join(f"{k}={show(options[k])}" for k in sorted(options))
    return Assumption(subject="options", basis="option", detail=detail)


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    """``with stopwatch() as t: ...`` then ``t[0]`` is the elapsed wall time in seconds."""
    box = [0.0]
    start = time.perf_counter()
    try:
        yield box
    finally:
        box[0] = time.perf_counter() - start


def spec_note(spec: Path | None, solver: str) -> tuple[Path, str | None]:
    """Resolve an optional spec argument to a path, with the first-line note when the default is used."""
    if spec is not None:
        return spec, None
    path = default_spec(solver)
    return path, f"using {display_path(path)} (default; pass a spec to use your own)"
