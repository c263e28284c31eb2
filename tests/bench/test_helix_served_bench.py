"""Served-throughput figures and targets of issue 13 (docs/helix.md, "Targets of issue 13"), run by ``make bench``.

The default ``plan helix`` (``--objective served``, ``--time-limit 60``, 180 for the generated clusters, stretched by
the reference's CPU share as in test_helix_bench.py, at most 10x) is judged by ``plan simulate`` (the referee)
against the Petals / Swarm / separate-pipeline baselines the same run emits and (single-24) the paper's layout, on
the same workload and seed. What is asserted (registry: tests/bench/figures.py):

* the documented figures: every baseline's simulated decode tok/s exactly as quoted (0.1 tok/s: they are
  deterministic constructions); the default plan's simulated tok/s and its ratio to the best baseline at least as
  quoted (the search is work-limited, so the plan is the documented one unless the safety net fires, which the
  plan would say); wall time and peak memory as ratios to the reference workload;
* the targets met today (single-24: >= 1.2x every baseline and the paper's layout, >= 300 tok/s, planned in 60 s;
  10-node, geo-24, het-42, generated 50 and 100: >= 1.2x; the online p99 against the paper's layout; 200 nodes in
  5 min and 2 GB) as plain asserts;
* the targets not met (predictions within 10 % of the simulator on 10-node, geo-24 and het-42) as
  ``xfail(strict=True)`` tests whose reason gives the measured figure:
  meeting one fails the bench until docs/helix.md and the registry say so. Those tests assert the target only; every
  documented figure is asserted in a test that is expected to pass.

Figures measured while other work shares the 2 cores are pessimistic.
"""

from __future__ import annotations

import functools
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from planner.helix.objective import refine_budget
from tests.bench.figures import FIGURES, K_MEM, at_least, check, limit_x
from tests.bench.reference import ROOT, Child, check_memory, check_time, plan_cmd, reference, run_child, scaled_limit

SPECS = ROOT / "cluster_specs"
PAPER_SINGLE24 = ROOT / "tests" / "fixtures" / "helix_plans" / "single24" / "ilp.json"
sys.path.insert(0, str(ROOT / "scripts"))
from helix_generate_cluster import generate_spec  # noqa: E402

pytestmark = pytest.mark.bench

SHIPPED = ["helix-single24-llama2-70b", "helix-10node-llama30b", "helix-geo24-llama2-70b", "helix-het42-llama2-70b"]
BASELINES = ("petals", "swarm", "separate-pipelines")


@dataclass(frozen=True)
class Served:
    """One default ``plan helix`` run with its emitted baselines, all simulated offline."""

    plan: dict
    run: Child
    ref: Child
    ours: dict
    baselines: dict[str, dict]
    predicted: dict[str, float]

    @property
    def best(self) -> float:
        return max(b["decode_throughput_tok_s"] for b in self.baselines.values())

    @property
    def ratio(self) -> float:
        return self.ours["decode_throughput_tok_s"] / self.best


def _spec(name: str, tmp: Path) -> Path:
    if name.startswith("generated"):
        nodes = int(name.split("-")[1])
        spec = tmp / f"{name}.yaml"
        spec.write_text(generate_spec(nodes, types=7, regions=3, seed=nodes))
        return spec
    return SPECS / f"{name}.yaml"


def _node_count(spec: Path) -> int:
    """Nodes of a spec (its groups' counts): what the served search sizes its evaluation budget by."""
    return sum(int(g.get("count", 1)) for g in yaml.safe_load(spec.read_text())["nodes"])


def simulate(*plans: Path, extra: tuple[str, ...] = ("--offline",)) -> list[dict]:
    res = run_child(plan_cmd("simulate", *map(str, plans), *extra, "-q", "--format", "json"))
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)["placements"]


