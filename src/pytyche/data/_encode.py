"""Feature encoding: a visitor frame as the float32 matrix the model reads, by its schema."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pytyche.contracts import ObservedExperimentData, VisitorSchema
from pytyche.data._schema import feature_schema
from pytyche.data._validate import FEATURE_LIMIT
from pytyche.data._values import first_row, shown
from pytyche.errors import SchemaViolation

__all__ = ["encode_features", "encode_new_visitors", "feature_matrix"]


def encode_new_visitors(
    source: ObservedExperimentData | VisitorSchema, visitors: pd.DataFrame
) -> np.ndarray:
    """Encode unseen visitors exactly as the training visitors were encoded.

    Parameters
    ----------
    source : ObservedExperimentData or VisitorSchema
        Loaded data (its ``feature_schema`` is used) or a schema, for example one restored with
        :meth:`VisitorSchema.from_dict`.
    visitors : pandas.DataFrame
        One row per new visitor with (at least) the feature columns, under their original
        names. Other columns are ignored.

    Returns
    -------
    numpy.ndarray
        float32, shape (n, p): features in schema order, categoricals as level codes and
        binaries as 0/1.

    Raises
    ------
    SchemaViolation
        ``visitors`` is not a DataFrame, lacks a feature column, has missing values, or holds a
        categorical level never seen in the training data.
    TypeError
        ``source`` is neither ObservedExperimentData nor VisitorSchema.
    """
    if isinstance(source, ObservedExperimentData):
        schema = feature_schema(source)
    elif isinstance(source, VisitorSchema):
        schema = source
    else:
        msg = (
            f"source must be ObservedExperimentData or VisitorSchema, got "
            f"{type(source).__name__}"
        )
        raise TypeError(msg)
    if not isinstance(visitors, pd.DataFrame):
        msg = (
            f"visitors must be a pandas DataFrame with columns {list(schema.features)}, got "
            f"{type(visitors).__name__}"
        )
        raise SchemaViolation(msg)
    return encode_features(schema, visitors)


def feature_matrix(observed: ObservedExperimentData, *, refresh: bool = False) -> np.ndarray:
    """Encoded features of every visitor, in variant order: float32, shape (n, p), read-only.

    Encoded once per object and kept on it (an analysis reads the matrix many times); the
    array is read-only so that no caller can change what the next one reads. ``refresh=True``
    encodes afresh: a fit asks for that, so visitor frames edited in place since the last
    encoding are fitted as they are now, the same values its data checks just read.
    """
    matrix = None if refresh else observed._feature_matrix
    if matrix is None:
        schema = feature_schema(observed)
        matrix = np.concatenate(
            [encode_features(schema, v.visitors) for v in observed.variants], axis=0
        )
        matrix.flags.writeable = False
        object.__setattr__(observed, "_feature_matrix", matrix)
    return matrix


def encode_features(schema: VisitorSchema, frame: pd.DataFrame) -> np.ndarray:
    """Encode ``frame``'s feature columns as a float32 matrix of shape (n, p).

    Raises
    ------
    SchemaViolation
        A feature column is missing, holds NaN, or a categorical value was never seen when
        the schema was built.
    """
    missing = [name for name in schema.features if name not in frame.columns]
    if missing:
        msg = (
            f"missing feature columns {missing}; the data was encoded with features "
            f"{list(schema.features)}"
        )
        raise SchemaViolation(msg)
    out = np.empty((len(frame), len(schema.features)), dtype=np.float32)
    for j, name in enumerate(schema.features):
        out[:, j] = _encode_column(schema, name, frame[name])
    return out


def _encode_column(schema: VisitorSchema, name: str, column: pd.Series) -> np.ndarray:
    kind = schema.kinds[name]
    if kind == "categorical":
        levels = list(schema.categories[name])
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
        big = np.abs(values) > FEATURE_LIMIT  # inf included; float32 would make them inf
        if big.any():
            row = first_row(big)
            msg = (
                f"feature {name!r} has {int(big.sum())} infinite value(s) or value(s) beyond "
                f"float32's range (first at row {row}: {shown(column.iloc[row])}); cap or drop "
                "those rows"
            )
            raise SchemaViolation(msg)
        values = values.astype(np.float32)
    nan = np.isnan(values)
    if nan.any():
        row = first_row(nan)
        msg = (
            f"feature {name!r} has {int(nan.sum())} missing or non-numeric value(s) "
            f"(first at row {row}: {column.iloc[row]!r}); impute or drop those rows"
        )
        raise SchemaViolation(msg)
    return values


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

