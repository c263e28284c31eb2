"""The local executor forks its workers even while the terminal spinner runs: the spinner's thread is paused while
the workers start (:func:`planner.executors.fork_pause`) and resumes after. A forked worker sees what this process
set at run time; a spawned one (a fresh interpreter, seconds to import llmplan) would not."""

from __future__ import annotations

import io
import sys
import threading

from rich.console import Console

import planner.render.console as console
from planner.executors import LocalExecutor

#: Set at run time by the tests: a forked worker inherits the new value, a spawned one imports the module afresh.
MARK = "as imported"


def _mark(_: int) -> str:
    return MARK


def test_workers_are_forked_while_the_spinner_runs(monkeypatch) -> None:
    monkeypatch.setattr(console, "stderr", Console(file=io.StringIO(), force_terminal=True))
    monkeypatch.setattr(sys.modules[__name__], "MARK", "set at run time")
    with console.progress("planning ..."):
        assert threading.active_count() > 1  # the spinner's refresh thread
        with LocalExecutor(2) as pool:
            assert list(pool.imap_unordered(_mark, [1, 2])) == ["set at run time"] * 2
            assert threading.active_count() > 1  # the spinner runs again while the points run


def test_an_unknown_thread_still_means_spawn() -> None:
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)
    other.start()
    try:
        assert LocalExecutor(2)._context().get_start_method() == "spawn"
    finally:
        stop.set()
        other.join()
    assert LocalExecutor(2)._context().get_start_method() == "fork"
