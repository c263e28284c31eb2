"""Reports are data: no report module imports rich, matplotlib, render, the CLI or its own solver (only its plan-block
contract); render finds reports through its registry, never by importlib. The whole import graph is checked in
test_import_layers.py."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import planner
from planner.render.registry import REPORTS

ROOT = Path(planner.__file__).parent
#: Each data module of a report and the modules of its own package it may read: a solver's report reads its typed
#: plan block (contract.py) only, the simulator's report its document.
REPORT_MODULES = {
    "helix/report.py": {"planner.helix.contract"},
    "splitwise/report.py": {"planner.splitwise.contract"},
    "dynamo/report.py": {"planner.dynamo.contract"},
    "sim/report.py": {"planner.sim.document"},
    "sim/plot.py": {"planner.sim.document", "planner.sim.run"},
}
FORBIDDEN = ("rich", "matplotlib", "typer", "planner.render", "planner.cli")


def _imports(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


@pytest.mark.parametrize("name", sorted(REPORT_MODULES))
def test_report_modules_import_no_drawing_and_no_solver(name: str) -> None:
    package = "planner." + name.split("/")[0]
    imports = _imports(ROOT / name)
    assert not [m for m in imports if m.startswith(FORBIDDEN)]
    own = {m for m in imports if m.startswith(package + ".")}
    assert own <= REPORT_MODULES[name], f"{name} reads solver modules {sorted(own - REPORT_MODULES[name])}"


def test_render_dispatches_through_its_registry() -> None:
    assert set(REPORTS) == {"helix", "splitwise", "dynamo"}
    for path in (ROOT / "render").glob("*.py"):
        assert "importlib" not in _imports(path), path.name
