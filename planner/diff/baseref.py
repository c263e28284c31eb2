"""``plan diff --base-ref REF SPEC``: plan SPEC as it is at git REF and as it is in the working tree.

Committed baseline plans go stale when profiles or solvers change; re-planning both sides with the same code and
profiles isolates the effect of the spec change. Only the spec file is taken from REF: paths inside it
(``workload.trace``) resolve against the working-tree spec's folder, and profiles come from the working tree (or
``--profiles``), exactly as for the new side. Each side is planned by ``python -m planner SOLVER`` in a subprocess,
so this module imports no solver and no CLI; the caller passes how to show progress.
"""

from __future__ import annotations

import contextlib
import enum
import json
import subprocess
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from planner.diff.reading import load_plan_for_diff
from planner.errors import PlannerError, UsageError
from planner.paths import display_path
from planner.plan import Plan

#: How the caller shows that a side is being planned (the CLI: a spinner on stderr).
Progress = Callable[[str], AbstractContextManager[Any]]


def no_progress(_text: str) -> AbstractContextManager[Any]:
    """Show nothing."""
    return contextlib.nullcontext()


class Solver(enum.StrEnum):
    helix = "helix"
    splitwise = "splitwise"
    dynamo = "dynamo"


#: Spec fields that hold a path relative to the spec file (their descriptions say "relative to the spec").
SPEC_PATH_FIELDS: tuple[tuple[str, ...], ...] = (("workload", "trace"),)

#: Solver options ``plan diff`` sets itself for both runs; passing them after ``--`` is refused.
_RESERVED = ("--out", "-o", "--format", "-f", "--quiet", "-q", "--plot")


class BaseRefError(PlannerError):
    """``--base-ref`` cannot produce one of the two plans (git, missing spec at REF, the solver failed). Exit 1."""

    exit_code = 1

    def __init__(self, message: str, details: list[str] | None = None) -> None:
        self.details = details or []
        super().__init__(message)

    def lines(self) -> list[str]:
        return [str(self), *self.details]


@dataclass(frozen=True)
class SpecAtRef:
    """The spec file's bytes at a git ref, and how to name it (``main:cluster_specs/x.yaml``)."""

    text: bytes
    label: str


def solver_for(spec: Path, solver: Solver | None) -> str:
    """``--solver``; else the spec file name's prefix (``helix-...``, ``splitwise-...``, ``dynamo-...``); else the one
    solver section (``helix:``, ``splitwise:``, ``dynamo:``) the spec has, as ``plan init`` writes it."""
    if solver is not None:
        return solver.value
    prefix = spec.name.split("-", 1)[0]
    if prefix in Solver.__members__:
        return prefix
    try:
        data = yaml.safe_load(spec.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        data = None
    sections = [k for k in Solver.__members__ if isinstance(data, dict) and k in data]
    if len(sections) == 1:
        return sections[0]
    raise UsageError(f"cannot tell the solver from the file name '{spec.name}'; pass --solver helix|splitwise|dynamo")


def _git(args: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except FileNotFoundError:
        raise BaseRefError("--base-ref needs git, which is not on PATH") from None


def spec_at_ref(spec: Path, ref: str) -> SpecAtRef:
    """``git show REF:<spec path in its repository>``, with one-line errors for each way it can fail."""
    if ref.startswith("-") or not ref.strip():
        raise UsageError(f"--base-ref: '{ref}' is not a git ref")
    spec_abs = spec.resolve()
    if not spec_abs.is_file():
        raise BaseRefError(f"{display_path(spec)}: <root>: spec file not found in the working tree")
    top = _git(["rev-parse", "--show-toplevel"], spec_abs.parent)
    if top.returncode != 0:
        raise BaseRefError(f"{display_path(spec)}: not inside a git repository (--base-ref needs one)")
    root = Path(top.stdout.decode().strip()).resolve()
    rel = spec_abs.relative_to(root).as_posix()
    if _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], root).returncode != 0:
        raise BaseRefError(f"--base-ref: unknown git ref '{ref}' (in CI, fetch the base branch: fetch-depth: 0)")
    shown = _git(["show", f"{ref}:{rel}"], root)
    if shown.returncode != 0:
        raise BaseRefError(f"{rel}: does not exist at {ref} (a new spec? plan it without --base-ref)")
    return SpecAtRef(text=shown.stdout, label=f"{ref}:{rel}")


