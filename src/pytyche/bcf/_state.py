"""Build the initial sampler state of a fit from prepared arrays."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from scipy.special import ndtri
from scipy.stats import chi2

from pytyche.bcf import _bartz_adapter as bz
from pytyche.bcf import _hurdle_forest as hf
from pytyche.bcf._kernel import EngineData, EngineState
from pytyche.bcf._preprocess import Prepared, bucket_size
from pytyche.bcf._warm import WarmStart
from pytyche.bcf.config import GPUBCFConfig

__all__ = ["ModelSpec", "build_engine", "forest_backend"]


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """Which likelihood the engine runs and the padded outcome it fits."""

    kind: str
    """'continuous', 'binary' or 'hurdle'."""
    y: np.ndarray
    """(k, n_pad) float32 outcome in model units (standardized or 0/1); padding anything."""
    observed: np.ndarray
    """(k, n_pad) bool: entries that carry likelihood (real rows; converters for severity)."""

    @property
    def k(self) -> int:
        """Number of outcome components per leaf."""
        return self.y.shape[0]

    @property
    def sigma_mode(self) -> str:
        """How the record reads σ from the error precision."""
        return {"continuous": "scalar", "binary": "one", "hurdle": "sev"}[self.kind]


def _error_rate(config: GPUBCFConfig) -> float:
    """Inverse-gamma rate so that P(σ < 1 standardized unit) = config.sigma_quantile."""
    return float(chi2.ppf(1.0 - config.sigma_quantile, config.sigma_df))


def _stack(states: list[Any]) -> Any:
    return jax.tree.map(lambda *a: jnp.stack(a), *states)


def forest_backend(kind: str, config: GPUBCFConfig) -> ModuleType:
    """The forest module a fit's states come from.

    The joint hurdle runs on pytyche's own 2-component kernel (`_hurdle_forest`) unless
    ``config.hurdle_kernel == 'bartz'``; every other model runs on bartz (`_bartz_adapter`).
    """
    if kind == "hurdle" and config.hurdle_kernel == "pytyche":
        return hf
    return bz


def _converter_pad(prep: Prepared, spec: ModelSpec) -> dict[str, int]:
    """Keyword for the hurdle kernel's τ states: one converter length for every arm.

    The τ states are stacked over arms, so their compact converter arrays need one length.
    """
    counts = [int(spec.observed[1, prep.arm_index[j][prep.arm_index[j] < prep.n_pad]].sum())
              for j in range(prep.K - 1)]
    return {"converter_pad": bucket_size(max(counts))}


def build_engine(
    prep: Prepared, spec: ModelSpec, config: GPUBCFConfig, warm: WarmStart | None = None
) -> tuple[EngineState, EngineData]:
    """Initialize the μ state over all rows and one τ state per non-control arm.

    With `warm`, every forest starts from the given tree structures (zero leaves) instead of
    single-leaf trees. With ``config.tau_intercept`` the state also holds the arms' τ
    intercepts (starting at 0) and the data the arms' likelihood masks they are drawn over.
    """
    k = spec.k
    fb = forest_backend(spec.kind, config)
    q_mu = prep.X_mu.shape[0]
    missing_mu = ~spec.observed
    if spec.kind == "continuous":
        outcome: str | list[str] = "continuous"
        offset = np.float32(0.0)
        error = "sampled"
    elif spec.kind == "binary":
        outcome = "binary"
        rate = float(spec.y[0, prep.valid].mean())
        offset = np.float32(ndtri(rate))
        error = "fixed"
    else:
        outcome = ["binary", "continuous"]
        rate = float(spec.y[0, prep.valid].mean())
        offset = np.array([ndtri(rate), 0.0], np.float32)
        error = "diag"
    y_mu = spec.y[0] if k == 1 else spec.y
    mu = fb.init_forest(
        X=prep.X_mu,
        y=y_mu,
        outcome_type=outcome,
        offset=offset,
        max_split=prep.binning.max_split,
        num_trees=config.num_trees_mu,
        max_depth=config.max_depth,
        alpha=config.alpha_mu,
        beta=config.beta_mu,
        leaf_var=np.full(k, config.var_mu / config.num_trees_mu),
        missing=missing_mu[0] if k == 1 else missing_mu,
        min_points_per_leaf=config.min_samples_leaf,
        error=error,
        error_rate=_error_rate(config),
        error_df=config.sigma_df,
    )
    if warm is not None:
        mu = fb.with_topology(mu, warm.mu_var, warm.mu_split)
    p = prep.p
    X_tau_full = np.concatenate([prep.X_mu[:p], np.zeros((p, 1), np.uint8)], axis=1)
    obs_full = np.concatenate([spec.observed, np.zeros((k, 1), bool)], axis=1)
    tau_var = [config.var_tau] if k == 1 else [config.var_tau, config.var_tau_sev]
    tau_extra = _converter_pad(prep, spec) if fb is hf else {}
    taus = []
    for j in range(prep.K - 1):  # loop over arms, each its own forest state
        idx = prep.arm_index[j]
        miss = ~obs_full[:, idx]
        taus.append(
            fb.init_forest(
                X=X_tau_full[:, idx],
                y=np.zeros((k, idx.size), np.float32)[0 if k == 1 else slice(None)],
                outcome_type="continuous" if k == 1 else ["continuous"] * k,
                offset=np.zeros((), np.float32) if k == 1 else np.zeros(k, np.float32),
                max_split=prep.binning.max_split[:p],
                num_trees=config.num_trees_tau,
                max_depth=config.max_depth,
                alpha=config.alpha_tau,
                beta=config.beta_tau,
                leaf_var=np.asarray(tau_var) / config.num_trees_tau,
                missing=miss[0] if k == 1 else miss,
                min_points_per_leaf=config.min_samples_leaf,
                error="fixed" if k == 1 else "diag_fixed",
                **tau_extra,
            )
        )
        if warm is not None:
            taus[-1] = fb.with_topology(taus[-1], warm.tau_var[j], warm.tau_split[j])
    del q_mu
    tau0 = arm_obs = prior_prec = None
    if config.tau_intercept:  # τ₀_j starts at 0, like the leaves
        tau0 = jnp.zeros((prep.K - 1, k), jnp.float32)
        arm_obs = jnp.asarray(np.moveaxis(obs_full[:, prep.arm_index], 1, 0), jnp.float32)
        prior_prec = jnp.full((k,), 1.0 / config.var_tau_intercept, jnp.float32)
    data = EngineData(
        arm_index=jnp.asarray(prep.arm_index),
        X_tau=jnp.asarray(prep.X_mu[:p]),
        arm=jnp.asarray(prep.arm),
        arm_obs=arm_obs,
        tau0_prior_prec=prior_prec,
    )
    return EngineState(mu=mu, tau=_stack(taus), tau0=tau0), data
