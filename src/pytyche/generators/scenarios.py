"""Scenario templates: named data-generating processes with known heterogeneity.

A template is a function ``(metric, effect_scale, K, *, ...) -> Scenario``. The scenario holds a
feature sampler, a :class:`~pytyche.generators.core.MetricMode` and the arm names; it does not
draw anything. :func:`simulate` turns a template into a
:class:`~pytyche.contracts.CalibrationBundle`, and a sequential experiment can drive the same
scenario through :func:`~pytyche.generators.core.assign_and_observe`'s external assignment.

How ``effect_scale`` acts
-------------------------
Each arm k >= 1 gets a lift surface ``tau_k(x)`` in relative units (0.1 is about a 10% lift):

* ``conversion_rate``: ``p_k = sigmoid(logit p_0(x) + tau_k(x))`` (about ``p_0 (1 + tau)`` for
  small rates);
* ``revenue_per_visitor``: the lift is shared between the channels,
  ``p_k = sigmoid(logit p_0 + w_c tau_k)`` and ``m_k = m_0 exp(w_b tau_k)`` with
  ``w_c + w_b = 1`` by default (0.6 / 0.4), so revenue per visitor moves by about ``tau``;
* ``continuous``: ``m_k = m_0(x) + outcome_mean * tau_k(x)`` with a common sd.

Wherever ``tau_k`` is exactly 0 the arm's surfaces equal control's bit for bit, so the true CATE
there is exactly 0. The sign of the CATE is the sign of ``tau_k`` for every metric except in
``clustered_realistic``, whose promotion arm moves the two revenue channels in opposite
directions. ``constant`` instead adds its lift on the metric's own scale so the CATE is the same
for every visitor. Arms are told apart by their amplitude: arm k's amplitude grows from
``0.5 * effect_scale`` (arm 1) to ``effect_scale`` (arm K-1); at K = 2 it is ``effect_scale``.
A negative ``effect_scale`` reverses every effect.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pytyche.contracts import CalibrationBundle, MetricFamily, VisitorSchema, metric_family_of
from pytyche.generators.core import (
    AssignmentConfig,
    MetricMode,
    V2GeneratorConfig,
    default_treatment_names,
    generate_v2_core,
)
from pytyche.generators.features import (
    CLUSTER_ID_COLUMN,
    CopulaConfig,
    FeatureSamplerConfig,
    FeatureSpec,
    MixtureConfig,
    visitor_schema,
)
from pytyche.generators.surfaces import (
    SurfaceConfig,
    add_surfaces,
    multiply_surfaces,
    pointwise,
    sigmoid_surface,
    threshold_surface,
)

__all__ = [
    "ARCHETYPES",
    "DEFAULT_EFFECT_SCALE",
    "TEMPLATES",
    "Scenario",
    "clustered",
    "clustered_realistic",
    "constant",
    "interaction_only",
    "monotone_gradient",
    "nonlinear",
    "null",
    "reversal",
    "simulate",
    "sparse_benefit",
]

#: Effect scale a template uses when given ``effect_scale=None``.
DEFAULT_EFFECT_SCALE = 0.1
#: Share of visitors in each arm's benefiting segment of ``sparse_benefit``.
SPARSE_SEGMENT_SHARE = 0.15
_SPARSE_CUTOFF = 1.0364333894937898  # standard normal quantile at 1 - 0.15
_REVENUE_CHANNELS = (0.6, 0.4)  # default split of a revenue lift: conversion, basket


@dataclass(frozen=True, slots=True)
class Scenario:
    """A template instantiated for one metric, effect scale and number of arms.

    Attributes
    ----------
    name : str
        Template name (a key of :data:`TEMPLATES`).
    metric : str
        Canonical metric id.
    effect_scale : float
        The effect amplitude actually used (the template default resolved).
    feature_sampler : CopulaConfig or MixtureConfig
        How visitors' features are drawn.
    metric_mode : MetricMode
        Potential-outcome surfaces of every arm.
    treatment_names : tuple of str
        Arm names, control first.
    """

    name: str
    metric: str
    effect_scale: float
    feature_sampler: FeatureSamplerConfig
    metric_mode: MetricMode
    treatment_names: tuple[str, ...]

    @property
    def n_treatments(self) -> int:
        return self.metric_mode.n_treatments

    @property
    def schema(self) -> VisitorSchema:
        """Feature schema of the observed data this scenario produces."""
        return visitor_schema(self.feature_sampler)

    def to_config(
        self,
        n_visitors: int,
        *,
        seed: int = 0,
        treatment_probabilities: Sequence[float] | None = None,
        experiment_id: str | None = None,
    ) -> V2GeneratorConfig:
        """A :class:`V2GeneratorConfig` for this scenario (uniform assignment by default)."""
        k = self.n_treatments
        if treatment_probabilities is None:
            treatment_probabilities = (1.0 / k,) * k
        return V2GeneratorConfig(
            n_visitors,
            self.feature_sampler,
            self.metric_mode,
            AssignmentConfig(treatment_probabilities=tuple(treatment_probabilities)),
            seed,
            experiment_id or f"sim-{self.name}",
            treatment_names=self.treatment_names,
        )


# --------------------------------------------------------------------------------------------
# Small surface helpers
# --------------------------------------------------------------------------------------------


def _column(name: str) -> SurfaceConfig:
    def fn(X: pd.DataFrame) -> np.ndarray:
        return X[name].to_numpy(dtype=np.float64)

    return SurfaceConfig(fn)


def _constant(value: float) -> SurfaceConfig:
    def fn(X: pd.DataFrame) -> np.ndarray:
        return np.full(len(X), float(value))

    return SurfaceConfig(fn)


def _scaled(s: SurfaceConfig, factor: float) -> SurfaceConfig:
    return multiply_surfaces(s, _constant(factor))


def _codes(X: pd.DataFrame, name: str) -> np.ndarray:
    return X[name].cat.codes.to_numpy()


# --------------------------------------------------------------------------------------------
# Shared parameters and metric-mode builders
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Params:
    metric: str
    effect_scale: float
    K: int
    n_nuisance: int
    baseline_rate: float
    basket_mean: float
    basket_sigma: float
    outcome_mean: float
    outcome_sd: float

    def __post_init__(self) -> None:
        metric_family_of(self.metric)
        if not isinstance(self.K, (int, np.integer)) or isinstance(self.K, bool) or self.K < 2:
            msg = f"K={self.K!r} must be an integer >= 2 (control plus treatments)"
            raise ValueError(msg)
        if not math.isfinite(self.effect_scale):
            msg = f"effect_scale={self.effect_scale!r} must be finite"
            raise ValueError(msg)
        if not isinstance(self.n_nuisance, (int, np.integer)) or self.n_nuisance < 0:
            msg = f"n_nuisance={self.n_nuisance!r} must be a non-negative integer"
            raise ValueError(msg)
        if not 0.0 < self.baseline_rate < 1.0:
            msg = f"baseline_rate={self.baseline_rate!r} must be a conversion rate in (0, 1)"
            raise ValueError(msg)
        for name in ("basket_mean", "outcome_mean"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                msg = f"{name}={value!r} must be positive (effects are relative to it)"
                raise ValueError(msg)
        for name in ("basket_sigma", "outcome_sd"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                msg = f"{name}={value!r} must be >= 0"
                raise ValueError(msg)

    @property
    def family(self) -> MetricFamily:
        return metric_family_of(self.metric)

    def amplitudes(self) -> np.ndarray:
        """Lift amplitude of arms 1..K-1: from half the effect scale up to all of it."""
        if self.K == 2:
            return np.array([self.effect_scale])
        return self.effect_scale * np.linspace(0.5, 1.0, self.K - 1)


def _params(
    metric: str,
    effect_scale: float | None,
    K: int,
    *,
    n_nuisance: int,
    baseline_rate: float,
    basket_mean: float,
    basket_sigma: float,
    outcome_mean: float,
    outcome_sd: float,
) -> _Params:
    return _Params(
        metric=metric,
        effect_scale=DEFAULT_EFFECT_SCALE if effect_scale is None else float(effect_scale),
        K=K,
        n_nuisance=n_nuisance,
        baseline_rate=float(baseline_rate),
        basket_mean=float(basket_mean),
        basket_sigma=float(basket_sigma),
        outcome_mean=float(outcome_mean),
        outcome_sd=float(outcome_sd),
    )


@dataclass(frozen=True, slots=True)
class _Baseline:
    """Control-arm surfaces of a scenario (the prognostic part)."""

    logit_p: SurfaceConfig
    basket: SurfaceConfig
    mean: SurfaceConfig


def _metric_mode(
    metric: str,
    p: Sequence[SurfaceConfig] | None,
    m: Sequence[SurfaceConfig] | None,
    sigma: Sequence[SurfaceConfig] | None,
) -> MetricMode:
    arms = p if p is not None else m
    assert arms is not None
    if len(arms) == 2:
        paired: dict[str, Any] = {}
        for channel, surfaces in (("p", p), ("m", m), ("sigma", sigma)):
            if surfaces is not None:
                paired[f"{channel}0_surface"], paired[f"{channel}1_surface"] = surfaces
        return MetricMode(metric, **paired)
    return MetricMode(metric, p_surfaces=p, m_surfaces=m, sigma_surfaces=sigma)


def _relative_mode(
    params: _Params,
    base: _Baseline,
    lifts: Sequence[SurfaceConfig],
    channels: Sequence[tuple[float, float]] | None = None,
) -> MetricMode:
    """Surfaces for lifts ``tau_k`` given in relative units (see the module docstring)."""
    family = params.family
    k = len(lifts) + 1
    sd = [_constant(params.outcome_sd if family == MetricFamily.CONTINUOUS
                    else params.basket_sigma)] * k
    if family == MetricFamily.CONTINUOUS:
        m = [base.mean, *(add_surfaces(base.mean, _scaled(t, params.outcome_mean))
                          for t in lifts)]
        return _metric_mode(params.metric, None, m, sd)
    if family == MetricFamily.BINARY:
        p = [sigmoid_surface(base.logit_p),
             *(sigmoid_surface(add_surfaces(base.logit_p, t)) for t in lifts)]
        return _metric_mode(params.metric, p, None, None)
    channels = channels or [_REVENUE_CHANNELS] * len(lifts)
    p = [sigmoid_surface(base.logit_p)]
    m = [base.basket]
    for t, (w_conv, w_basket) in zip(lifts, channels, strict=True):
        p.append(sigmoid_surface(add_surfaces(base.logit_p, _scaled(t, w_conv))))
        m.append(multiply_surfaces(base.basket, pointwise(np.exp, _scaled(t, w_basket))))
    return _metric_mode(params.metric, p, m, sd)


def _lifts(params: _Params, shape: Callable[[int], SurfaceConfig]) -> list[SurfaceConfig]:
    """Arm k's lift: its amplitude times ``shape(k)``, for k = 1..K-1."""
    return [_scaled(shape(k), a) for k, a in enumerate(params.amplitudes(), start=1)]


