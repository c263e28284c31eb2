"""The served search's local search (planner/helix/refine.py) and the candidates it starts from.

Small shipped clusters (10 nodes, LLaMA-1 30B; 24 nodes, LLaMA-2 70B) scored by the served prediction: moves by
hand, a deliberately bad start that the climb must improve, budgets and determinism, and the search never
recommending a placement predicted below a baseline's.
"""

from __future__ import annotations

import random
import time
from dataclasses import replace
from pathlib import Path

import pytest

from planner.helix.flow import max_flow
from planner.helix.instance import HelixInstance, build_instance
from planner.helix.objective import REROUTE_TOP, served_search
from planner.helix.placement import park_idle
from planner.helix.refine import _Neighbourhood, refine, stages_of
from planner.helix.served import ServedModel, served_model_for
from planner.helix.solve import HelixOptions, evaluate, solve
from planner.runner import load_inputs
from planner.spec.sections.helix import HelixSection

SPECS = Path(__file__).resolve().parents[3] / "cluster_specs"


def _load(name: str) -> tuple[HelixInstance, ServedModel, object]:
    inputs = load_inputs(SPECS / f"{name}.yaml")
    section = inputs.loaded.spec.helix or HelixSection()
    inst = build_instance(inputs.loaded, inputs.profiles, section)
    return inst, served_model_for(inputs.loaded, inputs.profiles), inputs


@pytest.fixture(scope="module")
def ten() -> tuple[HelixInstance, ServedModel, object]:
    return _load("helix-10node-llama30b")


@pytest.fixture(scope="module")
def single24() -> tuple[HelixInstance, ServedModel, object]:
    return _load("helix-single24-llama2-70b")


def _chain(inst: HelixInstance) -> dict[str, tuple[int, int]]:
    """A deliberately bad start: one pipeline through every node, each holding what the order leaves (KV-starved
    nodes at their memory limit, the most hops possible)."""
    ranges: dict[str, tuple[int, int]] = {}
    pos = 0
    nodes = sorted(inst.nodes, key=lambda n: n.name)
    left = inst.layers
    for i, n in enumerate(nodes):
        rest = len(nodes) - i - 1
        k = min(n.max_layers, left - rest)
        ranges[n.name] = (pos, pos + k)
        pos, left = pos + k, left - k
    assert pos == inst.layers
    return ranges


def _covers(inst: HelixInstance, ranges: dict[str, tuple[int, int]]) -> None:
    for n in inst.nodes:
        s, e = ranges[n.name]
        assert 0 <= s < e <= inst.layers and e - s <= n.max_layers, (n.name, s, e)
    held = set()
    for s, e in ranges.values():
        held |= set(range(s, e))
    assert held == set(range(inst.layers))


def _nine_stages() -> dict[str, tuple[int, int]]:
    """The 9-stage single-24 layout the hop-limited max flow builds: every node at its memory limit."""
    ranges = {f"l4-{i}": (0, 7) for i in (0, 1)} | {f"t4-{i}": (7, 11) for i in range(12)}
    ranges |= {f"l4-{i}": (11, 18) for i in (2, 3)} | {f"l4-{i}": (18, 25) for i in (4, 5)}
    ranges |= {"a100-0": (25, 37), "a100-1": (37, 49), "a100-2": (49, 61), "a100-3": (68, 80)}
    return ranges | {f"l4-{i}": (61, 68) for i in (6, 7)}


