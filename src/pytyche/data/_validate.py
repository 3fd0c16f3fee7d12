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

from pytyche.data._values import first_row, shown
from pytyche.errors import PytycheWarning, SchemaViolation

__all__ = [
    "FEATURE_LIMIT",
    "MAX_TREATMENTS",
    "MIN_CONVERTERS_PER_TREATMENT",
    "MIN_VISITORS_PER_TREATMENT",
    "OUTCOME_LIMIT",
    "check_fittable",
    "check_float32_values",
    "check_internal_names",
    "check_observed",
    "check_outcome_range",
    "check_outcome_varies",
    "check_raw_header",
    "date_like",
    "decimals_to_float",
    "fittable_outcomes",
    "index_like",
    "is_internal_name",
    "is_number",
    "normalise_labels",
    "unencodable",
]

#: Largest outcome magnitude accepted. The engine standardises y in float32 (mean, sum of
#: squares); squares of values near 1.8e19 already overflow float32, and a sum over many
#: visitors overflows far earlier, so 1e15 keeps n * y^2 finite up to ~3e8 visitors.
OUTCOME_LIMIT = 1e15
#: Largest feature magnitude accepted: features are encoded as float32.
FEATURE_LIMIT = float(np.finfo(np.float32).max)
#: Most treatments (control included) one fit takes.
MAX_TREATMENTS = 10
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


def check_internal_names(features: Sequence[Any], *, frame: str) -> None:
    """Refuse feature names of the :func:`is_internal_name` form: a saved posterior could not
    keep them apart from its own columns. ``frame`` names the user's frame in the fix."""
    internal = [name for name in features if is_internal_name(name)]
    if internal:
        msg = (
            f"feature(s) {internal[:_MAX_LISTED]} use the __name__ form pytyche reserves for "
            "its own columns (a saved posterior stores the arm as __treatment__); rename them, "
            f"e.g. {frame}.rename(columns={{{internal[0]!r}: {internal[0].strip('_')!r}}})"
        )
        raise SchemaViolation(msg)


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
    _refuse_beyond(y, OUTCOME_LIMIT, f"outcome {name!r}", f"±{OUTCOME_LIMIT:g}",
                   "the model computes in float32 and would overflow. Check that the column is "
                   "an outcome and not an id, or rescale it (e.g. cents to thousands)")


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
    _refuse_beyond(values, FEATURE_LIMIT, f"feature {name!r}",
                   f"float32's range ±{FEATURE_LIMIT:.3g}",
                   "rescale it (e.g. take a log) or drop it from features")


def _refuse_beyond(values: np.ndarray, limit: float, what: str, bound: str, fix: str) -> None:
    """Refuse magnitudes above ``limit``, counting them and naming the first row."""
    big = np.abs(values) > limit
    if big.any():
        row = first_row(big)
        msg = (f"{what} has {int(big.sum())} value(s) beyond {bound} (first at row {row} "
               f"(0-based): {shown(values[row])}); {fix}")
        raise SchemaViolation(msg)


# --------------------------------------------------------------------------------------------
# Before a fit: the data as the engine will see it, in the user's terms
# --------------------------------------------------------------------------------------------
#
# Loading already refuses everything below, naming the row of the loaded frame. These checks
# run again at the fit entry because an ObservedExperimentData may also be built by hand
# (VariantData.from_visitors on slices of the user's frame) or its visitor frames changed after
# loading; the engine would then see bare arrays and could only say "X row 35, column 0" or
# "arm 1". Here a bad value is named by its column, its treatment, its visitor id when there
# is one, and its row: the row label of the treatment's visitor frame when that frame keeps
# the user's index, its position within that treatment otherwise.


