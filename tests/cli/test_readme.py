"""The README's spec-format example is a valid spec, and every `plan` subcommand it names exists."""

from __future__ import annotations

import re
from pathlib import Path

from planner.cli import app
from planner.paths import REPO_ROOT
from planner.profiles.db import ProfileDB
from planner.spec.loader import load_spec

README = (REPO_ROOT / "README.md").read_text()


def test_spec_format_example_validates(tmp_path: Path, profile_db: ProfileDB) -> None:
    section = README.split("## Spec format", 1)[1]
    example = re.search(r"```yaml\n(.*?)```", section, flags=re.S)
    assert example is not None
    text = example.group(1).replace("../profiles/traces", str(REPO_ROOT / "profiles" / "traces"))
    p = tmp_path / "readme.yaml"
    p.write_text(text)
    loaded = load_spec(p, profile_db)
    assert [n.name for n in loaded.cluster.nodes][:2] == ["h100-0", "h100-1"]
    assert loaded.cluster.link("h100-0", "l40s-0").bandwidth_bytes_s == 1.25e9  # the 10Gbps override
    assert "l40s-3" not in loaded.cluster.coordinator_links


def test_every_command_in_the_readme_exists(runner) -> None:
    named = set(re.findall(r"`plan ([a-z]+)", README))
    assert {"helix", "splitwise", "dynamo", "simulate", "diff", "init", "validate", "profiles", "schema"} <= named
    for cmd in sorted(named):
        res = runner.invoke(app, [cmd, "--help"])
        assert res.exit_code == 0, f"plan {cmd} --help failed"
