"""Where the shipped data lives (the repository's ``profiles/`` and ``cluster_specs/``)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

#: The shipped profile database; ``LLMPLAN_PROFILES`` points elsewhere (e.g. a non-editable install).
SHIPPED_PROFILES = Path(os.environ.get("LLMPLAN_PROFILES", REPO_ROOT / "profiles"))

#: The shipped example cluster specs.
SHIPPED_SPECS = Path(os.environ.get("LLMPLAN_SPECS", REPO_ROOT / "cluster_specs"))


def display_path(path: Path) -> str:
    """A path as users should see it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
