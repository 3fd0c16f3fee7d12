"""The layering that `lint-imports` cannot express on its own.

`lint-imports` (the `[tool.importlinter]` contracts in pyproject.toml) checks which packages may
import which; these tests check what the presentation layer may reach into: another layer's
public names only, never a ``_private`` module or name.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import pytyche

PACKAGE = Path(pytyche.__file__).parent
PRESENTATION = ("cli", "viz", "report")


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _presentation_files() -> list[Path]:
    files = [PACKAGE / "cli.py"]
    for folder in ("viz", "report"):
        files += sorted((PACKAGE / folder).glob("*.py"))
    return files


def _private(target: str) -> bool:
    return any(part.startswith("_") and not (part.startswith("__") and part.endswith("__"))
               for part in target.split(".")[1:])


def _private_reaches(path: Path) -> list[str]:
    """Every `pytyche.x._y` module or `_name` of another layer that `path` imports, by an
    absolute or a relative import, or reads as an attribute of an imported module."""
    own = "cli" if path.name == "cli.py" else path.parent.name
    package = ["pytyche"] if path.name == "cli.py" else ["pytyche", own]
    tree = ast.parse(path.read_text())
    bound: dict[str, str] = {}  # local name -> the pytyche module or name it stands for
    found = []

    def check(target: str, lineno: int) -> None:
        if target.startswith("pytyche.") and _layer(target) != own and _private(target):
            found.append(f"line {lineno}: {target}")

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = (package[: len(package) - node.level + 1] if node.level else [])
            module = ".".join([*base, *([node.module] if node.module else [])])
            check(module, node.lineno)
            for alias in node.names:
                check(f"{module}.{alias.name}", node.lineno)
                bound[alias.asname or alias.name] = f"{module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                check(alias.name, node.lineno)
                if alias.asname:
                    bound[alias.asname] = alias.name
                else:
                    bound[alias.name.split(".")[0]] = alias.name.split(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            chain, value = [node.attr], node.value
            while isinstance(value, ast.Attribute):
                chain.append(value.attr)
                value = value.value
            if isinstance(value, ast.Name) and value.id in bound:
                check(".".join([bound[value.id], *reversed(chain)]), node.lineno)
    return sorted(set(found))


class TestPresentation:
    @pytest.mark.parametrize("path", _presentation_files(), ids=lambda p: p.name)
    def test_imports_only_public_names_of_other_layers(self, path: Path) -> None:
        """cli.py, viz/ and report/ import no `_private` module or name of another layer."""
        assert _private_reaches(path) == []

    def test_the_check_sees_a_private_import(self, tmp_path: Path) -> None:
        """The scan flags both a private module and a private name."""
        source = tmp_path / "cli.py"
        source.write_text("from pytyche.data._readers import file_kind\n"
                          "from pytyche.analysis import _posterior\n")
        assert len(_private_reaches(source)) == 3

    def test_the_check_sees_relative_imports_and_attributes(self, tmp_path: Path) -> None:
        """A relative import out of the package and a private attribute of an imported module
        are flagged; the package's own private modules, dunders and public names are not."""
        folder = tmp_path / "viz"
        folder.mkdir()
        source = folder / "_plot.py"
        source.write_text("from .._integrity import atomic_write\n"
                          "from ._common import new_axes\n"
                          "import pytyche.analysis as an\n"
                          "import pytyche\n"
                          "from pytyche import bcf\n"
                          "an._leaderboard.rows\n"
                          "pytyche.data._readers\n"
                          "bcf._loop\n"
                          "an.leaderboard, pytyche.__version__\n")
        assert _private_reaches(source) == [
            "line 1: pytyche._integrity", "line 1: pytyche._integrity.atomic_write",
            "line 6: pytyche.analysis._leaderboard",
            "line 6: pytyche.analysis._leaderboard.rows",
            "line 7: pytyche.data._readers", "line 8: pytyche.bcf._loop"]
