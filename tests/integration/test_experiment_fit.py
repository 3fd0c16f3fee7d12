"""The loop with real BCF fits: tiny rounds through the `fit_config=` seam.

Settings: 2 rounds of 500 then 1,000 visitors, 10 μ / 5 τ trees, 30 + 30 iterations, 5
bootstrap trees — enough to exercise fit → analyze → cells → plan → store end to end.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from pytyche.errors import UncalibratedWarning
from pytyche.experiment import (
    GeometricSchedule,
    SequentialExperiment,
    TreePolicy,
    sequential_experiment,
    simulated_experiment_generator,
)

T = ["control", "treatment_1", "treatment_2"]


@pytest.mark.slow
def test_two_real_rounds(tmp_path):
    """Two real rounds: cumulative refit, three-cell plan with a tree, store readable."""
    from pytyche.bcf.config import GPUBCFConfig

    gen = simulated_experiment_generator(template="clustered_realistic",
                                         metric="revenue_per_visitor", effect_scale=0.3, K=3,
                                         seed=1, treatment_names=T)
    exp = sequential_experiment(
        generator=gen, schedule=GeometricSchedule(500, n_rounds=2), treatments=T, seed=1,
        store=tmp_path / "store",
        fit_config=GPUBCFConfig(num_burnin=30, num_samples=30, num_trees_mu=10,
                                num_trees_tau=5),
        analysis_options={"n_bootstrap": 5},
    )
    with pytest.warns(UncalibratedWarning):
        first = next(exp)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UncalibratedWarning)
        second = next(exp)
    assert first.posterior.observed.n_visitors == 500
    assert second.posterior.observed.n_visitors == 1500
    level = second.posterior.level_samples()
    assert level.shape[0] == 1500 and level.shape[2] == 3 and np.isfinite(level).all()
    plan = second.next_recommendation
    assert [c.id for c in plan.cells] == ["control", "explore", "optimized"]
    assert isinstance(plan.cells[2].policy, TreePolicy)
    assert second.truth_comparison is not None
    assert [o.id for o in second.cell_observations] == ["control", "explore", "optimized"]

    restored = SequentialExperiment.resume(tmp_path / "store", generator=gen)
    assert restored.current_round_idx == 2
    assert restored.next_recommendation.to_dict() == plan.to_dict()
    assert restored.store.read_posterior_summary(1)
