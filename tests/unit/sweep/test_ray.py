"""The Ray executor (marker ``ray``, run by ``make test-ray``): same plans as the local executor, byte for byte
outside the ``run`` blocks. Ray is started in this process with 2 CPUs; the test is skipped when the optional
extra is not installed (``pip install 'llmplan[ray]'``), the only skip in the suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.sweep.conftest import outside_run

pytestmark = pytest.mark.ray

ray = pytest.importorskip("ray", reason="the optional extra llmplan[ray] is not installed (make test-ray installs it)")


@pytest.fixture(scope="module")
def ray_cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_and_local_give_the_same_plans(ray_cluster, small_sweep: Path, tmp_path: Path) -> None:
    from planner.cli.sweep import check_option, run_point
    from planner.executors import LocalExecutor, RayExecutor
    from planner.sweep.run import run_sweep
    from planner.sweep.schema import load_sweep

    sweep = load_sweep(small_sweep, check_option)
    local, remote = tmp_path / "local", tmp_path / "ray"
    t_local = run_sweep(sweep, local, LocalExecutor(2), run_point, defaults={"workers": 1}).table
    result = run_sweep(sweep, remote, RayExecutor(), run_point, defaults={"workers": 1})
    assert (result.total, result.ran, result.interrupted) == (4, 4, False)
    assert t_local.equals(result.table)
    for plan in t_local["plan"]:
        assert outside_run((local / plan).read_text()) == outside_run((remote / plan).read_text())
    again = run_sweep(sweep, remote, RayExecutor(), run_point, defaults={"workers": 1})
    assert (again.cached, again.ran) == (4, 0)
