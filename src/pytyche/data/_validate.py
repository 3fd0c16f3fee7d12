"""The validation rules every entry point shares (DataFrame, CSV/TSV, Parquet, SQL, CLI, rounds).

Each rule is a small function raising :class:`~pytyche.errors.SchemaViolation` (or warning
with :class:`~pytyche.errors.PytycheWarning`) in the user's terms: their column names, their
0-based row positions, their treatment labels. ``docs/validation.md`` lists the rules as a
table; keep the two in step.
"""

from __future__ import annotations

import decimal
import numbers
import re
import warnings
from collections.abc import Hashable, Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from pytyche.data._values import shown
from pytyche.errors import PytycheWarning, SchemaViolation

__all__ = [
    "FEATURE_LIMIT",
    "OUTCOME_LIMIT",
    "check_fittable",
    "check_float32_values",
    "check_outcome_range",
    "check_outcome_varies",
    "check_raw_header",
    "date_like",
    "decimals_to_float",
    "index_like",
    "is_internal_name",
    "is_number",
    "normalise_labels",
]

#: Largest outcome magnitude accepted. The engine standardises y in float32 (mean, sum of
#: squares); squares of values near 1.8e19 already overflow float32, and a sum over many
#: visitors overflows far earlier, so 1e15 keeps n * y^2 finite up to ~3e8 visitors.
OUTCOME_LIMIT = 1e15
#: Largest feature magnitude accepted: features are encoded as float32.
FEATURE_LIMIT = float(np.finfo(np.float32).max)
#: Fewest visitors per treatment a fit accepts (the engine's floor for any config).
MIN_VISITORS_PER_TREATMENT = 10
#: Fewest converters (outcome > 0) per treatment a revenue (hurdle) fit accepts.
MIN_CONVERTERS_PER_TREATMENT = 2

_INDEX_NAME = re.compile(r"(Unnamed: \d+(_level_\d+)?|__index_level_\d+__|index|level_0)")
_DATE = re.compile(
    r"\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?"
    r"|\d{1,2}/\d{1,2}/\d{2,4}( \d{1,2}:\d{2}(:\d{2})?)?"
    r"|\d{4}/\d{1,2}/\d{1,2}"
)
_DATE_SAMPLE = 50
_MAX_LISTED = 10


# --------------------------------------------------------------------------------------------
# Column names
# --------------------------------------------------------------------------------------------


def is_internal_name(name: Hashable) -> bool:
    """Whether a column name is of the ``__name__`` form pytyche keeps for its own columns
    (``__treatment__`` in saved posteriors, pyarrow's ``__index_level_0__``)."""
    return isinstance(name, str) and len(name) > 4 and name.startswith("__") and name.endswith(
        "__")


def check_raw_header(names: Sequence[Any], *, source: str) -> None:
    """Refuse a header that names a column twice or leaves a name empty.

    Run it on the header as written in the file or returned by the query, before pandas or
    DuckDB rename copies (``revenue.1``, ``revenue_1``): renamed, a copy of the outcome or of
    the treatment would silently become a feature.
    """
    text = [str(n) for n in names]
    seen: dict[str, int] = {}
    for n in text:
        seen[n] = seen.get(n, 0) + 1
    repeated = [n for n, c in seen.items() if c > 1]
    if repeated:
        msg = (
            f"{source} names column(s) {repeated[:_MAX_LISTED]} more than once; rename or "
            "drop the copies (pytyche refuses to guess which copy is the real one)"
        )
        raise SchemaViolation(msg)
    blank = [i for i, n in enumerate(text) if not n.strip()]
    if blank:
        msg = (
            f"{source} has column(s) without a name at position(s) {blank[:_MAX_LISTED]} "
            "(0-based); name them, or drop them if they are a saved row index"
        )
        raise SchemaViolation(msg)


def index_like(name: Hashable, column: pd.Series) -> bool:
    """Whether a column looks like a row index saved with the data (``Unnamed: 0`` from
    ``to_csv`` without ``index=False``, pyarrow's ``__index_level_0__``)."""
    if not isinstance(name, str) or not _INDEX_NAME.fullmatch(name):
        return False
    if name.startswith(("Unnamed:", "__index_level_")):
        return True
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    n = len(values)
    return bool(n) and (
        np.array_equal(values, np.arange(n)) or np.array_equal(values, np.arange(1, n + 1))
    )


