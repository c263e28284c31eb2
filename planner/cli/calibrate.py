"""``plan calibrate``, ``plan accuracy`` and ``plan profiles add-model``: measured benchmarks -> profiles -> trust.

Each command is option declarations plus one call into :mod:`planner.calibrate` (fit, accuracy, add-model); the
results are drawn by :mod:`planner.render` from :mod:`planner.calibrate.report` data.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from planner.cli.common import (
    ExecutorKind,
    ExecutorOpt,
    Format,
    FormatOpt,
    ProfilesOpt,
    QuietOpt,
    RayAddressOpt,
    executor_config,
    handle_errors,
)
from planner.cli.outputs import check_profile_dir, write_output
from planner.errors import UsageError
from planner.paths import display_path
from planner.render.console import err_line, out_text, progress, stdout

FilesArg = Annotated[
    list[Path],
    typer.Argument(
        help="Benchmark files: vLLM / SGLang JSON(L), genai-perf, MLPerf summary, iteration CSV.", show_default=False
    ),  # fmt: skip
]
GpuOpt = Annotated[str | None, typer.Option("--gpu", help="GPU type the runs used (else each file's sidecar).")]
TpOpt = Annotated[int | None, typer.Option("--tp", help="Tensor-parallel degree of the served instance.")]
ModelOpt = Annotated[str | None, typer.Option("--model", help="Model served (a name or alias from models.yaml).")]
FreqOpt = Annotated[
    int | None, typer.Option("--freq-mhz", help="Locked SM clock of the runs (DVFS runs calibrate plan dynamo).")
]
JobsOpt = Annotated[
    int,
    typer.Option(
        "--jobs",
        "-j",
        min=0,
        help="Fits and predictions run at once (0: one per core; Ray: its CPUs). Results do not change.",
    ),
]


def _describe(gpu: str | None, tp: int | None, model: str | None, freq_mhz: int | None = None) -> dict[str, Any]:
    return {"gpu": gpu, "tp": tp, "model": model, "freq_mhz": freq_mhz}


def _counter(doing: str, show: Callable[[str], None]) -> Callable[[int, int], None]:
    """The spinner's message as fits and predictions finish (they can take minutes each)."""
    return lambda finished, total: show(f"{doing}: {finished} of {total} fits and predictions done ...")


#: The largest ``--fail-above`` percentage accepted (a mean error of 10x the measured figure gates nothing useful).
MAX_FAIL_ABOVE_PCT = 1000.0


@contextmanager
def _file_warnings() -> Iterator[Callable[[str], None]]:
    """Collects the warnings about the input files (an MLPerf run LoadGen marked INVALID) and prints each once on
    stderr when the block ends (after the spinner has stopped, and also when a later file is refused)."""
    seen: list[str] = []
    try:
        yield seen.append
    finally:
        for text in dict.fromkeys(seen):
            err_line(f"warning: {text}")


def parse_ratio(text: str) -> float:
    """``10%`` or ``0.1`` -> 0.1; a usage error otherwise.

    A bare number is a ratio and must be at most 1: ``--fail-above 10`` would mean 1,000 %, a gate that never
    fails, so it is refused with the percentage it probably meant. NaN and infinities are refused for the same
    reason (no error compares above them)."""
    t = text.strip()
    pct = t.endswith("%")
    try:
        value = float(t[:-1] if pct else t)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= (MAX_FAIL_ABOVE_PCT if pct else 1.0)):
        meant = f"; for {value:g} percent write {value:g}%" if not pct and 1 < value <= MAX_FAIL_ABOVE_PCT else ""
        raise UsageError(
            f"--fail-above: expected a percentage 0% < N <= {MAX_FAIL_ABOVE_PCT:g}% such as 10%, or a ratio "
            f"0 < r <= 1 such as 0.1; got {text!r}{meant}"
        )
    return value / 100 if pct else value


def sidecars(files: list[Path]) -> list[Path]:
    """The benchmark files with their ``<stem>.meta.yaml`` sidecars: inputs no output may replace."""
    return [*files, *(f.with_name(f.stem + ".meta.yaml") for f in files)]


