"""Where commands write: checked before any work, written plan first, failures in one line.

Every file a command writes (``--out``, ``--plot``, ``--emit-baselines DIR``, ``--pareto-dir DIR``,
``--save-plans DIR``, ``plan init --out``) goes through here:

* before anything runs, :func:`check_outputs` refuses (exit 2, one line per problem) a target that is an input of the
  same command (the spec, a plan being simulated or diffed, a placement, a trace, a file of ``--profiles``), a
  directory or a device where a file is expected, a file where a directory is expected, a ``--plot`` that is not a
  ``.png`` and two outputs naming the same file; a folder whose file names are known only after solving (the
  frontier points of ``--pareto-dir``) declares their shape (``pattern``), and every existing file of that shape
  is checked like a named one, as is any other output of that shape in the folder;
* the plan is written before plots and baseline plans (:func:`planner.cli.common.execute`), so a failing figure never
  costs the plan;
* :func:`write_output` turns an ``OSError`` (read-only folder, full disk) into one line and exit 1; the writers are
  atomic (temp file + ``os.replace``), so the previous target is left intact;
* a profile directory a command writes (``plan calibrate --out``, ``plan profiles add-model --profiles``) is checked
  by :func:`check_profile_dir` before any fit: never the shipped database (nor a folder holding it or inside it),
  never an input, a directory or nothing yet, in a place where a folder can be created.
"""

from __future__ import annotations

import fnmatch
import os
import stat
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from planner.errors import PlannerError
from planner.paths import SHIPPED_PROFILES, display_path

Kind = Literal["file", "png", "dir"]


class OutputPathError(PlannerError):
    """An output path that would destroy an input or a non-regular file, or cannot be a target. Exit 2.

    Raised before any solver runs, so nothing has been written.
    """

    exit_code = 2

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))

    def lines(self) -> list[str]:
        return self.problems


class OutputWriteError(PlannerError):
    """Writing an output failed (permissions, full disk, a vanished folder). Exit 1; the old target is intact."""

    exit_code = 1


@dataclass(frozen=True)
class Output:
    """One output of a command: the option that names it, the path, and what it must be."""

    flag: str
    path: Path | None
    kind: Kind = "file"
    #: for ``dir`` outputs: the file names the command writes inside it
    names: tuple[str, ...] = ()
    #: for ``dir`` outputs: a glob of the further names it may write (known only once the command has run)
    pattern: str | None = None

    def targets(self) -> list[Path]:
        if self.path is None:
            return []
        if self.kind == "dir":
            found = sorted(self.path.glob(self.pattern)) if self.pattern and self.path.is_dir() else []
            return [self.path / n for n in self.names] + [p for p in found if p.name not in self.names]
        return [self.path]

    def may_write(self, target: Path) -> bool:
        """Whether ``target`` has the shape of a file this folder output may write (``pattern``)."""
        if self.path is None or self.kind != "dir" or self.pattern is None:
            return False
        return fnmatch.fnmatchcase(target.name, self.pattern) and _same_folder(target.parent, self.path)


