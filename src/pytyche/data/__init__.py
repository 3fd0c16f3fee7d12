"""Real data in: load visitor-level experiment data from a DataFrame, CSV, Parquet or SQL.

Every loader returns an :class:`~pytyche.contracts.ObservedExperimentData` (one variant per
treatment, control first) with the inferred :class:`~pytyche.contracts.VisitorSchema`
attached, or raises :class:`~pytyche.errors.SchemaViolation` naming the column, the value and
the fix (the rules are tabled in ``docs/validation.md``). :func:`encode_new_visitors` encodes
later visitors with that same schema; :func:`check_fittable` checks, by treatment name, what a
fit needs of loaded data.

Feature encoding lives here, not on the contract types: :func:`infer_schema` and
:func:`feature_schema` say which columns are features and of which kind, and
:func:`feature_matrix` is the model's input, encoded once per data object.

DuckDB is imported only inside :func:`read_sql`.
"""

from __future__ import annotations

from pytyche.data._encode import encode_new_visitors, feature_matrix
from pytyche.data._frame import from_dataframe
from pytyche.data._metric import HURDLE_ZERO_SHARE, infer_metric
from pytyche.data._readers import (
    file_kind,
    looks_like_sql,
    read_csv,
    read_parquet,
    read_sql,
    source_kind,
)
from pytyche.data._schema import feature_schema, infer_schema
from pytyche.data._validate import check_fittable, check_observed, fittable_outcomes

__all__ = [
    "HURDLE_ZERO_SHARE",
    "check_fittable",
    "check_observed",
    "encode_new_visitors",
    "feature_matrix",
    "feature_schema",
    "file_kind",
    "fittable_outcomes",
    "from_dataframe",
    "infer_metric",
    "infer_schema",
    "looks_like_sql",
    "read_csv",
    "read_parquet",
    "read_sql",
    "source_kind",
]
