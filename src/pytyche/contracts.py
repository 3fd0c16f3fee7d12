"""Contract types shared by every layer of pytyche.

Frozen, keyword-only dataclasses and enums. Their ``__post_init__`` only validates; behaviour
lives in the layers that produce and consume them. Every error names the field, shows the value
and says what to do instead.

Row order
---------
An :class:`ObservedExperimentData` holds one :class:`VariantData` per treatment, control first.
Whenever pytyche needs "one row per visitor" (features, outcomes, truth arrays, posterior draws)
it concatenates the variants' frames in variant order. :meth:`ObservedExperimentData.visitors`
builds that frame; every per-visitor array in pytyche is aligned to it.

Reserved columns
----------------
Visitor frames may carry, besides features:

``outcome``
    the observed outcome (revenue, conversion indicator or a continuous metric);
``visitor_id``
    an optional unique identifier;
``cell``
    the id of the cell that allocated the visitor (sequential experiments);
``round``
    the round the visitor arrived in (sequential experiments);
``propensity`` / ``propensity_1`` .. ``propensity_{K-1}``
    the probability with which the visitor's assignment design would give each non-control
    treatment (``propensity`` alone at K = 2). Control's propensity is one minus their sum.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from pytyche.errors import AlignmentViolation, SchemaViolation

if TYPE_CHECKING:  # pragma: no cover
    from sklearn.tree import DecisionTreeClassifier

__all__ = [
    "METRIC_FAMILIES",
    "RESERVED_CELL_COLUMN",
    "RESERVED_COLUMNS",
    "RESERVED_OUTCOME_COLUMN",
    "RESERVED_ROUND_COLUMN",
    "RESERVED_VISITOR_ID_COLUMN",
    "AlignedVisitorArray",
    "AllOf",
    "AnalysisResult",
    "AnyOf",
    "BetweenRule",
    "CalibrationBundle",
    "CalibrationRecord",
    "CalibrationTruth",
    "ClaimLevel",
    "ComparisonResult",
    "ComparisonRule",
    "Decision",
    "DecisionThresholds",
    "DecompositionSamples",
    "DiscoveredSegment",
    "EqRule",
    "InRule",
    "MetricFamily",
    "ObservedExperimentData",
    "PolicyTreeResult",
    "RecommendationSummary",
    "SegmentRule",
    "VariantData",
    "VisitorSchema",
    "infer_schema",
    "metric_family_of",
    "passes_ship_gate",
    "propensity_columns",
    "rule_from_dict",
    "rule_to_dict",
]

RESERVED_OUTCOME_COLUMN = "outcome"
RESERVED_VISITOR_ID_COLUMN = "visitor_id"
RESERVED_CELL_COLUMN = "cell"
RESERVED_ROUND_COLUMN = "round"
_PROPENSITY_PREFIX = "propensity"


def propensity_columns(n_treatments: int) -> tuple[str, ...]:
    """Names of the reserved propensity columns for ``n_treatments`` arms (control included)."""
    if n_treatments < 2:
        msg = f"n_treatments={n_treatments}: an experiment needs at least 2 treatments"
        raise ValueError(msg)
    if n_treatments == 2:
        return (_PROPENSITY_PREFIX,)
    return tuple(f"{_PROPENSITY_PREFIX}_{k}" for k in range(1, n_treatments))


def _is_propensity_column(name: str) -> bool:
    if name == _PROPENSITY_PREFIX:
        return True
    head, _, tail = name.partition("_")
    return head == _PROPENSITY_PREFIX and tail.isdigit()


RESERVED_COLUMNS = frozenset(
    {RESERVED_OUTCOME_COLUMN, RESERVED_VISITOR_ID_COLUMN, RESERVED_CELL_COLUMN,
     RESERVED_ROUND_COLUMN}
)


def _is_reserved(name: str) -> bool:
    return name in RESERVED_COLUMNS or _is_propensity_column(name)


# --------------------------------------------------------------------------------------------
# Enums
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Small validation helpers (one place, reused by every contract)
# --------------------------------------------------------------------------------------------


def _require(ok: bool, msg: str, error: type[Exception] = ValueError) -> None:
    if not ok:
        raise error(msg)


def _check_probability(owner: str, name: str, value: float, *, open_interval: bool = False) -> None:
    finite = isinstance(value, (int, float, np.floating)) and math.isfinite(value)
    inside = 0.0 < value < 1.0 if open_interval and finite else finite and 0.0 <= value <= 1.0
    bounds = "(0, 1)" if open_interval else "[0, 1]"
    _require(bool(inside), f"{owner}: {name}={value!r} must be a probability in {bounds}")


def _check_interval(owner: str, name: str, ci: tuple[float, float]) -> None:
    _require(
        isinstance(ci, tuple) and len(ci) == 2,
        f"{owner}: {name}={ci!r} must be a (low, high) tuple",
    )
    low, high = ci
    _require(
        not (math.isfinite(low) and math.isfinite(high)) or low <= high,
        f"{owner}: {name}={ci!r} has low > high; pass (low, high)",
    )


# --------------------------------------------------------------------------------------------
# Visitor data
# --------------------------------------------------------------------------------------------

FeatureKind = Literal["continuous", "categorical", "binary"]


@dataclass(frozen=True, slots=True, kw_only=True)
class VisitorSchema:
    """Which columns are features and how each is encoded as a number.

    The schema travels with the data (and with every posterior fitted on it) so that new
    visitors are encoded exactly as the training visitors were: a categorical level maps to the
    same code, and a level never seen in training is refused rather than silently mis-coded.

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
        _require(
            len(set(self.features)) == len(self.features),
            f"VisitorSchema: duplicate feature names in {self.features!r}; rename them",
            SchemaViolation,
        )
        for name in self.features:
            _require(
                not _is_reserved(name),
                f"VisitorSchema: feature {name!r} uses a reserved column name; rename it "
                f"(reserved: {sorted(RESERVED_COLUMNS)} and propensity columns)",
                SchemaViolation,
            )
            kind = self.kinds.get(name)
            _require(
                kind in ("continuous", "categorical", "binary"),
                f"VisitorSchema: feature {name!r} has kind {kind!r}; use 'continuous', "
                "'categorical' or 'binary'",
                SchemaViolation,
            )
            if kind == "categorical":
                levels = self.categories.get(name)
                _require(
                    levels is not None and len(levels) >= 1,
                    f"VisitorSchema: categorical feature {name!r} needs its levels in "
                    "`categories`",
                    SchemaViolation,
                )
        extra = set(self.kinds) - set(self.features)
        _require(
            not extra,
            f"VisitorSchema: kinds given for unknown features {sorted(extra)}",
            SchemaViolation,
        )

    @property
    def n_features(self) -> int:
        return len(self.features)

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        """Encode ``frame``'s feature columns as a float32 matrix of shape (n, p).

        Raises
        ------
        SchemaViolation
            A feature column is missing, holds NaN, or a categorical value was never seen when
            the schema was built.
        """
        missing = [name for name in self.features if name not in frame.columns]
        _require(
            not missing,
            f"missing feature columns {missing}; the data was encoded with features "
            f"{list(self.features)}",
            SchemaViolation,
        )
        out = np.empty((len(frame), len(self.features)), dtype=np.float32)
        for j, name in enumerate(self.features):
            out[:, j] = self._encode_column(name, frame[name])
        return out

    def _encode_column(self, name: str, column: pd.Series) -> np.ndarray:
        kind = self.kinds[name]
        if kind == "categorical":
            levels = list(self.categories[name])
            codes = pd.Index(levels).get_indexer(column)
            bad = (codes < 0) & column.notna().to_numpy()
            if bad.any():
                first = column[bad].iloc[0]
                msg = (
                    f"feature {name!r}: value {first!r} was not seen when the data was "
                    f"encoded (known levels: {levels[:10]}); map it to a known level"
                )
                raise SchemaViolation(msg)
            values = codes.astype(np.float32)
            values[codes < 0] = np.nan
        elif kind == "binary":
            values = _as_binary(name, column)
        else:
            values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
            values = values.astype(np.float32)
        nan = np.isnan(values)
        if nan.any():
            row = int(np.flatnonzero(nan)[0])
            msg = (
                f"feature {name!r} has {int(nan.sum())} missing or non-numeric value(s) "
                f"(first at row {row}: {column.iloc[row]!r}); impute or drop those rows"
            )
            raise SchemaViolation(msg)
        return values

    def decode_value(self, name: str, code: float) -> Any:
        """The user-facing value of an encoded feature value (levels for categoricals)."""
        if self.kinds[name] == "categorical":
            return self.categories[name][round(code)]
        if self.kinds[name] == "binary":
            return bool(code >= 0.5)
        return float(code)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (categorical levels are stored as strings, ints or floats)."""
        return {
            "features": list(self.features),
            "kinds": dict(self.kinds),
            "categories": {k: [_json_scalar(v) for v in lv] for k, lv in self.categories.items()},
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


def _json_scalar(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def _as_binary(name: str, column: pd.Series) -> np.ndarray:
    if column.dtype == bool:
        return column.to_numpy(dtype=np.float32)
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
    ok = np.isnan(values) | (values == 0) | (values == 1)
    if not ok.all():
        first = column[~ok].iloc[0]
        msg = f"binary feature {name!r} has value {first!r}; binary features take 0/1 or bool"
        raise SchemaViolation(msg)
    return values.astype(np.float32)


def infer_schema(
    frame: pd.DataFrame,
    features: Sequence[str],
    *,
    outcome: str = RESERVED_OUTCOME_COLUMN,
    treatment: str = "treatment",
    visitor_id: str | None = None,
) -> VisitorSchema:
    """Build a :class:`VisitorSchema` from a frame: bools and 0/1 columns are binary, numbers
    continuous, everything else categorical with levels in sorted order."""
    kinds: dict[str, FeatureKind] = {}
    categories: dict[str, tuple[Any, ...]] = {}
    for name in features:
        column = frame[name]
        non_null = column.dropna()
        if column.dtype == bool or (
            pd.api.types.is_numeric_dtype(column) and len(non_null) and non_null.isin([0, 1]).all()
        ):
            kinds[name] = "binary"
        elif pd.api.types.is_numeric_dtype(column):
            kinds[name] = "continuous"
        else:
            kinds[name] = "categorical"
            levels = sorted(non_null.astype(str).unique()) if column.dtype == object else None
            if levels is None or not all(isinstance(v, str) for v in non_null.head(1)):
                levels = sorted(non_null.unique(), key=str)
            categories[name] = tuple(levels)
    return VisitorSchema(
        features=tuple(features),
        kinds=kinds,
        categories=categories,
        outcome=outcome,
        treatment=treatment,
        visitor_id=visitor_id,
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
        _require(
            isinstance(self.name, str) and bool(self.name),
            f"VariantData: name={self.name!r} must be a non-empty string",
            SchemaViolation,
        )
        _require(
            isinstance(self.visitors, pd.DataFrame),
            f"VariantData {self.name!r}: visitors must be a pandas DataFrame, got "
            f"{type(self.visitors).__name__}",
            SchemaViolation,
        )
        _require(
            self.n_visitors == len(self.visitors),
            f"VariantData {self.name!r}: n_visitors={self.n_visitors} but visitors has "
            f"{len(self.visitors)} rows; build it with VariantData.from_visitors",
            AlignmentViolation,
        )
        _require(
            0 <= self.n_conversions <= self.n_visitors,
            f"VariantData {self.name!r}: n_conversions={self.n_conversions} outside "
            f"[0, {self.n_visitors}]",
            SchemaViolation,
        )
        _require(
            RESERVED_OUTCOME_COLUMN in self.visitors.columns,
            f"VariantData {self.name!r}: visitors lack the reserved {RESERVED_OUTCOME_COLUMN!r} "
            "column; load data through pytyche.data.from_dataframe",
            SchemaViolation,
        )

    @classmethod
    def from_visitors(cls, name: str, visitors: pd.DataFrame) -> VariantData:
        """Build a variant from its visitor frame, computing the summary counts."""
        y = visitors[RESERVED_OUTCOME_COLUMN].to_numpy(dtype=np.float64) if (
            RESERVED_OUTCOME_COLUMN in visitors.columns
        ) else np.zeros(0)
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
        is inferred on first use.
    """

    experiment_id: str
    metric: str
    variants: tuple[VariantData, ...]
    schema: VisitorSchema | None = None

    def __post_init__(self) -> None:
        if isinstance(self.variants, list):
            object.__setattr__(self, "variants", tuple(self.variants))
        metric_family_of(self.metric)
        _require(
            len(self.variants) >= 2,
            f"ObservedExperimentData: {len(self.variants)} treatment(s) "
            f"{[v.name for v in self.variants]}; an experiment compares at least 2 (control "
            "first)",
            SchemaViolation,
        )
        names = [v.name for v in self.variants]
        _require(
            len(set(names)) == len(names),
            f"ObservedExperimentData: duplicate treatment names {names}",
            SchemaViolation,
        )
        for v in self.variants:
            _require(
                v.n_visitors > 0,
                f"treatment {v.name!r} has no visitors; drop it or collect data for it",
                SchemaViolation,
            )
        if self.schema is not None:
            for v in self.variants:
                missing = [f for f in self.schema.features if f not in v.visitors.columns]
                _require(
                    not missing,
                    f"treatment {v.name!r}: visitors lack feature columns {missing}",
                    SchemaViolation,
                )

    # ---- derived views (computed on demand; nothing cached on a frozen object) -------------

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

    @property
    def feature_schema(self) -> VisitorSchema:
        """The schema, inferred from the first variant when none was given."""
        if self.schema is not None:
            return self.schema
        columns = [c for c in self.variants[0].visitors.columns if not _is_reserved(c)]
        return infer_schema(self.visitors(), columns)

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

    def feature_matrix(self) -> np.ndarray:
        """Encoded features, float32, shape (n, p)."""
        schema = self.feature_schema
        return np.concatenate([schema.encode(v.visitors) for v in self.variants], axis=0)

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
        _require(
            not missing,
            f"column {name!r} is missing for treatment(s) {missing}",
            SchemaViolation,
        )
        return np.concatenate([v.visitors[name].to_numpy() for v in self.variants])


