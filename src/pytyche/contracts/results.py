"""What an analysis produces: segments, comparisons, the policy tree and the whole result."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pytyche.contracts._checks import check_interval, check_probability, require
from pytyche.contracts.decisions import RecommendationSummary
from pytyche.contracts.enums import ClaimLevel
from pytyche.contracts.rules import SegmentRule
from pytyche.contracts.visitors import ObservedExperimentData
from pytyche.errors import AlignmentViolation

if TYPE_CHECKING:  # pragma: no cover
    from sklearn.tree import DecisionTreeClassifier

__all__ = [
    "AnalysisResult",
    "ComparisonResult",
    "DecompositionSamples",
    "DiscoveredSegment",
    "PolicyTreeResult",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class DiscoveredSegment:
    """One leaf of a policy tree (or one operator-declared segment).

    Attributes
    ----------
    id : int
        Leaf id in the policy tree (declared segments get ids in declaration order).
    rule : SegmentRule
        Which visitors belong.
    gate_estimate : float
        Posterior mean effect of the segment's best treatment versus control, averaged over
        the segment's visitors.
    gate_ci : tuple of float
        Credible interval of that effect (80% by default).
    stability_score : float
        Share of bootstrap trees that reproduce the segment (NaN when not computed).
    population_share : float
        Share of visitors in the segment.
    arm_best_probabilities : dict of str to float
        Posterior probability that each treatment is best in the segment; sums to 1.
    n_visitors : int
        Visitors in the segment.
    """

    id: int
    rule: SegmentRule
    gate_estimate: float
    gate_ci: tuple[float, float]
    stability_score: float
    population_share: float
    arm_best_probabilities: Mapping[str, float]
    n_visitors: int = 0

    def __post_init__(self) -> None:
        owner = f"DiscoveredSegment {self.id}"
        check_interval(owner, "gate_ci", self.gate_ci)
        if not math.isnan(self.stability_score):
            check_probability(owner, "stability_score", self.stability_score)
        check_probability(owner, "population_share", self.population_share)
        if self.arm_best_probabilities:
            total = sum(self.arm_best_probabilities.values())
            require(
                abs(total - 1.0) < 1e-6,
                f"{owner}: arm_best_probabilities sum to {total}, not 1",
            )

    @property
    def best_treatment(self) -> str | None:
        if not self.arm_best_probabilities:
            return None
        return max(self.arm_best_probabilities, key=self.arm_best_probabilities.__getitem__)


@dataclass(frozen=True, slots=True, kw_only=True)
class DecompositionSamples:
    """Hurdle decomposition of a revenue effect into its two channels, per posterior draw.

    All arrays have shape (S, K - 1): one column per non-control treatment. ``revenue`` is the
    effect on revenue per visitor; ``conversion`` the part due to the change in conversion
    probability at the control basket; ``basket`` the part due to the change in basket size at
    the treated conversion probability, so ``conversion + basket == revenue`` draw by draw.
    ``conversion_rate_effect`` and ``basket_size_effect`` are the raw channel effects
    (difference in P(convert), difference in expected basket).
    """

    treatments: tuple[str, ...]
    revenue: np.ndarray
    conversion: np.ndarray
    basket: np.ndarray
    conversion_rate_effect: np.ndarray
    basket_size_effect: np.ndarray

    def __post_init__(self) -> None:
        shape = np.shape(self.revenue)
        require(
            len(shape) == 2 and shape[1] == len(self.treatments),
            f"DecompositionSamples: revenue has shape {shape}; expected (S, "
            f"{len(self.treatments)})",
            AlignmentViolation,
        )
        for name in ("conversion", "basket", "conversion_rate_effect", "basket_size_effect"):
            require(
                np.shape(getattr(self, name)) == shape,
                f"DecompositionSamples: {name} has shape {np.shape(getattr(self, name))}, "
                f"revenue has {shape}",
                AlignmentViolation,
            )
@dataclass(frozen=True, slots=True, kw_only=True)
class ComparisonResult:
    """A treatment versus control (overall or within a segment) on the metric's scale.

    Attributes
    ----------
    treatment, control : str
    segment_id : int or None
    effect : float
        Posterior mean of the average effect.
    effect_ci : tuple of float
        Credible interval at ``level``.
    relative_effect : float
        ``effect`` divided by the control mean.
    level : float
        Interval level (0.80 by default).
    p_best : float
        Posterior probability that this treatment is the best of all treatments.
    recommendation : RecommendationSummary
    decomposition : DecompositionSamples or None
        Hurdle fits only.
    basis : str
        What ``effect`` and ``effect_ci`` are, and what the decision read: ``"design"`` (AIPW
        estimate with known assignment probabilities and a cross-fitted BCF outcome model;
        interval by bootstrap-t, or an anytime-valid confidence sequence across rounds) or
        ``"model"`` (BCF posterior mean and credible interval).
    method : str
        How ``effect_ci`` was computed (``"bootstrap-t"``, ``"confidence sequence"`` or
        ``"posterior"``).
    se : float or None
        Standard error of a design-based estimate.
    model_effect, model_ci : float and tuple of float, or None
        The BCF posterior mean and credible interval, shown beside a design-based estimate
        (model-based: not what the decision used).
    """

    treatment: str
    control: str
    effect: float
    effect_ci: tuple[float, float]
    relative_effect: float
    level: float
    p_best: float
    recommendation: RecommendationSummary
    segment_id: int | None = None
    decomposition: DecompositionSamples | None = None
    basis: str = "model"
    method: str = "posterior"
    se: float | None = None
    model_effect: float | None = None
    model_ci: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        owner = f"ComparisonResult {self.treatment!r}"
        check_interval(owner, "effect_ci", self.effect_ci)
        if self.model_ci is not None:
            check_interval(owner, "model_ci", self.model_ci)
        check_probability(owner, "level", self.level, open_interval=True)
        check_probability(owner, "p_best", self.p_best)


@dataclass(frozen=True, slots=True, kw_only=True)
class AnalysisResult:
    """Everything a single analysis produces.

    Attributes
    ----------
    posterior : object
        The fitted BCF result (``ContinuousBCFResult``, ``BinaryBCFResult`` or
        ``HurdleBCFResult``); its ``observed`` is the analysed data.
    cate_per_visitor : pandas.DataFrame
        One row per visitor: posterior mean CATE and interval bounds per treatment.
    segments : tuple of DiscoveredSegment
    comparisons : tuple of ComparisonResult
        Per treatment versus control, overall then per segment.
    recommendations : dict of str to RecommendationSummary
        The overall decision per treatment.
    claim_level : ClaimLevel
    calibrated : bool
    level : float
        Credible level of every interval in this result (0.80 by default).
    policy_tree : PolicyTreeResult or None
    decision_basis : str
        ``"design"`` when effects, intervals and decisions are design-based (the default of
        :func:`pytyche.analyze`), ``"model"`` when they read the BCF posterior.
    design : DesignScores or None
        The AIPW scores behind design-based decisions (outcome model, folds, propensities).
    """

    posterior: Any
    cate_per_visitor: pd.DataFrame
    segments: tuple[DiscoveredSegment, ...]
    comparisons: tuple[ComparisonResult, ...]
    recommendations: Mapping[str, RecommendationSummary]
    claim_level: ClaimLevel
    calibrated: bool
    level: float = 0.80
    policy_tree: PolicyTreeResult | None = None
    decision_basis: str = "model"
    design: Any = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "segments", tuple(self.segments))
        object.__setattr__(self, "comparisons", tuple(self.comparisons))
        check_probability("AnalysisResult", "level", self.level, open_interval=True)
        require(
            not (self.calibrated and self.claim_level == ClaimLevel.UNCALIBRATED),
            "AnalysisResult: calibrated=True contradicts claim_level=UNCALIBRATED",
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyTreeResult:
    """A policy tree over per-visitor CATEs, its segments, and their traffic allocation.

    Attributes
    ----------
    tree : sklearn.tree.DecisionTreeClassifier
        The fitted tree (features in ``observed``'s schema order, encoded).
    segments : tuple of DiscoveredSegment
        One per leaf, ordered by leaf id.
    allocation_map : dict of int to dict of str to float
        Per leaf, the Thompson share of each treatment; each sums to 1.
    stability_scores : dict of int to float
        Per leaf, the bootstrap stability score (NaN when not computed).
    observed : ObservedExperimentData
        The data the posterior was fitted on, shared by identity.
    """

    tree: DecisionTreeClassifier
    segments: tuple[DiscoveredSegment, ...]
    allocation_map: Mapping[int, Mapping[str, float]]
    stability_scores: Mapping[int, float]
    observed: ObservedExperimentData

    def __post_init__(self) -> None:
        object.__setattr__(self, "segments", tuple(self.segments))
        leaf_ids = [s.id for s in self.segments]
        require(
            leaf_ids == sorted(leaf_ids),
            f"PolicyTreeResult: segments must be ordered by leaf id, got {leaf_ids}",
        )
        require(
            set(self.allocation_map) == set(leaf_ids) == set(self.stability_scores),
            "PolicyTreeResult: allocation_map, stability_scores and segments must cover the "
            f"same leaves (segments: {leaf_ids}, allocation: {sorted(self.allocation_map)})",
        )
        for leaf, shares in self.allocation_map.items():
            total = sum(shares.values())
            require(
                abs(total - 1.0) < 1e-6 and all(v >= 0 for v in shares.values()),
                f"PolicyTreeResult: allocation of leaf {leaf} sums to {total}; each leaf's "
                "shares must be non-negative and sum to 1",
            )
