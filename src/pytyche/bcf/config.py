"""Configuration of the BCF engine and the homes of its result types (no JAX import here).

`GPUBCFConfig` keeps the name the specification uses; the engine runs on CPU as well. The
result types (`HurdleBCFResult`, `ContinuousBCFResult`, `BinaryBCFResult`) are defined in
:mod:`pytyche.bcf.results` and can be imported from here too, as the specification does
(``from pytyche.bcf.config import HurdleBCFResult``); they load on first access.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytyche.bcf.results import BinaryBCFResult, ContinuousBCFResult, HurdleBCFResult

__all__ = [
    "HURDLE_KERNELS",
    "BinaryBCFResult",
    "ContinuousBCFResult",
    "GPUBCFConfig",
    "HurdleBCFResult",
    "compute_num_trees_tau",
]

#: Result types re-exported from their real home, loaded on first access.
_RESULT_TYPES = ("BinaryBCFResult", "ContinuousBCFResult", "HurdleBCFResult")


def __getattr__(name: str) -> Any:
    if name in _RESULT_TYPES:
        return getattr(importlib.import_module("pytyche.bcf.results"), name)
    msg = f"module 'pytyche.bcf.config' has no attribute {name!r}"
    raise AttributeError(msg)

HURDLE_KERNELS = ("pytyche", "bartz")
"""Allowed values of `GPUBCFConfig.hurdle_kernel`."""


def _check_int(name: str, value: object, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        msg = f"GPUBCFConfig.{name}={value!r}: expected an integer in [{lo}, {hi}]"
        raise ValueError(msg)


def _check_float(
    name: str, value: object, lo: float, hi: float, *, lo_open: bool = False
) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = (lo < value if lo_open else lo <= value) and value <= hi
    if not ok:
        bracket = "(" if lo_open else "["
        msg = f"GPUBCFConfig.{name}={value!r}: expected a number in {bracket}{lo}, {hi}]"
        raise ValueError(msg)


@dataclass(frozen=True, slots=True, kw_only=True)
class GPUBCFConfig:
    """Settings of a Bayesian Causal Forest fit.

    All prior scales are stated in standardized outcome units (continuous outcome and
    log-severity are centred and scaled to unit variance before fitting) or on the probit
    latent scale (binary outcome and hurdle conversion).

    Examples
    --------
    >>> cfg = GPUBCFConfig(num_burnin=50, num_samples=50, num_trees_mu=20, num_trees_tau=10)
    >>> cfg.total_iterations
    100
    """

    num_burnin: int = 200
    """MCMC iterations discarded before keeping draws, 0 to 100,000."""

    num_samples: int = 200
    """Kept posterior draws per chain (after thinning), 1 to 100,000."""

    num_trees_mu: int = 200
    """Trees in the prognostic forest μ(x, π), 1 to 2,000."""

    num_trees_tau: int = 50
    """Trees in each treatment forest τ_j(x) (one forest per non-control arm), 1 to 2,000."""

    max_depth: int = 6
    """Maximum depth of every tree (a heap of 2**max_depth nodes), 2 to 8."""

    alpha_mu: float = 0.95
    """Base of the μ tree-shape prior P(split at depth d) = α (1 + d)^-β, in (0, 1)."""

    beta_mu: float = 2.0
    """Exponent of the μ tree-shape prior, in [0, 10]."""

    alpha_tau: float = 0.75
    """Base of the τ tree-shape prior, in (0, 1)."""

    beta_tau: float = 3.0
    """Exponent of the τ tree-shape prior, in [0, 10]."""

    num_cutpoints: int = 100
    """Maximum number of candidate split points per feature (quantiles), 1 to 255."""

    num_chains: int = 1
    """Independent MCMC chains, run one after the other on one device, 1 to 64."""

    thin: int = 1
    """Keep one draw every `thin` iterations of the sampling phase, 1 to 1,000."""

    min_samples_leaf: int = 5
    """Fewest visitors a leaf may hold, 1 to 10,000 (bartz forests also count padding rows;
    the joint hurdle's own kernel counts real visitors only)."""

    var_mu: float = 1.0
    """Prior variance of μ(x) summed over trees (standardized or probit units), in (0, 100]."""

    var_tau: float = 0.5
    """Prior variance of each τ_j(x) for the continuous outcome, the binary outcome and the
    hurdle's conversion channel (standardized or probit units), in (0, 100]."""

    var_tau_sev: float = 0.5
    """Prior variance of each τ_j(x) for the hurdle's log-severity channel (standardized
    log-severity units), in (0, 100]."""

    tau_intercept: bool = False
    """Give each treatment arm's effect an intercept: τ_j(x) = τ₀_j + Σ trees, with one
    scalar τ₀_j per arm and outcome component (the hurdle has one for conversion and one for
    log-severity), a N(0, `var_tau_intercept`) prior and a conjugate Gibbs draw every
    iteration before the arm's trees are updated. This is the intercept of Hahn, Murray &
    Carvalho (2020, "Bayesian regression tree models for causal inference", Bayesian
    Analysis 15(3)) as ``bartz.bcf`` samples it (``sample_intercept=True``, its
    ``bcf_step_tau_0``): the trees then only model how the effect varies around a common
    level, which the shallow, shrunk τ trees otherwise have to build from many small leaves.
    Default off; see benchmarks/README.md ("τ intercept") for the measurements behind it."""

    var_tau_intercept: float = 1.0
    """Prior variance of each τ intercept τ₀_j (standardized or probit units), in
    (0, 100]; bartz.bcf's default is the same (1 / var of the standardized outcome, or 1 on
    the probit scale). Read only with `tau_intercept`."""

    sigma_df: float = 3.0
    """Degrees of freedom ν of the inverse-gamma prior on the error variance, in (0, 1000]."""

    sigma_quantile: float = 0.9
    """Prior probability that σ is below the outcome's standard deviation (Chipman et al.'s
    calibration of the inverse-gamma scale), in (0, 1)."""

    block_size: int = 25
    """MCMC iterations per compiled block between progress-bar updates, 1 to 10,000.
    Draws do not depend on it (each iteration's key comes from its global index), but each
    distinct value compiles its own block function. Large fits use fewer, so that a block's
    per-visitor records stay within 256 MiB (about 450,000 visitors and up for a K = 3
    hurdle; `fit.timings['block_size']` says what ran)."""

    hurdle_kernel: str = "pytyche"
    """Forest kernel of the joint hurdle: 'pytyche' (default; pytyche's own 2-component
    kernel, whose cost per tree grows like visitors + converters) or 'bartz' (bartz's masked
    multivariate forest, about k²·n per tree, kept for comparison). Both sample the same
    posterior; other models always run on bartz."""

    @property
    def total_iterations(self) -> int:
        """Iterations per chain: burn-in plus `num_samples * thin`."""
        return self.num_burnin + self.num_samples * self.thin

    def __post_init__(self) -> None:
        _check_int("num_burnin", self.num_burnin, 0, 100_000)
        _check_int("num_samples", self.num_samples, 1, 100_000)
        _check_int("num_trees_mu", self.num_trees_mu, 1, 2_000)
        _check_int("num_trees_tau", self.num_trees_tau, 1, 2_000)
        _check_int("max_depth", self.max_depth, 2, 8)
        _check_float("alpha_mu", self.alpha_mu, 0.0, 0.999999, lo_open=True)
        _check_float("beta_mu", self.beta_mu, 0.0, 10.0)
        _check_float("alpha_tau", self.alpha_tau, 0.0, 0.999999, lo_open=True)
        _check_float("beta_tau", self.beta_tau, 0.0, 10.0)
        _check_int("num_cutpoints", self.num_cutpoints, 1, 255)
        _check_int("num_chains", self.num_chains, 1, 64)
        _check_int("thin", self.thin, 1, 1_000)
        _check_int("min_samples_leaf", self.min_samples_leaf, 1, 10_000)
        _check_float("var_mu", self.var_mu, 0.0, 100.0, lo_open=True)
        _check_float("var_tau", self.var_tau, 0.0, 100.0, lo_open=True)
        _check_float("var_tau_sev", self.var_tau_sev, 0.0, 100.0, lo_open=True)
        if not isinstance(self.tau_intercept, bool):
            msg = (f"GPUBCFConfig.tau_intercept={self.tau_intercept!r}: expected True or "
                   "False")
            raise ValueError(msg)
        _check_float("var_tau_intercept", self.var_tau_intercept, 0.0, 100.0, lo_open=True)
        _check_float("sigma_df", self.sigma_df, 0.0, 1000.0, lo_open=True)
        _check_float("sigma_quantile", self.sigma_quantile, 0.0, 0.999999, lo_open=True)
        _check_int("block_size", self.block_size, 1, 10_000)
        if self.hurdle_kernel not in HURDLE_KERNELS:
            msg = (f"GPUBCFConfig.hurdle_kernel={self.hurdle_kernel!r}: expected one of "
                   f"{', '.join(map(repr, HURDLE_KERNELS))}")
            raise ValueError(msg)

    def to_dict(self) -> dict[str, int | float | str | bool]:
        """Return the fields as a plain dict (JSON-ready)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Names of the settings, in declaration order."""
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_options(
        cls,
        config: GPUBCFConfig | None = None,
        options: Mapping[str, Any] | None = None,
        *,
        caller: str = "fit",
    ) -> GPUBCFConfig:
        """`config` (default: the defaults) with the fields named in `options` replaced.

        This is what lets every fit take config fields as keyword arguments, e.g.
        ``fit_hurdle_bcf(observed, num_trees_tau=20)``.

        Parameters
        ----------
        config : GPUBCFConfig, optional
            Starting point; ``GPUBCFConfig()`` when None.
        options : mapping of str to value, optional
            Field values to override.
        caller : str, default="fit"
            Function name used in the error message.

        Raises
        ------
        TypeError
            `config` is not a `GPUBCFConfig`, or `options` names something that is not a
            field (the message lists the valid names).
        ValueError
            A value is out of range (from the field checks).
        """
        if config is not None and not isinstance(config, GPUBCFConfig):
            msg = f"{caller}: config must be a GPUBCFConfig, got {type(config).__name__}"
            raise TypeError(msg)
        options = dict(options or {})
        if not options:
            return config if config is not None else cls()
        valid = cls.field_names()
        unknown = sorted(set(options) - set(valid))
        if unknown:
            msg = (f"{caller}() got unexpected keyword argument(s) {unknown}; the GPUBCFConfig "
                   f"fields it accepts are: {', '.join(valid)}")
            raise TypeError(msg)
        return dataclasses.replace(config if config is not None else cls(), **options)


def compute_num_trees_tau(
    target_coverage: float = 0.9,
    *,
    nominal_coverage: float = 0.9,
    base_num_trees: int = 50,
    min_trees: int = 10,
    max_trees: int = 400,
) -> int:
    """Size of each τ forest aimed at a target frequentist coverage of 90% intervals.

    Parameters
    ----------
    target_coverage : float, default=0.9
        Share of visitors whose central interval (at `nominal_coverage`) should contain the
        true effect, in (0, 1).
    nominal_coverage : float, default=0.9
        Nominal level of the intervals being read, in (0, 1).
    base_num_trees : int, default=50
        Trees that give nominal coverage when there is no extra under-dispersion.
    min_trees, max_trees : int
        Bounds of the returned size.

    Returns
    -------
    int
        Number of trees per τ forest.

    Notes
    -----
    This is a heuristic, not a theorem. With the leaf prior variance ``var_tau / m`` split
    across ``m`` trees, the prior on τ(x) is fixed, but the posterior of a sum-of-trees
    model with more trees is smoother and spreads its uncertainty over more leaves, so its
    posterior standard deviation grows roughly like ``sqrt(m)`` while the fit is dominated
    by prior regularisation (the regime of small treatment effects). An interval whose
    half-width is scaled by a factor ``c`` covers a normal error at level
    ``2 Φ(c z) − 1`` with ``z = Φ⁻¹((1 + nominal)/2)``. Solving for the ``c`` that turns
    nominal coverage into the target gives ``c = Φ⁻¹((1 + target)/2) / z`` and hence
    ``m = base_num_trees · c²``. Peers' BCF fits cover about half of the visitors at the
    nominal 90% level (see the project notes), so the formula should be read as a starting
    point that the calibration module corrects empirically.

    Examples
    --------
    >>> compute_num_trees_tau(0.9)
    50
    >>> compute_num_trees_tau(0.95) > 50
    True
    """
    for name, v in (("target_coverage", target_coverage), ("nominal_coverage", nominal_coverage)):
        if not 0.0 < v < 1.0:
            msg = f"compute_num_trees_tau: {name}={v!r} not in (0, 1)"
            raise ValueError(msg)
    if not 1 <= min_trees <= max_trees:
        msg = (
            "compute_num_trees_tau: need 1 <= min_trees <= max_trees, "
            f"got {min_trees}, {max_trees}"
        )
        raise ValueError(msg)
    nd = NormalDist()
    c = nd.inv_cdf((1.0 + target_coverage) / 2.0) / nd.inv_cdf((1.0 + nominal_coverage) / 2.0)
    m = round(base_num_trees * c * c)
    return int(min(max(m, min_trees), max_trees))
