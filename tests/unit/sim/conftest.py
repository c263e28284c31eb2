"""Fixtures for the simulator tests."""

from __future__ import annotations

import pytest

from planner.profiles.db import ProfileDB
from tests.unit.sim.helpers import TINY_PROFILES


@pytest.fixture(scope="session")
def tiny_db() -> ProfileDB:
    """The shipped profiles with the synthetic tiny-4l model, TINY-1MB GPU and TinyGPU latency rows layered on."""
    return ProfileDB.load(TINY_PROFILES)
