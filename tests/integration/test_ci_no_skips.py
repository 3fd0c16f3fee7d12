"""In CI a skip is a failure: tests/conftest.py under PYTYCHE_NO_SKIPS, run for real.

A scratch suite with this suite's conftest runs in a fresh pytest process, serially and on two
xdist workers (as the README's command may run it): every kind of skip fails it, an expected
failure does not, and without the variable the same suite passes with its skips.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"
SCRATCH = {
    "test_kinds.py": (
        "import pytest\n\n"
        "def test_runs():\n    assert 2 + 2 == 4\n\n"
        "def test_inline():\n    pytest.skip('no browser here')\n\n"
        "@pytest.mark.skipif(True, reason='marked off')\n"
        "def test_marked():\n    pass\n\n"
        "@pytest.mark.xfail(reason='a known gap', strict=True)\n"
        "def test_known_gap():\n    assert 1 == 2\n"
    ),
    "test_module_skip.py": (
        "import pytest\n\npytest.skip('module off', allow_module_level=True)\n\n"
        "def test_never():\n    pass\n"
    ),
    "test_pytestmark.py": (
        "import pytest\n\npytestmark = pytest.mark.skipif(True, reason='whole module off')\n\n"
        "def test_hidden():\n    pass\n"
    ),
}


def run_scratch(tmp_path: Path, no_skips: str, *extra: str) -> subprocess.CompletedProcess[str]:
    shutil.copy(CONFTEST, tmp_path / "conftest.py")
    for name, text in SCRATCH.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # keep this repository's settings out
    env = {**os.environ, "PYTYCHE_NO_SKIPS": no_skips}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rfEsx", "-p", "no:cacheprovider", *extra, "."],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


# serially a module that skips itself is a collection error, which stops the run; the flag
# lets the scratch run go on so that every kind is seen
@pytest.mark.parametrize("mode", [("--continue-on-collection-errors",), ("-n", "2")],
                         ids=["serial", "xdist"])
def test_every_skip_fails_under_no_skips(tmp_path, mode):
    """Inline, marker, module-level and pytestmark skips all fail; the xfail stays an xfail."""
    out = run_scratch(tmp_path, "1", *mode)
    text = out.stdout + out.stderr
    assert out.returncode == 1, text
    assert "PYTYCHE_NO_SKIPS is set" in text
    for reason in ("no browser here", "marked off", "module off", "whole module off"):
        assert reason in text, (reason, text)
    tally = text.strip().splitlines()[-1]
    assert "1 passed" in tally and "1 xfailed" in tally and "skipped" not in tally, tally


def test_a_module_skip_stops_a_serial_run(tmp_path):
    """Without the flag, the module that skipped itself interrupts collection (exit 2)."""
    out = run_scratch(tmp_path, "1")
    assert out.returncode == 2, out.stdout + out.stderr
    assert "module off" in out.stdout and "error during collection" in out.stdout


def test_skips_stay_skips_without_it(tmp_path):
    """Outside CI the same scratch suite passes, reporting its skips."""
    out = run_scratch(tmp_path, "")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 passed, 4 skipped, 1 xfailed" in out.stdout, out.stdout
