"""A seeded generator of hostile but realistic inputs for the ``plan`` CLI (issue 18).

Each :class:`Case` is a command line plus the files it reads, written into a fresh folder: mangled specs (schema
values, YAML syntax, tags, aliases, nesting, encodings), ``--set`` values, profile directories (catalogues and
tables), plan JSON (for ``diff`` and ``simulate``), option values and output paths. Case ``i`` of seed ``s`` is
always the same, so a failure is reproduced with ``make fuzz FUZZ_SEED=s`` and its index.
"""

from __future__ import annotations

import copy
import csv
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "cluster_specs"
PROFILES = ROOT / "profiles"
HELIX_FIXTURES = ROOT / "tests" / "fixtures" / "helix_plans"
TINY = ROOT / "tests" / "fixtures" / "specs" / "tiny.yaml"

#: Values a careless or hostile user writes where a number, a unit or a name is expected.
NASTY: list[Any] = [
    0,
    -1,
    -0.0,
    1,
    2**31,
    2**63,
    10**30,
    1e308,
    -1e308,
    1e-308,
    5e-324,
    0.5,
    "",
    " ",
    "0",
    "-1",
    "abc",
    "[/bold]",
    "[red]x",
    "x" * 2000,
    "é漢字\u202e",
    "1e999Gbps",
    "1e-300bps",
    "0bps",
    "-5Gbps",
    "10 Gbps",
    "1e999s",
    "0s",
    "-1s",
    "1e12s",
    "nan",
    "inf",
    "1e400",
    ".inf",
    ".nan",
    "00:00",
    "25:99",
    "../../etc/passwd",
    "/dev/zero",
    True,
    False,
    None,
    [],
    {},
    [1, 2, 3],
    {"a": 1},
    [[[[[]]]]],
    float("inf"),
    float("nan"),
]

#: Raw YAML text for --set values and tagged scalars (not producible by yaml.safe_dump).
RAW_YAML = [
    "!!int abc",
    "!!int ''",
    "!!bool maybe",
    "!!float x",
    "!!timestamp x",
    "!!binary aGk=",
    "!!python/object/apply:os.system [echo]",
    "!custom 3",
    "[1, 2",
    "{a: 1",
    "&a [*a]",
    "*nope",
    "'unterminated",
    '"\\x00"',
    ".inf",
    "-.inf",
    ".nan",
    "1e999",
    "0x1F",
    "0o17",
    "1_000",
    "~",
    "null",
    "10:30",
    "2001-12-14",
    "[" * 200 + "]" * 200,
]


@dataclass
class Case:
    """One fuzz case: ``args`` run in ``folder``; ``files`` written there first; outputs may change, inputs never."""

    index: int
    kind: str
    args: list[str]
    files: dict[str, bytes] = field(default_factory=dict)
    dirs: list[str] = field(default_factory=list)
    #: files (relative to the folder) the command may write
    outputs: list[str] = field(default_factory=list)
    #: the file whose errors must be named in every error line (relative), if any
    subject: str | None = None


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


