"""``from_dataframe``: validate a visitor-level DataFrame and build ObservedExperimentData."""

from __future__ import annotations

import numbers
import re
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from pytyche.contracts import (
    RESERVED_CELL_COLUMN,
    RESERVED_COLUMNS,
    RESERVED_OUTCOME_COLUMN,
    RESERVED_ROUND_COLUMN,
    RESERVED_VISITOR_ID_COLUMN,
    ObservedExperimentData,
    VariantData,
    is_reserved_column,
    propensity_columns,
)
from pytyche.data._encode import encode_features
from pytyche.data._metric import check_metric, infer_metric
from pytyche.data._schema import infer_schema
from pytyche.data._validate import (
    check_float32_values,
    check_internal_names,
    check_outcome_range,
    check_outcome_varies,
    date_like,
    decimals_to_float,
    index_like,
    is_internal_name,
    is_number,
    normalise_labels,
    unencodable,
)
from pytyche.data._values import first_row, shown
from pytyche.errors import PytycheWarning, SchemaViolation

__all__ = ["from_dataframe"]

#: Column that :meth:`ObservedExperimentData.visitors` adds; a feature may not take its name.
_TREATMENT_VIEW_COLUMN = "treatment"
_MAX_LISTED = 40


def from_dataframe(
    df: pd.DataFrame,
    *,
    treatment: str,
    outcome: str,
    control: Any = None,
    features: Sequence[str] | None = None,
    visitor_id: str | None = None,
    metric: str | None = None,
    experiment_id: str = "experiment",
) -> ObservedExperimentData:
    """Build :class:`~pytyche.contracts.ObservedExperimentData` from one row per visitor.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per visitor. It is never modified.
    treatment : str
        Column holding each visitor's treatment (arm) label. Its levels become the variants;
        labels are turned into strings (``str(level)``).
    outcome : str
        Column holding the observed outcome (numeric or boolean). It is stored under the
        reserved name ``outcome`` in the variants' visitor frames.
    control : object, optional
        The control level (compared as ``str(control)``). When omitted: the level whose name is
        ``"control"`` (any case, surrounding spaces ignored) if exactly one level is so named,
        otherwise the first level in sorted order (numeric order when every level is a number,
        string order otherwise), with a :class:`~pytyche.errors.PytycheWarning` naming it.
    features : sequence of str, optional
        Feature columns, in model column order. ``None`` takes every other column in frame
        order except the treatment, outcome and visitor id columns and the reserved columns
        (``outcome``, ``visitor_id``, ``cell``, ``round``, ``propensity*``). That includes
        post-treatment columns (for example ``visit`` when the outcome is ``spend``), so name
        the pre-treatment features explicitly when the frame has any.
    visitor_id : str, optional
        Column of unique visitor identifiers, stored as the reserved ``visitor_id`` column.
        When omitted and the frame has a column named ``visitor_id``, that column is used.
    metric : {"conversion_rate", "continuous", "revenue_per_visitor"}, optional
        Canonical metric id. ``None`` infers it: every value 0 or 1 gives
        ``"conversion_rate"``; no negatives and at least 30% zeros gives
        ``"revenue_per_visitor"``; anything else ``"continuous"``.
    experiment_id : str, default="experiment"
        Identifier carried into reports and stores.

    Returns
    -------
    ObservedExperimentData
        One variant per treatment level, control first and the other levels in sorted order.
        Each variant's visitors keep their original row order and hold the feature columns
        (original names), ``outcome`` (float64), ``visitor_id`` when there is one, and any
        reserved ``cell`` / ``round`` / propensity columns of the input. ``schema`` is the
        inferred :class:`~pytyche.contracts.VisitorSchema`: booleans and 0/1 numbers are
        binary, other numbers continuous, strings and categoricals categorical with levels in
        sorted order. Object columns that hold only numbers (or only booleans) are converted
        to a numeric (boolean) dtype first.

    Raises
    ------
    SchemaViolation
        ``df`` is not a DataFrame or has no rows; a named column is missing, duplicated or
        clashes with a reserved column; the outcome is non-numeric, has NaN/inf, is all zero
        or contradicts ``metric``; the treatment column has missing values, fewer than two
        levels, an empty level or no level named ``control``; visitor ids are missing or
        duplicated; a feature is entirely or partly missing, infinite, of an unsupported
        dtype, or mixes value types. Nothing is built when any check fails.
    ValueError
        ``metric`` is not a canonical metric id, or an argument has the wrong type.

    Examples
    --------
    >>> import pandas as pd
    >>> from pytyche.data import from_dataframe
    >>> df = pd.DataFrame({"arm": ["A", "B", "A", "B"], "y": [0, 1, 1, 0],
    ...                    "device": ["web", "app", "app", "web"]})
    >>> data = from_dataframe(df, treatment="arm", outcome="y", control="A")
    >>> data.treatments, data.metric, data.schema.kinds["device"]
    (('A', 'B'), 'conversion_rate', 'categorical')
    """
    frame = _check_frame(df)
    _check_arguments(treatment, outcome, features, visitor_id, experiment_id)
    if treatment == outcome:
        msg = (
            f"treatment and outcome are the same column {treatment!r}; pass the arm label "
            "column as treatment and the measured result as outcome"
        )
        raise SchemaViolation(msg)
    visitor_id = _resolve_visitor_id(frame, visitor_id)
    keys = [c for c in (treatment, outcome, visitor_id) if c is not None]
    _check_present(frame, keys if features is None else [*keys, *features])
    _check_reserved_clashes(frame, treatment, outcome, visitor_id)
    feature_names = _resolve_features(frame, features, treatment, outcome, visitor_id)
    passthrough = _passthrough_columns(frame, treatment, outcome, visitor_id)
    _check_unique_columns(frame, [*keys, *feature_names, *passthrough])

    y = _outcome_values(frame[outcome], outcome)
    metric = infer_metric(y, name=outcome) if metric is None else check_metric(
        y, metric, name=outcome
    )
    check_outcome_varies(y, name=outcome)
    arm_names, codes = _arms(frame[treatment], treatment, control)
    if visitor_id is not None:
        _check_visitor_ids(frame[visitor_id], visitor_id)
    columns: dict[str, pd.Series] = {}
    for name in feature_names:
        columns[name] = _feature_column(frame[name], name)
    for name in passthrough:
        columns[name] = _passthrough_column(frame[name], name)
    columns[RESERVED_OUTCOME_COLUMN] = pd.Series(y, index=frame.index)
    if visitor_id is not None:
        columns[RESERVED_VISITOR_ID_COLUMN] = _one_kind(frame[visitor_id], visitor_id,
                                                        "visitor id column")
    work = pd.DataFrame(columns).reset_index(drop=True)
    _check_propensity_names(passthrough, len(arm_names))

    schema = infer_schema(
        work, feature_names, outcome=outcome, treatment=treatment, visitor_id=visitor_id
    )
    encode_features(schema, work)  # refuse now anything the model could not encode later
    variants = tuple(
        VariantData.from_visitors(name, work.iloc[np.flatnonzero(codes == k)].reset_index(
            drop=True
        ))
        for k, name in enumerate(arm_names)
    )
    observed = ObservedExperimentData(
        experiment_id=experiment_id, metric=metric, variants=variants, schema=schema
    )
    observed.propensities()  # raises SchemaViolation on probabilities that do not add up
    return observed


