"""The demo entry point the command line calls (real fits at the demo configuration)."""

from __future__ import annotations

import json
import warnings

import pytest

from pytyche.errors import UncalibratedWarning


@pytest.mark.slow
def test_run_demo_writes_summary(tmp_path, monkeypatch):
    """run_demo runs three rounds and writes summary.json and the store."""
    from pytyche.experiment import demo

    # A smaller configuration than the demo's own, to keep the suite fast.
    monkeypatch.setattr(demo, "DEMO_ROUNDS", {"initial": 400, "growth": 1.5, "n_rounds": 3})
    monkeypatch.setattr(demo, "DEMO_FIT", {"num_burnin": 20, "num_samples": 20,
                                           "num_trees_mu": 10, "num_trees_tau": 5})
    monkeypatch.setattr(demo, "DEMO_ANALYSIS", {"n_bootstrap": 3})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UncalibratedWarning)
        exp = demo.run_demo(tmp_path, progress=False)
    assert exp.current_round_idx == 3
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert len(summary["rounds"]) == 3 and summary["configuration"]["K"] == 3
    assert all("truth_comparison" in r for r in summary["rounds"])
    assert (tmp_path / "store" / "round_002").is_dir()
