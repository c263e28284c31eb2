"""Convert SplitwiseSim's ``perf_model.csv`` into the profile table ``profiles/tables/splitwise_perf.csv``.

The simulator's database performance model (Splitwise, ISCA 2024, section V-B; SplitwiseSim
``performance_model.py``) indexes iteration time by *batch tokens* x = prompt_size x batch_size and takes the
**median** prompt_time and token_time over the repeated runs at each x. This script does exactly that once, so the
planner ships knots rather than raw runs: one row per (model, hardware, tp, batch_tokens) with the two medians, the
number of runs behind them and a ``source`` saying what the row rests on. The ``h100-80gb-pcap`` rows of the
original are not measurements (prompt time is 1.30x and token time 1.00x the H100 rows, row by row), so they are
marked ``synthetic``.

Usage: ``python scripts/convert_splitwise_perf.py /work/shared/reference/splitwise/perf_model.csv``
(writes ``profiles/tables/splitwise_perf.csv``; the input is MIT-licensed, see profiles/licenses/).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "profiles" / "tables" / "splitwise_perf.csv"
COMMIT = "8f99e7d"
HEADER = (
    "# Splitwise performance model: median prompt and token iteration time (ms) by batch tokens, per model,\n"
    "# hardware and tensor parallelism. Converted by scripts/convert_splitwise_perf.py from data/perf_model.csv of\n"
    f"# Mutinifni/splitwise-sim (commit {COMMIT}), MIT, (c) 2024 Pratyush Patel: "
    "see profiles/licenses/SPLITWISE-SIM.md.\n"
)


def convert(raw: pd.DataFrame) -> pd.DataFrame:
    """Median knots per (model, hardware, tp, batch tokens), as SplitwiseSim's database predictor builds them."""
    df = raw.assign(batch_tokens=raw["prompt_size"] * raw["batch_size"])
    keys = ["model", "hardware", "tensor_parallel", "batch_tokens"]
    knots = (
        df.groupby(keys)
        .agg(prompt_ms=("prompt_time", "median"), token_ms=("token_time", "median"), samples=("prompt_time", "size"))
        .reset_index()
        .rename(columns={"tensor_parallel": "tp"})
    )

    def source(row: pd.Series) -> str:
        if str(row["hardware"]).endswith("-pcap"):
            return f"synthetic:splitwise-sim {COMMIT} perf_model.csv (power-capped H100: prompt 1.3x, token 1.0x H100)"
        return f"measured:splitwise-sim {COMMIT} perf_model.csv (median of {int(row['samples'])} runs)"

    knots["source"] = knots.apply(source, axis=1)
    knots["prompt_ms"] = knots["prompt_ms"].round(6)
    knots["token_ms"] = knots["token_ms"].round(6)
    return knots.sort_values(["model", "hardware", "tp", "batch_tokens"], kind="stable").reset_index(drop=True)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    knots = convert(pd.read_csv(argv[0]))
    OUT.write_text(HEADER + knots.to_csv(index=False))
    print(f"wrote {OUT.relative_to(ROOT)}: {len(knots)} knots")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