@functools.cache
def served(name: str, tmp: Path) -> Served:
    """Plan ``name`` once per session (the figures, the targets and the agreement cases share the run)."""
    work = tmp / name
    work.mkdir(parents=True, exist_ok=True)
    out, base = work / "plan.json", work / "baselines"
    ref = reference()
    # the documented --time-limit (60; 180 for the generated clusters, whose work does not fit 60 s on this machine),
    # stretched by the load (at most 10x): the search is work-limited, so a longer limit only keeps the safety net away
    # --search-evaluations keeps the local searches' budget of the documented limit (the budget grows with the limit),
    # so a stretched safety net changes the wall time, not the plan
    documented = 180 if name.startswith("generated") else 60
    limit = scaled_limit(documented, ref)
    spec = _spec(name, work)
    budget = refine_budget(_node_count(spec), documented)
    cmd = plan_cmd("helix", str(spec), "--out", str(out), "-q", "--format", "json", "--search-evaluations", str(budget))
    run = run_child([*cmd, "--time-limit", f"{limit:.1f}", "--emit-baselines", str(base)])
    assert run.returncode == 0, run.stderr
    files = [base / f"{b}.json" for b in BASELINES]
    results = simulate(out, *files)
    plans = {"default": out, **dict(zip(BASELINES, files, strict=True))}
    predicted = {k: json.loads(f.read_text())["metrics"]["predicted_decode_tok_s"] for k, f in plans.items()}
    got = Served(
        json.loads(out.read_text()), run, ref, results[0], dict(zip(BASELINES, results[1:], strict=True)), predicted
    )
    print(
        f"\n[served bench] {name}: default plan {got.ours['decode_throughput_tok_s']:.1f} decode tok/s simulated "
        f"(predicted {predicted['default']:.1f}); baselines "
        + ", ".join(
            f"{k} {v['decode_throughput_tok_s']:.1f} (predicted {predicted[k]:.1f})" for k, v in got.baselines.items()
        )
        + f" -> {got.ratio:.2f}x the best (target >= 1.2x); planned in {run.wall_s:.1f} s at --time-limit {limit:.1f} "
        f"({run.wall_s / ref.wall_s:.1f} x the reference); chosen: {got.plan['plan']['served']['search']['chosen']}"
    )
    return got


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("served")


ALL = [*SHIPPED, "generated-50", "generated-100"]


@pytest.mark.parametrize("name", ALL)
def test_documented_served_figures(tmp: Path, name: str) -> None:
    got = served(name, tmp)
    for b in BASELINES:
        check(f"served.{name}.{b}", got.baselines[b]["decode_throughput_tok_s"])
    if name in SHIPPED:  # docs/helix.md, Agreement: the baselines' rows (the default plan's are of an older search)
        for b in BASELINES:
            check(f"agree.{name}.{b}.pred", got.predicted[b])
            check(f"agree.{name}.{b}.sim", got.baselines[b]["decode_throughput_tok_s"])
    at_least(f"served.{name}.plan", got.ours["decode_throughput_tok_s"])
    at_least(f"served.{name}.ratio", got.ratio)


#: Issue 13's 1.2x target where it is not met, with the measured reason (docs/helix.md, "Why the other targets are
#: missed").
SHORT_OF_TARGET: dict[str, str] = {}  # none since the least-time routing (generated 100: 1.01x -> 1.36x)
#: Met in some runs and not others: none since the search is work-limited (the same plan at any load).
LOAD_DEPENDENT: dict[str, str] = {}


def _target(name: str) -> pytest.MarkDecorator | tuple[()]:
    if name in LOAD_DEPENDENT:
        return pytest.mark.xfail(strict=False, reason=f"issue 13 target met in some runs: {LOAD_DEPENDENT[name]}")
    if name not in SHORT_OF_TARGET:
        return ()
    ratio = FIGURES[f"served.{name}.ratio"].text
    return pytest.mark.xfail(
        strict=True, reason=f"issue 13 target not met: {ratio}x vs 1.2x the best baseline: {SHORT_OF_TARGET[name]}"
    )


@pytest.mark.parametrize("name", [pytest.param(n, marks=_target(n)) for n in ALL])
def test_default_plan_beats_every_baseline_by_1_2x(tmp: Path, name: str) -> None:
    got = served(name, tmp)
    assert got.ratio >= 1.2, f"{got.ratio:.2f}x the best baseline"


def test_single24_serves_more_than_the_paper_layout(tmp: Path) -> None:
    got = served("helix-single24-llama2-70b", tmp)
    ours, paper = simulate(tmp / "helix-single24-llama2-70b" / "plan.json", PAPER_SINGLE24)
    ratio = ours["decode_throughput_tok_s"] / paper["decode_throughput_tok_s"]
    print(f"\n[served bench] single-24: {ours['decode_throughput_tok_s']:.1f} vs the paper's layout -> {ratio:.2f}x")
    check("served.single24.paper", paper["decode_throughput_tok_s"])
    at_least("served.single24.vs_paper", ratio)
    assert ratio >= 1.2 and ours["decode_throughput_tok_s"] >= 300  # issue 13's target, met
    check_time("single-24 served plan", got.run.wall_s, got.ref, limit_x("served.single24.wall_s"), 20.1)
    check_time("single-24 served plan, target", got.run.wall_s, got.ref, limit_x("served.target.wall_s", 1.0), 60)


