"""plan diff, the domain: addresses and actions per plan kind, counts, metric deltas, tolerance, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planner.diff import (
    Action,
    PlanReadError,
    PlansNotComparable,
    Reason,
    Section,
    diff_plans,
    exit_code,
    load_plan_for_diff,
    natural_key,
    numeric_delta,
    unit_of,
)
from planner.plan import Plan, read_plan

PLANS = Path(__file__).resolve().parents[1] / "fixtures" / "plans"


def pair(kind: str) -> tuple[Plan, Plan]:
    return read_plan(PLANS / f"{kind}_old.json"), read_plan(PLANS / f"{kind}_new.json")


def by_address(kind: str) -> dict[str, object]:
    old, new = pair(kind)
    return {c.address: c for c in diff_plans(old, new).changes}


# ------------------------------------------------------------------------------------------------ per kind


def test_helix_every_action_with_contract_addresses() -> None:
    ch = by_address("helix")
    layers = ch["helix.node[a100-0].layers"]
    assert (layers.action, layers.before, layers.after, layers.reason) == (Action.change, 40, 42, Reason.layer_move)
    assert ch["helix.node[t4-0]"].action is Action.add and ch["helix.node[t4-0]"].after["gpu"] == "T4"
    assert ch["helix.node[l4-3]"].action is Action.remove and ch["helix.node[l4-3]"].before["layer_start"] == 60
    assert ch["helix.edge[l4-1->a100-1]"].action is Action.add
    assert ch["helix.edge[l4-3->sink]"].action is Action.remove
    flow = ch["helix.edge[a100-0->a100-1].flow_tok_s"]
    assert (flow.delta, flow.unit, flow.reason) == (-9.3, "tok/s", Reason.flow)
    assert ch["helix.route[l4-1->l4-2].weight"].after == 0.8
    assert ch["helix.route[l4-3->sink]"].action is Action.remove
    assert ch["helix.baseline[petals].throughput_tok_s"].delta == -10.0
    assert ch["solver.status"].reason is Reason.status
    assert ch["assumption[tp[T4]]"].action is Action.add
    # unchanged fields and elements produce nothing
    assert "helix.node[l4-0].layer_start" not in ch and "helix.edge[l4-0->l4-1].flow_tok_s" not in ch


def test_helix_counts_and_summary() -> None:
    d = diff_plans(*pair("helix"))
    assert d.layer_moves == 5
    assert d.counts["node"].model_dump() == {"added": 1, "removed": 1, "changed": 5}
    assert d.counts["edge"].model_dump() == {"added": 3, "removed": 2, "changed": 4}
    assert d.summary == (
        "Plan: 5 layer moves, 1 node added, 1 removed, 3 edges added, 2 removed, 4 changed, "
        "status optimal -> time_limit, 11 other changes; throughput -3.1%"
    )


def test_splitwise_every_action() -> None:
    ch = by_address("splitwise")
    count = ch["splitwise.pool[prompt].count"]
    assert (count.action, count.before, count.after, count.reason) == (Action.change, 20, 22, Reason.resized)
    assert ch["splitwise.pool[token].machine"].reason is Reason.hardware
    assert ch["splitwise.pool[mixed]"].action is Action.remove
    assert ch["splitwise.design[AA]"].action is Action.add
    assert ch["splitwise.design"].before == "HH" and ch["splitwise.design"].reason is Reason.design
    assert ch["splitwise.slo[e2e_p99].margin"].after == 0.02
    assert not any(a.startswith("splitwise.ledger") for a in ch), "the ledger is an audit trail, never diffed"


def test_splitwise_summary_and_slo_margin_deltas() -> None:
    d = diff_plans(*pair("splitwise"))
    assert d.summary == (
        "Plan: design HH -> HA, 1 pool removed, 2 changed, 16 other changes; throughput +0.0%, cost +4.0%, power +3.3%"
    )
    margins = {m.name: m for m in d.metrics}
    m = margins["splitwise.slo[e2e_p99].margin"]
    assert (m.before, m.after, m.delta, m.verdict) == (0.1, 0.02, -0.08, "worse")
    assert margins["splitwise.slo[tbt_p50].margin"].changed is False


def test_dynamo_every_action_nested() -> None:
    ch = by_address("dynamo")
    freq = ch["dynamo.epoch[08:00].pool[LL].freq_mhz"]
    assert (freq.before, freq.after, freq.delta, freq.unit, freq.reason) == (
        1980,
        1600,
        -380.0,
        "MHz",
        Reason.frequency,
    )
    assert ch["dynamo.epoch[08:00].pool[LL].instances"].reason is Reason.resized
    assert ch["dynamo.epoch[00:00].pool[SM]"].action is Action.add
    assert ch["dynamo.epoch[12:00]"].action is Action.add
    assert ch["dynamo.epoch[16:00]"].action is Action.remove
    energy = ch["dynamo.epoch[00:00].pool[SS].energy_wh"]
    assert (energy.delta, energy.unit) == (-1000.0, "Wh")


def test_dynamo_counts_and_summary() -> None:
    d = diff_plans(*pair("dynamo"))
    assert d.counts["epoch"].model_dump() == {"added": 1, "removed": 1, "changed": 2}
    assert d.counts["pool"].model_dump() == {"added": 1, "removed": 0, "changed": 2}
    assert d.summary == "Plan: 1 epoch added, 1 removed, 2 changed, 1 pool added, 2 changed; power +2.5%, energy -2.2%"


# ------------------------------------------------------------------------------------------------ metrics


def test_metric_deltas_carry_units_absolute_and_percent() -> None:
    d = {m.name: m for m in diff_plans(*pair("helix")).metrics}
    t = d["throughput_tok_s"]
    assert (t.unit, t.before, t.after, t.delta, t.delta_pct, t.verdict) == ("tok/s", 300.0, 290.7, -9.3, -3.1, "worse")
    assert d["solver.best_bound"].delta == 5.0
    assert d["solver.gap"].before == 0.0 and d["solver.gap"].delta_pct is None  # relative change from zero
    e = {m.name: m for m in diff_plans(*pair("dynamo")).metrics}["energy_kwh"]
    assert (e.unit, e.delta, e.delta_pct, e.verdict) == ("kWh", -2.2, -2.2, "better")
    c = {m.name: m for m in diff_plans(*pair("splitwise")).metrics}["cost_usd_h"]
    assert (c.unit, c.delta, c.delta_pct) == ("USD/h", 40.0, 4.0)


@pytest.mark.parametrize(
    ("name", "unit"),
    [
        ("throughput_tok_s", "tok/s"),
        ("cost_usd_h", "USD/h"),
        ("power_kw", "kW"),
        ("energy_kwh", "kWh"),
        ("energy_wh", "Wh"),
        ("latency_s", "s"),
        ("ttft_ms", "ms"),
        ("throughput_rps", "req/s"),
        ("cost_usd_per_mtok", "USD/Mtok"),
        ("usd_per_mtok", "USD/Mtok"),
        ("dynamo.epoch[08:00].pool[LL].freq_mhz", "MHz"),
        ("helix.node[a100_s]", ""),
        ("layers", ""),
    ],
)
def test_unit_of_reads_the_name_suffix(name: str, unit: str) -> None:
    assert unit_of(name) == unit


def test_numeric_delta_rounds_and_handles_zero() -> None:
    assert numeric_delta(300.0, 290.7) == (-9.3, -3.1)
    assert numeric_delta(0, 5) == (5.0, None)
    assert numeric_delta(0, 0) == (0.0, 0.0)
    assert numeric_delta("a", "b") == (None, None)


def test_natural_order_of_keys() -> None:
    assert sorted(["a100-10", "a100-2", "a100-1"], key=natural_key) == ["a100-1", "a100-2", "a100-10"]


# ------------------------------------------------------------------------------------------------ no change


def test_run_block_never_counts() -> None:
    old, _ = pair("helix")
    other = old.model_copy(deep=True)
    other.run.wall_s, other.run.host, other.run.versions = 999.0, "elsewhere", {"ortools": "0"}
    d = diff_plans(old, other)
    assert (d.changed, d.changes, d.summary) == (False, [], "Plan: no changes")
    assert exit_code(d, detailed=True) == 0


def test_inputs_are_context_not_changes() -> None:
    old, _ = pair("dynamo")
    other = old.model_copy(deep=True)
    other.inputs.spec.sha256 = "f" * 64
    other.inputs.options["time_limit_s"] = 30.0
    d = diff_plans(old, other)
    assert d.changed is False and exit_code(d, detailed=True) == 0
    assert {c.address for c in d.changes} == {"inputs.spec.sha256", "inputs.options.time_limit_s"}
    assert all(c.section is Section.inputs and not c.counted for c in d.changes)


def test_relative_tolerance() -> None:
    old, _ = pair("helix")
    other = old.model_copy(deep=True)
    other.metrics["throughput_tok_s"] = 300.0 * (1 + 1e-12)
    other.plan["nodes"][0]["tp_tok_s"] = 210.0 * (1 + 1e-12)
    assert diff_plans(old, other).changed is False
    strict = diff_plans(old, other, rel_tol=0.0)
    assert strict.changed is True
    assert [c.address for c in strict.counted_changes] == ["helix.node[a100-0].tp_tok_s"]


def test_detailed_exit_code_when_changed() -> None:
    d = diff_plans(*pair("splitwise"))
    assert (exit_code(d, detailed=False), exit_code(d, detailed=True)) == (0, 2)


# ------------------------------------------------------------------------------------------------ generic shapes


def test_unknown_fields_use_generic_keys_and_positions() -> None:
    """Fields a newer minor format adds are still diffed: keyed by name when possible, else by position."""
    old, _ = pair("dynamo")
    new = old.model_copy(deep=True)
    old.plan["totals"] = [{"name": "gpu_hours", "value_gpu_h": 10.0}]
    new.plan["totals"] = [{"name": "gpu_hours", "value_gpu_h": 12.0}, {"name": "carbon", "value_kgco2": 3.0}]
    old.plan["notes"] = [{"text": "a"}]
    new.plan["notes"] = [{"text": "b"}]
    new.plan["horizon"] = "day"
    ch = {c.address: c for c in diff_plans(old, new).changes}
    assert ch["dynamo.total[gpu_hours].value_gpu_h"].unit == "GPU-h"
    assert ch["dynamo.total[carbon]"].action is Action.add
    assert ch["dynamo.note[0].text"].after == "b"
    assert ch["dynamo.horizon"].action is Action.add


def test_duplicate_role_falls_back_to_role_and_machine() -> None:
    old, _ = pair("splitwise")
    new = old.model_copy(deep=True)
    new.plan["pools"] = [
        {"role": "both", "machine": "DGX-A100", "count": 10},
        {"role": "both", "machine": "DGX-H100", "count": 5},
    ]
    old.plan["pools"] = [{"role": "both", "machine": "DGX-A100", "count": 12}]
    ch = {c.address: c for c in diff_plans(old, new).changes}
    assert ch["splitwise.pool[both:DGX-A100].count"].delta == -2.0
    assert ch["splitwise.pool[both:DGX-H100]"].action is Action.add


def test_warnings_are_added_or_removed() -> None:
    old, _ = pair("helix")
    new = old.model_copy(deep=True)
    old.warnings = ["profile override: a"]
    new.warnings = ["profile override: b"]
    d = diff_plans(old, new)
    assert [(c.action, c.before or c.after) for c in d.changes] == [
        (Action.remove, "profile override: a"),
        (Action.add, "profile override: b"),
    ]
    assert d.changed and d.summary == "Plan: 2 other changes; throughput +0.0%"


# ------------------------------------------------------------------------------------------------ refusals


def test_different_kinds_are_refused_exit_1() -> None:
    with pytest.raises(PlansNotComparable, match="refusing to diff a helix plan .* against a dynamo plan") as exc:
        diff_plans(read_plan(PLANS / "helix_old.json"), read_plan(PLANS / "dynamo_old.json"))
    assert exc.value.exit_code == 1


def test_other_major_version_is_refused_exit_1(tmp_path: Path) -> None:
    data = json.loads((PLANS / "helix_old.json").read_text())
    data["format_version"] = "2.0.0"
    p = tmp_path / "future.json"
    p.write_text(json.dumps(data))
    with pytest.raises(PlansNotComparable, match="plan format 2.0.0") as exc:
        load_plan_for_diff(p)
    assert exc.value.exit_code == 1


def test_minor_version_difference_is_a_note(tmp_path: Path) -> None:
    data = json.loads((PLANS / "helix_old.json").read_text())
    data["format_version"] = "1.7.0"
    data["a_field_from_the_future"] = {"x": 1}
    p = tmp_path / "newer.json"
    p.write_text(json.dumps(data))
    newer = load_plan_for_diff(p)
    d = diff_plans(read_plan(PLANS / "helix_old.json"), newer)
    assert d.changed is False
    assert d.notes and "1.0.0 vs 1.7.0" in d.notes[0]
    assert [c.address for c in d.changes] == ["format_version"] and not d.changes[0].counted


def test_unreadable_plan_exit_1(tmp_path: Path) -> None:
    p = tmp_path / "broken.json"
    p.write_text("{not json")
    with pytest.raises(PlanReadError, match="not a plan JSON") as exc:
        load_plan_for_diff(p)
    assert exc.value.exit_code == 1
    with pytest.raises(PlanReadError, match="plan file not found"):
        load_plan_for_diff(tmp_path / "missing.json")


def test_fixture_plans_match_the_plan_schema() -> None:
    """The hand-made fixtures follow the shipped JSON Schema, so the diff is tested on valid plan documents."""
    import jsonschema

    schema = json.loads((Path(__file__).resolve().parents[2] / "planner" / "schemas" / "plan.schema.json").read_text())
    for path in sorted(PLANS.glob("*.json")):
        jsonschema.validate(json.loads(path.read_text()), schema)


# ------------------------------------------------------------------------------------------------ error bands
GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def _changed(plan: Plan, **metrics: float) -> Plan:
    return plan.model_copy(update={"metrics": {**plan.metrics, **metrics}})


def test_band_entries_are_not_diffed_as_metrics_but_as_their_metrics_band() -> None:
    """``ttft_p99_ms_err_ratio`` is the band of ``ttft_p99_ms``, not a figure: a wider band is no metric change
    (it read "ttft_p99_ms_err_ratio +62.7 %"); each metric with a band says whether its change is inside it."""
    from planner.render.diff import diff_json

    old = read_plan(GOLDEN / "splitwise-bloom176b-coding-rps10.json")
    ttft = float(old.metrics["ttft_p99_ms"] or 0)
    new = _changed(old, ttft_p99_ms_err_ratio=0.159, ttft_p99_ms=ttft * 1.12, throughput_rps_err_ratio=0.1)
    d = diff_plans(old, new)
    assert not [m.name for m in d.metrics if "_err_" in m.name]
    by_name = {m.name: m for m in d.metrics}
    assert by_name["ttft_p99_ms"].band == 0.159 and by_name["ttft_p99_ms"].within_band is True  # the wider band
    assert by_name["throughput_rps"].within_band is True and not by_name["throughput_rps"].changed
    assert by_name["solver.objective"].band is None and by_name["solver.objective"].within_band is None
    entries = {m["name"]: m for m in json.loads(diff_json(d))["metrics"]}
    assert entries["ttft_p99_ms"]["within_band"] is True and entries["ttft_p99_ms"]["band"] == 0.159


@pytest.mark.parametrize(("factor", "phrase"), [
    (1.062, "throughput +6.2% (noise: within the +-6.3% error band)"),
    (1.0635, "throughput +6.3%,"),  # +6.35 % is outside 6.33 %, though both print as 6.3
    (0.94, "throughput -6.0% (noise: within the +-6.3% error band)"),
])  # fmt: skip
def test_the_noise_verdict_compares_unrounded_and_prints_a_true_statement(factor: float, phrase: str) -> None:
    """A +6.2 % change against the 6.33 % band used to print "within the +-6% error band": false as printed. The
    band is compared unrounded and printed to one decimal, so "within" holds of the printed figures too."""
    old = read_plan(GOLDEN / "splitwise-bloom176b-coding-rps10.json")
    assert old.metrics["throughput_rps_err_ratio"] == 0.0633
    new = _changed(old, throughput_rps=float(old.metrics["throughput_rps"] or 0) * factor)
    d = diff_plans(old, new)
    assert phrase in d.summary + ",", d.summary
    (throughput,) = [m for m in d.metrics if m.name == "throughput_rps"]
    assert throughput.within_band is ("noise" in phrase)
