"""Shared fixtures: the shipped profile database, small specs, a CLI runner."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

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
