"""Root cause 6 of issue 18: profile tables are checked row by row when first read (required columns, numeric,
finite, positive where physical) and a bad row is ``file:line: column: message`` with exit 2; catalogue errors name
the file (shipped or the user's) and the line that defined the entry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from planner.cli import app
from planner.errors import SpecError
from planner.profiles.db import ProfileDB

ROOT = Path(__file__).resolve().parents[3]
SPEC = ROOT / "cluster_specs" / "helix-10node-llama30b.yaml"
HEADER = "model,mix,gpu,gpus_per_node,profile_gpu,layers,tokens_per_s,source\n"
ROW = "llama1-30b,l4x4-t4x6,L4,1,L4,{layers},{tp},user:test\n"


def _user_table(tmp_path: Path, rows: str, header: str = HEADER) -> Path:
    tables = tmp_path / "prof" / "tables"
    tables.mkdir(parents=True)
    (tables / "helix_throughput.csv").write_text("# a user's table\n" + header + rows)
    return tmp_path / "prof"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", "tokens_per_s: not a number (got 'abc')"),
        ("-5", "tokens_per_s: must be a finite number > 0 (got -5"),
        ("0", "tokens_per_s: must be a finite number > 0 (got 0"),
        ("nan", "tokens_per_s: empty; expected a finite number > 0"),
        ("inf", "tokens_per_s: must be finite (got inf)"),
        ("", "tokens_per_s: empty; expected a finite number > 0"),
    ],
)
def test_bad_value_is_reported_at_its_line(tmp_path: Path, value: str, message: str) -> None:
    rows = ROW.format(layers=1, tp=100.0) + ROW.format(layers=2, tp=value)
    db = ProfileDB.load(_user_table(tmp_path, rows))
    with pytest.raises(SpecError) as exc:
        db.table("helix_throughput")
    (line,) = exc.value.lines()
    assert line.startswith(f"{tmp_path / 'prof' / 'tables' / 'helix_throughput.csv'}:4: ")
    assert message in line


def test_integer_column_refuses_fractions(tmp_path: Path) -> None:
    db = ProfileDB.load(_user_table(tmp_path, ROW.format(layers=1.5, tp=100.0)))
    with pytest.raises(SpecError, match=r"helix_throughput\.csv:3: layers: must be an integer \(got 1\.5\)"):
        db.table("helix_throughput")


def test_missing_column_is_named(tmp_path: Path) -> None:
    header = HEADER.replace(",tokens_per_s", "")
    db = ProfileDB.load(_user_table(tmp_path, "llama1-30b,l4x4-t4x6,L4,1,L4,1,user:test\n", header=header))
    with pytest.raises(SpecError, match=r"helix_throughput\.csv:1: <root>: missing column\(s\): tokens_per_s"):
        db.table("helix_throughput")


def test_cli_exit_2_not_infeasible(tmp_path: Path, runner) -> None:
    prof = _user_table(tmp_path, ROW.format(layers=1, tp=-1))
    result = runner.invoke(app, ["helix", str(SPEC), "--profiles", str(prof), "--time-limit", "5", "-q"])
    assert result.exit_code == 2, result.output
    assert "helix_throughput.csv:3: tokens_per_s: must be a finite number > 0" in result.output
    assert "infeasible:" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_table_that_is_a_directory(tmp_path: Path) -> None:
    tables = tmp_path / "prof" / "tables"
    (tables / "helix_throughput.csv").mkdir(parents=True)
    with pytest.raises(SpecError, match="is a directory, expected a profile file"):
        ProfileDB.load(tmp_path / "prof")


def test_unreadable_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unreadable table is one located line. Root (as in CI) reads a file whatever its mode, so the refusal the
    operating system would give a normal user is simulated at ``Path.open``."""
    prof = _user_table(tmp_path, ROW.format(layers=1, tp=100.0))
    target = prof / "tables" / "helix_throughput.csv"
    real_open = Path.open

    def refusing_open(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self == target:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refusing_open)
    with pytest.raises(SpecError, match="cannot read profile file: Permission denied"):
        ProfileDB.load(prof)


def test_shipped_tables_pass_their_rules() -> None:
    db = ProfileDB.load()
    for name in db.table_files:
        df = db.table(name)
        for column, rule in db.table_meta[name].columns.items():
            assert column in df.columns
            if rule.type == "integer":
                assert str(df[column].dtype) == "int64", (name, column)


def test_user_machines_yaml_errors_name_the_users_file_and_line(tmp_path: Path) -> None:
    from planner.spec.loader import load_spec
    from planner.splitwise.machines import resolve_machines

    prof = tmp_path / "prof"
    prof.mkdir()
    (prof / "machines.yaml").write_text(
        "# my machines\nDGX-X:\n  short: X\n  gpu: A100-80G\n  gpus: 8\n  cost_usd_h: -3\n  source: mine\n"
        "DGX-Y:\n  short: Y\n  gpu: Z9000\n  source: mine\n"
    )
    db = ProfileDB.load(prof)
    loaded = load_spec(ROOT / "cluster_specs" / "splitwise-bloom176b-coding.yaml", db)
    assert loaded.spec.splitwise is not None
    with pytest.raises(SpecError) as exc:
        resolve_machines(db, loaded, loaded.spec.splitwise)
    lines = exc.value.lines()
    user = str(prof / "machines.yaml")
    assert any(line.startswith(f"{user}:6:") and "DGX-X.cost_usd_h" in line for line in lines), lines
    assert not any("profiles/machines.yaml" in line and "DGX-X" in line for line in lines), lines


def test_numeric_looking_text_keys_merge_with_the_shipped_rows(tmp_path: Path) -> None:
    """A user's key column whose cells all look like numbers (gpu "0") is still text: the layers merge."""
    rows = "llama1-30b,l4x4-t4x6,0,1,L4,1,100.0,user:test\n"
    db = ProfileDB.load(_user_table(tmp_path, rows))
    df = db.table("helix_throughput")
    assert "0" in set(df["gpu"])
    assert len(df) > 100  # the shipped rows are still there
