"""Rewrite the golden plans and simulation documents (``make goldens``).

The only way goldens change: tests compare and never write. Review ``git diff tests/golden
tests/fixtures/helix_plans/golden`` before committing.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from golden_cases import GOLDEN, ROOT, SIM_GOLDEN, cases, sim_cases, stable  # noqa: E402


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
    for case in sim_cases():
        if argv and not any(case["name"].startswith(a) for a in argv):
            continue
        cmd = [sys.executable, "-m", "planner", "simulate", *map(str, case["args"]), "--format", "json", "--quiet"]
        res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
        if res.returncode != 0:
            print(f"FAILED simulate-{case['name']}: exit {res.returncode}\n{res.stderr}")
            return 1
        (SIM_GOLDEN / f"simulate-{case['name']}.json").write_text(stable(res.stdout))
        print(f"wrote {SIM_GOLDEN.relative_to(ROOT)}/simulate-{case['name']}.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
