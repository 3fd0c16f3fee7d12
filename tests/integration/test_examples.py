"""The worked examples in examples/, run in their reduced ``--quick`` form (real fits)."""

from __future__ import annotations

import json
import runpy
import sys
import warnings
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
pytestmark = pytest.mark.slow


def run_example(name: str, out: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.setattr(sys, "argv", [name, "--quick", "--out", str(out)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return runpy.run_path(str(EXAMPLES / name), run_name="__main__")


def check_report(path: Path) -> None:
    text = path.read_text()
    assert "data:image/png;base64," in text and "http://" not in text


def test_hillstrom_spend(tmp_path, monkeypatch):
    """Hillstrom spend, three arms: decisions for both e-mails, report and policy written."""
    run_example("hillstrom_spend.py", tmp_path, monkeypatch)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary["decisions"]) == {"Mens E-Mail", "Womens E-Mail"}
    assert summary["metric"] == "revenue_per_visitor"
    check_report(tmp_path / "report.html")
    assert (tmp_path / "policy.sql").read_text().strip()


def test_simulated_sequential(tmp_path, monkeypatch):
    """Three simulated rounds with truth comparisons; report and GIF written."""
    run_example("simulated_sequential.py", tmp_path, monkeypatch)
    check_report(tmp_path / "report.html")
    assert (tmp_path / "evolution.gif").stat().st_size > 0
    report = (tmp_path / "report.html").read_text()
    assert "Against the simulated truth" in report
    assert "Regret against a fixed uniform split" in report


def test_real_data_sequential(tmp_path, monkeypatch):
    """Three rounds read from Parquet through DuckDB; the last plan is exported."""
    run_example("real_data_sequential.py", tmp_path, monkeypatch)
    check_report(tmp_path / "report.html")
    import pandas as pd

    assert sorted(pd.read_parquet(tmp_path / "visits.parquet")["round_no"].unique()) == [0, 1, 2]
