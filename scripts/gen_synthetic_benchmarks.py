"""Write the SYNTHETIC benchmark files of the calibration recovery tests (vLLM result JSON + sidecars).

    .venv/bin/python scripts/gen_synthetic_benchmarks.py            # rewrite tests/fixtures/calibrate/synthetic/
    .venv/bin/python scripts/gen_synthetic_benchmarks.py --out DIR --noise 0.05 --seed 3

Each file is what our simulator predicts for a known iteration model (planner/calibrate/synthetic.py ``KNOWN``),
with every figure multiplied by 1 + noise x N(0, 1); its sidecar says ``provenance: synthetic``. Deterministic for a
seed, so a test checks that the shipped fixtures are exactly what this script writes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from planner.calibrate.synthetic import synthesize  # noqa: E402
from planner.profiles.db import ProfileDB  # noqa: E402

DEFAULT_OUT = ROOT / "tests" / "fixtures" / "calibrate" / "synthetic"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--noise", type=float, default=0.02)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    for old in sorted(args.out.glob("synthetic-*")) if args.out.is_dir() else []:
        old.unlink()
    synthesize(ProfileDB.load(), args.out, noise=args.noise, seed=args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
