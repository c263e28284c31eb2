"""Shared fixtures: the shipped profile database, small specs, a CLI runner."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
# The expected output is what a pipe gets (planner.render.console: no $COLUMNS, not a terminal: 120 columns).
# pytest-xdist's workers (make test) inherit COLUMNS=80 from their controller; drop it before planner is imported.
os.environ.pop("COLUMNS", None)

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def profile_db():
    from planner.profiles.db import ProfileDB

    return ProfileDB.load()


@pytest.fixture
def tiny_spec_path() -> Path:
    return FIXTURES / "specs" / "tiny.yaml"


@pytest.fixture
def runner():
    from typer.testing import CliRunner

    return CliRunner()


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


#: The only reason a test may skip: a documented optional extra is not installed (README "Install").
OPTIONAL_EXTRA_SKIP = "optional extra"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """Turn every skip into a failure unless it names a missing optional extra.

    A skip hides a test that cannot fail: a fixture that no solver accepts, a file that went missing, a crash caught
    as "not ready". The suite may skip only what it says it cannot run without an extra the user chose not to
    install (``pytest.importorskip(..., reason="... optional extra ...")``).
    """
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
        if OPTIONAL_EXTRA_SKIP not in reason:
            report.outcome = "failed"
            report.longrepr = f"skipped without a documented optional extra missing (not allowed): {reason}"
