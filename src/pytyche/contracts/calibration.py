"""What one simulated fit of a coverage sweep measured."""

from __future__ import annotations

import math
from dataclasses import dataclass

from pytyche.contracts._checks import check_probability, require
from pytyche.contracts.enums import metric_family_of

__all__ = ["CalibrationRecord"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CalibrationRecord:
    """What one simulated fit of a coverage sweep measured.

    Attributes
    ----------
    template, metric : str
        Scenario and metric simulated.
    n_visitors, n_treatments, seed : int
    pooling : str
        "joint" or "independent" (hurdle fits); "none" otherwise.
    nominal_levels : tuple of float
        Interval levels evaluated.
    segment_coverage : tuple of float
        Per nominal level, the share of (segment, treatment) means whose interval covered the
        truth.
    arm_coverage : tuple of float
        Per nominal level, the share of overall arm effects covered.
    decision_correct : float
        Share of treatments whose decision agrees with the oracle's.
    regret : float
        Revenue per visitor lost by the recommended policy relative to the oracle policy.
    segment_hits : tuple of int
        Per nominal level, covered (segment, treatment) pairs (for pooling records exactly).
    segment_total : int
        (segment, treatment) pairs evaluated.
    fit_seconds : float
    """

    template: str
    metric: str
    n_visitors: int
    n_treatments: int
    seed: int
    pooling: str
    nominal_levels: tuple[float, ...]
    segment_coverage: tuple[float, ...]
    arm_coverage: tuple[float, ...]
    decision_correct: float
    regret: float
    segment_hits: tuple[int, ...] = ()
    segment_total: int = 0
    fit_seconds: float = 0.0

    def __post_init__(self) -> None:
        metric_family_of(self.metric)
        owner = f"CalibrationRecord(seed={self.seed})"
        require(
            len(self.segment_coverage) == len(self.nominal_levels) == len(self.arm_coverage),
            f"{owner}: nominal_levels, segment_coverage and arm_coverage need equal lengths",
        )
        for level in self.nominal_levels:
            check_probability(owner, "nominal level", level, open_interval=True)
        for cov in (*self.segment_coverage, *self.arm_coverage):
            if not math.isnan(cov):
                check_probability(owner, "coverage", cov)
        require(self.n_visitors > 0, f"{owner}: n_visitors must be positive")
        require(self.n_treatments >= 2, f"{owner}: n_treatments must be >= 2")