def check_fittable(
    observed: Any,
    *,
    family: str | None = None,
    min_visitors: int = MIN_VISITORS_PER_TREATMENT,
) -> None:
    """Check, in the user's terms, everything a BCF fit needs of observed data.

    Checks the number of treatments (2 to :data:`MAX_TREATMENTS`), that there is at least one
    feature, every outcome and feature value (numeric, present, finite, within what the model
    computes in float32, a known level for categoricals), what the likelihood of ``family``
    needs (0/1 outcomes for ``"binary"``; non-negative outcomes with zeros and positives for
    ``"hurdle"``), that the outcome varies, the visitors per treatment and, for revenue, the
    converters per treatment.

    Loading checks all values but not the counts (a single round of a sequential experiment
    may be small; the cumulative data is what gets fitted). Every ``fit_*_bcf`` calls this
    first; call it yourself to check data before committing to a fit.

    Parameters
    ----------
    observed : ObservedExperimentData
        The data to fit.
    family : {"binary", "continuous", "hurdle"}, optional
        The likelihood of the fit; ``observed.metric``'s family when omitted.
    min_visitors : int, default=10
        Fewest visitors a treatment may have (the engine needs two minimum-size leaves:
        ``max(10, 2 * min_samples_leaf)``).

    Raises
    ------
    SchemaViolation
        Naming the column, the treatment, the visitor / row and the fix.
    TypeError
        ``observed`` is not an ObservedExperimentData.
    """
    from pytyche.contracts import MetricFamily
    from pytyche.data._schema import feature_schema

    check_observed(observed)
    family = observed.metric_family.value if family is None else str(family)
    if family not in {f.value for f in MetricFamily}:
        msg = f"family={family!r}; use one of {sorted(f.value for f in MetricFamily)}"
        raise ValueError(msg)
    _check_treatment_count(observed)
    schema = feature_schema(observed)
    if schema.n_features == 0:
        msg = (
            "the data has no feature columns; the model estimates effects as functions of "
            "pre-treatment features, so load the data with at least one (name it in "
            "features=[...], or leave features=None to take every other column)"
        )
        raise SchemaViolation(msg)
    _check_feature_names(observed, schema.features)
    outcomes = fittable_outcomes(observed)
    for name in schema.features:
        _check_feature_values(observed, schema, name)
    check_outcome_varies(np.concatenate(outcomes), name=_outcome_name(observed))
    _check_family(observed, outcomes, family)
    small = [(v.name, v.n_visitors) for v in observed.variants if v.n_visitors < min_visitors]
    if small:
        msg = (
            f"treatment(s) {_pairs(small)} have fewer than {min_visitors} visitors, the fewest "
            "this fit accepts (at least 10, and 2 × min_samples_leaf); collect more data or "
            "drop those treatments"
        )
        raise SchemaViolation(msg)
    if family == MetricFamily.HURDLE.value:
        few = [(v.name, int(np.count_nonzero(y_k > 0)))
               for v, y_k in zip(observed.variants, outcomes, strict=True)]
        few = [(name, count) for name, count in few if count < MIN_CONVERTERS_PER_TREATMENT]
        if few:
            msg = (
                f"treatment(s) {_pairs(few)} have fewer than {MIN_CONVERTERS_PER_TREATMENT} "
                "visitors with a positive outcome; the revenue model needs some per treatment "
                "to estimate basket size. Collect more data or pass metric='conversion_rate'"
            )
            raise SchemaViolation(msg)
    observed.propensities()  # SchemaViolation naming the columns when they do not add up


def fittable_outcomes(observed: Any) -> list[np.ndarray]:
    """Each treatment's outcomes as float64, after checking they are numbers, present, finite
    and within :data:`OUTCOME_LIMIT`; a bad value is named by treatment, visitor and row.

    Raises
    ------
    SchemaViolation
        A visitor frame lacks the outcome column, or holds a value the model cannot take.
    """
    from pytyche.contracts import RESERVED_OUTCOME_COLUMN

    check_observed(observed)
    name = _outcome_name(observed)
    raw = [v.visitors[RESERVED_OUTCOME_COLUMN] for v in observed.variants]
    values = [_as_float(column) for column in raw]
    refuse = _refuser(observed, RESERVED_OUTCOME_COLUMN)
    refuse([c.isna().to_numpy(dtype=bool) for c in raw],
           f"outcome {name!r} has {{count}} missing value(s)", "drop those visitors")
    refuse([np.isnan(v) for v in values],
           f"outcome {name!r} has {{count}} value(s) that are not numbers",
           "convert the column to numbers or drop those visitors")
    refuse([np.isinf(v) for v in values],
           f"outcome {name!r} has {{count}} infinite value(s)", "drop those visitors")
    refuse([np.abs(v) > OUTCOME_LIMIT for v in values],
           f"outcome {name!r} has {{count}} value(s) beyond ±{OUTCOME_LIMIT:g}",
           "the model computes in float32 and would overflow; check that the column "
           "is an outcome and not an id, or rescale it (e.g. cents to thousands)")
    return values


def check_observed(observed: Any) -> None:
    """Refuse anything but :class:`~pytyche.contracts.ObservedExperimentData`, naming the
    loaders that build one (``TypeError``)."""
    from pytyche.contracts import ObservedExperimentData

    if not isinstance(observed, ObservedExperimentData):
        msg = (
            f"expected ObservedExperimentData, got {type(observed).__name__}; load data with "
            "pytyche.from_dataframe / read_csv / read_parquet / read_sql"
        )
        raise TypeError(msg)


