"""Predicted vs simulated serving figures of Helix placements: the agreement table of docs/helix.md.

For every shipped helix spec: the default ``plan helix`` plan and the baselines it emits (``--emit-baselines``);
plus the paper's single-24 layouts (tests/fixtures/helix_plans/single24). For each layout:

* offline: predicted decode tokens/s (:func:`planner.helix.served.predict_plan_block`) vs ``plan simulate
  --offline`` (600 s after 60 s warm-up, seed 0);
* online: predicted p50 / p99 per-token latency at 0.6 of the predicted capacity vs ``plan simulate --load F``
  with ``F = 0.6 x predicted prompt + decode tokens/s / the plan's max-flow bound`` (``--load`` is relative to
  the bound), i.e. the same offered rate on both sides.

Both sides use the workload ``plan simulate`` replays (the shipped conversation trace) and per-layer latency from
the measured table, the roofline where a GPU has no rows (``--latency auto``).

    .venv/bin/python scripts/helix_agreement.py --out-dir /tmp/agreement > table.md

``--min-requests 1000`` measures online over a window that holds 1,000 requests on both sides (at low rates the
default 600 s replays only the trace's first seconds: docs/helix.md, Limitations).

``--held-out`` measures, instead, clusters the served model was not developed on: seeded clusters of
``scripts/helix_generate_cluster.py`` (:data:`GENERATED`) and the hand-written specs under
tests/fixtures/helix_heldout/; the default plan (``--time-limit`` :data:`HELD_OUT_TIME_LIMIT`) and its baselines
each, no paper layouts.

``--record profiles/agreement/helix_served.csv`` (``--held-out``: ``helix_served_held_out.csv``) also writes the rows
as data: the error bands of the Helix served predictions are computed from both records
(:mod:`planner.calibrate.agreement`; then ``scripts/accuracy_report.py --write-bands``). ``--from-record CSV`` prints
the table of a record without planning or simulating.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from planner.calibrate.agreement import RECORD, AgreementRow, read_record, write_record
from planner.helix.online import SIM_DURATION_S

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "cluster_specs"
PAPER = ROOT / "tests" / "fixtures" / "helix_plans" / "single24"
SHIPPED = [
    "helix-single24-llama2-70b",
    "helix-10node-llama30b",
    "helix-geo24-llama2-70b",
    "helix-het42-llama2-70b",
    "helix-quickstart-llama31-70b",
]
HELD_OUT_FILES = sorted((ROOT / "tests" / "fixtures" / "helix_heldout").glob("*.yaml"))
#: Generated clusters held out of the model's development: (nodes, GPU types, regions, seed) of
#: ``scripts/helix_generate_cluster.py``; seven types are the measured Helix tables' nodes, ten add three roofline GPUs.
GENERATED: list[tuple[int, int, int, int]] = [
    (12, 7, 1, 11),
    (16, 7, 2, 12),
    (20, 10, 2, 13),
    (24, 7, 3, 14),
    (30, 10, 3, 15),
    (40, 7, 2, 16),
    (14, 7, 1, 17),
    (18, 10, 1, 18),
    (28, 7, 2, 19),
    (50, 10, 3, 20),
]
#: --time-limit of the held-out plans: long enough that the served search ends by its work budget on every one (at 60 s
#: the 30-node cluster's was stopped by the clock, so its plan depended on the machine's load), as the record must
#: be reproducible.
HELD_OUT_TIME_LIMIT = 300.0
OFFLINE_TOLERANCE = 0.10
ONLINE_TOLERANCE = 0.20


Row = AgreementRow


def spec_file(spec: str | Path) -> Path:
    """A spec given by name (under cluster_specs/) or by path."""
    return spec if isinstance(spec, Path) else SPECS / f"{spec}.yaml"


def held_out_specs(out_dir: Path) -> list[Path]:
    """The held-out clusters' spec files: the generated ones written under ``out_dir/specs``, then the fixtures."""
    from helix_generate_cluster import generate_spec

    where = out_dir / "specs"
    where.mkdir(parents=True, exist_ok=True)
    out = []
    for nodes, types, regions, seed in GENERATED:
        path = where / f"helix-gen-{nodes}n-{types}t-{regions}r.yaml"
        path.write_text(generate_spec(nodes, types, regions, seed))
        out.append(path)
    return out + HELD_OUT_FILES


def plan_layouts(spec: str | Path, out_dir: Path, time_limit: float) -> list[Path]:
    """The default plan of ``spec`` and the baselines it emits (baselines that carry no flow are left out)."""
    where = out_dir / spec_file(spec).stem
    where.mkdir(parents=True, exist_ok=True)
    default = where / "default.json"
    if not default.exists():
        cmd = [sys.executable, "-m", "planner", "helix", str(spec_file(spec)), "--out", str(default), "-q",
               "--time-limit", f"{time_limit:g}", "--emit-baselines", str(where)]  # fmt: skip
        res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
        if res.returncode != 0:
            raise RuntimeError(f"plan helix {spec}: {res.stderr.strip()}")
    out = [default]
    for f in sorted(where.glob("*.json")):
        if f.name != "default.json" and json.loads(f.read_text())["metrics"].get("throughput_tok_s", 0) > 0:
            out.append(f)
    return out


def online_window_s(rate_rps: float, min_requests: int) -> float:
    """The online window after the warm-up: the default 600 s, or longer when the replay needs it to hold
    ``min_requests`` requests at ``rate_rps`` (a p99 resting on more than a few prompts)."""
    return max(SIM_DURATION_S, min_requests / rate_rps) if min_requests > 0 and rate_rps > 0 else SIM_DURATION_S


