"""The served search stops at work limits, not at the wall clock: a loaded machine gives the same plan bytes.

A loaded machine is simulated by the clock: every read of ``time.monotonic`` / ``time.perf_counter`` jumps 5 s
ahead (each step of the search then seems to take seconds). Under the wall-clock shares of the earlier search that cut
sub-solves and changed the plan; under work limits only the command's deadline (the safety net) reads the clock,
and when it fires the plan says so (status ``time_limit`` and a note), which the second test forces.
No timed assertion: both tests compare plans, not durations.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from planner.cli import app

LIMIT = "10000000"
SPEC = Path(__file__).resolve().parents[2] / "cluster_specs" / "helix-10node-llama30b.yaml"


class _LoadedClock:
    """Real time plus ``step`` seconds more at every read: each step of the search seems to take seconds, as on a
    machine shared with many busy processes."""

    def __init__(self, step: float) -> None:
        self.step = step
        self.reads = 0
        self.mono, self.perf = time.monotonic, time.perf_counter

    def monotonic(self) -> float:
        self.reads += 1
        return self.mono() + self.reads * self.step

    def perf_counter(self) -> float:
        self.reads += 1
        return self.perf() + self.reads * self.step


def _plan(runner, tmp_path: Path, name: str, limit: str) -> dict:
    out = tmp_path / f"{name}.json"
    res = runner.invoke(app, ["helix", str(SPEC), "--time-limit", limit, "-f", "json", "-q", "-o", str(out)])
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    data.pop("run")  # wall time, start time, host
    return data


def test_a_loaded_clock_gives_the_same_plan_bytes(runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every clock read 5 s later than the last: the earlier search's stage layouts (10 s each) stopped after two
    checks and its grid points after a few steps; under work limits the plan is the same bytes. The time limit is
    the safety net only, far out of reach (ten million seconds)."""
    quiet = _plan(runner, tmp_path, "quiet", LIMIT)
    clock = _LoadedClock(step=5.0)
    monkeypatch.setattr(time, "monotonic", clock.monotonic)
    monkeypatch.setattr(time, "perf_counter", clock.perf_counter)
    loaded = _plan(runner, tmp_path, "loaded", LIMIT)
    monkeypatch.undo()
    assert clock.reads > 100  # the clock was read, and ran far past every share the earlier search gave a stage
    assert loaded["solver"]["status"] != "time_limit", loaded["solver"]["message"]
    assert json.dumps(loaded, sort_keys=True) == json.dumps(quiet, sort_keys=True)
    assert quiet["plan"]["served"]["search"]["not_tried_time_limit"] == 0


def test_the_safety_net_says_when_it_fired() -> None:
    """A search that starts past the command's deadline (a machine so loaded that the max-flow run took all of it)
    still returns the best plan so far, with status time_limit and a note that it depends on the machine's speed."""
    from dataclasses import replace

    from planner.helix.instance import build_instance
    from planner.helix.objective import served_search
    from planner.helix.served import served_model_for
    from planner.helix.solve import HelixOptions, solve
    from planner.runner import load_inputs
    from planner.runner.helix import reserve_section
    from planner.spec.sections.helix import HelixSection

    inputs = load_inputs(SPEC)
    section = inputs.loaded.spec.helix or HelixSection()
    inst = build_instance(inputs.loaded, inputs.profiles, section)
    opts = HelixOptions(time_limit_s=60.0, seed=0)
    first = solve(inst, opts)
    late = replace(opts, started_at=time.monotonic() - 61.0)
    search = served_search(
        lambda r: build_instance(inputs.loaded, inputs.profiles, reserve_section(section, r)),
        section.kv_reserve_fraction, late, served_model_for(inputs.loaded, inputs.profiles), first=first,
    )  # fmt: skip
    report = search.best.result.report
    assert report.status == "time_limit"
    assert "depends on the machine's speed" in report.message
    assert any("depends on the machine's speed" in n for n in search.best.result.notes)
    assert search.skipped > 0  # the grid was not run


def test_stage_layouts_stop_at_work_not_at_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The mechanism, one level down: single-24's stage-layout bisection under the 5-s-a-read clock. Timed (10 s,
    as the earlier search gave it) it stops after a check or two with a weaker layout; under work limits it returns
    the same layout as on a quiet clock."""
    from planner.helix.bounds import covering_bound
    from planner.helix.instance import build_instance
    from planner.helix.stages import best_stages
    from planner.helix.work import WorkLimits
    from planner.runner import load_inputs
    from planner.spec.sections.helix import HelixSection

    inputs = load_inputs(SPEC.with_name("helix-single24-llama2-70b.yaml"))
    inst = build_instance(inputs.loaded, inputs.profiles, inputs.loaded.spec.helix or HelixSection())
    upper = covering_bound(inst, "strict").value

    def run(work: bool) -> tuple[float, dict[str, tuple[int, int]]] | None:
        limits = WorkLimits(time.monotonic() + float(LIMIT)) if work else None
        plan = best_stages(inst, 0.0, upper, time_limit_s=10.0, max_stages=9, work=limits)
        return None if plan is None else (plan.target_tok_s, plan.ranges)

    quiet_work, quiet_timed = run(True), run(False)
    monkeypatch.setattr(time, "monotonic", _LoadedClock(5.0).monotonic)
    monkeypatch.setattr(time, "perf_counter", _LoadedClock(5.0).perf_counter)
    loaded_work, loaded_timed = run(True), run(False)
    monkeypatch.undo()
    assert quiet_work is not None and quiet_timed is not None
    assert loaded_work == quiet_work
    assert loaded_timed is None or loaded_timed[0] < quiet_timed[0]  # the clock does cut the timed bisection


def test_search_evaluations_fix_the_budget_whatever_the_time_limit(runner, tmp_path: Path) -> None:
    """The local searches' budget grows with ``--time-limit`` unless ``--search-evaluations`` sets it: with it, a
    longer safety net (what the bench gives a loaded machine) plans the same placement, and the climbs together stay
    within the budget."""
    plans = []
    for limit in ("60", "600"):
        out = tmp_path / f"limit{limit}.json"
        args = ["helix", str(SPEC), "--time-limit", limit, "--search-evaluations", "40", "-f", "json", "-q"]
        res = runner.invoke(app, [*args, "-o", str(out)])
        assert res.exit_code == 0, res.output
        plans.append(json.loads(out.read_text()))
    assert plans[0]["plan"] == plans[1]["plan"]
    assert plans[0]["metrics"] == plans[1]["metrics"]
    assert plans[0]["inputs"]["options"]["search_evaluations"] == 40
    climbs = plans[0]["plan"]["served"]["search"]["local_search"]
    assert 0 < sum(c["evaluations"] for c in climbs) <= 40