# --------------------------------------------------------------------------------------------
# Synthetic feature space (x1..x3, b1, c1, nuisance)
# --------------------------------------------------------------------------------------------

_C1_LEVELS = ("a", "b", "c")


def _synthetic_specs(n_nuisance: int) -> tuple[FeatureSpec, ...]:
    return (
        FeatureSpec("x1", "continuous"),
        FeatureSpec("x2", "continuous"),
        FeatureSpec("x3", "continuous"),
        FeatureSpec("b1", "binary", p=0.4),
        FeatureSpec("c1", "categorical", levels=_C1_LEVELS, weights=(0.5, 0.3, 0.2)),
        *(FeatureSpec(f"nuisance_{j}", "continuous") for j in range(1, n_nuisance + 1)),
    )


def _synthetic_copula(n_nuisance: int) -> CopulaConfig:
    specs = _synthetic_specs(n_nuisance)
    corr = np.eye(len(specs))
    for i, j, rho in ((0, 1, 0.3), (1, 2, 0.2), (0, 3, 0.2)):  # x1-x2, x2-x3, x1-b1
        corr[i, j] = corr[j, i] = rho
    return CopulaConfig(specs, corr)


def _synthetic_baseline(params: _Params) -> _Baseline:
    logit0 = math.log(params.baseline_rate / (1.0 - params.baseline_rate))

    def logit_p(X: pd.DataFrame) -> np.ndarray:
        x1, x2 = X["x1"].to_numpy(np.float64), X["x2"].to_numpy(np.float64)
        c_bonus = np.array([0.0, 0.1, 0.25])[_codes(X, "c1")]
        return logit0 + 0.35 * x1 - 0.25 * x2 + 0.3 * X["b1"].to_numpy(np.float64) + c_bonus

    def basket(X: pd.DataFrame) -> np.ndarray:
        x1, x3 = X["x1"].to_numpy(np.float64), X["x3"].to_numpy(np.float64)
        return params.basket_mean * np.exp(0.2 * x3 + 0.1 * x1 - 0.025)

    def mean(X: pd.DataFrame) -> np.ndarray:
        x1, x2 = X["x1"].to_numpy(np.float64), X["x2"].to_numpy(np.float64)
        b1 = X["b1"].to_numpy(np.float64)
        return params.outcome_mean + params.outcome_sd * (0.5 * x1 - 0.3 * x2 + 0.3 * b1)

    return _Baseline(SurfaceConfig(logit_p), SurfaceConfig(basket), SurfaceConfig(mean))