class Generator:
    """Seeded case factory (module docstring)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.specs = {p.name: p.read_text() for p in sorted(SPECS.glob("*.yaml"))}
        self.specs["tiny.yaml"] = TINY.read_text()
        # specs name traces relative to cluster_specs/: make them absolute so a copy elsewhere still finds them
        for name, text in self.specs.items():
            self.specs[name] = text.replace("../profiles/", f"{PROFILES}/")
        self.spec_data = {n: yaml.safe_load(t) for n, t in self.specs.items()}
        self.plans = {
            p.name: p.read_text() for p in sorted((ROOT / "tests" / "golden").glob("*.json")) if p.stem[0] != "."
        }
        self.plans["chain2.json"] = (HELIX_FIXTURES / "chain2.json").read_text()
        self.tables = {p.name: p.read_text() for p in sorted((PROFILES / "tables").glob("*.csv"))}
        self.catalogues = {p.name: p.read_text() for p in sorted(PROFILES.glob("*.yaml"))}

    # ------------------------------------------------------------------------------------------ dispatch
    #: kind -> weight (per 200 cases). Solves are rare: one runs a real solver for seconds.
    KINDS = (
        ("spec", 60),
        ("spec_text", 28),
        ("set", 32),
        ("profiles", 20),
        ("plan_diff", 28),
        ("plan_simulate", 6),
        ("options", 12),
        ("outputs", 13),
        ("solve", 1),
    )

    def case(self, index: int) -> Case:
        rng = random.Random(f"{self.seed}:{index}")
        kinds = [k for k, w in self.KINDS for _ in range(w)]
        kind = rng.choice(kinds)
        return getattr(self, f"_{kind}")(rng, index)

    # ------------------------------------------------------------------------------------------ helpers
    def _nasty(self, rng: random.Random) -> Any:
        return copy.deepcopy(rng.choice(NASTY))

    def _paths(self, data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        out = [prefix] if prefix else []
        if isinstance(data, dict):
            for k, v in data.items():
                out += self._paths(v, (*prefix, k))
        elif isinstance(data, list):
            for i, v in enumerate(data):
                out += self._paths(v, (*prefix, i))
        return out

    def _mutate_data(self, rng: random.Random, data: Any, rounds: int) -> Any:
        data = copy.deepcopy(data)
        for _ in range(rounds):
            paths = self._paths(data)
            if not paths:
                return self._nasty(rng)
            path = rng.choice(paths)
            parent = data
            for p in path[:-1]:
                parent = parent[p]
            last = path[-1]
            op = rng.random()
            if op < 0.55:
                parent[last] = self._nasty(rng)
            elif op < 0.7 and isinstance(parent, dict):
                del parent[last]
            elif op < 0.8 and isinstance(parent, dict):
                parent[rng.choice(["extra", "nodez", "cuont", "bandwith", last + "_"])] = self._nasty(rng)
            elif op < 0.9 and isinstance(parent, list):
                parent.append(copy.deepcopy(parent[last]))
            else:
                parent[last] = {"a": [self._nasty(rng)], "b": self._nasty(rng)}
        return data

    @staticmethod
    def _dump(data: Any) -> bytes:
        try:
            return yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode("utf-8")
        except (yaml.YAMLError, ValueError, OverflowError):
            return b"model: [unserialisable"

    def _spec_name(self, rng: random.Random) -> str:
        return rng.choice(sorted(self.specs))

    # ------------------------------------------------------------------------------------------ kinds
    def _spec(self, rng: random.Random, index: int) -> Case:
        name = self._spec_name(rng)
        data = self._mutate_data(rng, self.spec_data[name], rng.randint(1, 3))
        return Case(index, "spec", ["validate", "spec.yaml"], {"spec.yaml": self._dump(data)}, subject="spec.yaml")

    def _spec_text(self, rng: random.Random, index: int) -> Case:
        text = self.specs[self._spec_name(rng)].encode("utf-8")
        op = rng.randrange(9)
        if op == 0:
            text = text[: rng.randrange(len(text))]
        elif op == 1:
            at = rng.randrange(len(text))
            text = text[:at] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 8))) + text[at:]
        elif op == 2:
            lines = text.split(b"\n")
            at = rng.randrange(len(lines))
            lines.insert(at, ("description: " + rng.choice(RAW_YAML)).encode())
            text = b"\n".join(lines)
        elif op == 3:
            depth = rng.choice([10, 63, 65, 500, 5000])
            text += b"\ndescription: " + b"[" * depth + b"]" * depth + b"\n"
        elif op == 4:
            bomb = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
            for i in range(1, rng.randint(2, 9)):
                bomb.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]")
            text = b"\n".join(b.encode() for b in bomb) + b"\n" + text
        elif op == 5:
            text = b"\xef\xbb\xbf" + text.replace(b"\n", b"\r\n")
        elif op == 6:
            text = text.replace(b"  ", b"\t", 1)
        elif op == 7:
            lines = text.split(b"\n")
            dup = rng.randrange(len(lines))
            text = b"\n".join(lines + [lines[dup]])
        else:
            text = rng.choice([b"", b"\x00" * 100, b"- a\n- b\n", b"42\n", b"model: x\n" * 3, b"\xff\xfe\x00"])
        return Case(index, "spec_text", ["validate", "spec.yaml"], {"spec.yaml": text}, subject="spec.yaml")

    def _set(self, rng: random.Random, index: int) -> Case:
        name = self._spec_name(rng)
        paths = self._paths(self.spec_data[name])
        sets: list[str] = []
        for _ in range(rng.randint(1, 3)):
            path = rng.choice(paths) if paths and rng.random() < 0.85 else ("nodes", rng.randrange(-3, 9), "count")
            dotted = ""
            for p in path:
                dotted += f"[{p}]" if isinstance(p, int) else (("." if dotted else "") + str(p))
            if rng.random() < 0.1:
                dotted = rng.choice(["", ".", "a..b", "nodes[x]", "nodes[0", "[0]", "x" * 300])
            if rng.random() < 0.5:
                value = rng.choice(RAW_YAML)
            else:
                value = json.dumps(self._nasty(rng), allow_nan=True) if rng.random() < 0.5 else str(self._nasty(rng))
            sets += ["--set", f"{dotted}={value}" if rng.random() > 0.03 else dotted]
        args = ["validate", "spec.yaml", *sets]
        return Case(index, "set", args, {"spec.yaml": self.specs[name].encode()}, subject="spec.yaml")

    def _profiles(self, rng: random.Random, index: int) -> Case:
        files: dict[str, bytes] = {}
        dirs: list[str] = []
        subject: str
        if rng.random() < 0.6:
            table = rng.choice(sorted(self.tables))
            lines = [ln for ln in self.tables[table].splitlines() if ln and not ln.startswith("#")]
            header, rows = lines[0], lines[1 : 1 + rng.randint(1, 6)]
            cols = header.split(",")
            mutated = []
            for row in rows:
                cells = next(csv.reader([row]))
                if rng.random() < 0.7 and cells:
                    i = rng.randrange(len(cells))
                    cells[i] = str(
                        rng.choice(["abc", "", "nan", "inf", "-inf", "-1", "0", "1e400", "1.5", " ", "\x01"])
                    )
                mutated.append(",".join(f'"{c}"' if "," in c else c for c in cells))
            op = rng.random()
            if op < 0.15 and len(cols) > 1:
                drop = rng.randrange(len(cols))
                header = ",".join(c for i, c in enumerate(cols) if i != drop)
            elif op < 0.2:
                header += ",extra"
            elif op < 0.25:
                mutated.append('garbage,"unterminated')
            elif op < 0.3:
                header, mutated = "", []
            body = "\n".join([header, *mutated]) + "\n"
            subject = f"prof/tables/{table}"
            if rng.random() < 0.05:
                dirs.append(subject)
            elif rng.random() < 0.05:
                files[subject] = bytes(rng.randrange(256) for _ in range(64))
            else:
                files[subject] = body.encode("utf-8", "surrogatepass")
            if rng.random() < 0.1 and not dirs:
                stem = table.removesuffix(".csv")
                files[f"prof/tables/new_{stem}.csv"] = body.encode()
                subject = f"prof/tables/new_{stem}.csv"
        else:
            cat = rng.choice(sorted(self.catalogues))
            data = yaml.safe_load(self.catalogues[cat])
            key = rng.choice(sorted(data))
            entry = {key: self._mutate_data(rng, data[key], rng.randint(1, 2)) if isinstance(data[key], dict) else 1}
            subject = f"prof/{cat}"
            files[subject] = self._dump(entry) if rng.random() < 0.9 else rng.choice(RAW_YAML).encode()
        command = ["profiles", "list", "--profiles", "prof"]
        if rng.random() < 0.3:
            command = ["validate", "spec.yaml", "--profiles", "prof"]
            files["spec.yaml"] = self.specs["tiny.yaml"].encode()
        return Case(index, "profiles", command, files, dirs=dirs, subject=subject)

    def _mutated_plan(self, rng: random.Random, base: str) -> bytes:
        text = self.plans[base]
        op = rng.random()
        if op < 0.6:
            data = self._mutate_data(rng, json.loads(text), rng.randint(1, 3))
            return json.dumps(data, allow_nan=True).encode()
        if op < 0.7:
            return text.encode()[: rng.randrange(len(text))]
        if op < 0.8:
            huge = "9" * rng.choice([10, 400, 5000])
            return text.replace('"layers": ', f'"layers": {huge}', 1).encode()
        if op < 0.9:
            depth = rng.choice([50, 65, 5000])
            return text.replace('"warnings": [', '"warnings": [' + "[" * depth + "]" * depth + ",", 1).encode()
        return rng.choice([b"", b"[]", b"null", b"NaN", b'{"format_version": "1.0.0", "kind": "helix"}', b"\xff"])

    def _plan_diff(self, rng: random.Random, index: int) -> Case:
        base = rng.choice(sorted(self.plans))
        files = {"old.json": self.plans[base].encode(), "new.json": self._mutated_plan(rng, base)}
        args = ["diff", "old.json", "new.json"]
        if rng.random() < 0.3:
            args += ["--format", rng.choice(["json", "markdown", "table"])]
        if rng.random() < 0.2:
            args += ["--fail-on", rng.choice(["throughput<-5%", "slo", "cost>+3%", "zz<1", "throughput<", "%%"])]
        return Case(index, "plan_diff", args, files, subject="new.json")

    def _plan_simulate(self, rng: random.Random, index: int) -> Case:
        files = {"plan.json": self._mutated_plan(rng, "chain2.json")}
        args = ["simulate", "plan.json", "--duration", rng.choice(["1s", "2s", "0s", "-1s", "1e999s", "5h"])]
        args += ["--warmup", "0s", "--profiles", str(HELIX_FIXTURES / "profiles")]
        if rng.random() < 0.3:
            args += rng.choice([["--rps", "1"], ["--rps", "nan"], ["--load", "0.5"], ["--offline"], ["--rps", "-3"]])
        return Case(index, "plan_simulate", args, files, subject="plan.json")

    def _options(self, rng: random.Random, index: int) -> Case:
        bad = rng.choice(["inf", "nan", "-1", "0", "abc", "1e999", "1e12", "5m", "", "1e-300"])
        choice = rng.randrange(5)
        files = {"spec.yaml": self.specs["tiny.yaml"].encode()}
        if choice == 0:
            args = ["helix", "spec.yaml", "--time-limit", bad, "--max-nodes", rng.choice(["0", "1", "-5", "abc"])]
        elif choice == 1:
            args = ["splitwise", "--rps", bad, "--duration", rng.choice(["0s", "1e999s", "2h", "abc", "-1s"])]
        elif choice == 2:
            args = ["dynamo", "--reshard-epoch", rng.choice(["1ms", "1s", "0s", "abc", "inf"]), "--epoch", "30m"]
        elif choice == 3:
            args = ["simulate", str(HELIX_FIXTURES / "chain2.json"), "--duration", bad, "--rps", bad]
        else:
            args = ["init", "--gpus", rng.choice(["0xA100-80G", "xx", "99999999999xL4", "4xZ9", "", "4x0xL4"])]
            args += ["--model", rng.choice(["llama2-70b", "nope", ""])]
        return Case(index, "options", args, files)

    def _outputs(self, rng: random.Random, index: int) -> Case:
        files = {"old.json": self.plans["helix-10node-llama30b.json"].encode()}
        files["new.json"] = files["old.json"]
        dirs = ["adir"]
        target = rng.choice(["old.json", "new.json", "adir", "/dev/null", "missing/dir/out.json", "ok.json", "."])
        choice = rng.randrange(3)
        if choice == 0:
            args = ["diff", "old.json", "new.json", "--out", target]
        elif choice == 1:
            files["spec.yaml"] = self.specs["tiny.yaml"].encode()
            args = ["init", "--out", rng.choice(["spec.yaml", "adir", "/dev/null", "new.yaml"]), "--force"]
            # init reads no file: with --force, replacing an existing spec.yaml is what the user asked for
        else:
            args = [
                "simulate",
                "old.json",
                "--out",
                target,
                "--plot",
                rng.choice(["x.yaml", "p.png", "adir", "old.json"]),
            ]
            args += ["--duration", "1s"]
        outs = [a for a in ("ok.json", "missing/dir/out.json", "new.yaml", "p.png") if a in args]
        if args[0] == "simulate" and target == "new.json":
            outs.append("new.json")  # simulate reads only old.json: replacing another file is what --out asks
        if args[0] == "init":
            outs.append("spec.yaml")
        return Case(index, "outputs", args, files, dirs=dirs, outputs=outs)

    def _solve(self, rng: random.Random, index: int) -> Case:
        solver = rng.choice(["helix", "dynamo", "splitwise"])
        if solver == "helix":
            data = self._mutate_data(rng, self.spec_data["tiny.yaml"], 1)
            args = ["helix", "spec.yaml", "--time-limit", "3", "--out", "plan.json"]
        elif solver == "dynamo":
            data = self._mutate_data(rng, self.spec_data["dynamo-llama2-70b-h100.yaml"], 1)
            args = ["dynamo", "spec.yaml", "--set", "dynamo.horizon=1h", "--time-limit", "3", "--out", "plan.json"]
        else:
            data = self._mutate_data(rng, self.spec_data["splitwise-bloom176b-coding.yaml"], 1)
            args = ["splitwise", "spec.yaml", "--rps", "5", "--designs", "HH", "--duration", "5s", "--workers", "1"]
            args += ["--out", "plan.json"]
        files = {"spec.yaml": self._dump(data)}
        return Case(index, "solve", [*args, "-q"], files, outputs=["plan.json"], subject="spec.yaml")
