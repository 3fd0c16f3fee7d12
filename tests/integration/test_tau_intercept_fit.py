"""Fits with τ intercepts (`GPUBCFConfig.tau_intercept=True`) on small real data.

Every family runs through the same kernel: the intercepts are stored per draw, included in
the per-visitor effect draws and in predictions, kept by save/load, and a warm start from
such a fit runs. Fits are tiny (n = 500, 20 μ + 8 τ trees, 20 + 20 iterations) like
test_bcf_fit.py's, so the compiled programs are shared with it where the shapes agree.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import pytyche as pt
from pytyche.bcf import GPUBCFConfig, fit_binary_arrays, fit_continuous_arrays, fit_hurdle_arrays

N = 500
CFG = GPUBCFConfig(num_burnin=20, num_samples=20, num_trees_mu=20, num_trees_tau=8,
                   block_size=10, tau_intercept=True)


def _data(family: str, K: int, seed: int = 0) -> dict[str, np.ndarray]:
    from test_bcf_fit import simulate

    return simulate(family, N, K, seed)


@pytest.mark.parametrize(("family", "K", "k"), [("continuous", 3, 1), ("binary", 2, 1)])
def test_single_channel_fit_stores_and_uses_intercepts(family: str, K: int, k: int) -> None:
    """τ₀ is stored (draws, arms, components), and predicting the training visitors
    reproduces the in-fit effect draws, so both include it."""
    d = _data(family, K)
    fit_fn = fit_continuous_arrays if family == "continuous" else fit_binary_arrays
    fit = fit_fn(d["X"], d["z"], d["y"], seed=1, config=CFG, progress=False)
    forest = fit.forests[0]
    assert forest.tau_offset.shape == (CFG.num_samples, K - 1, k)
    assert np.isfinite(forest.tau_offset).all() and np.ptp(forest.tau_offset) > 0
    pred = fit.predict(d["X"])
    np.testing.assert_allclose(pred["cate"], fit.draws["cate"], atol=2e-3, rtol=2e-3)


@pytest.mark.parametrize("pooling", ["joint", "independent"])
def test_hurdle_fit_has_one_intercept_per_channel(pooling: str) -> None:
    """Joint: one forest with (arms, 2) intercepts; independent: one per channel's forest.
    Predictions at the training visitors reproduce the revenue effect draws."""
    d = _data("hurdle", 3)
    fit = fit_hurdle_arrays(d["X"], d["z"], d["y"], pooling=pooling, seed=2, config=CFG,
                            progress=False)
    shapes = [f.tau_offset.shape for f in fit.forests]
    assert shapes == ([(20, 2, 2)] if pooling == "joint" else [(20, 2, 1), (20, 2, 1)])
    pred = fit.predict(d["X"])
    np.testing.assert_allclose(pred["rpv_cate"], fit.draws["rpv_cate"], atol=2e-2, rtol=2e-3)


def test_bartz_hurdle_kernel_runs_with_intercepts() -> None:
    """The joint hurdle on bartz's masked forest takes the same intercept step."""
    d = _data("hurdle", 2)
    cfg = dataclasses.replace(CFG, hurdle_kernel="bartz")
    fit = fit_hurdle_arrays(d["X"], d["z"], d["y"], seed=2, config=cfg, progress=False)
    assert fit.forests[0].tau_offset.shape == (20, 1, 2)
    np.testing.assert_allclose(fit.predict(d["X"])["rpv_cate"], fit.draws["rpv_cate"],
                               atol=2e-2, rtol=2e-3)


def test_save_load_and_warm_start_keep_intercepts(tmp_path) -> None:
    """A saved posterior predicts the same after loading, and warm-starts a new fit."""
    d = _data("continuous", 2)
    frame = pd.DataFrame(d["X"], columns=[f"x{j}" for j in range(d["X"].shape[1])])
    frame["arm"] = np.array(["control", "a"])[d["z"]]
    frame["y"] = d["y"]
    observed = pt.from_dataframe(frame, treatment="arm", outcome="y", control="control",
                                 metric="continuous")
    post = pt.fit(observed, config=CFG, seed=4, progress=False)
    again = pt.ContinuousBCFResult.load(post.save(tmp_path / "post"))
    assert again.config.tau_intercept
    visitors = observed.visitors().head(25)
    np.testing.assert_array_equal(again.predict(visitors), post.predict(visitors))
    warm = pt.fit(observed, config=CFG, seed=5, progress=False, warm_start=again)
    assert warm.cate_samples().shape == post.cate_samples().shape
    assert np.isfinite(warm.cate_samples()).all()