# --------------------------------------------------------------------------------------------
# Per-visitor arrays and truth
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class AlignedVisitorArray:
    """A per-visitor array aligned with an experiment's concatenated visitor rows."""

    values: np.ndarray
    n_visitors: int

    def __post_init__(self) -> None:
        values = np.asarray(self.values)
        object.__setattr__(self, "values", values)
        _require(
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
        _require(
            MetricFamily(self.metric_family) == metric_family_of(self.metric_id),
            f"CalibrationTruth: metric_family={self.metric_family!r} does not match "
            f"metric_id={self.metric_id!r}",
        )
        lengths = {a.n_visitors for a in self._arrays()}
        _require(
            len(lengths) <= 1,
            f"CalibrationTruth: per-visitor arrays have different lengths {sorted(lengths)}",
            AlignmentViolation,
        )
        paired = self.cate_per_visitor is not None
        multi = self.contrast_cate_per_visitor is not None
        _require(
            not (paired and multi),
            "CalibrationTruth: set either the K = 2 paired fields or the K >= 3 list fields, "
            "not both",
        )
        if multi and self.p_per_visitor is not None:
            _require(
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
        _require(
            n_truth in (0, self.observed.n_visitors),
            f"CalibrationBundle: truth covers {n_truth} visitors but observed data has "
            f"{self.observed.n_visitors}",
            AlignmentViolation,
        )

    def __iter__(self):  # allows `observed, truth = bundle`
        return iter((self.observed, self.truth))


# --------------------------------------------------------------------------------------------
# Segment rules
# --------------------------------------------------------------------------------------------


def _sql_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_literal(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float | np.integer | np.floating):
        return repr(float(value)) if isinstance(value, float | np.floating) else str(int(value))
    return "'" + str(value).replace("'", "''") + "'"


def _query_ident(name: str) -> str:
    return name if name.isidentifier() else f"`{name}`"


def _column(frame: pd.DataFrame, feature: str) -> pd.Series:
    if feature not in frame.columns:
        msg = f"segment rule uses feature {feature!r}, which the data does not have"
        raise SchemaViolation(msg)
    return frame[feature]


class _RuleOps:
    """Boolean algebra shared by every rule: ``a & b`` is a conjunction, ``a | b`` a
    disjunction."""

    __slots__ = ()

    def __and__(self, other: SegmentRule) -> AllOf:
        return AllOf(rules=(*_flatten(self, AllOf), *_flatten(other, AllOf)))

    def __or__(self, other: SegmentRule) -> AnyOf:
        return AnyOf(rules=(*_flatten(self, AnyOf), *_flatten(other, AnyOf)))


def _flatten(rule: Any, kind: type) -> tuple[SegmentRule, ...]:
    return tuple(rule.rules) if isinstance(rule, kind) else (rule,)


@dataclass(frozen=True, slots=True, kw_only=True)
class EqRule(_RuleOps):
    """``feature == value``."""

    feature: str
    value: Any

    def __post_init__(self) -> None:
        _require(bool(self.feature), "EqRule: feature must be a non-empty column name")

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        return (_column(frame, self.feature) == self.value).to_numpy(dtype=bool)

    def to_query(self) -> str:
        return f"{_query_ident(self.feature)} == {_json_scalar(self.value)!r}"

    def to_sql(self) -> str:
        return f"{_sql_ident(self.feature)} = {_sql_literal(self.value)}"

    def describe(self) -> str:
        return f"{self.feature} is {self.value}"


@dataclass(frozen=True, slots=True, kw_only=True)
class InRule(_RuleOps):
    """``feature`` takes one of ``values``."""

    feature: str
    values: tuple[Any, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", tuple(self.values))
        _require(bool(self.feature), "InRule: feature must be a non-empty column name")
        _require(len(self.values) >= 1, f"InRule on {self.feature!r}: values is empty")

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        return _column(frame, self.feature).isin(list(self.values)).to_numpy(dtype=bool)

    def to_query(self) -> str:
        return f"{_query_ident(self.feature)} in {[_json_scalar(v) for v in self.values]!r}"

    def to_sql(self) -> str:
        items = ", ".join(_sql_literal(v) for v in self.values)
        return f"{_sql_ident(self.feature)} IN ({items})"

    def describe(self) -> str:
        return f"{self.feature} in {{{', '.join(map(str, self.values))}}}"


_COMPARISON_OPS = ("<", "<=", ">", ">=")


@dataclass(frozen=True, slots=True, kw_only=True)
class ComparisonRule(_RuleOps):
    """``feature <op> value`` with op one of <, <=, >, >=."""

    feature: str
    op: Literal["<", "<=", ">", ">="]
    value: float

    def __post_init__(self) -> None:
        _require(bool(self.feature), "ComparisonRule: feature must be a non-empty column name")
        _require(
            self.op in _COMPARISON_OPS,
            f"ComparisonRule on {self.feature!r}: op={self.op!r}; use one of {_COMPARISON_OPS}",
        )
        _require(
            math.isfinite(float(self.value)),
            f"ComparisonRule on {self.feature!r}: value={self.value!r} must be finite",
        )

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        col = pd.to_numeric(_column(frame, self.feature), errors="coerce").to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            return {
                "<": col < self.value,
                "<=": col <= self.value,
                ">": col > self.value,
                ">=": col >= self.value,
            }[self.op]

    def to_query(self) -> str:
        return f"{_query_ident(self.feature)} {self.op} {float(self.value)!r}"

    def to_sql(self) -> str:
        return f"{_sql_ident(self.feature)} {self.op} {float(self.value)!r}"

    def describe(self) -> str:
        return f"{self.feature} {self.op} {float(self.value):.4g}"


@dataclass(frozen=True, slots=True, kw_only=True)
class BetweenRule(_RuleOps):
    """``low <= feature < high`` (closed on the left, open on the right)."""

    feature: str
    low: float
    high: float

    def __post_init__(self) -> None:
        _require(bool(self.feature), "BetweenRule: feature must be a non-empty column name")
        _require(
            float(self.low) < float(self.high),
            f"BetweenRule on {self.feature!r}: low={self.low} must be below high={self.high}",
        )

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        col = pd.to_numeric(_column(frame, self.feature), errors="coerce").to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            return (col >= self.low) & (col < self.high)

    def to_query(self) -> str:
        name = _query_ident(self.feature)
        return f"({name} >= {float(self.low)!r}) and ({name} < {float(self.high)!r})"

    def to_sql(self) -> str:
        name = _sql_ident(self.feature)
        return f"({name} >= {float(self.low)!r} AND {name} < {float(self.high)!r})"

    def describe(self) -> str:
        return f"{float(self.low):.4g} <= {self.feature} < {float(self.high):.4g}"


@dataclass(frozen=True, slots=True, kw_only=True)
class AllOf(_RuleOps):
    """Conjunction: a visitor is in the segment when every rule holds. ``AllOf(rules=())`` is
    the whole population."""

    rules: tuple[SegmentRule, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", tuple(self.rules))

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        out = np.ones(len(frame), dtype=bool)
        for rule in self.rules:
            out &= rule.mask(frame)
        return out

    def to_query(self) -> str:
        return " and ".join(f"({r.to_query()})" for r in self.rules) or "index == index"

    def to_sql(self) -> str:
        return " AND ".join(f"({r.to_sql()})" for r in self.rules) or "TRUE"

    def describe(self) -> str:
        return " and ".join(r.describe() for r in self.rules) or "everyone"


@dataclass(frozen=True, slots=True, kw_only=True)
class AnyOf(_RuleOps):
    """Disjunction: a visitor is in the segment when at least one rule holds."""

    rules: tuple[SegmentRule, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", tuple(self.rules))
        _require(len(self.rules) >= 1, "AnyOf needs at least one rule")

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        out = np.zeros(len(frame), dtype=bool)
        for rule in self.rules:
            out |= rule.mask(frame)
        return out

    def to_query(self) -> str:
        return " or ".join(f"({r.to_query()})" for r in self.rules)

    def to_sql(self) -> str:
        return " OR ".join(f"({r.to_sql()})" for r in self.rules)

    def describe(self) -> str:
        return " or ".join(f"({r.describe()})" for r in self.rules)


SegmentRule = EqRule | InRule | ComparisonRule | BetweenRule | AllOf | AnyOf
"""A predicate over visitor features: one of the four atoms or a conjunction/disjunction."""

_RULE_TYPES: dict[str, type] = {
    "eq": EqRule, "in": InRule, "cmp": ComparisonRule, "between": BetweenRule,
    "all": AllOf, "any": AnyOf,
}


def rule_to_dict(rule: SegmentRule) -> dict[str, Any]:
    """JSON-ready form of a rule (inverse of :func:`rule_from_dict`)."""
    if isinstance(rule, EqRule):
        return {"type": "eq", "feature": rule.feature, "value": _json_scalar(rule.value)}
    if isinstance(rule, InRule):
        return {"type": "in", "feature": rule.feature,
                "values": [_json_scalar(v) for v in rule.values]}
    if isinstance(rule, ComparisonRule):
        return {"type": "cmp", "feature": rule.feature, "op": rule.op, "value": float(rule.value)}
    if isinstance(rule, BetweenRule):
        return {"type": "between", "feature": rule.feature, "low": float(rule.low),
                "high": float(rule.high)}
    if isinstance(rule, AllOf | AnyOf):
        return {"type": "all" if isinstance(rule, AllOf) else "any",
                "rules": [rule_to_dict(r) for r in rule.rules]}
    msg = f"not a segment rule: {rule!r}"
    raise TypeError(msg)


def rule_from_dict(data: Mapping[str, Any]) -> SegmentRule:
    """Rebuild a rule from :func:`rule_to_dict` output."""
    kind = data.get("type")
    if kind not in _RULE_TYPES:
        msg = f"unknown rule type {kind!r}; expected one of {sorted(_RULE_TYPES)}"
        raise ValueError(msg)
    if kind in ("all", "any"):
        return _RULE_TYPES[kind](rules=tuple(rule_from_dict(r) for r in data["rules"]))
    fields = {k: v for k, v in data.items() if k != "type"}
    if kind == "in":
        fields["values"] = tuple(fields["values"])
    return _RULE_TYPES[kind](**fields)


# --------------------------------------------------------------------------------------------
# Analysis outputs
# --------------------------------------------------------------------------------------------


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
        _check_interval(owner, "gate_ci", self.gate_ci)
        if not math.isnan(self.stability_score):
            _check_probability(owner, "stability_score", self.stability_score)
        _check_probability(owner, "population_share", self.population_share)
        if self.arm_best_probabilities:
            total = sum(self.arm_best_probabilities.values())
            _require(
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
        _require(
            len(shape) == 2 and shape[1] == len(self.treatments),
            f"DecompositionSamples: revenue has shape {shape}; expected (S, "
            f"{len(self.treatments)})",
            AlignmentViolation,
        )
        for name in ("conversion", "basket", "conversion_rate_effect", "basket_size_effect"):
            _require(
                np.shape(getattr(self, name)) == shape,
                f"DecompositionSamples: {name} has shape {np.shape(getattr(self, name))}, "
                f"revenue has {shape}",
                AlignmentViolation,
            )


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
            _check_probability("DecisionThresholds", name, getattr(self, name),
                               open_interval=True)
        _require(
            self.loss_tolerance > 0 and math.isfinite(self.loss_tolerance),
            f"DecisionThresholds: loss_tolerance={self.loss_tolerance} must be positive",
        )
        _require(
            self.min_practical_effect >= 0 and math.isfinite(self.min_practical_effect),
            f"DecisionThresholds: min_practical_effect={self.min_practical_effect} must be >= 0",
        )
        _require(
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
        _require(isinstance(self.decision, Decision), f"{owner}: decision must be a Decision")
        for name in ("p_positive", "p_better", "p_harmful"):
            _check_probability(owner, name, getattr(self, name))
        _require(
            self.expected_loss >= 0,
            f"{owner}: expected_loss={self.expected_loss} must be >= 0",
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
        _check_interval(owner, "effect_ci", self.effect_ci)
        if self.model_ci is not None:
            _check_interval(owner, "model_ci", self.model_ci)
        _check_probability(owner, "level", self.level, open_interval=True)
        _check_probability(owner, "p_best", self.p_best)


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
        _check_probability("AnalysisResult", "level", self.level, open_interval=True)
        _require(
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
        _require(
            leaf_ids == sorted(leaf_ids),
            f"PolicyTreeResult: segments must be ordered by leaf id, got {leaf_ids}",
        )
        _require(
            set(self.allocation_map) == set(leaf_ids) == set(self.stability_scores),
            "PolicyTreeResult: allocation_map, stability_scores and segments must cover the "
            f"same leaves (segments: {leaf_ids}, allocation: {sorted(self.allocation_map)})",
        )
        for leaf, shares in self.allocation_map.items():
            total = sum(shares.values())
            _require(
                abs(total - 1.0) < 1e-6 and all(v >= 0 for v in shares.values()),
                f"PolicyTreeResult: allocation of leaf {leaf} sums to {total}; each leaf's "
                "shares must be non-negative and sum to 1",
            )


# --------------------------------------------------------------------------------------------
# Calibration records
# --------------------------------------------------------------------------------------------


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
        _require(
            len(self.segment_coverage) == len(self.nominal_levels) == len(self.arm_coverage),
            f"{owner}: nominal_levels, segment_coverage and arm_coverage need equal lengths",
        )
        for level in self.nominal_levels:
            _check_probability(owner, "nominal level", level, open_interval=True)
        for cov in (*self.segment_coverage, *self.arm_coverage):
            if not math.isnan(cov):
                _check_probability(owner, "coverage", cov)
        _require(self.n_visitors > 0, f"{owner}: n_visitors must be positive")
        _require(self.n_treatments >= 2, f"{owner}: n_treatments must be >= 2")