def date_like(column: pd.Series) -> bool:
    """Whether a text column holds dates or timestamps written as text (checked on a sample)."""
    if not (pd.api.types.is_object_dtype(column.dtype) or pd.api.types.is_string_dtype(
            column.dtype)):
        return False
    sample = column.dropna().head(_DATE_SAMPLE)
    if len(sample) == 0:
        return False
    return all(isinstance(v, str) and _DATE.fullmatch(v.strip()) for v in sample)


# --------------------------------------------------------------------------------------------
# Treatment labels
# --------------------------------------------------------------------------------------------


def normalise_labels(
    levels: Sequence[Any], *, column: str
) -> tuple[list[str], list[int], list[Any]]:
    """Arm names for the distinct values of a treatment column.

    Surrounding whitespace is removed (``" Control"`` is ``"Control"``), with a
    :class:`~pytyche.errors.PytycheWarning` naming every label that was merged. Labels that
    still differ only by letter case, labels that are blank, and values of different types
    that print the same (``1`` and ``"1"``) are refused.

    Returns
    -------
    names : list of str
        Distinct arm names, in sorted order (numeric when every level is a number).
    group : list of int
        For each entry of ``levels``, the index of its arm in ``names``.
    raw : list
        For each arm, the first raw level that maps to it (used for numeric sorting).
    """
    labels = [str(v).strip() for v in levels]
    blank = [v for v, label in zip(levels, labels, strict=True) if not label]
    if blank:
        msg = (
            f"treatment column {column!r} has blank label(s) {', '.join(shown(v) for v in blank)}; "
            "every visitor needs a named arm, so label or drop those rows"
        )
        raise SchemaViolation(msg)
    groups: dict[str, list[Any]] = {}
    for value, label in zip(levels, labels, strict=True):
        groups.setdefault(label, []).append(value)
    for label, values in groups.items():
        if len(values) > 1 and not all(isinstance(v, str) for v in values):
            msg = (
                f"treatment column {column!r} has levels {', '.join(shown(v) for v in values)} of "
                f"different types that all read as {label!r}; relabel them so each arm has "
                f"one distinct name (e.g. df[{column!r}].astype(str))"
            )
            raise SchemaViolation(msg)
    merged = {label: values for label, values in groups.items() if len(values) > 1}
    if merged:
        listed = "; ".join(
            f"{', '.join(shown(v) for v in values)} read as {label!r}"
            for label, values in merged.items()
        )
        msg = (
            f"treatment column {column!r}: labels with surrounding spaces were merged ({listed}); "
            f"strip them at the source (df[{column!r}].str.strip()) to silence this warning"
        )
        warnings.warn(msg, PytycheWarning, stacklevel=4)
    folded: dict[str, list[str]] = {}
    for label in groups:
        folded.setdefault(label.casefold(), []).append(label)
    clashes = [names for names in folded.values() if len(names) > 1]
    if clashes:
        msg = (
            f"treatment column {column!r} has labels that differ only by letter case: "
            f"{clashes[:_MAX_LISTED]}; pytyche will not guess whether they are one arm. "
            f"Relabel them (e.g. df[{column!r}] = df[{column!r}].str.strip().str.lower()) "
            "or fix the export"
        )
        raise SchemaViolation(msg)
    first = {label: values[0] for label, values in groups.items()}
    if all(is_number(v) for v in levels):
        names = sorted(first, key=lambda label: first[label])
    else:
        names = sorted(first)
    position = {label: k for k, label in enumerate(names)}
    return names, [position[label] for label in labels], [first[n] for n in names]


