"""Fitting report tables and command lines to the terminal's width (pure functions, no rich).

A table is drawn at its natural width when that fits. Otherwise free-text (``wrap``) columns fold between words
and long headers wrap, widest column first, never below the longest word; if that is still too wide, ``detail``
columns leave the table and are listed under it, one line per row; then, as a last resort, free text folds inside
long words (paths, addresses). Figures are never cut.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len

from planner.report_data import Column

#: Narrowest a folding text column gets while a longer word does not force it wider.
MIN_TEXT_WIDTH = 12


def table_overhead(columns: int) -> int:
    """Characters a rich table adds around its cells: one space of padding each side, a rule between columns and
    the two edges (the same for the boxed and the compact style)."""
    return 3 * columns + 1


def _longest_word(text: str) -> int:
    return max((cell_len(w) for w in text.split()), default=0)


@dataclass(frozen=True)
class Fit:
    """How to draw a table: which columns stay (``keep``), their widths (``None``: natural) and which move under it."""

    keep: tuple[int, ...]
    widths: tuple[int, ...] | None
    moved: tuple[int, ...] = ()


def fit_table(columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int) -> Fit:
    """Choose column widths so the table fits ``width`` characters (see the module docstring)."""
    natural = [max([cell_len(c.name)] + [cell_len(r[i]) for r in rows]) for i, c in enumerate(columns)]
    if sum(natural) + table_overhead(len(columns)) <= width:
        return Fit(tuple(range(len(columns))), None)
    # soft: text folds between words only; hard: text may fold inside a long word, down to MIN_TEXT_WIDTH.
    soft, hard = [], []
    for i, c in enumerate(columns):
        head = _longest_word(c.name)
        if c.wrap:
            words = max([head] + [_longest_word(r[i]) for r in rows])
            soft.append(max(words, min(natural[i], MIN_TEXT_WIDTH)))
            hard.append(max(min(words, MIN_TEXT_WIDTH), min(natural[i], MIN_TEXT_WIDTH)))
        else:
            soft.append(max([head] + [cell_len(r[i]) for r in rows]))
            hard.append(soft[-1])
    keep = list(range(len(columns)))
    moved: list[int] = []
    if sum(soft) + table_overhead(len(keep)) > width:
        moved = [i for i in keep if columns[i].detail]
        keep = [i for i in keep if not columns[i].detail]
        if moved and sum(natural[i] for i in keep) + table_overhead(len(keep)) <= width:
            return Fit(tuple(keep), None, tuple(moved))
    widths = {i: natural[i] for i in keep}
    excess = sum(widths.values()) + table_overhead(len(keep)) - width
    for least in (soft, hard):
        while excess > 0:
            # Fold free text first (widest first), then wrap headers longer than their cells.
            text = [i for i in keep if columns[i].wrap and widths[i] > least[i]]
            pool = text or [i for i in keep if widths[i] > least[i]]
            if not pool:
                break
            widest = max(pool, key=lambda i: (widths[i], i))
            widths[widest] -= 1
            excess -= 1
    return Fit(tuple(keep), tuple(widths[i] for i in keep), tuple(moved))


_SHELL_TOKEN = re.compile(r"""(?:'[^']*'|"[^"]*"|\S)+""")


def fold_command(line: str, width: int, indent: int = 0, continuation: int = 4) -> list[str]:
    """Break a shell command longer than ``width`` with `` \\`` continuations, so what is printed can still be
    pasted into a shell: between options (an option stays with its value) where possible, else between arguments;
    quoted arguments are never split (one longer than a line stays whole)."""
    if indent + cell_len(line) <= width:
        return [" " * indent + line]
    groups: list[list[str]] = []
    for token in _SHELL_TOKEN.findall(line):
        if token.startswith("-") or not groups:
            groups.append([token])
        else:
            groups[-1].append(token)
    out: list[str] = []
    current = " " * indent
    fresh = True  # nothing on the current line yet
    pad = " " * (indent + continuation)
    for group in groups:
        text = " ".join(group)
        if fresh or cell_len(current) + 1 + cell_len(text) + 2 <= width:
            current += ("" if fresh else " ") + text
            fresh = False
            continue
        out.append(current + " \\")
        if cell_len(pad) + cell_len(text) + 2 <= width:
            current = pad + text
            continue
        current = pad + group[0]  # the group alone is too long: break between its arguments
        for token in group[1:]:
            if cell_len(current) + 1 + cell_len(token) + 2 <= width:
                current += " " + token
            else:
                out.append(current + " \\")
                current = pad + token
    out.append(current)
    return out
