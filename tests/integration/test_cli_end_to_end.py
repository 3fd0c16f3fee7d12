"""`pytyche analyze` and `pytyche run`/`status` end to end, with real (quick) fits."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from pytyche.cli import app

pytestmark = pytest.mark.slow
runner = CliRunner()


def test_analyze_hillstrom_sample(tmp_path):
    """analyze on a Hillstrom sample writes report, policy JSON/SQL and summary JSON."""
    from pytyche.datasets import HILLSTROM_FEATURES, load_hillstrom

    path = tmp_path / "hillstrom.parquet"
    load_hillstrom(n=6000, seed=1).to_parquet(path)
    out = tmp_path / "out"
    result = runner.invoke(app, [
        "analyze", str(path), "--treatment", "segment", "--outcome", "spend",
        "--control", "No E-Mail", "--features", ",".join(HILLSTROM_FEATURES), "--quick",
        "--no-progress", "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["decisions"]) == {"Mens E-Mail", "Womens E-Mail"}
    assert json.loads((out / "policy.json").read_text())
    assert "CASE" in (out / "policy.sql").read_text()
    assert "data:image/png;base64," in (out / "report.html").read_text()


def test_run_two_rounds_then_status(tmp_path):
    """run creates a store from round 0, resumes for round 1; status shows both."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
    from test_experiment_real_data import platform_round  # the unit tests' platform stand-in

    from pytyche.experiment import cold_start_plan

    treatments = ["control", "a", "b"]
    platform_round(cold_start_plan(treatments), n=800, seed=0).to_csv(tmp_path / "r0.csv",
                                                                       index=False)
    args = ["run", "--store", str(tmp_path / "store"), "--data", str(tmp_path / "r{round}.csv"),
            "--outcome", "revenue", "--treatments", ",".join(treatments), "--quick",
            "--no-progress"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert (tmp_path / "store" / "plan.json").exists()
    from pytyche.experiment import ExperimentStore

    plan = ExperimentStore.open(tmp_path / "store").read_round(0).next_plan
    platform_round(plan, n=800, seed=1).to_csv(tmp_path / "r1.csv", index=False)
    second = runner.invoke(app, args)
    assert second.exit_code == 0, second.output
    status = runner.invoke(app, ["status", "--store", str(tmp_path / "store")])
    assert "2 committed round(s)" in " ".join(status.output.split())