def is_number(value: Any) -> bool:
    """A real number that is not a boolean."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


# --------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------


def decimals_to_float(column: pd.Series) -> pd.Series:
    """An object column of :class:`decimal.Decimal` values (Parquet ``decimal128``) as float64.

    Other columns are returned unchanged.
    """
    if not pd.api.types.is_object_dtype(column.dtype):
        return column
    values = column.dropna()
    if len(values) == 0 or not any(isinstance(v, decimal.Decimal) for v in values):
        return column
    if not all(isinstance(v, decimal.Decimal | int | float) and not isinstance(v, bool)
               for v in values):
        return column
    return column.map(lambda v: float(v) if isinstance(v, decimal.Decimal) else v)


def check_outcome_range(y: np.ndarray, *, name: str) -> None:
    """Refuse outcome magnitudes above :data:`OUTCOME_LIMIT` (first row named)."""
    big = np.abs(y) > OUTCOME_LIMIT
    if big.any():
        row = int(np.flatnonzero(big)[0])
        msg = (
            f"outcome {name!r} has {int(big.sum())} value(s) beyond ±{OUTCOME_LIMIT:g} (first "
            f"at row {row} (0-based): {shown(y[row])}); the model computes in float32 and would "
            "overflow. Check that the column is an outcome and not an id, or rescale it (e.g. "
            "cents to thousands)"
        )
        raise SchemaViolation(msg)


def check_outcome_varies(y: np.ndarray, *, name: str) -> None:
    """Refuse an outcome that takes one value for every visitor, also after the float32
    rounding the model applies."""
    if y.size == 0:
        return
    if np.all(y == y[0]):
        msg = (
            f"outcome {name!r} is {shown(y[0])} for all {y.size} visitors; a constant outcome "
            "carries no effect to estimate. Check the outcome column or the rows selected"
        )
        raise SchemaViolation(msg)
    y32 = y.astype(np.float32)
    if np.all(y32 == y32[0]):
        msg = (
            f"outcome {name!r} varies only below float32 resolution around {shown(y[0])}; "
            "subtract a baseline (y - y.mean()) or change its unit before loading"
        )
        raise SchemaViolation(msg)


def check_float32_values(values: np.ndarray, *, name: str) -> None:
    """Refuse a numeric feature whose values overflow float32 (first row named)."""
    big = np.abs(values) > FEATURE_LIMIT
    if big.any():
        row = int(np.flatnonzero(big)[0])
        msg = (
            f"feature {name!r} has {int(big.sum())} value(s) beyond float32's range ±"
            f"{FEATURE_LIMIT:.3g} (first at row {row} (0-based): {shown(values[row])}); "
            "rescale it (e.g. take a log) or drop it from features"
        )
        raise SchemaViolation(msg)


# --------------------------------------------------------------------------------------------
# Before a fit
# --------------------------------------------------------------------------------------------


def check_fittable(observed: Any, *, min_visitors: int = MIN_VISITORS_PER_TREATMENT) -> None:
    """Check, by treatment name, what a BCF fit needs of loaded data.

    A fit needs at least ``min_visitors`` visitors in every treatment, and for revenue (the
    hurdle model) at least :data:`MIN_CONVERTERS_PER_TREATMENT` converters in every treatment.
    Loading checks neither (a single round of a sequential experiment may be small; the
    cumulative data is what gets fitted), so call this before fitting one data set.

    Raises
    ------
    SchemaViolation
        Naming the treatment, its count and the fix.
    """
    from pytyche.contracts import MetricFamily

    small = [(v.name, v.n_visitors) for v in observed.variants if v.n_visitors < min_visitors]
    if small:
        msg = (
            f"treatment(s) {_pairs(small)} have fewer than {min_visitors} visitors, the fewest "
            "a fit accepts; collect more data or drop those treatments"
        )
        raise SchemaViolation(msg)
    if observed.metric_family == MetricFamily.HURDLE:
        few = [(v.name, v.n_conversions) for v in observed.variants
               if v.n_conversions < MIN_CONVERTERS_PER_TREATMENT]
        if few:
            msg = (
                f"treatment(s) {_pairs(few)} have fewer than {MIN_CONVERTERS_PER_TREATMENT} "
                "visitors with a positive outcome; the revenue model needs some per treatment "
                "to estimate basket size. Collect more data or pass metric='conversion_rate'"
            )
            raise SchemaViolation(msg)


def _pairs(items: Iterable[tuple[str, int]]) -> str:
    return ", ".join(f"{name!r} ({count})" for name, count in items)
