"""The agreement record (profiles/agreement/helix_served.csv) is the table docs/helix.md shows, and the error bands
of the served predictions are computed from it (the slow test_agreement.py checks the record against fresh
measurements)."""

from __future__ import annotations

from pathlib import Path

from planner.calibrate.agreement import RECORD, AgreementRow, agreement_entries, read_record, write_record

ROOT = Path(__file__).resolve().parents[3]


def _docs_rows() -> dict[tuple[str, str], list[str]]:
    text = (ROOT / "docs" / "helix.md").read_text()
    start = text.index("| spec | layout | predicted (tok/s)")
    rows = {}
    for line in text[start : text.index("\n\n", start)].splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        spec = cells[0] if cells[0].startswith("paper") else f"helix-{cells[0]}"
        rows[(spec, cells[1])] = cells
    return rows


def test_docs_table_shows_the_record() -> None:
    """Every recorded layout is in the docs table with the recorded figures (at the table's precision), and the
    table has no other row (render it with ``scripts/helix_agreement.py --from-record``)."""
    record = read_record(ROOT / "profiles" / RECORD)
    docs = _docs_rows()
    assert set(docs) == {(r.spec, r.layout) for r in record}
    for r in record:
        cells = docs[(r.spec, r.layout)]
        assert cells[2:4] == [f"{r.predicted:,.1f}", f"{r.simulated:,.1f}"], (r.spec, r.layout)
        assert cells[5] == f"{r.p50[0]:,.0f} / {r.p50[1]:,.0f}" and cells[7] == f"{r.p99[0]:,.0f} / {r.p99[1]:,.0f}"


def test_record_round_trip_and_entries(tmp_path: Path) -> None:
    rows = [
        AgreementRow("s", "default", 110.0, 100.0, (90.0, 100.0), (300.0, 200.0)),
        AgreementRow("s", "swarm", 80.0, 100.0, (100.0, 100.0), (200.0, 200.0)),
    ]
    path = tmp_path / "r.csv"
    write_record(path, rows)
    assert read_record(path) == rows
    entries = agreement_entries(rows)
    assert entries["model:helix_served_decode"]["err_ratio"] == 0.15  # (10 % + 20 %) / 2
    assert entries["model:helix_served_p50"]["err_ratio"] == 0.05
    assert entries["model:helix_served_p99"]["err_ratio"] == 0.25
    assert agreement_entries([]) == {}
