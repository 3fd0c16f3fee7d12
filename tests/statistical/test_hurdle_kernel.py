"""pytyche's hurdle kernel and the bartz backend sample the same joint hurdle posterior."""

from __future__ import annotations

import numpy as np
import pytest

from pytyche.bcf import GPUBCFConfig, fit_hurdle_arrays
from pytyche.bcf.diagnostics import ess


def _agreement_data(seed: int = 11) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = 1200
    X = rng.normal(size=(n, 3)).astype(np.float32)
    z = (np.arange(n) % 2).astype(np.int32)
    conv = rng.normal(size=n) < -0.4 + 0.5 * X[:, 0] + 0.3 * z
    y = np.where(conv, np.exp(1.0 + 0.4 * X[:, 1] + 0.2 * z + 0.5 * rng.normal(size=n)), 0.0)
    return {"X": X, "z": z, "y": y.astype(np.float32)}


@pytest.mark.slow
def test_agrees_with_the_bartz_backend() -> None:
    """Both kernels sample the same posterior on a small simulated hurdle.

    Tolerance for a posterior mean m of a scalar Q (visitor averages of P(convert), of mean
    severity and of the revenue effect; σ): two independent chains' estimates differ by
    Monte Carlo error only, with sd sqrt(sd_A²/ESS_A + sd_B²/ESS_B) where sd is Q's posterior
    sd and ESS its effective sample size (both read from the draws). We allow 4 of those
    standard errors (a false alarm about 1 in 10⁴ per quantity). Per visitor, the posterior
    means must correlate above 0.95 and differ on average by under half a posterior sd
    (Monte Carlo error alone gives about sqrt(2/ESS) ≈ 0.15–0.25 sd here).
    """
    d = _agreement_data()
    fits = {}
    for kern in ("pytyche", "bartz"):
        cfg = GPUBCFConfig(num_burnin=300, num_samples=400, num_trees_mu=40, num_trees_tau=15,
                           block_size=50, hurdle_kernel=kern)
        fits[kern] = fit_hurdle_arrays(d["X"], d["z"], d["y"], seed=4, config=cfg,
                                       progress=False)
    a, b = fits["pytyche"].draws, fits["bartz"].draws

    def scalars(dr: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"p": dr["p"].mean(axis=(0, 2)), "sev": dr["sev"].mean(axis=(0, 2)),
                "rpv_cate": dr["rpv_cate"].mean(axis=(0, 2)), "sigma": dr["sigma"]}

    sa, sb = scalars(a), scalars(b)
    for key in sa:
        se = np.sqrt(sa[key].var() / ess(sa[key][None]) + sb[key].var() / ess(sb[key][None]))
        assert abs(sa[key].mean() - sb[key].mean()) < 4 * se, key
    for key in ("p", "sev"):
        ma, mb = a[key].mean(axis=1), b[key].mean(axis=1)
        sd = np.sqrt((a[key].var(axis=1) + b[key].var(axis=1)) / 2)
        assert np.corrcoef(ma.ravel(), mb.ravel())[0, 1] > 0.95, key
        assert np.mean(np.abs(ma - mb) / sd) < 0.5, key