def _scenario(name: str, params: _Params, sampler: FeatureSamplerConfig, mode: MetricMode,
              names: Sequence[str] | None = None) -> Scenario:
    return Scenario(
        name=name,
        metric=params.metric,
        effect_scale=params.effect_scale,
        feature_sampler=sampler,
        metric_mode=mode,
        treatment_names=tuple(names) if names else default_treatment_names(params.K),
    )


def _synthetic(name: str, params: _Params, shape: Callable[[int], SurfaceConfig]) -> Scenario:
    mode = _relative_mode(params, _synthetic_baseline(params), _lifts(params, shape))
    return _scenario(name, params, _synthetic_copula(params.n_nuisance), mode)


# --------------------------------------------------------------------------------------------
# Templates
# --------------------------------------------------------------------------------------------


def null(
    metric: str,
    effect_scale: float | None = None,
    K: int = 3,
    *,
    n_nuisance: int = 2,
    baseline_rate: float = 0.05,
    basket_mean: float = 60.0,
    basket_sigma: float = 0.8,
    outcome_mean: float = 1.0,
    outcome_sd: float = 1.0,
) -> Scenario:
    """No effect anywhere: every arm's surfaces equal control's, so every CATE is exactly 0.

    The baseline still varies with the features (prognostic heterogeneity only).
    ``effect_scale`` is accepted for a uniform signature and ignored.
    """
    params = _params(metric, effect_scale, K, n_nuisance=n_nuisance, baseline_rate=baseline_rate,
                     basket_mean=basket_mean, basket_sigma=basket_sigma,
                     outcome_mean=outcome_mean, outcome_sd=outcome_sd)
    return _synthetic("null", params, lambda k: _constant(0.0))


