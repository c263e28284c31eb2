"""Sweep files: the points they give, and one located line per problem for the bad ones (nothing run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.cli.sweep import check_option
from planner.errors import SpecError
from planner.sweep.points import points
from planner.sweep.schema import Range, load_sweep
from tests.unit.sweep.conftest import sweep_file


def problems(path: Path, **kw: int) -> list[str]:
    with pytest.raises(SpecError) as exc:
        load_sweep(path, check_option, **kw)
    return exc.value.lines()


def test_product_is_the_cartesian_product_last_axis_fastest(small_sweep: Path) -> None:
    sweep = load_sweep(small_sweep, check_option)
    pts = list(points(sweep, {"workers": 1}))
    assert sweep.count() == 4 == len(pts)
    assert [p.values for p in pts] == [
        (("workload.rate_rps", 2), ("--objective", "cost")),
        (("workload.rate_rps", 2), ("--objective", "machines")),
        (("workload.rate_rps", 4), ("--objective", "cost")),
        (("workload.rate_rps", 4), ("--objective", "machines")),
    ]
    argv = pts[1].argv(sweep)
    assert argv[:2] == ["splitwise", str(sweep.spec_path)]
    assert argv[2:] == [
        "--designs", "HH", "--duration", "5s", "--objective", "machines", "--workers", "1",
        "--set", "workload.rate_rps=2",
    ]  # fmt: skip


def test_zip_and_zip_groups_move_together(tmp_path: Path) -> None:
    path = sweep_file(
        tmp_path,
        "combine: zip\n"
        "axes:\n"
        "  - set: workload.rate_rps\n"
        "    range: {start: 0.1, stop: 0.3, step: 0.1}\n"
        "  - zip:\n"
        "    - {set: workload.seed, values: [1, 2, 3]}\n"
        "    - {option: objective, values: [cost, power, machines]}\n",
    )
    pts = list(points(load_sweep(path, check_option)))
    assert [p.overrides for p in pts] == [
        ("workload.rate_rps=0.1", "workload.seed=1"),
        ("workload.rate_rps=0.2", "workload.seed=2"),
        ("workload.rate_rps=0.3", "workload.seed=3"),  # 0.1 + 2 * 0.1 written as 0.3
    ]
    assert [dict(p.options)["objective"] for p in pts] == ["cost", "power", "machines"]


def test_range_includes_stop_on_the_grid() -> None:
    assert Range(start=5, stop=60, step=5).values() == list(range(5, 61, 5))
    assert Range(start=1, stop=2, step=0.4).values() == [1.0, 1.4, 1.8]


def test_unknown_path_is_located_with_a_suggestion(tmp_path: Path) -> None:
    path = sweep_file(tmp_path, "axes:\n  - set: workload.rate_rpz\n    values: [1, 2]\n")
    assert problems(path) == [
        f"{path}:4:10: axes[0].set: workload.rate_rpz: path does not exist (did you mean 'rate_rps'?)"
    ]


def test_empty_axis(tmp_path: Path) -> None:
    path = sweep_file(tmp_path, "axes:\n  - set: workload.rate_rps\n    values: []\n")
    assert problems(path) == [f"{path}:4:5: axes[0]: empty axis: 'values' has no value"]
    path = sweep_file(tmp_path, "axes:\n  - set: workload.rate_rps\n    range: {start: 5, stop: 1, step: 1}\n")
    assert problems(path) == [f"{path}:5:12: axes[0].range: empty axis: stop 1 is below start 5"]


def test_type_mismatch_names_the_value(tmp_path: Path) -> None:
    path = sweep_file(tmp_path, "axes:\n  - set: workload.rate_rps\n    values: [1, fast]\n")
    assert problems(path) == [
        f"{path}:5:17: axes[0].values[1]: workload.rate_rps: Input should be a valid number, unable to parse "
        "string as a number (got 'fast')"
    ]


def test_bad_options_are_checked_by_the_command_parser(tmp_path: Path) -> None:
    path = sweep_file(tmp_path, "options: {desings: HH}\naxes:\n  - option: rps\n    values: [1, x]\n")
    assert problems(path) == [
        f"{path}:3:20: options.desings: no such option --desings for plan splitwise (did you mean '--designs'?)",
        f"{path}:6:17: axes[0].values[1]: Invalid value for '--rps': Input should be a valid number, unable to "
        "parse string as a number",
    ]
    path = sweep_file(tmp_path, "options: {out: x.json}\naxes:\n  - option: rps\n    values: [1]\n")
    assert problems(path) == [
        f"{path}:3:16: options.out: --out is set by plan sweep for every point and cannot be an option of the sweep"
    ]


def test_ten_million_points_need_max_points(tmp_path: Path) -> None:
    path = sweep_file(
        tmp_path,
        "axes:\n"
        "  - set: workload.rate_rps\n"
        "    range: {start: 1, stop: 10000, step: 1}\n"
        "  - set: workload.seed\n"
        "    range: {start: 0, stop: 999, step: 1}\n",
    )
    assert problems(path) == [
        f"{path}:4:3: axes: the sweep has 10,000,000 points, more than --max-points 10,000 (raise it to run them all)"
    ]
    assert load_sweep(path, check_option, max_points=10_000_000).count() == 10_000_000


def test_zip_lengths_must_agree(tmp_path: Path) -> None:
    path = sweep_file(
        tmp_path,
        "axes:\n  - zip:\n    - {set: workload.rate_rps, values: [1, 2]}\n    - {set: workload.seed, values: [1]}\n",
    )
    assert problems(path) == [f"{path}:5:5: axes[0].zip: zipped axes differ in length ([2, 1])"]


def test_unknown_key_and_missing_base_spec(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("spec: nowhere.yaml\nsolver: splitwise\naxis: []\n", encoding="utf-8")
    lines = problems(path)
    assert lines == [
        f"{path}:1:1: axes: required field is missing",
        f"{path}:3:7: axis: unknown key 'axis' (did you mean 'axes'?)",
    ]
    path.write_text("spec: nowhere.yaml\nsolver: splitwise\naxes: [{set: workload.seed, values: [1]}]\n")
    assert problems(path) == [f"{path}:1:7: spec: base spec not found: {tmp_path / 'nowhere.yaml'}"]
