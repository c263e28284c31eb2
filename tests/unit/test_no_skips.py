"""The suite's skip rule (tests/conftest.py): a skip fails unless it names a missing optional extra."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"

TESTS = """
import pytest

def test_skips_for_no_reason():
    pytest.skip("plan helix is not implemented in this tree yet (stub)")

@pytest.mark.skipif(True, reason="the fixture is missing")
def test_skipif_marker():
    pass

def test_optional_extra_missing():
    pytest.importorskip("no_such_module_xyz", reason="the optional extra llmplan[xyz] is not installed")

def test_passes():
    assert True
"""


def test_only_a_missing_optional_extra_may_skip(tmp_path: Path) -> None:
    shutil.copy(CONFTEST, tmp_path / "conftest.py")
    (tmp_path / "test_sample.py").write_text(TESTS)
    cmd = [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", str(tmp_path)]
    res = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, check=False)
    out = res.stdout
    assert res.returncode == 1, out
    # a skip in the test body fails it; a skipif marker skips at setup, which is reported as an error
    assert "1 failed, 1 passed, 1 skipped, 1 error" in out, out
    assert "FAILED test_sample.py::test_skips_for_no_reason" in out
    assert "ERROR test_sample.py::test_skipif_marker" in out
    assert "SKIPPED [1] test_sample.py:12: the optional extra llmplan[xyz] is not installed" in out
    assert "not allowed" in out