def constant(
    metric: str,
    effect_scale: float | None = None,
    K: int = 3,
    *,
    n_nuisance: int = 2,
    baseline_rate: float = 0.05,
    basket_mean: float = 60.0,
    basket_sigma: float = 0.8,
    outcome_mean: float = 1.0,
    outcome_sd: float = 1.0,
) -> Scenario:
    """The same effect for every visitor: arm k's CATE is one number, growing with k.

    The lift ``a_k`` is added on the metric's scale, relative to the baseline level:
    conversion ``p_k = p_0(x) + baseline_rate * a_k``; revenue keeps the basket and adds
    ``baseline_rate * basket_mean * a_k / m_0(x)`` to the conversion probability, so revenue
    per visitor rises by ``baseline_rate * basket_mean * a_k`` for everyone; continuous
    ``m_k = m_0(x) + outcome_mean * a_k``. The per-visitor CATE varies only by floating-point
    rounding.
    """
    params = _params(metric, effect_scale, K, n_nuisance=n_nuisance, baseline_rate=baseline_rate,
                     basket_mean=basket_mean, basket_sigma=basket_sigma,
                     outcome_mean=outcome_mean, outcome_sd=outcome_sd)
    base = _synthetic_baseline(params)
    amplitudes = params.amplitudes()
    family = params.family
    if family == MetricFamily.CONTINUOUS:
        mode = _relative_mode(params, base, [_constant(a) for a in amplitudes])
    else:
        p0 = sigmoid_surface(base.logit_p)
        if family == MetricFamily.BINARY:
            p = [p0, *(add_surfaces(p0, _constant(params.baseline_rate * a)) for a in amplitudes)]
            mode = _metric_mode(metric, p, None, None)
        else:
            revenue_lift = params.baseline_rate * params.basket_mean
            p = [p0, *(add_surfaces(p0, pointwise(np.divide, _constant(revenue_lift * a),
                                                  base.basket))
                       for a in amplitudes)]
            m = [base.basket] * params.K
            mode = _metric_mode(metric, p, m, [_constant(params.basket_sigma)] * params.K)
    return _scenario("constant", params, _synthetic_copula(params.n_nuisance), mode)


def reversal(
    metric: str,
    effect_scale: float | None = None,
    K: int = 3,
    *,
    n_nuisance: int = 2,
    baseline_rate: float = 0.05,
    basket_mean: float = 60.0,
    basket_sigma: float = 0.8,
    outcome_mean: float = 1.0,
    outcome_sd: float = 1.0,
) -> Scenario:
    """The effect's sign flips at ``x1 = 0``.

    Odd arms (1, 3, ...) help visitors with ``x1 > 0`` and hurt those with ``x1 <= 0``; even
    arms do the reverse, so at K >= 3 different arms are best on either side. The lift is a
    step of size ``+-a_k``.
    """
    params = _params(metric, effect_scale, K, n_nuisance=n_nuisance, baseline_rate=baseline_rate,
                     basket_mean=basket_mean, basket_sigma=basket_sigma,
                     outcome_mean=outcome_mean, outcome_sd=outcome_sd)
    x1 = _column("x1")

    def shape(k: int) -> SurfaceConfig:
        sign = 1.0 if k % 2 == 1 else -1.0
        return threshold_surface(x1, 0.0, sign, -sign)

    return _synthetic("reversal", params, shape)


