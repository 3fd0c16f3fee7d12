"""A warm-started fit on real (small) data: runs from the previous trees, refuses mismatches."""

from __future__ import annotations

import numpy as np
import pytest


def test_warm_start_fit_runs_and_rejects_a_mismatch() -> None:
    """A warm-started fit carries on from the previous trees; other shapes are refused."""
    import dataclasses

    from pytyche.bcf import GPUBCFConfig, fit_continuous_bcf
    from pytyche.generators import simulate

    cfg = GPUBCFConfig(num_burnin=10, num_samples=10, num_trees_mu=10, num_trees_tau=5,
                       block_size=10)
    first = simulate("clustered_realistic", n_visitors=600, metric="continuous", K=2,
                     seed=1).observed
    second = simulate("clustered_realistic", n_visitors=900, metric="continuous", K=2,
                      seed=2).observed
    prev = fit_continuous_bcf(first, config=cfg, progress=False)
    warm = fit_continuous_bcf(second, config=cfg, progress=False, warm_start=prev)
    assert np.isfinite(warm.fit.draws["cate"]).all()
    assert warm.fit.forests[0].mu_split[0].any()  # the first kept draw is not a stump forest
    with pytest.raises(ValueError, match="μ trees: previous fit 10, this fit 12"):
        fit_continuous_bcf(second, config=dataclasses.replace(cfg, num_trees_mu=12),
                           progress=False, warm_start=prev)
    with pytest.raises(TypeError, match="ContinuousBCFResult"):
        fit_continuous_bcf(second, config=cfg, progress=False, warm_start=object())