def test_stage_moves_by_hand(single24) -> None:
    """Transfer, split and merge on a stage layout of single-24, checked layer by layer."""
    inst, model, _ = single24
    ranges = _nine_stages()
    a100 = [f"a100-{i}" for i in range(4)]
    t4 = [f"t4-{i}" for i in range(12)]
    stages = stages_of(ranges, inst.layers)
    assert stages is not None and len(stages) == 9
    hood = _Neighbourhood(inst, model)
    # every node holds its memory limit: no stage can take a layer from another
    assert all(hood.apply(ranges, ("transfer", (j, k))) is None for j in range(9) for k in range(9) if j != k)
    # halve the T4 stage: two stages of 6 T4s, 2 layers each, the rest unchanged
    halved = hood.apply(ranges, ("split", (1, "halve")))
    assert halved is not None
    assert sorted({halved[n] for n in t4}) == [(7, 9), (9, 11)]
    assert sum(1 for n in t4 if halved[n] == (7, 9)) == 6
    assert all(halved[n] == ranges[n] for n in ranges if n not in t4)
    # keep: both halves hold 4 layers; the 4 surplus layers leave the stages with the least KV per layer, one at a
    # time: the A100s at 12 layers (314,630 token-layers of KV per layer against 671,112 for an L4 pair), each once
    kept = hood.apply(ranges, ("split", (1, "keep")))
    assert kept is not None
    _covers(inst, kept)
    assert sorted({kept[n] for n in t4}) == [(7, 11), (11, 15)]
    assert [kept[n][1] - kept[n][0] for n in a100] == [11, 11, 11, 11]
    # merge the two T4 halves back: 4 layers each, within memory
    assert hood.apply(halved, ("merge", (1, "keep"))) == ranges
    # merging two A100 stages would need 24 layers on each: refused
    assert hood.apply(ranges, ("merge", (4, "keep"))) is None
    # every move keeps every range within memory
    for move in hood.moves(ranges, random.Random(0)):
        out = hood.apply(ranges, move)
        if out is not None:
            assert all(out[n.name][1] - out[n.name][0] <= n.max_layers for n in inst.nodes)


def test_local_search_improves_a_deliberately_bad_start(ten) -> None:
    inst, model, _ = ten
    start = _chain(inst)
    ev = lambda rg: evaluate(inst, rg, "strict", None)  # noqa: E731
    before = model.predict(inst, start, ev(start)).decode_tok_s
    out = refine(inst, start, "strict", model, ev, max_evaluations=300, deadline=time.monotonic() + 600, seed=0)
    assert out.start_decode_tok_s == pytest.approx(before)
    assert out.prediction.decode_tok_s >= 1.2 * before, (before, out.prediction.decode_tok_s, out.moves)
    assert out.moves and out.evaluations <= 300
    _covers(inst, out.ranges)
    # what it reports is what the placement does
    flow = max_flow(inst, out.ranges, "strict")
    assert model.predict(inst, out.ranges, flow).decode_tok_s == pytest.approx(out.prediction.decode_tok_s)
    # deterministic: same inputs and seed, same placement
    again = refine(inst, start, "strict", model, ev, max_evaluations=300, deadline=time.monotonic() + 600, seed=0)
    assert again.ranges == out.ranges and again.moves == out.moves


def test_local_search_honours_its_budget_and_the_deadline(ten) -> None:
    inst, model, _ = ten
    start = _chain(inst)
    ev = lambda rg: evaluate(inst, rg, "strict", None)  # noqa: E731
    few = refine(inst, start, "strict", model, ev, max_evaluations=5, deadline=time.monotonic() + 600, seed=0)
    assert few.evaluations <= 5 and few.stopped.startswith("evaluation budget")
    late = refine(inst, start, "strict", model, ev, max_evaluations=500, deadline=time.monotonic() - 1, seed=0)
    assert late.stopped == "time limit" and late.ranges == start and late.evaluations == 1


