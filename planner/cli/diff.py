"""``plan diff``: option declarations and one call into :mod:`planner.diff` (``--base-ref``: ``diff.baseref``).

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

import tempfile
from pathlib import Path
from typing import Annotated

import typer

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
from planner.diff.baseref import Solver, plan_base_and_head, solver_args, solver_for
from planner.errors import UsageError
from planner.paths import display_path
from planner.plan import write_json_atomic
from planner.render.console import err_line, out_text, progress, stdout


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
                    spec, base_ref, solver_for(spec, solver), args, Path(tmp), lambda text: progress(text, quiet)
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
