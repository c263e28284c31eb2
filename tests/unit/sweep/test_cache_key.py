"""Issue 15: the sweep cache key covers llmplan's own code, not only its version string, so an edited solver under
the same version never gets a stale plan from the cache."""

from __future__ import annotations

from pathlib import Path

import planner
from planner import __version__
from planner.cli.sweep import check_option, run_point
from planner.executors import LocalExecutor
from planner.sweep import cache as sweep_cache
from planner.sweep.cache import KeyMaker, code_digest
from planner.sweep.points import points
from planner.sweep.run import run_sweep
from planner.sweep.schema import load_sweep

DEFAULTS = {"workers": 1}


def _keys(sweep_path: Path) -> list[str]:
    sweep = load_sweep(sweep_path, check_option)
    maker = KeyMaker(sweep)
    return [maker.key(p) for p in points(sweep, DEFAULTS)]


def test_code_digest_is_the_hash_of_the_package_sources_computed_once() -> None:
    digest = code_digest()
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert code_digest() is digest  # cached for the process


def _package(root: Path, files: dict[str, str]) -> str:
    """The digest of a fake ``planner`` package made of ``files`` (written in the given order)."""
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return code_digest.__wrapped__()


def test_code_digest_follows_every_source_byte_and_only_sources(tmp_path: Path, monkeypatch) -> None:
    files = {"__init__.py": "", "helix/solve.py": "x = 1\n", "sim/run.py": "y = 2\n"}
    a, b = tmp_path / "a" / "planner", tmp_path / "b" / "planner"
    monkeypatch.setattr(planner, "__file__", str(a / "__init__.py"))
    base = _package(a, files)
    monkeypatch.setattr(planner, "__file__", str(b / "__init__.py"))
    assert _package(b, dict(reversed(files.items()))) == base  # creation order does not matter, paths are sorted
    (b / "helix" / "solve.py").write_text("x = 2\n")  # an edited solver, same version
    edited = code_digest.__wrapped__()
    assert edited != base
    (b / "helix" / "solve.py").write_text("x = 1\n")
    (b / "notes.txt").write_text("not code")
    assert code_digest.__wrapped__() == base
    (b / "helix" / "solve.py").rename(b / "helix" / "solver.py")  # same bytes under another name: other code
    assert code_digest.__wrapped__() != base


def test_a_changed_code_digest_changes_every_key(small_sweep: Path, monkeypatch) -> None:
    before = _keys(small_sweep)
    assert len(set(before)) == 4
    monkeypatch.setattr(sweep_cache, "code_digest", lambda: "0" * 64)
    after = _keys(small_sweep)
    assert sweep_cache.__version__ == __version__  # the version did not change, the code did
    assert set(after).isdisjoint(before)
    assert _keys(small_sweep) == after  # and the key is still a pure function of its inputs


def test_a_rerun_after_a_code_change_replans_every_point(small_sweep: Path, tmp_path: Path, monkeypatch) -> None:
    sweep, out = load_sweep(small_sweep, check_option), tmp_path / "out"
    first = run_sweep(sweep, out, LocalExecutor(1), run_point, defaults=DEFAULTS)
    again = run_sweep(sweep, out, LocalExecutor(1), run_point, defaults=DEFAULTS)
    assert (first.ran, again.cached, again.ran) == (4, 4, 0)
    monkeypatch.setattr(sweep_cache, "code_digest", lambda: "1" * 64)
    edited = run_sweep(sweep, out, LocalExecutor(1), run_point, defaults=DEFAULTS)
    assert (edited.cached, edited.ran) == (0, 4)
