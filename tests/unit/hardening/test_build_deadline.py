"""Root cause 2 of issue 18 (time side): ``--time-limit`` is the wall clock of the whole command, instance building
included. On a thousand nodes the link table, the bounds and the baselines' max flows took minutes before the MILP's
own limit applied; now every loop of instance construction polls the command's deadline and ``cancel`` hook.

No test here times anything: the deadlines are already past (``started_at`` in the past) or the cancel hook is set,
so what is asserted is the status, the exit code and the message.
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from planner.cli import app
from planner.errors import SolverFailure, TimeLimitReached
from planner.helix import solve as helix_solve
from planner.helix.instance import build_instance
from planner.helix.solve import HelixOptions, solve
from planner.solver import SolveOptions, Status, checkpoint, stop_scope
from planner.spec.loader import load_spec
from planner.spec.sections.helix import HelixSection

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "scripts"))
from helix_generate_cluster import generate_spec  # noqa: E402

#: Options whose whole-command deadline passed ten seconds ago.
EXPIRED = HelixOptions(time_limit_s=1.0, started_at=time.monotonic() - 11.0, milp=False)


@pytest.fixture(scope="module")
def big_spec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gen") / "gen300.yaml"
    path.write_text(generate_spec(300, types=7, regions=3, seed=0))
    return path


@pytest.fixture(scope="module")
def big(big_spec: Path, profile_db):
    loaded = load_spec(big_spec, profile_db)
    return loaded, build_instance(loaded, profile_db, loaded.spec.helix or HelixSection())


def test_checkpoint_is_a_no_op_outside_a_solve() -> None:
    checkpoint("anything")  # no scope: bounds and tables used by tests and the simulator never stop


def test_checkpoint_raises_past_the_deadline_naming_the_stage_and_the_limit() -> None:
    with stop_scope(EXPIRED), pytest.raises(TimeLimitReached) as exc:
        checkpoint("doing the thing")
    assert isinstance(exc.value, SolverFailure) and exc.value.exit_code == 1
    assert str(exc.value) == (
        "time limit reached while doing the thing, before any plan existed (--time-limit 1 s counts the whole command)"
    )


def test_checkpoint_honours_an_enclosing_deadline_and_names_the_commands_limit() -> None:
    inner = SolveOptions(time_limit_s=600.0, started_at=time.monotonic())
    with stop_scope(EXPIRED), stop_scope(inner), pytest.raises(TimeLimitReached, match="--time-limit 1 s"):
        checkpoint("a sub-solve")
    with stop_scope(inner):
        checkpoint("a sub-solve with time left")  # does not raise


def test_cancel_hook_stops_like_ctrl_c() -> None:
    opts = SolveOptions(time_limit_s=600.0, started_at=time.monotonic(), cancel=lambda: True)
    with stop_scope(opts), pytest.raises(KeyboardInterrupt):
        checkpoint("building")


def test_building_a_large_instance_stops_at_the_deadline(big_spec: Path, profile_db) -> None:
    loaded = load_spec(big_spec, profile_db)
    with stop_scope(EXPIRED), pytest.raises(TimeLimitReached, match=r"while building the Helix instance \(node"):
        build_instance(loaded, profile_db, loaded.spec.helix or HelixSection())


def test_cancel_stops_instance_building(big_spec: Path, profile_db) -> None:
    loaded = load_spec(big_spec, profile_db)
    opts = SolveOptions(time_limit_s=600.0, started_at=time.monotonic(), cancel=lambda: True)
    with stop_scope(opts), pytest.raises(KeyboardInterrupt):
        build_instance(loaded, profile_db, loaded.spec.helix or HelixSection())


def test_solve_with_no_plan_yet_stops_in_the_baselines(big) -> None:
    _, inst = big
    with pytest.raises(TimeLimitReached, match="before any plan existed"):
        solve(inst, EXPIRED)


def test_the_whole_commands_deadline_governs_the_first_plan(big) -> None:
    """The served search's first run gets a share of the time; building its first plan uses the command's."""
    _, inst = big
    share = replace(EXPIRED, started_at=time.monotonic(), time_limit_s=600.0)
    with pytest.raises(TimeLimitReached):
        solve(inst, share, building=EXPIRED)


def test_a_plan_found_before_the_deadline_is_kept_with_status_time_limit(big, monkeypatch) -> None:
    """The limit striking after the first candidate (here in the single-pipeline search) returns that candidate."""
    _, inst = big

    def late(*_a: object, **_k: object) -> None:
        raise TimeLimitReached("searching a single pipeline", 1.0)

    monkeypatch.setattr(helix_solve, "single_pipeline", late)
    opts = HelixOptions(time_limit_s=600.0, milp=False)
    res = solve(inst, opts)
    assert res.report.status == Status.time_limit
    assert res.flow.value > 0 and res.report.objective == pytest.approx(res.flow.value)
    assert "searching a single pipeline stopped at the time limit" in res.notes


def test_cli_large_cluster_with_a_spent_time_limit(runner, big_spec: Path, tmp_path: Path) -> None:
    """``plan helix`` on 300 nodes with a limit already spent by loading: exit 1, one line, no plan written."""
    out = tmp_path / "plan.json"
    res = runner.invoke(app, ["helix", str(big_spec), "--time-limit", "0.001", "-q", "--out", str(out)])
    assert res.exit_code == 1, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1, res.output
    assert "time limit reached while building the Helix instance" in lines[0]
    assert "before any plan existed (--time-limit 0.001 s counts the whole command)" in lines[0]
    assert not out.exists()
