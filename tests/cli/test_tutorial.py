"""docs/tutorial.md cannot drift: every `$ command` in its console blocks runs, and the lines shown must appear.

Block grammar: a line starting with ``$ `` is a command (run with bash in one scratch folder, in order, with
``plan`` on PATH); the lines after it are expected output, each found in order in stdout+stderr (a line starting
with ``...`` matches anything, and ``...text`` means "a line ending with text"); ``(exit N)`` states the exit code
(0 otherwise).
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TUTORIAL = ROOT / "docs" / "tutorial.md"


@dataclass
class Step:
    command: str
    expected: list[str] = field(default_factory=list)
    exit_code: int = 0


def parse(text: str) -> list[Step]:
    steps: list[Step] = []
    for block in re.findall(r"```console\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            if line.startswith("$ "):
                steps.append(Step(line[2:]))
            elif (m := re.fullmatch(r"\(exit (\d+)\)", line.strip())) is not None:
                steps[-1].exit_code = int(m[1])
            elif line.strip() and line.strip() != "...":
                steps[-1].expected.append(line)
    return steps


def _norm(s: str) -> str:
    return " ".join(s.split())


def check_output(step: Step, output: str) -> None:
    lines = [_norm(x) for x in output.splitlines()]
    pos = 0
    for want in step.expected:
        suffix = want.startswith("...")
        target = _norm(want[3:] if suffix else want)
        for i in range(pos, len(lines)):
            if lines[i].endswith(target) if suffix else target in lines[i]:
                pos = i + 1
                break
        else:
            raise AssertionError(
                f"`{step.command}`: expected line not found in order: {want!r}\n--- output ---\n{output}"
            )


def test_tutorial_parses() -> None:
    steps = parse(TUTORIAL.read_text())
    assert len(steps) >= 10
    assert any(s.command.startswith("plan diff --base-ref") for s in steps)


def test_tutorial_runs_as_written(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "plan"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m planner "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    work = tmp_path / "work"
    work.mkdir()
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "COLUMNS": "120",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
        "GIT_CONFIG_GLOBAL": "/dev/null",
    }
    for step in parse(TUTORIAL.read_text()):
        res = subprocess.run(
            ["bash", "-c", step.command],
            cwd=work,
            env={**env, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
            timeout=300,
        )
        output = res.stdout  # stdout and stderr interleaved as a terminal shows them
        assert res.returncode == step.exit_code, f"`{step.command}` exited {res.returncode}\n{output}"
        check_output(step, output)


@pytest.mark.parametrize(("want", "ok"), [(["a b", "...d"], True), (["c", "a"], False), (["...zz"], False)])
def test_matcher(want: list[str], ok: bool) -> None:
    step = Step("x", want)
    if ok:
        check_output(step, "a  b\nc\nxd\n")
    else:
        with pytest.raises(AssertionError):
            check_output(step, "a  b\nc\nxd\n")
