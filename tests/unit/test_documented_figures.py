"""Every figure the benchmarks assert is quoted verbatim where the registry says (tests/bench/figures.py).

``make bench`` measures the figures against the registry; this quick test ties the registry to README.md and
docs/*.md, so changing a documented figure without its benchmark (or the reverse) fails ``make test``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.bench.figures import FIGURES, Figure, number_in

ROOT = Path(__file__).resolve().parents[2]


def _text(doc: str) -> str:
    return (ROOT / doc).read_text(encoding="utf-8")


@pytest.mark.parametrize("key", sorted(FIGURES))
def test_figure_is_quoted_verbatim(key: str) -> None:
    f = FIGURES[key]
    assert f.where, f"{key}: quoted nowhere"
    for doc, quote in f.where:
        assert quote in _text(doc), f"{key}: {doc} no longer says {quote!r}"
        assert number_in(quote, f.quoted), f"{key}: {f.quoted!r} is not in its quote {quote!r}"


def test_tolerance_is_half_the_last_digit() -> None:
    assert Figure("2,045.641", ()).tolerance == pytest.approx(0.0005)
    assert Figure("5.3", ()).tolerance == pytest.approx(0.05)
    assert Figure("88", ()).tolerance == pytest.approx(0.5)
    assert Figure("1,005", ()).value == 1005.0
    assert Figure("2", (), tol=0.2).tolerance == 0.2


def test_number_in_matches_whole_numbers_only() -> None:
    assert number_in("HA 25P + 3T", "25") and number_in("gap 5.3%", "5.3")
    assert not number_in("125 machines", "25") and not number_in("2.5 s", "2")
    assert not number_in("gap 5.34 %", "5.3") and not number_in("1,005", "005")


def _patterns() -> list[re.Pattern[str]]:
    """The figure keys the benchmarks name, literally or as f-strings (``f"helix.{case}.status"``)."""
    found = []
    for path in sorted((ROOT / "tests" / "bench").glob("test_*.py")):
        source = path.read_text(encoding="utf-8")
        for text in re.findall(r'"([A-Za-z0-9_.{}\[\]\' -]+)"', source) + re.findall(r"'([A-Za-z0-9_.{} -]+)'", source):
            if "." in text and not text.startswith("{"):  # a pattern must name at least its family literally
                found.append(re.compile(re.sub(r"\\\{[^}]*\\\}", ".+", re.escape(text)) + "$"))
    return found


def test_every_figure_is_asserted_by_a_benchmark() -> None:
    """A registered figure no benchmark names would be checked against the docs but never measured."""
    patterns = _patterns()
    unused = [k for k in FIGURES if not k.startswith("reference.") and not any(p.match(k) for p in patterns)]
    assert not unused, f"registered but asserted by no benchmark: {unused}"
