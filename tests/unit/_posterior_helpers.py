"""A small posterior built without running the sampler, for save/load tests.

The draws and trees are random arrays of the right shapes and dtypes: enough for everything
that persistence reads and checks, and built in milliseconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import pytyche as pt
from pytyche.bcf import GPUBCFConfig
from pytyche.bcf._arrays import BCFFit
from pytyche.bcf._draws import ForestDraws, Scale
from pytyche.bcf.results import result_type
from pytyche.data import feature_schema

S = 6
CONFIG = GPUBCFConfig(num_burnin=2, num_samples=S, num_trees_mu=3, num_trees_tau=2,
                      max_depth=2)


def observed_frame(n: int = 40, *, seed: int = 0, arms: tuple[str, ...] = ("control", "a", "b")
                   ) -> pd.DataFrame:
    """Visitors with a zero-inflated outcome, one numeric and one categorical feature."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "arm": np.array(arms)[np.arange(n) % len(arms)],
        "y": np.where(np.arange(n) % 3 == 0, 0.0, rng.gamma(2.0, 10.0, n)),
        "age": rng.integers(18, 80, n).astype(float),
        "device": rng.choice(["web", "app"], n),
    })


def _forest(rng: np.random.Generator, K: int, p: int, k: int) -> ForestDraws:
    half, full = 2 ** (CONFIG.max_depth - 1), 2 ** CONFIG.max_depth
    T_mu, T_tau = CONFIG.num_trees_mu, CONFIG.num_trees_tau
    u8 = np.uint8
    return ForestDraws(
        mu_var=rng.integers(0, p, (S, T_mu, half)).astype(u8),
        mu_split=np.zeros((S, T_mu, half), u8),
        mu_leaf=rng.normal(size=(S, T_mu, k, full)).astype(np.float32),
        tau_var=rng.integers(0, p, (S, K - 1, T_tau, half)).astype(u8),
        tau_split=np.zeros((S, K - 1, T_tau, half), u8),
        tau_leaf=rng.normal(size=(S, K - 1, T_tau, k, full)).astype(np.float32),
        sigma=np.abs(rng.normal(size=S)).astype(np.float32) + 0.1,
        cutpoints=np.sort(rng.normal(size=(p + K - 1, 4)), axis=1).astype(np.float32),
        max_split=np.full(p + K - 1, 4, np.int32),
        arm_shares=np.full(K, 1.0 / K),
        mu_offset=np.zeros(k, np.float32),
        scale=Scale("hurdle", 1.0, 2.0),
    )


def fake_posterior(frame: pd.DataFrame | None = None, *, seed: int = 0):
    """A HurdleBCFResult over ``frame`` (default :func:`observed_frame`) with random draws."""
    frame = observed_frame() if frame is None else frame
    observed = pt.from_dataframe(frame, treatment="arm", outcome="y", control="control",
                                 metric="revenue_per_visitor")
    rng = np.random.default_rng(seed)
    n, K, p = observed.n_visitors, observed.n_treatments, feature_schema(observed).n_features
    f32 = np.float32
    p_draws = rng.uniform(0.1, 0.9, (n, S, K)).astype(f32)
    sev = rng.gamma(2.0, 10.0, (n, S, K)).astype(f32)
    rpv = p_draws * sev
    draws = {"p": p_draws, "sev": sev, "rpv_cate": rpv[:, :, 1:] - rpv[:, :, :1],
             "sigma": np.abs(rng.normal(size=S)).astype(f32) + 0.1}
    fit = BCFFit(family="hurdle", pooling="joint", num_arms=K, n=n, config=CONFIG, seed=seed,
                 draws=draws, forests=(_forest(rng, K, p, 2),),
                 diagnostics={"rhat_sigma": 1.0}, timings={"total": 0.1})
    return result_type("hurdle")(observed=observed, fit=fit)
