"""plan diff rendering: the markdown PR comment (marker, folding, escaping), versioned JSON, the terminal table."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from planner.diff import DIFF_FORMAT_VERSION, diff_plans, parse_guardrails
from planner.plan import Plan, read_plan
from planner.render import diff as render

PLANS = Path(__file__).resolve().parents[1] / "fixtures" / "plans"


def pair(kind: str) -> tuple[Plan, Plan]:
    return read_plan(PLANS / f"{kind}_old.json"), read_plan(PLANS / f"{kind}_new.json")


def test_markdown_comment_structure() -> None:
    d = diff_plans(*pair("helix"), parse_guardrails("throughput<-3%,energy>+3%"), old_label="main", new_label="pr")
    md = render.render_markdown(d)
    lines = md.splitlines()
    assert lines[0] == "<!-- llmplan-diff:helix:tiny -->"
    assert lines[1] == "### plan diff: helix `tiny`"
    assert lines[3].startswith("**Plan: 5 layer moves, 1 node added") and lines[3].endswith("throughput -3.1%**")
    assert "**1 guardrail breached**" in md
    assert "| `throughput<-3%` | :x: breached | throughput_tok_s -3.1% (300 -&gt; 290.7 tok/s) |" not in md
    assert "| `throughput<-3%` | :x: breached | throughput_tok_s -3.1% (300 -> 290.7 tok/s) |" in md
    assert "| `energy>+3%` | n/a | neither helix plan has energy |" in md
    assert "| throughput_tok_s | 300 tok/s | 290.7 tok/s | -9.3 tok/s (-3.1%) |" in md
    # the long list is folded, after the summary, guardrails and metrics
    details = md.index("<details><summary>48 changes</summary>")
    assert md.index("| throughput_tok_s |") < details < md.index("`helix.node[a100-0].layers`")
    assert "| ~ | `helix.node[a100-0].layers` | 40 | 42 | +2 (+5.0%) | layer range moved |" in md
    assert "<details><summary>context: 1 input change (not counted)</summary>" in md
    assert md.count("<details>") == md.count("</details>") == 3
    assert md.endswith("</details>\n")


def test_markdown_marker_can_be_set_or_dropped() -> None:
    d = diff_plans(*pair("dynamo"))
    assert render.render_markdown(d, "llmplan-diff:ci").startswith("<!-- llmplan-diff:ci -->\n")
    assert render.render_markdown(d, "").startswith("### plan diff: dynamo")


def test_markdown_no_changes_is_short() -> None:
    old, _ = pair("splitwise")
    md = render.render_markdown(diff_plans(old, old))
    assert "**Plan: no changes**" in md and "changes</summary>" not in md
    assert "<details><summary>16 unchanged metrics</summary>" in md


def test_markdown_escapes_user_text_and_truncates() -> None:
    old, new = pair("dynamo")
    old.warnings = []
    new.warnings = [f"<b>w|{i}</b>" for i in range(render.MARKDOWN_MAX_ROWS + 5)]
    md = render.render_markdown(diff_plans(old, new))
    assert "<b>" not in md and "&lt;b&gt;w\\|0&lt;/b&gt;" in md
    # 25 counted changes in the dynamo pair plus the new warnings, beyond the rows shown
    assert f"... and {25 + render.MARKDOWN_MAX_ROWS + 5 - render.MARKDOWN_MAX_ROWS} more" in md


def test_diff_json_is_versioned_canonical_and_deterministic() -> None:
    text = render.diff_json(diff_plans(*pair("splitwise"), parse_guardrails("cost>+3%")))
    assert text == render.diff_json(diff_plans(*pair("splitwise"), parse_guardrails("cost>+3%")))
    data = json.loads(text)
    assert data["diff_format_version"] == DIFF_FORMAT_VERSION and list(data) == sorted(data)
    assert data["changed"] is True and data["kind"] == "splitwise"
    change = next(c for c in data["changes"] if c["address"] == "splitwise.pool[prompt].count")
    assert change == {
        "action": "~",
        "address": "splitwise.pool[prompt].count",
        "after": 22,
        "before": 20,
        "counted": True,
        "delta": 2.0,
        "delta_pct": 10.0,
        "reason": "count changed",
        "section": "plan",
        "unit": "",
    }
    assert data["guardrails"][0]["breached"] is True and data["guardrails"][0]["metric"] == "cost_usd_h"


def test_table_shows_summary_first_and_addresses_verbatim() -> None:
    console = Console(width=160, record=True, color_system=None)
    render.render_table(diff_plans(*pair("dynamo"), parse_guardrails("energy>+3%")), console, verbose=True)
    text = console.export_text()
    assert text.splitlines()[0] == (
        "Plan: 1 epoch added, 1 removed, 2 changed, 1 pool added, 2 changed; power +2.5%, energy -2.2%"
    )
    assert "dynamo.epoch[08:00].pool[LL].freq_mhz" in text  # brackets are not eaten as rich markup
    assert "-380 MHz (-19.2%)" in text and "GPU frequency changed" in text
    assert "energy>+3%" in text and "ok" in text
    assert "Context (not counted as changes)" in text and "inputs.spec.sha256" in text
