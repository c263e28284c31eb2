"""Ctrl-C during the search: the best feasible point so far becomes the plan (status ``interrupted``).

The interrupt is simulated deterministically by making the per-point evaluator raise KeyboardInterrupt once a
given number of feasible points have come back; the worker-pool test sends a real SIGINT to the main thread.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from planner.runner.splitwise import run, verify_document
from planner.splitwise.evaluate import Evaluator, PointResult
from planner.splitwise.instance import SplitwiseOptions
from planner.splitwise.model import Point
from planner.splitwise.parallel import PointRunner

TINY = dict(duration_s=20.0, workers=1)


def interrupt_after_feasible(monkeypatch: pytest.MonkeyPatch, feasible: int) -> list[PointResult]:
    """Make ``Evaluator.evaluate`` raise KeyboardInterrupt (once) after ``feasible`` feasible results."""
    real = Evaluator.evaluate
    seen: list[PointResult] = []
    state = {"fired": False}

    def evaluate(self: Evaluator, *args: object, **kwargs: object) -> PointResult:
        if not state["fired"] and sum(r.feasible for r in seen) >= feasible:
            state["fired"] = True
            raise KeyboardInterrupt
        res = real(self, *args, **kwargs)  # type: ignore[arg-type]
        seen.append(res)
        return res

    monkeypatch.setattr(Evaluator, "evaluate", evaluate)
    return seen


def test_iso_throughput_keeps_the_first_feasible_point(db, coding, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = interrupt_after_feasible(monkeypatch, 1)
    plan = run(coding, db, SplitwiseOptions(rps=8.0, designs=["HH", "HA"], **TINY)).plan
    rep, b = plan.solver, plan.plan
    assert rep.status == "interrupted"
    assert rep.message.startswith(f"search interrupted (Ctrl-C) after {len(seen)} simulated points")
    assert "designs not searched: HA" in rep.message
    assert rep.best_bound is None  # HA was never bounded: no claim on the optimum
    (first,) = [r for r in seen if r.feasible]
    assert b["design"] == "HH" and b["rate_rps"] == 8.0
    counts = {p["role"]: p["count"] for p in b["pools"] if p["provisioned"]}
    assert counts == {"prompt": first.prompt, "token": first.token}
    assert len(b["ledger"]) == len(seen) == b["search"]["simulated_points"]
    rows = {r["design"]: r for r in b["designs"]}
    assert rows["HH"]["status"] == "interrupted" and rows["HH"]["prompt"] == first.prompt
    assert rows["HA"]["status"] == "interrupted" and rows["HA"]["note"] == "not searched (interrupted)"
    assert rows["HA"]["prompt"] is None and rows["HA"]["simulated_points"] == 0
    assert any("HA: not searched" in w for w in plan.warnings)
    # Ctrl-C promises to stop: the latency bands are not re-simulated, and the plan says so.
    assert any(w.startswith("latency bands not propagated") for w in plan.warnings)
    assert not any(k.endswith("_err_low_ratio") for k in plan.metrics)
    assert plan.metrics["ttft_p99_ms_err_ratio"] == plan.metrics["throughput_rps_err_ratio"]  # the flat band
    assert plan.metrics["cost_usd_h"] > 0 and "lower_bound_cost_usd_h" not in plan.metrics
    verify_document(plan)


def test_iso_budget_keeps_the_highest_feasible_rate(db, coding, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = interrupt_after_feasible(monkeypatch, 1)
    plan = run(coding, db, SplitwiseOptions(cost_target_usd_h=300.0, designs=["HA"], **TINY)).plan
    (first,) = [r for r in seen if r.feasible]
    assert plan.solver.status == "interrupted"
    assert plan.plan["rate_rps"] == plan.metrics["throughput_rps"] == first.rate_rps
    assert plan.solver.best_bound is not None and plan.solver.best_bound >= first.rate_rps  # HA was bounded
    assert plan.metrics["cost_usd_h"] <= 300.0
    verify_document(plan)


def test_nothing_feasible_yet_lets_the_interrupt_through(db, coding, monkeypatch: pytest.MonkeyPatch) -> None:
    interrupt_after_feasible(monkeypatch, 0)
    with pytest.raises(KeyboardInterrupt):
        run(coding, db, SplitwiseOptions(rps=8.0, designs=["HH"], **TINY))


class _Sleepy:
    """A stand-in evaluator (picklable, importable by spawned workers) whose points never finish in time; each point
    marks in ``started`` that a worker is running it."""

    def __init__(self, started: Path) -> None:
        self.started = started

    def evaluate(self, design: str, point: Point, rate: float) -> PointResult:
        (self.started / f"{os.getpid()}-{point.prompt}").touch()
        time.sleep(60)
        raise AssertionError("the worker should have been terminated")


def test_ctrl_c_terminates_the_worker_pool(tmp_path: Path) -> None:
    """A real SIGINT while the parent waits on the pool: KeyboardInterrupt at once and no worker left running.

    The signal is sent once both workers run a point (not after a fixed delay: on a loaded machine spawning the
    workers can take longer than any delay, and a signal during the pool's start-up tests something else). Python's
    own SIGINT handler is installed for the test: a test run started in the background by a non-interactive shell
    inherits SIGINT ignored, and Python then keeps it ignored (as the CLI interrupt tests do for their child)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _interrupt_a_running_pool(tmp_path)
    finally:
        signal.signal(signal.SIGINT, previous)


def _interrupt_a_running_pool(tmp_path: Path) -> None:
    runner = PointRunner(_Sleepy(tmp_path), workers=2)  # type: ignore[arg-type]
    workers = []
    executor = runner._pool  # the sweep's LocalExecutor
    terminate = executor.terminate

    def spy() -> None:  # called by run() on the interrupt, then again (a no-op) by __exit__
        if executor._pool is not None:
            workers.extend(executor._pool._processes.values())  # type: ignore[attr-defined]
        terminate()

    executor.terminate = spy  # type: ignore[method-assign]
    main = threading.main_thread().ident
    assert main is not None and threading.current_thread().ident == main
    sent: list[float] = []

    def interrupt_when_running() -> None:
        deadline = time.monotonic() + 50
        while len(list(tmp_path.iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        sent.append(time.monotonic())
        signal.pthread_kill(main, signal.SIGINT)

    timer = threading.Thread(target=interrupt_when_running)
    timer.start()
    with pytest.raises(KeyboardInterrupt), runner:
        list(runner.run([("HH", Point(1, 1), 1.0), ("HH", Point(2, 2), 1.0)]))
    timer.join()
    assert len(list(tmp_path.iterdir())) == 2  # both points were running when the signal came
    assert time.monotonic() - sent[0] < 15  # not the 60 s a point takes
    assert executor._pool is None and len(workers) == 2
    assert all(not p.is_alive() for p in workers)