def test_online_p99_no_worse_than_the_paper_layout(tmp: Path) -> None:
    got = served("helix-single24-llama2-70b", tmp)
    m = got.plan["metrics"]
    load = 0.6 * m["predicted_total_tok_s"] / m["throughput_tok_s"]  # --load is relative to the first plan's bound
    out = tmp / "helix-single24-llama2-70b" / "plan.json"
    ours, paper = simulate(out, PAPER_SINGLE24, extra=("--load", f"{load:.6f}"))
    lat, paper_lat = ours["decode_token_latency"], paper["decode_token_latency"]
    print(
        f"\n[served bench] online at --load {load:.3f}: p99 per-token latency {lat['p99_ms']:.0f} ms vs paper layout "
        f"{paper_lat['p99_ms']:.0f} ms; p50 {lat['p50_ms']:.0f} vs {paper_lat['p50_ms']:.0f}"
    )
    assert ours["decode_token_latency"]["p99_ms"] <= paper["decode_token_latency"]["p99_ms"]


def test_two_hundred_nodes_served_plan(tmp_path: Path) -> None:
    spec = tmp_path / "gen200.yaml"
    spec.write_text(generate_spec(200, types=7, regions=3, seed=200))
    ref = reference()
    run = run_child(plan_cmd("helix", str(spec), "--out", str(tmp_path / "p.json"), "-q", "--time-limit", "240"))
    # (not stretched: the target is the wall time of this run; its time is asserted as a ratio to the reference)
    assert run.returncode == 0, run.stderr
    print(f"\n[served bench] generated 200 nodes: served plan in {run.wall_s:.1f} s, peak {run.peak_mb:.0f} MB")
    check_time("200 nodes served", run.wall_s, ref, limit_x("served.gen200.wall_s"), 83.0)
    mem, mem_target = (
        limit_x("served.gen200.mem_gb", K_MEM, "reference.mem_mb", scale=1000),
        limit_x("served.target.gen200_gb", 1.0, "reference.mem_mb", scale=1000),
    )
    check_memory("200 nodes served", run.peak_mb, ref, mem, 374)
    # The target (<= 5 min) is held in seconds, stretched only by the reference's CPU share (the target is a wall
    # time; the work-limited search takes 83.0 s at a load of 3-5, 2026-12-06).
    target_s = scaled_limit(float(FIGURES["served.target.gen200_s"].value) * 60, ref)
    print(f"  [200 nodes served, target] wall {run.wall_s:.1f} s; limit {target_s:.0f} s (5 min, stretched by load)")
    assert run.wall_s <= target_s, f"200 nodes served: {run.wall_s:.1f} s > {target_s:.0f} s"
    check_memory("200 nodes served, target", run.peak_mb, ref, mem_target, 2000)


#: Predictions within 10 % of the simulator (offline decode tok/s) for the default plan and every baseline: the
#: specs where a row is outside, with the measured error (docs/helix.md, "Agreement with plan simulate").
AGREEMENT_MISSED = {
    "helix-10node-llama30b": "default -11.5 %: the prediction is the same for the plan's two routings (65.3), the "
    "simulator serves the spread one 10 % more (73.8 against 67.3)",
    "helix-geo24-llama2-70b": "Swarm +27.0 %: the simulator merges every token into one wave behind ~1 s prompt "
    "transfers",
    "helix-het42-llama2-70b": "Swarm -15.4 %: the A100 chain after the coordinator join keeps ~14 waves",
}


def _agreement(name: str) -> pytest.MarkDecorator | tuple[()]:
    if name not in AGREEMENT_MISSED:
        return ()
    return pytest.mark.xfail(strict=True, reason=f"issue 13 target not met: outside +-10 %: {AGREEMENT_MISSED[name]}")


@pytest.mark.parametrize("name", [pytest.param(n, marks=_agreement(n)) for n in SHIPPED])
def test_predictions_agree_with_the_simulator(tmp: Path, name: str) -> None:
    """Predicted vs simulated decode throughput (offline) within 10 %, for the default plan and every baseline."""
    got = served(name, tmp)
    sims = {"default": got.ours, **got.baselines}
    errors = {k: got.predicted[k] / s["decode_throughput_tok_s"] - 1 for k, s in sims.items()}
    print(f"\n[served bench] {name}: " + ", ".join(f"{k} {e:+.1%}" for k, e in errors.items()))
    assert all(abs(e) <= 0.10 for e in errors.values()), errors