def test_served_search_is_never_below_a_baseline(ten) -> None:
    """The chosen placement is predicted to serve at least as much as every baseline placement (within memory,
    idle nodes parked), each evaluated here independently of the search."""
    inst, model, inputs = ten
    opts = HelixOptions(time_limit_s=30.0, seed=0)
    section = inputs.loaded.spec.helix or HelixSection()
    first = solve(inst, replace(opts, time_limit_s=10.0))
    search = served_search(
        lambda r: build_instance(inputs.loaded, inputs.profiles, section.model_copy(update={"kv_reserve_fraction": r})),
        section.kv_reserve_fraction,
        opts,
        model,
        first=first,
    )
    best = search.best.prediction.decode_tok_s
    assert any(c.source.startswith("baseline:") for c in search.candidates)
    for b in first.baselines:
        if not b.ranges:
            continue
        fits = park_idle(inst, {n: r for n, r in b.ranges.items() if r[1] - r[0] <= inst.node(n).max_layers})
        flow = max_flow(inst, fits, "strict")
        if flow.value > 0:
            assert best >= model.predict(inst, fits, flow).decode_tok_s * (1 - 1e-9), b.name
    assert best >= max(c.prediction.decode_tok_s for c in search.candidates) * (1 - 1e-9)
    # the local searches ran from the best candidates and are recorded
    assert search.refinements and all(r.evaluations >= 1 for _, r in search.refinements)
    # the best placements are also predicted under the least-link-time routing of the same max flow (at the end, and
    # the climbs' placements after each round of the race)
    routed = [c for c in search.candidates if c.source.endswith(", least-time routing")]
    assert all(c.rerouted for c in routed)
    met = [c for c in routed if c.source.endswith(" evaluations), least-time routing")]
    routed = [c for c in routed if c not in met]
    assert 1 <= len(routed) <= REROUTE_TOP
    assert all(c.max_hops is None for c in met)
    for c in routed:
        plain = next(d for d in search.candidates if d.source == c.source.removesuffix(", least-time routing"))
        assert c.result.ranges == plain.result.ranges
        assert c.result.flow.value == pytest.approx(plain.result.flow.value, rel=1e-6)
        assert c.max_hops is None  # that routing is not hop-limited, whatever limit built the placement


def test_fork_makes_one_lane_per_region_by_hand() -> None:
    """geo-24: the four A100s (region 1) hold layers [0, 36) in a chain; forking after them gives region 2 and
    region 3 a lane each over [36, 80): every lane holds all 44 layers once, balanced by KV within memory."""
    inst, model, _ = _load("helix-geo24-llama2-70b")
    hood = _Neighbourhood(inst, model)
    ranges = {f"a100-{i}": (9 * i, 9 * i + 9) for i in range(4)}
    rest = [n.name for n in inst.nodes if not n.name.startswith("a100")]
    pos = 36
    for i, name in enumerate(rest):  # one chain through regions 2 and 3: 20 nodes hold 44 layers (3 x 4, 2 x 16)
        k = 3 if i < 4 else 2
        ranges[name] = (pos, pos + k)
        pos += k
    assert pos == 80
    assert stages_of(ranges, inst.layers) is not None
    assert hood.apply(ranges, ("fork", (1,))) is None  # A100s 1..3 alone cannot hold [9, 80) in region 1
    out = hood.apply(ranges, ("fork", (4,)))
    assert out is not None
    assert all(out[f"a100-{i}"] == ranges[f"a100-{i}"] for i in range(4))
    for region in ("region-2", "region-3"):
        lane = sorted((out[n.name] for n in inst.nodes if n.region == region), key=lambda r: r[0])
        assert lane[0][0] == 36 and lane[-1][1] == 80
        assert all(a[1] == b[0] for a, b in zip(lane, lane[1:], strict=False))  # a chain: every layer held once
    _covers(inst, out)