def path_overrides(spec_text: bytes, spec_dir: Path) -> list[str]:
    """``--set`` overrides that point relative paths of a relocated spec back at ``spec_dir``.

    The spec at REF is written to a temporary folder; without these, ``workload.trace: ../profiles/...`` would
    resolve against that folder. A spec that does not parse gets none: the solver reports its error.
    """
    try:
        data = yaml.safe_load(spec_text)
    except yaml.YAMLError:
        return []
    out = []
    for fields in SPEC_PATH_FIELDS:
        value: Any = data
        for name in fields:
            value = value.get(name) if isinstance(value, dict) else None
        if isinstance(value, str) and value and not Path(value).is_absolute():
            out.append(f"{'.'.join(fields)}={json.dumps(str((spec_dir / value).resolve()))}")
    return out


def run_solver(solver: str, spec: Path, out: Path, args: list[str], side: str, progress: Progress) -> Plan:
    """Run ``python -m planner SOLVER SPEC --out OUT`` and read the plan (also an infeasible one, exit 1)."""
    cmd = [sys.executable, "-m", "planner", solver, str(spec), "--format", "json", "--quiet", "--out", str(out)]
    cmd += args
    with progress(f"planning {side} with {solver} ..."):
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode == 130:
        raise KeyboardInterrupt
    if res.returncode != 0 and not (res.returncode == 1 and out.is_file()):
        details = [f"  {line}" for line in res.stderr.strip().splitlines()[-20:]]
        raise BaseRefError(f"planning {side} failed: plan {solver} exited {res.returncode}", details)
    return load_plan_for_diff(out)


def solver_args(
    profiles: Path | None, overrides: list[str], time_limit: str | None, seed: int | None, extra: list[str]
) -> list[str]:
    """Options passed to both solver runs; ``--out``/``--format`` are ``plan diff``'s own."""
    for arg in extra:
        if arg.split("=", 1)[0] in _RESERVED:
            raise UsageError(f"solver option {arg} is set by plan diff itself; remove it")
    args: list[str] = []
    if profiles is not None:
        args += ["--profiles", str(profiles)]
    for item in overrides:
        args += ["--set", item]
    if time_limit is not None:
        args += ["--time-limit", time_limit]
    if seed is not None:
        args += ["--seed", str(seed)]
    return args + extra


def plan_base_and_head(
    spec: Path,
    ref: str,
    solver: str,
    args: list[str],
    workdir: Path,
    progress: Progress = no_progress,
) -> tuple[Plan, Plan, str, str]:
    """Plan the spec at REF (in ``workdir``) and in the working tree; return both plans and their labels."""
    at_ref = spec_at_ref(spec, ref)
    base_dir = workdir / "base"
    base_dir.mkdir(parents=True, exist_ok=True)
    base_spec = base_dir / spec.name  # same file name: the plan's default name is the spec's stem
    base_spec.write_bytes(at_ref.text)
    fixes = [a for item in path_overrides(at_ref.text, spec.resolve().parent) for a in ("--set", item)]
    old = run_solver(solver, base_spec, workdir / "base.json", fixes + args, f"{at_ref.label}", progress)
    head_label = f"{display_path(spec)} (working tree)"
    new = run_solver(solver, spec, workdir / "head.json", args, head_label, progress)
    return old, new, at_ref.label, head_label


# ------------------------------------------------------------------------------------------------ command
