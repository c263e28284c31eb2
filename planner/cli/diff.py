"""``plan diff``: option declarations, the ``--base-ref`` orchestration, and one call into :mod:`planner.diff`.

Two modes:

* ``plan diff OLD.json NEW.json``: diff two plan documents.
* ``plan diff --base-ref REF SPEC [-- solver options]``: plan SPEC as it is at git REF and as it is in the working
  tree, then diff. Committed baseline plans go stale when profiles or solvers change; re-planning both sides with
  the same code and profiles isolates the effect of the spec change. Only the spec file is taken from REF: paths
  inside it (``workload.trace``) resolve against the working-tree spec's folder, and profiles come from the working
  tree (or ``--profiles``), exactly as for the new side.

Exit codes (Terraform's ``plan -detailed-exitcode``, plus guardrails): 0 success (or no change), 1 error, 2 changed
(only with ``--detailed-exitcode``), 3 a ``--fail-on`` guardrail is breached. Command-line mistakes (a ``--fail-on``
typo, a missing argument) exit 2 like every other ``plan`` command; unreadable plans and failed plannings exit 1.
"""

from __future__ import annotations

import enum
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from planner.cli.common import Format, FormatOpt, ProfilesOpt, QuietOpt, SetOpt, VerboseOpt, handle_errors
from planner.cli.outputs import Output, check_outputs, write_output
from planner.diff import (
    DEFAULT_REL_TOL,
    PlanDiff,
    diff_plans,
    exit_code,
    load_plan_for_diff,
    parse_guardrails,
)
from planner.errors import PlannerError, UsageError
from planner.paths import display_path
from planner.plan import Plan, write_json_atomic
from planner.render.console import err_line, out_text, progress, stdout


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


# ------------------------------------------------------------------------------------------------ base-ref


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
        import yaml

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


def run_solver(solver: str, spec: Path, out: Path, args: list[str], side: str, quiet: bool) -> Plan:
    """Run ``python -m planner SOLVER SPEC --out OUT`` and read the plan (also an infeasible one, exit 1)."""
    cmd = [sys.executable, "-m", "planner", solver, str(spec), "--format", "json", "--quiet", "--out", str(out)]
    cmd += args
    with progress(f"planning {side} with {solver} ...", quiet):
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
    quiet: bool = False,
) -> tuple[Plan, Plan, str, str]:
    """Plan the spec at REF (in ``workdir``) and in the working tree; return both plans and their labels."""
    at_ref = spec_at_ref(spec, ref)
    base_dir = workdir / "base"
    base_dir.mkdir(parents=True, exist_ok=True)
    base_spec = base_dir / spec.name  # same file name: the plan's default name is the spec's stem
    base_spec.write_bytes(at_ref.text)
    fixes = [a for item in path_overrides(at_ref.text, spec.resolve().parent) for a in ("--set", item)]
    old = run_solver(solver, base_spec, workdir / "base.json", fixes + args, f"{at_ref.label}", quiet)
    head_label = f"{display_path(spec)} (working tree)"
    new = run_solver(solver, spec, workdir / "head.json", args, head_label, quiet)
    return old, new, at_ref.label, head_label


# ------------------------------------------------------------------------------------------------ command


def _emit(diff: PlanDiff, fmt: Format, marker: str | None, verbose: bool) -> None:
    from planner.render.diff import diff_json, render_markdown, render_table

    if fmt == Format.json:
        out_text(diff_json(diff))
    elif fmt == Format.markdown:
        out_text(render_markdown(diff, marker))
    else:
        render_table(diff, stdout, verbose=verbose)