def test_reserves_below_the_spec_load_nodes_beyond_its_k() -> None:
    """geo-24: the spec keeps half of VRAM for KV (A100-40G: K = 12, where the paper's table rows stop too). Below
    the spec's reserve tp(k) comes from the node model, so K is the memory's: floor(0.8 x 40 GB / 1.53 GB) = 20 for
    an A100-40G at reserve 0.2 (L4 floor(0.8 x 24 / 1.53) = 12, T4 floor(0.8 x 16 / 1.53) = 8), and the node model
    still leaves 36 GB - 20 x 1.711 GB = 1.77 GB of KV there (433,220 token-layers of 4,096 B)."""
    from planner.runner.helix import reserve_section

    inputs = load_inputs(SPECS / "helix-geo24-llama2-70b.yaml")
    section = inputs.loaded.spec.helix or HelixSection()
    assert reserve_section(section, 0.7).throughput == section.throughput  # a larger reserve keeps the tables
    low = reserve_section(section, 0.2)
    assert low.throughput == "node-model" and low.kv_reserve_fraction == 0.2
    spec_inst = build_instance(inputs.loaded, inputs.profiles, section)
    inst = build_instance(inputs.loaded, inputs.profiles, low)
    assert {n.gpu: n.max_layers for n in spec_inst.nodes} == {"A100-40G": 12, "L4": 7, "T4": 4}
    assert {n.gpu: n.max_layers for n in inst.nodes} == {"A100-40G": 20, "L4": 12, "T4": 8}
    model = served_model_for(inputs.loaded, inputs.profiles)
    cap = model.perf(inst.node("a100-0")).kv_capacity(20)
    assert cap == pytest.approx((0.9 * 40e9 - 20 * 1.711276032e9) / 4096, rel=1e-9)
    assert 433_000 < cap < 433_300


def test_served_search_races_the_force_loaded_baseline_whole() -> None:
    """geo-24's separate pipelines hold 20 layers per A100 (as the paper's simulator force-loads them). With the
    reserves below the spec's in the grid, that placement is a candidate as it is (no range dropped), predicted on
    the loosest instance (cut down to the spec's limits it holds nothing), and the chosen plan is predicted at
    least as high."""
    from planner.runner.helix import reserve_section

    inputs = load_inputs(SPECS / "helix-geo24-llama2-70b.yaml")
    section = inputs.loaded.spec.helix or HelixSection()
    inst = build_instance(inputs.loaded, inputs.profiles, section)
    model = served_model_for(inputs.loaded, inputs.profiles)
    opts = HelixOptions(time_limit_s=20.0, seed=0)
    first = solve(inst, replace(opts, time_limit_s=5.0))
    search = served_search(
        lambda r: build_instance(inputs.loaded, inputs.profiles, reserve_section(section, r)),
        section.kv_reserve_fraction, opts, model, first=first,
    )  # fmt: skip
    sep = next(b for b in first.baselines if b.name == "separate-pipelines")
    assert {sep.ranges[f"a100-{i}"] for i in range(4)} == {(0, 20), (20, 40), (40, 60), (60, 80)}
    cand = next(c for c in search.candidates if c.source == "baseline:separate-pipelines, reserve 0.2")
    assert cand.kv_reserve_fraction == 0.2
    # cut to the spec's limits (every range beyond K dropped: A100 20 > 12, L4 10 > 7, T4 7 > 4) it carries nothing
    assert not any(c.source == "baseline:separate-pipelines" for c in search.candidates)
    assert all(cand.result.ranges[n] == r for n, r in sep.ranges.items())  # whole: nothing cut to the spec's K
    assert search.best.prediction.decode_tok_s >= cand.prediction.decode_tok_s * (1 - 1e-9)


def test_starts_cover_every_family_before_a_second_of_any() -> None:
    """The race's starts: distinct placements, the best predicted of every KV reserve's grid points and of the
    baselines before any family's second (geo-24's best climb started from a layout ranked sixth by its own
    prediction)."""
    from types import SimpleNamespace

    from planner.helix.objective import _diverse_starts

    def cand(source: str, reserve: float, decode: float, ranges: dict[str, tuple[int, int]]) -> SimpleNamespace:
        return SimpleNamespace(
            source=source,
            kv_reserve_fraction=reserve,
            prediction=SimpleNamespace(decode_tok_s=decode),
            result=SimpleNamespace(ranges=ranges),
        )

    cands = [
        cand("max-flow", 0.5, 140.0, {"a": (0, 4)}),
        cand("reserve 0.5, <= 9 hops", 0.5, 139.0, {"a": (0, 3)}),
        cand("reserve 0.5, <= 12 hops", 0.5, 138.0, {"a": (0, 2)}),
        cand("reserve 0.5, copy", 0.5, 137.0, {"a": (0, 2)}),  # the same placement: not a second start
        cand("baseline:swarm", 0.5, 120.0, {"a": (1, 4)}),
        cand("reserve 0.2, <= 9 hops", 0.2, 114.8, {"a": (0, 5)}),
    ]
    got = [c.source for c in _diverse_starts(cands, 3)]  # type: ignore[arg-type]
    assert got == ["max-flow", "baseline:swarm", "reserve 0.2, <= 9 hops"]
    got = [c.source for c in _diverse_starts(cands, 8)]  # type: ignore[arg-type]
    assert got == [
        "max-flow", "reserve 0.5, <= 9 hops", "reserve 0.5, <= 12 hops", "baseline:swarm", "reserve 0.2, <= 9 hops"
    ]  # fmt: skip