def sparse_benefit(
    metric: str,
    effect_scale: float | None = None,
    K: int = 3,
    *,
    n_nuisance: int = 2,
    baseline_rate: float = 0.05,
    basket_mean: float = 60.0,
    basket_sigma: float = 0.8,
    outcome_mean: float = 1.0,
    outcome_sd: float = 1.0,
) -> Scenario:
    """Only a small segment (15% of visitors) benefits; elsewhere the CATE is exactly 0.

    Odd arms benefit visitors with ``x1`` above its 85th percentile, even arms those with
    ``x2`` above it. Inside the segment the lift is ``3 a_k`` (a concentrated effect).
    """
    params = _params(metric, effect_scale, K, n_nuisance=n_nuisance, baseline_rate=baseline_rate,
                     basket_mean=basket_mean, basket_sigma=basket_sigma,
                     outcome_mean=outcome_mean, outcome_sd=outcome_sd)

    def shape(k: int) -> SurfaceConfig:
        feature = "x1" if k % 2 == 1 else "x2"
        return threshold_surface(_column(feature), _SPARSE_CUTOFF, 3.0, 0.0)

    return _synthetic("sparse_benefit", params, shape)


def nonlinear(
    metric: str,
    effect_scale: float | None = None,
    K: int = 3,
    *,
    n_nuisance: int = 2,
    baseline_rate: float = 0.05,
    basket_mean: float = 60.0,
    basket_sigma: float = 0.8,
    outcome_mean: float = 1.0,
    outcome_sd: float = 1.0,
) -> Scenario:
    """A smooth nonlinear effect: ``tau_k = a_k (0.5 + sin(1.5 x1 + phi_k) + 0.25 x2^2)``.

    The phase ``phi_k = (k - 1) pi / 3`` shifts each arm's wave, so arms peak in different
    regions of ``x1``; the effect is negative in the troughs.
    """
    params = _params(metric, effect_scale, K, n_nuisance=n_nuisance, baseline_rate=baseline_rate,
                     basket_mean=basket_mean, basket_sigma=basket_sigma,
                     outcome_mean=outcome_mean, outcome_sd=outcome_sd)

    def shape(k: int) -> SurfaceConfig:
        phase = (k - 1) * math.pi / 3.0

        def fn(X: pd.DataFrame) -> np.ndarray:
            x1, x2 = X["x1"].to_numpy(np.float64), X["x2"].to_numpy(np.float64)
            return 0.5 + np.sin(1.5 * x1 + phase) + 0.25 * x2 * x2

        return SurfaceConfig(fn)

    return _synthetic("nonlinear", params, shape)


def monotone_gradient(
    metric: str,
    effect_scale: float | None = None,
    K: int = 3,
    *,
    n_nuisance: int = 2,
    baseline_rate: float = 0.05,
    basket_mean: float = 60.0,
    basket_sigma: float = 0.8,
    outcome_mean: float = 1.0,
    outcome_sd: float = 1.0,
) -> Scenario:
    """The effect increases with ``x1``: ``tau_k = 2 a_k sigmoid(1.5 x1)`` (0 to ``2 a_k``).

    Every arm has the same gradient direction, with arm-specific amplitude. The baseline
    conversion also rises with ``x1``, so the CATE on the metric's scale is increasing in
    ``x1`` for a fixed value of the other features.
    """
    params = _params(metric, effect_scale, K, n_nuisance=n_nuisance, baseline_rate=baseline_rate,
                     basket_mean=basket_mean, basket_sigma=basket_sigma,
                     outcome_mean=outcome_mean, outcome_sd=outcome_sd)
    gradient = _scaled(sigmoid_surface(_scaled(_column("x1"), 1.5)), 2.0)
    return _synthetic("monotone_gradient", params, lambda k: gradient)


def interaction_only(
    metric: str,
    effect_scale: float | None = None,
    K: int = 3,
    *,
    n_nuisance: int = 2,
    baseline_rate: float = 0.05,
    basket_mean: float = 60.0,
    basket_sigma: float = 0.8,
    outcome_mean: float = 1.0,
    outcome_sd: float = 1.0,
) -> Scenario:
    """An effect only where two conditions meet: ``x2 > 0`` and a condition on ``x1``.

    Odd arms act on ``x1 > 0 and x2 > 0``, even arms on ``x1 <= 0 and x2 > 0`` (lift
    ``2 a_k``); elsewhere the CATE is exactly 0. Neither feature alone defines the segment.
    """
    params = _params(metric, effect_scale, K, n_nuisance=n_nuisance, baseline_rate=baseline_rate,
                     basket_mean=basket_mean, basket_sigma=basket_sigma,
                     outcome_mean=outcome_mean, outcome_sd=outcome_sd)
    x1, x2 = _column("x1"), _column("x2")
    x2_positive = threshold_surface(x2, 0.0, 1.0, 0.0)

    def shape(k: int) -> SurfaceConfig:
        side = threshold_surface(x1, 0.0, 2.0, 0.0) if k % 2 == 1 else threshold_surface(
            x1, 0.0, 0.0, 2.0)
        return multiply_surfaces(side, x2_positive)

    return _synthetic("interaction_only", params, shape)


