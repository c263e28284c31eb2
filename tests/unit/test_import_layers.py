"""The import graph of ``planner/`` reads one way (README, Architecture): every import points to the same layer or a
lower one, the solvers and the plan readers do not import their siblings, nothing dispatches through ``importlib``,
every solver package has the same rooms and its verifier stays clear of its solver.

The graph is read with ``ast`` from the source (imports inside functions and under ``TYPE_CHECKING`` included), so
a lazy import cannot hide an upward dependency.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

import planner

ROOT = Path(planner.__file__).parent

#: The layers, lowest first. A module may import its own layer or a lower one, never a higher one.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "core",
        (
            "planner",  # the package itself: __version__, FORMAT_VERSION
            "planner.errors",
            "planner.units",
            "planner.paths",
            "planner.inputfiles",
            "planner.yamlmarks",
            "planner.validation",
            "planner.events",
            "planner.executors",
            "planner.contract_base",
            "planner.report_data",
        ),
    ),
    ("spec/profiles", ("planner.spec", "planner.profiles", "planner.solver", "planner.workload", "planner.scaffold")),
    ("solvers", ("planner.helix", "planner.splitwise", "planner.dynamo")),
    ("plan", ("planner.plan", "planner.contracts")),
    ("readers", ("planner.diff", "planner.sim", "planner.sweep", "planner.calibrate")),
    ("render", ("planner.render",)),
    ("runner", ("planner.runner",)),
    ("cli", ("planner.cli", "planner.__main__")),
)
#: Packages of one layer that must not import each other.
SIBLINGS = (
    ("planner.helix", "planner.splitwise", "planner.dynamo"),
    ("planner.diff", "planner.sim", "planner.sweep", "planner.calibrate"),
)
SOLVERS = ("helix", "splitwise", "dynamo")
ROOMS = ("instance", "model", "solve", "extract", "verify", "report", "contract")
#: Modules of a solver package that make up the solver itself; its verifier reaches none of them, even indirectly.
SOLVER_MODULES = ("model", "solve", "solve_milp", "search", "extract", "backends")
#: Third-party packages only the top layers may import.
DRAWING = ("typer", "rich")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


@cache
def _raw_imports(name: str) -> tuple[tuple[str, int], ...]:
    """Every ``(imported name, line)`` of module ``name``: ``import a.b`` gives ``a.b``, ``from a import b`` gives
    ``a.b`` (resolved to ``a`` below when ``b`` is not a module)."""
    path = _modules()[name]
    out: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{name}:{node.lineno}: relative import (write the absolute name)"
            assert node.module is not None
            out.append((node.module, node.lineno))
            out += [(f"{node.module}.{a.name}", node.lineno) for a in node.names]
    return tuple(out)


@cache
def _planner_imports(name: str) -> tuple[tuple[str, int], ...]:
    """The ``planner`` modules that ``name`` imports, each with the line of the import."""
    modules = _modules()
    found: dict[str, int] = {}
    for target, line in _raw_imports(name):
        if target.split(".")[0] != "planner":
            continue
        while target not in modules:  # ``from planner.x import y`` where y is a name, not a module
            target = target.rpartition(".")[0]
        found.setdefault(target, line)
    return tuple(sorted(found.items()))


def _owner(module: str, groups: tuple[str, ...]) -> str | None:
    """The longest entry of ``groups`` that ``module`` is or lies under."""
    hits = [g for g in groups if module == g or module.startswith(g + ".")]
    return max(hits, key=len) if hits else None


def _layer(module: str) -> int:
    for rank, (_name, groups) in enumerate(LAYERS):
        owner = _owner(module, groups)
        if owner is not None and (owner != "planner" or module == "planner"):
            return rank
    raise AssertionError(f"{module} is in no layer: add it to LAYERS (and to README's picture)")


def _all_groups() -> tuple[str, ...]:
    return tuple(g for _n, groups in LAYERS for g in groups)


def test_every_module_has_a_layer() -> None:
    for module in _modules():
        _layer(module)


def test_no_import_points_to_a_higher_layer() -> None:
    upward = []
    for module in _modules():
        rank = _layer(module)
        for target, line in _planner_imports(module):
            if _layer(target) > rank:
                upward.append(f"{module}:{line} ({LAYERS[rank][0]}) imports {target} ({LAYERS[_layer(target)][0]})")
    assert not upward, "imports against the layer order:\n" + "\n".join(upward)


@pytest.mark.parametrize("siblings", SIBLINGS, ids=lambda s: "/".join(x.split(".")[1] for x in s))
def test_siblings_do_not_import_each_other(siblings: tuple[str, ...]) -> None:
    crossing = []
    for module in _modules():
        own = _owner(module, siblings)
        if own is None:
            continue
        for target, line in _planner_imports(module):
            other = _owner(target, siblings)
            if other is not None and other != own:
                crossing.append(f"{module}:{line} imports {target}")
    assert not crossing, "\n".join(crossing)


def test_no_importlib_dispatch() -> None:
    """Plan kinds map to code through explicit tables (render/registry.py, contracts.py), never by module name;
    ``importlib.metadata`` (the installed versions) is the one part of importlib allowed."""
    found = []
    for module, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names if a.name.split(".")[0] == "importlib"]
            elif isinstance(node, ast.ImportFrom) and node.module == "importlib":
                names = [f"importlib.{a.name}" for a in node.names]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "importlib":
                names = [node.module or ""]
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "__import__":
                names = ["__import__"]
            else:
                continue
            found += [f"{module}:{node.lineno} uses {n}" for n in names if n != "importlib.metadata"]
    assert not found, "\n".join(found)


def test_only_the_cli_and_render_import_typer_or_rich() -> None:
    allowed = ("planner.cli", "planner.render")
    found = [
        f"{module}:{line} imports {target}"
        for module in _modules()
        if _owner(module, allowed) is None
        for target, line in _raw_imports(module)
        if target.split(".")[0] in DRAWING
    ]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("solver", SOLVERS)
def test_solver_packages_have_the_same_rooms(solver: str) -> None:
    missing = [room for room in ROOMS if not (ROOT / solver / f"{room}.py").is_file()]
    assert not missing, f"planner/{solver}/ lacks {', '.join(f'{r}.py' for r in missing)}"


def _closure(module: str) -> set[str]:
    seen: set[str] = set()
    todo = [module]
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        todo += [t for t, _line in _planner_imports(m)]
    return seen


@pytest.mark.parametrize("solver", SOLVERS)
def test_verifier_reaches_nothing_of_its_solver(solver: str) -> None:
    """``verify.py`` re-checks a plan independently: none of the solver's own modules, even through another."""
    reached = _closure(f"planner.{solver}.verify")
    solver_side = {f"planner.{solver}.{m}" for m in SOLVER_MODULES}
    assert not reached & solver_side, f"planner/{solver}/verify.py reaches {sorted(reached & solver_side)}"
    assert not {m for m in reached if _layer(m) > _layer(f"planner.{solver}")}


@pytest.mark.parametrize("solver", SOLVERS)
def test_reports_and_verifiers_take_the_typed_block(solver: str) -> None:
    """The report and the verifier read their plan block through the contract (the caller unpacks the document)."""
    for room in ("report", "verify"):
        imports = {t for t, _line in _planner_imports(f"planner.{solver}.{room}")}
        assert "planner.plan" not in imports
        if solver != "helix" or room == "report":  # helix's verifier checks the placement, not a plan block
            assert f"planner.{solver}.contract" in imports, f"planner/{solver}/{room}.py does not read its contract"


def test_the_layer_table_names_real_modules() -> None:
    """A stale entry (a package renamed or removed) would silently stop guarding anything."""
    modules = _modules()
    for group in _all_groups():
        assert any(m == group or m.startswith(group + ".") for m in modules), f"{group} is not a module or package"
