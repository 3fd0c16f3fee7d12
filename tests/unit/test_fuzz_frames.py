"""Random frames (hypothesis, derandomized): whatever the columns, labels and values, loading
is a clean error or an accept whose result is consistent with the input.

Four properties, 250 + 250 + 150 + 100 examples: ``from_dataframe`` on arbitrary frames and on
near-valid frames with at most one damaged value, the arbitrary frames written to CSV and read
back with ``read_csv``, and arbitrary text given as a SQL query.
"""

from __future__ import annotations

import string
import warnings

import numpy as np
import pandas as pd
from _fuzz_helpers import run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytyche.data import feature_matrix, feature_schema, from_dataframe, read_csv, read_sql
from pytyche.data._validate import OUTCOME_LIMIT


def _fast(max_examples: int) -> settings:
    return settings(derandomize=True, deadline=None, database=None, max_examples=max_examples,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])

_TEXT = st.text(alphabet=string.ascii_letters + string.digits + " _-[]/\\.:'\"\t\u00e9\u00a0",
                min_size=0, max_size=8)
_NAMES = st.one_of(_TEXT, st.sampled_from(["outcome", "visitor_id", "cell", "round",
                                           "propensity", "__treatment__", "Unnamed: 0",
                                           "index", "treatment", "y.1", "arm_1"]))
_FLOATS = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                    st.floats(-1e6, 1e6), st.sampled_from([0.0, 1.0, 1e19, 3e38, -1e16]))


@st.composite
def frames(draw) -> tuple[pd.DataFrame, dict]:
    n = draw(st.integers(0, 40))
    labels = draw(st.lists(st.one_of(_TEXT, st.integers(-3, 3), st.booleans()), min_size=1,
                           max_size=4))
    arm = [labels[draw(st.integers(0, len(labels) - 1))] for _ in range(n)]
    kind = draw(st.sampled_from(["float", "binary", "revenue", "mixed", "int", "object"]))
    if kind == "float":
        y = draw(st.lists(_FLOATS, min_size=n, max_size=n))
    elif kind == "binary":
        y = draw(st.lists(st.sampled_from([0, 1]), min_size=n, max_size=n))
    elif kind == "revenue":
        y = [v if draw(st.booleans()) else 0.0
             for v in draw(st.lists(st.floats(0, 500), min_size=n, max_size=n))]
    elif kind == "int":
        y = draw(st.lists(st.integers(-(2**62), 2**62), min_size=n, max_size=n))
    elif kind == "object":
        y = draw(st.lists(st.one_of(_TEXT, _FLOATS, st.none()), min_size=n, max_size=n))
    else:
        y = draw(st.lists(st.one_of(st.floats(-10, 10), st.none(), _TEXT), min_size=n,
                          max_size=n))
    columns: dict = {"arm": pd.Series(arm, dtype=object), "y": pd.Series(y, dtype=object)}
    if kind in ("float", "binary", "revenue", "int"):
        columns["y"] = pd.Series(y, dtype=float if kind != "int" else object)
    for name in draw(st.lists(_NAMES, max_size=4)):
        col_kind = draw(st.sampled_from(["num", "text", "bool", "mixed", "nan", "date"]))
        if col_kind == "num":
            values = draw(st.lists(_FLOATS, min_size=n, max_size=n))
        elif col_kind == "text":
            values = draw(st.lists(_TEXT, min_size=n, max_size=n))
        elif col_kind == "bool":
            values = draw(st.lists(st.booleans(), min_size=n, max_size=n))
        elif col_kind == "nan":
            values = [np.nan] * n
        elif col_kind == "date":
            values = [f"2024-01-{1 + i % 28:02d}" for i in range(n)]
        else:
            values = draw(st.lists(st.one_of(_TEXT, st.integers(0, 5), st.none()), min_size=n,
                                   max_size=n))
        columns.setdefault(name, pd.Series(values, dtype=object))
    frame = pd.DataFrame(columns)
    kwargs = {}
    if draw(st.booleans()):
        kwargs["control"] = draw(st.one_of(st.sampled_from(labels), _TEXT))
    if draw(st.booleans()):
        kwargs["metric"] = draw(st.sampled_from(["conversion_rate", "continuous",
                                                 "revenue_per_visitor"]))
    return frame, kwargs


