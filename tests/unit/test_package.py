"""The installable package: fast import, lazy public names, README/CI agreement."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import pytyche

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("jax", "bartz", "matplotlib")


class TestImport:
    def test_import_loads_no_heavy_module(self):
        """`import pytyche` (and its data/contract layers) leaves jax, bartz and matplotlib
        unloaded."""
        code = (
            "import sys, pytyche, pytyche.contracts, pytyche.errors\n"
            f"print([m for m in {HEAVY!r} if m in sys.modules])"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True)
        assert out.stdout.strip() == "[]"

    def test_import_time_under_one_second(self):
        """A fresh interpreter imports pytyche in well under a second."""
        code = (
            "import time; t = time.perf_counter(); import pytyche; "
            "print(time.perf_counter() - t)"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True)
        assert float(out.stdout) < 1.0

    @pytest.mark.parametrize("name", pytyche.__all__)
    def test_every_public_name_resolves(self, name):
        """Each name in `pytyche.__all__` loads from its module."""
        assert getattr(pytyche, name) is not None

    def test_unknown_attribute_raises(self):
        """A misspelt name fails with AttributeError naming it."""
        with pytest.raises(AttributeError, match="no_such_thing"):
            pytyche.no_such_thing  # noqa: B018


class TestReadme:
    def _block(self, marker: str) -> str:
        text = (ROOT / "README.md").read_text()
        match = re.search(
            rf"<!-- {marker}:start -->\s*```bash\n(.*?)\n```\s*<!-- {marker}:end -->", text, re.S
        )
        assert match, f"README.md lacks the {marker} block"
        return match.group(1)

    def test_readme_opens_with_the_two_commands(self):
        """The demo and test commands are the README's first two code blocks."""
        text = (ROOT / "README.md").read_text()
        blocks = re.findall(r"```bash\n(.*?)\n```", text, re.S)
        assert blocks[:2] == [self._block("demo-command"), self._block("test-command")]
        assert "pytyche demo" in blocks[0]
        assert "pytest" in blocks[1] and "ruff check" in blocks[1]

    def test_ci_runs_the_readme_test_command(self):
        """.ci/run extracts and runs the README's test block, so the two cannot drift."""
        script = (ROOT / ".ci" / "run").read_text()
        assert "test-command:start" in script


def test_test_module_names_are_unique():
    """tests/ has no __init__.py files, so two test modules of one basename in different
    folders collide when pytest collects the whole tree (an "import file mismatch")."""
    from collections import Counter
    from pathlib import Path

    names = Counter(p.name for p in Path(__file__).resolve().parents[1].rglob("test_*.py"))
    assert [n for n, k in names.items() if k > 1] == []