def _check_treatment_count(observed: Any) -> None:
    if observed.n_treatments > MAX_TREATMENTS:
        msg = (
            f"{observed.n_treatments} treatments {list(observed.treatments)[:_MAX_LISTED]}...; "
            f"one fit takes 2 to {MAX_TREATMENTS} (control included). Merge or drop "
            "treatments, or compare them in separate fits"
        )
        raise SchemaViolation(msg)


def _check_feature_names(observed: Any, features: Sequence[str]) -> None:
    """Feature names a posterior could not save, and, when the features were inferred from
    every column (no schema given), columns that are not features at all."""
    check_internal_names(features, frame="frame")
    if observed.schema is not None:
        return
    frame = observed.visitors()
    for name in features:
        if index_like(name, frame[name]):
            msg = (
                f"column {name!r} of the visitor frames looks like a saved row index, not a "
                "feature; drop it, or build the data with a VisitorSchema naming the features"
            )
            raise SchemaViolation(msg)
        if date_like(frame[name]):
            msg = (
                f"column {name!r} of the visitor frames holds dates written as text (e.g. "
                f"{shown(frame[name].dropna().iloc[0])}); as a feature each date would be an "
                "unordered label. Convert it to a number (e.g. days since a start date) or "
                "drop it"
            )
            raise SchemaViolation(msg)


def _outcome_name(observed: Any) -> str:
    schema = observed.schema
    return schema.outcome if schema is not None else "outcome"


def _as_float(column: pd.Series) -> np.ndarray:
    """A column as float64; anything that is not a number (or missing) becomes NaN."""
    if pd.api.types.is_bool_dtype(column.dtype):
        return column.to_numpy(dtype=np.float64)
    column = decimals_to_float(column)
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _check_feature_values(observed: Any, schema: Any, name: str) -> None:
    """One feature in every treatment: present, and a value its encoding takes."""
    missing = [v.name for v in observed.variants if name not in v.visitors.columns]
    if missing:
        msg = (
            f"feature {name!r} is missing from the visitors of treatment(s) {missing}; every "
            "treatment needs the same feature columns"
        )
        raise SchemaViolation(msg)
    raw = [v.visitors[name] for v in observed.variants]
    odd = next((c.dtype for c in raw if unencodable(c.dtype)), None)
    if odd is not None:
        msg = (
            f"feature {name!r} has dtype {odd}, which pytyche cannot encode; convert it to a "
            "number (e.g. days since a start date) or a label, or drop it"
        )
        raise SchemaViolation(msg)
    refuse = _refuser(observed, name)
    refuse([c.isna().to_numpy(dtype=bool) for c in raw],
           f"feature {name!r} has {{count}} missing value(s)",
           "impute them (e.g. fillna) or drop those visitors")
    kinds = [_value_kinds(c) for c in raw]
    seen = [k for k in pd.unique(np.concatenate(kinds)) if k != "missing"]
    if len(seen) > 1:
        refuse([(ks != seen[0]) & (ks != "missing") for ks in kinds],
               f"feature {name!r} mixes value types {seen}: {{count}} value(s) are not "
               f"{seen[0]}", "convert it to one type, e.g. .astype(str) for a label or "
               "pandas.to_numeric for a number")
    kind = schema.kinds[name]
    if kind == "categorical":
        levels = pd.Index(list(schema.categories[name]))
        refuse([levels.get_indexer(c) < 0 for c in raw],
               f"feature {name!r} has {{count}} value(s) not among its levels "
               f"{list(levels)[:_MAX_LISTED]}",
               "map them to a known level, or rebuild the schema from all the data")
        return
    values = [_as_float(c) for c in raw]
    refuse([np.isnan(v) for v in values],
           f"{kind} feature {name!r} has {{count}} value(s) that are not numbers",
           "convert the column to numbers, or declare it categorical")
    if kind == "binary":
        refuse([(v != 0) & (v != 1) for v in values],
               f"binary feature {name!r} has {{count}} value(s) other than 0/1",
               "binary features take 0/1 or True/False; declare it continuous instead")
        return
    refuse([np.isinf(v) for v in values],
           f"feature {name!r} has {{count}} infinite value(s)",
           "drop those visitors or cap the values")
    refuse([np.abs(v) > FEATURE_LIMIT for v in values],
           f"feature {name!r} has {{count}} value(s) beyond float32's range "
           f"±{FEATURE_LIMIT:.3g}", "rescale it (e.g. take a log) or drop it")


