"""Hand-written malformed and borderline inputs through every loader: each one a clean error
(with the expected message) or a sensible accept, never a traceback.

Tables: frame mutations (from_dataframe), treatment label sets, outcome value sets, raw
CSV/TSV texts and damaged files (read_csv, read_parquet, read_sql over files), SQL queries,
and paths. The case count is asserted at the bottom (the issue asks for at least 300).
"""

from __future__ import annotations

import decimal
import gzip
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _fuzz_helpers import N, base_frame, run

from pytyche.data import feature_schema, from_dataframe, read_csv, read_parquet, read_sql
from pytyche.errors import SchemaViolation, SourceError

KEYS = {"treatment": "arm", "outcome": "y"}
ERR = "error"


def _load(df: pd.DataFrame, **kw: Any):
    return from_dataframe(df, **{**KEYS, **kw})


def _with(**columns: Any) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def mutate(df: pd.DataFrame) -> pd.DataFrame:
        return df.assign(**{k: (v(df) if callable(v) else v) for k, v in columns.items()})
    return mutate


def _at(column: str, row: int, value: Any) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def mutate(df: pd.DataFrame) -> pd.DataFrame:
        df = df.copy()
        if not pd.api.types.is_numeric_dtype(df[column].dtype) or not isinstance(
                value, float | int) or isinstance(value, bool):
            df[column] = df[column].astype(object)
        df.loc[row, column] = value
        return df
    return mutate


def _rename(**names: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    return lambda df: df.rename(columns=names)


def _dup(column: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    return lambda df: pd.concat([df, df[[column]]], axis=1)


def _drop(column: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    return lambda df: df.drop(columns=column)


def _rows(n: int) -> Callable[[pd.DataFrame], pd.DataFrame]:
    return lambda df: df.head(n)


# --------------------------------------------------------------------------------------------
# 1. Frame mutations through from_dataframe: (id, mutation, kwargs, expected)
#    expected: a regex for a SchemaViolation / ValueError, or a callable check of the result
# --------------------------------------------------------------------------------------------

def _arms(*names: str) -> Callable[[Any], bool]:
    return lambda d: d.treatments == names


def _features(*names: str) -> Callable[[Any], bool]:
    return lambda d: feature_schema(d).features == names


def _metric(name: str) -> Callable[[Any], bool]:
    return lambda d: d.metric == name


def _ids(df: pd.DataFrame) -> list[str]:
    return [f"v{i}" for i in range(len(df))]



FRAMES: list[tuple[str, Callable, dict, Any]] = [
    ("plain", lambda df: df, {}, _arms("control", "B")),
    ("control-given", lambda df: df, {"control": "B"}, _arms("B", "control")),
    ("control-padded-arg", lambda df: df, {"control": " B "}, _arms("B", "control")),
    ("control-case", lambda df: df, {"control": "b"}, r"'b' does not exist.*did you mean 'B'"),
    ("control-unknown", lambda df: df, {"control": "Z"}, r"'Z' does not exist"),
    ("control-number", lambda df: df, {"control": 3}, r"'?3'? does not exist"),
    ("treatment-missing", lambda df: df, {"treatment": "nope"}, r"\['nope'\] not found"),
    ("outcome-missing", lambda df: df, {"outcome": "nope"}, r"\['nope'\] not found"),
    ("treatment-is-outcome", lambda df: df, {"treatment": "y"}, r"same column 'y'"),
    ("treatment-empty-name", lambda df: df, {"treatment": ""}, r"non-empty string"),
    ("outcome-none", lambda df: df, {"outcome": None}, r"non-empty string"),
    ("features-string", lambda df: df, {"features": "x"}, r"list of column names"),
    ("features-int", lambda df: df, {"features": [1]}, r"list of column names"),
    ("features-repeat", lambda df: df, {"features": ["x", "x"]}, r"more than once"),
    ("features-has-outcome", lambda df: df, {"features": ["y"]}, r"also the outcome"),
    ("features-has-arm", lambda df: df, {"features": ["arm"]}, r"also the treatment"),
    ("features-unknown", lambda df: df, {"features": ["zz"]}, r"\['zz'\] not found"),
    ("features-empty-list", lambda df: df, {"features": []}, _features()),
    ("features-one", lambda df: df, {"features": ["g"]}, _features("g")),
    ("metric-unknown", lambda df: df, {"metric": "revenue"}, r"conversion_rate"),
    ("metric-binary-wrong", lambda df: df, {"metric": "conversion_rate"}, r"not 0 or 1"),
    ("metric-continuous", lambda df: df, {"metric": "continuous"}, _metric("continuous")),
    ("experiment-id-empty", lambda df: df, {"experiment_id": ""}, r"non-empty string"),
    ("visitor-id-missing", lambda df: df, {"visitor_id": "vid"}, r"\['vid'\] not found"),
    ("visitor-id-ok", _with(vid=_ids), {"visitor_id": "vid"}, _features("x", "g")),
    ("visitor-id-dup", _with(vid="same"), {"visitor_id": "vid"}, r"repeated ids"),
    ("visitor-id-null", lambda df: df.assign(vid=[None, *_ids(df)[1:]]), {"visitor_id": "vid"},
     r"1 missing value"),
    ("visitor-id-mixed", _with(vid=lambda df: [i if i % 2 else f"v{i}" for i in range(len(df))]),
     {"visitor_id": "vid"}, r"mixes value types"),
    ("visitor-id-reserved-mixed", _with(visitor_id=lambda df: [i if i % 2 else str(i)
                                                                for i in range(len(df))]), {},
     r"mixes value types"),
    ("visitor-id-reserved-int", _with(visitor_id=lambda df: range(len(df))), {},
     _features("x", "g")),
    ("no-rows", _rows(0), {}, r"no rows"),
    ("one-row", _rows(1), {}, r"for all 1 visitors"),
    ("two-rows", _rows(2), {}, _arms("control", "B")),
    ("not-a-frame", lambda df: df.to_dict(), {}, r"expected a pandas DataFrame"),
    ("series", lambda df: df["y"], {}, r"expected a pandas DataFrame"),
    ("numpy", lambda df: df.to_numpy(), {}, r"expected a pandas DataFrame"),
    ("dup-outcome", _dup("y"), {}, r"duplicate column name\(s\) \['y'\]"),
    ("dup-arm", _dup("arm"), {}, r"duplicate column name\(s\) \['arm'\]"),
    ("dup-feature", _dup("x"), {}, r"duplicate column name\(s\) \['x'\]"),
    ("dup-unused", _dup("x"), {"features": ["g"]}, _features("g")),
    ("renamed-copy-outcome", _with(**{"y.1": lambda df: df.y}), {}, r"second 'y' column"),
    ("renamed-copy-arm", _with(arm_1=lambda df: df.arm), {}, r"second 'arm' column"),
    ("renamed-copy-explicit", _with(**{"y.1": lambda df: df.y}), {"features": ["x"]},
     _features("x")),
    ("index-unnamed", lambda df: df.reset_index().rename(columns={"index": "Unnamed: 0"}), {},
     r"'Unnamed: 0' looks like a row index"),
    ("index-reset", lambda df: df.reset_index(), {}, r"'index' looks like a row index"),
    ("index-level0", lambda df: df.reset_index(names="level_0"), {}, r"'level_0' looks like"),
    ("index-one-based", _with(index=lambda df: range(1, len(df) + 1)), {}, r"row index"),
    ("index-not-range", _with(index=lambda df: np.arange(len(df))[::-1]), {},
     _features("x", "g", "index")),
    ("index-pyarrow", _with(__index_level_0__=lambda df: range(len(df))), {}, r"row index"),
    ("index-explicit", _with(**{"Unnamed: 0": lambda df: range(len(df))}),
     {"features": ["x", "Unnamed: 0"]}, _features("x", "Unnamed: 0")),
    ("internal-treatment", _with(__treatment__=1.0), {}, r"__treatment__.*reserves"),
    ("internal-explicit", _with(__x__=1.0), {"features": ["__x__"]}, r"'__x__'.*reserves"),
    ("internal-dunder-short", _with(____=1.0), {}, _features("x", "g", "____")),
    ("reserved-outcome-col", _with(outcome=1.0), {}, r"reserved for the outcome"),
    ("reserved-cell-feature", _with(cell="c"), {"features": ["cell"]}, r"reserved"),
    ("reserved-round-feature", _with(round=0), {"features": ["round"]}, r"reserved"),
    ("feature-named-treatment", _with(treatment="t"), {}, r"'treatment' would clash"),
    ("nonstring-colname", lambda df: df.assign(**{"0": 1}).rename(columns={"0": 0}), {},
     r"not strings"),
    ("date-iso", _with(d=lambda df: pd.date_range("2024-01-01", periods=len(df)).astype(str)),
     {}, r"'d' holds dates"),
    ("date-slash", _with(d=lambda df: [f"{1 + i % 12}/{1 + i % 28}/2024" for i in range(len(df))]),
     {}, r"holds dates"),
    ("date-time", _with(d="2024-05-01 10:00:00"), {}, r"holds dates"),
    ("date-explicit", _with(d="2024-05-01"), {"features": ["x", "d"]}, _features("x", "d")),
    ("datetime-dtype", _with(d=lambda df: pd.date_range("2024-01-01", periods=len(df))), {},
     r"dtype datetime"),
    ("timedelta-dtype", _with(d=lambda df: pd.to_timedelta(np.arange(len(df)), "s")), {},
     r"dtype timedelta"),
    ("complex-feature", _with(c=lambda df: np.ones(len(df)) * 1j), {}, r"cannot encode"),
    ("period-feature", _with(p=lambda df: pd.period_range("2024-01", periods=len(df), freq="M")),
     {}, r"cannot encode"),
    ("feature-all-null", _with(x=np.nan), {}, r"'x' is empty"),
    ("feature-one-null", _at("x", 4, np.nan), {}, r"'x' has 1 missing.*row 4"),
    ("feature-inf", _at("x", 5, np.inf), {}, r"'x' has 1 infinite.*row 5"),
    ("feature-neg-inf", _at("x", 6, -np.inf), {}, r"infinite.*row 6"),
    ("feature-huge", _at("x", 7, 1e300), {}, r"beyond float32.*row 7"),
    ("feature-big-ok", _at("x", 7, 1e30), {}, _features("x", "g")),
    ("feature-mixed", _at("g", 3, 5), {}, r"'g' mixes value types"),
    ("feature-mixed-bool", _at("g", 3, True), {}, r"mixes value types"),
    ("feature-object-numbers", _with(x=lambda df: df.x.astype(object)), {}, _features("x", "g")),
    ("feature-object-bools", _with(b=lambda df: pd.Series([True, False] * (len(df) // 2),
                                                          dtype=object)), {},
     lambda d: feature_schema(d).kinds["b"] == "binary"),
    ("feature-decimal", _with(x=lambda df: [decimal.Decimal(str(v)) for v in df.x]), {},
     lambda d: feature_schema(d).kinds["x"] == "continuous"),
    ("feature-list-values", _with(x=lambda df: [[1]] * len(df)), {}, r"mixes value types|"
     r"list"),
    ("feature-bytes", _with(x=lambda df: [b"a"] * len(df)), {}, r"bytes"),
    ("feature-constant", _with(x=1.5), {}, _features("x", "g")),
    ("feature-unicode", _with(g=lambda df: ["ü", "é", "日本"] * (len(df) // 3)), {},
     lambda d: feature_schema(d).kinds["g"] == "categorical"),
    ("feature-markup", _with(g="[bold]x[/]"), {}, _features("x", "g")),
    ("colname-markup", _rename(x="[x]"), {}, _features("[x]", "g")),
    ("colname-space", _rename(x="my feature"), {}, _features("my feature", "g")),
    ("colname-quote", _rename(x="it's"), {}, _features("it's", "g")),
    ("colname-empty", _rename(x=""), {}, _features("", "g")),
    ("treatment-col-markup", _rename(arm="[arm]"), {"treatment": "[arm]"},
     _arms("control", "B")),
    ("outcome-str", _with(y="1.0"), {}, r"not numeric"),
    ("outcome-mixed", _at("y", 3, "n/a"), {}, r"row 3 holds 'n/a'"),
    ("outcome-nan", _at("y", 8, np.nan), {}, r"1 missing \(NaN\).*row 8"),
    ("outcome-inf", _at("y", 9, np.inf), {}, r"1 infinite.*row 9"),
    ("outcome-none", _at("y", 2, None), {}, r"missing \(NaN\).*row 2"),
    ("outcome-huge", _at("y", 3, 1e19), {}, r"beyond ±1e\+15.*row 3"),
    ("outcome-f32max", _at("y", 3, 3e38), {}, r"beyond ±1e\+15"),
    ("outcome-neg-huge", _at("y", 3, -1e16), {}, r"beyond ±1e\+15"),
    ("outcome-id-like", _with(y=lambda df: 10**17 + np.arange(len(df))), {}, r"beyond"),
    ("outcome-at-limit", _at("y", 3, 1e15), {}, _metric("continuous")),
    ("outcome-constant", _with(y=7.0), {}, r"is 7.0 for all"),
    ("outcome-all-zero", _with(y=0.0), {}, r"is 0 for all"),
    ("outcome-all-one", _with(y=1.0), {}, r"is 1.0 for all"),
    ("outcome-float32-flat", _with(y=lambda df: 1e9 + np.arange(len(df)) * 1e-6), {},
     r"below float32 resolution"),
    ("outcome-bool", _with(y=lambda df: np.arange(len(df)) % 3 == 0), {},
     _metric("conversion_rate")),
    ("outcome-int", _with(y=lambda df: np.arange(len(df)) % 5), {}, _metric("continuous")),
    ("outcome-decimal", _with(y=lambda df: [decimal.Decimal(f"{v:.2f}") for v in df.y]), {},
     _metric("continuous")),
    ("outcome-decimal-nan", _with(y=lambda df: [decimal.Decimal("NaN")] + [
        decimal.Decimal(f"{v:.2f}") for v in df.y[1:]]), {}, r"missing \(NaN\).*row 0"),
    ("outcome-object-num", _with(y=lambda df: df.y.astype(object)), {}, _metric("continuous")),
    ("outcome-category", _with(y=lambda df: df.y.astype("category")), {}, r"not numeric"),
    ("outcome-complex", _with(y=lambda df: df.y + 1j), {}, r"not numeric"),
    ("outcome-datetime", _with(y=lambda df: pd.date_range("2024", periods=len(df))), {},
     r"not numeric"),
    ("outcome-nullable-int", _with(y=lambda df: pd.array(np.arange(len(df)) % 4, "Int64")), {},
     _metric("continuous")),
    ("outcome-nullable-na", _with(y=lambda df: pd.array([None, *range(1, len(df))],
                                                        "Int64")), {}, r"missing"),
    ("outcome-revenue", _with(y=lambda df: np.where(np.arange(len(df)) % 2, 0.0, 5.0 +
                                                    np.arange(len(df)))), {},
     _metric("revenue_per_visitor")),
    ("outcome-negative-revenue", _at("y", 3, -1.0), {"metric": "revenue_per_visitor"},
     r"negative value"),
    ("arm-null", _at("arm", 5, None), {}, r"1 missing value.*row 5"),
    ("arm-nan", _at("arm", 6, np.nan), {}, r"missing value.*row 6"),
    ("arm-blank", _at("arm", 6, "  "), {}, r"blank label"),
    ("arm-empty-string", _at("arm", 6, ""), {}, r"blank label"),
    ("arm-category-unused", _with(arm=lambda df: pd.Categorical(df.arm, categories=[
        "control", "B", "C"])), {}, r"\['C'\].*no visitors"),
    ("arm-category", _with(arm=lambda df: pd.Categorical(df.arm)), {}, _arms("control", "B")),
    ("arm-category-padded", _with(arm=lambda df: pd.Categorical(
        np.where(np.arange(len(df)) == 0, " B", df.arm))), {}, _arms("control", "B")),
    ("arm-bool", _with(arm=lambda df: np.arange(len(df)) % 2 == 0), {"control": False},
     _arms("False", "True")),
    ("arm-int", _with(arm=lambda df: np.arange(len(df)) % 3), {"control": 0},
     _arms("0", "1", "2")),
    ("arm-int-sorted", _with(arm=lambda df: (np.arange(len(df)) % 3) * 5 + 5), {},
     _arms("5", "10", "15")),
    ("arm-float", _with(arm=lambda df: (np.arange(len(df)) % 2) + 0.5), {"control": 0.5},
     _arms("0.5", "1.5")),
    ("arm-int-and-str", _with(arm=lambda df: [1 if i % 2 else "1" for i in range(len(df))]),
     {}, r"different types that all read as '1'"),
    ("arm-many", _with(arm=lambda df: [f"t{i % 10}" for i in range(len(df))]),
     {"control": "t0"}, lambda d: d.n_treatments == 10),
    ("arm-unicode", _with(arm=lambda df: np.where(np.arange(len(df)) % 2, "コントロール", "β")),
     {"control": "β"}, _arms("β", "コントロール")),
    ("arm-markup", _with(arm=lambda df: np.where(np.arange(len(df)) % 2, "[new]", "control")),
     {}, _arms("control", "[new]")),
    ("arm-newline", _at("arm", 0, "control\n"), {}, _arms("control", "B")),
    ("arm-tab", _at("arm", 0, "\tB"), {}, _arms("control", "B")),
    ("arm-nbsp", _at("arm", 0, "B\u00a0"), {}, _arms("control", "B")),
    ("propensity-out", _with(propensity=1.5), {}, r"outside \[0, 1\]"),
    ("propensity-str", _with(propensity="0.5"), {}, r"must hold numbers"),
    ("propensity-ok", _with(propensity=0.5), {}, lambda d: d.propensities() is not None),
    ("propensity-wrong-k", _with(propensity_1=0.5, propensity_2=0.2), {},
     r"do not match the 2 treatments"),
    ("cell-null", _with(cell=lambda df: [None] + ["c"] * (len(df) - 1)), {}, r"missing"),
    ("cell-mixed", _with(cell=lambda df: [1 if i % 2 else "a" for i in range(len(df))]), {},
     r"reserved column 'cell' mixes"),
    ("cell-ok", _with(cell="explore"), {}, _features("x", "g")),
]


@pytest.mark.parametrize(("mutate", "kwargs", "expected"), [c[1:] for c in FRAMES],
                         ids=[c[0] for c in FRAMES])
def test_frame_case(mutate, kwargs, expected):
    """Each frame mutation is a clean error with its message, or an accept that checks out."""
    kind, value = run(lambda: _load(mutate(base_frame()), **kwargs))
    if isinstance(expected, str):
        assert kind == ERR, f"accepted, expected an error matching {expected!r}"
        assert re.search(expected, str(value)), str(value)
    else:
        assert kind == "accept", f"refused: {value}"
        assert expected(value)


# --------------------------------------------------------------------------------------------
# 2. Treatment label sets (the raw labels of the two or more arms, cycled over the rows)
# --------------------------------------------------------------------------------------------

LABELS: list[tuple[tuple[Any, ...], Any, Any]] = [
    (("control", "B"), None, ("control", "B")),
    (("Control", " Control", "B"), "Control", ("Control", "B")),
    (("Control", "Control ", "B"), None, ("Control", "B")),
    (("control", "CONTROL", "B"), None, "differ only by letter case"),
    (("Control", "control", "B"), "Control", "differ only by letter case"),
    (("A", "a"), None, "differ only by letter case"),
    (("A", " a "), None, "differ only by letter case"),
    (("B", "b", "C"), "C", "differ only by letter case"),
    ((" A", "A ", " A ", "B"), "A", ("A", "B")),
    (("A", "B", "C"), "A", ("A", "B", "C")),
    (("A", "B", "C"), "C", ("C", "A", "B")),
    (("A", "B", "C"), None, ("A", "B", "C")),
    (("x", "control", "y"), None, ("control", "x", "y")),
    (("x", " CONTROL ", "y"), None, (("CONTROL", "x", "y"))),
    (("Control", "control_2"), None, ("Control", "control_2")),
    (("control", "controls"), None, ("control", "controls")),
    (("ctl", "treat"), "ctl", ("ctl", "treat")),
    (("ctl", "treat"), "treat", ("treat", "ctl")),
    (("ctl", "treat"), "Treat", "does not exist"),
    (("ctl", "treat"), "", "does not exist"),
    (("only",), None, "single level"),
    ((" only", "only "), None, "single level"),
    (("", "B"), None, "blank label"),
    ((" ", "B"), None, "blank label"),
    (("\t", "B"), None, "blank label"),
    (("A\n", "B"), "A", ("A", "B")),
    (("[new]", "control"), None, ("control", "[new]")),
    (("[b]x[/b]", "control"), None, ("control", "[b]x[/b]")),
    (("a/b", "a\\b"), "a/b", ("a/b", "a\\b")),
    (("ä", "a"), "a", ("a", "ä")),
    (("Straße", "STRASSE"), None, "differ only by letter case"),
    (("İ", "i"), "i", ("i", "İ")),
    (("1", "2"), "1", ("1", "2")),
    ((1, 2), 1, ("1", "2")),
    ((1, 2), "1", ("1", "2")),
    ((1, 2), " 1 ", ("1", "2")),
    ((10, 2, 1), 1, ("1", "2", "10")),
    ((1.0, 2.0), 1.0, ("1.0", "2.0")),
    ((1, 1.0), None, "single level"),
    ((True, False), False, ("False", "True")),
    (("True", True), None, "different types"),
    (("None", "B"), "B", ("B", "None")),
    (("nan", "B"), "B", ("B", "nan")),
    (("'quoted'", "B"), "B", ("B", "'quoted'")),
    (("x" * 300, "B"), "B", ("B", "x" * 300)),
    (tuple(f"arm{i}" for i in range(10)), "arm0", tuple(f"arm{i}" for i in range(10))),
    (("A", "B\u00a0"), "A", ("A", "B")),
    (("A", "\u200bB"), "A", ("A", "\u200bB")),
]


@pytest.mark.parametrize(("labels", "control", "expected"), LABELS,
                         ids=[f"labels{i}" for i in range(len(LABELS))])
def test_label_case(labels, control, expected):
    """Padding merges with a warning, case-only twins are refused, the rest keeps its names."""
    df = base_frame(n=60)
    df["arm"] = pd.Series([labels[i % len(labels)] for i in range(len(df))], dtype=object)
    kind, value = run(lambda: _load(df, control=control))
    if isinstance(expected, str):
        assert kind == ERR and expected in str(value), value
    else:
        assert kind == "accept", f"refused: {value}"
        assert value.treatments == expected


def test_padded_labels_warn_even_with_control():
    """Merging padded labels is never silent, also when control= is given."""
    df = base_frame()
    df.loc[0, "arm"] = " control"
    with pytest.warns(UserWarning, match=r"' control'.* read as 'control'"):
        data = _load(df, control="control")
    assert data.treatments == ("control", "B")
    assert data.variants[0].n_visitors == N // 2


# --------------------------------------------------------------------------------------------
# 3. Outcome value sets (cycled over the rows): regex of the refusal, or the inferred metric
# --------------------------------------------------------------------------------------------

OUTCOMES: list[tuple[list[Any], Any]] = [
    ([0, 1], "conversion_rate"),
    ([0.0, 1.0, 1.0], "conversion_rate"),
    ([True, False], "conversion_rate"),
    ([0, 0, 0, 2.5], "revenue_per_visitor"),
    ([0, 3.5, 7.25], "revenue_per_visitor"),
    ([1.5, 2.5, 3.5], "continuous"),
    ([-1.0, 1.0], "continuous"),
    ([0, 0, 0, -2.0], "continuous"),
    ([1e14, 2e14], "continuous"),
    ([1e15, -1e15], "continuous"),
    ([1e-30, 2e-30], "continuous"),
    ([5e-324, 0.0, 0.0], "below float32 resolution"),
    ([1e16, 1.0], "beyond"),
    ([1e19, 1.0], "beyond"),
    ([3e38, 1.0], "beyond"),
    ([1.7e308, 1.0], "beyond"),
    ([-1e19, 1.0], "beyond"),
    ([2**63 - 1, 1], "beyond"),
    ([float("nan"), 1.0], "missing"),
    ([float("inf"), 1.0], "infinite"),
    ([float("-inf"), 1.0], "infinite"),
    ([None, 1.0], "missing"),
    ([pd.NA, 1.0], "missing"),
    (["1", "2"], "not numeric"),
    (["a", 1.0], "not numeric"),
    ([b"1", 1.0], "not numeric"),
    ([[1], [2]], "not numeric"),
    ([{"a": 1}, 1.0], "not numeric"),
    ([1 + 2j, 1.0], "not numeric"),
    ([0], "is 0 for all"),
    ([0.0, -0.0], "is 0 for all"),
    ([1], "for all"),
    ([2.5], "for all"),
    ([-3.0], "for all"),
    ([1e9, 1e9 + 1e-6], "below float32 resolution"),
    ([decimal.Decimal("1.10"), decimal.Decimal("2.20")], "continuous"),
    ([decimal.Decimal("0"), decimal.Decimal("0"), decimal.Decimal("9.99")],
     "revenue_per_visitor"),
    ([decimal.Decimal("Infinity"), decimal.Decimal("1")], "infinite"),
    ([decimal.Decimal("1e20"), decimal.Decimal("1")], "beyond"),
    ([np.float32(1.5), np.float32(2.5)], "continuous"),
    ([np.int8(1), np.int8(3)], "continuous"),
    ([np.uint64(2**64 - 1), np.uint64(1)], "beyond"),
]


@pytest.mark.parametrize(("values", "expected"), OUTCOMES,
                         ids=[f"outcome{i}" for i in range(len(OUTCOMES))])
def test_outcome_case(values, expected):
    """Outcome values load under the right metric or are refused in the user's terms."""
    df = base_frame(n=60)
    df["y"] = pd.Series([values[i % len(values)] for i in range(len(df))], dtype=object)
    if all(isinstance(v, float | int) and not isinstance(v, bool) for v in values):
        df["y"] = df["y"].astype(float)
    kind, value = run(lambda: _load(df))
    if expected in ("conversion_rate", "revenue_per_visitor", "continuous"):
        assert kind == "accept", f"refused: {value}"
        assert value.metric == expected
    else:
        assert kind == ERR and expected in str(value), value


# --------------------------------------------------------------------------------------------
# 4. Raw files: (file name, bytes or writer, loader, expected)
# --------------------------------------------------------------------------------------------

_HEADER = "arm,y,x\n"
_BODY = "".join(f"{'control' if i % 2 else 'B'},{i % 7 + 0.5},{i / 10}\n" for i in range(N))
_TSV = _HEADER.replace(",", "\t") + _BODY.replace(",", "\t")


def _gz(text: str) -> bytes:
    return gzip.compress(text.encode())


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    import io

    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return buf.getvalue()


def _dup_parquet() -> bytes:
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    df = base_frame()
    table = pa.table([pa.array(df.arm), pa.array(df.y), pa.array(df.y)], names=["arm", "y", "y"])
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def _decimal_parquet() -> bytes:
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    df = base_frame()
    y = pa.array([decimal.Decimal(f"{v:.2f}") for v in df.y], pa.decimal128(10, 2))
    table = pa.table({"arm": df.arm, "y": y, "x": df.x})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


_OK = "accept"
FILES: list[tuple[str, str, Any, str, str]] = [
    # (id, file name, content, loader, expected regex or "accept")
    ("csv-ok", "v.csv", _HEADER + _BODY, "csv", _OK),
    ("csv-crlf", "v.csv", (_HEADER + _BODY).replace("\n", "\r\n"), "csv", _OK),
    ("csv-bom", "v.csv", "\ufeff" + _HEADER + _BODY, "csv", _OK),
    ("csv-gz-ok", "v.csv.gz", _gz(_HEADER + _BODY), "csv", _OK),
    ("csv-gz-not-gzip", "v.csv.gz", _HEADER + _BODY, "csv", r"damaged or not what"),
    ("csv-gz-truncated", "v.csv.gz", _gz(_HEADER + _BODY)[:40], "csv", r"damaged"),
    ("csv-gz-empty", "v.csv.gz", b"", "csv", r"cannot parse|damaged"),
    ("csv-empty", "v.csv", "", "csv", r"cannot parse"),
    ("csv-header-only", "v.csv", _HEADER, "csv", r"no rows"),
    ("csv-blank-lines", "v.csv", "\n\n\n", "csv", r"cannot parse"),
    ("csv-dup-outcome", "v.csv", "arm,y,y\n" + "".join(f"{a},1,1\n" for a in "ABAB"), "csv",
     r"names column\(s\) \['y'\] more than once"),
    ("csv-dup-arm", "v.csv", "arm,arm,y\nA,A,1\nB,B,2\n", "csv", r"\['arm'\] more than once"),
    ("csv-dup-feature", "v.csv", "arm,y,x,x\nA,1,2,3\nB,2,3,4\n", "csv", r"more than once"),
    ("csv-index-col", "v.csv", "," + _HEADER + "".join(
        f"{i},{line}\n" for i, line in enumerate(_BODY.splitlines())), "csv",
     r"without a name at position"),
    ("csv-unnamed-later", "v.csv", "arm,y,\n" + "".join(
        f"{line.rsplit(',', 1)[0]},\n" for line in _BODY.splitlines()), "csv",
     r"without a name"),
    ("csv-ragged", "v.csv", _HEADER + _BODY + "B,1,2,3,4\n", "csv", r"cannot parse"),
    ("csv-short-row", "v.csv", _HEADER + _BODY + "B\n", "csv", r"'y' has 1 missing|missing"),
    ("csv-bad-number", "v.csv", _HEADER + _BODY + "B,abc,1\n", "csv", r"not numeric"),
    ("csv-semicolon", "v.csv", (_HEADER + _BODY).replace(",", ";"), "csv", r"not found"),
    ("csv-latin1", "v.csv", (_HEADER + _BODY + "Bé,1,2\n").encode("latin-1"), "csv",
     r"cannot parse"),
    ("csv-binary", "v.csv", os.urandom(2000), "csv", r"cannot parse|not found|damaged"),
    ("csv-nul", "v.csv", _HEADER + "A\x00,1,2\n" + _BODY, "csv", _OK),
    ("csv-quoted-newline", "v.csv", _HEADER + '"con\ntrol",1,2\n' + _BODY, "csv", _OK),
    ("csv-padded-labels", "v.csv", _HEADER + _BODY.replace("B,", " B,", 3), "csv", _OK),
    ("csv-padded-header", "v.csv", "arm, y ,x\n" + _BODY, "csv", r"\['y'\] not found"),
    ("csv-case-labels", "v.csv", _HEADER + _BODY.replace("B,", "b,", 3), "csv",
     r"differ only by letter case"),
    ("csv-dates", "v.csv", "arm,y,x,day\n" + "".join(
        f"{line},2024-01-{i % 28 + 1:02d}\n" for i, line in enumerate(_BODY.splitlines())),
     "csv", r"'day' holds dates"),
    ("csv-huge-outcome", "v.csv", _HEADER + _BODY + "B,1e19,1\n", "csv", r"beyond"),
    ("csv-inf-outcome", "v.csv", _HEADER + _BODY + "B,inf,1\n", "csv", r"infinite"),
    ("csv-nan-outcome", "v.csv", _HEADER + _BODY + "B,NaN,1\n", "csv", r"missing"),
    ("csv-markup-header", "v.csv", "arm,y,[x]\n" + _BODY, "csv", _OK),
    ("csv-quoted-header", "v.csv", '"arm","y","x"\n' + _BODY, "csv", _OK),
    ("csv-long-line", "v.csv", _HEADER + _BODY + "B,1," + "9" * 5000 + "\n", "csv",
     r"infinite|beyond float32"),
    ("tsv-ok", "v.tsv", _TSV, "csv", _OK),
    ("tsv-gz", "v.tsv.gz", _gz(_TSV), "csv", _OK),
    ("tsv-dup", "v.tsv", "arm\ty\ty\nA\t1\t1\nB\t2\t2\n", "csv", r"more than once"),
    ("tab-ext", "v.tab", _TSV, "csv", _OK),
    ("txt-csv", "v.txt", _HEADER + _BODY, "csv", _OK),
    ("csv-named-tsv", "v.tsv", _HEADER + _BODY, "csv", r"not found"),
    ("sql-named-file", "from 2024.csv", _HEADER + _BODY, "csv", _OK),
    ("select-named-file", "select.csv", _HEADER + _BODY, "csv", _OK),
    ("parquet-ok", "v.parquet", _parquet_bytes(base_frame()), "parquet", _OK),
    ("pq-ext", "v.pq", _parquet_bytes(base_frame()), "parquet", _OK),
    ("parquet-not", "v.parquet", _HEADER + _BODY, "parquet", r"as Parquet"),
    ("parquet-empty", "v.parquet", b"", "parquet", r"as Parquet"),
    ("parquet-truncated", "v.parquet", _parquet_bytes(base_frame())[:100], "parquet",
     r"as Parquet"),
    ("parquet-tail-cut", "v.parquet", _parquet_bytes(base_frame())[:-10], "parquet",
     r"as Parquet"),
    ("parquet-flipped", "v.parquet", bytes(b ^ 0xFF if i == 200 else b for i, b in enumerate(
        _parquet_bytes(base_frame()))), "parquet", r"as Parquet|_OK"),
    ("parquet-dup", "v.parquet", _dup_parquet(), "parquet", r"\['y'\] more than once"),
    ("parquet-decimal", "v.parquet", _decimal_parquet(), "parquet", _OK),
    ("parquet-index", "v.parquet", _parquet_bytes(base_frame().reset_index()), "parquet",
     r"row index"),
    ("parquet-no-rows", "v.parquet", _parquet_bytes(base_frame().head(0)), "parquet",
     r"no rows"),
    ("parquet-internal", "v.parquet", _parquet_bytes(base_frame().assign(__treatment__="x")),
     "parquet", r"__treatment__"),
    ("sql-over-csv", "v.csv", _HEADER + _BODY, "sql", _OK),
    ("sql-over-dup-csv", "v.csv", "arm,y,y\n" + "".join(
        f"{'A' if i % 2 else 'B'},{i},{i}\n" for i in range(N)), "sql", r"second 'y' column"),
    ("sql-over-parquet", "v.parquet", _parquet_bytes(base_frame()), "sql", _OK),
    ("sql-over-dup-parquet", "v.parquet", _dup_parquet(), "sql", r"more than once|second"),
    ("sql-over-bad-parquet", "v.parquet", b"nope", "sql", r"DuckDB could not run"),
    ("sql-over-tsv", "v.tsv", _TSV, "sql", _OK),
    ("sql-over-empty-csv", "v.csv", _HEADER, "sql", r"no rows"),
]


def _read(kind: str, path: Path):
    if kind == "csv":
        return read_csv(path, **KEYS)
    if kind == "parquet":
        return read_parquet(path, **KEYS)
    return read_sql(str(path), **KEYS)


@pytest.mark.parametrize(("name", "content", "kind", "expected"), [c[1:] for c in FILES],
                         ids=[c[0] for c in FILES])
def test_file_case(tmp_path, name, content, kind, expected):
    """Each file is read or refused with a message naming the problem."""
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    result, value = run(lambda: _read(kind, path))
    if expected == _OK:
        assert result == "accept", f"refused: {value}"
        assert value.n_treatments >= 2
    elif expected.endswith("|_OK"):
        if result == ERR:
            assert re.search(expected[:-4], str(value)), value
    else:
        assert result == ERR, "accepted"
        assert re.search(expected, str(value)), value


# --------------------------------------------------------------------------------------------
# 5. SQL queries (over a file of good visitors at {path}, or a read-only database)
# --------------------------------------------------------------------------------------------

QUERIES: list[tuple[str, str]] = [
    ("SELECT * FROM '{path}'", _OK),
    ("select * from read_csv('{path}')", _OK),
    ("  SELECT * FROM '{path}'  ", _OK),
    ("SELECT * FROM '{path}';", _OK),
    ("WITH v AS (SELECT * FROM '{path}') SELECT * FROM v", _OK),
    ("FROM '{path}'", _OK),
    ("(SELECT * FROM '{path}')", _OK),
    ("SELECT * FROM '{path}' UNION ALL SELECT * FROM '{path}'", _OK),
    ("SELECT arm, y FROM '{path}'", _OK),
    ("SELECT arm, y, y FROM '{path}'", r"more than once"),
    ("SELECT arm, y, y AS \"y.1\" FROM '{path}'", r"second 'y' column"),
    ("SELECT arm AS a, y FROM '{path}'", r"\['arm'\] not found"),
    ("SELECT * FROM '{path}' WHERE arm = 'zzz'", r"no rows"),
    ("SELECT * FROM '{path}' WHERE arm = 'B'", r"single level"),
    ("SELECT 1; SELECT 2", r"2 statements"),
    ("SELECT * FROM '{path}'; DROP TABLE x", r"2 statements"),
    ("COPY (SELECT 1) TO '{out}'", r"COPY statement"),
    ("copy (select * from '{path}') to '{out}' (format csv)", r"COPY statement"),
    ("CREATE TABLE t AS SELECT * FROM '{path}'", r"CREATE statement"),
    ("INSERT INTO t VALUES (1)", r"INSERT statement"),
    ("ATTACH '{out}' AS x", r"ATTACH statement"),
    ("INSTALL httpfs", r"LOAD statement"),
    ("LOAD httpfs", r"LOAD statement"),
    ("PRAGMA version", r"PRAGMA statement"),
    ("SET threads = 1", r"SET statement"),
    ("CALL pragma_version()", r"CALL statement"),
    ("EXPLAIN SELECT 1", r"EXPLAIN statement"),
    ("EXPORT DATABASE '{outdir}'", r"EXPORT statement"),
    ("DELETE FROM t", r"DELETE statement"),
    ("UPDATE t SET x = 1", r"UPDATE statement"),
    ("DROP TABLE t", r"DROP statement"),
    ("SELEC * FROM x", r"DuckDB could not run|(?i:syntax)"),
    ("SELECT * FROM no_such_table", r"no_such_table"),
    ("SELECT * FROM '{missing}'", r"DuckDB could not run"),
    ("no_such_table", r"no_such_table"),
    ("", r"empty"),
    ("   ", r"empty"),
    ("-- only a comment", r"0 statements|DuckDB could not run"),
    ("SELECT 1 AS arm, 2 AS y", r"for all 1 visitors"),
    ("SELECT * FROM range(10)", r"not found"),
    ("VALUES (1, 2)", r"not found"),
    ("SELECT '[x]' AS arm, 1 AS y", r"for all 1 visitors"),
]


@pytest.mark.parametrize(("query", "expected"), QUERIES,
                         ids=[f"sql{i}" for i in range(len(QUERIES))])
def test_sql_case(tmp_path, query, expected):
    """Only a single SELECT runs; anything else is refused before it can write."""
    path = tmp_path / "v.csv"
    base_frame().to_csv(path, index=False)
    out = tmp_path / "written.csv"
    sql = query.format(path=path, out=out, outdir=tmp_path / "export",
                       missing=tmp_path / "none.parquet")
    result, value = run(lambda: read_sql(sql, **KEYS))
    if expected == _OK:
        assert result == "accept", f"refused: {value}"
    else:
        assert result == ERR and re.search(expected, str(value)), value
    assert not out.exists() and not (tmp_path / "export").exists()


def test_copy_refused_on_a_read_only_database(tmp_path):
    """COPY ... TO against a database file writes nothing."""
    import duckdb

    db = tmp_path / "v.duckdb"
    con = duckdb.connect(str(db))
    con.register("df", base_frame())
    con.execute("CREATE TABLE visitors AS SELECT * FROM df")
    con.close()
    out = tmp_path / "leak.csv"
    with pytest.raises(SchemaViolation, match="COPY"):
        read_sql(f"COPY visitors TO '{out}'", db, **KEYS)
    assert not out.exists()
    assert read_sql("visitors", db, **KEYS).n_visitors == N


def test_copy_refused_on_an_open_connection(tmp_path):
    """A caller's writable connection is protected by the statement check too."""
    import duckdb

    con = duckdb.connect()
    con.register("visitors_df", base_frame())
    out = tmp_path / "leak.csv"
    with pytest.raises(SchemaViolation, match="COPY"):
        read_sql(f"COPY visitors_df TO '{out}'", con, **KEYS)
    assert not out.exists()


# --------------------------------------------------------------------------------------------
# 6. Paths
# --------------------------------------------------------------------------------------------

def _setup_path(tmp_path: Path, case: str) -> str:
    good = tmp_path / "good.csv"
    base_frame().to_csv(good, index=False)
    (tmp_path / "folder.csv").mkdir()
    (tmp_path / "pq_dir").mkdir()
    base_frame().to_parquet(tmp_path / "pq_dir" / "part-0.parquet", index=False)
    (tmp_path / "link.csv").symlink_to(good)
    (tmp_path / "dangling.csv").symlink_to(tmp_path / "gone.csv")
    return case.format(tmp=tmp_path)


PATHS: list[tuple[str, str, Any, str]] = [
    ("good", "{tmp}/good.csv", "csv", _OK),
    ("missing", "{tmp}/nope.csv", "csv", r"not found"),
    ("folder-as-csv", "{tmp}/folder.csv", "csv", r"is a folder"),
    ("parquet-dir", "{tmp}/pq_dir", "parquet", _OK),
    ("parquet-file-in-dir", "{tmp}/pq_dir/part-0.parquet", "parquet", _OK),
    ("csv-reader-on-dir", "{tmp}/pq_dir", "csv", r"is a folder"),
    ("symlink", "{tmp}/link.csv", "csv", _OK),
    ("dangling-link", "{tmp}/dangling.csv", "csv", r"not found"),
    ("no-such-user", "~nosuchuser_pytyche/x.csv", "csv", r"cannot expand"),
    ("tilde-missing", "~/definitely_missing_pytyche.csv", "csv", r"not found"),
    ("empty-path", "", "csv", r"path is empty"),
    ("blank-path", "   ", "csv", r"path is empty"),
    ("dev-null", "/dev/null", "csv", r"not a regular file"),
    ("proc-dir", "/proc", "csv", r"is a folder"),
    ("int-path", 42, "csv", r"must be a file path"),
    ("none-path", None, "csv", r"must be a file path"),
    ("bytes-path", b"x.csv", "parquet", r"must be a file path"),
    ("nul-in-path", "{tmp}/go\x00od.csv", "csv", r"null byte|embedded|not found"),
    ("trailing-slash", "{tmp}/good.csv/", "csv", _OK),
    ("db-missing", "{tmp}/nope.duckdb", "db", r"not found"),
    ("db-not-duckdb", "{tmp}/good.csv", "db", r"cannot open.*DuckDB"),
    ("db-folder", "{tmp}/folder.csv", "db", r"is a folder"),
    ("db-bad-type", 3.5, "db", r"duckdb connection"),
]


@pytest.mark.parametrize(("case", "kind", "expected"), [c[1:] for c in PATHS],
                         ids=[c[0] for c in PATHS])
def test_path_case(tmp_path, case, kind, expected):
    """Paths that are missing, folders, devices or odd are refused by name."""
    path = _setup_path(tmp_path, case) if isinstance(case, str) else case
    loaders = {"db": lambda: read_sql("SELECT * FROM visitors", path, **KEYS),
               "parquet": lambda: read_parquet(path, **KEYS),
               "csv": lambda: read_csv(path, **KEYS)}
    result, value = run(loaders[kind])
    if expected == _OK:
        assert result == "accept", f"refused: {value}"
    else:
        assert result == ERR and re.search(expected, str(value)), value


def test_permission_denied_is_a_source_error(tmp_path, monkeypatch):
    """An unreadable file is a SourceError naming it (simulated: tests may run as root)."""
    path = tmp_path / "v.csv"
    base_frame().to_csv(path, index=False)
    monkeypatch.setattr(os, "access", lambda *a, **k: False)
    with pytest.raises(SourceError, match=r"permission denied"):
        read_csv(path, **KEYS)


def test_permission_error_while_reading(tmp_path, monkeypatch):
    """A PermissionError raised by the reader itself is translated as well."""
    path = tmp_path / "v.csv"
    base_frame().to_csv(path, index=False)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(pd, "read_csv", refuse)
    with pytest.raises(SourceError, match=r"permission denied"):
        read_csv(path, **KEYS)


def test_case_count():
    """The hand-written tables hold at least the 300 inputs the issue asks for."""
    total = len(FRAMES) + len(LABELS) + len(OUTCOMES) + len(FILES) + len(QUERIES) + len(PATHS)
    assert total >= 300, total
