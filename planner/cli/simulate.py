"""``plan simulate``: option declarations and one call into the simulator (:func:`planner.sim.run.simulate`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from planner.cli.common import (
    Format,
    FormatOpt,
    ProfilesOpt,
    QuietOpt,
    SeedOpt,
    VerboseOpt,
    handle_errors,
    parse_seconds_option,
)
from planner.cli.outputs import Output, check_outputs, write_output
from planner.errors import ProfileMissingError, UsageError
from planner.paths import display_path
from planner.render.console import err_line, out_text, progress, stdout


def _seconds(option: str, text: str) -> float:
    """``600`` (seconds) or ``600s`` / ``10m``; a usage error otherwise."""
    return parse_seconds_option(option, text, positive=False)


def simulate_command(
    plans: Annotated[
        list[Path],
        typer.Argument(
            help="Helix plan JSON(s) written by `plan helix --out`; several are compared side by side.",
            metavar="PLAN",
            show_default=False,
        ),
    ],
    compare: Annotated[
        bool,
        typer.Option(
            "--compare",
            help="Compare placements side by side: `PLAN --compare OTHER...` (giving several plans implies it).",
        ),
    ] = False,
    duration: Annotated[str, typer.Option("--duration", help="Measured simulated time (600s, 10m).")] = "600s",
    warmup: Annotated[str, typer.Option("--warmup", help="Simulated time before measuring.")] = "60s",
    trace: Annotated[
        Path | None,
        typer.Option("--trace", help="Azure-schema trace: lengths, and arrivals online (default: shipped conv trace)."),
    ] = None,
    rps: Annotated[float | None, typer.Option("--rps", help="Online Poisson arrivals at this rate (req/s).")] = None,
    load: Annotated[
        float | None,
        typer.Option(
            "--load", help="Online: replay the trace's arrivals scaled to this fraction of the plan's max flow."
        ),
    ] = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="Keep the cluster saturated (Helix offline mode).")
    ] = False,
    max_input_tokens: Annotated[
        int, typer.Option("--max-input-tokens", help="Drop trace requests with longer prompts (Helix: 2048).")
    ] = 2048,
    max_output_tokens: Annotated[
        int, typer.Option("--max-output-tokens", help="Drop trace requests with longer outputs (Helix: 1024).")
    ] = 1024,
    prompt_batch_tokens: Annotated[
        int, typer.Option("--prompt-batch-tokens", help="Prompt tokens per node iteration (at least one prompt).")
    ] = 2048,
    latency: Annotated[
        str,
        typer.Option(
            "--latency",
            help="Per-layer latency: table (measured only), auto (table, else analytic roofline), roofline.",
        ),
    ] = "table",
    gpu_memory_utilization: Annotated[
        float, typer.Option("--gpu-memory-utilization", help="Usable share of VRAM for weights + KV cache.")
    ] = 0.9,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the simulation JSON here.")] = None,
    fmt: FormatOpt = Format.table,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="PNG: decode throughput over time and latency CDFs.")
    ] = None,
    profiles: ProfilesOpt = None,
    seed: SeedOpt = 0,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Replay requests through Helix plan(s): achieved decode throughput vs the plan's max flow, latencies."""
    from planner.render.simulation import render_markdown, render_tables
    from planner.sim.document import document_json, write_document
    from planner.sim.run import SimOptions, simulate

    with handle_errors():
        try:
            # Validated from a dict: --latency is free text here and pydantic names the allowed values.
            opts = SimOptions.model_validate(
                {
                    "duration_s": _seconds("--duration", duration),
                    "warmup_s": _seconds("--warmup", warmup),
                    "offline": offline,
                    "trace": trace,
                    "rps": rps,
                    "load": load,
                    "seed": seed,
                    "max_input_tokens": max_input_tokens,
                    "max_output_tokens": max_output_tokens,
                    "prompt_batch_tokens": prompt_batch_tokens,
                    "gpu_memory_utilization": gpu_memory_utilization,
                    "latency": latency,
                }
            )
        except ValidationError as exc:
            err = exc.errors()[0]
            field = str(err["loc"][0]).removesuffix("_s").replace("_", "-")
            raise UsageError(f"--{field}: {err['msg']}") from None
        paths = list(plans)
        if compare and len(paths) < 2:
            raise UsageError("--compare needs at least two plans: PLAN --compare OTHER [OTHER ...]")
        check_outputs((Output("--out", out), Output("--plot", plot, "png")), (*paths, trace), (profiles,))
        with progress(f"simulating {len(paths)} placement(s) ...", quiet):
            try:
                result = simulate(paths, opts, profiles)
            except ProfileMissingError as exc:
                if opts.latency != "table":
                    raise
                # plan helix fills such a gap with its roofline (its assumptions say so); the referee only when asked
                raise exc.or_else("pass --latency auto for the analytic roofline where the table has no rows") from None
        doc = result.document
        if out is not None:
            write_output("--out", out, lambda: write_document(doc, out))
        if fmt == Format.json:
            out_text(document_json(doc))
        elif fmt == Format.markdown:
            out_text(render_markdown(doc))
        else:
            render_tables(doc, stdout, verbose=verbose)
        if plot is not None:
            from planner.render.plots import write_simulation
            from planner.sim.plot import figure_data

            write_output("--plot", plot, lambda: write_simulation(figure_data(result), plot))
        if not quiet:
            for w in doc.warnings:
                err_line(f"warning: {w}")
            if out is not None:
                err_line(f"simulation written to {display_path(out)}")
            if plot is not None:
                err_line(f"figure written to {display_path(plot)}")
