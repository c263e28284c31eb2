"""The plan document: the single contract between solving and everything downstream (report, diff, simulate).

Everything outside the ``run`` block is deterministic: the same inputs, options and seed give byte-identical JSON
(keys sorted, floats rounded to ``FLOAT_DIGITS`` significant digits, lists in a stable order chosen by each
solver). ``run`` holds what varies between runs (wall time, host, library versions) and is ignored by ``plan diff``.

``format_version`` follows semver: a minor version only adds fields, and readers ignore unknown keys.
"""

from __future__ import annotations

import json
import math
import os
import platform
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import IO, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.json_schema import models_json_schema

from planner import FORMAT_VERSION, __version__
from planner.contracts import CONTRACTS, block_dict
from planner.solver import Assumption, SolveReport, Status

#: Significant digits kept for every float in a plan (enough for 1e-6 relative agreement checks).
FLOAT_DIGITS = 10

PlanKind = Literal["helix", "splitwise", "dynamo"]

#: Suffixes a metric name must end with, so that every figure says its unit.
METRIC_SUFFIXES: tuple[str, ...] = (
    "_tok_s", "_rps", "_ms", "_s", "_usd_h", "_usd", "_usd_per_mtok", "_kw", "_w", "_wh", "_kwh",
    "_gpus", "_gpu_h", "_nodes", "_machines", "_instances", "_count", "_hops", "_ratio", "_pct", "_kgco2",
    "_gco2", "_requests", "_layers",
    "usd_per_mtok",  # the splitwise contract names this metric bare (a unit with no prefix)
)  # fmt: skip
#: Dimensionless metric names allowed without a suffix.
METRIC_NAMES: frozenset[str] = frozenset({"flow_vs_bound", "gap"})


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InputFile(_Doc):
    path: str
    sha256: str


class Inputs(_Doc):
    """What the plan was computed from: spec and profile files with digests, overrides, and every option."""

    spec: InputFile
    profiles: list[InputFile] = Field(default_factory=list)
    overrides: list[str] = Field(default_factory=list)
    options: dict[str, Any] = Field(default_factory=dict)


class SolverBlock(_Doc):
    """What the solver proved (see :class:`planner.solver.SolveReport`)."""

    backend: str
    status: Status
    objective: float | None = None
    best_bound: float | None = None
    gap: float | None = None
    message: str = ""

    @classmethod
    def from_report(cls, report: SolveReport) -> SolverBlock:
        return cls(
            backend=report.backend,
            status=report.status,
            objective=report.objective,
            best_bound=report.best_bound,
            gap=report.gap,
            message=report.message,
        )


class RunInfo(_Doc):
    """Volatile facts about the run; never compared by ``plan diff`` or determinism tests."""

    wall_s: float = 0.0
    started_at: str = ""
    host: str = ""
    python: str = ""
    versions: dict[str, str] = Field(default_factory=dict)


class Plan(_Doc):
    """A deployment plan as written to ``--out`` (see README "Plan document")."""

    format_version: str = FORMAT_VERSION
    kind: PlanKind
    name: str = ""
    inputs: Inputs
    solver: SolverBlock
    plan: dict[str, Any] = Field(
        default_factory=dict, description="solver-specific plan block (its contract: planner/contracts.py)"
    )
    metrics: dict[str, float | None] = Field(default_factory=dict, description="unit-suffixed figures")
    assumptions: list[Assumption] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    run: RunInfo = Field(default_factory=RunInfo)

    @field_validator("plan", mode="before")
    @classmethod
    def _dump_contract(cls, v: Any) -> Any:
        """Writers pass their contract model (planner/<solver>/contract.py); the document stores its dict."""
        return block_dict(v) if isinstance(v, BaseModel) else v

    @field_validator("metrics")
    @classmethod
    def _units_in_names(cls, v: dict[str, float | None]) -> dict[str, float | None]:
        for key in v:
            if key not in METRIC_NAMES and not key.endswith(METRIC_SUFFIXES):
                raise ValueError(f"metric '{key}' must end with a unit suffix ({', '.join(METRIC_SUFFIXES)})")
        return v


