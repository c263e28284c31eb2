"""Print the accuracy figures of docs/accuracy.md: shipped-table leave-one-out, and synthetic recovery.

.venv/bin/python scripts/accuracy_report.py             # both sections, markdown
.venv/bin/python scripts/accuracy_report.py --tables    # only the shipped-table leave-one-out table
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from planner.calibrate.accuracy import leave_one_out  # noqa: E402
from planner.calibrate.fit import fit  # noqa: E402
from planner.calibrate.ingest import load_all  # noqa: E402
from planner.calibrate.itermodel import PARAM_NAMES, current_hardware  # noqa: E402
from planner.calibrate.synthetic import KNOWN  # noqa: E402
from planner.calibrate.table_loo import markdown, shipped_loo  # noqa: E402
from planner.profiles.db import ProfileDB  # noqa: E402

SYNTHETIC = ROOT / "tests" / "fixtures" / "calibrate" / "synthetic"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tables", action="store_true", help="only the shipped-table leave-one-out table")
    args = ap.parse_args(argv)
    db = ProfileDB.load()
    out = [markdown(shipped_loo(db))]
    if not args.tables:
        runs, _ = load_all(sorted(SYNTHETIC.glob("synthetic-*.json")), db)
        hw = current_hardware(db, "H100-80G", 8, "llama2-70b")
        result = fit(runs, [], hw)
        out.append("\n| parameter | known | fitted | error |\n|---|---:|---:|---:|")
        for name, k, f in zip(PARAM_NAMES, KNOWN.vector(), result.model.vector(), strict=True):
            out.append(f"| `{name}` | {k:g} | {f:.3f} | {f / k - 1:+.1%} |")
        rep = leave_one_out(runs, db)
        out.append("\n| figure | runs | mean | median | p90 | max |\n|---|---:|---:|---:|---:|---:|")
        for a in rep.aggregate:
            out.append(
                f"| {a.metric} | {a.runs} | {a.mean_abs:.1%} | {a.median_abs:.1%} | {a.p90_abs:.1%} | {a.max_abs:.1%} |"
            )
        out.append(f"\noverall mean absolute error (leave-one-out): {rep.overall_mean_abs():.2%}")
    sys.stdout.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