# --------------------------------------------------------------------------------------------
# Argument and column checks
# --------------------------------------------------------------------------------------------


def _check_frame(df: Any) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        msg = (
            f"expected a pandas DataFrame with one row per visitor, got {type(df).__name__}; "
            "build one with pandas.DataFrame(...) or use read_csv / read_parquet / read_sql"
        )
        raise SchemaViolation(msg)
    if len(df) == 0:
        msg = f"the DataFrame has no rows (columns: {_listed(df.columns)}); load some visitors"
        raise SchemaViolation(msg)
    return df


def _check_arguments(
    treatment: Any, outcome: Any, features: Any, visitor_id: Any, experiment_id: Any
) -> None:
    for arg, value in (("treatment", treatment), ("outcome", outcome)):
        if not isinstance(value, str) or not value:
            msg = f"{arg}={shown(value)} must be a column name (a non-empty string)"
            raise ValueError(msg)
    if visitor_id is not None and (not isinstance(visitor_id, str) or not visitor_id):
        msg = f"visitor_id={visitor_id!r} must be a column name or None"
        raise ValueError(msg)
    if features is not None and (
        isinstance(features, str) or not all(isinstance(f, str) for f in features)
    ):
        msg = f"features={features!r} must be a list of column names (strings) or None"
        raise ValueError(msg)
    if not isinstance(experiment_id, str) or not experiment_id:
        msg = f"experiment_id={experiment_id!r} must be a non-empty string"
        raise ValueError(msg)


