"""The agreement records (profiles/agreement/helix_served.csv, and helix_served_held_out.csv for the clusters held out
of the model's development) are the tables docs/helix.md shows, and the error bands of the served predictions are
computed from both (the slow test_agreement.py checks the records against fresh measurements)."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.calibrate.agreement import (
    HELD_OUT_RECORD,
    RECORD,
    AgreementRow,
    agreement_entries,
    read_record,
    write_record,
)

ROOT = Path(__file__).resolve().parents[3]


#: Where each record's table starts in docs/helix.md: the first table after this text.
TABLE_AFTER = {RECORD: "### Agreement with `plan simulate`", HELD_OUT_RECORD: "#### Held out: clusters the model"}


def _docs_rows(record: Path = RECORD) -> dict[tuple[str, str], list[str]]:
    text = (ROOT / "docs" / "helix.md").read_text()
    start = text.index("| spec | layout | predicted (tok/s)", text.index(TABLE_AFTER[record]))
    rows = {}
    for line in text[start : text.index("\n\n", start)].splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        spec = cells[0] if cells[0].startswith("paper") else f"helix-{cells[0]}"
        rows[(spec, cells[1])] = cells
    return rows


@pytest.mark.parametrize("which", [RECORD, HELD_OUT_RECORD], ids=["developed-on", "held-out"])
def test_docs_table_shows_the_record(which: Path) -> None:
    """Every recorded layout is in its docs table with the recorded figures (at the table's precision), and the
    table has no other row (render it with ``scripts/helix_agreement.py --from-record``)."""
    record = read_record(ROOT / "profiles" / which)
    docs = _docs_rows(which)
    assert set(docs) == {(r.spec, r.layout) for r in record}
    for r in record:
        cells = docs[(r.spec, r.layout)]
        assert cells[2:4] == [f"{r.predicted:,.1f}", f"{r.simulated:,.1f}"], (r.spec, r.layout)
        assert cells[5] == f"{r.p50[0]:,.0f} / {r.p50[1]:,.0f}" and cells[7] == f"{r.p99[0]:,.0f} / {r.p99[1]:,.0f}"


def test_record_round_trip_and_entries(tmp_path: Path) -> None:
    rows = [
        AgreementRow("s", "default", 110.0, 100.0, (90.0, 100.0), (300.0, 200.0)),
        AgreementRow("t", "default", 80.0, 100.0, (100.0, 100.0), (200.0, 200.0)),
        AgreementRow("s", "swarm", 100.0, 100.0, (100.0, 100.0), (200.0, 400.0)),
    ]
    path = tmp_path / "r.csv"
    write_record(path, rows)
    assert read_record(path) == rows
    entries = agreement_entries(rows)
    # over the recommended layouts only: a plan's figures are the recommended placement's
    assert entries["model:helix_served_decode"]["err_ratio"] == 0.15  # (10 % + 20 %) / 2
    assert entries["model:helix_served_p50"]["err_ratio"] == 0.05
    assert entries["model:helix_served_p99"]["err_ratio"] == 0.25
    assert "over the 2 recommended layouts" in str(entries["model:helix_served_p99"]["method"])
    assert agreement_entries([]) == {} and agreement_entries(rows[2:]) == {}
