"""Mutation testing of the modules that decide correctness (``make mutate``; issue 17).

Each module is mutated on its own with mutmut, against only the fast unit tests that cover it, so that a run stays
tractable on two cores: one worker, run under ``nice``. mutmut's configuration lives in ``setup.cfg`` of a scratch
folder per module (``.mutate/<name>/``, ignored by git) that links the worktree's sources and tests; mutmut copies
them into ``.mutate/<name>/mutants/`` and never touches the worktree.

    python scripts/mutate.py                 # every module, then the score table
    python scripts/mutate.py helix-bounds    # one module (names below)
    python scripts/mutate.py --table         # the table of the last runs only

The table (module, mutants, killed, survived, score) is what docs/testing.md records; surviving mutants are listed
by ``mutmut results`` in the module's scratch folder (``cd .mutate/<name> && mutmut show <mutant>``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRATCH = ROOT / ".mutate"
LINKED = ("planner", "tests", "profiles", "cluster_specs", "scripts")

#: name -> (module, the unit tests that cover it)
TARGETS: dict[str, tuple[str, list[str]]] = {
    "helix-bounds": (
        "planner/helix/bounds.py",
        [
            "tests/unit/helix/test_bounds.py",
            "tests/unit/helix/test_bounds_hops.py",
            "tests/unit/helix/test_bound_certificate.py",
            "tests/unit/helix/test_bounds_exact.py",
            "tests/unit/helix/test_bounds_edges.py",
        ],
    ),
    "helix-verify": (
        "planner/helix/verify.py",
        [
            "tests/unit/helix/test_verify.py",
            "tests/unit/helix/test_bound_certificate.py",
            "tests/unit/helix/test_verify_certificates.py",
            "tests/unit/helix/test_verify_limits.py",
        ],
    ),
    "splitwise-verify": (
        "planner/splitwise/verify.py",
        [
            "tests/unit/splitwise/test_golden_content.py",
            "tests/unit/splitwise/test_verify.py",
            "tests/unit/splitwise/test_verify_edges.py",
        ],
    ),
    "dynamo-verify": (
        "planner/dynamo/verify.py",
        [
            "tests/unit/dynamo/test_verify.py",
            "tests/unit/dynamo/test_verify_limits.py",
            "tests/unit/dynamo/test_verify_paths.py",
        ],
    ),
    "plan-writer": (
        "planner/plan.py",
        ["tests/unit/test_plan.py", "tests/unit/test_plan_writer.py", "tests/unit/test_plan_writer_edges.py"],
    ),
    "diff-guardrails": (
        "planner/diff/guardrails.py",
        ["tests/unit/test_diff_guardrails.py", "tests/unit/test_diff_guardrails_limits.py"],
    ),
}


def _setup(name: str) -> Path:
    module, tests = TARGETS[name]
    work = SCRATCH / name
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    for entry in LINKED:
        (work / entry).symlink_to(ROOT / entry, target_is_directory=True)
    # pytest's configuration (markers, strict options) without anything mutmut would read instead of setup.cfg
    shutil.copy(ROOT / "pyproject.toml", work / "pyproject.toml")
    selected = [t for t in tests if (ROOT / t).exists()]
    lines = [
        "[mutmut]",
        "source_paths = planner",
        f"only_mutate = {module}",
        "also_copy =",
        *(f"    {e}" for e in LINKED[2:]),
        "pytest_add_cli_args_test_selection =",
        *(f"    {t}" for t in selected),
        "pytest_add_cli_args =",
        "    -p",
        "    no:cacheprovider",
        "    -q",
        "",
    ]
    (work / "setup.cfg").write_text("\n".join(lines))
    return work


def _run(name: str) -> None:
    work = _setup(name)
    env = {**os.environ, "MPLBACKEND": "Agg"}
    mutmut = str(Path(sys.executable).with_name("mutmut"))
    subprocess.run(["nice", "-n", "10", mutmut, "run", "--max-children", "1"], cwd=work, env=env, check=False)


def _counts(name: str) -> dict[str, int] | None:
    """Status -> count of the module's mutants, from mutmut's per-file metadata and its own exit-code mapping."""
    from mutmut.stats import status_by_exit_code

    module = TARGETS[name][0]
    meta = SCRATCH / name / "mutants" / (module + ".meta")
    if not meta.exists():
        return None
    data = json.loads(meta.read_text())
    out: dict[str, int] = {}
    for code in data.get("exit_code_by_key", {}).values():
        status = status_by_exit_code[code]
        out[status] = out.get(status, 0) + 1
    return out


def table(names: list[str]) -> str:
    """Score = killed / checked; a mutant no selected test reaches ("no tests") counts as surviving."""
    rows = [
        "| module | mutants | checked | killed | survived | no tests | score |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in names:
        counts = _counts(name)
        if counts is None:
            rows.append(f"| `{TARGETS[name][0]}` | not run | | | | | |")
            continue
        total = sum(counts.values())
        checked = total - counts.get("not checked", 0)
        killed = counts.get("killed", 0) + counts.get("timeout", 0) + counts.get("caught by type check", 0)
        survived, untested = counts.get("survived", 0), counts.get("no tests", 0)
        score = f"{killed / checked:.1%}" if checked else "-"
        rows.append(f"| `{TARGETS[name][0]}` | {total} | {checked} | {killed} | {survived} | {untested} | {score} |")
    return "\n".join(rows)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*", help=f"modules to mutate (default: all): {', '.join(TARGETS)}")
    p.add_argument("--table", action="store_true", help="only print the table of the last runs")
    a = p.parse_args(argv)
    names = a.names or list(TARGETS)
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        p.error(f"unknown module {', '.join(unknown)} (known: {', '.join(TARGETS)})")
    if not a.table:
        for name in names:
            _run(name)
    sys.stdout.write(table(names) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
