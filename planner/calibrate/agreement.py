"""The served model's measured agreement with ``plan simulate``: the error bands of the Helix served predictions.

A Helix plan's ``predicted_*`` figures rest on two things: the profile rows (per-layer latency; their band is the
table's leave-one-out error) and the served model of :mod:`planner.helix.served`, an analytic prediction of what
``plan simulate`` serves. The second has its own tracked error: the agreement tables of docs/helix.md, predicted and
simulated (``scripts/helix_agreement.py --record``), on two sets of layouts: every shipped spec's default plan, the
baselines it emits and the paper's single-24 layouts (``profiles/agreement/helix_served.csv``), which the model was
developed on; and clusters held out of that development, generated and hand-written, each with its default plan and
baselines (``profiles/agreement/helix_served_held_out.csv``). A new user's cluster is like neither set in particular,
so the band is the error over both; and a plan's figures are those of the placement ``plan helix`` recommends, whose
error is not the baselines' (a recommended placement is a mesh of many routes, where the model's wave count is least
sure, and it is the candidate predicted highest: docs/helix.md, Agreement, "Held out"), so the band is the error over
the recommended (``default``) layouts of both records. This module turns those rows into ``model:``
entries of the accuracy catalogue (mean absolute relative error, as every band), which
:mod:`planner.profiles.accuracy` adds to the profile band of the figures the served model predicts.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

#: The agreement records, relative to the profile root: the layouts the model was developed on, and those held out.
RECORD = Path("agreement") / "helix_served.csv"
HELD_OUT_RECORD = Path("agreement") / "helix_served_held_out.csv"
RECORDS = (RECORD, HELD_OUT_RECORD)
#: The layout name of the placement ``plan helix`` recommends (the others are its baselines and the paper's layouts).
RECOMMENDED = "default"

FIELDS = (
    "spec",
    "layout",
    "predicted_decode_tok_s",
    "simulated_decode_tok_s",
    "predicted_p50_ms",
    "simulated_p50_ms",
    "predicted_p99_ms",
    "simulated_p99_ms",
)

#: Catalogue entries and the figures each one covers (offline decode throughput; online per-token latency).
DECODE, P50, P99 = "model:helix_served_decode", "model:helix_served_p50", "model:helix_served_p99"


@dataclass(frozen=True)
class AgreementRow:
    """One layout: predicted and simulated offline decode tokens/s, online p50 / p99 per-token latency (ms)."""

    spec: str
    layout: str
    predicted: float
    simulated: float
    p50: tuple[float, float]
    p99: tuple[float, float]

    @property
    def error(self) -> float:
        return _ratio(self.predicted, self.simulated)

    @property
    def p50_error(self) -> float:
        return _ratio(*self.p50)

    @property
    def p99_error(self) -> float:
        return _ratio(*self.p99)


def _ratio(predicted: float, simulated: float) -> float:
    return predicted / simulated - 1.0 if simulated > 0 else float("inf")


def read_record(path: Path) -> list[AgreementRow]:
    with path.open(newline="") as f:
        return [
            AgreementRow(
                r["spec"],
                r["layout"],
                float(r["predicted_decode_tok_s"]),
                float(r["simulated_decode_tok_s"]),
                (float(r["predicted_p50_ms"]), float(r["simulated_p50_ms"])),
                (float(r["predicted_p99_ms"]), float(r["simulated_p99_ms"])),
            )
            for r in csv.DictReader(f)
        ]


def write_record(path: Path, rows: list[AgreementRow]) -> None:
    """The record, to 0.001 token/s and 0.01 ms (the docs table, rounded further, is rendered from it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(FIELDS)
        for r in rows:
            w.writerow(
                [r.spec, r.layout, f"{r.predicted:.3f}", f"{r.simulated:.3f}", f"{r.p50[0]:.2f}", f"{r.p50[1]:.2f}",
                 f"{r.p99[0]:.2f}", f"{r.p99[1]:.2f}"]
            )  # fmt: skip


def read_records(root: Path) -> tuple[list[AgreementRow], tuple[Path, ...]]:
    """The rows of every agreement record under the profile root ``root``, and which records there were."""
    found = tuple(r for r in RECORDS if (root / r).exists())
    return [row for r in found for row in read_record(root / r)], found


def agreement_entries(rows: list[AgreementRow], records: tuple[Path, ...] = RECORDS) -> dict[str, dict[str, object]]:
    """The ``model:`` entries of the accuracy catalogue: mean absolute relative error over the recommended layouts
    recorded (those of ``records``; module notes)."""
    rows = [r for r in rows if r.layout == RECOMMENDED]
    if not rows:
        return {}
    n = len(rows)
    where = " and ".join(f"profiles/{r.as_posix()}" for r in records)

    def entry(errors: list[float], what: str) -> dict[str, object]:
        return {
            "basis": "analytic",
            "err_ratio": round(sum(abs(e) for e in errors) / n, 4),
            "method": f"mean absolute error of the served prediction ({what}) against plan simulate over the {n} "
            f"recommended layouts of docs/helix.md, Agreement ({where})",
        }

    return {
        DECODE: entry([r.error for r in rows], "offline decode tokens/s"),
        P50: entry([r.p50_error for r in rows], "online p50 per-token latency"),
        P99: entry([r.p99_error for r in rows], "online p99 per-token latency"),
    }
