"""The SHIP / STOP thresholds, the one SHIP gate, and a decision with its evidence."""

from __future__ import annotations

import math
from dataclasses import dataclass

from pytyche.contracts._checks import check_probability, require
from pytyche.contracts.enums import Decision

__all__ = ["DecisionThresholds", "RecommendationSummary", "passes_ship_gate"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DecisionThresholds:
    """Thresholds of the SHIP / STOP gates.

    Defaults follow the spec's expected-loss rule: SHIP needs expected loss below
    ``loss_tolerance`` (0.005 of the control mean), P(positive) above 0.95 and P(better by the
    minimum practical effect) above 0.80; STOP fires on P(harm) above 0.90 or P(better) below
    0.05 (futility).

    Attributes
    ----------
    loss_tolerance : float
        Largest acceptable expected loss of shipping, relative to the control mean.
    p_positive : float
        SHIP needs P(effect > 0) above this.
    p_better : float
        SHIP needs P(effect > min_practical_effect × control mean) above this.
    p_harm : float
        STOP when P(effect < 0) exceeds this.
    p_futility : float
        STOP when P(better by the practical effect) falls below this.
    min_practical_effect : float
        Smallest lift worth shipping, relative to the control mean (0.02 = 2%).
    """

    loss_tolerance: float = 0.005
    p_positive: float = 0.95
    p_better: float = 0.80
    p_harm: float = 0.90
    p_futility: float = 0.05
    min_practical_effect: float = 0.02

    def __post_init__(self) -> None:
        for name in ("p_positive", "p_better", "p_harm", "p_futility"):
            check_probability("DecisionThresholds", name, getattr(self, name),
                               open_interval=True)
        require(
            self.loss_tolerance > 0 and math.isfinite(self.loss_tolerance),
            f"DecisionThresholds: loss_tolerance={self.loss_tolerance} must be positive",
        )
        require(
            self.min_practical_effect >= 0 and math.isfinite(self.min_practical_effect),
            f"DecisionThresholds: min_practical_effect={self.min_practical_effect} must be >= 0",
        )
        require(
            self.p_futility < self.p_better,
            f"DecisionThresholds: p_futility={self.p_futility} must be below "
            f"p_better={self.p_better}",
        )

    def ships(self, expected_loss: float, p_positive: float, p_better: float) -> bool:
        """Whether evidence clears these thresholds' SHIP gate (see :func:`passes_ship_gate`)."""
        return passes_ship_gate(
            expected_loss, p_positive, p_better, loss_tolerance=self.loss_tolerance,
            min_p_positive=self.p_positive, min_p_better=self.p_better,
        )


def passes_ship_gate(
    expected_loss: float,
    p_positive: float,
    p_better: float,
    *,
    loss_tolerance: float,
    min_p_positive: float,
    min_p_better: float,
) -> bool:
    """The spec's SHIP gate, the one place it is written: expected loss below the tolerance,
    P(positive) and P(better by the practical effect) above their thresholds (all strict).

    The analysis' decisions (:class:`DecisionThresholds`) and the default graduation rule
    (``ExpectedLossRule``) both apply it, each with its own thresholds.
    """
    return expected_loss < loss_tolerance and p_positive > min_p_positive and (
        p_better > min_p_better
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class RecommendationSummary:
    """A decision with the evidence behind it.

    Attributes
    ----------
    treatment, control : str
        What is compared.
    segment_id : int or None
        The segment the decision applies to (None: all visitors).
    decision : Decision
    expected_loss : float
        Expected shortfall of shipping the treatment, E[max(0, -effect)] / control mean.
    p_positive, p_better, p_harmful : float
        P(effect > 0), P(effect > practical threshold), P(effect < 0).
    thresholds : DecisionThresholds
    rationale : str
        One sentence naming the gate that fired.
    basis : str
        What the probabilities are: ``"design"`` (confidence levels of design-based AIPW
        estimates, valid whatever the model gets wrong) or ``"model"`` (BCF posterior
        probabilities).
    n_claims : int
        Directional claims the family-wise error is controlled over (Bonferroni):
        ``p_positive`` and ``p_harmful`` are simultaneous over that many claims, so SHIP at
        ``p_positive > 0.95`` has family-wise false-SHIP rate at most 5%. 1 means unadjusted.
    """

    treatment: str
    control: str
    decision: Decision
    expected_loss: float
    p_positive: float
    p_better: float
    p_harmful: float
    thresholds: DecisionThresholds
    rationale: str
    segment_id: int | None = None
    basis: str = "model"
    n_claims: int = 1

    @property
    def gate(self) -> str:
        """The gate that fired: ``"ship"``, ``"harm"``, ``"futility"`` or ``"none"``.

        The harm gate is checked before futility, as the decision rule does."""
        if self.decision == Decision.SHIP:
            return "ship"
        if self.decision == Decision.STOP:
            return "harm" if self.p_harmful > self.thresholds.p_harm else "futility"
        return "none"

    def __post_init__(self) -> None:
        owner = f"RecommendationSummary {self.treatment!r}"
        require(isinstance(self.decision, Decision), f"{owner}: decision must be a Decision")
        for name in ("p_positive", "p_better", "p_harmful"):
            check_probability(owner, name, getattr(self, name))
        require(
            self.expected_loss >= 0,
            f"{owner}: expected_loss={self.expected_loss} must be >= 0",
        )
