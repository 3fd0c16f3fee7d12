"""Schema inference: which columns are features, and of which kind."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from pytyche.contracts import (
    RESERVED_OUTCOME_COLUMN,
    FeatureKind,
    ObservedExperimentData,
    VisitorSchema,
    is_reserved_column,
)

__all__ = ["feature_schema", "infer_schema"]


def infer_schema(
    frame: pd.DataFrame,
    features: Sequence[str],
    *,
    outcome: str = RESERVED_OUTCOME_COLUMN,
    treatment: str = "treatment",
    visitor_id: str | None = None,
) -> VisitorSchema:
    """Build a :class:`~pytyche.contracts.VisitorSchema` from a frame: bools and 0/1 columns
    are binary, numbers continuous, everything else categorical with levels in sorted order."""
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


def feature_schema(observed: ObservedExperimentData) -> VisitorSchema:
    """The schema of ``observed``: its own, or one inferred over all its visitors with every
    non-reserved column of the first variant as a feature."""
    if observed.schema is not None:
        return observed.schema
    columns = [c for c in observed.variants[0].visitors.columns if not is_reserved_column(c)]
    return infer_schema(observed.visitors(), columns)
