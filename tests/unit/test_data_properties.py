"""Property tests of ``pytyche.data.from_dataframe`` on generated frames, well- and ill-formed."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytyche.contracts import ObservedExperimentData
from pytyche.data import feature_matrix, from_dataframe
from pytyche.errors import SchemaViolation

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
ARMS = ["ctrl", "B", "C"]
LEVELS = ["x", "y", "z"]
METRICS = [None, "conversion_rate", "continuous", "revenue_per_visitor"]


@st.composite
def frames(draw: st.DrawFn, *, malformed: bool) -> pd.DataFrame:
    """Visitor frames; with ``malformed`` they may carry each kind of defect the loader refuses."""
    n = draw(st.integers(min_value=0 if malformed else 3, max_value=25))
    n_arms = draw(st.integers(min_value=1 if malformed else 2, max_value=3))
    arm = draw(st.lists(st.sampled_from(ARMS[:n_arms]), min_size=n, max_size=n))
    if not malformed:
        arm[:n_arms] = ARMS[:n_arms]  # every arm has a visitor
    kind = draw(st.sampled_from(["binary", "revenue", "continuous"]))
    if kind == "binary":
        element = st.sampled_from([0.0, 1.0])
    elif kind == "revenue":
        element = st.one_of(st.just(0.0), st.floats(0.01, 500.0))
    else:
        element = st.floats(-100.0, 100.0)
    if malformed:
        element = st.one_of(element, st.sampled_from([np.nan, np.inf, -np.inf, -3.0]))
    y = draw(st.lists(element, min_size=n, max_size=n))
    if not malformed and n:
        y[0] = 1.0  # never all zero
        y[1] = 0.0 if kind != "continuous" else -1.0  # never constant
    frame = pd.DataFrame({
        "arm": arm,
        "y": np.array(y, dtype=float),
        "x_num": draw(st.lists(st.floats(-5, 5), min_size=n, max_size=n)),
        "x_cat": draw(st.lists(st.sampled_from(LEVELS), min_size=n, max_size=n)),
        "x_bin": draw(st.lists(st.booleans(), min_size=n, max_size=n)),
        "id": [f"v{i}" for i in range(n)],
    })
    if malformed:
        frame["x_num"] = frame["x_num"].astype(float)
        if n and draw(st.booleans()):
            rows = draw(st.lists(st.integers(0, n - 1), max_size=3))
            frame.loc[rows, "x_num"] = np.nan
        if draw(st.booleans()):
            frame["x_cat"] = frame["x_cat"].astype(object)
            if n:
                frame.loc[draw(st.integers(0, n - 1)), "x_cat"] = None
        if draw(st.booleans()):
            frame["x_empty"] = np.nan
        if n > 1 and draw(st.booleans()):
            frame.loc[n - 1, "id"] = frame.loc[0, "id"]
    return frame


def check_valid(data: ObservedExperimentData, frame: pd.DataFrame) -> None:
    """The loaded data matches the frame it came from."""
    assert data.n_visitors == len(frame)
    assert data.control == "ctrl"
    sums = frame.groupby("arm")["y"].sum()
    counts = frame["arm"].value_counts()
    for variant in data.variants:
        assert variant.n_visitors == counts[variant.name]
        assert variant.total_revenue == pytest.approx(sums[variant.name], abs=1e-9)
    assert feature_matrix(data).shape == (len(frame), data.schema.n_features)


class TestFromDataFrameProperties:
    @SETTINGS
    @given(frame=frames(malformed=True), metric=st.sampled_from(METRICS))
    def test_valid_or_schema_violation(self, frame, metric):
        """On any generated frame the loader returns valid data or raises SchemaViolation."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                data = from_dataframe(frame, treatment="arm", outcome="y", control="ctrl",
                                      visitor_id="id", metric=metric)
        except SchemaViolation:
            return
        check_valid(data, frame)

    @SETTINGS
    @given(frame=frames(malformed=False))
    def test_well_formed_round_trip(self, frame):
        """Well-formed frames always load, keeping visitor counts and per-arm sums."""
        data = from_dataframe(frame, treatment="arm", outcome="y", control="ctrl",
                              visitor_id="id")
        check_valid(data, frame)
        assert data.schema.kinds["x_cat"] == "categorical"
        assert data.schema.kinds["x_bin"] == "binary"
