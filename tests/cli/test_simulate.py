"""`plan simulate` through CliRunner: outputs, determinism by seed, exit codes and one-line errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from planner.cli import app

PLANS = Path(__file__).resolve().parents[1] / "fixtures" / "helix_plans"
TINY = ["--profiles", str(PLANS / "profiles")]
SHORT = ["--duration", "4s", "--warmup", "1s"]


def _stable(text: str) -> dict:
    data = json.loads(text)
    data.pop("run")
    return data


def test_json_document(runner, tmp_path: Path) -> None:
    out = tmp_path / "sim.json"
    plan = PLANS / "chain2.json"
    res = runner.invoke(
        app, ["simulate", str(plan), *TINY, *SHORT, "--rps", "3", "--format", "json", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["kind"] == "simulation" and doc["format_version"]
    assert out.read_text() == res.stdout  # --out holds the same canonical text
    (p,) = doc["placements"]
    assert p["plan"] == "chain2.json"
    assert p["plan_sha256"] == hashlib.sha256(plan.read_bytes()).hexdigest()
    assert p["bound_tok_s"] == 100.0 and p["decode_throughput_tok_s"] > 0
    assert p["achieved_vs_bound_ratio"] == pytest.approx(p["total_throughput_tok_s"] / 100.0)
    assert {"p50_ms", "p90_ms", "p99_ms"} <= set(p["prompt_latency"]) and p["decode_token_latency"]["count"] > 0
    assert [n["name"] for n in p["nodes"]] == ["a", "b"] and p["links"] and p["pipeline_mean_hops"] == 2.0
    assert doc["inputs"]["workload"]["arrivals"] == "poisson" and doc["inputs"]["options"]["seed"] == 0
    assert {a["subject"] for a in doc["assumptions"]} >= {"kv_capacity", "scheduling", "workload", "batch_time"}
    assert doc["run"]["placements_wall_s"] and p["simulated_s"] == 5.0


def test_same_seed_same_bytes_other_seed_differs(runner, tmp_path: Path) -> None:
    args = ["simulate", str(PLANS / "fork.json"), *TINY, *SHORT, "--rps", "5", "--format", "json"]
    first = runner.invoke(app, args)
    again = runner.invoke(app, args)
    other = runner.invoke(app, [*args, "--seed", "7"])
    assert first.exit_code == again.exit_code == other.exit_code == 0
    assert _stable(first.stdout) == _stable(again.stdout)
    assert json.dumps(_stable(first.stdout)) == json.dumps(_stable(again.stdout))
    assert _stable(first.stdout)["placements"] != _stable(other.stdout)["placements"]


def test_compare_table_and_plot(runner, tmp_path: Path) -> None:
    fig = tmp_path / "sim.png"
    res = runner.invoke(
        app,
        [
            "simulate",
            str(PLANS / "chain2.json"),
            "--compare",
            str(PLANS / "chain2_small_kv.json"),
            *TINY,
            *SHORT,
            "--rps",
            "3",
            "--plot",
            str(fig),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "chain2.json" in res.stdout and "chain2_small_kv.json" in res.stdout
    assert "decode throughput" in res.stdout and "achieved / max flow" in res.stdout
    assert "Busiest links" in res.stdout
    assert fig.stat().st_size > 10_000 and fig.read_bytes()[:4] == b"\x89PNG"
    assert "nodes differ" in res.stderr  # other GPUs: warned, still compared


def test_compare_leaves_out_a_plan_that_serves_nothing(runner, tmp_path: Path) -> None:
    # An emitted baseline of an earlier release could carry no flow: --compare simulates the others and says so.
    data = json.loads((PLANS / "chain2.json").read_text())
    for edge in data["plan"]["edges"]:
        edge["flow_tok_s"] = 0.0
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps(data))
    plans = [str(PLANS / "chain2.json"), "--compare", str(empty), str(PLANS / "fork.json")]
    res = runner.invoke(app, ["simulate", *plans, *TINY, *SHORT, "--rps", "3", "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert [p["plan"] for p in doc["placements"]] == ["chain2.json", "fork.json"]
    line = f"{empty}: plan.edges: no flow leaves the source: the placement serves nothing (left out of the comparison)"
    assert line in doc["warnings"]
    alone = runner.invoke(app, ["simulate", str(empty), *TINY, *SHORT, "--rps", "3"])  # nothing left to simulate
    assert alone.exit_code == 2 and "no flow leaves the source" in alone.stderr
    first = runner.invoke(app, ["simulate", str(empty), "--compare", str(PLANS / "chain2.json"), *TINY, *SHORT])
    assert first.exit_code == 2  # the reference plan of every ratio must load


def test_achieved_over_max_flow_can_pass_100_percent_and_is_not_called_a_bound(runner, tmp_path: Path) -> None:
    # The plan's max flow comes from the nodes' tp(k) tables; the simulated nodes run at the per-layer latency
    # table's speed. The 10-node Petals (partial mode, KV- and latency-bound) delivers more than its max flow with
    # every node far from busy: the ratio is true, the figure is no bound.
    ten = Path(__file__).resolve().parents[2] / "cluster_specs" / "helix-10node-llama30b.yaml"
    args = ["helix", str(ten), "--objective", "max-flow", "--emit-baselines", str(tmp_path), "-q", "--format", "json"]
    assert runner.invoke(app, args).exit_code == 0
    res = runner.invoke(app, ["simulate", str(tmp_path / "petals.json"), "--offline", "--latency", "auto"])
    assert res.exit_code == 0, res.output
    assert "achieved / max flow" in res.stdout and "plan's max flow (tok/s)" in res.stdout
    assert "bound" not in res.stdout
    doc = json.loads(runner.invoke(app, ["simulate", str(tmp_path / "petals.json"), "--offline", "--latency", "auto",
                                         "--format", "json"]).stdout)  # fmt: skip
    (p,) = doc["placements"]
    assert p["achieved_vs_bound_ratio"] > 1.0 and p["mode"] == "partial"
    assert max(n["utilization_ratio"] for n in p["nodes"]) < 0.5


def test_markdown_output(runner) -> None:
    res = runner.invoke(app, ["simulate", str(PLANS / "chain2.json"), *TINY, *SHORT, "--offline", "-f", "markdown"])
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("## Simulation") and "| decode throughput (tok/s) |" in res.stdout


def test_trace_replay(runner, tmp_path: Path) -> None:
    trace = tmp_path / "t.csv"
    rows = [f"2023-11-16 18:00:0{i}.0000000,{100 + i},{5}" for i in range(5)]
    trace.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n" + "\n".join(rows) + "\n")
    res = runner.invoke(
        app, ["simulate", str(PLANS / "chain2.json"), *TINY, *SHORT, "--trace", str(trace), "-f", "json"]
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["inputs"]["workload"]["arrivals"] == "trace"
    assert doc["placements"][0]["requests"]["launched_requests"] == 5
    assert doc["placements"][0]["requests"]["completed_requests"] == 5


def test_load_scales_the_trace_to_a_fraction_of_the_bound(runner) -> None:
    res = runner.invoke(app, ["simulate", str(PLANS / "chain2.json"), *TINY, *SHORT, "--load", "0.5", "-f", "json"])
    assert res.exit_code == 0, res.output
    w = json.loads(res.stdout)["inputs"]["workload"]
    assert w["arrivals"] == "trace"
    # offered prompt + output tokens per second = 0.5 x the 100 tok/s bound
    assert w["rate_rps"] * (w["mean_input_tokens"] + w["mean_output_tokens"]) == pytest.approx(50.0)


def test_roofline_latency_is_opt_in_and_said(runner) -> None:
    res = runner.invoke(
        app, ["simulate", str(PLANS / "chain2.json"), *TINY, *SHORT, "--latency", "roofline", "-f", "json"]
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    (lat,) = [a for a in doc["assumptions"] if a["subject"].startswith("layer_latency")]
    assert (
        lat
        == {
            "subject": "layer_latency[A100-40G]",
            "basis": "roofline",
            "detail": lat["detail"],
        }
        and "--latency roofline" in lat["detail"]
    )
    assert doc["inputs"]["options"]["latency"] == "roofline"


def test_a_gpu_without_rows_names_latency_auto_and_auto_runs(runner, tmp_path: Path) -> None:
    """``plan helix`` fills a GPU without measured rows with its labelled roofline; the referee does only when asked,
    and its error says how (one line, exit 2, nothing written)."""
    data = json.loads((PLANS / "chain2.json").read_text())
    data["plan"]["nodes"][1]["profile_gpu"] = "H100"
    plan = tmp_path / "h100.json"
    plan.write_text(json.dumps(data))
    out = tmp_path / "sim.json"
    res = runner.invoke(app, ["simulate", str(plan), *TINY, *SHORT, "--offline", "--out", str(out)])
    assert res.exit_code == 2 and not out.exists()
    (line,) = res.stderr.strip().splitlines()
    assert line.startswith("error: no profile data for per-layer") and "gpu=H100" in line
    assert "pass --latency auto for the analytic roofline where the table has no rows, or add a table" in line
    res = runner.invoke(app, ["simulate", str(plan), *TINY, *SHORT, "--offline", "--latency", "auto", "-f", "json"])
    assert res.exit_code == 0, res.output
    bases = {a["basis"] for a in json.loads(res.stdout)["assumptions"] if a["subject"].startswith("layer_latency")}
    assert bases == {"synthetic", "roofline"}  # the table's rows where it has them, the roofline for the other


@pytest.mark.parametrize(
    ("args", "stderr"),
    [
        (["--offline", "--rps", "2"], "error: --offline and --rps exclude each other"),
        (["--duration", "ten"], "--duration: "),
        (["--load", "0.5", "--offline"], "--load scales the trace's arrivals online"),
        (["--latency", "guess"], "--latency: Input should be 'table', 'auto' or 'roofline'"),
        (["--duration", "0"], "--duration: Input should be greater than 0"),
        (["--compare"], "--compare needs at least two plans"),
        (["--max-input-tokens", "9000"], "exceeds the largest measured prompt batch of TinyGPU (4000 tokens"),
    ],
)
def test_usage_errors_exit_2(runner, args: list[str], stderr: str) -> None:
    res = runner.invoke(app, ["simulate", str(PLANS / "chain2.json"), *TINY, *SHORT, *args])
    assert res.exit_code == 2
    assert len(res.stderr.strip().splitlines()) == 1 and stderr in res.stderr
    assert res.stdout == ""


def test_input_errors_exit_2(runner, tmp_path: Path) -> None:
    res = runner.invoke(app, ["simulate", str(tmp_path / "nope.json")])
    assert res.exit_code == 2 and "plan file not found" in res.stderr
    res = runner.invoke(app, ["simulate", str(PLANS / "chain2.json"), *SHORT])  # tiny-4l is not shipped
    assert res.exit_code == 2 and "model 'tiny-4l'" in res.stderr
    data = json.loads((PLANS / "chain2.json").read_text())
    for node in data["plan"]["nodes"]:
        node["profile_gpu"] = "H100"
    bad = tmp_path / "h100.json"
    bad.write_text(json.dumps(data))
    res = runner.invoke(app, ["simulate", str(bad), *TINY, *SHORT])
    assert res.exit_code == 2
    assert res.stderr.strip() == (
        "error: no profile data for per-layer prompt latency (table helix_layer_latency) (gpu=H100, model=tiny-4l); "
        "pass --latency auto for the analytic roofline where the table has no rows, or add a table under profiles/ "
        "(see README)"
    )
