"""Benchmarks of issue 15 (``make bench``): sweep speed-up with 2 local workers, Ray overhead, resume time.

The machine is shared with other work, so neither a speed-up nor a wall time means much alone; each is asserted
against a reference measured in the same run (docs/sweep.md, registry tests/bench/figures.py):

* speed-up: two busy loops on the same 2-worker pool (nothing shared, no llmplan) measure what a second worker can
  gain right now; the sweep's speed-up must be at least 0.9x that (issue 15's 1.8x on an idle machine, where two busy
  loops gain 2x; documented: 2.04x against 1.93x);
* the resumed sweep with nothing to do: at most 3x the documented 1.49 s, as a ratio to the reference workload
  (tests/bench/reference.py), and within the 5 s target likewise (5 s on the machine where the reference takes 2 s);
* Ray: per-point overhead under 100 ms (run by ``make test-ray`` machines with the optional extra).
"""

from __future__ import annotations

import os
import resource
import sys
import time
from pathlib import Path

import pytest

from planner.cli.sweep import check_option, run_point
from planner.executors import LocalExecutor
from planner.sweep.run import run_sweep
from planner.sweep.schema import load_sweep
from tests.bench.figures import FIGURES, limit_x
from tests.bench.reference import check_time, reference, run_child

pytestmark = pytest.mark.bench

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "cluster_specs" / "splitwise-bloom176b-coding.yaml"
DEFAULTS = {"workers": 1}


def sweep_file(tmp: Path, rates: str, seeds: str) -> Path:
    path = tmp / "sweep.yaml"
    path.write_text(
        f"spec: {SPEC}\nsolver: splitwise\noptions: {{duration: 5s}}\naxes:\n"
        f"  - set: workload.rate_rps\n    range: {rates}\n"
        "  - option: designs\n    values: [baseline-a100, baseline-h100, AA, HH, HA]\n"
        f"  - set: workload.seed\n    values: {seeds}\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def two_hundred(tmp_path_factory) -> Path:
    """20 rates x 5 designs x 2 seeds = 200 Splitwise points (5 s traces)."""
    return sweep_file(tmp_path_factory.mktemp("sweep200"), "{start: 5, stop: 100, step: 5}", "[0, 1]")


@pytest.fixture(scope="module")
def resumed_dir(two_hundred: Path, tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("out200")


def _cpu_s() -> float:
    """CPU seconds of this process and its reaped children (the pool's workers, once it is shut down)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _spin(n: int) -> int:
    """Pure CPU work, nothing shared: what two workers can gain at most on this machine right now."""
    acc = 0
    for i in range(n):
        acc = (acc * 31 + i) % 1_000_003
    return acc


def machine_speedup(units: int = 8, n: int = 3_000_000) -> float:
    """Wall time of ``units`` busy loops in this process over the same loops on 2 pool workers.

    On an idle 2-core machine this is close to 2; while other sessions keep the cores busy it shows how much of a
    second core a second worker gets (the kernel shares CPU between sessions, so it may be little).
    """
    start = time.perf_counter()
    for _ in range(units):
        _spin(n)
    one = time.perf_counter() - start
    with LocalExecutor(2) as pool:
        pool.start(_spin)
        start = time.perf_counter()
        list(pool.imap_unordered(_spin, [n] * units))
        two = time.perf_counter() - start
    return one / two


def test_two_local_workers_at_least_1_8x_faster_than_one(two_hundred: Path, resumed_dir: Path, tmp_path) -> None:
    sweep = load_sweep(two_hundred, check_option)
    assert sweep.count() == 200
    before, load_before = machine_speedup(), os.getloadavg()[0]
    walls: list[float] = []
    cpu, start = _cpu_s(), time.perf_counter()
    one = run_sweep(
        sweep,
        tmp_path / "one",
        LocalExecutor(1),
        run_point,
        defaults=DEFAULTS,
        on_result=lambda outcome, *_: walls.append(outcome.wall_s),
    )
    t1, c1 = time.perf_counter() - start, _cpu_s() - cpu
    cpu, start = _cpu_s(), time.perf_counter()
    with LocalExecutor(2) as pool:
        two = run_sweep(sweep, resumed_dir, pool, run_point, defaults=DEFAULTS)
    t2, c2 = time.perf_counter() - start, _cpu_s() - cpu
    after, load_after = machine_speedup(), os.getloadavg()[0]
    assert one.ran == two.ran == 200
    assert one.table.equals(two.table)
    print(
        f"\n200-point splitwise sweep: 1 worker {t1:.1f} s ({c1:.1f} s CPU), 2 workers {t2:.1f} s ({c2:.1f} s CPU): "
        f"speed-up {t1 / t2:.2f}x; longest point {max(walls):.2f} s\n"
        f"two busy loops on 2 workers vs 1 right now: {before:.2f}x before, {after:.2f}x after "
        f"(load average {load_before:.1f} -> {load_after:.1f})"
    )
    machine = min(before, after)
    print(
        f"sweep speed-up {t1 / t2:.2f}x = {t1 / t2 / machine:.2f} x the busy loops' {machine:.2f}x (limit 0.9 x; "
        "documented 2.04x against 1.93x)"
    )
    # the target's 1.8x where two busy loops gain 2x (0.9), or the documented 2.04x against 1.93x if lower (1.06)
    share = min(FIGURES["sweep.target"].value / 2.0, FIGURES["sweep.speedup"].value / FIGURES["sweep.busy_loops"].value)
    assert t1 / t2 >= share * min(machine, 2.0), f"speed-up {t1 / t2:.2f}x, two busy loops got {machine:.2f}x"


def test_resumed_sweep_with_nothing_to_do_under_5s(two_hundred: Path, resumed_dir: Path) -> None:
    if not (resumed_dir / "results.parquet").is_file():
        pytest.fail("needs the 200-point sweep of the previous test")
    ref = reference()
    done = run_child([sys.executable, "-m", "planner", "sweep", str(two_hundred), "--out", str(resumed_dir), "--quiet"])
    wall = done.wall_s
    assert done.returncode == 0, done.stderr
    start = time.perf_counter()
    again = run_sweep(
        load_sweep(two_hundred, check_option), resumed_dir, LocalExecutor(2), run_point, defaults=DEFAULTS
    )
    inner = time.perf_counter() - start
    assert (again.cached, again.ran) == (200, 0)
    print(f"\nresumed 200-point sweep, nothing to do: `plan sweep` {wall:.2f} s (of which loading and checking the "
          f"sweep, keys, table: {inner:.2f} s)")  # fmt: skip
    check_time("resumed sweep", wall, ref, limit_x("sweep.resume_s"), 1.49)
    check_time("resumed sweep, target", wall, ref, limit_x("sweep.resume_target_s", 1.0), 5)


def test_ray_overhead_per_point_under_100ms(tmp_path: Path) -> None:
    ray = pytest.importorskip("ray", reason="the optional extra llmplan[ray] is not installed (make test-ray)")
    from planner.executors import RayExecutor

    sweep = load_sweep(sweep_file(tmp_path, "{start: 5, stop: 40, step: 5}", "[0]"), check_option)  # 40 points
    (tmp_path / "warm").mkdir()
    warm = load_sweep(sweep_file(tmp_path / "warm", "{start: 1, stop: 2, step: 1}", "[7]"), check_option)  # 10
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        start = time.perf_counter()
        run_sweep(warm, tmp_path / "warm-ray", RayExecutor(), run_point, defaults=DEFAULTS)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        on_ray = run_sweep(sweep, tmp_path / "ray", RayExecutor(), run_point, defaults=DEFAULTS)
        t_ray = time.perf_counter() - start
    finally:
        ray.shutdown()
    with LocalExecutor(2) as pool:
        pool.start(run_point)
        start = time.perf_counter()
        local = run_sweep(sweep, tmp_path / "local", pool, run_point, defaults=DEFAULTS)
        t_local = time.perf_counter() - start
    assert on_ray.table.equals(local.table)
    per_point_ms = (t_ray - t_local) / sweep.count() * 1000
    print(
        f"\n40 points on 2 CPUs: Ray {t_ray:.1f} s, local pool {t_local:.1f} s: Ray overhead {per_point_ms:.0f} ms "
        f"per point (warm workers; the first 10 points on fresh Ray workers took {cold:.1f} s)"
    )
    assert per_point_ms < 100


def test_ray_round_trip_per_point_under_100ms() -> None:
    """The executor's own cost: 200 tasks that return a plan-sized text at once, through Ray on 2 CPUs."""
    ray = pytest.importorskip("ray", reason="the optional extra llmplan[ray] is not installed (make test-ray)")
    from planner.executors import RayExecutor

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        list(RayExecutor().imap_unordered(_plan_sized, list(range(4))))  # start the workers
        start = time.perf_counter()
        results = list(RayExecutor().imap_unordered(_plan_sized, list(range(200))))
        wall = time.perf_counter() - start
    finally:
        ray.shutdown()
    assert sorted(len(r) for r in results) == [12_000] * 200
    print(f"\nRay round trip: 200 tasks returning 12 kB in {wall:.2f} s, {wall / 200 * 1000:.1f} ms per point")
    assert wall / 200 < 0.1


def _plan_sized(i: int) -> str:
    return ("x" * 11_999) + str(i % 10)