@st.composite
def near_valid_frames(draw) -> tuple[pd.DataFrame, dict]:
    """Well-formed frames (padded labels, clean features) with at most one damaged value."""
    n = draw(st.integers(4, 40))
    names = draw(st.lists(st.sampled_from(["control", "A", "B", "new", "[x]", "v 2"]),
                          min_size=2, max_size=4, unique=True))
    pad = draw(st.sampled_from(["", " ", "\t", "  "]))
    arm = [names[i % len(names)] + (pad if i % 5 == 0 else "") for i in range(n)]
    family = draw(st.sampled_from(["continuous", "binary", "revenue"]))
    if family == "continuous":
        y = draw(st.lists(st.floats(-1e3, 1e3), min_size=n, max_size=n))
    elif family == "binary":
        y = [float(i % 2) for i in range(n)]
    else:
        y = [0.0 if i % 3 else v for i, v in enumerate(draw(st.lists(
            st.floats(0.01, 1e4), min_size=n, max_size=n)))]
    frame = pd.DataFrame({"arm": arm, "y": y,
                          "x": draw(st.lists(st.floats(-1e6, 1e6), min_size=n, max_size=n)),
                          "g": [draw(st.sampled_from(["web", "app", "[m]"])) for _ in range(n)]})
    damage = draw(st.sampled_from(["none", "none", "none", "y-nan", "y-huge", "x-inf",
                                   "g-null", "arm-case", "arm-null"]))
    row = draw(st.integers(0, n - 1))
    if damage == "y-nan":
        frame.loc[row, "y"] = np.nan
    elif damage == "y-huge":
        frame.loc[row, "y"] = 1e20
    elif damage == "x-inf":
        frame.loc[row, "x"] = np.inf
    elif damage == "g-null":
        frame.loc[row, "g"] = None
    elif damage == "arm-case":
        frame.loc[row, "arm"] = frame.loc[row, "arm"].swapcase()
    elif damage == "arm-null":
        frame["arm"] = frame["arm"].astype(object)
        frame.loc[row, "arm"] = None
    kwargs = {"control": names[0]} if draw(st.booleans()) else {}
    return frame, kwargs


def _consistent(data, frame: pd.DataFrame) -> None:
    assert data.n_visitors == len(frame)
    assert len(set(data.treatments)) == len(data.treatments) >= 2
    assert all(t == t.strip() and t for t in data.treatments)
    folded = [t.casefold() for t in data.treatments]
    assert len(set(folded)) == len(folded)
    y = data.outcome()
    assert np.isfinite(y).all() and (np.abs(y) <= OUTCOME_LIMIT).all()
    assert len(np.unique(y.astype(np.float32))) > 1
    assert set(feature_schema(data).features) <= {c for c in frame.columns if isinstance(c, str)}
    assert "__treatment__" not in feature_schema(data).features
    x = feature_matrix(data)
    assert x.shape == (len(frame), feature_schema(data).n_features) and np.isfinite(x).all()


@_fast(250)
@given(frames())
def test_random_frames_load_cleanly(case):
    """Any frame is a clean error, or loads into data the model can take as it is."""
    frame, kwargs = case
    kind, value = run(lambda: from_dataframe(frame, treatment="arm", outcome="y", **kwargs))
    if kind == "accept":
        _consistent(value, frame)


@_fast(250)
@given(near_valid_frames())
def test_near_valid_frames(case):
    """Well-formed frames load (padding merged); one damaged value is refused by its row."""
    frame, kwargs = case
    kind, value = run(lambda: from_dataframe(frame, treatment="arm", outcome="y", **kwargs))
    if kind == "accept":
        _consistent(value, frame)
        stripped = {str(v).strip() for v in frame["arm"]}
        assert set(value.treatments) == stripped
    else:
        message = str(value)
        assert any(word in message for word in ("row", "letter case", "for all",
                                                "single level", "float32")), message


@_fast(150)
@given(frames())
def test_random_frames_through_csv(tmp_path_factory, case):
    """The same frames written as CSV load cleanly or are refused cleanly."""
    frame, kwargs = case
    path = tmp_path_factory.mktemp("csv") / "v.csv"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame.to_csv(path, index=False)
    kind, value = run(lambda: read_csv(path, treatment="arm", outcome="y", **kwargs))
    if kind == "accept":
        assert value.n_visitors <= len(frame) + 1
        assert len(set(value.treatments)) == len(value.treatments) >= 2


@_fast(100)
@given(st.one_of(st.text(max_size=40),
                 st.builds(lambda a, b: f"{a} {b}", st.sampled_from(
                     ["SELECT", "WITH", "FROM", "COPY", "ATTACH", "PRAGMA", "CREATE", "(",
                      "VALUES", "select 1;"]), st.text(max_size=30))))
def test_random_sql_text_is_refused_cleanly(tmp_path_factory, query):
    """Arbitrary text as a query never crashes and never writes a file."""
    folder = tmp_path_factory.mktemp("sql")
    before = set(folder.iterdir())
    kind, _ = run(lambda: read_sql(query, treatment="arm", outcome="y"))
    assert kind == "error"
    assert set(folder.iterdir()) == before
