"""Predictions vs ``plan simulate`` on every shipped helix spec (slow: plans each spec, simulates every layout).

Offline decode throughput within 10 %, online p50 / p99 per-token latency within 20 % at 0.6 of the predicted
capacity, for the default plan, the baselines it emits and the paper's single-24 layouts -- the rows of the
agreement table in docs/helix.md (``scripts/helix_agreement.py``). Layouts known to fall outside a band are marked
``xfail`` with the mechanism measured (docs/helix.md, Agreement); an unexpected pass is reported, not hidden.
The quick versions on the paper's layouts are in test_served.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from planner.calibrate.agreement import HELD_OUT_RECORD, RECORD, read_record

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "scripts"))
from helix_agreement import (  # noqa: E402
    HELD_OUT_TIME_LIMIT,
    OFFLINE_TOLERANCE,
    ONLINE_TOLERANCE,
    PAPER,
    SHIPPED,
    held_out_specs,
    measure,
    plan_layouts,
)

pytestmark = pytest.mark.slow

#: Measured outside the offline band (docs/helix.md, Agreement, says why; ``scripts/helix_sim_nodes.py`` shows it
#: node by node).
OFFLINE_KNOWN = {
    ("helix-geo24-llama2-70b", "swarm"): "a 360-s fill (one prompt a second on the 12.5 MB/s link) decoding at 4-17 % "
    "of the full rate, then one wave of ~350 tokens: saturated rate ~25 % under, fill share 0.85 against ~0.5",
    ("helix-het42-llama2-70b", "swarm"): "the A100 chain after the coordinator join keeps ~14 waves (batches 61-95, "
    "218 predicted)",
    ("helix-10node-llama30b", "default"): "-11.5 %: the prediction is the same for the placement's two routings "
    "(65.3); the simulator serves the least-time routing's spread 10 % more (73.8 against 67.3), in smaller batches "
    "(7.3 tokens against 11.7) at a lower per-token latency (464 against 512 ms)",
}
#: Measured outside the online band.
ONLINE_KNOWN = {
    ("helix-10node-llama30b", "default"): "p99 +65 %: 24-37 requests in the 600 s window decide its tail (over 1,000 "
    "requests, scripts/helix_agreement.py --min-requests 1000: +5.4 %)",
    ("helix-10node-llama30b", "petals"): "p99 +108 %: few requests in the window, 1.6 % of its tokens met a prompt "
    "(over 1,000 requests: +4.6 %)",
    ("helix-10node-llama30b", "separate-pipelines"): "p99 +171 %: 25 requests in the window, 0.66 % of the simulated "
    "tokens met a prompt (over 1,000 requests: +15.2 %)",
    ("helix-10node-llama30b", "swarm"): "p99 +80 %: few requests in the window (over 1,000 requests: +8.3 %)",
    ("helix-geo24-llama2-70b", "petals"): "p99 +22 %: its tail is prompt transfers on the 12.5 MB/s links (simulated: "
    "1,064 ms queued behind them at p98.5-99.5), which the model charges only inside a convoy",
    ("helix-geo24-llama2-70b", "separate-pipelines"): "p99 -40 %: prompt transfers queue on the slow links (and which "
    "of its few requests the replay sends down which pipeline moves the prediction by +-50 %)",
    ("helix-quickstart-llama31-70b", "default"): "p50 +26 %, p99 +21 %: half its predicted tokens are caught behind a "
    "(length-biased) prompt, 36 % of the simulated ones (a lone chain of roofline nodes)",
    ("paper single-24", "separate-pipelines"): "p50 +382 %: the simulated p50 sits on the edge between the A100 "
    "pipeline's tokens (117 ms) and the L4's (561 ms): the A100 carries 53 % of the replay's tokens at the offered "
    "rate of the seventh session's prediction, 46 % at the sixth's (p50 561 ms, within)",
}


#: Baselines that carry no flow, so there is nothing to simulate (the quickstart's nodes fit no Swarm stage count).
NO_FLOW = {("helix-quickstart-llama31-70b", "swarm")}


def _cases() -> list[tuple[str, str]]:
    names = ["default", "petals", "separate-pipelines", "swarm"]
    paper = [("paper single-24", p.stem) for p in sorted(PAPER.glob("*.json"))]
    return [(s, n) for s in SHIPPED for n in names if (s, n) not in NO_FLOW] + paper


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("agreement")


@pytest.mark.parametrize(("spec", "layout"), _cases())
def test_prediction_agrees_with_the_simulator(plans: Path, spec: str, layout: str) -> None:
    if spec == "paper single-24":
        path = PAPER / f"{layout}.json"
    else:
        by_name = {p.stem: p for p in plan_layouts(spec, plans, 60.0)}
        assert layout in by_name, f"{spec}: the {layout} baseline carries no flow (nothing to simulate)"
        path = by_name[layout]
    row = measure(spec, path)
    print(
        f"\n[agreement] {spec} {layout}: decode {row.predicted:.1f} vs {row.simulated:.1f} ({row.error:+.1%}); "
        f"p50 {row.p50[0]:.0f} vs {row.p50[1]:.0f} ({row.p50_error:+.1%}); p99 {row.p99[0]:.0f} vs "
        f"{row.p99[1]:.0f} ({row.p99_error:+.1%})"
    )
    # The error bands of the served predictions rest on the recorded rows: the record must be what is measured now.
    recorded = {(r.spec, r.layout): r for r in read_record(ROOT / "profiles" / RECORD)}
    assert (spec, layout) in recorded, "not in profiles/agreement/helix_served.csv: re-record (--record)"
    rec = recorded[(spec, layout)]
    now = (row.predicted, row.simulated, *row.p50, *row.p99)
    then = (rec.predicted, rec.simulated, *rec.p50, *rec.p99)
    assert all(abs(a / b - 1) < 0.005 for a, b in zip(now, then, strict=True)), f"{now} vs recorded {then}: re-record"
    offline_ok = abs(row.error) <= OFFLINE_TOLERANCE
    online_ok = abs(row.p50_error) <= ONLINE_TOLERANCE and abs(row.p99_error) <= ONLINE_TOLERANCE
    key = (spec, layout)
    assert offline_ok or key in OFFLINE_KNOWN, f"offline decode throughput off by {row.error:+.1%}"
    assert online_ok or key in ONLINE_KNOWN, f"online p50 off by {row.p50_error:+.1%}, p99 by {row.p99_error:+.1%}"
    if not (offline_ok and online_ok):
        pytest.xfail("; ".join(why for table in (OFFLINE_KNOWN, ONLINE_KNOWN) if (why := table.get(key))))


def _held_out_cases() -> list[tuple[str, str]]:
    return [(r.spec, r.layout) for r in read_record(ROOT / "profiles" / HELD_OUT_RECORD)]


@pytest.mark.parametrize(("spec", "layout"), _held_out_cases())
def test_held_out_record_is_what_is_measured_now(plans: Path, spec: str, layout: str) -> None:
    """The clusters held out of the model's development measure as recorded (their rows are in the error bands;
    they are a measurement of the model's error on unseen clusters, not a target each row must meet)."""
    (spec_path,) = [p for p in held_out_specs(plans) if p.stem == spec]
    by_name = {p.stem: p for p in plan_layouts(spec_path, plans, HELD_OUT_TIME_LIMIT)}
    row = measure(spec, by_name[layout])
    rec = {(r.spec, r.layout): r for r in read_record(ROOT / "profiles" / HELD_OUT_RECORD)}[(spec, layout)]
    now = (row.predicted, row.simulated, *row.p50, *row.p99)
    then = (rec.predicted, rec.simulated, *rec.p50, *rec.p99)
    assert all(abs(a / b - 1) < 0.005 for a, b in zip(now, then, strict=True)), f"{now} vs recorded {then}: re-record"
