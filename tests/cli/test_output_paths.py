"""Root cause 5 of issue 18: output paths never destroy an input or a non-regular file (exit 2 before any work),
the plan is written before plots, a write failure is one line with exit 1 and the old target intact, and written
files honour the umask."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from planner.cli import app

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "cluster_specs" / "helix-10node-llama30b.yaml"
PLAN = ROOT / "tests" / "fixtures" / "helix_plans"


def _digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    text = SPEC.read_text().replace("../profiles/", f"{ROOT}/profiles/")
    p = tmp_path / "spec.yaml"
    p.write_text(text)
    return p


@pytest.fixture
def plan_file(tmp_path: Path, runner, spec: Path) -> Path:
    out = tmp_path / "plan.json"
    res = runner.invoke(  # the files written, not the search: a short one
        app, ["helix", str(spec), "--out", str(out), "-q", "--search-evaluations", "10", "-f", "json"]
    )
    assert res.exit_code == 0, res.output
    return out


def _one_line_exit(res, code: int, text: str) -> None:
    assert res.exit_code == code, res.output
    assert text in res.output
    assert "Traceback" not in res.output


def test_out_naming_the_spec_is_refused(runner, spec: Path) -> None:
    before = _digest(spec)
    res = runner.invoke(app, ["helix", str(spec), "--out", str(spec), "-q"])
    _one_line_exit(res, 2, "is an input of this command; refusing to overwrite it")
    assert _digest(spec) == before


@pytest.mark.parametrize("via", ["nosuch/..", "a/b/../.."])
def test_out_through_a_missing_folder_back_to_the_spec_is_refused(runner, spec: Path, tmp_path: Path, via: str) -> None:
    """``new/../spec.yaml`` names no file until the write creates ``new/``, then lands on the spec: refused before
    any folder is made."""
    before = _digest(spec)
    target = f"{tmp_path}/{via}/{spec.name}"
    res = runner.invoke(app, ["helix", str(spec), "--out", target, "-q"])
    _one_line_exit(res, 2, "is an input of this command; refusing to overwrite it")
    assert _digest(spec) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [spec.name]


def test_out_through_a_hard_link_to_the_spec_is_refused(runner, spec: Path, tmp_path: Path) -> None:
    link = tmp_path / "link.json"
    os.link(spec, link)
    res = runner.invoke(app, ["helix", str(spec), "--out", str(link), "-q"])
    _one_line_exit(res, 2, "is an input of this command")


@pytest.mark.parametrize("target", ["/dev/null", "DIR"])
def test_out_naming_a_device_or_a_directory_is_refused(runner, spec: Path, tmp_path: Path, target: str) -> None:
    path = str(tmp_path) if target == "DIR" else target
    res = runner.invoke(app, ["helix", str(spec), "--out", path, "-q"])
    assert res.exit_code == 2, res.output
    assert "refusing to replace it" in res.output or "is a directory; give a file path" in res.output
    if target == "/dev/null":
        assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_plot_must_be_png_and_plan_is_written_first(runner, spec: Path, tmp_path: Path) -> None:
    out = tmp_path / "p.json"
    res = runner.invoke(app, ["helix", str(spec), "--out", str(out), "--plot", str(tmp_path / "x.yaml"), "-q"])
    _one_line_exit(res, 2, "--plot")
    assert "give a path ending in .png" in res.output
    assert not out.exists()  # refused before any work
    res = runner.invoke(
        app,
        ["helix", str(spec), "--out", str(out), "--plot", "/proc/llmplan-x.png", "-q", "--search-evaluations", "10"],
    )
    _one_line_exit(res, 1, "error: cannot write --plot /proc/llmplan-x.png")
    assert out.is_file()  # the plan was written before the failing plot


def test_write_failure_is_one_line_exit_1_and_keeps_the_old_target(runner, spec: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["helix", str(spec), "--out", "/proc/llmplan.json", "-q", "--search-evaluations", "10"])
    _one_line_exit(res, 1, "error: cannot write --out /proc/llmplan.json")
    res = runner.invoke(app, ["helix", str(spec), "--emit-baselines", str(spec), "-q"])
    _one_line_exit(res, 2, "--emit-baselines")
    assert "is not a directory" in res.output


def test_simulate_and_diff_refuse_to_overwrite_their_plans(runner, plan_file: Path) -> None:
    before = _digest(plan_file)
    res = runner.invoke(app, ["simulate", str(plan_file), "--out", str(plan_file), "--duration", "5s", "-q"])
    _one_line_exit(res, 2, "is an input of this command")
    res = runner.invoke(app, ["diff", str(plan_file), str(plan_file), "--out", str(plan_file)])
    _one_line_exit(res, 2, "is an input of this command")
    assert _digest(plan_file) == before


def test_two_outputs_naming_one_file(runner, spec: Path, tmp_path: Path) -> None:
    same = tmp_path / "same.png"
    res = runner.invoke(app, ["helix", str(spec), "--out", str(same), "--plot", str(same), "-q"])
    _one_line_exit(res, 2, "also named by --out")


def test_outputs_inside_the_profiles_folder_are_refused(runner, spec: Path, tmp_path: Path) -> None:
    prof = tmp_path / "prof"
    prof.mkdir()
    res = runner.invoke(app, ["helix", str(spec), "--profiles", str(prof), "--out", str(prof / "gpus.yaml"), "-q"])
    _one_line_exit(res, 2, "is inside the input folder")


def test_plan_files_honour_the_umask(runner, spec: Path, tmp_path: Path) -> None:
    out = tmp_path / "p.json"
    old = os.umask(0o027)
    try:
        res = runner.invoke(
            app, ["helix", str(spec), "--out", str(out), "-q", "--search-evaluations", "10", "-f", "json"]
        )
    finally:
        os.umask(old)
    assert res.exit_code == 0, res.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o640


def test_init_out_refuses_a_directory(runner, tmp_path: Path) -> None:
    res = runner.invoke(app, ["init", "--out", str(tmp_path), "--force"])
    _one_line_exit(res, 2, "is a directory; give a file path")


def test_save_plans_must_be_a_directory(runner, tmp_path: Path, spec: Path) -> None:
    target = tmp_path / "file"
    target.write_text("keep")
    res = runner.invoke(app, ["diff", "--base-ref", "HEAD", str(spec), "--save-plans", str(target)])
    _one_line_exit(res, 2, "--save-plans")
    assert target.read_text() == "keep"


def test_atomic_write_keeps_the_old_file(tmp_path: Path, monkeypatch) -> None:
    from planner import plan as plan_mod

    target = tmp_path / "t.json"
    target.write_text("old")

    def boom(src, dst):  # the rename never happens, as after a full disk
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(plan_mod.os, "replace", boom)
    with pytest.raises(OSError):
        plan_mod.write_json_atomic("new", target)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.json"]