def _resolve_visitor_id(frame: pd.DataFrame, visitor_id: str | None) -> str | None:
    if visitor_id is None and RESERVED_VISITOR_ID_COLUMN in frame.columns:
        return RESERVED_VISITOR_ID_COLUMN
    return visitor_id


def _check_present(frame: pd.DataFrame, names: Sequence[str]) -> None:
    missing = [n for n in dict.fromkeys(names) if n not in frame.columns]
    if missing:
        msg = (
            f"column(s) {missing} not found; the data has columns {_listed(frame.columns)}. "
            "Check the spelling or rename the columns"
        )
        raise SchemaViolation(msg)


def _check_unique_columns(frame: pd.DataFrame, names: Sequence[str]) -> None:
    duplicated = set(frame.columns[frame.columns.duplicated()])
    clash = [n for n in dict.fromkeys(names) if n in duplicated]
    if clash:
        msg = (
            f"duplicate column name(s) {clash}: the data has more than one column with each; "
            "rename or drop the copies"
        )
        raise SchemaViolation(msg)


def _check_reserved_clashes(
    frame: pd.DataFrame, treatment: str, outcome: str, visitor_id: str | None
) -> None:
    if outcome != RESERVED_OUTCOME_COLUMN and RESERVED_OUTCOME_COLUMN in frame.columns and (
        treatment != RESERVED_OUTCOME_COLUMN
    ):
        msg = (
            f"the data has a column named {RESERVED_OUTCOME_COLUMN!r} but the outcome is "
            f"{outcome!r}; {RESERVED_OUTCOME_COLUMN!r} is reserved for the outcome, so rename "
            "or drop that column"
        )
        raise SchemaViolation(msg)
    if (
        visitor_id not in (None, RESERVED_VISITOR_ID_COLUMN)
        and RESERVED_VISITOR_ID_COLUMN in frame.columns
        and RESERVED_VISITOR_ID_COLUMN not in (treatment, outcome)
    ):
        msg = (
            f"the data has a column named {RESERVED_VISITOR_ID_COLUMN!r} but visitor_id is "
            f"{visitor_id!r}; {RESERVED_VISITOR_ID_COLUMN!r} is reserved for the visitor id, "
            "so rename or drop one of them"
        )
        raise SchemaViolation(msg)


def _resolve_features(
    frame: pd.DataFrame,
    features: Sequence[str] | None,
    treatment: str,
    outcome: str,
    visitor_id: str | None,
) -> list[str]:
    keys = {treatment, outcome, visitor_id}
    if features is None:
        names = [
            c for c in dict.fromkeys(frame.columns)
            if c not in keys and not is_reserved_column(c)
        ]
        bad = [c for c in names if not isinstance(c, str)]
        if bad:
            msg = (
                f"column name(s) {bad[:10]} are not strings; rename them "
                "(df.columns = df.columns.astype(str)) or pass features explicitly"
            )
            raise SchemaViolation(msg)
        _check_inferred_features(frame, names, [k for k in (treatment, outcome, visitor_id) if k])
    else:
        names = list(features)
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            msg = f"features lists {repeated} more than once; name each feature once"
            raise SchemaViolation(msg)
        for name in names:
            if name in keys:
                role = {treatment: "treatment", outcome: "outcome", visitor_id: "visitor_id"}
                msg = (
                    f"feature {name!r} is also the {role[name]} column; remove it from features"
                )
                raise SchemaViolation(msg)
            if is_reserved_column(name):
                msg = (
                    f"feature {name!r} uses a reserved column name (reserved: "
                    f"{sorted(RESERVED_COLUMNS)} and propensity, propensity_1, ...); rename "
                    "the column"
                )
                raise SchemaViolation(msg)
    check_internal_names(names, frame="df")
    if _TREATMENT_VIEW_COLUMN in names:
        msg = (
            f"feature {_TREATMENT_VIEW_COLUMN!r} would clash with the treatment label column "
            f"that pytyche adds to visitor frames (the treatment here is {treatment!r}); "
            "rename that column or leave it out of features"
        )
        raise SchemaViolation(msg)
    return names


