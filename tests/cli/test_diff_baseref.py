"""plan diff --base-ref REF SPEC on a temporary git repository.

The git side (spec at REF, relative paths, labels, errors) is tested with a stand-in solver that loads the spec
exactly as a solver would (``load_spec``: the ``validate`` path, which checks that ``workload.trace`` resolves) and
turns its node groups into a small plan. The real subprocess path is tested on a spec that is invalid at REF (works
whether or not a solver is implemented) and, when a real solver is present, end to end.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

import planner.cli.diff as cmd
import planner.diff.baseref as baseref
from planner.cli import app
from planner.plan import InputFile, Inputs, Plan, SolverBlock, write_plan
from planner.profiles.db import ProfileDB
from planner.spec.loader import load_spec

ROOT = Path(__file__).resolve().parents[2]

SPEC = """\
name: tiny
model: llama2-70b
nodes:
  - {{name: a100, gpu: A100-40G, count: {a100}, region: us-east}}
  - {{name: l4, gpu: L4, count: 2, region: us-east}}
network:
  intra_region: {{bandwidth: 1GB/s, latency: 1ms}}
workload:
  trace: ../traces/tiny.csv
  rate_rps: 2
"""


def git(repo: Path, *args: str) -> str:
    res = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return res.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """specs/splitwise-tiny.yaml (2 A100 nodes) committed; the working tree has 3."""
    r = tmp_path / "repo"
    (r / "specs").mkdir(parents=True)
    (r / "traces").mkdir()
    (r / "traces" / "tiny.csv").write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n0.0,100,10\n")
    (r / "specs" / "splitwise-tiny.yaml").write_text(SPEC.format(a100=2))
    git(r, "init", "-q")
    git(r, "add", ".")
    git(r, "commit", "-q", "-m", "base")
    (r / "specs" / "splitwise-tiny.yaml").write_text(SPEC.format(a100=3))
    return r


@pytest.fixture
def fake_solver(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Replace the solver subprocess: load the spec like a solver does, one pool per node group."""
    calls: list[list[str]] = []
    db = ProfileDB.load()

    def run(solver: str, spec: Path, out: Path, args: list[str], side: str, progress: object) -> Plan:
        calls.append(list(args))
        sets = [args[i + 1] for i, a in enumerate(args) if a == "--set"]
        loaded = load_spec(spec, db, sets)
        pools = [{"role": g.name, "machine": g.gpu, "count": g.count} for g in loaded.spec.nodes]
        cost = sum(g.count * db.gpus[db.resolve_gpu(g.gpu)].price_usd_h for g in loaded.spec.nodes)
        plan = Plan(
            kind="splitwise",
            name=loaded.spec.name or spec.stem,
            inputs=Inputs(spec=InputFile(path=loaded.display, sha256=loaded.sha256), overrides=sets),
            solver=SolverBlock(backend="fake", status="optimal"),
            plan={"design": "test", "pools": pools},
            metrics={"cost_usd_h": cost},
        )
        write_plan(plan, out)
        return plan

    monkeypatch.setattr(baseref, "run_solver", run)
    return calls


def test_base_ref_diffs_the_spec_at_ref_against_the_working_tree(runner, repo: Path, fake_solver, tmp_path) -> None:
    spec = repo / "specs" / "splitwise-tiny.yaml"
    saved = tmp_path / "saved"
    res = runner.invoke(
        app,
        ["diff", "--base-ref", "HEAD", str(spec), "-f", "json", "--detailed-exitcode", "--save-plans", str(saved)],
    )
    assert res.exit_code == 2, res.output
    d = json.loads(res.stdout)
    assert d["old"]["label"] == "HEAD:specs/splitwise-tiny.yaml"
    assert d["new"]["label"].endswith("splitwise-tiny.yaml (working tree)")
    count = next(c for c in d["changes"] if c["address"] == "splitwise.pool[a100].count")
    assert (count["before"], count["after"]) == (2, 3)
    price = ProfileDB.load().gpus["A100-40G"].price_usd_h
    cost = next(m for m in d["metrics"] if m["name"] == "cost_usd_h")
    assert cost["delta"] == pytest.approx(price)
    # the spec at REF lives in a temporary folder: its relative trace path was pointed back at the repository
    base_sets, head_sets = fake_solver
    trace = (repo / "traces" / "tiny.csv").resolve()
    assert base_sets == ["--set", f"workload.trace={json.dumps(str(trace))}"] and head_sets == []
    assert json.loads((saved / "base.json").read_text())["plan"]["pools"][0]["count"] == 2
    assert json.loads((saved / "head.json").read_text())["plan"]["pools"][0]["count"] == 3


