"""Reports as data: the blocks a solver's ``report.py`` returns and :mod:`planner.render` draws.

Why a module of its own: a report decides *what* to show (which rows, which figures, in which words) from a plan
block alone; :mod:`planner.render` decides *how* (rich tables fitted to the terminal's width, markdown for PR
comments, matplotlib figures). Both import this module and nothing of each other, so the data flow reads
plan -> report (data) -> render with no loop. Nothing here imports rich, matplotlib or a solver.

Cells are already formatted strings (:func:`fmt_num` and friends), so every target prints the same figures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

#: The plan document's ``metrics`` (unit-suffixed figures), handed to a report next to its typed plan block: the
#: caller above the plan layer unpacks the document, so a solver's ``report.py`` never imports it.
Metrics = Mapping[str, float | None]


def fmt_num(value: Any) -> str:
    """Human formatting for a figure: thousands separators, 4 significant digits for small numbers."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:
            return "nan"
        if abs(value) >= 1000:
            return f"{value:,.1f}"
        if abs(value) >= 1:
            return f"{value:.3f}".rstrip("0").rstrip(".")
        return f"{value:.4g}"
    return str(value)


def fmt_band(value: Any, err_ratio: float | None, unit: str = "", pair: tuple[float, float] | None = None) -> str:
    """``110 +-6 %`` (``110 ms +-6 %`` with a unit): a figure with its error band (docs/accuracy.md); ``251 -20 %
    / +414 %`` when the band has two sides (``pair``: low, high); the bare figure when it has none."""
    shown = fmt_num(value) + (f" {unit}" if unit else "")
    if value is None or (err_ratio is None and pair is None):
        return shown
    if pair is not None:
        return f"{shown} -{pair[0] * 100:.0f} % / +{pair[1] * 100:.0f} %"
    assert err_ratio is not None
    return f"{shown} +-{err_ratio * 100:.0f} %"


def fmt_pct(ratio: float | None) -> str:
    """``0.2242`` -> ``22.4%``; ``-`` when unknown."""
    return "-" if ratio is None else f"{ratio * 100:.1f}%"


@dataclass(frozen=True)
class Column:
    """One table column.

    ``numeric`` columns are right-aligned. ``wrap`` columns hold free text that may fold inside its cell when the
    table is narrower than its natural width (other cells are never broken). ``detail`` columns may leave the table
    and be listed under it, one line per row, when the table cannot fit the width even with text folded.
    """

    name: str
    numeric: bool = False
    wrap: bool = False
    detail: bool = False


@dataclass(frozen=True)
class Table:
    """A titled table of formatted cells; ``notes`` are lines printed under it.

    In markdown the title becomes a ``###`` heading (none when empty). ``compact`` draws it without vertical rules
    (the wide splitwise tables).
    """

    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[str, ...], ...]
    notes: tuple[str, ...] = ()
    compact: bool = False

    def __post_init__(self) -> None:
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"table {self.title!r}: row {row!r} has {len(row)} cells for {len(self.columns)}")


Tone = Literal["plain", "strong", "warning", "error"]


@dataclass(frozen=True)
class Text:
    """A paragraph; terminals fold it at their width (continuation lines indented by ``hang``)."""

    text: str
    tone: Tone = "plain"
    hang: int = 0


@dataclass(frozen=True)
class Heading:
    """A section heading (markdown ``###``); terminal reports title their tables instead."""

    text: str


@dataclass(frozen=True)
class Bullets:
    """A list of short items (markdown ``- item``; terminal lines indented by two)."""

    items: tuple[str, ...]


@dataclass(frozen=True)
class Code:
    """Preformatted lines (a fenced block in markdown). ``shell`` lines are commands: a terminal narrower than a
    line breaks it between arguments with `` \\`` continuations, so it can still be pasted."""

    lines: tuple[str, ...]
    shell: bool = False
    indent: int = 0


@dataclass(frozen=True)
class Span:
    """One row of a :class:`RangeChart`: ``[start, end)`` drawn with ``mark``, the rest with the chart's ``empty``."""

    label: str
    start: int
    end: int
    mark: str


@dataclass(frozen=True)
class RangeChart:
    """A text figure: one row per label over ``length`` positions (the Helix layer map: nodes x layers).

    Drawn with at most ``max_columns`` character columns (fewer on a narrow terminal), each column standing for
    ``ceil(length / columns)`` positions (said under the chart when more than one, in ``unit``); a header row marks
    every tenth position with its tens digit.
    """

    length: int
    spans: tuple[Span, ...]
    empty: str = "."
    max_columns: int = 80
    unit: str = "positions"


Block = Table | Text | Heading | Bullets | Code | RangeChart


@dataclass(frozen=True)
class Report:
    """What a report function returns: blocks in order (``sections`` kept as a tuple so reports stay hashable)."""

    blocks: tuple[Block, ...] = field(default_factory=tuple)

    @staticmethod
    def of(blocks: Sequence[Block]) -> Report:
        return Report(tuple(blocks))


def table(
    title: str,
    columns: Sequence[Column | str],
    rows: Sequence[Sequence[Any]],
    notes: Sequence[str] = (),
    compact: bool = False,
) -> Table:
    """Build a :class:`Table`, formatting every cell with :func:`fmt_num` (strings pass through unchanged)."""
    cols = tuple(c if isinstance(c, Column) else Column(c) for c in columns)
    return Table(title, cols, tuple(tuple(fmt_num(v) for v in r) for r in rows), tuple(notes), compact)
