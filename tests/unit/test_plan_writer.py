"""The plan writer (planner.plan) at its edges: canonical values, JSON text, atomic writes with the umask's mode,
and the reader's one-line refusals (issue 17, mutation testing of the modules that decide correctness)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from planner.errors import SpecError
from planner.plan import (
    FORMAT_VERSION,
    canonical,
    current_umask,
    plan_json,
    plan_to_dict,
    read_plan,
    write_atomic,
    write_json_atomic,
    write_plan,
)
from tests.unit.test_plan import sample_plan


def test_canonical_values() -> None:
    assert canonical(True) is True and canonical(False) is False  # a bool is not rounded as a number
    assert canonical(None) is None and canonical(7) == 7 and canonical("x") == "x"
    assert canonical(1 / 3) == 0.3333333333  # ten significant digits
    assert canonical(123456789012.5) == 123456789000.0
    assert canonical(float("nan")) is None and canonical(float("inf")) is None and canonical(-float("inf")) is None
    zero = canonical(-0.0)
    assert zero == 0.0 and str(zero) == "0.0"  # no "-0.0" in a plan
    assert canonical({1: (0.1 + 0.2, [2 / 3])}) == {"1": [0.3, [0.6666666667]]}
    assert canonical(np.float64(2 / 3)) == 0.6666666667 and type(canonical(np.int64(3))) is int
    with pytest.raises(TypeError, match=r"^cannot serialise set in a plan$"):
        canonical({1, 2})


def test_plan_json_text() -> None:
    plan = sample_plan(name="naïve")
    text = plan_json(plan)
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert '"name": "naïve"' in text  # UTF-8, not \u escapes
    assert text.splitlines()[1].startswith('  "')  # two-space indent
    keys = list(json.loads(text))
    assert keys == sorted(keys)
    assert json.loads(text) == plan_to_dict(plan)
    assert plan_to_dict(plan)["solver"]["objective"] == 1289.55577  # ten significant digits


def test_current_umask_reads_without_changing_it() -> None:
    old = os.umask(0o027)
    try:
        assert current_umask() == 0o027
        assert current_umask() == 0o027  # still the same after reading
    finally:
        os.umask(old)


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_honour_the_umask(tmp_path: Path, mask: int, mode: int) -> None:
    old = os.umask(mask)
    try:
        target = tmp_path / "deep" / "er" / "plan.json"
        write_plan(sample_plan(), target)
    finally:
        os.umask(old)
    assert target.stat().st_mode & 0o777 == mode
    assert target.read_text(encoding="utf-8") == plan_json(sample_plan())


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "plan.json"
    write_json_atomic("old\n", target)

    def broken(fh: object) -> None:
        fh.write(b"half")  # type: ignore[attr-defined]
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, broken)
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]

    def interrupted(fh: object) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, interrupted)
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"] and target.read_text() == "old\n"
    write_json_atomic("new ✓\n", target)
    assert target.read_bytes() == "new ✓\n".encode()


def _write(tmp_path: Path, data: object) -> Path:
    p = tmp_path / "p.json"
    p.write_text(json.dumps(data))
    return p


def test_reader_refuses_what_is_not_a_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for data in ([1], {"kind": "helix"}, {"format_version": FORMAT_VERSION}):
        with pytest.raises(SpecError) as exc:
            read_plan(_write(tmp_path, data))
        assert exc.value.lines() == ["p.json: <root>: not a plan JSON (needs format_version and kind)"]
    data = json.loads(plan_json(sample_plan()))
    data["format_version"] = "0.9.0"
    with pytest.raises(SpecError) as exc:
        read_plan(_write(tmp_path, data))
    assert exc.value.lines() == [f"p.json: format_version: unsupported major version 0.9.0 (reader: {FORMAT_VERSION})"]


def test_reader_names_the_kind_it_needs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    p = _write(tmp_path, json.loads(plan_json(sample_plan())))
    assert read_plan(p, expected_kind="helix").kind == "helix"
    with pytest.raises(SpecError) as exc:
        read_plan(p, expected_kind="dynamo", reader="plan simulate --x")
    assert exc.value.lines() == ["p.json: kind: plan simulate --x needs a dynamo plan, got kind 'helix'"]


def test_reader_locates_the_first_bad_field_and_counts_the_others(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    data = json.loads(plan_json(sample_plan()))
    data["plan"]["layers"] = "many"
    with pytest.raises(SpecError) as exc:
        read_plan(_write(tmp_path, data))
    (line,) = exc.value.lines()
    assert line.startswith("p.json: plan.layers: invalid plan document: ")
    assert "more problem" not in line
    data["plan"]["nodes"][0]["layer_end"] = "x"
    with pytest.raises(SpecError) as exc:
        read_plan(_write(tmp_path, data))
    assert exc.value.lines()[0].endswith(" (and 1 more problem)")
    data["plan"]["nodes"][0]["layer_start"] = "y"
    with pytest.raises(SpecError) as exc:
        read_plan(_write(tmp_path, data))
    assert exc.value.lines()[0].endswith(" (and 2 more problems)")
    data = json.loads(plan_json(sample_plan()))
    data["solver"]["status"] = "great"
    with pytest.raises(SpecError) as exc:
        read_plan(_write(tmp_path, data))
    assert exc.value.lines()[0].startswith("p.json: solver.status: invalid plan document: ")


def test_run_info_records_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    import platform
    import re
    from importlib import metadata

    from planner import __version__
    from planner import plan as plan_mod

    real = metadata.version

    def version(dist: str) -> str:
        if dist in ("ortools", "llmplan"):
            raise metadata.PackageNotFoundError(dist)
        return real(dist)

    monkeypatch.setattr(plan_mod.metadata, "version", version)
    info = plan_mod.run_info(1.23456)
    assert info.wall_s == 1.235
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", info.started_at)
    assert (info.host, info.python) == (platform.node(), platform.python_version())
    assert list(info.versions) == ["llmplan", "ortools", "networkx", "pandas", "pydantic", "numpy"]
    assert info.versions["ortools"] == "absent"
    assert info.versions["llmplan"] == __version__  # not installed as a distribution: the package's own version
    assert info.versions["pydantic"] == real("pydantic")


def test_solver_block_from_report() -> None:
    from planner.plan import SolverBlock
    from planner.solver import SolveReport, Status

    report = SolveReport("cpsat", Status.time_limit, objective=90.0, best_bound=100.0, message="stopped", wall_s=3.0)
    block = SolverBlock.from_report(report)
    assert block.model_dump() == {
        "backend": "cpsat",
        "status": "time_limit",
        "objective": 90.0,
        "best_bound": 100.0,
        "gap": pytest.approx(10.0 / 90.0),
        "message": "stopped",
    }
