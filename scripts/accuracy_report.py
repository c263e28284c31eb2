"""Print the accuracy figures of docs/accuracy.md: shipped-table leave-one-out, and synthetic recovery.

.venv/bin/python scripts/accuracy_report.py             # both sections, markdown
.venv/bin/python scripts/accuracy_report.py --tables    # only the shipped-table leave-one-out table
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from planner.calibrate.accuracy import leave_one_out  # noqa: E402
from planner.calibrate.fit import fit  # noqa: E402
from planner.calibrate.ingest import load_all  # noqa: E402
from planner.calibrate.itermodel import PARAM_NAMES, current_hardware  # noqa: E402
from planner.calibrate.synthetic import KNOWN  # noqa: E402
from planner.calibrate.table_loo import band_entries, markdown, shipped_loo  # noqa: E402
from planner.profiles.db import ProfileDB  # noqa: E402

SYNTHETIC = ROOT / "tests" / "fixtures" / "calibrate" / "synthetic"
BANDS = ROOT / "profiles" / "accuracy.yaml"
BANDS_HEADER = """\
# Error bands of predicted figures (docs/accuracy.md, "Error bands"): err_ratio is the mean absolute relative error
# of figures resting on rows of each kind. Written by scripts/accuracy_report.py --write-bands from the shipped
# tables; a calibrated profile directory (plan calibrate) adds calibrated:<hardware>/tp<N>/<model> entries.
"""


def bands_text(db: ProfileDB) -> str:
    return BANDS_HEADER + yaml.safe_dump(band_entries(db), sort_keys=False, width=200)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tables", action="store_true", help="only the shipped-table leave-one-out table")
    ap.add_argument("--write-bands", action="store_true", help="rewrite profiles/accuracy.yaml")
    args = ap.parse_args(argv)
    db = ProfileDB.load()
    if args.write_bands:
        BANDS.write_text(bands_text(db))
        return 0
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
