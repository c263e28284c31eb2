"""Fixtures for the splitwise unit tests: the shipped specs loaded once, and small hand-made instance types."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.profiles.db import ProfileDB
from planner.spec.loader import LoadedSpec, load_spec
from planner.spec.sections.splitwise import SplitwiseSection
from planner.splitwise.machines import Machine, resolve_machines

ROOT = Path(__file__).resolve().parents[3]
CODING = ROOT / "cluster_specs" / "splitwise-bloom176b-coding.yaml"


@pytest.fixture(scope="session")
def db() -> ProfileDB:
    return ProfileDB.load()


@pytest.fixture(scope="session")
def coding(db: ProfileDB) -> LoadedSpec:
    return load_spec(CODING, db)


@pytest.fixture(scope="session")
def machines(db: ProfileDB, coding: LoadedSpec) -> dict[str, Machine]:
    return resolve_machines(db, coding, coding.spec.splitwise or SplitwiseSection())
