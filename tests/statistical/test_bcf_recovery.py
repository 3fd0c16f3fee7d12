"""Statistical recovery tests of the BCF engine (fixed seeds, tolerances from posterior spread).

Shapes (n = 500, 20 μ + 8 τ trees, blocks of 10) match tests/integration/test_bcf_fit.py so
the compiled programs are shared; only the iteration counts differ.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import ndtr

from pytyche.bcf import GPUBCFConfig, fit_binary_arrays, fit_continuous_arrays, fit_hurdle_arrays
from pytyche.bcf.reference import bartz_reference_cate, cate_scores
from pytyche.generators.designs import hmc_design

N = 500
CFG = GPUBCFConfig(num_burnin=100, num_samples=100, num_trees_mu=20, num_trees_tau=8,
                   block_size=10)


_HOM_NONLINEAR_GAP = pytest.mark.xfail(
    strict=True,
    reason="measured on this data set, not a tolerance to loosen: pytyche's CATE RMSE is "
           "0.79-0.93 over fit seeds 0-2 against bartz.bcf's 0.48 at its seed 0. Diagnosed "
           "(benchmarks/README.md, 'τ intercept'): bartz's 0.48 is its best seed (0.48, 0.70, "
           "0.86 over fit seeds 0-2), and over data seeds 0-2 the two agree (0.46 ± 0.27 vs "
           "0.43 ± 0.27), so most of the gap is the Monte Carlo spread of 100 + 100-iteration "
           "chains on this confounded design, wider than the bound. On this data a τ "
           "intercept (tau_intercept=True: 0.71, 0.78, 0.71) or a bartz-scale τ tree prior "
           "(var_tau 0.07, alpha_tau 0.25: 0.41-0.65) narrows it; over data seeds 0-2 the "
           "intercept does not (0.50 ± 0.18)",
)


@pytest.mark.parametrize(
    ("heterogeneous", "linear"),
    [
        pytest.param(True, True, id="het-tau-linear-mu"),
        pytest.param(True, False, id="het-tau-nonlinear-mu"),
        pytest.param(False, True, id="hom-tau-linear-mu"),
        pytest.param(False, False, id="hom-tau-nonlinear-mu", marks=_HOM_NONLINEAR_GAP),
    ],
)
def test_hmc_continuous_recovery(heterogeneous: bool, linear: bool) -> None:
    """On the HMC design pytyche recovers τ about as well as bartz.bcf does on the same fit.

    The reference is the bartz BCF (the library pytyche builds on) fitted to the same data
    with the same tree counts, iterations and minimum leaf size, so the bounds move with what
    this small configuration can achieve rather than being fixed numbers:

    - CATE RMSE at most 1.25 × bartz's plus 0.05 (two samplers with different priors and
      100 kept draws each differ by this much between seeds on this design);
    - 90% interval coverage at least bartz's minus 0.15 (BCF intervals under-cover on this
      design; this catches pytyche's collapsing further than the reference's);
    - the ATE within 3 posterior sd (plus 0.05) of the sample mean of the true τ, and the
      error sd near its true value 1.
    """
    d = hmc_design(N, heterogeneous=heterogeneous, linear=linear, seed=11)
    fit = fit_continuous_arrays(d.X, d.z, d.y, propensity=d.propensity, seed=0, config=CFG,
                                progress=False)
    cate = fit.draws["cate"][:, :, 0]
    ours = cate_scores(cate, d.tau)
    ref = cate_scores(bartz_reference_cate(d.X, d.z, d.y, d.propensity, config=CFG, seed=0),
                      d.tau)
    rmse, cover, rmse_ref, cover_ref = ours["rmse"], ours["cov90"], ref["rmse"], ref["cov90"]
    assert rmse <= 1.25 * rmse_ref + 0.05, (rmse, rmse_ref)
    assert cover >= cover_ref - 0.15, (cover, cover_ref)
    ate = cate.mean(axis=0)
    assert abs(ate.mean() - d.tau.mean()) < 3 * ate.std() + 0.05, (ate.mean(), ate.std())
    assert 0.7 < fit.draws["sigma"].mean() < 1.3


def _truth_binary(X: np.ndarray, K: int) -> tuple[np.ndarray, np.ndarray]:
    lat = -0.3 + 0.5 * X[:, 0]
    lifts = np.linspace(0.5, -0.4, K - 1)
    return lat, lifts


@pytest.mark.parametrize("K", [2, 3])
def test_binary_ate_recovery(K: int) -> None:
    """Each arm's probability-scale ATE lies within 3 posterior sd of the sample truth."""
    rng = np.random.default_rng(20 + K)
    X = rng.normal(size=(N, 4)).astype(np.float32)
    z = (np.arange(N) % K).astype(np.int32)
    lat, lifts = _truth_binary(X, K)
    own = np.where(z > 0, lifts[np.maximum(z - 1, 0)], 0.0)
    y = (rng.normal(size=N) < lat + own).astype(np.float32)
    fit = fit_binary_arrays(X, z, y, seed=1, config=CFG, progress=False)
    ate = fit.draws["cate"].mean(axis=0)  # (S, K-1)
    truth = np.array([np.mean(ndtr(lat + t) - ndtr(lat)) for t in lifts])
    assert np.all(np.abs(ate.mean(axis=0) - truth) <= 3 * ate.std(axis=0)), (ate.mean(0), truth)


