"""The reference fit pytyche's engine is checked against, and the scores both are judged by.

:func:`bartz_reference_cate` runs `bartz.bcf` (the pinned bartz, whose forest sampler pytyche
builds on) on the same data, trees, iterations and leaf minimum as a :class:`GPUBCFConfig`, so
the statistical tests and benchmarks compare like with like. :func:`cate_scores` is the CATE
accuracy both are reported with.
"""

from __future__ import annotations

import numpy as np

from pytyche.bcf.config import GPUBCFConfig

__all__ = ["bartz_reference_cate", "cate_scores"]


def bartz_reference_cate(X: np.ndarray, z: np.ndarray, y: np.ndarray, propensity: np.ndarray,
                         *, config: GPUBCFConfig, seed: int = 0) -> np.ndarray:
    """`bartz.bcf`'s τ draws for a two-arm continuous outcome, matched to `config`.

    Parameters
    ----------
    X : ndarray, shape (n, p)
    z : ndarray, shape (n,)
        0 control, 1 treated.
    y : ndarray, shape (n,)
    propensity : ndarray, shape (n, 2)
        Assignment probabilities (control, treated); the treated column is bartz's ``pihat``.
    config : GPUBCFConfig
        Trees (``num_trees_mu``, ``num_trees_tau``), iterations (``num_burnin``,
        ``num_samples``) and ``min_samples_leaf`` are passed on; bartz keeps its own priors.
    seed : int, default=0

    Returns
    -------
    ndarray, shape (n, num_samples)
        τ(x) draws, visitors first (as pytyche's ``draws["cate"][:, :, 0]``).
    """
    from bartz.bcf import bcf

    pi = np.asarray(propensity, dtype=np.float32)[:, 1]
    model = bcf(np.asarray(X, np.float32), np.asarray(y, np.float32),
                np.asarray(z, np.float32), pihat_train=pi,
                num_trees_mu=config.num_trees_mu, num_trees_tau=config.num_trees_tau,
                ndpost=config.num_samples, nskip=config.num_burnin,
                min_points_per_leaf_mu=config.min_samples_leaf,
                min_points_per_leaf_tau=config.min_samples_leaf, seed=seed)
    return np.asarray(model.predict(np.asarray(X, np.float32), pihat_test=pi)["tau"]).T


def cate_scores(draws: np.ndarray, truth: np.ndarray, level: float = 0.9) -> dict[str, float]:
    """RMSE of the posterior-mean CATE against the truth and coverage of equal-tailed intervals.

    Parameters
    ----------
    draws : ndarray, shape (n, S)
        CATE draws per visitor.
    truth : ndarray, shape (n,)
    level : float, default=0.9

    Returns
    -------
    dict
        ``rmse``, ``cov90`` (the share of visitors whose interval at `level` holds the truth;
        the key keeps its name at other levels) and ``true_sd`` (the spread of the truth,
        the scale an RMSE is read against).

    Examples
    --------
    >>> draws = np.tile(np.linspace(-1, 1, 101), (3, 1))  # (3 visitors, 101 draws)
    >>> cate_scores(draws, np.array([0.0, 0.5, 2.0]))["cov90"]
    0.6666666666666666
    """
    draws = np.asarray(draws, dtype=np.float64)
    truth = np.asarray(truth, dtype=np.float64)
    tail = (1 - level) / 2
    lo, hi = np.quantile(draws, [tail, 1 - tail], axis=1)
    return {"rmse": float(np.sqrt(np.mean((draws.mean(axis=1) - truth) ** 2))),
            "cov90": float(np.mean((lo <= truth) & (truth <= hi))),
            "true_sd": float(truth.std())}
