"""Per-visitor arrays aligned with an experiment's rows, and the truth of a simulation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from pytyche.contracts._checks import require
from pytyche.contracts.enums import MetricFamily, metric_family_of
from pytyche.contracts.visitors import ObservedExperimentData
from pytyche.errors import AlignmentViolation

__all__ = ["AlignedVisitorArray", "CalibrationBundle", "CalibrationTruth"]


@dataclass(frozen=True, slots=True, kw_only=True)
class AlignedVisitorArray:
    """A per-visitor array aligned with an experiment's concatenated visitor rows."""

    values: np.ndarray
    n_visitors: int

    def __post_init__(self) -> None:
        values = np.asarray(self.values)
        object.__setattr__(self, "values", values)
        require(
            values.ndim >= 1 and values.shape[0] == self.n_visitors,
            f"AlignedVisitorArray: values have shape {values.shape} but n_visitors="
            f"{self.n_visitors}; the first axis must be one entry per visitor",
            AlignmentViolation,
        )

    def __len__(self) -> int:
        return self.n_visitors


@dataclass(frozen=True, slots=True, kw_only=True)
class CalibrationTruth:
    """Ground truth of a simulated experiment (sim and calibration paths only).

    At K = 2 the paired fields (``cate_per_visitor``, ``p0``/``p1``, ``m0``/``m1``) are set;
    at K >= 3 the list fields (``contrast_cate_per_visitor`` with K - 1 entries,
    ``p_per_visitor`` and ``m_per_visitor`` with K entries) are. ``m`` is the expected
    basket (severity mean given conversion) and the CATE is on the metric's scale (revenue per
    visitor, conversion probability, or the continuous outcome).
    """

    effect: float
    metric_id: str
    metric_family: MetricFamily
    effect_components: Mapping[str, float]
    cate_per_visitor: AlignedVisitorArray | None = None
    conv_cate_per_visitor: AlignedVisitorArray | None = None
    aov_cate_per_visitor: AlignedVisitorArray | None = None
    p0_per_visitor: AlignedVisitorArray | None = None
    p1_per_visitor: AlignedVisitorArray | None = None
    m0_per_visitor: AlignedVisitorArray | None = None
    m1_per_visitor: AlignedVisitorArray | None = None
    contrast_cate_per_visitor: list[AlignedVisitorArray] | None = None
    p_per_visitor: list[AlignedVisitorArray] | None = None
    m_per_visitor: list[AlignedVisitorArray] | None = None
    cluster_ids: AlignedVisitorArray | None = None
    potential_outcomes: AlignedVisitorArray | None = None
    """Mean outcome under every arm, shape (n, K) (expected revenue, probability or mean)."""

    def __post_init__(self) -> None:
        metric_family_of(self.metric_id)
        require(
            MetricFamily(self.metric_family) == metric_family_of(self.metric_id),
            f"CalibrationTruth: metric_family={self.metric_family!r} does not match "
            f"metric_id={self.metric_id!r}",
        )
        lengths = {a.n_visitors for a in self._arrays()}
        require(
            len(lengths) <= 1,
            f"CalibrationTruth: per-visitor arrays have different lengths {sorted(lengths)}",
            AlignmentViolation,
        )
        paired = self.cate_per_visitor is not None
        multi = self.contrast_cate_per_visitor is not None
        require(
            not (paired and multi),
            "CalibrationTruth: set either the K = 2 paired fields or the K >= 3 list fields, "
            "not both",
        )
        if multi and self.p_per_visitor is not None:
            require(
                len(self.p_per_visitor) == len(self.contrast_cate_per_visitor) + 1,
                "CalibrationTruth: p_per_visitor needs K entries and contrast_cate_per_visitor "
                "K - 1",
                AlignmentViolation,
            )

    def _arrays(self) -> list[AlignedVisitorArray]:
        out = [
            a
            for a in (
                self.cate_per_visitor, self.conv_cate_per_visitor, self.aov_cate_per_visitor,
                self.p0_per_visitor, self.p1_per_visitor, self.m0_per_visitor,
                self.m1_per_visitor, self.cluster_ids, self.potential_outcomes,
            )
            if a is not None
        ]
        for group in (self.contrast_cate_per_visitor, self.p_per_visitor, self.m_per_visitor):
            out.extend(group or [])
        return out

    @property
    def n_visitors(self) -> int:
        arrays = self._arrays()
        return arrays[0].n_visitors if arrays else 0

    @property
    def n_treatments(self) -> int:
        if self.contrast_cate_per_visitor is not None:
            return len(self.contrast_cate_per_visitor) + 1
        return 2

    def cate_matrix(self) -> np.ndarray:
        """True CATE per visitor and contrast, shape (n, K - 1), whatever K is."""
        if self.contrast_cate_per_visitor is not None:
            return np.column_stack([a.values for a in self.contrast_cate_per_visitor])
        if self.cate_per_visitor is None:
            msg = "CalibrationTruth carries no per-visitor CATE"
            raise ValueError(msg)
        return np.asarray(self.cate_per_visitor.values, dtype=np.float64)[:, None]


@dataclass(frozen=True, slots=True, kw_only=True)
class CalibrationBundle:
    """A simulated experiment: what an analyst would see, and the truth kept apart from it."""

    observed: ObservedExperimentData
    truth: CalibrationTruth

    def __post_init__(self) -> None:
        n_truth = self.truth.n_visitors
        require(
            n_truth in (0, self.observed.n_visitors),
            f"CalibrationBundle: truth covers {n_truth} visitors but observed data has "
            f"{self.observed.n_visitors}",
            AlignmentViolation,
        )

    def __iter__(self):  # allows `observed, truth = bundle`
        return iter((self.observed, self.truth))