def measure(spec: str, plan_path: Path, min_requests: int = 0) -> Row:
    """Predict and simulate one layout (offline, then online at 0.6 of the predicted capacity, over the default
    window or, with ``min_requests``, one that holds that many requests on both sides)."""
    from planner.helix.served import DEFAULT_TRACE, ONLINE_LOAD, ServedModel, predict_plan_block, trace_workload
    from planner.profiles.db import ProfileDB
    from planner.sim.run import SimOptions, simulate

    plan = json.loads(plan_path.read_text())
    db = ProfileDB.load(None)
    workload = trace_workload(DEFAULT_TRACE)
    model = ServedModel(db, db.model(plan["plan"]["model"]), workload)
    pred = predict_plan_block(plan["plan"], model)
    window = online_window_s(ONLINE_LOAD * pred.total_tok_s / workload.tokens_per_request, min_requests)
    online_pred = pred
    if window != SIM_DURATION_S:
        longer = ServedModel(db, db.model(plan["plan"]["model"]), workload, online_duration_s=window)
        online_pred = predict_plan_block(plan["plan"], longer)
    offline = simulate([plan_path], SimOptions(offline=True, latency="auto")).document.placements[0]
    load = ONLINE_LOAD * pred.total_tok_s / offline.bound_tok_s
    online = simulate([plan_path], SimOptions(load=load, latency="auto", duration_s=window)).document.placements[0]
    lat = online.decode_token_latency
    return Row(
        spec,
        plan_path.stem,
        pred.decode_tok_s,
        offline.decode_throughput_tok_s,
        (online_pred.token_latency_p50_ms, float(lat.p50_ms or 0.0)),
        (online_pred.token_latency_p99_ms, float(lat.p99_ms or 0.0)),
    )


def all_layouts(
    out_dir: Path, time_limit: float, specs: list[str] | list[Path], paper: bool = True
) -> list[tuple[str, Path]]:
    items = [(spec_file(spec).stem, p) for spec in specs for p in plan_layouts(spec, out_dir, time_limit)]
    return items + ([("paper single-24", p) for p in sorted(PAPER.glob("*.json"))] if paper else [])


def _pct(x: float, tol: float) -> str:
    s = f"{x:+.1%}".replace("%", " %")
    return s if abs(x) <= tol else f"**{s}**"


def markdown(rows: list[Row]) -> str:
    lines = [
        "| spec | layout | predicted (tok/s) | simulated (tok/s) | error | p50 pred / sim (ms) | p50 error "
        "| p99 pred / sim (ms) | p99 error |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.spec.removeprefix('helix-')} | {r.layout} | {r.predicted:,.1f} | {r.simulated:,.1f} | "
            f"{_pct(r.error, OFFLINE_TOLERANCE)} | {r.p50[0]:,.0f} / {r.p50[1]:,.0f} | "
            f"{_pct(r.p50_error, ONLINE_TOLERANCE)} | {r.p99[0]:,.0f} / {r.p99[1]:,.0f} | "
            f"{_pct(r.p99_error, ONLINE_TOLERANCE)} |"
        )
    n = len(rows)
    off = sum(abs(r.error) <= OFFLINE_TOLERANCE for r in rows)
    p50 = sum(abs(r.p50_error) <= ONLINE_TOLERANCE for r in rows)
    p99 = sum(abs(r.p99_error) <= ONLINE_TOLERANCE for r in rows)
    lines.append("")
    lines.append(
        f"Within the targets: offline decode throughput {off} of {n} (+-10 %), online p50 {p50} of {n} and p99 "
        f"{p99} of {n} (+-20 %)."
    )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", type=Path, help="plans are written (and reused) here")
    ap.add_argument("--record", type=Path, help=f"also write the rows as CSV here (shipped: profiles/{RECORD})")
    ap.add_argument("--from-record", type=Path, help="print the table of this CSV record (no planning)")
    ap.add_argument(
        "--time-limit", type=float, help=f"plan helix --time-limit per spec (60; --held-out: {HELD_OUT_TIME_LIMIT:g})"
    )
    ap.add_argument("--specs", nargs="*", default=SHIPPED, help="spec names under cluster_specs/")
    ap.add_argument("--held-out", action="store_true", help="the held-out clusters instead (module notes)")
    ap.add_argument(
        "--min-requests",
        type=int,
        default=0,
        help="online: a window long enough to hold this many requests on both sides (default: plan simulate's "
        "600 s, what the record and the plans' figures use)",
    )
    args = ap.parse_args()
    if args.min_requests and args.record is not None:
        ap.error("--record writes the default window's rows (the error bands rest on them): drop --min-requests")
    if args.from_record is not None:
        sys.stdout.write(markdown(read_record(args.from_record)) + "\n")
        return
    if args.out_dir is None:
        ap.error("--out-dir is required (or --from-record)")
    if args.held_out:
        limit = args.time_limit or HELD_OUT_TIME_LIMIT
        layouts = all_layouts(args.out_dir, limit, held_out_specs(args.out_dir), paper=False)
    else:
        layouts = all_layouts(args.out_dir, args.time_limit or 60.0, args.specs)
    rows = [measure(spec, p, args.min_requests) for spec, p in layouts]
    if args.record is not None:
        write_record(args.record, rows)
    sys.stdout.write(markdown(rows) + "\n")


if __name__ == "__main__":
    main()
