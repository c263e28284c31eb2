"""The run orchestration (same workload for every placement) and the figure."""

from __future__ import annotations

import matplotlib.pyplot as plt

from planner.render.plots import simulation_figure
from planner.sim.plot import figure_data
from planner.sim.run import SimOptions, simulate
from tests.unit.sim.helpers import PLANS, TINY_PROFILES


def test_every_placement_sees_the_same_requests_and_the_figure_is_labelled() -> None:
    opts = SimOptions(duration_s=5.0, warmup_s=1.0, rps=4.0)
    run = simulate([PLANS / "chain2.json", PLANS / "fork.json"], opts, TINY_PROFILES)
    chain, fork = run.document.placements
    assert chain.requests.launched_requests == fork.requests.launched_requests > 0
    assert chain.decode_vs_first_ratio == 1.0
    assert fork.decode_vs_first_ratio == fork.decode_throughput_tok_s / chain.decode_throughput_tok_s
    fig = simulation_figure(figure_data(run))
    try:
        labels = [(ax.get_xlabel(), ax.get_ylabel()) for ax in fig.axes]
        assert labels == [
            ("simulated time (s)", "decode tokens/s"),
            ("arrival to first token (s)", "fraction of requests"),
            ("time between tokens (ms)", "fraction of tokens"),
        ]
        legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
        assert legend[:2] == ["chain2.json", "fork.json"]
    finally:
        plt.close(fig)


def test_a_run_too_short_for_latency_samples_draws_without_legend_warnings() -> None:
    """A 1 s run can leave the latency panels empty: the figure draws them without a legend instead of warning
    (warnings are errors in the tests; the fuzz suite found this through `plan simulate --plot`)."""
    from planner.sim.plot import PlacementSeries, Series, SimulationFigure

    empty = Series((), ())
    data = SimulationFigure(0.0, (PlacementSeries("a.json", Series((0.0, 1.0), (5.0, 6.0)), empty, empty),))
    fig = simulation_figure(data)
    try:
        assert fig.axes[0].get_legend() is not None
        assert fig.axes[1].get_legend() is None and fig.axes[2].get_legend() is None
    finally:
        plt.close(fig)


def test_an_online_window_of_few_requests_warns_that_its_p99_is_no_tail() -> None:
    """4 req/s over a 5 s window starts 12 requests in it (first token inside): fewer than 100, so the placement says
    its p99 rests on them; 10 req/s over 30 s starts 262 and the warning goes. Offline never warns."""
    from planner.sim.metrics import TAIL_MIN_REQUESTS

    few = simulate([PLANS / "chain2.json"], SimOptions(duration_s=5.0, warmup_s=1.0, rps=4.0), TINY_PROFILES)
    many = simulate([PLANS / "chain2.json"], SimOptions(duration_s=30.0, warmup_s=1.0, rps=10.0), TINY_PROFILES)
    offline = simulate([PLANS / "chain2.json"], SimOptions(duration_s=5.0, warmup_s=1.0, offline=True), TINY_PROFILES)
    (p_few,), (p_many,), (p_off,) = few.document.placements, many.document.placements, offline.document.placements
    started = p_few.prompt_latency.count
    assert 0 < started < TAIL_MIN_REQUESTS <= p_many.prompt_latency.count
    assert [w for w in p_few.warnings if "p99" in w] == [
        f"the measured window holds {started} requests (first token inside it), fewer than {TAIL_MIN_REQUESTS}: its "
        "p99 per-token latency rests on the few prompts among them; a longer --duration measures the steady state"
    ]
    assert not [w for w in p_many.warnings + p_off.warnings if "p99" in w]
