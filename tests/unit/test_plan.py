"""The plan document: canonical JSON, determinism, schema, atomic writes, version checks."""

import json
from pathlib import Path

import jsonschema
import pytest

from planner.errors import SpecError
from planner.plan import (
    Assumption,
    InputFile,
    Inputs,
    Plan,
    SolverBlock,
    plan_json,
    plan_json_schema,
    read_plan,
    write_plan,
)


def sample_plan(**kw: object) -> Plan:
    base = dict(
        kind="helix",
        name="t",
        inputs=Inputs(spec=InputFile(path="s.yaml", sha256="0" * 64), options={"b": 1, "a": 2}),
        solver=SolverBlock(backend="cpsat", status="optimal", objective=1289.5557702751735, best_bound=1300.0),
        plan={  # the smallest block the helix contract accepts
            "model": "m",
            "layers": 1,
            "nodes": [
                {"name": "x", "gpu": "A100", "profile_gpu": "A100", "layer_start": 0, "layer_end": 1, "tp_tok_s": 1 / 3}
            ],
            "edges": [],
        },
        metrics={"throughput_tok_s": 1289.5557702751735, "flow_vs_bound": 0.99},
        assumptions=[Assumption(subject="tp", basis="measured", detail="Helix tables")],
    )
    base.update(kw)
    return Plan(**base)  # type: ignore[arg-type]


def test_canonical_json_is_sorted_rounded_and_newline_terminated() -> None:
    text = plan_json(sample_plan())
    assert text.endswith("}\n")
    data = json.loads(text)
    assert list(data) == sorted(data)
    assert data["plan"]["nodes"][0]["tp_tok_s"] == 0.3333333333
    assert data["metrics"]["throughput_tok_s"] == 1289.555770


def test_same_inputs_same_bytes_except_run() -> None:
    a, b = sample_plan(), sample_plan()
    b.run.wall_s = 99.0
    da, db = json.loads(plan_json(a)), json.loads(plan_json(b))
    da.pop("run"), db.pop("run")
    assert da == db


def test_metric_names_need_units() -> None:
    with pytest.raises(ValueError, match="unit suffix"):
        sample_plan(metrics={"throughput": 1.0})


def test_plan_validates_against_shipped_schema() -> None:
    from planner.paths import REPO_ROOT

    shipped = json.loads((REPO_ROOT / "planner" / "schemas" / "plan.schema.json").read_text())
    assert shipped == json.loads(json.dumps(plan_json_schema())), "run `make schema` to refresh the schema"
    jsonschema.validate(json.loads(plan_json(sample_plan())), shipped)


def test_write_is_atomic_and_read_back(tmp_path: Path) -> None:
    p = tmp_path / "sub" / "plan.json"
    write_plan(sample_plan(), p)
    assert [x.name for x in p.parent.iterdir()] == ["plan.json"]
    assert read_plan(p).solver.objective == pytest.approx(1289.555770)


def test_reader_ignores_unknown_keys_and_refuses_other_major(tmp_path: Path) -> None:
    data = json.loads(plan_json(sample_plan()))
    data["future_field"] = {"x": 1}
    data["format_version"] = "1.7.0"
    p = tmp_path / "p.json"
    p.write_text(json.dumps(data))
    assert read_plan(p).kind == "helix"
    data["format_version"] = "2.0.0"
    p.write_text(json.dumps(data))
    with pytest.raises(SpecError, match="unsupported major version"):
        read_plan(p)


def test_gap_and_describe() -> None:
    from planner.solver import SolveReport

    r = SolveReport(backend="cpsat", status="time_limit", objective=812.0, best_bound=829.5)
    assert r.gap == pytest.approx(17.5 / 812)
    assert r.describe() == "time_limit, gap 2.16%"


def test_float_noise_is_not_a_gap() -> None:
    from planner.solver import relative_gap

    assert relative_gap(7436.85, 7436.85 * (1 + 3e-12)) == 0.0
    assert relative_gap(100.0, 101.0) == pytest.approx(0.01)
    assert relative_gap(None, 1.0) is None
