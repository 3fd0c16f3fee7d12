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


def _private_reaches(path: Path) -> list[str]:
    """Every `pytyche.x._y` module or `_name` imported by `path` from another layer."""
    own = "cli" if path.name == "cli.py" else path.parent.name
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            continue
        for target in targets:
            if not target.startswith("pytyche.") or _layer(target) == own:
                continue
            if any(part.startswith("_") for part in target.split(".")[1:]):
                found.append(f"line {node.lineno}: {target}")
    return found


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
