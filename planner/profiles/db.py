"""The profile database: catalogues and tables, layered (shipped first, then the user's ``--profiles DIR``).

Queries return typed rows that carry their provenance (the ``source`` column, read by
:func:`~planner.profiles.schema.provenance_of`); a query with no data raises
:class:`~planner.errors.ProfileMissingError` rather than inventing a number.

Layering: for catalogues (``gpus.yaml``, ``models.yaml``, any ``<name>.yaml``) a user entry replaces the shipped
entry of the same name; for tables, a user row replaces the shipped row with the same key columns. Every
replacement that changes a value is recorded in :attr:`ProfileDB.conflicts` and reported by the CLI.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, ValidationError

from planner.errors import ProfileMissingError, SpecError, SpecProblem, did_you_mean
from planner.paths import SHIPPED_PROFILES, display_path
from planner.profiles.schema import PROVENANCES, ColumnRule, GpuProfile, ModelProfile, TableMeta, provenance_of
from planner.validation import problems_from_validation
from planner.yamlmarks import Positions, dotted, load_yaml_file, position


def sha256_file(path: Path) -> str:
    """Digest of a profile file; an unreadable file or a directory is a one-line error naming it (exit 2)."""
    name = display_path(path)
    if path.is_dir():
        raise SpecError.single(name, "", "is a directory, expected a profile file")
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise SpecError.single(name, "", f"cannot read profile file: {exc.strerror or exc}") from None
    return digest.hexdigest()


@dataclass(frozen=True)
class ProfileFile:
    """A profile file that was read, with its digest (recorded in every plan's ``inputs``)."""

    path: str
    sha256: str


@dataclass
class ProfileDB:
    """Layered, validated view of one or more profile directories."""

    roots: list[Path]
    gpus: dict[str, GpuProfile]
    models: dict[str, ModelProfile]
    catalogs: dict[str, dict[str, Any]]
    table_files: dict[str, list[Path]]
    table_meta: dict[str, TableMeta]
    files: list[ProfileFile] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    #: catalogue -> entry -> (file it came from, YAML positions of that file), so errors name the user's file and line
    catalog_origins: dict[str, dict[str, tuple[str, Positions]]] = field(default_factory=dict)
    _tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: sidecars of upper layers' table files (their ``replace_groups`` apply when that file is merged)
    layer_meta: dict[Path, TableMeta] = field(default_factory=dict)
    #: which catalogue or table each file belongs to ("gpus", "models", "catalog:machines", "table:helix_...")
    _owner: dict[str, str] = field(default_factory=dict)
    _accessed: set[str] = field(default_factory=lambda: {"gpus", "models"})

    # ----------------------------------------------------------------------------------------------- loading
    @classmethod
    def load(cls, user_dir: Path | None = None, base_dir: Path | None = None) -> ProfileDB:
        """Load the shipped database, then layer ``user_dir`` over it."""
        roots = [base_dir or SHIPPED_PROFILES]
        if user_dir is not None:
            if not user_dir.is_dir():
                raise SpecError.single(str(user_dir), "", "profile directory not found")
            roots.append(user_dir)
        db = cls(roots=roots, gpus={}, models={}, catalogs={}, table_files={}, table_meta={})
        for root in roots:
            db._load_root(root)
        return db

    def _record(self, path: Path, owner: str) -> None:
        self.files.append(ProfileFile(path=display_path(path), sha256=sha256_file(path)))
        self._owner[display_path(path)] = owner

    def used_files(self) -> list[ProfileFile]:
        """The files behind what was actually queried (GPU and model catalogues always), sorted by path.

        Plans record these, not every file of the database, so that adding a table for one solver does not change
        the recorded inputs (and golden plans) of the others.
        """
        used = [f for f in self.files if self._owner.get(f.path) in self._accessed]
        return sorted(used, key=lambda f: f.path)

    def _load_root(self, root: Path) -> None:
        for yml in sorted(root.glob("*.yaml")):
            data, pos = load_yaml_file(yml, display_path(yml))
            kind = yml.stem
            self._record(yml, kind if kind in ("gpus", "models") else f"catalog:{kind}")
            if data is None:
                continue
            name = display_path(yml)
            if not isinstance(data, dict):
                raise SpecError.single(name, "", "a catalogue must be a mapping of entry name -> fields")
            if kind == "gpus":
                self._merge_typed(self.gpus, data, pos, name, GpuProfile, "gpu")
            elif kind == "models":
                self._merge_typed(self.models, data, pos, name, ModelProfile, "model")
            else:
                target = self.catalogs.setdefault(kind, {})
                origins = self.catalog_origins.setdefault(kind, {})
                for key, entry in data.items():
                    if key in target and target[key] != entry:
                        self.conflicts.append(f"{name}: {kind}.{key} overrides an earlier definition")
                    target[key] = entry
                    origins[key] = (name, pos)
        tables_dir = root / "tables"
        for csv in sorted(tables_dir.glob("*.csv")) if tables_dir.is_dir() else []:
            table = csv.stem
            meta_path = csv.with_suffix(".meta.yaml")
            if table not in self.table_meta:
                if not meta_path.exists():
                    raise SpecError.single(display_path(csv), "", f"missing sidecar {meta_path.name} (keys, units)")
                mdata, mpos = load_yaml_file(meta_path, display_path(meta_path))
                try:
                    self.table_meta[table] = TableMeta.model_validate(mdata)
                except ValidationError as exc:
                    raise SpecError(problems_from_validation(exc, display_path(meta_path), mpos, TableMeta)) from None
                self._record(meta_path, f"table:{table}")
            elif meta_path.exists():
                mdata, mpos = load_yaml_file(meta_path, display_path(meta_path))
                try:
                    layer = TableMeta.model_validate(mdata)
                except ValidationError as exc:
                    raise SpecError(problems_from_validation(exc, display_path(meta_path), mpos, TableMeta)) from None
                if layer.replace_groups:
                    self.layer_meta[csv] = layer
                    self._record(meta_path, f"table:{table}")
            self.table_files.setdefault(table, []).append(csv)
            self._record(csv, f"table:{table}")

    def _merge_typed(
        self,
        target: dict[str, Any],
        data: dict[str, Any],
        pos: Any,
        file: str,
        model: type[BaseModel],
        what: str,
    ) -> None:
        problems: list[SpecProblem] = []
        for key, entry in data.items():
            if not isinstance(entry, dict):
                problems.append(SpecProblem(file, key, f"{what} entry must be a mapping"))
                continue
            try:
                obj = model.model_validate({"name": key, **entry})
            except ValidationError as exc:
                problems += problems_from_validation(exc, file, pos, model, prefix=(key,))
                continue
            if key in target and target[key] != obj:
                self.conflicts.append(f"{file}: {what} '{key}' overrides the shipped definition")
            target[key] = obj
        if problems:
            raise SpecError(problems)

    # ----------------------------------------------------------------------------------------------- queries
    def _resolve(self, name: str, table: dict[str, Any]) -> str | None:
        if name in table:
            return name
        low = name.lower()
        for key, obj in table.items():
            if key.lower() == low or low in (a.lower() for a in obj.aliases):
                return str(key)
        return None

    def resolve_gpu(self, name: str) -> str | None:
        """Canonical GPU name for ``name`` or one of its aliases (case-insensitive); None when unknown."""
        return self._resolve(name, self.gpus)

    def resolve_model(self, name: str) -> str | None:
        """Canonical model name for ``name`` or an alias; None when unknown."""
        return self._resolve(name, self.models)

    def gpu(self, name: str) -> GpuProfile:
        key = self.resolve_gpu(name)
        if key is None:
            raise ProfileMissingError(f"GPU type '{name}'{did_you_mean(name, list(self.gpus))}")
        return self.gpus[key]

    def model(self, name: str) -> ModelProfile:
        key = self.resolve_model(name)
        if key is None:
            raise ProfileMissingError(f"model '{name}'{did_you_mean(name, list(self.models))}")
        return self.models[key]

    def catalog(self, name: str) -> dict[str, Any]:
        """A plain catalogue (``<name>.yaml``) merged over all roots; empty when absent."""
        self._accessed.add(f"catalog:{name}")
        return dict(self.catalogs.get(name, {}))

    def catalog_problem(self, catalog: str, path: tuple[str | int, ...], message: str) -> SpecProblem:
        """A problem in catalogue entry ``path[0]``, located in the file (shipped or user) that defined it."""
        file, pos = self.catalog_origins.get(catalog, {}).get(str(path[0]), (f"{catalog}.yaml", {}))
        line, col = position(pos, path)
        return SpecProblem(file, dotted(path), message, line, col)

    def catalog_validation_problems(
        self, catalog: str, key: str, exc: ValidationError, model: type[BaseModel]
    ) -> list[SpecProblem]:
        """A pydantic error of catalogue entry ``key`` as located problems in the file that defined the entry."""
        file, pos = self.catalog_origins.get(catalog, {}).get(key, (f"{catalog}.yaml", {}))
        return problems_from_validation(exc, file, pos, model, prefix=(key,))

    def has_table(self, name: str) -> bool:
        return name in self.table_files

    def table(self, name: str) -> pd.DataFrame:
        """A profile table merged over all roots, with a ``provenance`` column derived from ``source``."""
        self._accessed.add(f"table:{name}")
        if name in self._tables:
            return self._tables[name]
        if name not in self.table_files:
            raise ProfileMissingError(f"profile table '{name}'{did_you_mean(name, list(self.table_files))}")
        meta = self.table_meta[name]
        merged: pd.DataFrame | None = None
        for csv in self.table_files[name]:
            df = self._read_csv(csv, meta)
            if merged is None:
                merged = df
                continue
            keys = list(meta.keys)
            layer = self.layer_meta.get(csv)
            if layer is not None and layer.replace_groups:
                merged = self._replace_groups(merged, df, list(layer.replace_groups), csv, name)
            both = merged.merge(df, on=keys, how="inner", suffixes=("_old", ""))
            for _, row in both.iterrows():
                key_text = ", ".join(f"{k}={row[k]}" for k in keys)
                self.conflicts.append(f"{display_path(csv)}: row ({key_text}) overrides table '{name}'")
            merged = pd.concat([merged, df]).drop_duplicates(subset=keys, keep="last")
        assert merged is not None
        merged = merged.sort_values(list(meta.keys), kind="stable").reset_index(drop=True)
        self._tables[name] = merged
        return merged

    def _replace_groups(
        self, merged: pd.DataFrame, df: pd.DataFrame, groups: list[str], csv: Path, name: str
    ) -> pd.DataFrame:
        """``merged`` without the rows of every group (e.g. a whole load sweep) that ``df`` redefines."""
        missing = [g for g in groups if g not in df.columns or g not in merged.columns]
        if missing:
            raise SpecError.single(display_path(csv), "", f"replace_groups column(s) {', '.join(missing)} missing")
        new = set(map(tuple, df[groups].astype(str).values.tolist()))
        old = list(map(tuple, merged[groups].astype(str).values.tolist()))
        drop = [g in new for g in old]
        replaced = {g for g in old if g in new}
        if replaced:
            self.conflicts.append(
                f"{display_path(csv)}: replaces {len(replaced)} group(s) ({', '.join(groups)}) of table '{name}', "
                f"e.g. ({', '.join(min(replaced))})"
            )
        return merged[[not d for d in drop]]

    @staticmethod
    def _read_csv(csv: Path, meta: TableMeta) -> pd.DataFrame:
        """Read one file of a table and check every row against the sidecar's column rules (exit 2 on a bad row)."""
        name = display_path(csv)
        try:
            df = pd.read_csv(csv, comment="#")
        except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
            raise SpecError.single(name, "", f"cannot read CSV: {str(exc).splitlines()[0]}") from None
        except OSError as exc:
            raise SpecError.single(name, "", f"cannot read CSV: {exc.strerror or exc}") from None
        required = dict.fromkeys((*meta.keys, *meta.columns, "source"))
        missing = [c for c in required if c not in df.columns]
        if missing:
            raise SpecError.single(name, "", f"missing column(s): {', '.join(missing)}", 1)
        lines = _data_lines(csv)
        problems: list[SpecProblem] = []
        for column, rule in meta.columns.items():
            checked, bad = _check_column(df[column], rule)
            for i, message in bad:
                problems.append(SpecProblem(name, column, message, lines[i] if i < len(lines) else None))
            df[column] = checked
        provenance: list[str] = []
        for i, src in enumerate(df["source"].tolist()):
            try:
                provenance.append(provenance_of(str(src)))
            except ValueError:
                line = lines[i] if i < len(lines) else None
                problems.append(SpecProblem(name, "source", f"must start with one of {', '.join(PROVENANCES)}", line))
                provenance.append("")
        if problems:
            problems.sort(key=lambda p: (p.line or 0, p.path))
            shown = problems[:10]
            if len(problems) > 10:
                last = shown[-1]
                shown[-1] = SpecProblem(
                    last.file, last.path, f"{last.message} (and {len(problems) - 10} more problems)", last.line
                )
            raise SpecError(shown)
        df = df.assign(provenance=provenance)
        return df

    @cached_property
    def summary(self) -> dict[str, Any]:
        """Counts for ``plan profiles list``."""
        return {
            "gpus": sorted(self.gpus),
            "models": sorted(self.models),
            "catalogs": {k: sorted(v) for k, v in sorted(self.catalogs.items())},
            "tables": {k: self.table_meta[k].description for k in sorted(self.table_files)},
        }


def _data_lines(csv: Path) -> list[int]:
    """File line number (1-based) of each data row, skipping comment and blank lines and the header.

    Matches how ``pd.read_csv(comment="#")`` counts rows, so that a problem in row ``i`` names its line in the file.
    """
    out: list[int] = []
    header_seen = False
    with csv.open(encoding="utf-8", errors="replace") as fh:
        for number, text in enumerate(fh, start=1):
            stripped = text.strip()
            if not stripped or stripped.startswith("#"):
                continue
            if not header_seen:
                header_seen = True
                continue
            out.append(number)
    return out


def _check_column(values: pd.Series, rule: ColumnRule) -> tuple[pd.Series, list[tuple[int, str]]]:
    """The column converted to its declared type, and ``(row, message)`` for every cell that breaks the rule."""
    bad: list[tuple[int, str]] = []
    if rule.type == "text":
        for i, v in enumerate(values.tolist()):
            if v is None or (isinstance(v, float) and math.isnan(v)) or not str(v).strip():
                bad.append((i, "empty; expected text"))
        # a text column whose cells all look numeric (a user's gpu column of "0") stays text: key columns must have
        # one type in every file of a table, or merging the layers fails
        if bad or pd.api.types.is_string_dtype(values.dtype):
            return values, bad
        return values.astype(str), bad
    numbers = pd.to_numeric(values, errors="coerce")
    raw = values.tolist()
    for i, (v, x) in enumerate(zip(raw, numbers.tolist(), strict=True)):
        shown = str(v)[:40]
        if x is None or (isinstance(x, float) and math.isnan(x)):
            empty = v is None or (isinstance(v, float) and math.isnan(v)) or not str(v).strip()
            bad.append((i, f"empty; expected {rule.describe()}" if empty else f"not a number (got {shown!r})"))
            continue
        x = float(x)
        if not math.isfinite(x):
            bad.append((i, f"must be finite (got {shown})"))
        elif rule.type == "integer" and not x.is_integer():
            bad.append((i, f"must be an integer (got {shown})"))
        elif (
            (rule.gt is not None and not x > rule.gt)
            or (rule.ge is not None and not x >= rule.ge)
            or (rule.le is not None and not x <= rule.le)
        ):
            bad.append((i, f"must be {rule.describe()} (got {shown})"))
    if bad:
        return values, bad
    if rule.type == "integer" and not pd.api.types.is_integer_dtype(values.dtype):
        return numbers.astype("int64"), bad
    if not pd.api.types.is_numeric_dtype(values.dtype):
        return numbers.astype("float64"), bad
    return values, bad
