"""Bad benchmark files through ``plan accuracy`` / ``plan calibrate``: one line naming the file and the field, exit 2,
never a traceback (the error contract of planner/errors.py), and contradictory figures refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from planner.cli.app import app
from tests.unit.calibrate.conftest import write_json

DESCRIBED = ["--gpu", "H100-80G", "--tp", "8", "--model", "llama2-70b"]


def _exit_2(runner: Any, path: Path, *args: str, command: str = "accuracy") -> str:
    """The one stderr line of a command refused with exit 2 (no traceback)."""
    res = runner.invoke(app, [command, str(path), *args])
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    lines = res.stderr.strip().splitlines()
    assert res.exit_code == 2 and len(lines) == 1, res.output
    assert "<root>" not in lines[0] and "np.float" not in lines[0], lines[0]
    return lines[0]


def test_non_utf8_benchmark_files_name_the_file(runner, tmp_path):
    for name in ("v.json", "s.txt", "i.csv", "r.jsonl"):
        p = tmp_path / name
        p.write_bytes(b'{"completed": 4, "x": "\xff\xfe"}\n')
        assert _exit_2(runner, p, *DESCRIBED).startswith(f"{p}:1: file: benchmark file is not UTF-8 text")


def test_unknown_extension_lists_the_accepted_formats(runner, tmp_path):
    p = tmp_path / "run.xml"
    p.write_text("<run/>")
    msg = _exit_2(runner, p, *DESCRIBED)
    assert msg.startswith(f"{p}: format: '.xml' is not a recognised benchmark format (accepted: .json")
    assert all(ext in msg for ext in (".jsonl", ".txt", ".csv")) and "invalid JSON" not in msg


def test_whole_file_problems_name_what_is_wrong_not_root(runner, tmp_path):
    p = write_json(tmp_path, "v.json", {"hello": 1})
    assert _exit_2(runner, p).startswith(f"{p}: format: unrecognised benchmark format")
    p.write_text("[1, 2]")
    assert _exit_2(runner, p) == f"{p}: format: a benchmark result must be a JSON object"
    p.write_text('{"completed": 4,\n "duration": }')
    assert _exit_2(runner, p) == f"{p}:2: line 2: invalid JSON: Expecting value"
    p.write_text("[" * 100_000 + "]" * 100_000)
    assert _exit_2(runner, p).startswith(f"{p}: file: invalid JSON: ")