def _check_inferred_features(frame: pd.DataFrame, names: Sequence[str], keys: Sequence[str]
                             ) -> None:
    """Columns that would silently become features when features are inferred."""
    repeated = set(frame.columns[frame.columns.duplicated()])
    for name in names:
        if name in repeated:
            continue  # refused by the duplicate-column check
        copy_of = next((k for k in keys if re.fullmatch(re.escape(k) + r"[._]\d+", name)), None)
        if copy_of is not None:
            msg = (
                f"column {name!r} looks like a second {copy_of!r} column renamed by the reader "
                "(the header repeats that name); rename or drop the copy, or pass features= "
                "explicitly"
            )
            raise SchemaViolation(msg)
        if is_internal_name(name) and not index_like(name, frame[name]):
            continue  # refused with the internal-name message
        if index_like(name, frame[name]):
            msg = (
                f"column {name!r} looks like a row index saved with the data, not a feature; "
                "drop it (df.drop(columns=[...]), read_csv(..., read_options={'index_col': 0}), "
                "or to_csv(index=False) when writing), or pass features= explicitly"
            )
            raise SchemaViolation(msg)
        if date_like(frame[name]):
            msg = (
                f"column {name!r} holds dates written as text (e.g. "
                f"{shown(frame[name].dropna().iloc[0])}); as a feature each date would be an "
                "unordered label. Convert it to a number (e.g. days since a start date) or pass "
                "features= without it"
            )
            raise SchemaViolation(msg)


def _passthrough_columns(
    frame: pd.DataFrame, treatment: str, outcome: str, visitor_id: str | None
) -> list[str]:
    keys = {treatment, outcome, visitor_id, RESERVED_OUTCOME_COLUMN, RESERVED_VISITOR_ID_COLUMN}
    return [c for c in dict.fromkeys(frame.columns) if is_reserved_column(c) and c not in keys]


# --------------------------------------------------------------------------------------------
# Column contents
# --------------------------------------------------------------------------------------------


def _outcome_values(column: pd.Series, name: str) -> np.ndarray:
    column = decimals_to_float(column)
    dtype = column.dtype
    numeric = pd.api.types.is_bool_dtype(dtype) or (
        pd.api.types.is_numeric_dtype(dtype)
        and not pd.api.types.is_complex_dtype(dtype)
        and not isinstance(dtype, pd.CategoricalDtype)
    )
    if pd.api.types.is_object_dtype(dtype):
        ok = column.map(lambda v: v is None or v is pd.NA or isinstance(v, numbers.Real))
        numeric = bool(ok.all())
        if not numeric:
            row = first_row(~ok.to_numpy(dtype=bool))
            msg = (
                f"outcome {name!r} is not numeric: row {row} holds {shown(column.iloc[row])} "
                f"({type(column.iloc[row]).__name__}); convert it with pandas.to_numeric or "
                "pick a numeric outcome column"
            )
            raise SchemaViolation(msg)
    if not numeric:
        msg = (
            f"outcome {name!r} is not numeric (dtype {dtype}, first value "
            f"{column.iloc[0]!r}); convert it with pandas.to_numeric or pick a numeric outcome "
            "column"
        )
        raise SchemaViolation(msg)
    values = pd.to_numeric(column)
    y = pd.Series(values).to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(y)
    if bad.any():
        n_nan = int(np.isnan(y).sum())
        n_inf = int(bad.sum()) - n_nan
        row = first_row(bad)
        msg = (
            f"outcome {name!r} has {n_nan} missing (NaN) and {n_inf} infinite value(s); "
            f"first at row {row} (0-based): {shown(column.iloc[row])}. Drop or fix those rows"
        )
        raise SchemaViolation(msg)
    check_outcome_range(y, name=name)
    return y


