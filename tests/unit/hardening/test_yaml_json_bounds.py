"""Root cause 1 of issue 18: explicit YAML tags, deep nesting, alias bombs, endless files and PyYAML's own
``"<unicode string>"`` positions each end in one located ``SpecError`` line (exit 2), never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planner.errors import SpecError
from planner.inputfiles import MAX_DEPTH, load_json_file
from planner.spec.loader import load_spec
from planner.yamlmarks import MAX_VALUES, load_yaml_text

TINY = Path(__file__).resolve().parents[2] / "fixtures" / "specs" / "tiny.yaml"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("!!timestamp x", "cannot read 'x' as !!timestamp"),
        ("!!bool abc", "cannot read 'abc' as !!bool"),
        ("!!int abc", "cannot read 'abc' as !!int"),
        ("!!int ''", "cannot read '' as !!int"),
        ("!!float x", "cannot read 'x' as !!float"),
        ("!!python/object/apply:os.system [echo]", "unsupported YAML tag '!!python/object/apply:os.system'"),
        ("!custom 3", "unsupported YAML tag '!custom'"),
    ],
)
def test_explicit_tags_in_set_values_are_one_line_errors(profile_db, value: str, message: str) -> None:
    with pytest.raises(SpecError) as exc:
        load_spec(TINY, profile_db, [f"name={value}"])
    (line,) = exc.value.lines()
    assert line.startswith("--set: name: cannot parse value")
    assert message in line


@pytest.mark.parametrize("tagged", ["!!int abc", "!!bool maybe", "!!binary aGk=", "!!set {a: null}"])
def test_explicit_tags_in_a_spec_name_file_line_and_column(tmp_path: Path, profile_db, tagged: str) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(TINY.read_text() + f"description: {tagged}\n")
    line_no = TINY.read_text().count("\n") + 1
    with pytest.raises(SpecError) as exc:
        load_spec(spec, profile_db)
    (line,) = exc.value.lines()
    assert line.startswith(f"{spec}:{line_no}:14: description: ")
    assert "<unicode string>" not in line


def test_deep_nesting_is_refused_at_its_position() -> None:
    text = "a: " + "[" * 5000 + "]" * 5000 + "\n"
    with pytest.raises(SpecError) as exc:
        load_yaml_text(text, "deep.yaml")
    (line,) = exc.value.lines()
    assert line.startswith("deep.yaml:1:")
    assert f"nesting deeper than {MAX_DEPTH} levels" in line


def test_nesting_within_the_bound_still_loads() -> None:
    depth = MAX_DEPTH - 1
    data, _ = load_yaml_text("[" * depth + "1" + "]" * depth, "ok.yaml")
    for _ in range(depth):
        data = data[0]
    assert data == 1


def test_billion_laughs_stops_at_the_value_bound() -> None:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i, name in enumerate("bcdefghij"):
        prev = "abcdefghij"[i]
        lines.append(f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]")
    with pytest.raises(SpecError) as exc:
        load_yaml_text("\n".join(lines) + "\n", "laughs.yaml")
    (line,) = exc.value.lines()
    assert f"more than {MAX_VALUES:,} values once aliases are expanded" in line
    assert line.startswith("laughs.yaml:")


def test_an_alias_that_contains_itself_is_refused() -> None:
    with pytest.raises(SpecError, match="alias that contains itself"):
        load_yaml_text("a: &a [*a]\n", "rec.yaml")


def test_control_characters_are_located_without_unicode_string() -> None:
    with pytest.raises(SpecError) as exc:
        load_yaml_text('model: x\nname: "a\x01b"\n', "ctl.yaml")
    (line,) = exc.value.lines()
    assert line.startswith("ctl.yaml:2:9: ")
    assert "<unicode string>" not in line


def test_endless_and_directory_inputs(profile_db, tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="spec file is larger than 8 MiB"):
        load_spec(Path("/dev/zero"), profile_db)
    with pytest.raises(SpecError, match="is a directory, expected a spec file"):
        load_spec(tmp_path, profile_db)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"model: x\n\xff\xfe\n")
    with pytest.raises(SpecError, match="spec file is not UTF-8 text"):
        load_spec(binary, profile_db)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 5000 + "]" * 5000, "nesting deeper than"),
        ('{"a": ' * 200 + "1" + "}" * 200, f"nesting deeper than {MAX_DEPTH} levels"),
        ('{"layers": ' + "9" * 5000 + "}", "not a plan JSON"),
        ('{"bound": ' + "9" * 400 + "}", "integer of 400 digits is out of range"),
        ('{"bound": NaN}', "NaN is not valid JSON"),
        ('{"bound": 1e999}', "out of range"),
        ("{not json", "not a plan JSON"),
    ],
)
def test_plan_json_readers_bound_depth_and_numbers(tmp_path: Path, text: str, message: str) -> None:
    p = tmp_path / "plan.json"
    p.write_text(text)
    with pytest.raises(SpecError) as exc:
        load_json_file(p, "plan.json", "plan")
    (line,) = exc.value.lines()
    assert line.startswith("plan.json")
    assert message in line


def test_deep_plan_json_through_diff_and_simulate(tmp_path: Path, runner) -> None:
    from planner.cli import app

    deep = tmp_path / "deep.json"
    deep.write_text(
        json.dumps({"format_version": "1.0", "kind": "helix"})[:-1] + ', "x": ' + "[" * 5000 + "]" * 5000 + "}"
    )
    for args in (["diff", str(deep), str(deep)], ["simulate", str(deep)]):
        result = runner.invoke(app, args)
        assert result.exit_code in (1, 2), result.output
        assert "nesting deeper than" in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
