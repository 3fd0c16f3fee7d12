"""Small real BCF fits for the statistical tests of the analysis layer."""

from __future__ import annotations

from typing import Any

from pytyche.contracts import ObservedExperimentData


def small_config(**overrides: Any) -> Any:
    """A reduced sampler: 30 mu / 10 tau trees, 100 burn-in + 100 kept draws."""
    from pytyche.bcf import GPUBCFConfig

    settings = {"num_burnin": 100, "num_samples": 100, "num_trees_mu": 30, "num_trees_tau": 10}
    settings.update(overrides)
    return GPUBCFConfig(**settings)


def fit_observed(observed: ObservedExperimentData, *, seed: int, **config: Any) -> Any:
    """Fit ``observed`` with the public fit of its metric family (not the outcome-based
    dispatch, so a template's declared metric always picks the model)."""
    from pytyche.bcf import fit_for_metric

    return fit_for_metric(observed, seed=seed, config=small_config(**config), progress=False,
                  observed_copy="ref")
