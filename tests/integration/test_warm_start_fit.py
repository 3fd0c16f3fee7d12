"""A warm-started fit on real (small) data: it starts from the previous trees (shown by
its first draw), and mismatched previous fits are refused."""

from __future__ import annotations

import numpy as np
import pytest


def _internal_nodes(split: np.ndarray) -> int:
    """Reachable internal nodes of one draw's forest, ``split`` (trees, 2^(d-1)) in bartz's
    heap layout (node i has children 2i and 2i+1, ``split == 0`` marks a leaf)."""
    total = 0
    for tree in split:
        stack = [1]
        while stack:
            node = stack.pop()
            if node < len(tree) and tree[node] != 0:
                total += 1
                stack += [2 * node, 2 * node + 1]
    return total


def test_warm_start_is_used() -> None:
    """With no burn-in, a warm-started fit's first draw has the previous fit's trees.

    Each MCMC iteration grows or prunes each tree by at most one node. A cold chain starts
    from single leaves, so after one iteration its μ forest has at most one split per tree;
    a warm chain starts from the previous fit's last trees, so its first draw keeps all but
    at most one node per tree of them. Ignoring ``warm_start`` would fail the second bound.
    """
    import dataclasses

    import pandas as pd

    from pytyche.bcf import GPUBCFConfig, fit_continuous_bcf
    from pytyche.data import from_dataframe

    rng = np.random.default_rng(4)
    n = 900
    x = rng.uniform(-2, 2, size=(n, 3))
    arm = np.where(np.arange(n) % 2 == 0, "control", "treatment")
    # a strongly structured prognostic surface, so the μ trees grow several splits each
    y = 3 * np.sin(2 * x[:, 0]) + 2 * (x[:, 1] > 0) + x[:, 2] ** 2 + rng.normal(0, 0.3, n)
    frame = pd.DataFrame({"x0": x[:, 0], "x1": x[:, 1], "x2": x[:, 2], "arm": arm, "y": y})
    data = from_dataframe(frame, treatment="arm", outcome="y", control="control",
                          metric="continuous")
    cfg = GPUBCFConfig(num_burnin=60, num_samples=10, num_trees_mu=5, num_trees_tau=3,
                       block_size=10)
    prev = fit_continuous_bcf(data, config=cfg, progress=False)
    one = dataclasses.replace(cfg, num_burnin=0, num_samples=1)
    warm = fit_continuous_bcf(data, config=one, progress=False, warm_start=prev, seed=5)
    cold = fit_continuous_bcf(data, config=one, progress=False, seed=5)
    trees = cfg.num_trees_mu
    before = _internal_nodes(prev.fit.forests[0].mu_split[-1])
    assert before > 2 * trees, before  # the previous forest is well grown
    assert _internal_nodes(cold.fit.forests[0].mu_split[0]) <= trees
    assert _internal_nodes(warm.fit.forests[0].mu_split[0]) >= before - trees


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
    with pytest.raises(ValueError, match="μ trees: previous fit 10, this fit 12"):
        fit_continuous_bcf(second, config=dataclasses.replace(cfg, num_trees_mu=12),
                           progress=False, warm_start=prev)
    with pytest.raises(TypeError, match="ContinuousBCFResult"):
        fit_continuous_bcf(second, config=cfg, progress=False, warm_start=object())