# Cluster-level lifts of `clustered`, per cluster, rotated by arm.
_CLUSTER_LIFTS = (1.5, -1.0, 0.5, 0.0)


def _synthetic_mixture(n_nuisance: int) -> MixtureConfig:
    specs = _synthetic_specs(n_nuisance)
    clusters = (
        {"x1": {"loc": 1.0}, "x2": {"loc": 0.5}, "b1": {"p": 0.7},
         "c1": {"weights": (0.7, 0.2, 0.1)}},
        {"x1": {"loc": -1.0}, "x2": {"loc": 0.5}, "b1": {"p": 0.2},
         "c1": {"weights": (0.2, 0.6, 0.2)}},
        {"x1": {"loc": 0.3}, "x2": {"loc": -1.0}, "x3": {"loc": 1.0}, "b1": {"p": 0.5},
         "c1": {"weights": (0.3, 0.3, 0.4)}},
        {"x1": {"loc": -0.3}, "x2": {"loc": -0.5}, "x3": {"loc": -1.0}, "b1": {"p": 0.4}},
    )
    return MixtureConfig(specs, (0.3, 0.25, 0.25, 0.2), clusters)


def _cluster_table(table: Sequence[float]) -> SurfaceConfig:
    values = np.asarray(table, dtype=np.float64)

    def fn(X: pd.DataFrame) -> np.ndarray:
        return values[X[CLUSTER_ID_COLUMN].to_numpy()]

    return SurfaceConfig(fn)


def clustered(
    metric: str,
    effect_scale: float | None = None,
    K: int = 3,
    *,
    n_nuisance: int = 2,
    baseline_rate: float = 0.05,
    basket_mean: float = 60.0,
    basket_sigma: float = 0.8,
    outcome_mean: float = 1.0,
    outcome_sd: float = 1.0,
) -> Scenario:
    """Four latent populations with their own features and their own effects.

    Visitors come from a 4-cluster mixture (weights 0.3, 0.25, 0.25, 0.2) whose clusters shift
    ``x1``, ``x2``, ``x3``, ``b1`` and ``c1``. The lift is constant within a cluster:
    cluster c gets ``a_k * (1.5, -1, 0.5, 0)[(c + k - 1) mod 4]``, so each arm helps, hurts or
    leaves alone a different cluster. The cluster id is in the truth, never in the data.
    """
    params = _params(metric, effect_scale, K, n_nuisance=n_nuisance, baseline_rate=baseline_rate,
                     basket_mean=basket_mean, basket_sigma=basket_sigma,
                     outcome_mean=outcome_mean, outcome_sd=outcome_sd)

    def shape(k: int) -> SurfaceConfig:
        return _cluster_table(np.roll(_CLUSTER_LIFTS, -(k - 1)))

    mode = _relative_mode(params, _synthetic_baseline(params), _lifts(params, shape))
    return _scenario("clustered", params, _synthetic_mixture(params.n_nuisance), mode)


# --------------------------------------------------------------------------------------------
# clustered_realistic: four e-commerce archetypes
# --------------------------------------------------------------------------------------------

#: Archetypes of ``clustered_realistic``, in cluster-id order.
ARCHETYPES = ("bargain_hunters", "loyal_high_spenders", "new_visitors", "mobile_browsers")
_ARCHETYPE_WEIGHTS = (0.30, 0.15, 0.35, 0.20)
_ARCHETYPE_RATE = np.array([0.045, 0.080, 0.030, 0.035])  # conversion
_ARCHETYPE_BASKET = np.array([45.0, 120.0, 70.0, 55.0])  # mean basket, $
_ARCHETYPE_MEAN = np.array([0.9, 1.4, 0.7, 0.8])  # continuous outcome, x outcome_mean
_PAST_SPEND_LOG = np.array([math.log(80.0), math.log(600.0), math.log(10.0), math.log(60.0)])
_PAST_SPEND_SCALE = (0.6, 0.5, 1.0, 0.8)
_SESSIONS_LOG = np.array([math.log(6.0), math.log(10.0), math.log(1.5), math.log(4.0)])
_SESSIONS_SCALE = (0.5, 0.4, 0.4, 0.6)
# Relative lift per archetype, before effect_scale; (conversion, basket) channel split.
_LOW_PROMO = ((2.0, -0.5, 1.0, 0.5), (1.0, -0.2))
_FREE_SHIP = ((0.5, 0.3, 1.5, 2.0), (0.7, 0.5))
_DEVICE_LEVELS = ("desktop", "mobile", "tablet")
_DEVICE = np.array([(0.55, 0.35, 0.10), (0.65, 0.25, 0.10), (0.45, 0.45, 0.10), (0.05, 0.90, 0.05)])
_RETURNING = np.array([0.60, 0.95, 0.05, 0.50])
_REGION_LEVELS = ("north", "south", "east", "west")


