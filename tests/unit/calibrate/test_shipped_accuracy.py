"""The figures of docs/accuracy.md are the ones the code computes; the synthetic fixtures are what the script writes."""

from __future__ import annotations

from pathlib import Path

from planner.calibrate.synthetic import synthesize
from planner.calibrate.table_loo import markdown, shipped_loo

ROOT = Path(__file__).resolve().parents[3]


def test_docs_show_the_computed_leave_one_out_table(profile_db):
    stats = shipped_loo(profile_db)
    assert [s.points for s in stats if s.table == "splitwise_perf"] == [56, 56, 56, 56]  # 8 curves x 7 interior
    assert (ROOT / "docs" / "accuracy.md").read_text().count(markdown(stats)) == 1


def test_synthetic_fixtures_are_reproducible(tmp_path, profile_db, synthetic_files):
    written = synthesize(profile_db, tmp_path)
    assert [p.name for p in written] == [p.name for p in synthetic_files]
    for new, shipped in zip(written, synthetic_files, strict=True):
        assert new.read_bytes() == shipped.read_bytes(), shipped.name
        meta = shipped.with_name(shipped.stem + ".meta.yaml")
        assert new.with_name(new.stem + ".meta.yaml").read_bytes() == meta.read_bytes()
        assert "provenance: synthetic" in meta.read_text()
