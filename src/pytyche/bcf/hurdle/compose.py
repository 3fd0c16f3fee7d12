"""The independent hurdle path (``pooling="independent"``): two fits, composed per draw.

The literature's two-stage baseline: a probit BCF on every visitor's conversion, then a
Gaussian BCF on converters' standardized log basket, predicted back at every visitor. Draw
``s`` of the revenue effect combines draw ``s`` of each channel,
``p_j · exp(m_j + σ²/2) − p_0 · exp(m_0 + σ²/2)``, so the result has the same keys and shapes
as the joint path's.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from pytyche.bcf._arrays import HurdleTargets, _run_engine
from pytyche.bcf._draws import ForestDraws, Scale, outcome_draws
from pytyche.bcf._preprocess import validate_inputs
from pytyche.bcf.config import GPUBCFConfig

__all__ = ["_fit_independent_hurdle_bcf"]


def _fit_independent_hurdle_bcf(
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
    """Fit conversion and severity separately and compose their draws.

    Parameters are those of :func:`pytyche.bcf.hurdle.model._fit_joint_hurdle_bcf`;
    ``warm_start`` holds (conversion, severity) forests of a previous independent fit. The
    severity fit uses ``seed + 1``.

    Returns
    -------
    draws, forests, timings
        As the joint path; ``forests`` is (conversion, severity) and timing keys are
        prefixed ``conv_`` / ``sev_``.

    Raises
    ------
    SchemaViolation
        Converters alone do not fill every arm with enough visitors for the severity fit.
    """
    conv = targets.converted
    conv_draws, f_conv, tm_c = _run_engine(
        X, z, conv.astype(np.float32)[None], None, "binary", propensity, seed, config,
        progress, Scale("binary"), None if warm_start is None else warm_start[0],
    )
    pr_conv = None if propensity is None else propensity[conv]
    validate_inputs(  # converters alone must still fill every arm
        X[conv], z[conv], targets.y[conv], pr_conv, config, family="continuous",
    )
    scale = targets.scale
    _, f_sev, tm_s = _run_engine(
        X[conv], z[conv], targets.log_severity[conv][None], None, "continuous", pr_conv,
        seed + 1, config, progress, Scale("continuous", scale.mean, scale.sd),
        None if warm_start is None else warm_start[-1],
    )
    t1 = time.perf_counter()
    mu_c, tau_c = conv_draws.to_arrays()
    mu_s, tau_s = f_sev.raw_predict(X, propensity)
    draws = outcome_draws(
        scale,
        np.concatenate([mu_c, mu_s], axis=1),
        np.concatenate([tau_c, tau_s], axis=2),
        f_sev.sigma,
    )
    timings: dict[str, Any] = {
        f"{ch}_{key}": v for ch, tm in (("conv", tm_c), ("sev", tm_s)) for key, v in tm.items()
    }
    timings["draws_s"] = time.perf_counter() - t1
    return draws, (f_conv, f_sev), timings
