"""Metric inference: which canonical metric id an outcome column reads as."""

from __future__ import annotations

import numpy as np

from pytyche.contracts import MetricFamily, metric_family_of
from pytyche.data._values import first_row, shown
from pytyche.errors import SchemaViolation

__all__ = ["HURDLE_ZERO_SHARE", "check_metric", "infer_metric"]

#: Smallest share of zeros for which a non-negative outcome reads as zero-inflated revenue.
HURDLE_ZERO_SHARE = 0.30


def infer_metric(values: np.ndarray, *, name: str = "outcome") -> str:
    """Guess the canonical metric id of an outcome.

    Parameters
    ----------
    values : numpy.ndarray
        Finite outcome values, one per visitor, shape (n,).
    name : str, default="outcome"
        Column name used in error messages.

    Returns
    -------
    str
        ``"conversion_rate"`` when every value is 0 or 1; ``"revenue_per_visitor"`` when
        nothing is negative and at least :data:`HURDLE_ZERO_SHARE` of the values are zero
        (a zero-inflated, positive tail); ``"continuous"`` otherwise.

    Raises
    ------
    SchemaViolation
        The outcome is zero for every visitor (or there are no visitors): no reading of it
        carries information.
    """
    y = np.asarray(values, dtype=np.float64)
    _check_not_all_zero(y, name)
    if np.isin(y, (0.0, 1.0)).all():
        return "conversion_rate"
    zero_share = float(np.mean(y == 0.0))
    if (y >= 0).all() and zero_share >= HURDLE_ZERO_SHARE:
        return "revenue_per_visitor"
    return "continuous"


def check_metric(values: np.ndarray, metric: str, *, name: str = "outcome") -> str:
    """Check that an outcome can be read as ``metric`` and return the metric id.

    Raises
    ------
    ValueError
        ``metric`` is not a canonical metric id.
    SchemaViolation
        The values contradict the metric (non-0/1 conversions, negative revenue) or are all
        zero.
    """
    family = metric_family_of(metric)
    y = np.asarray(values, dtype=np.float64)
    _check_not_all_zero(y, name)
    if family == MetricFamily.BINARY:
        bad = ~np.isin(y, (0.0, 1.0))
        if bad.any():
            row = first_row(bad)
            msg = (
                f"outcome {name!r} cannot be metric={metric!r}: {int(bad.sum())} value(s) are "
                f"not 0 or 1 (first at row {row}: {shown(y[row])}, range "
                f"{y.min():g}..{y.max():g}); "
                "pass metric='continuous' or 'revenue_per_visitor', or recode it as 0/1"
            )
            raise SchemaViolation(msg)
    elif family == MetricFamily.HURDLE:
        bad = y < 0
        if bad.any():
            row = first_row(bad)
            msg = (
                f"outcome {name!r} cannot be metric={metric!r}: {int(bad.sum())} negative "
                f"value(s) (first at row {row}: {shown(y[row])}); revenue is never negative, so "
                "remove refunds/adjustments or pass metric='continuous'"
            )
            raise SchemaViolation(msg)
    return metric


def _check_not_all_zero(y: np.ndarray, name: str) -> None:
    if y.size == 0 or not np.any(y != 0.0):
        msg = (
            f"outcome {name!r} is 0 for all {y.size} visitors: read as binary there are no "
            "conversions, read as revenue there is no spend; there is nothing to compare. "
            "Check the outcome column or collect more data"
        )
        raise SchemaViolation(msg)

