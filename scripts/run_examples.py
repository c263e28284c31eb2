"""Run every shipped spec in cluster_specs/ through its solver (``make examples``); exit 1 if any fails.

The solver is the spec file's prefix (``helix-``, ``splitwise-``, ``dynamo-``); extra arguments for a spec can be
given in a ``# examples-args: ...`` comment on its first lines. Sweep files (``sweep-*.yaml``) run through
``plan sweep`` into a temporary folder.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="llmplan-examples-") as tmp:
        return run_all(Path(tmp))


def run_all(tmp: Path) -> int:
    failed = []
    for spec in sorted((ROOT / "cluster_specs").glob("*.yaml")):
        solver = spec.name.split("-", 1)[0]
        args: list[str] = []
        for line in spec.read_text().splitlines()[:10]:
            if line.startswith("# examples-args:"):
                args = shlex.split(line.split(":", 1)[1])
        if solver == "sweep":
            args = ["--out", str(tmp / spec.stem), *args]
        cmd = [sys.executable, "-m", "planner", solver, str(spec.relative_to(ROOT)), "--quiet", *args]
        start = time.perf_counter()
        res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - start
        status = "ok" if res.returncode == 0 else f"exit {res.returncode}"
        print(f"{status:8s} {wall:7.1f}s  {' '.join(cmd[3:])}")
        if res.returncode != 0:
            failed.append(spec.name)
            print(res.stderr.strip())
    print(f"{len(failed)} failed" if failed else "all examples ran")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
