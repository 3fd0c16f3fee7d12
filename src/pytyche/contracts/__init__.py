"""Contract types shared by every layer of pytyche.

Frozen, keyword-only dataclasses and enums, one module per kind: :mod:`~.columns` (reserved
visitor columns), :mod:`~.enums`, :mod:`~.visitors` (schema, variants, experiment data),
:mod:`~.truth`, :mod:`~.rules` (segment rules), :mod:`~.decisions` (thresholds and the SHIP
gate), :mod:`~.results` (what an analysis produces) and :mod:`~.calibration`, all re-exported
here. Their ``__post_init__`` only validates; behaviour lives in the layers that produce and
consume them (encoding features and inferring a schema: :mod:`pytyche.data`). Every error names
the field, shows the value and says what to do instead.

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

from pytyche.contracts.calibration import CalibrationRecord
from pytyche.contracts.columns import (
    RESERVED_CELL_COLUMN,
    RESERVED_COLUMNS,
    RESERVED_OUTCOME_COLUMN,
    RESERVED_ROUND_COLUMN,
    RESERVED_VISITOR_ID_COLUMN,
    is_reserved_column,
    propensity_columns,
)
from pytyche.contracts.decisions import (
    DecisionThresholds,
    RecommendationSummary,
    passes_ship_gate,
)
from pytyche.contracts.enums import (
    METRIC_FAMILIES,
    ClaimLevel,
    Decision,
    MetricFamily,
    metric_family_of,
)
from pytyche.contracts.results import (
    AnalysisResult,
    ComparisonResult,
    DecompositionSamples,
    DiscoveredSegment,
    PolicyTreeResult,
)
from pytyche.contracts.rules import (
    AllOf,
    AnyOf,
    BetweenRule,
    ComparisonRule,
    EqRule,
    InRule,
    SegmentRule,
    rule_from_dict,
    rule_to_dict,
)
from pytyche.contracts.truth import AlignedVisitorArray, CalibrationBundle, CalibrationTruth
from pytyche.contracts.visitors import (
    FeatureKind,
    ObservedExperimentData,
    VariantData,
    VisitorSchema,
)

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
    "FeatureKind",
    "InRule",
    "MetricFamily",
    "ObservedExperimentData",
    "PolicyTreeResult",
    "RecommendationSummary",
    "SegmentRule",
    "VariantData",
    "VisitorSchema",
    "is_reserved_column",
    "metric_family_of",
    "passes_ship_gate",
    "propensity_columns",
    "rule_from_dict",
    "rule_to_dict",
]
