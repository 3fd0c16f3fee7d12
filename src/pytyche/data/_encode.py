"""Encoding of new visitors with the schema of already loaded data."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pytyche.contracts import ObservedExperimentData, VisitorSchema
from pytyche.errors import SchemaViolation

__all__ = ["encode_new_visitors"]


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
        schema = source.feature_schema
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
    return schema.encode(visitors)
