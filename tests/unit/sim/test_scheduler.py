"""IWRR picks in proportion to the plan's flows; masks; KV admission rejects what cannot fit."""

from __future__ import annotations

from collections import Counter

import pytest

from planner.helix.contract import MIN_FLOW_SHARE
from planner.sim.engine import Engine, SimConfig
from planner.sim.scheduler import InterleavedWRR, KvLedger, KvPolicy
from tests.unit.sim.helpers import pool, run_online, topology


def test_iwrr_proportional_to_weights_and_interleaved() -> None:
    iw = InterleavedWRR([1, 2, 3], [300.0, 100.0, 200.0])
    picks = [iw.targets[iw.choose(1.0, lambda t: True)] for _ in range(600)]  # type: ignore[index]
    assert Counter(picks) == {1: 300, 2: 100, 3: 200}
    # interleaved, not in runs: in every window of 6 picks each target appears its share
    for k in range(0, 600, 6):
        assert Counter(picks[k : k + 6]) == {1: 3, 2: 1, 3: 2}


def test_iwrr_workload_weighted_shares() -> None:
    """Charging workload / weight makes token volumes, not request counts, follow the weights."""
    iw = InterleavedWRR([1, 2], [3.0, 1.0])
    volume: Counter[int] = Counter()
    for i in range(4000):
        work = 100.0 if i % 2 else 900.0
        volume[iw.targets[iw.choose(work, lambda t: True)]] += work  # type: ignore[index]
    assert volume[1] / volume[2] == pytest.approx(3.0, rel=0.01)


def test_iwrr_ties_go_to_lowest_index_and_undo_restores() -> None:
    iw = InterleavedWRR([5, 7], [1.0, 1.0])
    assert iw.choose(1.0, lambda t: True) == 0
    assert iw.choose(1.0, lambda t: True) == 1
    i = iw.choose(1.0, lambda t: True)
    assert i == 0
    iw.undo(i, 1.0)
    assert iw.load == [1.0, 1.0]


def test_iwrr_masks_small_edges_and_inadmissible_nodes() -> None:
    iw = InterleavedWRR([1, 2, 3], [96.0, 3.0, 1.0])  # 3 % and 1 % are under the 5 % share
    assert MIN_FLOW_SHARE == 0.05
    assert {iw.targets[iw.choose(1.0, lambda t: True)] for _ in range(50)} == {1}  # type: ignore[index]
    assert iw.choose(1.0, lambda t: t != 1) is None  # the only unmasked successor refuses: rejected
    many = InterleavedWRR(list(range(25)), [1.0] * 25)  # every edge is 4 %: keep one rather than none
    assert sum(many.active) == 1


def test_kv_ledger_admission_and_bottleneck() -> None:
    ledger = KvLedger([1000.0, 4000.0], starts=[0, 2], ends=[2, 4], layers=4, hwm=0.9)
    assert ledger.can_admit(0, 900.0) and not ledger.can_admit(0, 901.0)
    ledger.reserve(0, 600.0)
    assert not ledger.can_admit(0, 301.0) and ledger.can_admit(0, 300.0)
    # layer usage: node 0 spreads 600 over its 2 layers (300 of 500 each) -> 0.6 bottleneck
    assert ledger.bottleneck_usage() == pytest.approx(0.6)
    ledger.release(0, 600.0)
    assert ledger.idle and ledger.bottleneck_usage() == 0.0
    assert KvPolicy.for_mode(True) == KvPolicy(0.85, 1.0)
    assert KvPolicy.for_mode(False) == KvPolicy(0.9, 0.6)


def test_engine_routes_follow_fork_flows(tiny_db) -> None:
    """fork.json: a splits 300:100 between b1 and b2; 400 equal requests take b1 exactly 300 times."""
    topo = topology(tiny_db, "fork.json")
    n = 400
    engine, out = run_online(topo, [0.01 * i for i in range(n)], [50] * n, [4] * n, duration_s=30.0)
    names = [nd.name for nd in topo.nodes]
    second_hops = Counter(names[r[1]] for r in engine.r_route)
    assert second_hops == {"b1": 300, "b2": 100}
    assert out.completed == n


def test_kv_admission_rejects_what_cannot_fit_and_queues_the_rest(tiny_db) -> None:
    """TINY-1MB nodes hold 736,160 B / 256 B = 2,875.6 token-layers of KV; online admission allows 90 %: 2,588 per node.

    Expected tokens are prompt + 0.6 x mean output (10 here): 2000-token prompts need 2 x 2006 > 2588 and never
    fit; 1000-token prompts need 2 x 1006 = 2012, so only one at a time: the second waits for the first to finish.
    """
    topo = topology(tiny_db, "chain2_small_kv.json")
    assert [nd.kv_capacity_token_layers for nd in topo.nodes] == pytest.approx([736_160 / 256] * 2)
    engine, out = run_online(topo, [0.0, 0.001, 0.002], [2000, 1000, 1000], [10, 10, 10], duration_s=5.0)
    assert out.rejected == 1 and out.admitted == 2 and out.completed == 2
    assert engine.r_expect[1] == 1006.0
    # request 2 was admitted only when request 1 finished, so its first token came after request 1's last one
    assert engine.r_last[1] < engine.r_arr[2] + out.prompt_latency_s[1]
    assert out.nodes[0].kv_reserved_peak == pytest.approx(2012.0)


def test_offline_feeder_saturates_up_to_the_kv_high_water_mark(tiny_db) -> None:
    """Offline: expected KV per request = (100 + 1.0 x 20) tokens x 2 layers = 240 token-layers per node.

    Node admission allows 0.85 x 2,875.6 = 2,444 token-layers (10 requests); the feeder adds requests while the
    bottleneck layer is at most 80 % used (9 requests use 75 %, so it launches the 10th). In flight never exceeds 10,
    and the cluster stays busy: the feeder replaces every finished request.
    """
    topo = topology(tiny_db, "chain2_small_kv.json")
    cfg = SimConfig(duration_s=20.0, warmup_s=2.0, offline=True, kv=KvPolicy.for_mode(True))
    engine = Engine(topo, cfg, pool([100], [20]), None)
    out = engine.run()
    assert out.nodes[0].kv_reserved_peak == pytest.approx(10 * 240.0)
    assert engine.admitted - engine.completed <= 10
    assert out.completed > 100 and out.rejected == 0
    # always saturated: no gap in decode output after warm-up
    assert min(out.timeline_decode_tokens[15:]) > 0
