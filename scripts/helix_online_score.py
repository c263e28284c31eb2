"""Score the online prediction alone against the agreement record, in seconds, without simulating.

For every row of the record (``profiles/agreement/helix_served.csv``) it recomputes the predicted p50 / p99
per-token latency online (:func:`planner.helix.served.predict_plan_block`, the same call and offered rate as
``scripts/helix_agreement.py``) on the row's plan and prints it against the record's *simulated* figures, which
stay valid while the plans and the referee (``planner/sim``) are unchanged: the way to judge a change to
``planner/helix/online.py`` on all 23 rows before re-measuring. Plans: ``PLANS/<spec>/<layout>.json`` (the
``--out-dir`` of the agreement run that wrote the record) and the paper's single-24 layouts
(tests/fixtures/helix_plans/single24).

    .venv/bin/python scripts/helix_online_score.py PLANS [--record CSV] [--offline]

Each row shows the recomputed error and the record's; ``in`` / ``OUT`` mark a row that enters / leaves +-20 %.
``--offline`` scores the offline decode tokens/s instead (+-10 %), the way to judge a change to the offline node
model of ``planner/helix/served.py``; with ``--record profiles/agreement/helix_served_held_out.csv`` and the
``--out-dir`` of ``scripts/helix_agreement.py --held-out``, on the clusters held out of the model's development.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from helix_agreement import OFFLINE_TOLERANCE, PAPER, ROOT
from helix_agreement import ONLINE_TOLERANCE as TOLERANCE

from planner.calibrate.agreement import RECORD, read_record

PAPER_SPEC = "paper single-24"


def plan_path(plans: Path, spec: str, layout: str) -> Path:
    return PAPER / f"{layout}.json" if spec == PAPER_SPEC else plans / spec / f"{layout}.json"


def _mark(now: float, before: float, tolerance: float = TOLERANCE) -> str:
    a, b = abs(now) <= tolerance, abs(before) <= tolerance
    return "" if a == b else (" in" if a else " OUT")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("plans", type=Path, help="the --out-dir of the agreement run that wrote the record")
    ap.add_argument("--record", type=Path, default=ROOT / "profiles" / RECORD)
    ap.add_argument("--offline", action="store_true", help="score the offline decode tokens/s instead")
    args = ap.parse_args()
    from planner.helix.served import DEFAULT_TRACE, ServedModel, predict_plan_block, trace_workload
    from planner.profiles.db import ProfileDB

    db = ProfileDB.load(None)
    workload = trace_workload(DEFAULT_TRACE)  # read once: every row is predicted on the same trace
    n50 = n99 = n_off = 0
    abs_off = 0.0
    rows = read_record(args.record)
    for r in rows:
        plan = json.loads(plan_path(args.plans, r.spec, r.layout).read_text())
        model = ServedModel(db, db.model(plan["plan"]["model"]), workload)
        pred = predict_plan_block(plan["plan"], model)
        if args.offline:
            e = pred.decode_tok_s / r.simulated - 1.0
            n_off += abs(e) <= OFFLINE_TOLERANCE
            abs_off += abs(e)
            sys.stdout.write(
                f"{r.spec.removeprefix('helix-'):24s} {r.layout:19s} decode {pred.decode_tok_s:9.1f} / "
                f"{r.simulated:9.1f} {e:+7.1%} (record {r.error:+7.1%}){_mark(e, r.error, OFFLINE_TOLERANCE)}\n"
            )
            continue
        p50, p99 = pred.token_latency_p50_ms, pred.token_latency_p99_ms
        e50, e99 = p50 / r.p50[1] - 1.0, p99 / r.p99[1] - 1.0
        n50 += abs(e50) <= TOLERANCE
        n99 += abs(e99) <= TOLERANCE
        sys.stdout.write(
            f"{r.spec.removeprefix('helix-'):24s} {r.layout:19s} p50 {p50:7.0f} / {r.p50[1]:7.0f} {e50:+7.1%} "
            f"(record {r.p50_error:+7.1%}){_mark(e50, r.p50_error):5s} p99 {p99:7.0f} / {r.p99[1]:7.0f} {e99:+7.1%} "
            f"(record {r.p99_error:+7.1%}){_mark(e99, r.p99_error)}\n"
        )
    if args.offline:
        mean = abs_off / len(rows) if rows else 0.0
        sys.stdout.write(f"within +-10 %: decode {n_off} of {len(rows)}, mean absolute error {mean:.1%}\n")
        return
    sys.stdout.write(f"within +-20 %: p50 {n50} of {len(rows)}, p99 {n99} of {len(rows)}\n")


if __name__ == "__main__":
    main()
