"""Every shipped golden plan (and a simulation) drawn at 80 columns: no line wider, nothing cut, key figures shown."""

from __future__ import annotations

import io
import shlex
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console

from planner.plan import Plan
from planner.render.fit import fit_table, fold_command
from planner.render.simulation import render_tables as render_simulation
from planner.render.tables import render_plan
from planner.report_data import Column, fmt_num

GOLDEN = sorted((Path(__file__).parents[1] / "golden").glob("*.json"))


def _draw(draw, width: int) -> str:  # type: ignore[no-untyped-def]
    console = Console(file=io.StringIO(), width=width, highlight=False, soft_wrap=False, color_system=None)
    draw(console)
    return console.file.getvalue()  # type: ignore[attr-defined]


def _key_figures(plan: Plan) -> list[str]:
    """What a reader must find whole in the terminal report of ``plan``."""
    b = plan.plan
    if plan.kind == "helix":
        figures = [fmt_num(plan.metrics["throughput_tok_s"])]
        for n in b["nodes"]:
            figures += [n["name"], f"[{n['layer_start']}, {n['layer_end']})" if n["layers"] else "-"]
        return figures + [f"baseline {x['name']}" for x in b.get("baselines", [])]
    if plan.kind == "splitwise":
        designs = [r["design"] + ("*" if r["design"] == b.get("design") else "") for r in b["designs"]]
        return designs + [s["name"] for s in b["slos"]] + [p["machine"] for p in b["pools"]]
    if plan.kind == "dynamo":
        return [c["class"] for c in b["classes"]] + [x["name"] for x in b["baselines"]] + ["plan"]
    raise AssertionError(f"no key figures for {plan.kind}")


@pytest.mark.parametrize("path", GOLDEN, ids=[p.stem for p in GOLDEN])
@pytest.mark.parametrize("verbose", [False, True], ids=["plain", "verbose"])
def test_golden_report_fits_80_columns(path: Path, verbose: bool) -> None:
    plan = Plan.model_validate_json(path.read_text())
    text = _draw(lambda c: render_plan(plan, c, verbose=verbose), 80)
    lines = text.splitlines()
    too_wide = [line for line in lines if cell_len(line) > 80]
    assert not too_wide, f"{len(too_wide)} lines over 80 columns, first: {too_wide[0]!r}"
    assert "…" not in text, "a cell was cut"
    for figure in _key_figures(plan):
        assert any(figure in line for line in lines), f"{figure!r} missing or broken across lines"


def test_simulation_report_fits_80_columns() -> None:
    from planner.sim.run import SimOptions, simulate
    from tests.unit.sim.helpers import PLANS, TINY_PROFILES

    run = simulate([PLANS / "chain2.json", PLANS / "fork.json"], SimOptions(duration_s=2.0, rps=4.0), TINY_PROFILES)
    for verbose in (False, True):
        text = _draw(lambda c, v=verbose: render_simulation(run.document, c, verbose=v), 80)
        assert max(cell_len(line) for line in text.splitlines()) <= 80
        assert "…" not in text
        for p in run.document.placements:
            assert p.plan in text and fmt_num(p.bound_tok_s) in text


def test_wide_terminal_keeps_the_natural_table() -> None:
    cols = [Column("name"), Column("tok/s", numeric=True), Column("note", wrap=True, detail=True)]
    rows = [("a100-0", "2,045.6", "a long note " * 8)]
    assert fit_table(cols, rows, 200).widths is None
    narrow = fit_table(cols, rows, 40)
    assert narrow.moved == () and narrow.widths is not None and sum(narrow.widths) + 10 <= 40
    assert narrow.widths[:2] == (6, 7)  # figures keep their width; only the note folds


def test_detail_columns_move_under_a_table_too_narrow() -> None:
    cols = [Column("design"), Column("USD/h", numeric=True), Column("pools", wrap=True, detail=True)]
    rows = [("HHcap*", "457", "6P DGX-H100-cap-extended-name + 6T DGX-H100-cap-extended-name")]
    fit = fit_table(cols, rows, 40)
    assert fit.keep == (0, 1) and fit.moved == (2,)


def test_folded_command_pastes_back_to_the_same_command() -> None:
    cmd = (
        "vllm serve bigscience/bloom --tensor-parallel-size 8 --kv-transfer-config "
        """'{"kv_connector":"NixlConnector","kv_role":"kv_producer"}'"""
    )
    lines = fold_command(cmd, 72, indent=2)  # every argument fits a continuation line
    assert len(lines) > 1 and all(cell_len(line) <= 72 for line in lines)
    assert all(line.endswith(" \\") for line in lines[:-1])
    pasted = " ".join(line.removesuffix(" \\").strip() for line in lines)
    assert shlex.split(pasted) == shlex.split(cmd)
    assert fold_command(cmd, 200) == [cmd]


@pytest.mark.parametrize("kind", ["helix", "splitwise", "dynamo"])
def test_plan_diff_table_fits_80_columns(kind: str) -> None:
    from planner.diff import diff_plans
    from planner.plan import read_plan
    from planner.render.diff import render_table

    fixtures = Path(__file__).parents[1] / "fixtures" / "plans"
    diff = diff_plans(read_plan(fixtures / f"{kind}_old.json"), read_plan(fixtures / f"{kind}_new.json"))
    text = _draw(lambda c: render_table(diff, c, verbose=True), 80)
    summary, *rest = text.splitlines()
    assert summary == diff.summary  # one line at any width (the terminal wraps it; CI logs grep it whole)
    assert max(cell_len(line) for line in rest) <= 80
    assert "…" not in text
    for change in diff.counted_changes:  # the why column moved under the table names each change in full
        assert f"{change.address} - why: {change.reason.value}" in text