def _hurdle_data(K: int, seed: int, *, constant: bool = False) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, 4)).astype(np.float32)
    z = (np.arange(N) % K).astype(np.int32)
    lat0 = -0.4 + (0 if constant else 0.4) * X[:, 0]
    m0 = 1.0 + (0 if constant else 0.3) * X[:, 2]
    tc = np.linspace(0.4, -0.3, K - 1)
    ts = np.linspace(0.3, -0.2, K - 1)
    own_c = np.where(z > 0, tc[np.maximum(z - 1, 0)], 0.0)
    own_s = np.where(z > 0, ts[np.maximum(z - 1, 0)], 0.0)
    sig = 0.5
    conv = rng.normal(size=N) < lat0 + own_c
    y = np.where(conv, np.exp(m0 + own_s + sig * rng.normal(size=N)), 0.0).astype(np.float32)
    p0 = ndtr(lat0)
    s0 = np.exp(m0 + sig**2 / 2)
    dp = np.array([np.mean(ndtr(lat0 + c) - p0) for c in tc])
    rpv = np.array(
        [np.mean(ndtr(lat0 + c) * s0 * np.exp(s) - p0 * s0) for c, s in zip(tc, ts, strict=True)]
    )
    return {"X": X, "z": z, "y": y, "dp": dp, "rpv": rpv, "ts": ts}


@pytest.mark.parametrize("K", [2, 3])
def test_hurdle_joint_recovery(K: int) -> None:
    """Revenue ATE, conversion lift and log-severity lift per arm lie within 3 posterior sd."""
    d = _hurdle_data(K, 30 + K)
    fit = fit_hurdle_arrays(d["X"], d["z"], d["y"], seed=2, config=CFG, progress=False)
    rpv = fit.draws["rpv_cate"].mean(axis=0)
    assert np.all(np.abs(rpv.mean(0) - d["rpv"]) <= 3 * rpv.std(0)), (rpv.mean(0), d["rpv"])
    p = fit.draws["p"]
    dp = (p[..., 1:] - p[..., :1]).mean(axis=0)
    assert np.all(np.abs(dp.mean(0) - d["dp"]) <= 3 * dp.std(0)), (dp.mean(0), d["dp"])
    ls = np.log(fit.draws["sev"])
    dls = (ls[..., 1:] - ls[..., :1]).mean(axis=0)
    assert np.all(np.abs(dls.mean(0) - d["ts"]) <= 3 * dls.std(0)), (dls.mean(0), d["ts"])


def test_joint_and_independent_agree_on_constant_effect() -> None:
    """Joint and independent pooling give revenue ATEs within 3 combined posterior sd."""
    d = _hurdle_data(2, 41, constant=True)
    a = fit_hurdle_arrays(d["X"], d["z"], d["y"], pooling="joint", seed=3, config=CFG,
                          progress=False).draws["rpv_cate"].mean(axis=0)[:, 0]
    b = fit_hurdle_arrays(d["X"], d["z"], d["y"], pooling="independent", seed=3, config=CFG,
                          progress=False).draws["rpv_cate"].mean(axis=0)[:, 0]
    assert abs(a.mean() - b.mean()) <= 3 * np.hypot(a.std(), b.std()), (a.mean(), b.mean())
    for est, sd in ((a.mean(), a.std()), (b.mean(), b.std())):
        assert abs(est - d["rpv"][0]) <= 3 * sd