def diff_command(
    ctx: typer.Context,
    paths: Annotated[
        list[str],
        typer.Argument(
            help="OLD.json NEW.json; or with --base-ref: SPEC, then after '--' any solver options (e.g. -- --rps 70).",
            metavar="OLD NEW | SPEC",
            show_default=False,
        ),
    ],
    fmt: FormatOpt = Format.table,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Also write the diff JSON (versioned) here, atomically.")
    ] = None,
    detailed_exitcode: Annotated[
        bool,
        typer.Option("--detailed-exitcode", help="Exit 0 when nothing changed, 2 when the plan changed (1 error)."),
    ] = False,
    fail_on: Annotated[
        str | None,
        typer.Option(
            "--fail-on",
            help='Guardrails; exit 3 when one is breached, e.g. "throughput<-5%,cost>+3%,energy>+3%,slo". '
            "Thresholds apply to the change from old to new: N% relative, bare N absolute in the metric's unit.",
        ),
    ] = None,
    base_ref: Annotated[
        str | None,
        typer.Option("--base-ref", help="Plan SPEC as it is at this git ref and in the working tree, then diff."),
    ] = None,
    solver: Annotated[
        Solver | None,
        typer.Option("--solver", help="With --base-ref: the solver (default: the spec file name's prefix)."),
    ] = None,
    profiles: ProfilesOpt = None,
    overrides: SetOpt = None,
    time_limit: Annotated[
        str | None, typer.Option("--time-limit", help="With --base-ref: solver time limit for both runs.")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="With --base-ref: seed for both runs.")] = None,
    save_plans: Annotated[
        Path | None,
        typer.Option("--save-plans", help="With --base-ref: keep both plans here as base.json and head.json."),
    ] = None,
    marker: Annotated[
        str | None,
        typer.Option(
            "--marker",
            help="Hidden marker of the markdown comment (default llmplan-diff:KIND:NAME; '' for none).",
        ),
    ] = None,
    rel_tol: Annotated[
        float, typer.Option("--rel-tol", min=0.0, help="Relative tolerance under which two numbers are equal.")
    ] = DEFAULT_REL_TOL,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Show what changed between two plans of the same kind: changes, metric deltas, guardrails."""
    with handle_errors():
        guardrails = parse_guardrails(fail_on)  # a typo fails before any planning (exit 2)
        extra = [*paths[1:], *ctx.args] if base_ref is not None else list(ctx.args)
        if base_ref is None:
            given: dict[str, object] = {
                "--solver": solver,
                "--time-limit": time_limit,
                "--seed": seed,
                "--save-plans": save_plans,
            }
            given |= {"--profiles": profiles, "--set": overrides}
            used = [name for name, value in given.items() if value]
            if used:
                raise UsageError(f"{', '.join(used)}: only with --base-ref")
            if len(paths) != 2 or extra:
                raise UsageError("plan diff needs OLD.json NEW.json, or --base-ref REF SPEC")
            old_path, new_path = Path(paths[0]), Path(paths[1])
            check_outputs((Output("--out", out),), (old_path, new_path))
            old, new = load_plan_for_diff(old_path), load_plan_for_diff(new_path)
            old_label, new_label = display_path(old_path), display_path(new_path)
        else:
            spec = Path(paths[0])
            saved = Output("--save-plans", save_plans, "dir", ("base.json", "head.json"))
            check_outputs((Output("--out", out), saved), (spec,), (profiles,))
            args = solver_args(profiles, list(overrides or []), time_limit, seed, extra)
            with tempfile.TemporaryDirectory(prefix="llmplan-diff-") as tmp:
                old, new, old_label, new_label = plan_base_and_head(
                    spec, base_ref, solver_for(spec, solver), args, Path(tmp), quiet
                )
                if save_plans is not None:
                    folder = save_plans
                    for name in ("base.json", "head.json"):
                        saved_text = (Path(tmp) / name).read_text(encoding="utf-8")
                        target = folder / name

                        def save(t: str = saved_text, p: Path = target) -> None:
                            write_json_atomic(t, p)

                        write_output("--save-plans", target, save)
        diff = diff_plans(old, new, guardrails, rel_tol, old_label, new_label)
        if out is not None:
            from planner.render.diff import diff_json

            text = diff_json(diff)
            write_output("--out", out, lambda: write_json_atomic(text, out))
        _emit(diff, fmt, marker, verbose)
        for g in diff.breached:
            err_line(f"guardrail breached: {g.rule}: {g.detail}")
        if not quiet:
            for g in diff.guardrails:
                if not g.applicable:
                    err_line(f"note: guardrail {g.rule} not applicable: {g.detail}")
    code = exit_code(diff, detailed_exitcode)
    if code:
        raise typer.Exit(code)
