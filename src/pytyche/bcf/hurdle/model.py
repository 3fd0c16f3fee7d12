"""The joint hurdle path (``pooling="joint"``): one forest, two channels, shared topology.

Conversion 1[y > 0] (probit, every visitor) and standardized log-severity (Gaussian,
converters only) are the two components of every leaf of the μ and τ forests, so both
channels split on the same features at the same thresholds. The severity component is masked
out for non-converters, which is how one forest can serve a channel observed on a subset.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from pytyche.bcf._arrays import HurdleTargets, _run_engine
from pytyche.bcf._draws import ForestDraws, outcome_draws_from
from pytyche.bcf.config import GPUBCFConfig

__all__ = ["_fit_joint_hurdle_bcf"]


def _fit_joint_hurdle_bcf(
    X: np.ndarray,
    z: np.ndarray,
    targets: HurdleTargets,
    *,
    propensity: np.ndarray | None,
    seed: int,
    config: GPUBCFConfig,
    progress: bool,
    warm_start: tuple[ForestDraws, ...] | None = None,
) -> tuple[dict[str, np.ndarray], tuple[ForestDraws, ...], dict[str, Any]]:
    """Fit both hurdle channels in one 2-component forest and return its draws.

    Parameters
    ----------
    X, z : numpy.ndarray
        Validated features (n, p) float32 and arm index (n,) int32.
    targets : HurdleTargets
        The outcome split into channels (:func:`pytyche.bcf._arrays.hurdle_targets`).
    propensity : numpy.ndarray or None
        (n, K) assignment probabilities, or None for the empirical arm shares.
    seed, config, progress
        As for :func:`pytyche.bcf.fit_hurdle_bcf`.
    warm_start : tuple of ForestDraws, optional
        A previous joint fit's forests; the first one seeds the trees.

    Returns
    -------
    draws : dict
        ``p``, ``sev`` (n, S, K), ``rpv_cate`` (n, S, K−1), ``mu`` and ``sigma``.
    forests : tuple of ForestDraws
        The single shared forest.
    timings : dict
        Engine timings plus ``draws_s``.
    """
    y_model = np.stack([targets.converted.astype(np.float32), targets.log_severity])
    observed = np.stack([np.ones_like(targets.converted), targets.converted])
    visitors, forests, timings = _run_engine(
        X, z, y_model, observed, "hurdle", propensity, seed, config, progress, targets.scale,
        None if warm_start is None else warm_start[0],
    )
    t1 = time.perf_counter()
    draws = outcome_draws_from(targets.scale, visitors, forests.sigma)
    timings["draws_s"] = time.perf_counter() - t1
    return draws, (forests,), timings