def unencodable(dtype: Any) -> bool:
    """Whether a feature dtype is one pytyche cannot encode (dates, durations, complex numbers,
    periods, intervals)."""
    return bool(
        pd.api.types.is_datetime64_any_dtype(dtype)
        or pd.api.types.is_timedelta64_dtype(dtype)
        or pd.api.types.is_complex_dtype(dtype)
        or isinstance(dtype, pd.PeriodDtype | pd.IntervalDtype)
    )


def _value_kinds(column: pd.Series) -> np.ndarray:
    """The kind of each value (see :func:`_value_kind`); by dtype unless it is object."""
    if pd.api.types.is_object_dtype(column.dtype):
        return column.map(_value_kind).to_numpy(dtype=object)
    if pd.api.types.is_bool_dtype(column.dtype):
        kind = "bool"
    elif pd.api.types.is_numeric_dtype(column.dtype):
        kind = "number"
    elif pd.api.types.is_string_dtype(column.dtype):
        kind = "text"
    else:
        kind = str(column.dtype)
    return np.where(column.isna().to_numpy(dtype=bool), "missing", kind).astype(object)


def _value_kind(value: Any) -> str:
    """The kind of one value of an object column: bool, number, text, missing or its type."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return "missing"
    if isinstance(value, bool | np.bool_):
        return "bool"
    if isinstance(value, numbers.Real | decimal.Decimal):
        return "number"
    if isinstance(value, str):
        return "text"
    return type(value).__name__


def _check_family(observed: Any, outcomes: list[np.ndarray], family: str) -> None:
    """What the likelihood needs: 0/1 for binary; >= 0 with some zeros for hurdle (the
    outcome is known to vary)."""
    from pytyche.contracts import RESERVED_OUTCOME_COLUMN

    name = _outcome_name(observed)
    refuse = _refuser(observed, RESERVED_OUTCOME_COLUMN)
    if family == "binary":
        refuse([(y != 0) & (y != 1) for y in outcomes],
               f"a conversion (binary) fit needs outcome {name!r} to be 0 or 1, but "
               "{count} value(s) are not",
               "fit it with pytyche.fit (which picks the model from the values) or "
               "fit_continuous_bcf")
    elif family == "hurdle":
        refuse([y < 0 for y in outcomes],
               f"a revenue (hurdle) fit needs outcome {name!r} to be >= 0, but {{count}} "
               "value(s) are negative",
               "fit it with fit_continuous_bcf, or fix those rows")
        if all(np.all(y > 0) for y in outcomes):
            msg = (
                f"outcome {name!r} is positive for every visitor: the revenue model's "
                "conversion part needs visitors with a zero outcome as well; fit it with "
                "fit_continuous_bcf (or pytyche.fit, which picks the model from the values)"
            )
            raise SchemaViolation(msg)


def _refuser(observed: Any, column: str):
    """``refuse(masks, problem, fix)``: raise naming the first visitor flagged in ``masks``
    (one boolean array per treatment), if any, with its value in ``column`` of the visitor
    frames. ``{count}`` in ``problem`` becomes the number flagged over all treatments (by
    replacement, not ``str.format``: the text holds the user's column names)."""

    def refuse(masks: Sequence[np.ndarray], problem: str, fix: str) -> None:
        count = sum(int(np.count_nonzero(m)) for m in masks)
        if not count:
            return
        k = next(k for k, m in enumerate(masks) if m.any())
        variant = observed.variants[k]
        pos = first_row(masks[k])
        value = shown(variant.visitors[column].iloc[pos])
        problem = problem.replace("{count}", str(count))
        msg = (f"{problem}; the first is {value} at "
               f"{_visitor(observed, variant, pos)}. {fix[0].upper()}{fix[1:]}")
        raise SchemaViolation(msg)

    return refuse


def _visitor(observed: Any, variant: Any, pos: int) -> str:
    """A visitor in the user's terms: treatment, visitor id and row."""
    from pytyche.contracts import RESERVED_VISITOR_ID_COLUMN

    frame = variant.visitors
    parts = [f"treatment {variant.name!r}"]
    if RESERVED_VISITOR_ID_COLUMN in frame.columns:
        schema = observed.schema
        id_name = schema.visitor_id if schema is not None and schema.visitor_id else (
            RESERVED_VISITOR_ID_COLUMN)
        parts.append(f"{id_name} {shown(frame[RESERVED_VISITOR_ID_COLUMN].iloc[pos])}")
    index = frame.index
    if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1:
        parts.append(f"row {pos} of that treatment's visitors (0-based)")
    else:
        parts.append(f"row {shown(index[pos])} (the index label of its visitor frame)")
    return ", ".join(parts)


def _pairs(items: Iterable[tuple[str, int]]) -> str:
    return ", ".join(f"{name!r} ({count})" for name, count in items)
