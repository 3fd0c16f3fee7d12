"""Visitor data: the feature schema, one treatment's visitors, and a whole experiment.

These are containers. Encoding features as numbers and inferring a schema from a frame are the
data layer's job (:mod:`pytyche.data`), which reads these types.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from pytyche.contracts._checks import require
from pytyche.contracts._json import json_scalar
from pytyche.contracts.columns import (
    RESERVED_COLUMNS,
    RESERVED_OUTCOME_COLUMN,
    is_reserved_column,
    propensity_columns,
)
from pytyche.contracts.enums import MetricFamily, metric_family_of
from pytyche.errors import AlignmentViolation, SchemaViolation

__all__ = ["FeatureKind", "ObservedExperimentData", "VariantData", "VisitorSchema"]

FeatureKind = Literal["continuous", "categorical", "binary"]


@dataclass(frozen=True, slots=True, kw_only=True)
class VisitorSchema:
    """Which columns are features and how each is encoded as a number.

    The schema travels with the data (and with every posterior fitted on it) so that new
    visitors are encoded exactly as the training visitors were: a categorical level maps to the
    same code, and a level never seen in training is refused rather than silently mis-coded
    (:func:`pytyche.data.encode_new_visitors` applies it).

    Attributes
    ----------
    features : tuple of str
        Feature columns, in model column order.
    kinds : dict of str to {"continuous", "categorical", "binary"}
        Kind of each feature.
    categories : dict of str to tuple
        Ordered levels of each categorical feature; a level's code is its position.
    outcome : str
        Name of the outcome column in the user's original data (it is stored under the
        reserved name ``outcome`` inside pytyche).
    treatment : str
        Name of the treatment column in the user's original data.
    visitor_id : str or None
        Name of the visitor id column in the user's original data, if any.
    """

    features: tuple[str, ...]
    kinds: Mapping[str, FeatureKind]
    categories: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    outcome: str = RESERVED_OUTCOME_COLUMN
    treatment: str = "treatment"
    visitor_id: str | None = None

    def __post_init__(self) -> None:
        require(
            len(set(self.features)) == len(self.features),
            f"VisitorSchema: duplicate feature names in {self.features!r}; rename them",
            SchemaViolation,
        )
        for name in self.features:
            require(
                not is_reserved_column(name),
                f"VisitorSchema: feature {name!r} uses a reserved column name; rename it "
                f"(reserved: {sorted(RESERVED_COLUMNS)} and propensity columns)",
                SchemaViolation,
            )
            kind = self.kinds.get(name)
            require(
                kind in ("continuous", "categorical", "binary"),
                f"VisitorSchema: feature {name!r} has kind {kind!r}; use 'continuous', "
                "'categorical' or 'binary'",
                SchemaViolation,
            )
            if kind == "categorical":
                levels = self.categories.get(name)
                require(
                    levels is not None and len(levels) >= 1,
                    f"VisitorSchema: categorical feature {name!r} needs its levels in "
                    "`categories`",
                    SchemaViolation,
                )
        extra = set(self.kinds) - set(self.features)
        require(
            not extra,
            f"VisitorSchema: kinds given for unknown features {sorted(extra)}",
            SchemaViolation,
        )

    @property
    def n_features(self) -> int:
        return len(self.features)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (categorical levels are stored as strings, ints or floats)."""
        return {
            "features": list(self.features),
            "kinds": dict(self.kinds),
            "categories": {k: [json_scalar(v) for v in lv] for k, lv in self.categories.items()},
            "outcome": self.outcome,
            "treatment": self.treatment,
            "visitor_id": self.visitor_id,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VisitorSchema:
        return cls(
            features=tuple(data["features"]),
            kinds=dict(data["kinds"]),
            categories={k: tuple(v) for k, v in data.get("categories", {}).items()},
            outcome=data.get("outcome", RESERVED_OUTCOME_COLUMN),
            treatment=data.get("treatment", "treatment"),
            visitor_id=data.get("visitor_id"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class VariantData:
    """The visitors who received one treatment, with summary counts.

    Attributes
    ----------
    name : str
        Treatment name.
    visitors : pandas.DataFrame
        One row per visitor: feature columns plus the reserved ``outcome`` column (and
        optionally ``visitor_id``, ``cell``, ``round``, propensity columns).
    n_visitors : int
        Row count of ``visitors``.
    n_conversions : int
        Visitors with a positive outcome.
    total_revenue : float
        Sum of the outcome column.
    """

    name: str
    visitors: pd.DataFrame
    n_visitors: int
    n_conversions: int
    total_revenue: float

    def __post_init__(self) -> None:
        require(
            isinstance(self.name, str) and bool(self.name),
            f"VariantData: name={self.name!r} must be a non-empty string",
            SchemaViolation,
        )
        require(
            isinstance(self.visitors, pd.DataFrame),
            f"VariantData {self.name!r}: visitors must be a pandas DataFrame, got "
            f"{type(self.visitors).__name__}",
            SchemaViolation,
        )
        require(
            self.n_visitors == len(self.visitors),
            f"VariantData {self.name!r}: n_visitors={self.n_visitors} but visitors has "
            f"{len(self.visitors)} rows; build it with VariantData.from_visitors",
            AlignmentViolation,
        )
        require(
            0 <= self.n_conversions <= self.n_visitors,
            f"VariantData {self.name!r}: n_conversions={self.n_conversions} outside "
            f"[0, {self.n_visitors}]",
            SchemaViolation,
        )
        require(
            RESERVED_OUTCOME_COLUMN in self.visitors.columns,
            f"VariantData {self.name!r}: visitors lack the reserved {RESERVED_OUTCOME_COLUMN!r} "
            "column; load data through pytyche.data.from_dataframe",
            SchemaViolation,
        )

    @classmethod
    def from_visitors(cls, name: str, visitors: pd.DataFrame) -> VariantData:
        """Build a variant from its visitor frame, computing the summary counts.

        Raises
        ------
        SchemaViolation
            The outcome column holds values that are not numbers.
        """
        y = np.zeros(0)
        if isinstance(visitors, pd.DataFrame) and RESERVED_OUTCOME_COLUMN in visitors.columns:
            try:
                y = visitors[RESERVED_OUTCOME_COLUMN].to_numpy(dtype=np.float64)
            except (TypeError, ValueError) as exc:
                msg = (f"VariantData {name!r}: the outcome column holds values that are not "
                       f"numbers ({exc}); convert it to numbers, or load the data through "
                       "pytyche.data.from_dataframe, which names the rows")
                raise SchemaViolation(msg) from None
        return cls(
            name=name,
            visitors=visitors,
            n_visitors=len(visitors),
            n_conversions=int(np.count_nonzero(y > 0)),
            total_revenue=float(y.sum()),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ObservedExperimentData:
    """Everything observed in one experiment (or the cumulative data of several rounds).

    Attributes
    ----------
    experiment_id : str
        Identifier carried into reports and stores.
    metric : str
        Canonical metric id (a key of :data:`METRIC_FAMILIES`).
    variants : tuple of VariantData
        One per treatment, control first. At least two, names unique, none empty.
    schema : VisitorSchema or None
        Feature encoding. ``None`` means "every non-reserved column is a feature" and a schema
        is inferred on first use (:func:`pytyche.data.feature_schema`).

    Notes
    -----
    The object is immutable, and so must its visitor frames be once it is built: the encoded
    feature matrix (:func:`pytyche.data.feature_matrix`) is computed once per object and kept.
    """

    experiment_id: str
    metric: str
    variants: tuple[VariantData, ...]
    schema: VisitorSchema | None = None
    _feature_matrix: np.ndarray | None = field(
        default=None, init=False, repr=False, compare=False
    )
    """The read-only encoded features, kept here by :func:`pytyche.data.feature_matrix` (their
    one writer); not part of the value, so a ``dataclasses.replace`` copy encodes afresh."""

    def __post_init__(self) -> None:
        if isinstance(self.variants, list):
            object.__setattr__(self, "variants", tuple(self.variants))
        metric_family_of(self.metric)
        require(
            len(self.variants) >= 2,
            f"ObservedExperimentData: {len(self.variants)} treatment(s) "
            f"{[v.name for v in self.variants]}; an experiment compares at least 2 (control "
            "first)",
            SchemaViolation,
        )
        names = [v.name for v in self.variants]
        require(
            len(set(names)) == len(names),
            f"ObservedExperimentData: duplicate treatment names {names}",
            SchemaViolation,
        )
        for v in self.variants:
            require(
                v.n_visitors > 0,
                f"treatment {v.name!r} has no visitors; drop it or collect data for it",
                SchemaViolation,
            )
        if self.schema is not None:
            for v in self.variants:
                missing = [f for f in self.schema.features if f not in v.visitors.columns]
                require(
                    not missing,
                    f"treatment {v.name!r}: visitors lack feature columns {missing}",
                    SchemaViolation,
                )

    # ---- derived views ------------------------------------------------------------------

    @property
    def treatments(self) -> tuple[str, ...]:
        """Treatment names, control first."""
        return tuple(v.name for v in self.variants)

    @property
    def control(self) -> str:
        return self.variants[0].name

    @property
    def n_treatments(self) -> int:
        return len(self.variants)

    @property
    def n_visitors(self) -> int:
        return sum(v.n_visitors for v in self.variants)

    @property
    def metric_family(self) -> MetricFamily:
        return metric_family_of(self.metric)

    def visitors(self) -> pd.DataFrame:
        """All visitors in variant order, with a ``treatment`` column added."""
        frames = [v.visitors.assign(treatment=v.name) for v in self.variants]
        return pd.concat(frames, ignore_index=True)

    def treatment_index(self) -> np.ndarray:
        """Arm index per visitor (0 = control), int32, shape (n,)."""
        return np.repeat(
            np.arange(len(self.variants), dtype=np.int32),
            [v.n_visitors for v in self.variants],
        )

    def outcome(self) -> np.ndarray:
        """Observed outcome per visitor, float64, shape (n,)."""
        return np.concatenate(
            [v.visitors[RESERVED_OUTCOME_COLUMN].to_numpy(dtype=np.float64) for v in self.variants]
        )

    def propensities(self) -> np.ndarray | None:
        """Assignment probability of every arm per visitor, shape (n, K), or None when the
        reserved propensity columns are absent (then the design is taken as a plain RCT)."""
        cols = propensity_columns(len(self.variants))
        if not all(c in v.visitors.columns for v in self.variants for c in cols):
            return None
        treated = np.concatenate(
            [v.visitors[list(cols)].to_numpy(dtype=np.float64) for v in self.variants]
        )
        control = 1.0 - treated.sum(axis=1, keepdims=True)
        probs = np.concatenate([control, treated], axis=1)
        if not np.isfinite(probs).all() or (probs < -1e-9).any() or (probs > 1 + 1e-9).any():
            msg = (
                f"propensity columns {list(cols)} must hold probabilities whose sum is at most "
                "1 per visitor"
            )
            raise SchemaViolation(msg)
        return np.clip(probs, 0.0, 1.0)

    def column(self, name: str) -> np.ndarray:
        """One column of every visitor, concatenated in variant order."""
        missing = [v.name for v in self.variants if name not in v.visitors.columns]
        require(
            not missing,
            f"column {name!r} is missing for treatment(s) {missing}",
            SchemaViolation,
        )
        return np.concatenate([v.visitors[name].to_numpy() for v in self.variants])
