"""Rewrite the golden plans (``make goldens``). Review ``git diff tests/golden`` before committing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from golden_cases import GOLDEN, ROOT, cases, stable  # noqa: E402


def main(argv: list[str]) -> int:
    """Rewrite all goldens, or only those whose name starts with one of ``argv``."""
    for case in cases():
        if argv and not any(case["name"].startswith(a) for a in argv):
            continue
        cmd = [sys.executable, "-m", "planner", case["solver"], case["spec"], "--format", "json", "--quiet"]
        cmd += [str(a) for a in case.get("args", [])]
        res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
        if res.returncode not in (0, 1) or not res.stdout.strip():
            print(f"FAILED {case['name']}: exit {res.returncode}\n{res.stderr}")
            return 1
        (GOLDEN / f"{case['name']}.json").write_text(stable(res.stdout))
        print(f"wrote tests/golden/{case['name']}.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