def run_info(wall_s: float) -> RunInfo:
    versions = {}
    for dist in ("llmplan", "ortools", "networkx", "pandas", "pydantic", "numpy"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:  # llmplan itself run from a source tree: its own version string
            versions[dist] = __version__ if dist == "llmplan" else "absent"
    return RunInfo(
        wall_s=round(wall_s, 3),
        started_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        host=platform.node(),
        python=platform.python_version(),
        versions=versions,
    )


def canonical(value: Any) -> Any:
    """Round floats to FLOAT_DIGITS significant digits; NaN/inf become null (JSON has neither)."""
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        if value == 0:
            return 0.0
        return float(f"{value:.{FLOAT_DIGITS}g}")
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if hasattr(value, "item"):  # numpy scalar
        return canonical(value.item())
    raise TypeError(f"cannot serialise {type(value).__name__} in a plan")


#: Deprecated private name, kept for callers written before ``canonical`` was public.
_canonical = canonical


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    data = canonical(plan.model_dump(mode="json"))
    assert isinstance(data, dict)  # canonical keeps a dict a dict
    return data


def plan_json(plan: Plan) -> str:
    """Canonical JSON text: sorted keys, 2-space indent, rounded floats, trailing newline."""
    return json.dumps(plan_to_dict(plan), sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def current_umask() -> int:
    """The process's umask (read by setting and restoring it; there is no read-only call)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Write via a temp file in the same folder and ``os.replace``, so a failure leaves nothing half-written and the
    previous file intact. The file gets the mode a plain ``open(path, "w")`` would (0666 minus the umask), not the
    temp file's 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(text: str, path: Path) -> None:
    """Write text atomically (see :func:`write_atomic`)."""
    write_atomic(path, lambda fh: fh.write(text.encode("utf-8")))


def write_plan(plan: Plan, path: Path) -> None:
    write_json_atomic(plan_json(plan), path)


def read_plan(path: Path, *, expected_kind: str | None = None, reader: str = "this command") -> Plan:
    """Load a plan JSON; unknown keys from newer minor versions are ignored (see module docstring).

    With ``expected_kind`` a plan of another kind is refused before its block is checked against that kind's
    contract, so the error says what the reader needs rather than what the other kind's block lacks.
    """
    from planner.errors import SpecError
    from planner.inputfiles import load_json_file
    from planner.paths import display_path

    name = display_path(path)
    data = load_json_file(path, name, "plan")
    if not isinstance(data, dict) or "format_version" not in data or "kind" not in data:
        raise SpecError.single(name, "", "not a plan JSON (needs format_version and kind)")
    major = str(data["format_version"]).split(".")[0]
    if major != FORMAT_VERSION.split(".")[0]:
        raise SpecError.single(
            name,
            "format_version",
            f"unsupported major version {data['format_version']} (reader: {FORMAT_VERSION})",
        )
    known = set(Plan.model_fields)
    data = {k: v for k, v in data.items() if k in known}
    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        raise SpecError([_plan_problem(name, (), exc)]) from None
    if expected_kind is not None and plan.kind != expected_kind:
        raise SpecError.single(name, "kind", f"{reader} needs a {expected_kind} plan, got kind '{plan.kind}'")
    from planner.contracts import CONTRACTS, parse_block

    if plan.kind in CONTRACTS:  # the block's types and bounds, checked once here for every reader
        try:
            parse_block(plan.kind, plan.plan)
        except ValidationError as exc:
            raise SpecError([_plan_problem(name, ("plan",), exc)]) from None
    return plan


def _plan_problem(name: str, prefix: tuple[str | int, ...], exc: ValidationError) -> Any:
    """The first error of ``exc`` as one located line: ``file: plan.nodes[3].layers: message``."""
    from planner.errors import SpecProblem
    from planner.yamlmarks import dotted

    err = exc.errors(include_url=False)[0]
    loc = (*prefix, *(p for p in err["loc"] if isinstance(p, (str, int))))
    more = len(exc.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return SpecProblem(name, dotted(loc), f"invalid plan document: {err['msg']}{suffix}")


def plan_json_schema() -> dict[str, Any]:
    """JSON Schema of the plan document, generated from the pydantic models (shipped in planner/schemas).

    The ``plan`` block is checked against its kind's contract (:data:`planner.contracts.CONTRACTS`) with one
    ``if kind == K then plan: <contract K>`` rule per kind. The contracts forbid unknown keys when written, but the
    schema leaves ``additionalProperties`` open in them, as a reader of a newer minor version must.
    """
    kinds = sorted(CONTRACTS)
    _, defs = models_json_schema(
        [(Plan, "validation"), *((CONTRACTS[k], "validation") for k in kinds)],
        ref_template="#/$defs/{model}",
    )
    all_defs: dict[str, Any] = defs.get("$defs", {})
    schema = dict(all_defs.pop("Plan"))
    schema["$defs"] = all_defs
    for name in (CONTRACTS[k].__name__ for k in kinds):
        for sub in _contract_defs(all_defs, name):
            sub.pop("additionalProperties", None)
    schema["allOf"] = [
        {
            "if": {"properties": {"kind": {"const": k}}, "required": ["kind"]},
            "then": {"properties": {"plan": {"$ref": f"#/$defs/{CONTRACTS[k].__name__}"}}},
        }
        for k in kinds
    ]
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://llmplan.invalid/schemas/plan-{FORMAT_VERSION}.json"
    return schema


def _contract_defs(defs: dict[str, Any], root: str) -> list[dict[str, Any]]:
    """The definitions a contract refers to, itself included (so they can be opened for newer readers)."""
    seen: dict[str, dict[str, Any]] = {}
    todo = [root]
    while todo:
        name = todo.pop()
        if name in seen or name not in defs:
            continue
        seen[name] = defs[name]
        todo += [ref.rsplit("/", 1)[-1] for ref in _refs(defs[name])]
    return list(seen.values())


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        out = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        for v in node.values():
            out += _refs(v)
        return out
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []
