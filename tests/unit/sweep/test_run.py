"""Running sweeps on the local executor: same plans as the single-plan command, cache, failures, Ctrl-C."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from planner.cli.sweep import check_option, run_point
from planner.executors import LocalExecutor
from planner.sweep.run import run_sweep
from planner.sweep.schema import load_sweep
from planner.sweep.task import PointOutcome, PointTask
from tests.unit.sweep.conftest import SPLITWISE_SPEC, outside_run, sweep_file

DEFAULTS = {"workers": 1}


def sweep_plans(out: Path, table: pd.DataFrame) -> dict[int, str]:
    return {int(r.point): (out / r.plan).read_text() for r in table.itertuples()}


def test_points_are_the_single_plan_command(small_sweep: Path, tmp_path: Path, runner) -> None:
    from planner.cli import app

    sweep = load_sweep(small_sweep, check_option)
    out = tmp_path / "out"
    result = run_sweep(sweep, out, LocalExecutor(1), run_point, defaults=DEFAULTS)
    assert (result.total, result.cached, result.ran, result.interrupted) == (4, 0, 4, False)
    table = pd.read_parquet(out / "results.parquet")
    assert list(table["point"]) == [0, 1, 2, 3]
    assert list(table["--objective"]) == ["cost", "machines", "cost", "machines"]
    assert set(table["status"]) == {"feasible"}
    assert table.columns[:5].tolist() == ["point", "workload.rate_rps", "--objective", "status", "objective"]
    assert {"cost_usd_h", "throughput_rps", "total_machines", "plan", "error", "key"} <= set(table.columns)
    assert pd.read_csv(out / "results.csv")["plan"].tolist() == table["plan"].tolist()

    single = tmp_path / "single.json"
    args = ["splitwise", str(SPLITWISE_SPEC), "--designs", "HH", "--duration", "5s", "--objective", "machines"]
    args += ["--workers", "1", "--set", "workload.rate_rps=4", "--out", str(single), "-q", "-f", "json"]
    assert runner.invoke(app, args).exit_code == 0
    assert outside_run((out / table.loc[3, "plan"]).read_text()) == outside_run(single.read_text())


def test_two_workers_give_the_same_plans_and_a_rerun_runs_nothing(small_sweep: Path, tmp_path: Path) -> None:
    sweep = load_sweep(small_sweep, check_option)
    one, two = tmp_path / "one", tmp_path / "two"
    t1 = run_sweep(sweep, one, LocalExecutor(1), run_point, defaults=DEFAULTS).table
    with LocalExecutor(2) as pool:
        t2 = run_sweep(sweep, two, pool, run_point, defaults=DEFAULTS).table
    p1, p2 = sweep_plans(one, t1), sweep_plans(two, t2)
    assert {k: outside_run(v) for k, v in p1.items()} == {k: outside_run(v) for k, v in p2.items()}
    pd.testing.assert_frame_equal(t1, t2)

    again = run_sweep(sweep, two, LocalExecutor(2), run_point, defaults=DEFAULTS)
    assert (again.cached, again.ran) == (4, 0)
    assert sweep_plans(two, again.table) == p2  # nothing rewritten
    pd.testing.assert_frame_equal(again.table, t2)


def test_a_changed_input_changes_the_key(small_sweep: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_sweep(load_sweep(small_sweep, check_option), out, LocalExecutor(1), run_point, defaults=DEFAULTS)
    text = small_sweep.read_text().replace("duration: 5s", "duration: 6s").replace("[2, 4]", "[2]")
    small_sweep.write_text(text)
    result = run_sweep(load_sweep(small_sweep, check_option), out, LocalExecutor(1), run_point, defaults=DEFAULTS)
    assert (result.total, result.cached, result.ran) == (2, 0, 2)


def test_failed_and_infeasible_points_are_recorded_not_fatal(tmp_path: Path) -> None:
    path = sweep_file(
        tmp_path,
        "options: {designs: HH, duration: 5s}\n"
        "axes:\n"
        "  - option: cost-target\n"
        "    values: [1, 400]\n"
        "  - set: model\n"
        "    values: [bloom-176b, no-such-model]\n",
    )
    out = tmp_path / "out"
    result = run_sweep(load_sweep(path, check_option), out, LocalExecutor(1), run_point, defaults=DEFAULTS)
    t = result.table.set_index("point")
    assert list(t["status"]) == ["infeasible", "error", "feasible", "error"]
    assert t.loc[0, "error"].startswith("infeasible: ")
    assert isinstance(t.loc[0, "plan"], str) and (out / t.loc[0, "plan"]).is_file()  # infeasible plans are kept
    assert "unknown model 'no-such-model'" in t.loc[1, "error"] and pd.isna(t.loc[1, "plan"])
    assert t.loc[2, "throughput_rps"] > 0
    rerun = run_sweep(load_sweep(path, check_option), out, LocalExecutor(1), run_point, defaults=DEFAULTS)
    assert (rerun.cached, rerun.ran) == (4, 0)  # deterministic failures are cached too


_calls: list[int] = []


def interrupt_third(task: PointTask) -> PointOutcome:
    """Ctrl-C while the third point runs (in this process: LocalExecutor(1))."""
    _calls.append(task.index)
    if len(_calls) == 3:
        raise KeyboardInterrupt
    return run_point(task)


def crash_first(task: PointTask) -> PointOutcome:
    if task.index == 0:
        return PointOutcome(task.index, task.key, 1, "error", "crash: RuntimeError: boom", crashed=True)
    return run_point(task)


def test_ctrl_c_keeps_finished_points_and_a_rerun_resumes(small_sweep: Path, tmp_path: Path) -> None:
    sweep = load_sweep(small_sweep, check_option)
    out = tmp_path / "out"
    _calls.clear()
    first = run_sweep(sweep, out, LocalExecutor(1), interrupt_third, defaults=DEFAULTS)
    assert first.interrupted and first.ran == 2
    assert list(pd.read_parquet(out / "results.parquet")["point"]) == [0, 1]
    resumed = run_sweep(sweep, out, LocalExecutor(1), run_point, defaults=DEFAULTS)
    assert (resumed.cached, resumed.ran, resumed.interrupted) == (2, 2, False)


def test_crashes_are_recorded_but_retried(small_sweep: Path, tmp_path: Path) -> None:
    sweep = load_sweep(small_sweep, check_option)
    out = tmp_path / "out"
    first = run_sweep(sweep, out, LocalExecutor(1), crash_first, defaults=DEFAULTS)
    assert first.table.loc[0, "status"] == "error" and "boom" in first.table.loc[0, "error"]
    again = run_sweep(sweep, out, LocalExecutor(1), run_point, defaults=DEFAULTS)
    assert (again.cached, again.ran) == (3, 1)
    assert again.table.loc[0, "status"] == "feasible"


@pytest.mark.parametrize("jobs", [2])
def test_ctrl_c_on_the_pool_leaves_no_worker(small_sweep: Path, tmp_path: Path, jobs: int) -> None:
    import multiprocessing

    sweep = load_sweep(small_sweep, check_option)
    pool = LocalExecutor(jobs)
    results = []
    with pytest.raises(KeyboardInterrupt), pool:
        from planner.sweep.cache import Cache
        from planner.sweep.run import plan_tasks

        _, _, todo = plan_tasks(sweep, Cache(tmp_path / "out"), DEFAULTS)
        for outcome in pool.imap_unordered(run_point, todo):
            results.append(outcome)
            raise KeyboardInterrupt
    assert len(results) == 1
    assert multiprocessing.active_children() == []
