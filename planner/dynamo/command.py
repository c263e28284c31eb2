"""``plan dynamo``: option declarations and one call into the solver."""

from __future__ import annotations

from planner.cli_common import (
    Format,
    FormatOpt,
    OutOpt,
    PlotOpt,
    ProfilesOpt,
    QuietOpt,
    SeedOpt,
    SetOpt,
    SpecArg,
    TimeLimitOpt,
    VerboseOpt,
    common_options,
    execute,
)
from planner.errors import SolverFailure
from planner.plan import Plan
from planner.runner import Inputs_


def _solve(inputs: Inputs_) -> Plan:
    raise SolverFailure("plan dynamo is not implemented yet")


def dynamo_command(
    spec: SpecArg = None,
    out: OutOpt = None,
    fmt: FormatOpt = Format.table,
    profiles: ProfilesOpt = None,
    overrides: SetOpt = None,
    time_limit: TimeLimitOpt = "60",
    seed: SeedOpt = 0,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    plot: PlotOpt = None,
) -> None:
    """Run the dynamo solver on SPEC (default: the shipped example)."""
    common = common_options(out, fmt, profiles, overrides, time_limit, seed, quiet, verbose, plot)
    execute("dynamo", spec, common, _solve)
