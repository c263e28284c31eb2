"""A content-addressed cache of finished points, kept in the sweep's output folder.

A point's key is the sha256 of everything its plan depends on: the resolved spec (the base spec with the point's
overrides applied) and the base file's digest, the solver and every option, the profile files the database reads
(paths and digests) and files the spec names (the trace), llmplan's version and a digest of llmplan's own code
(:func:`code_digest`: an edited solver under the same version number must not be served stale plans). A rerun, or a
sweep resumed after Ctrl-C, finds finished points by key and skips them; change any input and the key changes with
it.

Layout (each file written atomically, the plan before its entry, so an entry always has its plan)::

    DIR/plans/<key[:16]>.json   the plan, exactly as the single-plan command writes it
    DIR/cache/<key>.json        status, exit code, error and the plan's path

Infeasible points and input errors are deterministic and cached; crashes (bugs) are not, so a rerun retries them.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import planner
from planner import __version__
from planner.paths import display_path
from planner.plan import write_json_atomic
from planner.profiles.db import ProfileDB, sha256_file
from planner.spec.loader import apply_overrides
from planner.sweep.points import Point
from planner.sweep.schema import Sweep
from planner.sweep.task import PointOutcome
from planner.yamlmarks import load_yaml_file


@cache
def code_digest() -> str:
    """sha256 over every ``.py`` file of the installed ``planner`` package (relative path and bytes, sorted by path).

    The version string alone does not change when a solver is edited (an editable install, a branch), so a cache keyed
    only on it would serve plans the current code no longer makes. Hashing the package's sources once per process
    (a few hundred kB, milliseconds) covers every module a plan can depend on; byte-compiled files, data files and
    comments-only edits are not told apart (a comment change re-plans, which is safe).
    """
    root = Path(planner.__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py"), key=lambda p: p.relative_to(root).as_posix()):
        rel = path.relative_to(root).as_posix().encode()
        data = path.read_bytes()
        h.update(len(rel).to_bytes(8, "big") + rel + len(data).to_bytes(8, "big") + data)
    return h.hexdigest()


class KeyMaker:
    """Computes point keys; reads the base spec and the profile database once per sweep."""

    def __init__(self, sweep: Sweep) -> None:
        self.sweep = sweep
        self.base_display = display_path(sweep.spec_path)
        self.base, _ = load_yaml_file(sweep.spec_path, self.base_display)
        self.base_sha = sha256_file(sweep.spec_path)
        db = ProfileDB.load(sweep.profiles)
        self.profiles = sorted((f.path, f.sha256) for f in db.files)
        self._file_digests: dict[str, str | None] = {}

    def _digest(self, path: Path) -> str | None:
        k = str(path.resolve())
        if k not in self._file_digests:
            self._file_digests[k] = sha256_file(path) if path.is_file() else None
        return self._file_digests[k]

    def resolved_spec(self, point: Point) -> Any:
        data = copy.deepcopy(self.base)
        return apply_overrides(data, {}, list(point.overrides), self.base_display)

    def key(self, point: Point) -> str:
        resolved = self.resolved_spec(point)
        named: dict[str, str | None] = {}
        trace = (resolved.get("workload") or {}).get("trace") if isinstance(resolved, dict) else None
        if isinstance(trace, str):
            named[trace] = self._digest(self.sweep.spec_path.parent / trace)
        payload = {
            "llmplan": __version__,
            "code": code_digest(),
            "solver": self.sweep.solver,
            "spec": {"path": self.base_display, "sha256": self.base_sha, "resolved": resolved},
            "overrides": list(point.overrides),
            "options": [[k, v] for k, v in point.options],
            "profiles": self.profiles,
            "profiles_dir": display_path(self.sweep.profiles) if self.sweep.profiles else None,
            "files": named,
        }
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Entry:
    """A finished point as the cache remembers it."""

    key: str
    status: str
    exit_code: int
    error: str
    plan: str | None  # path relative to the sweep folder

    def outcome(self, index: int) -> PointOutcome:
        return PointOutcome(index=index, key=self.key, exit_code=self.exit_code, status=self.status, error=self.error)


class Cache:
    """Finished points of one output folder."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.plans = out_dir / "plans"
        self.entries = out_dir / "cache"

    def plan_relpath(self, key: str) -> str:
        return f"plans/{key[:16]}.json"

    def get(self, key: str) -> Entry | None:
        path = self.entries / f"{key}.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        plan = data.get("plan")
        if plan is not None and not (self.out_dir / plan).is_file():
            return None  # the plan was deleted: plan the point again
        return Entry(key, str(data["status"]), int(data["exit_code"]), str(data.get("error", "")), plan)

    def put(self, outcome: PointOutcome) -> Entry:
        """Write the plan (if any) and, unless the point crashed, its cache entry."""
        plan = None
        if outcome.plan_json is not None:
            plan = self.plan_relpath(outcome.key)
            write_json_atomic(outcome.plan_json, self.out_dir / plan)
        entry = Entry(outcome.key, outcome.status, outcome.exit_code, outcome.error, plan)
        if not outcome.crashed:
            record = {
                "key": entry.key,
                "status": entry.status,
                "exit_code": entry.exit_code,
                "error": entry.error,
                "plan": entry.plan,
            }
            write_json_atomic(json.dumps(record, sort_keys=True, indent=2) + "\n", self.entries / f"{outcome.key}.json")
        return entry
