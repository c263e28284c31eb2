"""The two consoles: results on stdout, diagnostics (progress, warnings, errors) on stderr."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console

from planner.executors import fork_pause


def _width() -> int | None:
    """Terminal width on a terminal; otherwise $COLUMNS or 120.

    Tables fit any width down to 80 columns (:mod:`planner.render.fit`); a pipe gets 120 so long notes take fewer
    lines, and ``COLUMNS=80`` reproduces a narrow terminal.
    """
    if os.environ.get("COLUMNS", "").isdigit():
        return int(os.environ["COLUMNS"])
    return None if sys.stdout.isatty() else 120


# markup=False: every string is shown as written. Specs, plans and profiles carry user text (a spec named
# "[/bold]" would otherwise break rich's markup parser, or style the rest of a table); styled text is built with
# rich.text.Text instead.
stdout = Console(highlight=False, soft_wrap=False, width=_width(), markup=False)
stderr = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)


def out_text(text: str) -> None:
    """Write plain text (JSON, markdown) to stdout exactly, without rich markup processing."""
    stdout.file.write(text)
    if not text.endswith("\n"):
        stdout.file.write("\n")
    stdout.file.flush()


def err_line(text: str) -> None:
    """One diagnostic line on stderr, printed verbatim (no markup, no wrapping)."""
    stderr.file.write(text.rstrip("\n") + "\n")
    stderr.file.flush()


@contextmanager
def progress(message: str, quiet: bool = False) -> Iterator[Callable[[str], None]]:
    """A spinner on stderr while something slow runs (only on a terminal, never with --quiet); it yields a function
    that replaces the spinner's message (``5 of 21 fits done``), a no-op where no spinner shows.

    The spinner's thread stops while a process pool starts its workers (:func:`planner.executors.fork_pause`), so
    they are forked with llmplan loaded rather than spawned afresh.
    """
    if quiet or not stderr.is_terminal:
        yield lambda text: None
        return
    with stderr.status(message) as status:

        @contextmanager
        def paused() -> Iterator[None]:
            status.stop()
            try:
                yield
            finally:
                status.start()

        with fork_pause(paused):
            yield lambda text: status.update(text)
