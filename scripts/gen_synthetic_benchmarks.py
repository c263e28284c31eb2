"""Write the SYNTHETIC benchmark files of the calibration recovery tests (vLLM result JSON + sidecars).

    .venv/bin/python scripts/gen_synthetic_benchmarks.py            # rewrite tests/fixtures/calibrate/synthetic/
    .venv/bin/python scripts/gen_synthetic_benchmarks.py --out DIR --noise 0.05 --seed 3
    .venv/bin/python scripts/gen_synthetic_benchmarks.py --dvfs   # rewrite tests/fixtures/calibrate/dvfs/

Each file is what our simulator predicts for a known iteration model (planner/calibrate/synthetic.py ``KNOWN``;
with --dvfs: runs at locked clocks with power, from known dynamo-profile parameters ``KNOWN_DYNAMO``),
with every figure multiplied by 1 + noise x N(0, 1); its sidecar says ``provenance: synthetic``. Deterministic for a
seed, so a test checks that the shipped fixtures are exactly what this script writes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from planner.calibrate.synthetic import synthesize, synthesize_dvfs  # noqa: E402
from planner.profiles.db import ProfileDB  # noqa: E402

DEFAULT_OUT = ROOT / "tests" / "fixtures" / "calibrate" / "synthetic"
DVFS_OUT = ROOT / "tests" / "fixtures" / "calibrate" / "dvfs"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--dvfs", action="store_true", help="DVFS runs with power (the dynamo profile's recovery files)")
    ap.add_argument("--noise", type=float, default=0.02)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    out = args.out or (DVFS_OUT if args.dvfs else DEFAULT_OUT)
    for old in sorted(out.glob("dvfs-*" if args.dvfs else "synthetic-*")) if out.is_dir() else []:
        old.unlink()
    if args.dvfs:
        synthesize_dvfs(ProfileDB.load(), out, noise=args.noise, seed=args.seed)
    else:
        synthesize(ProfileDB.load(), out, noise=args.noise, seed=args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
