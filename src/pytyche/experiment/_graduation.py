"""Graduation: which (treatment, segment) pairs have cleared the rule for how many rounds.

The library never graduates anything itself; it lists the candidates and the operator decides.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from pytyche.contracts import (
    AnalysisResult,
    DecisionThresholds,
    DiscoveredSegment,
    RecommendationSummary,
    passes_ship_gate,
)

__all__ = ["ExpectedLossRule", "GraduationCandidate", "GraduationRule",
           "find_graduation_candidates"]


@dataclass(frozen=True, slots=True, kw_only=True)
class GraduationCandidate:
    """A (treatment, segment) pair whose evidence has cleared the graduation rule.

    The library never graduates anything itself; it lists candidates and the operator decides.

    Attributes
    ----------
    treatment : str
        The treatment that would be rolled out.
    segment : DiscoveredSegment
        Where (the latest round's segment).
    sustained_rounds : int
        Consecutive rounds, ending with the latest, in which the pair cleared the rule.
    expected_loss, p_positive, p_better : float
        The latest round's evidence (see :class:`~pytyche.contracts.RecommendationSummary`).
    """

    treatment: str
    segment: DiscoveredSegment
    sustained_rounds: int
    expected_loss: float
    p_positive: float
    p_better: float

    def __post_init__(self) -> None:
        if self.sustained_rounds < 1:
            msg = f"GraduationCandidate: sustained_rounds={self.sustained_rounds} must be >= 1"
            raise ValueError(msg)


@runtime_checkable
class GraduationRule(Protocol):
    """Decides whether one round's evidence for a (treatment, segment) pair counts.

    Attributes
    ----------
    sustained_rounds : int
        Consecutive rounds the rule must hold before the pair is a candidate.
    min_stability : float
        Segments with a lower bootstrap stability score are never candidates.
    """

    sustained_rounds: int
    min_stability: float

    def fires(self, summary: RecommendationSummary) -> bool:
        """Whether this round's evidence clears the rule."""
        ...


#: The analysis' SHIP gate at the spec's defaults: graduation asks the same evidence of a segment.
_SHIP_DEFAULTS = DecisionThresholds()


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpectedLossRule:
    """The default graduation rule: small expected loss and a probable, practical gain.

    Parameters
    ----------
    tolerance : float, default=0.005
        Expected loss of shipping (relative to the control mean) must be below this.
    p_positive : float, default=0.95
        P(effect > 0) must exceed this.
    p_better : float, default=0.80
        P(effect above the practical threshold) must exceed this.
    sustained_rounds : int, default=2
        Consecutive rounds the three conditions must hold.
    min_stability : float, default=0.80
        Segments less stable than this are never candidates.
    """

    tolerance: float = _SHIP_DEFAULTS.loss_tolerance
    p_positive: float = _SHIP_DEFAULTS.p_positive
    p_better: float = _SHIP_DEFAULTS.p_better
    sustained_rounds: int = 2
    min_stability: float = 0.80

    def __post_init__(self) -> None:
        if not (math.isfinite(self.tolerance) and self.tolerance > 0):
            msg = f"ExpectedLossRule: tolerance={self.tolerance!r} must be positive (e.g. 0.005)"
            raise ValueError(msg)
        for name in ("p_positive", "p_better", "min_stability"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                msg = f"ExpectedLossRule: {name}={value!r} must be a probability in [0, 1]"
                raise ValueError(msg)
        if not isinstance(self.sustained_rounds, int) or self.sustained_rounds < 1:
            msg = f"ExpectedLossRule: sustained_rounds={self.sustained_rounds!r} must be >= 1"
            raise ValueError(msg)

    def fires(self, summary: RecommendationSummary) -> bool:
        return passes_ship_gate(
            summary.expected_loss, summary.p_positive, summary.p_better,
            loss_tolerance=self.tolerance, min_p_positive=self.p_positive,
            min_p_better=self.p_better,
        )


def find_graduation_candidates(
    analysis: AnalysisResult,
    *,
    previous: Sequence[GraduationCandidate] = (),
    rule: GraduationRule | None = None,
) -> tuple[GraduationCandidate, ...]:
    """Every (treatment, segment) pair of this analysis that clears ``rule``.

    Parameters
    ----------
    analysis : AnalysisResult
        The round's analysis; its per-segment comparisons carry the evidence.
    previous : sequence of GraduationCandidate, default=()
        The previous round's list (every pair that cleared the rule, whatever its streak).
    rule : GraduationRule or None, default=None
        ``None`` means :class:`ExpectedLossRule` at its defaults.

    Returns
    -------
    tuple of GraduationCandidate
        One per pair clearing the rule this round. ``sustained_rounds`` is one more than the
        streak of the previous round's pair for the same treatment whose segment overlaps
        this one (Jaccard ≥ 0.5 of members among the current visitors, the policy tree's
        own stability match), else 1.
    """
    from pytyche.analysis._policy_tree import same_segment  # lazy: sklearn loads on use

    rule = rule if rule is not None else ExpectedLossRule()
    segments = {s.id: s for s in analysis.segments}
    frame = None
    out: list[GraduationCandidate] = []
    for comp in analysis.comparisons:
        segment = segments.get(comp.segment_id) if comp.segment_id is not None else None
        if segment is None:
            continue
        stability = segment.stability_score
        if math.isnan(stability) or stability < rule.min_stability:
            continue
        if not rule.fires(comp.recommendation):
            continue
        streak = 1
        earlier = [c for c in previous if c.treatment == comp.treatment]
        if earlier:
            if frame is None:
                frame = analysis.posterior.observed.visitors()
            mask = np.asarray(segment.rule.mask(frame), dtype=bool)
            for cand in earlier:
                other = np.asarray(cand.segment.rule.mask(frame), dtype=bool)
                if same_segment(mask, other):
                    streak = max(streak, cand.sustained_rounds + 1)
        summary = comp.recommendation
        out.append(GraduationCandidate(
            treatment=comp.treatment, segment=segment, sustained_rounds=streak,
            expected_loss=float(summary.expected_loss), p_positive=float(summary.p_positive),
            p_better=float(summary.p_better),
        ))
    return tuple(out)
