"""The verifier recomputes the plan without the solver and catches inconsistent plans."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest

from planner.dynamo.baselines import all_baselines
from planner.dynamo.contract import DynamoPlanBlock
from planner.dynamo.extract import plan_block
from planner.dynamo.solve import solve
from planner.dynamo.verify import check_plan, verify_plan
from planner.errors import VerificationError
from planner.solver import SolveOptions


@pytest.fixture
def solved(tiny):
    day = solve(tiny, SolveOptions())
    block, _m, _t = plan_block(tiny, day, all_baselines(tiny, day.epochs))
    return tiny, block.dump()


def test_verifier_does_not_import_ortools() -> None:
    code = "import sys, planner.dynamo.verify; print('ortools' in ' '.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def _typed(block: dict) -> DynamoPlanBlock:
    """A (tampered) plan block read back through the contract, as the verifier takes it."""
    return DynamoPlanBlock.model_validate(block)


def test_clean_plan_passes(solved) -> None:
    pb, block = solved
    verify_plan(pb, _typed(block))
    assert check_plan(pb, _typed(block)) == []


def first_config(block):
    for e in block["epochs"]:
        for p in e["pools"]:
            for c in p["configs"]:
                if c["classes"]:
                    return e, p, c
    raise AssertionError("no configuration with load")


def test_capacity_and_slo_violation_detected(solved) -> None:
    pb, block = solved
    bad = copy.deepcopy(block)
    _e, _p, cfg = first_config(bad)
    k = next(iter(cfg["classes"]))
    cfg["classes"][k]["provisioned_rps"] *= 1000  # far too much load for its instances
    errs = check_plan(pb, _typed(bad))
    assert any("capacity exceeded" in e for e in errs)
    assert any(f"serve[{k}]" in e for e in errs)


def test_energy_tampering_detected(solved) -> None:
    pb, block = solved
    bad = copy.deepcopy(block)
    _e, _p, cfg = first_config(bad)
    cfg["energy_wh"] *= 0.9
    with pytest.raises(VerificationError, match="energy"):
        verify_plan(pb, _typed(bad))


def test_budget_and_gpu_count_detected(solved) -> None:
    pb, block = solved
    bad = copy.deepcopy(block)
    e, _p, cfg = first_config(bad)
    cfg["instances"] += 10
    errs = check_plan(pb, _typed(bad))
    assert any(f"gpus {e['gpus']} !=" in x for x in errs) and any("energy" in x for x in errs)


def _all_configs(block):
    return [c for e in block["epochs"] for p in e["pools"] for c in p["configs"] if c["classes"]]


def test_the_error_names_the_first_five_problems_and_counts_the_rest(solved) -> None:
    """``verify_plan`` reports ``check_plan``'s problems in order: the first five, then ``(+N more)``."""
    pb, block = solved
    few = copy.deepcopy(block)
    _all_configs(few)[0]["energy_wh"] *= 0.9
    errs = check_plan(pb, _typed(few))
    assert 1 <= len(errs) <= 5
    with pytest.raises(VerificationError) as exc:
        verify_plan(pb, _typed(few))
    assert str(exc.value) == "dynamo plan failed verification: " + "; ".join(errs)
    many = copy.deepcopy(block)
    for cfg in _all_configs(many):
        cfg["energy_wh"] *= 0.9
    errs = check_plan(pb, _typed(many))
    assert len(errs) > 6
    with pytest.raises(VerificationError) as exc:
        verify_plan(pb, _typed(many))
    assert str(exc.value) == ("dynamo plan failed verification: " + "; ".join(errs[:5]) + f" (+{len(errs) - 5} more)")


def test_an_epoch_out_of_order_is_named(solved) -> None:
    pb, block = solved
    bad = copy.deepcopy(block)
    bad["epochs"][0]["start"], bad["epochs"][1]["start"] = bad["epochs"][1]["start"], bad["epochs"][0]["start"]
    errs = check_plan(pb, _typed(bad))
    first, second = pb.epochs[0].label, pb.epochs[1].label
    assert errs[:2] == [
        f"epoch[{second}]: epoch 0 should start at {first}",
        f"epoch[{first}]: epoch 1 should start at {second}",
    ]


def test_latency_at_reads_the_profile_sweep(tiny) -> None:
    """The verifier's own latency lookup: linear in the measured sweep, infinite past its last load."""
    from planner.dynamo.profile import LATENCIES
    from planner.dynamo.verify import latency_at

    (k, c), sw = next(iter(sorted(tiny.profiles.sweeps.items(), key=lambda kv: (kv[0][0], kv[0][1].key))))
    loads = [float(x) for x in sw.load_rps]
    first = latency_at(tiny, k, c, loads[0])
    assert first == {m: pytest.approx(float(sw.lat[m][0])) for m in LATENCIES}
    mid = latency_at(tiny, k, c, (loads[0] + loads[1]) / 2)
    assert mid == {m: pytest.approx((float(sw.lat[m][0]) + float(sw.lat[m][1])) / 2) for m in LATENCIES}
    last = latency_at(tiny, k, c, loads[-1] * (1 + 5e-7))  # within the relative 1e-6 of the last load
    assert last == {m: pytest.approx(float(sw.lat[m][-1])) for m in LATENCIES}
    assert latency_at(tiny, k, c, loads[-1] * (1 + 2e-6)) == {m: float("inf") for m in LATENCIES}
