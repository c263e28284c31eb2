"""The ``--pareto`` frontier below the CLI (:mod:`planner.runner.helix_pareto`): which points it keeps, the
command's time limit across all points, Ctrl-C keeping the finished ones, and the executors giving the same rows
and plans."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest

from planner.executors import ExecutorConfig
from planner.helix.instance import build_instance
from planner.helix.latency import LayerLatency, hop_counts
from planner.helix.served import served_model_for
from planner.helix.solve import HelixOptions
from planner.plan import plan_json
from planner.runner import load_inputs
from planner.runner.helix import recorded_options
from planner.runner.helix_pareto import FrontierContext, PointOutcome, _on_frontier, frontier, frontier_context
from planner.spec.sections.helix import HelixSection
from tests.unit.sweep.conftest import outside_run

ROOT = Path(__file__).resolve().parents[3]
TEN = ROOT / "cluster_specs" / "helix-10node-llama30b.yaml"


def context(objective: str = "max-flow", plans: bool = True, time_limit_s: float = 90.0) -> FrontierContext:
    """The frontier context ``plan helix TEN --pareto`` builds (no main solve: the frontier needs none)."""
    inputs = load_inputs(TEN)
    inst = build_instance(inputs.loaded, inputs.profiles, inputs.loaded.spec.helix or HelixSection())
    opts = HelixOptions(time_limit_s=time_limit_s, started_at=time.monotonic())
    lat = LayerLatency(inputs.profiles, inputs.loaded.model, inst.layer_weight_bytes)
    options = recorded_options(opts, None, None, True, objective)
    served = served_model_for(inputs.loaded, inputs.profiles)
    return frontier_context(inputs, inst, opts, options, served, lat, objective, plans)


def row(hops: int, flow: float, ms: float, served: float, p50: float, p99: float) -> dict[str, float | int]:
    return {
        "max_hops": hops,
        "throughput_tok_s": flow,
        "decode_ms_per_token_max": ms,
        "predicted_decode_tok_s": served,
        "predicted_token_latency_p50_ms": p50,
        "predicted_token_latency_p99_ms": p99,
    }


# single-24's points as measured (hops, max flow, static decode ms, served, p50, p99)
SINGLE24 = [
    row(9, 952.1, 394.2, 261.0, 474.8, 923.0),
    row(14, 1212.2, 633.5, 230.2, 525.0, 890.1),
    row(22, 1754.4, 2477.8, 204.4, 607.4, 876.7),
    row(24, 2045.6, 3376.1, 187.0, 642.3, 923.6),
]


def test_served_frontier_drops_a_point_no_better_on_any_served_figure() -> None:
    # 24 hops serves fewer tokens than 9 hops at a higher p50 and a higher p99: dominated; 14 and 22 trade
    # throughput for a lower p99
    assert [r["max_hops"] for r in _on_frontier(SINGLE24, "served")] == [9, 14, 22]


def test_max_flow_frontier_is_the_papers_throughput_against_static_latency() -> None:
    assert [r["max_hops"] for r in _on_frontier(SINGLE24, "max-flow")] == [9, 14, 22, 24]
    slower = [*SINGLE24, row(30, 2000.0, 4000.0, 300.0, 1.0, 1.0)]  # more latency, less max flow than 24 hops
    assert [r["max_hops"] for r in _on_frontier(slower, "max-flow")] == [9, 14, 22, 24]


def test_equal_points_keep_the_one_with_fewer_hops() -> None:
    same = [row(12, 100.0, 10.0, 50.0, 5.0, 9.0), row(8, 100.0, 10.0, 50.0, 5.0, 9.0)]
    assert [r["max_hops"] for r in _on_frontier(same, "served")] == [8]
    assert [r["max_hops"] for r in _on_frontier(same, "max-flow")] == [8]


def test_rows_are_in_hop_limit_order_whatever_the_figures() -> None:
    # Two served points whose predictions trade places (as a loaded machine's constructions can make them) keep
    # their order: the hop limit, an input, not a computed latency.
    a, b = row(5, 100.0, 10.0, 735.2, 221.2, 851.5), row(8, 100.0, 10.0, 745.9, 215.6, 853.1)
    swapped = [{**a, "predicted_token_latency_p50_ms": 210.0}, b]
    for rows in ([a, b], [b, a], swapped, swapped[::-1]):
        assert [r["max_hops"] for r in _on_frontier(rows, "served")] == [5, 8]
    assert [r["max_hops"] for r in _on_frontier(SINGLE24[::-1], "max-flow")] == [9, 14, 22, 24]


def test_a_point_whose_share_runs_out_before_its_first_plan_is_skipped(monkeypatch) -> None:
    import planner.runner.helix_pareto as hp
    from planner.errors import TimeLimitReached

    def out_of_time(inst, opts):
        raise TimeLimitReached("building baselines", opts.time_limit_s)

    monkeypatch.setattr(hp, "solve", out_of_time)
    ctx = context()
    front = frontier(ctx, ExecutorConfig("local", 1))  # before: the exception ended the command (a worker: a crash)
    assert front.rows == [] and not front.interrupted
    assert front.notes == [
        f"--pareto: no point with at most {h} nodes per path: time limit" for h in hop_counts(ctx.inst)
    ]


def test_no_point_starts_after_the_commands_deadline() -> None:
    ctx = replace(context(), deadline_unix=time.time() - 1.0)
    front = frontier(ctx, ExecutorConfig("local", 1))
    assert front.rows == [] and front.plans == {} and not front.interrupted
    assert front.notes == [
        f"--pareto: no point with at most {h} nodes per path: time limit" for h in hop_counts(ctx.inst)
    ]


def test_each_point_gets_at_most_what_is_left(monkeypatch) -> None:
    import planner.runner.helix_pareto as hp

    budgets: list[float] = []
    real = hp.solve

    def spy(inst, opts):
        budgets.append(opts.time_limit_s)
        assert opts.milp is False and opts.max_hops is not None
        return real(inst, opts)

    monkeypatch.setattr(hp, "solve", spy)
    ctx = replace(context(time_limit_s=400.0), deadline_unix=time.time() + 20.0)
    frontier(ctx, ExecutorConfig("local", 1))
    assert budgets and all(b <= 20.0 for b in budgets)  # an eighth of 400 s is 50 s, but only 20 s are left


def test_ctrl_c_keeps_the_points_finished_before_it(monkeypatch) -> None:
    import planner.runner.helix_pareto as hp

    ctx = context()
    hops = hop_counts(ctx.inst)
    assert len(hops) >= 2
    real = hp._point

    def first_then_interrupt(h: int) -> PointOutcome:
        if h != hops[0]:
            raise KeyboardInterrupt
        return real(h)

    monkeypatch.setattr(hp, "_point", first_then_interrupt)
    front = frontier(ctx, ExecutorConfig("local", 1))
    assert front.interrupted
    assert [r["max_hops"] for r in front.rows] == [hops[0]]
    assert front.notes[-1] == f"--pareto: interrupted (Ctrl-C) with 1 of {len(hops)} points finished"


def test_local_pool_gives_the_rows_and_plans_of_the_serial_run() -> None:
    ctx = context()
    serial = frontier(ctx, ExecutorConfig("local", 1))
    pooled = frontier(ctx, ExecutorConfig("local", 2))
    assert serial.rows == pooled.rows and len(serial.rows) >= 2
    assert sorted(serial.plans) == sorted(pooled.plans) == sorted(r["plan_file"] for r in serial.rows)
    for name, plan in serial.plans.items():
        assert outside_run(plan_json(plan)) == outside_run(plan_json(pooled.plans[name]))


@pytest.mark.ray
def test_ray_gives_the_rows_and_plans_of_the_local_pool() -> None:
    ray = pytest.importorskip("ray", reason="the optional extra llmplan[ray] is not installed (make test-ray)")
    ctx = context()
    local = frontier(ctx, ExecutorConfig("local", 2))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        remote = frontier(ctx, ExecutorConfig("ray"))
    finally:
        ray.shutdown()
    assert remote.rows == local.rows and len(local.rows) >= 2
    assert sorted(remote.plans) == sorted(local.plans)
    for name, plan in local.plans.items():
        assert outside_run(plan_json(plan)) == outside_run(plan_json(remote.plans[name]))
