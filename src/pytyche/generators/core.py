"""The v2 potential-outcomes generator: features, potential outcomes, assignment, bundle.

Pipeline of :func:`generate_v2_core`:

1. :func:`sample_features` draws the visitors' features ``X`` (sampling order).
2. :func:`compute_potential_outcomes` evaluates every arm's surfaces on ``X``: conversion
   probability ``p_k(x)``, mean ``m_k(x)`` and dispersion ``sigma_k(x)``, and the per-visitor
   effects (a :class:`TruthResult`, still in sampling order).
3. :func:`assign_and_observe` assigns each visitor one arm (fixed probabilities, or an external
   per-visitor assignment) and draws the observed outcome of that arm only.
4. :func:`build_bundle` reorders the truth to the observed row order and returns a
   :class:`~pytyche.contracts.CalibrationBundle`.

Outcome models, by metric (``m`` and ``sigma`` of arm ``k`` at the visitor's features):

``conversion_rate`` (binary)
    ``Y ~ Bernoulli(p)``; expected outcome ``p``.
``revenue_per_visitor`` (hurdle)
    converts with probability ``p``; a converter's basket is log-normal with mean ``m`` and
    log-scale dispersion ``sigma`` (``log basket ~ N(log m - sigma^2 / 2, sigma^2)``);
    non-converters spend 0. Expected outcome ``p * m``. With a
    :class:`~pytyche.generators.cart.CartRevenueConfig` as ``revenue_model`` the basket is a
    cart instead (per-category purchases whose prices add up; ``sigma`` is then unused) and the
    expected outcome is ``p`` times the cart's closed-form expected spend.
``continuous``
    ``Y ~ Normal(m, sigma^2)``; expected outcome ``m``. :class:`MetricMode` carries the mean in
    the ``m`` surfaces and the standard deviation in the ``sigma`` surfaces; it has no ``p``.

Row order: the observed data holds one :class:`~pytyche.contracts.VariantData` per arm, control
first, each keeping its visitors in sampling order. Every truth array of the bundle is aligned to
the concatenation of those frames (variant-major), which is the order of
``ObservedExperimentData.visitors()``.

Randomness: each visitor's uniform (conversion) and normal (basket or continuous noise) draws are
made for every visitor before arms are applied, so a visitor's outcome under arm ``k`` is a
fixed function of those draws; assignment only chooses which potential outcome is revealed.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass
from typing import Any

import numpy as np
import pandas as pd

from pytyche.contracts import (
    RESERVED_OUTCOME_COLUMN,
    AlignedVisitorArray,
    CalibrationBundle,
    CalibrationTruth,
    MetricFamily,
    ObservedExperimentData,
    VariantData,
    VisitorSchema,
    metric_family_of,
    propensity_columns,
)
from pytyche.errors import AlignmentViolation
from pytyche.generators.cart import CartRevenueConfig
from pytyche.generators.features import (
    CLUSTER_ID_COLUMN,
    CopulaConfig,
    FeatureSamplerConfig,
    FeatureSpec,
    MixtureConfig,
    sample_features,
    visitor_schema,
)
from pytyche.generators.surfaces import (
    SurfaceConfig,
    add_surfaces,
    multiply_surfaces,
    sigmoid_surface,
    threshold_surface,
)

__all__ = [
    "AssignmentConfig",
    "CartRevenueConfig",
    "CopulaConfig",
    "FeatureSamplerConfig",
    "FeatureSpec",
    "MetricMode",
    "MixtureConfig",
    "SurfaceConfig",
    "TruthResult",
    "V2GeneratorConfig",
    "add_surfaces",
    "assign_and_observe",
    "build_bundle",
    "build_truth",
    "compute_potential_outcomes",
    "default_treatment_names",
    "generate_v2_core",
    "multiply_surfaces",
    "sample_features",
    "sigmoid_surface",
    "threshold_surface",
]

# Which surface channels each family needs: conversion probability, mean, dispersion.
_CHANNELS: dict[MetricFamily, tuple[bool, bool, bool]] = {
    MetricFamily.BINARY: (True, False, False),
    MetricFamily.HURDLE: (True, True, True),
    MetricFamily.CONTINUOUS: (False, True, True),
}


def default_treatment_names(n_treatments: int) -> tuple[str, ...]:
    """``("control", "treatment")`` at K = 2, ``("control", "treatment_1", ...)`` at K >= 3."""
    if n_treatments < 2:
        msg = f"n_treatments={n_treatments}: an experiment needs at least 2 arms"
        raise ValueError(msg)
    if n_treatments == 2:
        return ("control", "treatment")
    return ("control", *(f"treatment_{k}" for k in range(1, n_treatments)))


def _check_names(names: Sequence[str], n_treatments: int) -> tuple[str, ...]:
    names = tuple(names)
    if (
        len(names) != n_treatments
        or len(set(names)) != len(names)
        or not all(isinstance(s, str) and s for s in names)
    ):
        msg = (
            f"treatment_names={names!r}: need {n_treatments} distinct non-empty names, "
            "control first"
        )
        raise ValueError(msg)
    return names


# --------------------------------------------------------------------------------------------
# Configs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AssignmentConfig:
    """Fixed randomised assignment: every visitor's arm is drawn from the same probabilities.

    A feature-dependent design (a sequential experiment's cells routing visitors by policy) is
    not configured here: pass its per-visitor arms to :func:`assign_and_observe` as
    ``treatment_assignment``.

    Attributes
    ----------
    treatment_allocation : float, default=0.5
        K = 2 form: the share of visitors sent to treatment, in (0, 1).
    treatment_probabilities : tuple of float or None, default=None
        Any-K form: one probability per arm (control first), each in (0, 1), summing to 1
        within 1e-9. When set, ``treatment_allocation`` is ignored (it must still be valid).
    """

    treatment_allocation: float = 0.5
    _: KW_ONLY
    treatment_probabilities: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        a = self.treatment_allocation
        if not (isinstance(a, (int, float, np.floating)) and 0.0 < float(a) < 1.0):
            msg = f"AssignmentConfig: treatment_allocation={a!r} must lie in (0, 1)"
            raise ValueError(msg)
        if self.treatment_probabilities is None:
            return
        probs = tuple(float(p) for p in self.treatment_probabilities)
        object.__setattr__(self, "treatment_probabilities", probs)
        if len(probs) < 2:
            msg = f"AssignmentConfig: treatment_probabilities={probs} needs at least 2 entries"
            raise ValueError(msg)
        if not all(math.isfinite(p) and 0.0 < p < 1.0 for p in probs):
            msg = f"AssignmentConfig: treatment_probabilities={probs}: each must lie in (0, 1)"
            raise ValueError(msg)
        if abs(sum(probs) - 1.0) > 1e-9:
            msg = (
                f"AssignmentConfig: treatment_probabilities={probs} sum to {sum(probs)!r}, "
                "not 1; normalise them"
            )
            raise ValueError(msg)

    def probabilities(self, n_treatments: int) -> np.ndarray:
        """Assignment probability of every arm, shape ``(n_treatments,)``, control first."""
        if self.treatment_probabilities is None:
            if n_treatments != 2:
                msg = (
                    f"AssignmentConfig: the treatment_allocation form is for 2 arms, got "
                    f"{n_treatments}; set treatment_probabilities (one per arm)"
                )
                raise ValueError(msg)
            a = float(self.treatment_allocation)
            return np.array([1.0 - a, a])
        if len(self.treatment_probabilities) != n_treatments:
            msg = (
                f"AssignmentConfig: {len(self.treatment_probabilities)} treatment_probabilities "
                f"for {n_treatments} arms"
            )
            raise ValueError(msg)
        return np.asarray(self.treatment_probabilities, dtype=np.float64)


_PAIRED = ("p0_surface", "p1_surface", "m0_surface", "m1_surface", "sigma0_surface",
           "sigma1_surface")


@dataclass(frozen=True, slots=True)
class MetricMode:
    """The metric and its potential-outcome surfaces, one per arm and channel.

    Each surface gives, for a visitor with features ``x``, a parameter of the outcome the
    visitor would have under one arm; assignment only decides which arm is revealed.

    Two equivalent forms: the paired K = 2 form (``p0_surface`` .. ``sigma1_surface``) and the
    list form for K >= 3 (``p_surfaces``, ``m_surfaces``, ``sigma_surfaces``, index 0 =
    control). Use exactly one.

    Channels by metric:

    * ``"conversion_rate"``: ``p`` only (conversion probability).
    * ``"revenue_per_visitor"``: ``p`` (conversion), ``m`` (mean basket given conversion,
      positive) and ``sigma`` (log-scale dispersion of the basket, >= 0).
    * ``"continuous"``: ``m`` (mean) and ``sigma`` (standard deviation, >= 0); no ``p``.

    Attributes
    ----------
    metric_id : str
        ``"conversion_rate"``, ``"continuous"`` or ``"revenue_per_visitor"``.
    p0_surface, p1_surface, m0_surface, m1_surface, sigma0_surface, sigma1_surface
        Paired form: control (0) and treatment (1) surfaces of each channel.
    p_surfaces, m_surfaces, sigma_surfaces : sequence of SurfaceConfig or None
        List form: one surface per arm (K >= 3 entries), control first.
    """

    metric_id: str
    p0_surface: SurfaceConfig | None = None
    p1_surface: SurfaceConfig | None = None
    m0_surface: SurfaceConfig | None = None
    m1_surface: SurfaceConfig | None = None
    sigma0_surface: SurfaceConfig | None = None
    sigma1_surface: SurfaceConfig | None = None
    _: KW_ONLY
    p_surfaces: Sequence[SurfaceConfig] | None = None
    m_surfaces: Sequence[SurfaceConfig] | None = None
    sigma_surfaces: Sequence[SurfaceConfig] | None = None

    def __post_init__(self) -> None:
        family = metric_family_of(self.metric_id)
        lists = ("p_surfaces", "m_surfaces", "sigma_surfaces")
        for name in lists:
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, tuple(value))
        paired = any(getattr(self, f) is not None for f in _PAIRED)
        listed = any(getattr(self, f) is not None for f in lists)
        owner = f"MetricMode({self.metric_id!r})"
        if paired == listed:
            msg = (
                f"{owner}: give either the paired K = 2 surfaces (p0_surface, ...) or the list "
                "form (p_surfaces, ...), not both and not neither"
            )
            raise ValueError(msg)
        needs = dict(zip(("p", "m", "sigma"), _CHANNELS[family], strict=True))
        if paired:
            for channel, needed in needs.items():
                for arm in (0, 1):
                    name = f"{channel}{arm}_surface"
                    _check_channel(owner, name, getattr(self, name), needed, self.metric_id)
            return
        counts: dict[str, int] = {}
        for channel, needed in needs.items():
            name = f"{channel}_surfaces"
            surfaces = getattr(self, name)
            _check_channel(owner, name, surfaces, needed, self.metric_id)
            if surfaces is None:
                continue
            for k, s in enumerate(surfaces):
                if not isinstance(s, SurfaceConfig):
                    msg = f"{owner}: {name}[{k}]={s!r} must be a SurfaceConfig"
                    raise TypeError(msg)
            counts[name] = len(surfaces)
        if len(set(counts.values())) != 1:
            msg = f"{owner}: surface lists have different lengths {counts}; give one per arm"
            raise ValueError(msg)
        n_arms = next(iter(counts.values()))
        if n_arms < 3:
            msg = (
                f"{owner}: the list form needs K >= 3 surfaces per channel, got {n_arms}; use "
                "the paired fields (p0_surface, p1_surface, ...) for K = 2"
            )
            raise ValueError(msg)

    @property
    def metric_family(self) -> MetricFamily:
        return metric_family_of(self.metric_id)

    @property
    def n_treatments(self) -> int:
        """Number of arms K, control included."""
        for name in ("p_surfaces", "m_surfaces"):
            surfaces = getattr(self, name)
            if surfaces is not None:
                return len(surfaces)
        return 2

    def arm_surfaces(
        self,
    ) -> tuple[
        tuple[SurfaceConfig, ...] | None,
        tuple[SurfaceConfig, ...] | None,
        tuple[SurfaceConfig, ...] | None,
    ]:
        """The ``(p, m, sigma)`` surfaces as K-tuples whatever the form (None: unused)."""
        if self.p_surfaces is not None or self.m_surfaces is not None:
            return self.p_surfaces, self.m_surfaces, self.sigma_surfaces  # type: ignore[return-value]
        out = []
        for channel in ("p", "m", "sigma"):
            pair = (getattr(self, f"{channel}0_surface"), getattr(self, f"{channel}1_surface"))
            out.append(None if pair[0] is None else pair)
        return out[0], out[1], out[2]


def _check_channel(owner: str, name: str, value: Any, needed: bool, metric: str) -> None:
    if needed and value is None:
        msg = f"{owner}: {name} is required for metric {metric!r}"
        raise ValueError(msg)
    if not needed and value is not None:
        msg = f"{owner}: {name} must be None for metric {metric!r}"
        raise ValueError(msg)
    if needed and not isinstance(value, tuple if name.endswith("_surfaces") else SurfaceConfig):
        msg = f"{owner}: {name}={value!r} must be a SurfaceConfig"
        raise TypeError(msg)


@dataclass(frozen=True, slots=True)
class V2GeneratorConfig:
    """Everything :func:`generate_v2_core` needs to simulate one experiment.

    Attributes
    ----------
    n_visitors : int
        Visitors across all arms, positive.
    feature_sampler : CopulaConfig or MixtureConfig
        How features are drawn.
    metric_mode : MetricMode
        Metric and potential-outcome surfaces; fixes K.
    assignment : AssignmentConfig
        Fixed assignment probabilities; must match K.
    seed : int
        Non-negative seed; the same config and seed give the same bundle.
    experiment_id : str, default="sim-v2"
        Identifier of the simulated experiment.
    revenue_model : CartRevenueConfig or None, default=None
        How converters' revenue is drawn for revenue metrics: None for log-normal baskets, a
        :class:`~pytyche.generators.cart.CartRevenueConfig` for carts of priced categories
        (the truth then uses the cart's analytical expected spend). Ignored for the other
        metrics, which have no basket.
    treatment_names : tuple of str or None, default=None
        Arm names, control first (default: :func:`default_treatment_names`).
    """

    n_visitors: int
    feature_sampler: FeatureSamplerConfig
    metric_mode: MetricMode
    assignment: AssignmentConfig
    seed: int
    experiment_id: str = "sim-v2"
    revenue_model: CartRevenueConfig | None = None
    _: KW_ONLY
    treatment_names: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        n = self.n_visitors
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
            msg = f"V2GeneratorConfig: n_visitors={n!r} must be a positive integer"
            raise ValueError(msg)
        if not isinstance(self.feature_sampler, (CopulaConfig, MixtureConfig)):
            msg = "V2GeneratorConfig: feature_sampler must be a CopulaConfig or MixtureConfig"
            raise TypeError(msg)
        if not isinstance(self.metric_mode, MetricMode):
            msg = "V2GeneratorConfig: metric_mode must be a MetricMode"
            raise TypeError(msg)
        if not isinstance(self.assignment, AssignmentConfig):
            msg = "V2GeneratorConfig: assignment must be an AssignmentConfig"
            raise TypeError(msg)
        seed = self.seed
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
            msg = f"V2GeneratorConfig: seed={seed!r} must be a non-negative integer"
            raise ValueError(msg)
        if not isinstance(self.experiment_id, str) or not self.experiment_id:
            msg = f"V2GeneratorConfig: experiment_id={self.experiment_id!r} must be non-empty"
            raise ValueError(msg)
        _check_revenue_model(self.revenue_model)
        k = self.metric_mode.n_treatments
        self.assignment.probabilities(k)  # raises when the assignment does not fit K
        if self.treatment_names is not None:
            object.__setattr__(self, "treatment_names", _check_names(self.treatment_names, k))


def _check_revenue_model(revenue_model: Any) -> None:
    if revenue_model is not None and not isinstance(revenue_model, CartRevenueConfig):
        msg = (
            f"revenue_model={revenue_model!r}: pass None (log-normal baskets) or a "
            "CartRevenueConfig (carts of priced categories)"
        )
        raise TypeError(msg)


# --------------------------------------------------------------------------------------------
# Potential outcomes
# --------------------------------------------------------------------------------------------


def _aligned(values: np.ndarray) -> AlignedVisitorArray:
    return AlignedVisitorArray(values=values, n_visitors=len(values))


@dataclass(frozen=True, slots=True)
class TruthResult:
    """Per-visitor potential outcomes and effects in the sampling order of ``X``.

    The intermediate between :func:`compute_potential_outcomes` and :func:`build_truth`. At
    K = 2 the paired fields (``p0_values`` .. ``sigma1_values``, ``cate_per_visitor``) are set
    and the lists are None; at K >= 3 the lists (``p_values``, ``m_values``, ``sigma_values``,
    K entries each) are set, ``cate_per_visitor`` is None and the paired fields are None.
    Channels a metric does not use are None (``p`` for continuous, ``m``/``sigma`` for
    conversion).

    Attributes
    ----------
    cate_per_visitor : AlignedVisitorArray or None
        K = 2: expected outcome under treatment minus under control, per visitor.
    effect : float
        K = 2: the mean of ``cate_per_visitor``. K >= 3: the largest arm ATE (the mean
        contrast of the best arm on average against control).
    effect_components : dict of str to float
        Decomposition of the population effect. K = 2 conversion: ``conv_effect`` (= effect).
        K = 2 revenue: ``conv_effect`` = mean of ``(p1 - p0) * m0`` (the conversion change at
        the control basket) and ``aov_effect`` = mean of ``p1 * (m1 - m0)`` (the basket change
        at the treated conversion); they sum to ``effect``. K = 2 continuous: ``mean_effect``
        (= effect). K >= 3: ``treatment_k_effect`` for k = 1..K-1, the ATE of arm k (arm order,
        not names) against control.
    conv_per_visitor, aov_per_visitor : AlignedVisitorArray or None
        K = 2 revenue: the per-visitor terms whose means are ``conv_effect``/``aov_effect``.
    p0_values, p1_values : ndarray or None
        K = 2: conversion probability under control / treatment.
    m0_values, m1_values : ndarray or None
        K = 2: basket mean (revenue) or outcome mean (continuous) under control / treatment.
    m0_effective, m1_effective : ndarray or None
        K = 2 revenue: expected basket given conversion (equal to ``m*_values`` for log-normal
        baskets).
    sigma0_values, sigma1_values : ndarray or None
        K = 2: log-scale basket dispersion (revenue) or outcome sd (continuous).
    p_values, m_values, sigma_values : list of ndarray or None
        K >= 3: the same channels, one array per arm, control first.
    m_effective_values : list of ndarray or None
        K >= 3 revenue with a cart model: expected basket given conversion per arm (None when
        it equals ``m_values``, i.e. for log-normal baskets).
    cluster_ids : ndarray or None
        Latent population of each visitor (mixture samplers only).
    """

    cate_per_visitor: AlignedVisitorArray | None
    effect: float
    effect_components: dict[str, float]
    conv_per_visitor: AlignedVisitorArray | None = None
    aov_per_visitor: AlignedVisitorArray | None = None
    p0_values: np.ndarray | None = None
    p1_values: np.ndarray | None = None
    m0_values: np.ndarray | None = None
    m1_values: np.ndarray | None = None
    m0_effective: np.ndarray | None = None
    m1_effective: np.ndarray | None = None
    sigma0_values: np.ndarray | None = None
    sigma1_values: np.ndarray | None = None
    p_values: list[np.ndarray] | None = None
    m_values: list[np.ndarray] | None = None
    sigma_values: list[np.ndarray] | None = None
    _: KW_ONLY
    cluster_ids: np.ndarray | None = None
    m_effective_values: list[np.ndarray] | None = None

    def arm_values(
        self,
    ) -> tuple[list[np.ndarray] | None, list[np.ndarray] | None, list[np.ndarray] | None]:
        """The ``(p, m, sigma)`` arrays as K-lists whatever K is (None: channel unused)."""
        if self.cate_per_visitor is None:
            return self.p_values, self.m_values, self.sigma_values
        out: list[list[np.ndarray] | None] = []
        for channel in ("p", "m", "sigma"):
            a0, a1 = getattr(self, f"{channel}0_values"), getattr(self, f"{channel}1_values")
            out.append(None if a0 is None else [a0, a1])
        return out[0], out[1], out[2]

    @property
    def n_treatments(self) -> int:
        p, m, _ = self.arm_values()
        arms = p if p is not None else m
        if arms is None:
            msg = "TruthResult holds no potential outcomes (neither p nor m values)"
            raise ValueError(msg)
        return len(arms)

    @property
    def n_visitors(self) -> int:
        p, m, _ = self.arm_values()
        arms = p if p is not None else m
        return 0 if arms is None else len(arms[0])

    def effective_m(self) -> list[np.ndarray] | None:
        """Expected basket (or outcome mean) per arm: the cart's analytical spend when a cart
        model drew the revenue, else the ``m`` surfaces themselves."""
        _, m, _ = self.arm_values()
        if self.cate_per_visitor is None:
            return self.m_effective_values if self.m_effective_values is not None else m
        if m is not None and self.m0_effective is not None:
            return [self.m0_effective, self.m1_effective]  # type: ignore[list-item]
        return m

    def expected_outcomes(self) -> list[np.ndarray]:
        """Expected outcome of every arm per visitor: ``p * m``, ``p`` or ``m`` by metric
        (``m`` being the effective basket, see :meth:`effective_m`)."""
        p, _, _ = self.arm_values()
        m = self.effective_m()
        if p is not None and m is not None:
            return [pk * mk for pk, mk in zip(p, m, strict=True)]
        arms = p if p is not None else m
        assert arms is not None
        return list(arms)


def _evaluate(
    surfaces: tuple[SurfaceConfig, ...] | None, X: pd.DataFrame, channel: str, family: MetricFamily
) -> list[np.ndarray] | None:
    if surfaces is None:
        return None
    out = []
    for k, surface in enumerate(surfaces):
        values = surface(X)
        where = f"{channel} surface of arm {k}"
        if not np.isfinite(values).all():
            row = int(np.flatnonzero(~np.isfinite(values))[0])
            msg = f"{where} is not finite at visitor row {row} ({values[row]!r})"
            raise ValueError(msg)
        if channel == "p":
            bad = (values < 0.0) | (values > 1.0)
            expected = "a probability in [0, 1]"
        elif channel == "sigma":
            bad = values < 0.0
            expected = "a dispersion >= 0"
        elif family == MetricFamily.HURDLE:
            bad = values <= 0.0
            expected = "a positive basket mean"
        else:
            bad = np.zeros(len(values), dtype=bool)
            expected = ""
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            msg = (
                f"{where} gives {values[row]!r} at visitor row {row}; expected {expected} "
                "(lower the effect size or change the surface)"
            )
            raise ValueError(msg)
        out.append(values)
    return out


def compute_potential_outcomes(
    features: pd.DataFrame, metric_mode: MetricMode,
    revenue_model: CartRevenueConfig | None = None,
) -> TruthResult:
    """Evaluate every arm's surfaces on the features and derive the per-visitor effects.

    Parameters
    ----------
    features : pandas.DataFrame
        Visitor features, one row per visitor (from :func:`sample_features`; a ``cluster_id``
        column, if present, is passed to the surfaces and kept as the truth's cluster ids).
    metric_mode : MetricMode
        Metric and surfaces; K = 2 gives the paired TruthResult form, K >= 3 the list form.
    revenue_model : CartRevenueConfig or None, default=None
        Revenue metrics: with a cart model the expected basket of each arm is the cart's
        closed-form expected spend at ``m_k(x)`` (``m*_effective``); the raw surface values
        stay in ``m*_values``. Ignored for the other metrics.

    Returns
    -------
    TruthResult
        In the row order of ``features``.

    Raises
    ------
    ValueError
        A surface gives a non-finite value, a probability outside [0, 1], a negative
        dispersion or a non-positive basket mean.
    TypeError
        ``revenue_model`` is neither None nor a :class:`CartRevenueConfig`.
    """
    _check_revenue_model(revenue_model)
    family = metric_mode.metric_family
    p_s, m_s, sigma_s = metric_mode.arm_surfaces()
    p = _evaluate(p_s, features, "p", family)
    m = _evaluate(m_s, features, "m", family)
    sigma = _evaluate(sigma_s, features, "sigma", family)
    cluster_ids = None
    if CLUSTER_ID_COLUMN in features.columns:
        cluster_ids = features[CLUSTER_ID_COLUMN].to_numpy(dtype=np.int32)
    k = metric_mode.n_treatments
    m_eff = m
    if revenue_model is not None and family == MetricFamily.HURDLE and m is not None:
        m_eff = [revenue_model.expected_basket(mk) for mk in m]
    staged = TruthResult(None, 0.0, {}, p_values=p, m_values=m, sigma_values=sigma,
                         m_effective_values=None if m_eff is m else m_eff)
    mu = staged.expected_outcomes()
    if k >= 3:
        components = {f"treatment_{j}_effect": float(np.mean(mu[j] - mu[0])) for j in range(1, k)}
        return dataclasses.replace(
            staged,
            effect=max(components.values()),
            effect_components=components,
            cluster_ids=cluster_ids,
        )
    cate = mu[1] - mu[0]
    effect = float(cate.mean())
    conv = aov = None
    if family == MetricFamily.HURDLE:
        assert p is not None and m_eff is not None
        conv_values = (p[1] - p[0]) * m_eff[0]
        aov_values = p[1] * (m_eff[1] - m_eff[0])
        components = {"conv_effect": float(conv_values.mean()),
                      "aov_effect": float(aov_values.mean())}
        conv, aov = _aligned(conv_values), _aligned(aov_values)
    elif family == MetricFamily.BINARY:
        components = {"conv_effect": effect}
    else:
        components = {"mean_effect": effect}
    pair = {
        f"{channel}{arm}_values": None if arrays is None else arrays[arm]
        for channel, arrays in (("p", p), ("m", m), ("sigma", sigma))
        for arm in (0, 1)
    }
    effective = m_eff if family == MetricFamily.HURDLE else None
    return TruthResult(
        _aligned(cate),
        effect,
        components,
        conv,
        aov,
        m0_effective=None if effective is None else effective[0],
        m1_effective=None if effective is None else effective[1],
        cluster_ids=cluster_ids,
        **pair,
    )


def _reorder(truth: TruthResult, order: np.ndarray) -> TruthResult:
    """The truth :func:`build_truth` needs, every per-visitor array taken in ``order``.

    The dispersions are not part of the public truth, so they are dropped (not copied).
    """
    changes: dict[str, Any] = {"sigma0_values": None, "sigma1_values": None,
                               "sigma_values": None}
    for f in dataclasses.fields(truth):
        value = getattr(truth, f.name)
        if f.name in changes:
            continue
        if isinstance(value, AlignedVisitorArray):
            changes[f.name] = _aligned(value.values[order])
        elif isinstance(value, np.ndarray):
            changes[f.name] = value[order]
        elif isinstance(value, list):
            changes[f.name] = [a[order] for a in value]
    # m*_effective alias m*_values for log-normal baskets: keep them aliased.
    if truth.m0_effective is truth.m0_values and truth.m0_values is not None:
        changes["m0_effective"], changes["m1_effective"] = changes["m0_values"], changes[
            "m1_values"]
    return dataclasses.replace(truth, **changes)


def build_truth(truth_result: TruthResult, metric_mode: MetricMode) -> CalibrationTruth:
    """Turn a :class:`TruthResult` into the public :class:`~pytyche.contracts.CalibrationTruth`.

    K = 2 fills the paired fields (``cate_per_visitor``, ``conv_/aov_cate_per_visitor`` for
    revenue, ``p0/p1`` for conversion and revenue, ``m0/m1`` for revenue and continuous);
    K >= 3 fills ``contrast_cate_per_visitor`` (K - 1), ``p_per_visitor`` and ``m_per_visitor``
    (K each, None where the metric has no such channel; for revenue drawn by a cart model,
    ``m`` is the cart's expected spend given conversion). Both forms set
    ``potential_outcomes`` (n, K), the expected outcome of every arm, and ``cluster_ids`` when
    the features came from a mixture. Arrays keep the row order of ``truth_result``.
    """
    family = metric_mode.metric_family
    p, _, _ = truth_result.arm_values()
    m = truth_result.effective_m()  # a cart model's expected spend, else the m surfaces
    k = truth_result.n_treatments
    # Expected outcome per arm, written straight into the (n, K) matrix (no column_stack copy).
    po = np.empty((truth_result.n_visitors, k))
    for arm in range(k):
        if p is not None and m is not None:
            np.multiply(p[arm], m[arm], out=po[:, arm])
        else:
            po[:, arm] = (p if p is not None else m)[arm]  # type: ignore[index]
    common: dict[str, Any] = {
        "effect": float(truth_result.effect),
        "metric_id": metric_mode.metric_id,
        "metric_family": family,
        "effect_components": dict(truth_result.effect_components),
        "potential_outcomes": _aligned(po),
        "cluster_ids": None
        if truth_result.cluster_ids is None
        else _aligned(truth_result.cluster_ids),
    }
    if truth_result.cate_per_visitor is not None:
        return CalibrationTruth(
            cate_per_visitor=truth_result.cate_per_visitor,
            conv_cate_per_visitor=truth_result.conv_per_visitor,
            aov_cate_per_visitor=truth_result.aov_per_visitor,
            p0_per_visitor=None if p is None else _aligned(p[0]),
            p1_per_visitor=None if p is None else _aligned(p[1]),
            m0_per_visitor=None if m is None else _aligned(m[0]),
            m1_per_visitor=None if m is None else _aligned(m[1]),
            **common,
        )
    return CalibrationTruth(
        contrast_cate_per_visitor=[_aligned(po[:, j] - po[:, 0]) for j in range(1, k)],
        p_per_visitor=None if p is None else [_aligned(a) for a in p],
        m_per_visitor=None if m is None else [_aligned(a) for a in m],
        **common,
    )


# --------------------------------------------------------------------------------------------
# Assignment and observation
# --------------------------------------------------------------------------------------------


def _check_assignment(z: Any, n: int, k: int) -> np.ndarray:
    z = np.asarray(z)
    if z.shape != (n,):
        msg = f"treatment_assignment has shape {z.shape}; expected ({n},), one arm per visitor"
        raise ValueError(msg)
    if not np.issubdtype(z.dtype, np.integer):
        msg = f"treatment_assignment has dtype {z.dtype}; pass integer arm indices"
        raise ValueError(msg)
    bad = (z < 0) | (z >= k)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        msg = (
            f"treatment_assignment[{row}]={int(z[row])} is not an arm index in [0, {k - 1}]"
        )
        raise ValueError(msg)
    return z.astype(np.intp, copy=False)


def _check_probability_matrix(probs: Any, z: np.ndarray, n: int, k: int) -> np.ndarray:
    probs = np.asarray(probs, dtype=np.float64)
    if probs.shape != (n, k):
        msg = f"assignment_probabilities has shape {probs.shape}; expected ({n}, {k})"
        raise ValueError(msg)
    if not np.isfinite(probs).all() or (probs < 0).any() or (probs > 1).any():
        msg = "assignment_probabilities must hold probabilities in [0, 1]"
        raise ValueError(msg)
    off = np.abs(probs.sum(axis=1) - 1.0) > 1e-6
    if off.any():
        row = int(np.flatnonzero(off)[0])
        msg = f"assignment_probabilities row {row} sums to {probs[row].sum()!r}, not 1"
        raise ValueError(msg)
    impossible = probs[np.arange(n), z] <= 0.0
    if impossible.any():
        row = int(np.flatnonzero(impossible)[0])
        msg = (
            f"visitor row {row} was assigned arm {int(z[row])}, which its "
            "assignment_probabilities give probability 0"
        )
        raise ValueError(msg)
    return probs


def assign_and_observe(
    features: pd.DataFrame,
    truth_result: TruthResult,
    assignment: AssignmentConfig,
    metric_id: str,
    rng: np.random.Generator,
    revenue_model: CartRevenueConfig | None = None,
    treatment_assignment: np.ndarray | None = None,
    *,
    assignment_probabilities: np.ndarray | None = None,
    treatment_names: Sequence[str] | None = None,
) -> list[VariantData]:
    """Give each visitor one arm and draw the outcome of that arm.

    Parameters
    ----------
    features : pandas.DataFrame
        The features the truth was computed on, same rows and order. Columns other than
        ``cluster_id`` (which is dropped) are copied into the visitor frames, so reserved
        columns such as ``cell`` or ``round`` added by a caller travel with the visitors.
    truth_result : TruthResult
        From :func:`compute_potential_outcomes` on ``features``.
    assignment : AssignmentConfig
        Fixed assignment probabilities, used when ``treatment_assignment`` is None.
    metric_id : str
        Metric id; must be one whose channels ``truth_result`` carries.
    rng : numpy.random.Generator
        Randomness for assignment (when internal) and outcome noise.
    revenue_model : CartRevenueConfig or None, default=None
        Revenue metrics: None draws log-normal baskets; a cart model draws each converter's
        cart (one uniform per visitor and category, drawn for every visitor before arms are
        applied). Ignored for the other metrics.
    treatment_assignment : ndarray of int or None, default=None
        External assignment hook: the arm index of every visitor, shape ``(n,)``, values in
        ``[0, K - 1]`` (e.g. routed by a sequential experiment's cell policies). It decides
        membership exactly. Works for any K >= 2.
    assignment_probabilities : ndarray or None, default=None
        With ``treatment_assignment`` only: each visitor's probability of every arm under the
        external design, shape ``(n, K)``, rows summing to 1. Written to the propensity
        columns. Without it an external assignment leaves the propensity columns out (the
        design is unknown here).
    treatment_names : sequence of str or None, default=None
        Arm names, control first (default: :func:`default_treatment_names`).

    Returns
    -------
    list of VariantData
        K variants, control first. Each frame holds its visitors in sampling order with the
        feature columns, the reserved ``outcome`` column and the propensity columns
        (``propensity`` at K = 2, ``propensity_1`` .. ``propensity_{K-1}`` at K >= 3:
        P(Z = k | x) of the design). A frame's index is each visitor's row position in
        ``features``; :func:`build_bundle` uses it to align the truth.

    Raises
    ------
    ValueError
        Bad ``treatment_assignment`` (length, dtype, indices) or ``assignment_probabilities``,
        ``assignment`` not matching K, a metric whose channels the truth lacks, or reserved
        outcome/propensity columns already in ``features``.
    TypeError
        ``revenue_model`` is neither None nor a :class:`CartRevenueConfig`.
    """
    _check_revenue_model(revenue_model)
    family = metric_family_of(metric_id)
    k = truth_result.n_treatments
    n = truth_result.n_visitors
    if len(features) != n:
        msg = f"features has {len(features)} rows but the truth covers {n} visitors"
        raise AlignmentViolation(msg)
    p, m, sigma = truth_result.arm_values()
    have = (p is not None, m is not None, sigma is not None)
    if have != _CHANNELS[family]:
        msg = (
            f"metric_id={metric_id!r} does not match the truth's channels "
            f"(p, m, sigma present: {have}); compute the truth with the same MetricMode"
        )
        raise ValueError(msg)
    names = _check_names(
        default_treatment_names(k) if treatment_names is None else treatment_names, k
    )
    prop_cols = propensity_columns(k)
    clash = [c for c in (RESERVED_OUTCOME_COLUMN, *prop_cols) if c in features.columns]
    if clash:
        msg = f"features already hold reserved columns {clash}; drop them before observing"
        raise ValueError(msg)

    if treatment_assignment is None:
        if assignment_probabilities is not None:
            msg = (
                "assignment_probabilities describe an external design; pass them together with "
                "treatment_assignment"
            )
            raise ValueError(msg)
        design = assignment.probabilities(k)
        z = rng.choice(k, size=n, p=design)
        propensity: np.ndarray | None = design  # the same for every visitor
    else:
        z = _check_assignment(treatment_assignment, n, k)
        propensity = None
        if assignment_probabilities is not None:
            propensity = _check_probability_matrix(assignment_probabilities, z, n, k)

    # Per-visitor noise, drawn for everyone before arms are applied (common random numbers).
    cart = revenue_model if family == MetricFamily.HURDLE else None
    u = rng.random(n) if p is not None else None
    e = rng.standard_normal(n) if m is not None and cart is None else None
    u_cart = rng.random((n, cart.n_categories)) if cart is not None else None

    base = features.drop(columns=[CLUSTER_ID_COLUMN], errors="ignore")
    order = np.argsort(z, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(z, minlength=k))])
    variants = []
    for arm in range(k):
        idx = order[bounds[arm]:bounds[arm + 1]]
        if family == MetricFamily.BINARY:
            assert p is not None and u is not None
            y = (u[idx] < p[arm][idx]).astype(np.float64)
        elif family == MetricFamily.HURDLE:
            assert p is not None and m is not None and sigma is not None and u is not None
            converted = u[idx] < p[arm][idx]
            if cart is not None:
                assert u_cart is not None
                y = np.zeros(idx.size)
                buyers = idx[converted]
                y[converted] = cart.sample(m[arm][buyers], u_cart[buyers])
            else:
                assert e is not None
                s = sigma[arm][idx]
                basket = np.exp(np.log(m[arm][idx]) - 0.5 * s * s + s * e[idx])
                y = np.where(converted, basket, 0.0)
        else:
            assert m is not None and sigma is not None and e is not None
            y = m[arm][idx] + sigma[arm][idx] * e[idx]
        frame = base.take(idx)
        frame.index = pd.Index(idx)
        frame[RESERVED_OUTCOME_COLUMN] = y
        if propensity is not None:
            for j, col in enumerate(prop_cols, start=1):
                frame[col] = propensity[j] if propensity.ndim == 1 else propensity[idx, j]
        variants.append(VariantData.from_visitors(names[arm], frame))
    return variants


# --------------------------------------------------------------------------------------------
# Bundle
# --------------------------------------------------------------------------------------------


def build_bundle(
    variants: Sequence[VariantData],
    truth_result: TruthResult,
    metric_mode: MetricMode,
    experiment_id: str,
    *,
    schema: VisitorSchema | None = None,
) -> CalibrationBundle:
    """Assemble observed data and truth, with the truth put in the observed row order.

    Parameters
    ----------
    variants : sequence of VariantData
        From :func:`assign_and_observe`, control first. Each frame's index must give its
        visitors' row positions in the sampled features (as ``assign_and_observe`` leaves it);
        the returned frames have a fresh 0..n_k-1 index.
    truth_result : TruthResult
        In sampling order.
    metric_mode : MetricMode
        The metric the truth was computed for.
    experiment_id : str
        Identifier of the observed experiment.
    schema : VisitorSchema or None, default=None
        Feature schema of the observed data (None: inferred on first use).

    Returns
    -------
    CalibrationBundle
        ``observed`` without truth; ``truth`` with every array aligned to
        ``observed.visitors()``.

    Raises
    ------
    AlignmentViolation
        The variants' indexes are not a permutation of the truth's visitor rows.
    SchemaViolation
        The observed data breaks the visitor contract (e.g. an arm with no visitors).
    """
    variants = list(variants)
    k = truth_result.n_treatments
    if len(variants) != k:
        msg = f"build_bundle: {len(variants)} variants for a truth with {k} arms"
        raise ValueError(msg)
    n = truth_result.n_visitors
    order = np.concatenate([np.asarray(v.visitors.index) for v in variants])
    seen = np.zeros(n, dtype=bool)
    ok = len(order) == n and np.issubdtype(order.dtype, np.integer)
    if ok:
        ok = bool(((order >= 0) & (order < n)).all())
    if ok:
        seen[order] = True
        ok = bool(seen.all())
    if not ok:
        msg = (
            f"build_bundle: the variants' frame indexes ({len(order)} rows) are not a "
            f"permutation of the truth's {n} visitor rows; pass the variants as "
            "assign_and_observe returns them (index = row in the sampled features)"
        )
        raise AlignmentViolation(msg)
    truth = build_truth(_reorder(truth_result, order), metric_mode)
    fresh = tuple(
        dataclasses.replace(v, visitors=v.visitors.reset_index(drop=True)) for v in variants
    )
    observed = ObservedExperimentData(
        experiment_id=experiment_id, metric=metric_mode.metric_id, variants=fresh, schema=schema
    )
    return CalibrationBundle(observed=observed, truth=truth)


def generate_v2_core(config: V2GeneratorConfig) -> CalibrationBundle:
    """Simulate one experiment with known truth.

    Runs :func:`sample_features`, :func:`compute_potential_outcomes`,
    :func:`assign_and_observe` (fixed probabilities) and :func:`build_bundle`. Features and
    assignment/outcomes use two independent streams spawned from ``config.seed``, so the same
    config always gives the same bundle.

    Parameters
    ----------
    config : V2GeneratorConfig

    Returns
    -------
    CalibrationBundle
        Observed data (no cluster ids, no truth) and truth aligned to its visitor rows.
    """
    feature_seed, observe_seed = np.random.SeedSequence(int(config.seed)).spawn(2)
    X = sample_features(config.feature_sampler, np.random.default_rng(feature_seed),
                        int(config.n_visitors))
    truth = compute_potential_outcomes(X, config.metric_mode, config.revenue_model)
    variants = assign_and_observe(
        X,
        truth,
        config.assignment,
        config.metric_mode.metric_id,
        np.random.default_rng(observe_seed),
        config.revenue_model,
        treatment_names=config.treatment_names,
    )
    del X
    return build_bundle(
        variants,
        truth,
        config.metric_mode,
        config.experiment_id,
        schema=visitor_schema(config.feature_sampler),
    )