def test_base_ref_no_change_and_passthrough_options(runner, repo: Path, fake_solver) -> None:
    spec = repo / "specs" / "splitwise-tiny.yaml"
    git(repo, "commit", "-q", "-am", "three A100")
    res = runner.invoke(
        app,
        ["diff", "--base-ref", "HEAD", str(spec), "--detailed-exitcode", "--seed", "3", "--", "--rps", "70"],
    )
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("Plan: no changes")
    assert fake_solver[1] == ["--seed", "3", "--rps", "70"]


def test_base_ref_errors_exit_1(runner, repo: Path, fake_solver, tmp_path: Path) -> None:
    spec = repo / "specs" / "splitwise-tiny.yaml"
    res = runner.invoke(app, ["diff", "--base-ref", "no-such-branch", str(spec)])
    assert res.exit_code == 1 and "--base-ref: unknown git ref 'no-such-branch'" in res.stderr
    new = repo / "specs" / "splitwise-new.yaml"
    new.write_text(SPEC.format(a100=1))
    res = runner.invoke(app, ["diff", "--base-ref", "HEAD", str(new), "--detailed-exitcode"])
    assert res.exit_code == 1
    assert (
        res.stderr.strip()
        == "specs/splitwise-new.yaml: does not exist at HEAD (a new spec? plan it without --base-ref)"
    )
    outside = tmp_path / "splitwise-x.yaml"
    outside.write_text(SPEC.format(a100=1))
    res = runner.invoke(app, ["diff", "--base-ref", "HEAD", str(outside)])
    assert res.exit_code == 1 and "not inside a git repository" in res.stderr
    assert fake_solver == []


def test_base_ref_usage_errors_exit_2(runner, repo: Path, fake_solver) -> None:
    odd = repo / "specs" / "cluster.yaml"
    odd.write_text(SPEC.format(a100=1))
    res = runner.invoke(app, ["diff", "--base-ref", "HEAD", str(odd)])
    assert res.exit_code == 2
    assert "cannot tell the solver from the file name 'cluster.yaml'; pass --solver" in res.stderr
    spec = repo / "specs" / "splitwise-tiny.yaml"
    res = runner.invoke(app, ["diff", "--base-ref", "HEAD", str(spec), "--", "--out", "x.json"])
    assert res.exit_code == 2 and "solver option --out is set by plan diff itself" in res.stderr
    res = runner.invoke(app, ["diff", "--base-ref", "HEAD", str(spec), "--fail-on", "cost>>1"])
    assert res.exit_code == 2 and fake_solver == []


def test_base_ref_real_subprocess_reports_the_failing_side(runner, tmp_path: Path) -> None:
    """A spec that is invalid at REF: the solver process exits 2; plan diff says which side failed (exit 1)."""
    r = tmp_path / "r"
    r.mkdir()
    spec = r / "helix-tiny.yaml"
    spec.write_text((ROOT / "tests" / "fixtures" / "specs" / "tiny.yaml").read_text().replace("A100-40G", "A10O"))
    git(r, "init", "-q")
    git(r, "add", ".")
    git(r, "commit", "-q", "-m", "typo")
    res = runner.invoke(app, ["diff", "--base-ref", "HEAD", str(spec), "--quiet"])
    assert res.exit_code == 1
    lines = res.stderr.strip().splitlines()
    assert lines[0] == "planning HEAD:helix-tiny.yaml failed: plan helix exited 2"
    assert any("nodes[0].gpu: unknown GPU 'A10O'" in line for line in lines[1:])