def _arms(column: pd.Series, name: str, control: Any) -> tuple[tuple[str, ...], np.ndarray]:
    null = column.isna().to_numpy(dtype=bool)
    if null.any():
        msg = (
            f"treatment column {name!r} has {int(null.sum())} missing value(s) (first at row "
            f"{first_row(null)}); every visitor needs an arm, so drop or label those rows"
        )
        raise SchemaViolation(msg)
    if isinstance(column.dtype, pd.CategoricalDtype):
        levels = list(column.cat.categories)
    else:
        levels = list(pd.unique(column))
    names, group, _ = normalise_labels(levels, column=name)
    if len(names) < 2:
        msg = (
            f"treatment column {name!r} has a single level {names}; an experiment compares "
            "at least 2 treatments (control first), so check the treatment column or the "
            "rows selected"
        )
        raise SchemaViolation(msg)
    raw_codes = pd.Categorical(column, categories=levels).codes.astype(np.int64)
    codes = np.asarray(group, dtype=np.int64)[raw_codes]
    counts = np.bincount(codes, minlength=len(names))
    if (counts == 0).any():
        empty = [n for n, c in zip(names, counts, strict=True) if c == 0]
        msg = (
            f"treatment level(s) {empty} of column {name!r} have no visitors (unused "
            "categories); drop them with .cat.remove_unused_categories() or collect data for "
            "them"
        )
        raise SchemaViolation(msg)
    control_index = _control_index(names, name, control)
    order = [control_index] + [k for k in range(len(names)) if k != control_index]
    remap = np.empty(len(names), dtype=np.int64)
    remap[order] = np.arange(len(names))
    return tuple(names[k] for k in order), remap[codes]


def _control_index(names: list[str], column: str, control: Any) -> int:
    if control is not None:
        key = str(control).strip()
        if key not in names:
            near = [n for n in names if n.casefold() == key.casefold()]
            hint = f"; did you mean {near[0]!r}?" if near else ""
            msg = (
                f"control name {control!r} does not exist in treatment column {column!r}; "
                f"levels are {names[:_MAX_LISTED]}{hint}"
            )
            raise SchemaViolation(msg)
        return names.index(key)
    matches = [k for k, n in enumerate(names) if n.strip().casefold() == "control"]
    if len(matches) == 1:
        return matches[0]
    msg = (
        f"no control given; using {names[0]!r}, the first level of {column!r} in sorted order "
        f"(levels: {names[:_MAX_LISTED]}). Pass control=... to choose it"
    )
    warnings.warn(msg, PytycheWarning, stacklevel=4)
    return 0


def _check_visitor_ids(column: pd.Series, name: str) -> None:
    null = column.isna().to_numpy(dtype=bool)
    if null.any():
        msg = (
            f"visitor id column {name!r} has {int(null.sum())} missing value(s) (first at row "
            f"{first_row(null)}); give every visitor an id or pass visitor_id=None"
        )
        raise SchemaViolation(msg)
    repeated = column.duplicated(keep=False).to_numpy(dtype=bool)
    if repeated.any():
        row = first_row(repeated)
        value = column.iloc[row]
        rows = np.flatnonzero((column == value).to_numpy(dtype=bool))[:5].tolist()
        msg = (
            f"visitor id column {name!r} has {int(repeated.sum())} rows with repeated ids; "
            f"the first, {shown(value)}, appears at rows {rows}. Keep one row per visitor "
            "(deduplicate or aggregate)"
        )
        raise SchemaViolation(msg)


def _feature_column(column: pd.Series, name: str) -> pd.Series:
    column = decimals_to_float(column)
    dtype = column.dtype
    if unencodable(dtype):
        msg = (
            f"feature {name!r} has dtype {dtype}, which pytyche cannot encode; convert it to a "
            "number (e.g. days since a date) or a string label"
        )
        raise SchemaViolation(msg)
    null = column.isna().to_numpy(dtype=bool)
    if null.all():
        msg = (
            f"feature {name!r} is empty: all {len(column)} values are missing; drop it from "
            "features (or the data)"
        )
        raise SchemaViolation(msg)
    if null.any():
        row = first_row(null)
        msg = (
            f"feature {name!r} has {int(null.sum())} missing value(s) of {len(column)} (first "
            f"at row {row}); impute them (e.g. df[{name!r}].fillna(...)) or drop those rows"
        )
        raise SchemaViolation(msg)
    if pd.api.types.is_object_dtype(dtype):
        column = _normalise_object(column, name)
    if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(
        column.dtype
    ):
        values = pd.Series(column).to_numpy(dtype=np.float64, na_value=np.nan)
        inf = np.isinf(values)
        if inf.any():
            row = first_row(inf)
            msg = (
                f"feature {name!r} has {int(inf.sum())} infinite value(s) (first at row "
                f"{row}: {shown(values[row])}); replace them with finite numbers or drop those rows"
            )
            raise SchemaViolation(msg)
        check_float32_values(values, name=name)
    return column