def _population_mean(values: np.ndarray) -> float:
    return float(np.dot(_ARCHETYPE_WEIGHTS, values))


def _realistic_mixture(n_nuisance: int) -> MixtureConfig:
    specs = (
        FeatureSpec("device", "categorical", levels=_DEVICE_LEVELS),
        FeatureSpec("is_returning", "binary"),
        FeatureSpec("past_spend", "continuous", marginal="lognormal"),
        FeatureSpec("sessions", "continuous", marginal="lognormal"),
        FeatureSpec("region", "categorical", levels=_REGION_LEVELS),
        *(FeatureSpec(f"nuisance_{j}", "continuous") for j in range(1, n_nuisance + 1)),
    )
    region = ((0.25, 0.30, 0.25, 0.20), (0.30, 0.20, 0.30, 0.20), (0.25, 0.25, 0.25, 0.25),
              (0.20, 0.25, 0.25, 0.30))
    clusters = tuple(
        {
            "device": {"weights": tuple(_DEVICE[c])},
            "is_returning": {"p": float(_RETURNING[c])},
            "past_spend": {"loc": float(_PAST_SPEND_LOG[c]), "scale": _PAST_SPEND_SCALE[c]},
            "sessions": {"loc": float(_SESSIONS_LOG[c]), "scale": _SESSIONS_SCALE[c]},
            "region": {"weights": region[c]},
        }
        for c in range(4)
    )
    return MixtureConfig(specs, _ARCHETYPE_WEIGHTS, clusters)


def _realistic_baseline(params: _Params) -> _Baseline:
    rate = _ARCHETYPE_RATE * params.baseline_rate / _population_mean(_ARCHETYPE_RATE)
    if rate.max() >= 1.0:
        msg = f"baseline_rate={params.baseline_rate} pushes an archetype's conversion above 1"
        raise ValueError(msg)
    logit = np.log(rate / (1.0 - rate))
    basket_level = _ARCHETYPE_BASKET * params.basket_mean / _population_mean(_ARCHETYPE_BASKET)
    mean_level = _ARCHETYPE_MEAN * params.outcome_mean

    def logit_p(X: pd.DataFrame) -> np.ndarray:
        # Within-archetype terms are centred on the archetype's own feature means.
        c = X[CLUSTER_ID_COLUMN].to_numpy()
        sessions_z = (np.log(X["sessions"].to_numpy(np.float64)) - _SESSIONS_LOG[c])
        returning = X["is_returning"].to_numpy(np.float64) - _RETURNING[c]
        mobile = (_codes(X, "device") == 1) - _DEVICE[c, 1]
        return logit[c] + 0.15 * sessions_z + 0.2 * returning - 0.1 * mobile

    def basket(X: pd.DataFrame) -> np.ndarray:
        c = X[CLUSTER_ID_COLUMN].to_numpy()
        spend_z = np.log(X["past_spend"].to_numpy(np.float64)) - _PAST_SPEND_LOG[c]
        return basket_level[c] * np.exp(0.15 * spend_z)

    def mean(X: pd.DataFrame) -> np.ndarray:
        c = X[CLUSTER_ID_COLUMN].to_numpy()
        sessions_z = np.log(X["sessions"].to_numpy(np.float64)) - _SESSIONS_LOG[c]
        return mean_level[c] + 0.2 * params.outcome_sd * sessions_z

    return _Baseline(SurfaceConfig(logit_p), SurfaceConfig(basket), SurfaceConfig(mean))