def calibrate_command(
    files: FilesArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="Profile directory to write (created or updated).")],
    gpu: GpuOpt = None,
    tp: TpOpt = None,
    model: ModelOpt = None,
    freq_mhz: FreqOpt = None,
    profiles: ProfilesOpt = None,
    loo: Annotated[bool, typer.Option("--loo/--no-loo", help="Also measure leave-one-out accuracy (the band).")] = True,
    fmt: FormatOpt = Format.table,
    jobs: JobsOpt = 1,
    executor: ExecutorOpt = ExecutorKind.local,
    ray_address: RayAddressOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Fit the iteration latency model (and, from runs with a clock or power, the dynamo profile) to measured
    benchmarks; write a profile directory for --profiles."""
    from planner.calibrate.api import fit_files
    from planner.calibrate.report import calibration_report
    from planner.calibrate.writer import PROFILE_FILES, write_profile_dir
    from planner.profiles.db import ProfileDB
    from planner.render.markdown import report_markdown
    from planner.render.tables import draw_report

    with handle_errors():
        where = executor_config(executor, jobs, ray_address)
        check_profile_dir("--out", out, PROFILE_FILES, sidecars(files))
        db = ProfileDB.load(profiles)
        with _file_warnings() as warn, progress("calibrating ...", quiet) as show:
            calibrated, dynamo = fit_files(
                files, db, _describe(gpu, tp, model, freq_mhz), loo, where, _counter("calibrating", show), warn
            )
        written: list[Path] = []
        write_output("--out", out, lambda: written.extend(write_profile_dir(out, calibrated, dynamo, db)))
        shown = [display_path(p) for p in written]
        if fmt == Format.json:
            doc = {
                "fits": [
                    {
                        "gpu": c.gpu,
                        "tp": c.tp,
                        "model": c.model.name,
                        "parameters": c.fit.model.as_dict(),
                        "rms_log_error": c.fit.rms_log_ratio,
                        "runs": list(c.fit.runs),
                        "tables": list(c.fit.tables),
                        "loo_mean_abs": c.loo.overall_mean_abs() if c.loo else None,
                    }  # fmt: skip
                    for c in calibrated
                ],
                "dynamo_fits": [
                    {
                        "gpu": d.fit.gpu,
                        "model": d.fit.model,
                        "configs": [list(c) for c in d.fit.configs],
                        "parameters": d.fit.fitted(),
                        "rms_log_error": d.fit.rms_log_ratio,
                        "inputs": list(d.fit.labels),
                        "loo_mean_abs": d.loo.overall_mean_abs() if d.loo else None,
                    }  # fmt: skip
                    for d in dynamo
                ],
                "written": shown,
            }
            out_text(json.dumps(doc, indent=2, sort_keys=True))
        elif fmt == Format.markdown:
            out_text("\n\n".join(report_markdown(calibration_report(calibrated, shown, dynamo))))
        else:
            draw_report(calibration_report(calibrated, shown, dynamo), stdout)
        err_line(f"use it with: --profiles {display_path(out)}")


def accuracy_command(
    files: FilesArg,
    gpu: GpuOpt = None,
    tp: TpOpt = None,
    model: ModelOpt = None,
    freq_mhz: FreqOpt = None,
    profiles: ProfilesOpt = None,
    loo: Annotated[bool, typer.Option("--loo", help="Predict each run from a fit on all the others.")] = False,
    bands: Annotated[
        bool,
        typer.Option(
            "--bands",
            help="Also give each figure the error band a plan would carry (re-predicted with the rows x(1 -+ band)) "
            "and count the measured figures within it (3x the predictions).",
        ),
    ] = False,
    fail_above: Annotated[
        str | None, typer.Option("--fail-above", help="Exit 3 when a figure's mean error exceeds this (10%).")
    ] = None,
    fmt: FormatOpt = Format.table,
    jobs: JobsOpt = 1,
    executor: ExecutorOpt = ExecutorKind.local,
    ray_address: RayAddressOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Predict measured runs with the current profiles (or leave-one-out) and report the errors."""
    from planner.calibrate.api import accuracy_files
    from planner.calibrate.report import accuracy_json, accuracy_report
    from planner.profiles.db import ProfileDB
    from planner.render.markdown import report_markdown
    from planner.render.tables import draw_report

    with handle_errors():
        threshold = parse_ratio(fail_above) if fail_above is not None else None
        where = executor_config(executor, jobs, ray_address)
        db = ProfileDB.load(profiles)
        with _file_warnings() as warn, progress("predicting ...", quiet) as show:
            rep = accuracy_files(
                files, db, _describe(gpu, tp, model, freq_mhz), loo, where, _counter("predicting", show), bands, warn
            )
        if fmt == Format.json:
            out_text(json.dumps(accuracy_json(rep, threshold), indent=2, sort_keys=True))
        elif fmt == Format.markdown:
            out_text("\n\n".join(report_markdown(accuracy_report(rep, threshold))))
        else:
            draw_report(accuracy_report(rep, threshold), stdout)
        worst = rep.worst_mean_abs()
        nothing = rep.why_nothing_judged()
    if threshold is not None and nothing is not None:  # an empty report must not pass the gate
        err_line(f"accuracy: {nothing}; --fail-above {threshold * 100:g}% fails")
        raise typer.Exit(3)
    if threshold is not None and worst is not None and worst[1] > threshold:
        err_line(f"accuracy: {worst[0]} mean error {worst[1] * 100:.1f}% is above --fail-above {threshold * 100:g}%")
        raise typer.Exit(3)


def add_model_command(
    from_hf: Annotated[Path, typer.Option("--from-hf", help="A Hugging Face config.json.", dir_okay=False)],
    name: Annotated[str, typer.Option("--name", help="Name of the model in the profile database.")],
    profiles: Annotated[Path, typer.Option("--profiles", help="Profile directory to add it to (created).")],
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="Let --name shadow a shipped model (or alias), or replace the entry of that name in --profiles.",
        ),
    ] = False,
) -> None:
    """Add a model from its Hugging Face config.json (GQA-correct KV bytes, MoE fields, FP8 weights recorded)."""
    from planner.calibrate.hf_config import add_model, check_name
    from planner.profiles.db import ProfileDB

    with handle_errors():
        check_name(name)
        check_profile_dir("--profiles", profiles, ("models.yaml",), (from_hf,))
        target, _entry = add_model(from_hf, name, profiles, replace)
        m = ProfileDB.load(profiles).model(name)
        moe = f", {m.experts} experts ({m.experts_per_token} per token)" if m.experts > 1 else ""
        out_text(
            f"added {name} to {display_path(target)}: {m.layers} layers, hidden {m.hidden_size}, "
            f"{m.attention_heads}/{m.kv_heads} heads, {m.params_b:g}B params, "
            f"{m.kv_bytes_per_token:,} KV bytes/token{moe}"
        )
        err_line(f"see it with: plan profiles show {name} --profiles {display_path(profiles)}")
