"""Array-level BCF fits: continuous, binary (probit) and hurdle (joint or independent).

These take already-encoded arrays; the public wrappers that take observed experiment data
build on them. Every function validates its input before anything is compiled.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import numpy as np

from pytyche.bcf._draws import (
    ForestDraws,
    Scale,
    VisitorDraws,
    outcome_draws,
    outcome_draws_from,
)
from pytyche.bcf._preprocess import prepare, standardize, validate_inputs
from pytyche.bcf._warm import warm_start_from
from pytyche.bcf.config import GPUBCFConfig
from pytyche.bcf.diagnostics import summarize_chains
from pytyche.errors import SchemaViolation

__all__ = ["BCFFit", "fit_binary_arrays", "fit_continuous_arrays", "fit_hurdle_arrays"]

Pooling = Literal["joint", "independent"]


@dataclass(frozen=True, slots=True, eq=False)
class BCFFit:
    """Posterior draws of one array-level fit.

    ``draws`` keys (per-visitor arrays are float32, visitors first, chain-major draws):

    - continuous: ``cate`` (n, S, K−1), ``mu`` (n, S), ``sigma`` (S,)
    - binary: ``cate`` (n, S, K−1) probability scale, ``mu`` (n, S) control probability,
      ``sigma`` (S,) ones
    - hurdle: ``p``, ``sev`` (n, S, K), ``rpv_cate`` (n, S, K−1), ``mu`` (n, S) control
      revenue per visitor, ``sigma`` (S,) log-severity sd
    """

    family: str
    """'continuous', 'binary' or 'hurdle'."""
    pooling: str | None
    """'joint' or 'independent' for hurdle fits, else None."""
    num_arms: int
    n: int
    config: GPUBCFConfig
    seed: int
    draws: dict[str, np.ndarray]
    forests: tuple[ForestDraws, ...]
    """One `ForestDraws`, or (conversion, severity) for an independent hurdle."""
    diagnostics: dict[str, Any]
    """R-hat and ESS of σ and of the visitor-mean effect per arm (split chains)."""
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def cate_key(self) -> str:
        """Key of the per-visitor effect draws: 'rpv_cate' for hurdle fits, else 'cate'."""
        return "rpv_cate" if self.family == "hurdle" else "cate"

    def predict(
        self, X: np.ndarray, propensity: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        """Draws at new visitors with the same keys and layout as `draws`.

        `propensity` (m, K) enters μ only; when None the training arm shares are used.
        """
        if self.family != "hurdle" or self.pooling == "joint":
            return self.forests[0].predict(X, propensity)
        conv, sev = self.forests
        mu_c, tau_c = conv.raw_predict(X, propensity)
        mu_s, tau_s = sev.raw_predict(X, propensity)
        return outcome_draws(
            sev.scale.__class__("hurdle", sev.scale.mean, sev.scale.sd),
            np.concatenate([mu_c, mu_s], axis=1),
            np.concatenate([tau_c, tau_s], axis=2),
            sev.sigma,
        )


def _run_engine(
    X: np.ndarray,
    z: np.ndarray,
    y_model: np.ndarray,
    observed_extra: np.ndarray | None,
    kind: str,
    propensity: np.ndarray | None,
    seed: int,
    config: GPUBCFConfig,
    progress: bool,
    scale: Scale,
    warm_forests: ForestDraws | None = None,
) -> tuple[VisitorDraws, ForestDraws, dict[str, float]]:
    """Fit one BCF; return its per-visitor model-unit draws (μ and τ_j at every visitor,
    gathered visitors first), the forests and timings.

    `warm_forests` (a previous fit's trees) starts every forest from their last kept draw.
    """
    from pytyche.bcf._runtime import check_jax_precision

    check_jax_precision()  # before anything builds a JAX array
    from pytyche.bcf._loop import run_chains
    from pytyche.bcf._state import ModelSpec, build_engine, forest_backend

    t0 = time.perf_counter()
    K = int(z.max()) + 1
    prep = prepare(X, z, propensity, config, K)
    k = y_model.shape[0]
    Y = np.zeros((k, prep.n_pad), np.float32)
    Y[:, : prep.n] = y_model
    obs = np.repeat(prep.valid[None], k, axis=0)
    if observed_extra is not None:
        obs[:, : prep.n] &= observed_extra
    spec = ModelSpec(kind, Y, obs)
    warm = None
    if warm_forests is not None:
        warm = warm_start_from(
            warm_forests, prep.binning.cutpoints, prep.binning.max_split, num_features=prep.p,
            num_trees_mu=config.num_trees_mu, num_trees_tau=config.num_trees_tau,
            num_arms=K, half_tree_size=2 ** (config.max_depth - 1))
    state, data = build_engine(prep, spec, config, warm)
    backend = forest_backend(kind, config)
    mu_offset = np.asarray(backend.offset(state.mu), np.float32).reshape(k)
    t_init = time.perf_counter() - t0
    rec, visitors, timings = run_chains(
        state,
        data,
        k=k,
        sigma_mode=spec.sigma_mode,
        seed=seed,
        num_chains=config.num_chains,
        num_burnin=config.num_burnin,
        num_samples=config.num_samples,
        thin=config.thin,
        block_size=config.block_size,
        progress=progress,
        desc=f"BCF {kind}",
        backend=backend,
        tau_intercept=config.tau_intercept,
        n_rows=prep.n,
    )
    forests = ForestDraws(
        mu_var=rec["mu_var"],
        mu_split=rec["mu_split"],
        mu_leaf=rec["mu_leaf"],
        tau_var=rec["tau_var"],
        tau_split=rec["tau_split"],
        tau_leaf=rec["tau_leaf"],
        sigma=rec["sigma"],
        cutpoints=prep.binning.cutpoints,
        max_split=prep.binning.max_split,
        arm_shares=prep.arm_shares,
        mu_offset=mu_offset,
        scale=scale,
        meta={"family": kind, "num_arms": K, "num_features": prep.p, "seed": seed},
        tau_offset=rec["tau0"] if config.tau_intercept else None,
    )
    timings = {"init_s": t_init, **timings}
    return visitors, forests, timings


def _finish(
    family: str,
    pooling: str | None,
    K: int,
    n: int,
    config: GPUBCFConfig,
    seed: int,
    draws: dict[str, np.ndarray],
    forests: tuple[ForestDraws, ...],
    timings: dict[str, float],
) -> BCFFit:
    key = "rpv_cate" if family == "hurdle" else "cate"
    diag = summarize_chains(draws["sigma"], draws[key].mean(axis=0), config.num_chains)
    return BCFFit(
        family=family,
        pooling=pooling,
        num_arms=K,
        n=n,
        config=config,
        seed=seed,
        draws=draws,
        forests=forests,
        diagnostics=diag,
        timings=timings,
    )


def _check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        msg = f"seed must be a non-negative integer, got {seed!r}"
        raise SchemaViolation(msg)
    return int(seed)


class HurdleTargets(NamedTuple):
    """The two channels of a hurdle outcome, as the engine fits them."""

    y: np.ndarray
    """(n,) float32 outcome as validated."""
    converted: np.ndarray
    """(n,) bool, y > 0."""
    log_severity: np.ndarray
    """(n,) standardized log(y) of converters, 0 for non-converters."""
    scale: Scale
    """Mean and sd of the converters' log(y), to map draws back to revenue."""


def hurdle_targets(y: np.ndarray) -> HurdleTargets:
    """Split a validated hurdle outcome into conversion and standardized log-severity."""
    converted = y > 0
    log_sev = np.log(y[converted])
    _, mean, sd = standardize(log_sev)
    full = np.zeros_like(y)
    full[converted] = (log_sev - mean) / sd
    return HurdleTargets(y, converted, full, Scale("hurdle", mean, sd))


def _fit_single(
    family: str,
    X: np.ndarray,
    z: np.ndarray,
    y: np.ndarray,
    propensity: np.ndarray | None,
    seed: object,
    config: GPUBCFConfig | None,
    progress: bool,
    warm_start: tuple[ForestDraws, ...] | None = None,
    config_fields: dict[str, Any] | None = None,
) -> BCFFit:
    """One-channel fit (continuous on standardized y, or probit on 0/1 y)."""
    config = GPUBCFConfig.from_options(config, config_fields, caller=f"fit_{family}_arrays")
    seed = _check_seed(seed)
    t0 = time.perf_counter()
    Xf, zi, yf, pr = validate_inputs(X, z, y, propensity, config, family=family)
    if family == "continuous":
        y_model, mean, sd = standardize(yf)
        scale = Scale("continuous", mean, sd)
    else:
        y_model, scale = yf, Scale("binary")
    visitors, forests, timings = _run_engine(
        Xf, zi, y_model[None], None, family, pr, seed, config, progress, scale,
        None if warm_start is None else warm_start[0],
    )
    t1 = time.perf_counter()
    draws = outcome_draws_from(scale, visitors, forests.sigma)
    timings["draws_s"] = time.perf_counter() - t1
    timings["total_s"] = time.perf_counter() - t0
    K = int(zi.max()) + 1
    return _finish(family, None, K, len(yf), config, seed, draws, (forests,), timings)


def fit_continuous_arrays(
    X: np.ndarray,
    z: np.ndarray,
    y: np.ndarray,
    *,
    propensity: np.ndarray | None = None,
    seed: int = 0,
    config: GPUBCFConfig | None = None,
    progress: bool = True,
    warm_start: tuple[ForestDraws, ...] | None = None,
    **config_fields: Any,
) -> BCFFit:
    """Fit a Gaussian multi-arm BCF.

    Parameters
    ----------
    X : (n, p) numeric features, already encoded.
    z : (n,) integer arm index 0..K−1, 0 = control, K in 2..10.
    y : (n,) outcome.
    propensity : (n, K) probability of each arm for each visitor, or None to use the
        empirical arm shares (right for a completely randomized experiment).
    seed : non-negative integer; the same seed gives identical draws on the same device.
    config : sampler settings, default `GPUBCFConfig()`.
    progress : show a tqdm bar over burn-in and sampling.
    warm_start : a previous fit's `forests` (same config, arms and features): every forest
        starts from the tree structures of its last kept draw instead of single leaves.
    **config_fields : any `GPUBCFConfig` field (``num_trees_tau=20``, ...), applied on top of
        `config`; an unknown name raises ``TypeError`` listing the valid ones.

    Returns
    -------
    BCFFit
        ``draws['cate']`` (n, S, K−1) per-visitor effect of each arm against control.

    Raises
    ------
    SchemaViolation
        Bad shapes or dtypes, NaN features, fewer than ``max(10, 2·min_samples_leaf)``
        visitors in an arm; raised before any compilation.
    """
    return _fit_single("continuous", X, z, y, propensity, seed, config, progress, warm_start,
                       config_fields)


def fit_binary_arrays(
    X: np.ndarray,
    z: np.ndarray,
    y: np.ndarray,
    *,
    propensity: np.ndarray | None = None,
    seed: int = 0,
    config: GPUBCFConfig | None = None,
    progress: bool = True,
    warm_start: tuple[ForestDraws, ...] | None = None,
    **config_fields: Any,
) -> BCFFit:
    """Fit a probit multi-arm BCF (latent-variable augmentation) to a 0/1 outcome.

    Parameters are those of `fit_continuous_arrays`; `y` must be 0/1. The effects in
    ``draws['cate']`` are on the probability scale, Φ(μ + τ_j) − Φ(μ), per visitor and draw.
    """
    return _fit_single("binary", X, z, y, propensity, seed, config, progress, warm_start,
                       config_fields)


def fit_hurdle_arrays(
    X: np.ndarray,
    z: np.ndarray,
    y: np.ndarray,
    *,
    pooling: Pooling = "joint",
    propensity: np.ndarray | None = None,
    seed: int = 0,
    config: GPUBCFConfig | None = None,
    progress: bool = True,
    warm_start: tuple[ForestDraws, ...] | None = None,
    **config_fields: Any,
) -> BCFFit:
    """Fit a hurdle BCF to a zero-inflated non-negative outcome (revenue per visitor).

    Conversion 1[y > 0] follows a probit BCF over all visitors; log(y) of converters follows
    a Gaussian BCF. With ``pooling='joint'`` both channels share every tree's topology (one
    bartz forest with 2-component leaves, severity masked for non-converters); with
    ``pooling='independent'`` they are two separate fits composed draw by draw.

    Returns
    -------
    BCFFit
        ``draws['p']``, ``draws['sev']`` (n, S, K) conversion probability and log-normal mean
        severity exp(m + σ²/2) per arm; ``draws['rpv_cate']`` (n, S, K−1) revenue-per-visitor
        effect p_j·sev_j − p_0·sev_0.

    Raises
    ------
    SchemaViolation
        As `fit_continuous_arrays`, plus negative y or an arm with fewer than 2 converters.
    ValueError
        Unknown `pooling`.
    """
    if pooling not in ("joint", "independent"):
        msg = f"pooling={pooling!r}: expected 'joint' or 'independent'"
        raise ValueError(msg)
    config = GPUBCFConfig.from_options(config, config_fields, caller="fit_hurdle_arrays")
    seed = _check_seed(seed)
    t0 = time.perf_counter()
    Xf, zi, yf, pr = validate_inputs(X, z, y, propensity, config, family="hurdle")
    targets = hurdle_targets(yf)
    if pooling == "joint":
        from pytyche.bcf.hurdle.model import _fit_joint_hurdle_bcf as path
    else:
        from pytyche.bcf.hurdle.compose import _fit_independent_hurdle_bcf as path
    draws, forest_set, timings = path(Xf, zi, targets, propensity=pr, seed=seed, config=config,
                                      progress=progress, warm_start=warm_start)
    timings["total_s"] = time.perf_counter() - t0
    K = int(zi.max()) + 1
    return _finish("hurdle", pooling, K, len(yf), config, seed, draws, forest_set, timings)
