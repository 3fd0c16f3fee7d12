"""The command line through typer's CliRunner: clean errors (exit 2) and the store verbs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pytyche.cli import app

runner = CliRunner()


def invoke(args: list[str]):
    """Run the app; return the result and its output with rich's line wrapping undone."""
    result = runner.invoke(app, args)
    return result, " ".join(result.output.split())


@pytest.fixture
def csv(tmp_path):
    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame({"arm": rng.choice(["control", "a", "b"], n), "x": rng.normal(size=n),
                          "revenue": np.where(rng.random(n) < 0.3, rng.gamma(2, 10, n), 0.0)})
    path = tmp_path / "visits.csv"
    frame.to_csv(path, index=False)
    return path


class TestAnalyzeErrors:
    def test_missing_file(self, tmp_path):
        """A file that does not exist: message, exit 2, no traceback."""
        result, out = invoke(["analyze", str(tmp_path / "nope.csv"), "--treatment", "arm",
                                     "--outcome", "revenue"])
        assert result.exit_code == 2
        assert "not found" in out and "Traceback" not in out
        assert isinstance(result.exception, SystemExit)

    def test_unknown_column(self, csv):
        """A column that is not in the file is named in the message."""
        result, out = invoke(["analyze", str(csv), "--treatment", "arm",
                                     "--outcome", "spend"])
        assert result.exit_code == 2 and "spend" in out

    def test_unknown_format(self, tmp_path):
        """A file of unknown format is refused before anything is read."""
        path = tmp_path / "visits.xlsx"
        path.write_text("x")
        result, out = invoke(["analyze", str(path), "--treatment", "arm",
                                     "--outcome", "revenue"])
        assert result.exit_code == 2 and "format" in out

    def test_no_data(self):
        """Neither a file nor --sql: exit 2 with what to pass."""
        result, out = invoke(["analyze", "--treatment", "arm", "--outcome", "revenue"])
        assert result.exit_code == 2 and "--sql" in out

    def test_bad_sql(self):
        """A query DuckDB cannot run is reported without a traceback."""
        result, out = invoke(["analyze", "--sql", "SELECT * FROM no_such_table",
                                     "--treatment", "arm", "--outcome", "revenue"])
        assert result.exit_code == 2 and "no_such_table" in out


class TestStoreVerbs:
    def test_status_of_a_store(self, tmp_path):
        """status lists the committed rounds and the next plan of a real store."""
        from test_viz_plots import fake_history

        fake_history(n_rounds=2, store=tmp_path / "store")
        result, out = invoke(["status", "--store", str(tmp_path / "store")])
        assert result.exit_code == 0, result.output
        assert "2 committed round(s)" in out
        assert "Plan for the next round" in out and "optimized" in out

    def test_status_of_a_foreign_folder(self, tmp_path):
        """A folder that is not a store: exit 2 with the store's message."""
        result, out = invoke(["status", "--store", str(tmp_path)])
        assert result.exit_code == 2 and "not a pytyche experiment store" in out

    def test_run_first_needs_treatments(self, tmp_path, csv):
        """The first run must be told the treatments (control first)."""
        result, out = invoke(["run", "--store", str(tmp_path / "s"), "--data", str(csv),
                                     "--outcome", "revenue"])
        assert result.exit_code == 2 and "--treatments" in out

    def test_run_missing_round_file(self, tmp_path):
        """A round file that is not there yet is a clean error."""
        result, out = invoke(["run", "--store", str(tmp_path / "s"), "--data",
                                     str(tmp_path / "r{round}.csv"), "--outcome", "revenue",
                                     "--treatments", "control,a,b", "--no-progress"])
        assert result.exit_code == 2 and "does not exist" in out


def test_main_exits_2_on_pytyche_error(monkeypatch, capsys):
    """main() prints a pytyche error and exits 2 (no traceback)."""
    import pytyche.cli as cli
    from pytyche.errors import SchemaViolation

    def boom() -> None:
        raise SchemaViolation("column 'x' is broken")

    monkeypatch.setattr(cli, "app", boom)
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == 2
    assert "column 'x' is broken" in capsys.readouterr().out