@pytest.mark.slow
def test_base_ref_end_to_end_with_the_real_helix_solver(runner, tmp_path: Path) -> None:
    tiny = ROOT / "tests" / "fixtures" / "specs" / "helix-tiny.yaml"
    r = tmp_path / "r"
    r.mkdir()
    spec = r / "helix-tiny.yaml"
    text = tiny.read_text()
    spec.write_text(text)
    git(r, "init", "-q")
    git(r, "add", ".")
    git(r, "commit", "-q", "-m", "base")
    spec.write_text(text.replace("count: 4", "count: 3"))
    res = runner.invoke(
        app, ["diff", "--base-ref", "HEAD", str(spec), "-f", "json", "--detailed-exitcode", "--time-limit", "10"]
    )
    assert res.exit_code == 2, res.output
    d = json.loads(res.stdout)
    assert d["kind"] == "helix" and any(c["address"] == "helix.node[l4-3]" and c["action"] == "-" for c in d["changes"])


def test_solver_options_without_separator_once_registered_with_passthrough(runner, repo: Path, fake_solver) -> None:
    """planner/cli.py registers `diff` without extra-args settings, so solver-specific options need `--` today.

    Registered with ``context_settings={"ignore_unknown_options": True, "allow_extra_args": True}`` (a one-line
    change in cli.py), ``plan diff --base-ref REF SPEC --rps 70`` works as the issue writes it.
    """
    import typer

    passthrough = typer.Typer()
    passthrough.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})(cmd.diff_command)
    spec = repo / "specs" / "splitwise-tiny.yaml"
    res = runner.invoke(passthrough, ["--base-ref", "HEAD", str(spec), "--rps", "70", "--seed", "1", "-f", "json"])
    assert res.exit_code == 0, res.output
    assert fake_solver[1] == ["--seed", "1", "--rps", "70"]


@pytest.mark.slow
def test_base_ref_end_to_end_with_the_real_splitwise_solver(runner, tmp_path: Path) -> None:
    """The shipped Splitwise spec, verbatim (relative trace path), at REF and with tighter TTFT SLOs."""
    shipped = ROOT / "cluster_specs" / "splitwise-bloom176b-coding.yaml"
    r = tmp_path / "r"
    (r / "specs").mkdir(parents=True)
    (r / "profiles" / "traces").mkdir(parents=True)
    trace = ROOT / "profiles" / "traces" / "azure_llm_2023_code.csv"
    (r / "profiles" / "traces" / trace.name).symlink_to(trace)
    spec = r / "specs" / "splitwise-coding.yaml"
    text = shipped.read_text()
    assert "trace: ../profiles/traces/azure_llm_2023_code.csv" in text
    spec.write_text(text)
    git(r, "init", "-q")
    git(r, "add", ".")
    git(r, "commit", "-q", "-m", "base")
    spec.write_text(text.replace("ttft: {p50: 2, p90: 3, p99: 6}", "ttft: {p50: 1.5, p90: 2, p99: 4}"))
    saved = tmp_path / "saved"
    args = ["diff", "--base-ref", "HEAD", str(spec), "-f", "json", "--detailed-exitcode", "--fail-on", "slo"]
    res = runner.invoke(app, [*args, "--save-plans", str(saved), "--", "--designs", "HH", "--duration", "20s"])
    assert res.exit_code == 2, res.output
    d = json.loads(res.stdout)
    ch = {c["address"]: c for c in d["changes"]}
    assert (ch["splitwise.slo[ttft_p99].limit"]["before"], ch["splitwise.slo[ttft_p99].limit"]["after"]) == (6, 4)
    assert d["guardrails"][0]["breached"] is False
    base = json.loads((saved / "base.json").read_text())
    assert base["inputs"]["overrides"] == [f"workload.trace={json.dumps(str(trace.parent.resolve() / trace.name))}"]