def clustered_realistic(
    metric: str,
    effect_scale: float | None = None,
    K: int = 3,
    *,
    n_nuisance: int = 0,
    baseline_rate: float | None = None,
    basket_mean: float | None = None,
    basket_sigma: float = 0.6,
    outcome_mean: float = 1.0,
    outcome_sd: float = 1.0,
) -> Scenario:
    """An e-commerce shop with four customer archetypes and archetype-specific responses.

    Archetypes (cluster ids 0..3, shares 30/15/35/20%): bargain hunters, loyal high spenders,
    new visitors and mobile browsers. Features: ``device`` (desktop/mobile/tablet),
    ``is_returning``, ``past_spend`` ($, log-normal), ``sessions`` (30-day, log-normal),
    ``region``. Conversion runs from 3% (new visitors) to 8% (loyal) and mean baskets from
    about $45 to $120 (log-normal, dispersion 0.6), with mild within-archetype variation from
    sessions, returning status, device and past spend.

    Arms at K = 3: ``control``, ``low_promo``, ``free_ship``. The lift is constant within an
    archetype (times ``effect_scale``, default 0.1). ``baseline_rate`` and ``basket_mean``
    (default None: the archetype table as is, 4.3% and $67.25 on average) rescale the
    archetypes' conversion rates and baskets to that population mean.

    * ``low_promo``: bargain hunters +2, loyal -0.5, new +1, mobile +0.5; on revenue it lifts
      conversion and trims the basket (channel weights 1.0 / -0.2);
    * ``free_ship``: bargain +0.5, loyal +0.3, new +1.5, mobile +2 (weights 0.7 / 0.5).

    At K = 2 only ``low_promo`` runs; at K > 3 arms ``treatment_3`` ... get half-size,
    archetype-rotated copies of the two profiles (weights 0.6 / 0.4).
    """
    if baseline_rate is None:
        baseline_rate = _population_mean(_ARCHETYPE_RATE)
    if basket_mean is None:
        basket_mean = _population_mean(_ARCHETYPE_BASKET)
    params = _params(metric, effect_scale, K, n_nuisance=n_nuisance, baseline_rate=baseline_rate,
                     basket_mean=basket_mean, basket_sigma=basket_sigma,
                     outcome_mean=outcome_mean, outcome_sd=outcome_sd)
    s = params.effect_scale
    lifts, channels = [], []
    for k in range(1, K):
        if k <= 2:
            table, weights = (_LOW_PROMO, _FREE_SHIP)[k - 1]
            values = np.asarray(table)
        else:
            table, _ = (_LOW_PROMO, _FREE_SHIP)[(k - 1) % 2]
            values = 0.5 * np.roll(np.asarray(table), k)
            weights = _REVENUE_CHANNELS
        lifts.append(_cluster_table(s * values))
        channels.append(weights)
    names = ("control", "low_promo", "free_ship", *(f"treatment_{k}" for k in range(3, K)))
    mode = _relative_mode(params, _realistic_baseline(params), lifts, channels)
    return _scenario("clustered_realistic", params, _realistic_mixture(params.n_nuisance), mode,
                     names[:K])


TEMPLATES: dict[str, Callable[..., Scenario]] = {
    "constant": constant,
    "reversal": reversal,
    "sparse_benefit": sparse_benefit,
    "nonlinear": nonlinear,
    "monotone_gradient": monotone_gradient,
    "interaction_only": interaction_only,
    "clustered": clustered,
    "clustered_realistic": clustered_realistic,
    "null": null,
}
"""Registered scenario templates by name."""


def simulate(
    template: str,
    *,
    n_visitors: int,
    metric: str = "revenue_per_visitor",
    K: int = 3,
    effect_scale: float | None = None,
    seed: int = 0,
    treatment_probabilities: Sequence[float] | None = None,
    **template_kwargs: Any,
) -> CalibrationBundle:
    """Simulate one randomised experiment from a registered template.

    Parameters
    ----------
    template : str
        A key of :data:`TEMPLATES`.
    n_visitors : int
        Visitors across all arms.
    metric : str, default="revenue_per_visitor"
        ``"revenue_per_visitor"``, ``"conversion_rate"`` or ``"continuous"``.
    K : int, default=3
        Number of arms, control included.
    effect_scale : float or None, default=None
        Effect amplitude (relative lift); None uses the template's default (0.1).
    seed : int, default=0
        Seed; the same arguments and seed give the same bundle.
    treatment_probabilities : sequence of float or None, default=None
        Fixed assignment probabilities per arm (uniform when None).
    **template_kwargs
        Passed to the template (``n_nuisance``, ``baseline_rate``, ``basket_mean``, ...).

    Returns
    -------
    CalibrationBundle

    Examples
    --------
    >>> from pytyche.generators import simulate
    >>> bundle = simulate("reversal", n_visitors=2_000, metric="conversion_rate", K=2, seed=1)
    >>> bundle.observed.treatments
    ('control', 'treatment')
    """
    if template not in TEMPLATES:
        msg = f"template={template!r} is not registered; use one of {sorted(TEMPLATES)}"
        raise ValueError(msg)
    scenario = TEMPLATES[template](metric, effect_scale, K, **template_kwargs)
    config = scenario.to_config(
        n_visitors, seed=seed, treatment_probabilities=treatment_probabilities
    )
    return generate_v2_core(config)
