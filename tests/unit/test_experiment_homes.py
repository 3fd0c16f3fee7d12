"""The loop and the engine live in modules by job; their names still import where they did."""

from __future__ import annotations

import importlib

import pytest

HOMES = {
    "pytyche.experiment.recommendation": (
        "DEFAULT_NUM_TREES_TAU", "ExpectedLossRule", "GraduationCandidate", "GraduationRule",
        "NextRoundPlan", "cell_weights", "clearly_losing_treatments", "cold_start_plan",
        "find_graduation_candidates", "next_fit_num_trees_tau", "optimized_value_probability",
        "recommend", "segment_evidence",
    ),
    "pytyche.experiment.sequential": (
        "Generator", "SequentialExperiment", "UncalibratedWarning", "build_cumulative",
        "cumulative_truth", "sequential_experiment", "stitch_rounds",
    ),
}


@pytest.mark.parametrize("module", sorted(HOMES))
def test_names_import_from_their_old_home(module: str) -> None:
    """Every name listed before the split is exported from the same module, and is the
    package's own object where the package exports it too."""
    mod = importlib.import_module(module)
    package = importlib.import_module("pytyche.experiment")
    assert set(HOMES[module]) <= set(mod.__all__)
    for name in HOMES[module]:
        if name in package.__all__:
            assert getattr(package, name) is getattr(mod, name)