def _same_folder(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _same_file(a: Path, b: Path) -> bool:
    """Whether writing ``a`` would replace ``b``. A path through a folder that does not exist yet
    (``new/../spec.yaml``) names no file today, but the write creates ``new/`` and then lands on ``spec.yaml``:
    such a path is compared by where it resolves to."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        pass
    try:
        return os.path.samefile(os.path.realpath(a), b)
    except OSError:
        return False


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except (ValueError, OSError):
        return False
    return True


def _kind_problem(out: Output) -> str | None:
    path = out.path
    assert path is not None
    shown = f"{out.flag} {display_path(path)}"
    if out.kind == "png" and path.suffix.lower() != ".png":
        return f"{shown}: the figure is a PNG; give a path ending in .png"
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"{shown}: cannot use this path: {exc.strerror or exc}"
    if out.kind == "dir":
        return None if stat.S_ISDIR(st.st_mode) else f"{shown}: exists and is not a directory"
    if stat.S_ISDIR(st.st_mode):
        return f"{shown}: is a directory; give a file path"
    if not stat.S_ISREG(st.st_mode):
        return f"{shown}: is not a regular file (a device, pipe or socket); refusing to replace it"
    return None


def check_outputs(
    outputs: Iterable[Output], inputs: Iterable[Path | None], input_dirs: Iterable[Path | None] = ()
) -> None:
    """Refuse output paths that would replace an input or a non-regular file (see module docstring). Exit 2."""
    outputs = list(outputs)
    ins = [p for p in inputs if p is not None]
    dirs = [d for d in input_dirs if d is not None]
    problems: list[str] = []
    claimed: dict[str, str] = {}
    for out in outputs:
        if out.path is None:
            continue
        kind = _kind_problem(out)
        if kind:
            problems.append(kind)
            continue
        for target in out.targets():
            shown = f"{out.flag} {display_path(target)}"
            hit = next((i for i in ins if _same_file(target, i)), None)
            if hit is not None:
                problems.append(f"{shown}: is an input of this command; refusing to overwrite it")
                continue
            folder = next((d for d in dirs if _inside(target, d)), None)
            if folder is not None:
                problems.append(f"{shown}: is inside the input folder {display_path(folder)}; refusing to write there")
                continue
            if out.kind == "dir" and target.exists() and not target.is_file():
                problems.append(f"{shown}: is not a regular file; refusing to replace it")
                continue
            key = str(target.resolve())
            if key in claimed:
                problems.append(f"{shown}: also named by {claimed[key]}; give each output its own file")
                continue
            claimed[key] = out.flag
    for out in outputs:  # a file this folder may write, named by another output
        for key, flag in claimed.items():
            if flag != out.flag and out.may_write(Path(key)):
                problems.append(
                    f"{flag} {display_path(Path(key))}: {out.flag} may write a file of that name; "
                    "give each output its own file"
                )
    if problems:
        raise OutputPathError(problems)


def write_output(flag: str, path: Path, write: Callable[[], object]) -> None:
    """Run ``write`` (an atomic writer of ``path``); an ``OSError`` becomes one line and exit 1."""
    try:
        write()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise OutputWriteError(f"error: cannot write {flag} {display_path(path)}: {reason}") from None


def shipped_profiles_problem(flag: str, path: Path) -> str | None:
    """Why ``path`` may not be written as a profile directory: it is, holds or lies inside the shipped database
    (symlinks resolved), whose tables, catalogues and licence headers no command may rewrite. None when it may."""
    try:
        target, shipped = path.resolve(), SHIPPED_PROFILES.resolve()
    except (OSError, RuntimeError):  # a symlink loop: the kind check names it
        return None
    where = "is" if target == shipped else "is inside" if shipped in target.parents else "contains"
    if where == "contains" and target not in shipped.parents:
        return None
    # the path as typed: through a symlink, display_path would show the shipped folder itself
    return (
        f"{flag} {path}: {where} the shipped profile directory ({display_path(shipped)}); "
        "write your profiles to a directory of your own"
    )


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def _folder_problem(shown: str, folder: Path) -> str | None:
    """Whether a folder can be made in ``folder``: tried, not asked of ``os.access``, which tells root yes on a
    read-only or virtual file system (``/proc``)."""
    try:
        os.rmdir(tempfile.mkdtemp(dir=folder, prefix=".llmplan-probe-"))
    except OSError as exc:
        return f"{shown}: cannot create a folder in {display_path(folder)}: {exc.strerror or exc}"
    return None


def check_profile_dir(flag: str, path: Path, names: tuple[str, ...], inputs: Iterable[Path | None]) -> None:
    """Refuse (exit 2, one line) a profile directory ``path`` that a command would write the files ``names`` into
    (``tables/x.csv`` style paths): the shipped database, an input, anything but a directory or nothing, a folder
    whose files to replace are not regular files, or a place where the directory (and the folder it is staged in,
    beside it) cannot be created. Checked before any fit, so a bad ``--out`` costs no minutes of fitting."""
    shown = f"{flag} {display_path(path)}"
    ins = [p for p in inputs if p is not None]
    problem = shipped_profiles_problem(flag, path)
    if problem is None and any(_same_file(path, i) for i in ins):
        problem = f"{shown}: is an input of this command; refusing to overwrite it"
    problem = problem or _kind_problem(Output(flag, path, "dir"))
    for sub in sorted({str(Path(n).parent) for n in names if Path(n).parent != Path(".")}):
        folder = path / sub
        if problem is None and folder.exists() and not folder.is_dir():
            problem = f"{flag} {display_path(folder)}: exists and is not a directory"
    if problem is None:
        check_outputs((Output(flag, path, "dir", names),), ins)
        try:
            base = _nearest_existing(path.resolve().parent)
        except (OSError, RuntimeError) as exc:
            raise OutputPathError([f"{shown}: cannot use this path: {exc}"]) from None
        problem = _folder_problem(shown, base)
        if problem is None and path.is_dir():
            problem = _folder_problem(shown, path)
    if problem is not None:
        raise OutputPathError([problem])