@pytest.fixture(scope="module")
def ten_search(ten):
    """The served search on the 10-node cluster (``--time-limit 30``, seed 0), run once for the race's tests."""
    from planner.runner.helix import reserve_section

    inst, model, inputs = ten
    opts = HelixOptions(time_limit_s=30.0, seed=0)
    section = inputs.loaded.spec.helix or HelixSection()
    first = solve(inst, opts)
    return served_search(
        lambda r: build_instance(inputs.loaded, inputs.profiles, reserve_section(section, r)),
        section.kv_reserve_fraction, opts, model, first=first,
    )  # fmt: skip


def test_the_race_gives_the_rest_of_the_budget_to_the_best_climb(ten, ten_search) -> None:
    """Successive halving on the 10-node cluster: every start climbs, the evaluations stay within the budget, and
    the climb that reached the highest prediction is one that raced to the last round (it climbed the most)."""
    from planner.helix.objective import REFINE_STARTS, refine_budget

    inst = ten[0]
    rows = ten_search.refinement_rows()
    assert 2 <= len(rows) <= REFINE_STARTS
    assert sum(int(r["evaluations"]) for r in rows) <= refine_budget(len(inst.nodes), 30.0)
    best = max(rows, key=lambda r: float(r["decode_tok_s"]))  # type: ignore[arg-type]
    assert int(best["evaluations"]) == max(int(r["evaluations"]) for r in rows) or best["stopped"] == "local optimum"


def test_the_race_judges_a_climb_by_the_better_of_its_routings() -> None:
    """A climb's standing in the race is the better of its max-flow and least-time routings: the search reroutes its
    best placements at the end, so a climb predicted 600 that reroutes to 880 outranks one at 700 that does not."""
    from types import SimpleNamespace

    from planner.helix.objective import _Climb

    def climb(decode: float, routed: float | None) -> _Climb:
        pred = SimpleNamespace(prediction=SimpleNamespace(decode_tok_s=decode), moves=[1])
        c = _Climb(pred, 0.5, None, {}, refined=pred)  # type: ignore[arg-type]
        if routed is not None:
            c.routed = SimpleNamespace(prediction=SimpleNamespace(decode_tok_s=routed))  # type: ignore[assignment]
        return c

    rerouted, plain, worse = climb(600.0, 880.0), climb(700.0, None), climb(650.0, 500.0)
    assert (rerouted.outlook, plain.outlook, worse.outlook) == (880.0, 700.0, 650.0)
    order = sorted(range(3), key=lambda i: -[rerouted, plain, worse][i].outlook)
    assert order == [0, 1, 2]


def test_the_race_keeps_the_rerouted_placements_it_meets(ten_search) -> None:
    """On the 10-node cluster every climb that moved is predicted under its least-time routing after each round, and
    those placements are candidates of the search: the recommended plan is predicted at least as high."""
    search = ten_search
    met = [c for c in search.candidates if "evaluations), least-time routing" in c.source]
    assert met
    assert search.best.prediction.decode_tok_s >= max(c.prediction.decode_tok_s for c in met) * (1 - 1e-9)
