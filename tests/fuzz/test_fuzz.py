"""The fuzz suite of issue 18: generated hostile inputs through the whole CLI, in-process.

``make fuzz`` runs 10,000 cases (``FUZZ_CASES``, ``FUZZ_SEED`` to change them); the quick suite runs the first 500.
Every case must exit 0, 1 or 2 without a traceback, name the mangled file in each error line, leave every input
unchanged, and finish within the per-case bound; the whole run stays under the memory bound.
"""

from __future__ import annotations

import os

import pytest

from tests.fuzz.harness import Summary, run

#: Peak resident memory of the whole run (every case included), MB.
PEAK_RSS_MB = 1500


def _check(summary: Summary) -> None:
    print(f"\nfuzz: {summary.line()}")
    for f in summary.failures[:20]:
        print(f"  case {f.index} [{f.kind}] plan {' '.join(f.args)}: {f.problem}")
    assert summary.failures == [], f"{len(summary.failures)} failing cases (first: case {summary.failures[0].index})"
    assert summary.tracebacks == summary.hangs == summary.changed_inputs == 0
    assert summary.peak_rss_mb < PEAK_RSS_MB


def test_fuzz_quick_slice() -> None:
    summary = run(500, seed=0)
    assert summary.cases == 500
    assert summary.exit_codes[2] > 0 and summary.exit_codes[0] > 0  # the generator reaches both sides
    _check(summary)


@pytest.mark.fuzz
def test_fuzz_full() -> None:
    count = int(os.environ.get("FUZZ_CASES", "10000"))
    summary = run(count, seed=int(os.environ.get("FUZZ_SEED", "0")))
    assert summary.cases == count
    _check(summary)
