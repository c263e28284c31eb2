"""Rebuild ``profiles/tables/helix_throughput.csv`` from the Helix reference data (run once; output is committed).

Inputs (``../shared/reference/helix``): ``throughput_tables.csv`` (2-decimal tables for every mix the paper ran) and
``test_vectors.yaml`` (full-precision tables for the two test-vector mixes). Full precision wins where present, so
that the test vectors reproduce to 1e-3. Data: Thesys-lab/Helix-ASPLOS25 @ 148b733, Apache-2.0 (see
``profiles/licenses/HELIX-SOURCE.md``).

Usage: ``.venv/bin/python scripts/build_helix_tables.py [REFERENCE_DIR]``
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REF = ROOT.parent / "shared" / "reference" / "helix"
OUT = ROOT / "profiles" / "tables" / "helix_throughput.csv"

#: Helix machine-profile names -> (canonical GPU type in profiles/gpus.yaml, GPUs per node).
PROFILE_GPUS: dict[str, tuple[str, int]] = {
    "A100": ("A100-40G", 1),
    "V100": ("V100", 1),
    "L4": ("L4", 1),
    "L4x2": ("L4", 2),
    "T4": ("T4", 1),
    "T4x2": ("T4", 2),
    "T4x4": ("T4", 4),
}

SOURCE_FULL = (
    "measured:Thesys-lab/Helix-ASPLOS25@148b733 Helix profile model over measured per-layer latency "
    "(full precision, reference test_vectors.yaml)"
)
SOURCE_2DP = (
    "measured:Thesys-lab/Helix-ASPLOS25@148b733 Helix profile model over measured per-layer latency "
    "(2 decimals, reference throughput_tables.csv)"
)

HEADER = [
    "# Helix per-node typical token throughput tp(k), tokens/s, for a node holding k layers, per GPU mix.",
    "# From Thesys-lab/Helix-ASPLOS25 (commit 148b733), Apache-2.0: computed by the Helix profile model from the",
    "# per-layer latency profiles (see helix_layer_latency.csv). Built by scripts/build_helix_tables.py.",
    "# See profiles/licenses/HELIX-SOURCE.md and profiles/licenses/LICENSE-Apache-2.0.txt.",
]


def main(argv: list[str]) -> int:
    ref = Path(argv[0]) if argv else DEFAULT_REF
    vectors = yaml.safe_load((ref / "test_vectors.yaml").read_text())
    full: dict[tuple[str, str, str], list[float]] = {}
    for key, table in vectors["throughput_tables_full_precision"].items():
        model, mix = key.split("/")
        for gpu, values in table.items():
            full[(model, mix, gpu)] = [float(v) for v in values]
    rows: list[list[str]] = []
    with (ref / "throughput_tables.csv").open() as fh:
        for rec in csv.DictReader(fh):
            model, mix, pgpu, k = rec["model"], rec["gpu_mix"], rec["gpu"], int(rec["layers"])
            gpu, per_node = PROFILE_GPUS[pgpu]
            precise = full.get((model, mix, pgpu))
            if precise is not None:
                value, source = repr(precise[k - 1]), SOURCE_FULL
            else:
                value, source = rec["tokens_per_s"], SOURCE_2DP
            rows.append([model, mix, gpu, str(per_node), pgpu, str(k), value, source])
    rows.sort(key=lambda r: (r[0], r[1], r[2], int(r[3]), int(r[5])))
    with OUT.open("w", newline="") as fh:
        fh.write("\n".join(HEADER) + "\n")
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["model", "mix", "gpu", "gpus_per_node", "profile_gpu", "layers", "tokens_per_s", "source"])
        w.writerows(rows)
    print(f"wrote {OUT.relative_to(ROOT)} ({len(rows)} rows)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
