"""``plan helix --pareto --pareto-dir DIR`` (issue 13, item 6; issue 15): every frontier point is a complete plan
that ``plan simulate`` accepts, the frontier table shows its served prediction, the points run on the executors
with the same bytes on 1 and 2 workers, and the folder obeys the output-path rules of ``--out``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planner.cli import app
from planner.plan import read_plan
from tests.unit.sweep.conftest import outside_run

ROOT = Path(__file__).resolve().parents[2]
TEN = str(ROOT / "cluster_specs" / "helix-10node-llama30b.yaml")
#: generous, so that no point is cut by its share of the time limit on a busy machine (the bytes must not depend
#: on timing)
LIMIT = ("--time-limit", "90")


def _run(runner, *args: str):
    return runner.invoke(app, ["helix", *args], catch_exceptions=False)


@pytest.fixture(scope="module")
def frontiers(tmp_path_factory) -> dict[int, Path]:
    """The frontier of the 10-node spec (default objective) planned with 1 and with 2 local workers."""
    from typer.testing import CliRunner

    runner = CliRunner()
    out: dict[int, Path] = {}
    for jobs in (1, 2):
        folder = tmp_path_factory.mktemp(f"pareto-jobs{jobs}")
        args = [TEN, "--pareto", "--pareto-dir", str(folder), "--jobs", str(jobs), "--out", str(folder / "plan.json")]
        res = _run(runner, *args, *LIMIT, "--search-evaluations", "10", "-q", "--format", "json")  # a short search
        assert res.exit_code == 0, res.output
        out[jobs] = folder
    return out


def _dominated(row: dict, rows: list[dict]) -> bool:
    axes = (
        ("predicted_decode_tok_s", 1),
        ("predicted_token_latency_p50_ms", -1),
        ("predicted_token_latency_p99_ms", -1),
    )
    for o in rows:
        if o is row:
            continue
        if all(s * (o[k] - row[k]) >= 0 for k, s in axes) and any(s * (o[k] - row[k]) > 0 for k, s in axes):
            return True
    return False


def test_every_frontier_point_is_written_as_a_complete_plan(frontiers: dict[int, Path]) -> None:
    folder = frontiers[1]
    main = json.loads((folder / "plan.json").read_text())
    rows = main["plan"]["pareto"]
    assert rows, "the 10-node spec has a frontier"
    assert main["inputs"]["options"]["pareto"] is True
    assert sorted(r["plan_file"] for r in rows) == sorted(p.name for p in folder.glob("pareto-max-hops-*.json"))
    for row in rows:
        assert not _dominated(row, rows), row
        doc = read_plan(folder / row["plan_file"], expected_kind="helix")
        assert row["plan_file"] == f"pareto-max-hops-{row['max_hops']}.json"
        assert doc.inputs.options["max_hops"] == doc.inputs.options["pareto_point"] == row["max_hops"]
        assert doc.inputs.options["pareto"] is False and doc.plan.get("pareto") is None
        assert doc.solver.status in ("optimal", "feasible")
        # the row repeats the point plan's own figures
        assert doc.metrics["throughput_tok_s"] == row["throughput_tok_s"]
        assert doc.metrics["predicted_decode_tok_s"] == row["predicted_decode_tok_s"]
        assert doc.metrics["predicted_token_latency_p50_ms"] == row["predicted_token_latency_p50_ms"]
        assert doc.metrics["predicted_token_latency_p99_ms"] == row["predicted_token_latency_p99_ms"]
        assert doc.plan["latency"]["max_hops"] == row["pipeline_depth_hops"] <= row["max_hops"]
        assert doc.plan["served"]["objective"] == f"pareto:max-hops={row['max_hops']}"
        assert doc.inputs.spec.sha256 == main["inputs"]["spec"]["sha256"]
    hops = [r["max_hops"] for r in rows]
    assert hops == sorted(hops)  # the documented order: the hop limit, the fewest first


def test_frontier_plans_are_the_same_bytes_on_one_and_two_workers(frontiers: dict[int, Path]) -> None:
    one, two = frontiers[1], frontiers[2]
    names = sorted(p.name for p in one.glob("*.json"))
    assert names == sorted(p.name for p in two.glob("*.json")) and len(names) >= 2
    for name in names:
        assert outside_run((one / name).read_text()) == outside_run((two / name).read_text()), name


def test_plan_simulate_accepts_every_frontier_plan(runner, frontiers: dict[int, Path]) -> None:
    plans = sorted(str(p) for p in frontiers[1].glob("pareto-max-hops-*.json"))
    res = runner.invoke(
        app, ["simulate", *plans, "--offline", "--duration", "20s", "--warmup", "5s", "-q", "-f", "json"]
    )
    assert res.exit_code == 0, res.output
    sim = json.loads(res.stdout)
    assert len(sim["placements"]) == len(plans)
    assert all(p["decode_throughput_tok_s"] > 0 for p in sim["placements"])


def test_frontier_table_shows_served_figures_and_files(runner, tmp_path: Path) -> None:
    folder = tmp_path / "front"
    res = _run(runner, TEN, "--objective", "max-flow", "--pareto", "--pareto-dir", str(folder), *LIMIT)
    assert res.exit_code == 0, res.output
    for column in ("max flow", "served tok/s", "p50 ms", "p99 ms", "hops"):
        assert column in res.stdout
    written = sorted(p.name for p in folder.glob("*.json"))
    assert written and all(name in res.stdout for name in written)
    assert f"{len(written)} frontier plans written to" in res.output
    main = json.loads(_run(runner, TEN, "--objective", "max-flow", "--pareto", *LIMIT, "-q", "--format", "json").stdout)
    rows = main["plan"]["pareto"]
    # max-flow objective: the paper's frontier (max flow against the slowest path's decode latency); without
    # --pareto-dir the same points, no files
    assert sorted(written) == sorted(f"pareto-max-hops-{r['max_hops']}.json" for r in rows)
    assert all(r.get("plan_file") is None and r["predicted_decode_tok_s"] > 0 for r in rows)
    assert [r["throughput_tok_s"] for r in rows] == sorted(r["throughput_tok_s"] for r in rows)


# ------------------------------------------------------------------------------------------------ output paths


def _refused(res, text: str) -> None:
    assert res.exit_code == 2, res.output
    assert text in res.output and "Traceback" not in res.output


def test_pareto_dir_needs_pareto_and_a_folder(runner, tmp_path: Path) -> None:
    _refused(_run(runner, TEN, "--pareto-dir", str(tmp_path), "-q"), "--pareto-dir needs --pareto")
    a_file = tmp_path / "f.json"
    a_file.write_text("{}")
    _refused(_run(runner, TEN, "--pareto", "--pareto-dir", str(a_file), "-q"), "is not a directory")
    _refused(_run(runner, TEN, "--ray-address", "auto", "-q"), "--ray-address needs --executor ray")


def test_pareto_dir_never_replaces_an_input_or_a_non_regular_file(runner, tmp_path: Path) -> None:
    folder = tmp_path / "front"
    folder.mkdir()
    placement = folder / "pareto-max-hops-7.json"
    placement.write_text('{"placement": {}}')
    before = placement.read_text()
    res = _run(runner, TEN, "--pareto", "--pareto-dir", str(folder), "--placement", str(placement), "-q")
    _refused(res, "is an input of this command; refusing to overwrite it")
    assert placement.read_text() == before
    placement.unlink()
    (folder / "pareto-max-hops-10.json").mkdir()
    _refused(_run(runner, TEN, "--pareto", "--pareto-dir", str(folder), "-q"), "is not a regular file")
    (folder / "pareto-max-hops-10.json").rmdir()
    out = folder / "pareto-max-hops-3.json"
    res = _run(runner, TEN, "--pareto", "--pareto-dir", str(folder), "--out", str(out), "-q")
    _refused(res, "--pareto-dir may write a file of that name")
    assert not out.exists() and not list(folder.iterdir())  # refused before any work
