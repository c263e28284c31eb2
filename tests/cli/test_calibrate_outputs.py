"""Where ``plan calibrate --out`` and ``plan profiles add-model --profiles`` may write: never the shipped profiles,
never an input, never a path that cannot become a directory; refused in one line (exit 2) before any fit."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from planner.cli.app import app
from planner.paths import SHIPPED_PROFILES

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "tests" / "fixtures" / "calibrate" / "synthetic" / "synthetic-00.json"
CONFIG = {
    "model_type": "llama", "hidden_act": "silu", "hidden_size": 4096, "intermediate_size": 14336,
    "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8, "vocab_size": 128256,
    "torch_dtype": "bfloat16",
}  # fmt: skip


def tree_digest(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (links followed) with its content hash: what must not change."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def no_fit(monkeypatch):
    """A fit fails the test: every refusal here must come before it."""
    import planner.calibrate.api as api

    def fit(*args, **kwargs):
        raise AssertionError("the fit ran before --out was checked")

    monkeypatch.setattr(api, "fit_files", fit)


def _refused(res, flag: str, text: str) -> None:
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(flag) and text in lines[0], res.stderr
    assert "Traceback" not in res.output


@pytest.mark.parametrize(
    ("target", "text"),
    [("", "is the shipped profile directory"), ("tables", "is inside the shipped profile directory"),
     ("link", "is the shipped profile directory"), ("link/tables", "is inside the shipped profile directory"),
     ("..", "contains the shipped profile directory")],
)  # fmt: skip
def test_calibrate_never_writes_the_shipped_profiles(runner, tmp_path, no_fit, target, text):
    (tmp_path / "link").symlink_to(SHIPPED_PROFILES, target_is_directory=True)
    out = (tmp_path if target.startswith("link") else SHIPPED_PROFILES) / target
    before = tree_digest(SHIPPED_PROFILES)
    res = runner.invoke(app, ["calibrate", str(RUN), "--out", str(out), "--no-loo"])
    _refused(res, f"--out {out}", text)
    assert tree_digest(SHIPPED_PROFILES) == before


def test_add_model_never_writes_the_shipped_models(runner, tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(CONFIG))
    before = tree_digest(SHIPPED_PROFILES)
    for where in (SHIPPED_PROFILES, SHIPPED_PROFILES / "tables"):
        res = runner.invoke(
            app, ["profiles", "add-model", "--from-hf", str(cfg), "--name", "my-8b", "--profiles", str(where)]
        )
        _refused(res, "--profiles", "the shipped profile directory")
    assert tree_digest(SHIPPED_PROFILES) == before


@pytest.mark.parametrize(
    ("target", "text"),
    [("input", "is an input of this command; refusing to overwrite it"), ("sidecar", "is an input of this command"),
     ("/dev/null", "exists and is not a directory"), ("file/x", "cannot use this path: Not a directory"),
     ("/proc/llmplan-x", "cannot create a folder in /proc"), ("tables-file", "exists and is not a directory"),
     ("dir-csv", "is not a regular file; refusing to replace it")],
)  # fmt: skip
def test_an_unusable_out_is_refused_before_the_fit(runner, tmp_path, no_fit, target, text):
    run = tmp_path / RUN.name
    run.write_bytes(RUN.read_bytes())
    (tmp_path / "run.meta.yaml").write_text((RUN.with_name("synthetic-00.meta.yaml")).read_text())
    (tmp_path / "file").write_text("keep")
    out = {"input": run, "file/x": tmp_path / "file" / "x"}.get(target, Path(target))
    if target == "sidecar":  # an iteration table named like the output's own, with its sidecar
        out = tmp_path / "prof"
        (out / "tables").mkdir(parents=True)
        run = out / "tables" / "splitwise_perf.json"
        run.write_bytes(RUN.read_bytes())
        (out / "tables" / "splitwise_perf.meta.yaml").write_text(RUN.with_name("synthetic-00.meta.yaml").read_text())
    elif target == "tables-file":
        out = tmp_path / "prof"
        out.mkdir()
        (out / "tables").write_text("not a folder")
    elif target == "dir-csv":
        out = tmp_path / "prof"
        (out / "tables" / "helix_layer_latency.csv").mkdir(parents=True)
    before = tree_digest(tmp_path)
    res = runner.invoke(app, ["calibrate", str(run), "--out", str(out), "--no-loo"])
    _refused(res, "--out", text)
    assert tree_digest(tmp_path) == before


def test_a_failing_write_is_one_line_and_writes_nothing(runner, tmp_path, monkeypatch):
    from planner.calibrate import writer

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer, "_write_bands", full_disk)  # after the tables were staged
    out = tmp_path / "prof"
    res = runner.invoke(app, ["calibrate", str(RUN), "--out", str(out), "--no-loo", "-q"])
    assert res.exit_code == 1, res.output
    assert res.stderr == f"error: cannot write --out {out}: No space left on device\n"
    assert list(tmp_path.iterdir()) == []


def test_calibrate_lists_accuracy_yaml_among_the_files_written(runner, tmp_path):
    out = tmp_path / "prof"
    runs = sorted(RUN.parent.glob("synthetic-0[01].json"))
    res = runner.invoke(app, ["calibrate", *map(str, runs), "--out", str(out), "--format", "json", "-q"])
    assert res.exit_code == 0, res.output
    written = json.loads(res.stdout)["written"]
    assert str(out / "accuracy.yaml") in written and (out / "accuracy.yaml").is_file()
    table = runner.invoke(app, ["calibrate", *map(str, runs), "--out", str(out), "-q"])
    assert table.exit_code == 0 and f"wrote {out / 'accuracy.yaml'}" in table.stdout


@pytest.mark.parametrize("command", ["calibrate", "accuracy"])
@pytest.mark.parametrize("twice", ["same", "dot", "symlink", "copy"])
def test_a_benchmark_file_given_twice_is_refused(runner, tmp_path, monkeypatch, command, twice):
    """A run counted twice would be seen by its own leave-one-out fold (the band collapsed from 0.97 to 0.024)."""
    monkeypatch.chdir(tmp_path)
    other = RUN.with_name("synthetic-01.json")
    for src in (RUN, other):
        Path(src.name).write_bytes(src.read_bytes())
        Path(src.stem + ".meta.yaml").write_text(src.with_suffix(".meta.yaml").read_text())
    second = {"same": RUN.name, "dot": f"./{RUN.name}", "symlink": "link.json", "copy": "copy.json"}[twice]
    if twice == "symlink":
        Path("link.json").symlink_to(RUN.name)
    elif twice == "copy":
        Path("copy.json").write_bytes(RUN.read_bytes())
    out = ["--out", "prof"] if command == "calibrate" else []
    res = runner.invoke(app, [command, RUN.name, other.name, second, *out, "--no-loo" if out else "-q"])
    _refused(res, str(Path(second)), f"the same {'bytes' if twice == 'copy' else 'file'} as {RUN.name}")
    assert "(benchmark files 1 and 3)" in res.stderr
    assert not Path("prof").exists()
