"""Edges of the plan writer that mutation testing found untested (issue 17): plain JSON types in the plan dict, the
UTC start time, the temp file of an atomic write, the reader's messages, and the opening of the contracts'
nested definitions in the JSON Schema."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from planner.contracts import CONTRACTS
from planner.errors import SpecError, SpecProblem
from planner.plan import _contract_defs, plan_json, plan_json_schema, plan_to_dict, read_plan, run_info, write_atomic
from tests.unit.test_plan import sample_plan


def _plain(value: Any) -> bool:
    """Only the types a JSON parser returns (no enums, tuples or other subclasses)."""
    if type(value) is dict:
        return all(type(k) is str and _plain(v) for k, v in value.items())
    if type(value) is list:
        return all(_plain(v) for v in value)
    return value is None or type(value) in (str, int, float, bool)


def test_the_plan_dict_holds_plain_json_types() -> None:
    data = plan_to_dict(sample_plan())
    assert type(data["solver"]["status"]) is str and data["solver"]["status"] == "optimal"  # not the Status enum
    assert _plain(data)


@pytest.fixture
def far_east() -> Iterator[None]:
    """Local time 9 hours ahead of UTC (POSIX TZ: the offset is UTC minus local)."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "XXX-09"
    time.tzset()
    try:
        yield
    finally:
        if old is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = old
        time.tzset()


def test_the_start_time_is_utc_whatever_the_local_zone(far_east: None) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    started = datetime.strptime(run_info(0.0).started_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    after = datetime.now(UTC)
    assert before <= started <= after


def test_the_temp_file_is_hidden_next_to_its_target(tmp_path: Path) -> None:
    target = tmp_path / "plan.json"
    seen: list[str] = []

    def write(fh: Any) -> None:
        seen.extend(p.name for p in tmp_path.iterdir())
        fh.write(b"{}\n")

    write_atomic(target, write)
    (tmp,) = seen
    assert re.fullmatch(r"\.plan\.json\..+", tmp), tmp  # hidden, named after its target, in its folder
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]


def test_the_writers_own_error_survives_a_vanished_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "plan.json"

    def write(fh: Any) -> None:
        for p in tmp_path.iterdir():  # something else removed the temp file before the failure
            p.unlink()
        raise RuntimeError("writer failed")

    with pytest.raises(RuntimeError, match="^writer failed$"):
        write_atomic(target, write)
    assert list(tmp_path.iterdir()) == []


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "p.json"
    p.write_text(text)
    return p


def test_the_reader_names_the_file_and_says_it_wanted_a_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SpecError) as exc:
        read_plan(_write(tmp_path, "{"))
    (line,) = exc.value.lines()
    assert line.startswith("p.json:1:2: <root>: not a plan JSON: "), line
    with pytest.raises(SpecError) as exc:
        read_plan(_write(tmp_path, "[1]"))
    assert exc.value.problems == [SpecProblem("p.json", "", "not a plan JSON (needs format_version and kind)")]


def test_the_reader_default_is_this_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    p = _write(tmp_path, plan_json(sample_plan()))
    with pytest.raises(SpecError) as exc:
        read_plan(p, expected_kind="dynamo")
    assert exc.value.lines() == ["p.json: kind: this command needs a dynamo plan, got kind 'helix'"]


def test_a_single_bad_field_has_no_count_suffix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    data = json.loads(plan_json(sample_plan()))
    data["plan"]["layers"] = "many"
    with pytest.raises(SpecError) as exc:
        read_plan(_write(tmp_path, json.dumps(data)))
    assert exc.value.lines() == [
        "p.json: plan.layers: invalid plan document: Input should be a valid integer, unable to parse string as an "
        "integer"
    ]


# ----------------------------------------------------------------------------------------- JSON Schema
def _reachable(defs: dict[str, Any], root: str) -> set[str]:
    """Names of the definitions reachable from root through ``#/$defs/...`` references (root included)."""
    out: set[str] = set()
    todo = [root]
    while todo:
        name = todo.pop()
        if name not in out:
            out.add(name)
            todo += re.findall(r'"#/\$defs/([^"]+)"', json.dumps(defs[name]))
    return out


def test_every_definition_a_contract_reaches_is_open_and_the_documents_own_stay_closed() -> None:
    schema = plan_json_schema()
    defs = schema["$defs"]
    opened: set[str] = set()
    for contract in CONTRACTS.values():
        reach = _reachable(defs, contract.__name__)
        assert len(reach) > 3
        opened |= reach
    for name in opened:
        assert "additionalProperties" not in defs[name], name
    for name in ("InputFile", "Inputs", "SolverBlock", "RunInfo", "Assumption"):
        assert name not in opened and defs[name]["additionalProperties"] is False
    assert schema["additionalProperties"] is False


def test_contract_definitions_follow_local_references_only_once() -> None:
    defs: dict[str, Any] = {
        "A": {"properties": {"b": {"$ref": "#/$defs/B"}, "x": {"$ref": "#/$defs/Missing"}, "y": {"$ref": "y.json"}}},
        "B": {"items": {"$ref": "#/$defs/A"}},  # a cycle back to A
        "C": {"type": "string"},  # not reached
    }
    assert _contract_defs(defs, "A") == [defs["A"], defs["B"]]
    assert _contract_defs(defs, "Missing") == []
