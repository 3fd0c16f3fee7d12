"""Enums and the metric table: decisions, outcome families, claim levels."""

from __future__ import annotations

import enum
from collections.abc import Mapping

__all__ = ["METRIC_FAMILIES", "ClaimLevel", "Decision", "MetricFamily", "metric_family_of"]


class Decision(enum.StrEnum):
    """What to do with a treatment (versus control), overall or in a segment."""

    SHIP = "SHIP"
    CONTINUE = "CONTINUE"
    STOP = "STOP"


class MetricFamily(enum.StrEnum):
    """The statistical family of an outcome, which selects the BCF likelihood."""

    BINARY = "binary"
    """Outcomes in {0, 1} (conversion): probit BCF."""
    CONTINUOUS = "continuous"
    """Real-valued outcomes with few zeros: Gaussian BCF."""
    HURDLE = "hurdle"
    """Zero-inflated non-negative outcomes (revenue per visitor): joint hurdle BCF."""


#: Canonical metric ids and their family. ``metric`` strings outside this table are refused.
METRIC_FAMILIES: Mapping[str, MetricFamily] = {
    "conversion_rate": MetricFamily.BINARY,
    "continuous": MetricFamily.CONTINUOUS,
    "revenue_per_visitor": MetricFamily.HURDLE,
}


def metric_family_of(metric: str) -> MetricFamily:
    """Family of a canonical metric id; ValueError listing the known ids otherwise."""
    try:
        return METRIC_FAMILIES[metric]
    except KeyError:
        msg = f"metric={metric!r} is not a known metric; use one of {sorted(METRIC_FAMILIES)}"
        raise ValueError(msg) from None


class ClaimLevel(enum.StrEnum):
    """How strongly an analysis's intervals and decisions may be read.

    ``CALIBRATED``: a coverage correction fitted for this regime (metric, number of treatments,
    pooling) was applied, so an 80% interval has been measured to cover about 80% of the time.
    ``UNCALIBRATED``: raw posterior intervals; BART posteriors are known to under-cover at
    scale, so read them as optimistic. ``INSUFFICIENT_DATA``: too few visitors or converters
    in some arm for any claim beyond "keep collecting".
    """

    CALIBRATED = "calibrated"
    UNCALIBRATED = "uncalibrated"
    INSUFFICIENT_DATA = "insufficient_data"
