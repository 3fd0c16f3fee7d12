"""The literature designs: deterministic, their stated truth, and an effect the data carry."""

from __future__ import annotations

import numpy as np
import pytest

from pytyche.bcf.reference import cate_scores
from pytyche.generators.designs import (
    hmc_design,
    hurdle_design,
    multilevel_moderator_design,
    weak_signal_rct,
)

ALL = [
    lambda seed: hmc_design(400, seed=seed),
    lambda seed: hmc_design(400, heterogeneous=False, linear=False, seed=seed),
    lambda seed: multilevel_moderator_design(400, seed=seed),
    lambda seed: weak_signal_rct(400, seed=seed),
    lambda seed: hurdle_design(400, seed=seed),
    lambda seed: hurdle_design(400, drivers="shared", seed=seed),
]


@pytest.mark.parametrize("make", ALL)
def test_a_seed_gives_the_same_data(make) -> None:
    a, b, c = make(3), make(3), make(4)
    assert np.array_equal(a.X, b.X) and np.array_equal(a.y, b.y) and np.array_equal(a.z, b.z)
    assert not np.array_equal(a.y, c.y)
    assert a.X.dtype == np.float32 and a.y.dtype == np.float32 and a.z.dtype == np.int32
    assert a.propensity.shape == (a.n, 2)
    assert np.allclose(a.propensity.sum(axis=1), 1.0)
    assert np.all((a.propensity > 0) & (a.propensity < 1))


def test_hmc_cells_have_the_papers_effects() -> None:
    het = hmc_design(2000, seed=0)
    assert np.allclose(het.tau, 1 + 2 * het.X[:, 1] * het.X[:, 3], atol=1e-5)
    hom = hmc_design(2000, heterogeneous=False, seed=0)
    assert np.all(hom.tau == 3.0)
    # targeted selection: HMC's propensity spans 0.05-0.95
    assert het.propensity[:, 1].min() >= 0.05 and het.propensity[:, 1].max() <= 0.95


def test_noise_columns_leave_the_other_draws_alone() -> None:
    plain, noisy = hmc_design(500, seed=2), hmc_design(500, seed=2, n_noise=4)
    assert noisy.X.shape == (500, 9)
    assert np.array_equal(noisy.X[:, :5], plain.X) and np.array_equal(noisy.y, plain.y)


def test_multilevel_moderator_slope_grows_with_the_level() -> None:
    d = multilevel_moderator_design(3000, seed=1)
    x2, level = d.X[:, 1].astype(float), d.X[:, 4]
    for lev, slope in ((1, 0.0), (2, 1.0), (3, 2.0)):
        m = level == lev
        assert np.allclose(d.tau[m], 0.5 + slope * x2[m], atol=1e-5)


@pytest.mark.parametrize("drivers", ["shared", "separate"])
def test_hurdle_truth_is_what_the_randomized_contrast_estimates(drivers) -> None:
    """The stated revenue effect matches the treated-minus-control difference in means.

    Tolerance: 4 standard errors of that difference (two-sample, from the data), which a
    correct truth fails with probability below 1e-4.
    """
    d = hurdle_design(200_000, drivers=drivers, seed=5)
    y, z = d.y.astype(float), d.z
    dim = y[z == 1].mean() - y[z == 0].mean()
    se = np.sqrt(y[z == 1].var() / (z == 1).sum() + y[z == 0].var() / (z == 0).sum())
    assert abs(dim - d.tau.mean()) < 4 * se, (dim, d.tau.mean(), se)
    assert 0.02 < (y > 0).mean() < 0.06  # about 4% buy


def test_hurdle_drivers_differ() -> None:
    """With separate drivers the revenue effect follows x3 (measured corr 0.22-0.24 over
    seeds 0-2); with shared ones it does not, beyond the 4/√n sampling error of a zero
    correlation (0.057 at n = 5,000)."""
    sep, shared = hurdle_design(5000, seed=0), hurdle_design(5000, drivers="shared", seed=0)
    corr = lambda d, j: np.corrcoef(d.tau, d.X[:, j])[0, 1]  # noqa: E731
    assert corr(sep, 2) > 4 / np.sqrt(5000) > abs(corr(shared, 2))


def test_hurdle_refuses_unknown_drivers() -> None:
    with pytest.raises(ValueError, match="shared' or 'separate"):
        hurdle_design(10, drivers="both")  # type: ignore[arg-type]


def test_weak_signal_rct_effect() -> None:
    d = weak_signal_rct(500, seed=0, effect=2.0)
    assert np.all(d.tau == 2.0) and np.all(d.propensity == 0.5)


def test_cate_scores() -> None:
    """A draw cloud centred on the truth scores RMSE 0 and full coverage; shifted, neither."""
    rng = np.random.default_rng(0)
    truth = rng.normal(size=50)
    draws = truth[:, None] + rng.normal(size=(50, 400)) * 0.1
    draws -= draws.mean(axis=1, keepdims=True) - truth[:, None]
    s = cate_scores(draws, truth)
    assert s["rmse"] < 1e-9 and s["cov90"] == 1.0
    shifted = cate_scores(draws + 1.0, truth)
    assert abs(shifted["rmse"] - 1.0) < 1e-9 and shifted["cov90"] == 0.0
    assert abs(s["true_sd"] - truth.std()) < 1e-12
