"""Budget arithmetic of the artifact (reference README 3.1): iso-power and iso-cost cluster sizes, exactly."""

from __future__ import annotations

import pytest

from planner.splitwise.machines import parse_design
from planner.splitwise.model import (
    Point,
    baseline_machines_within,
    budget_line,
    cost_usd_h,
    power_kw,
    token_machines_within,
    within_budget,
)


@pytest.fixture
def budgets(machines):
    h100 = machines["DGX-H100"]
    return {"power": 40 * h100.power_kw, "cost": 40 * h100.cost_usd_h}


def test_40_h100_equal_70_a100_by_power_and_86_by_cost(machines, budgets) -> None:
    base_a100 = parse_design("baseline-a100", machines)
    assert budgets["power"] == pytest.approx(224.0)  # 40 x 8 x 700 W
    assert baseline_machines_within(base_a100, None, budgets["power"]) == 70
    assert baseline_machines_within(base_a100, budgets["cost"], None) == 86


def test_worked_values_of_the_reference(machines, budgets) -> None:
    hhcap = parse_design("HHcap", machines)
    ha = parse_design("HA", machines)
    assert token_machines_within(hhcap, 25, None, budgets["power"]) == 21
    assert token_machines_within(ha, 25, None, budgets["power"]) == 26
    assert token_machines_within(ha, 30, budgets["cost"], None) == 21


def test_machine_tdp_basis_gives_62_a100(machines) -> None:
    a100, h100 = machines["DGX-A100"], machines["DGX-H100"]
    assert a100.power_kw_machine_tdp == pytest.approx(6.5)
    assert int(40 * h100.power_kw_machine_tdp // a100.power_kw_machine_tdp) == 62


def test_cost_and_power_orderings_at_equal_counts(machines) -> None:
    p = Point(10, 10)
    ha, hh, hhcap = (parse_design(n, machines) for n in ("HA", "HH", "HHcap"))
    assert cost_usd_h(ha, p) < cost_usd_h(hh, p) == cost_usd_h(hhcap, p)
    assert power_kw(hhcap, p) < power_kw(hh, p)


def test_budget_line_fills_the_budget(machines, budgets) -> None:
    ha = parse_design("HA", machines)
    line = budget_line(ha, budgets["cost"], budgets["power"])
    assert line[0] == Point(1, token_machines_within(ha, 1, budgets["cost"], budgets["power"]))
    for pt in line:
        assert within_budget(ha, pt, budgets["cost"], budgets["power"])
        assert not within_budget(ha, Point(pt.prompt, pt.token + 1), budgets["cost"], budgets["power"])
    assert all(pt.token >= 1 for pt in line)
    assert budget_line(ha, 10.0, None) == []
