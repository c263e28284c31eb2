"""Small sweep files over the shipped Splitwise spec (one design, short traces: a point plans in well under 1 s)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SPLITWISE_SPEC = ROOT / "cluster_specs" / "splitwise-bloom176b-coding.yaml"


def sweep_file(tmp_path: Path, body: str, name: str = "sweep.yaml") -> Path:
    """A sweep file in ``tmp_path`` whose base spec is the shipped Splitwise coding spec."""
    path = tmp_path / name
    path.write_text(f"spec: {SPLITWISE_SPEC}\nsolver: splitwise\n{body}", encoding="utf-8")
    return path


@pytest.fixture
def small_sweep(tmp_path: Path) -> Path:
    """Four points: two rates x two objectives, design HH, 5 s traces."""
    return sweep_file(
        tmp_path,
        "options: {designs: HH, duration: 5s}\n"
        "axes:\n"
        "  - set: workload.rate_rps\n"
        "    values: [2, 4]\n"
        "  - option: objective\n"
        "    values: [cost, machines]\n",
    )


def outside_run(text: str) -> str:
    """A plan's JSON text with its top-level ``run`` block cut out (the rest compared byte for byte)."""
    lines = text.splitlines(keepends=True)
    start = lines.index('  "run": {\n')
    end = lines.index("  },\n", start) if "  },\n" in lines[start:] else lines.index("  }\n", start)
    assert lines[start : end + 1] and len(lines[start : end + 1]) < 40
    return "".join(lines[:start] + lines[end + 1 :])