def _normalise_object(column: pd.Series, name: str) -> pd.Series:
    """An object column of one value kind becomes that kind's dtype; mixed kinds are refused."""
    def kind(value: Any) -> str:
        if isinstance(value, bool | np.bool_):
            return "bool"
        if isinstance(value, numbers.Real):
            return "number"
        if isinstance(value, str):
            return "str"
        return type(value).__name__

    kinds = column.map(kind)
    distinct = list(dict.fromkeys(kinds))
    if distinct == ["bool"]:
        return column.astype(bool)
    if distinct == ["number"]:
        return pd.to_numeric(column)
    if distinct == ["str"]:
        return column
    first = column.iloc[first_row((kinds != distinct[0]).to_numpy(dtype=bool))] if len(
        distinct
    ) > 1 else column.iloc[0]
    msg = (
        f"feature {name!r} mixes value types {distinct} (e.g. {shown(first)}); convert it to one "
        f"type, e.g. df[{name!r}].astype(str) for a label or pandas.to_numeric for a number"
    )
    raise SchemaViolation(msg)


def _one_kind(column: pd.Series, name: str, what: str) -> pd.Series:
    """An object column whose values are all of one kind (all text or all numbers), so that it
    can be stored; mixed kinds are refused with the first odd row."""
    if not pd.api.types.is_object_dtype(column.dtype):
        return column
    kinds = column.map(lambda v: "number" if is_number(v) else type(v).__name__)
    distinct = list(dict.fromkeys(kinds))
    if len(distinct) > 1:
        row = first_row((kinds != distinct[0]).to_numpy(dtype=bool))
        msg = (
            f"{what} {name!r} mixes value types {distinct} (row 0 holds "
            f"{shown(column.iloc[0])}, row {row} holds {shown(column.iloc[row])}); convert it "
            f"to one type, e.g. df[{name!r}].astype(str)"
        )
        raise SchemaViolation(msg)
    return column


def _passthrough_column(column: pd.Series, name: str) -> pd.Series:
    null = column.isna().to_numpy(dtype=bool)
    if null.any():
        msg = (
            f"reserved column {name!r} has {int(null.sum())} missing value(s) (first at row "
            f"{first_row(null)}); fill it for every visitor or drop the column"
        )
        raise SchemaViolation(msg)
    column = _one_kind(column, name, "reserved column")
    if name.startswith("propensity"):
        if not pd.api.types.is_numeric_dtype(column.dtype) or pd.api.types.is_bool_dtype(
            column.dtype
        ):
            msg = f"propensity column {name!r} has dtype {column.dtype}; it must hold numbers"
            raise SchemaViolation(msg)
        values = pd.Series(column).to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~((values >= 0) & (values <= 1))
        if bad.any():
            row = first_row(bad)
            msg = (
                f"propensity column {name!r} has {int(bad.sum())} value(s) outside [0, 1] "
                f"(first at row {row}: {shown(values[row])}); it must hold assignment probabilities"
            )
            raise SchemaViolation(msg)
    return column


def _check_propensity_names(passthrough: Sequence[str], n_arms: int) -> None:
    given = sorted(c for c in passthrough if c not in (RESERVED_CELL_COLUMN,
                                                       RESERVED_ROUND_COLUMN))
    expected = sorted(propensity_columns(n_arms))
    if given and given != expected:
        msg = (
            f"propensity columns {given} do not match the {n_arms} treatments; expected "
            f"{expected} (one per non-control treatment, 'propensity' alone for 2 arms)"
        )
        raise SchemaViolation(msg)


def _listed(columns: Any) -> str:
    names = list(columns)
    more = f" ... and {len(names) - _MAX_LISTED} more" if len(names) > _MAX_LISTED else ""
    return f"{names[:_MAX_LISTED]}{more}"
