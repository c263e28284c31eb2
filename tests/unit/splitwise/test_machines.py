"""Machine catalogue and design names."""

from __future__ import annotations

import pytest

from planner.errors import SpecError, UsageError
from planner.spec.loader import load_spec
from planner.spec.sections.splitwise import SplitwiseSection
from planner.splitwise.machines import parse_design, parse_designs, resolve_machines


def test_catalogue_figures(machines) -> None:
    a100, h100, cap = machines["DGX-A100"], machines["DGX-H100"], machines["DGX-H100-cap"]
    assert (a100.cost_usd_h, h100.cost_usd_h, cap.cost_usd_h) == (17.68, 38.08, 38.08)
    assert (a100.power_kw, h100.power_kw) == pytest.approx((3.2, 5.6))  # 8 x GPU TDP
    assert cap.power_kw == pytest.approx(0.7 * 5.6)
    assert a100.interconnect_bytes_s == pytest.approx(200e9) and h100.interconnect_bytes_s == pytest.approx(400e9)
    assert a100.instance_memory_bytes == 8 * 80 * 1024**3


@pytest.mark.parametrize(
    ("text", "name", "prompt", "token"),
    [
        ("HHcap", "HHcap", "DGX-H100", "DGX-H100-cap"),
        ("HA", "HA", "DGX-H100", "DGX-A100"),
        ("AA", "AA", "DGX-A100", "DGX-A100"),
        ("baseline-a100", "baseline-a100", "DGX-A100", "DGX-A100"),
        ("Baseline-DGX-H100", "baseline-h100", "DGX-H100", "DGX-H100"),
        ("dgx-h100/dgx-a100", "HA", "DGX-H100", "DGX-A100"),
    ],
)
def test_design_names(machines, text, name, prompt, token) -> None:
    d = parse_design(text, machines)
    assert (d.name, d.prompt.name, d.token.name) == (name, prompt, token)
    assert d.kind == ("baseline" if name.startswith("baseline") else "split")


def test_unknown_design_suggests_a_name(machines) -> None:
    with pytest.raises(UsageError, match="did you mean 'HHcap'"):
        parse_design("HHcpa", machines)
    assert [d.name for d in parse_designs(["HA", "HA", "AA"], machines)] == ["HA", "AA"]


def test_a_spec_adds_machines_and_overrides_prices(db, tmp_path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(
        "model: llama3.1-70b\n"
        "workload: {input_tokens: {distribution: fixed, mean: 100}, output_tokens: {distribution: fixed, mean: 10}}\n"
        "pricing: {gpu_usd_h: {A100-80G: 2.0}}\n"
        "splitwise:\n"
        "  machines:\n"
        "    L40S-box: {short: L, gpu: L40S, gpus: 8, machine_tdp_kw: 4}\n"
    )
    loaded = load_spec(spec, db)
    ms = resolve_machines(db, loaded, loaded.spec.splitwise or SplitwiseSection())
    box = ms["L40S-box"]
    assert box.cost_usd_h == pytest.approx(8 * db.gpus["L40S"].price_usd_h)  # default: GPU list price
    assert box.gpu_memory_bytes == pytest.approx(48e9)
    assert ms["DGX-A100"].cost_usd_h == pytest.approx(16.0)  # pricing.gpu_usd_h wins over the catalogue
    assert parse_design("LA", ms).prompt.name == "L40S-box"


def test_unknown_gpu_in_a_spec_machine_points_at_the_line(db, tmp_path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(
        "model: llama3.1-70b\n"
        "workload: {input_tokens: {distribution: fixed, mean: 100}, output_tokens: {distribution: fixed, mean: 10}}\n"
        "splitwise:\n"
        "  machines:\n"
        "    X: {short: X, gpu: B300}\n"
    )
    loaded = load_spec(spec, db)
    with pytest.raises(SpecError) as exc:
        resolve_machines(db, loaded, loaded.spec.splitwise or SplitwiseSection())
    assert "s.yaml:5" in str(exc.value) and "splitwise.machines.X.gpu" in str(exc.value)
