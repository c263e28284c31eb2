"""`plan init`: scaffolded specs validate; bad --gpus / --model strings get one-line errors (exit 2)."""

from pathlib import Path

import pytest

from planner.cli import app
from planner.profiles.db import ProfileDB
from planner.scaffold import parse_gpus
from planner.spec.loader import load_spec


@pytest.mark.parametrize("solver", ["helix", "splitwise"])
def test_init_writes_a_spec_that_validates(runner, tmp_path: Path, solver: str, profile_db: ProfileDB) -> None:
    out = tmp_path / "cluster.yaml"
    res = runner.invoke(
        app,
        ["init", "--solver", solver, "--gpus", "4xA100-80G,8xL4@us-east,12xT4@eu-west", "--model", "llama-3.1-70b",
         "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    loaded = load_spec(out, profile_db)
    assert loaded.model.name == "llama3.1-70b"
    assert len(loaded.cluster.nodes) == 24
    assert loaded.cluster.regions == ["eu-west", "us-east"]
    res = runner.invoke(app, ["validate", str(out), "--format", "json"])
    assert res.exit_code == 0
    res = runner.invoke(app, ["init", "--solver", solver, "--out", str(out)])
    assert res.exit_code == 2 and "exists (use --force" in res.stderr


ROUND_TRIP_ARGS = {
    "helix": ["--time-limit", "5"],
    "splitwise": ["--set", "splitwise.duration=20s"],
    "dynamo": [],
}


@pytest.mark.parametrize("solver", ["helix", "splitwise", "dynamo"])
def test_init_round_trips_through_the_solver(runner, tmp_path: Path, solver: str) -> None:
    """The scaffold with the solver's default hardware runs end to end (exit 0, a plan with a status)."""
    import json

    out = tmp_path / "cluster.yaml"
    assert runner.invoke(app, ["init", "--solver", solver, "--out", str(out)]).exit_code == 0
    res = runner.invoke(app, [solver, str(out), "--format", "json", "--quiet", *ROUND_TRIP_ARGS[solver]])
    assert res.exit_code == 0, res.stderr
    plan = json.loads(res.stdout)
    assert plan["kind"] == solver and plan["solver"]["status"] in ("optimal", "feasible", "time_limit")


def test_init_dynamo_refuses_mixed_gpu_types(runner) -> None:
    res = runner.invoke(app, ["init", "--solver", "dynamo", "--gpus", "8xH100,8xA100"])
    assert res.exit_code == 2 and "plan dynamo plans one GPU type" in res.stderr


def test_gpus_grammar(profile_db: ProfileDB) -> None:
    groups = parse_gpus("2x8xH100@us,L4,3xl40s@eu", profile_db)
    assert [(g.name, g.gpu, g.gpus_per_node, g.count, g.region) for g in groups] == [
        ("h100-80gx8", "H100-80G", 8, 2, "us"),
        ("l4", "L4", 1, 1, "us"),
        ("l40s", "L40S", 1, 3, "eu"),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--gpus", "4xA100-80"], "--gpus: unknown GPU 'A100-80' (did you mean 'A100-80G'?)"),
        (["--gpus", "4x"], "--gpus: cannot read '4x'"),
        (["--gpus", ""], "--gpus: no GPUs given"),
        (["--model", "llama-9"], "--model: unknown model 'llama-9'"),
        (["--solver", "helx"], "--solver: unknown solver 'helx' (did you mean 'helix'?)"),
    ],
)
def test_init_bad_inputs(runner, args: list[str], message: str) -> None:
    res = runner.invoke(app, ["init", *args])
    assert res.exit_code == 2
    assert message in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_spec_path_completion(monkeypatch) -> None:
    from planner.cli.common import complete_spec
    from planner.paths import REPO_ROOT

    monkeypatch.chdir(REPO_ROOT)
    assert complete_spec("tests/fix") == ["tests/fixtures/"]
    assert "tests/fixtures/specs/tiny.yaml" in complete_spec("tests/fixtures/specs/")


def test_design_name_completion() -> None:
    from planner.cli.splitwise import complete_designs

    assert complete_designs("base") == ["baseline-a100", "baseline-h100", "baseline-h100cap"]
    assert "HH,HA" in complete_designs("HH,H") and "HA" in complete_designs("")
