"""Helpers for the simulator tests: the hand-made helix plans, their synthetic profile layer, small runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from planner.profiles.db import ProfileDB
from planner.sim.engine import Engine, SimConfig, SimOutcome
from planner.sim.placement import load_placement
from planner.sim.requests import Arrivals, LengthPool
from planner.sim.scheduler import KvPolicy
from planner.sim.topology import Topology, build_topology

PLANS = Path(__file__).resolve().parents[2] / "fixtures" / "helix_plans"
TINY_PROFILES = PLANS / "profiles"


def topology(db: ProfileDB, name: str, gpu_memory_utilization: float = 0.9) -> Topology:
    return build_topology(load_placement(PLANS / name), db, gpu_memory_utilization)


def pool(inputs: list[int], outputs: list[int]) -> LengthPool:
    n = len(inputs)
    return LengthPool(
        path="test",
        sha256="0" * 64,
        arrival_s=np.arange(n, dtype=float),
        input_tokens=np.array(inputs, dtype=np.int64),
        output_tokens=np.array(outputs, dtype=np.int64),
        dropped=0,
    )


def arrivals(times: list[float], inputs: list[int], outputs: list[int]) -> Arrivals:
    return Arrivals(np.array(times, dtype=float), np.array(inputs, dtype=np.int64), np.array(outputs, dtype=np.int64))


def run_online(
    topo: Topology,
    times: list[float],
    inputs: list[int],
    outputs: list[int],
    duration_s: float,
    warmup_s: float = 0.0,
    length_pool: LengthPool | None = None,
) -> tuple[Engine, SimOutcome]:
    cfg = SimConfig(duration_s=duration_s, warmup_s=warmup_s, offline=False, kv=KvPolicy.for_mode(False))
    engine = Engine(topo, cfg, length_pool or pool(inputs, outputs), arrivals(times, inputs, outputs))
    return engine, engine.run()
