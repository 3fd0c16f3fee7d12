"""Tests of ``pytyche.data.from_dataframe`` and metric inference."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from _data_helpers import visitor_frame

from pytyche.contracts import ObservedExperimentData, VisitorSchema
from pytyche.data import encode_new_visitors, feature_matrix, from_dataframe, infer_metric
from pytyche.errors import PytycheWarning, SchemaViolation

FEATURES = ["age", "score", "member", "returning", "device"]


def load(df: pd.DataFrame, **kwargs) -> ObservedExperimentData:
    """from_dataframe with the test frame's column names as defaults."""
    args = {"treatment": "arm", "outcome": "revenue", "control": "A", "features": FEATURES}
    return from_dataframe(df, **{**args, **kwargs})


class TestFromDataFrame:
    def test_variants_control_first_then_sorted(self):
        """Control comes first and the other levels follow in sorted order."""
        data = load(visitor_frame(), control="B")
        assert data.treatments == ("B", "A", "C")

    def test_rows_and_sums_per_arm(self):
        """Each variant holds exactly its arm's rows, in input order, with the outcome summed."""
        df = visitor_frame()
        data = load(df)
        for variant in data.variants:
            rows = df[df["arm"] == variant.name]
            assert variant.n_visitors == len(rows)
            assert variant.total_revenue == pytest.approx(rows["revenue"].sum())
            np.testing.assert_array_equal(variant.visitors["age"], rows["age"])

    def test_visitor_columns(self):
        """Visitor frames hold the features, the reserved outcome and the visitor id."""
        data = load(visitor_frame(), visitor_id="customer")
        columns = list(data.variants[0].visitors.columns)
        assert columns == [*FEATURES, "outcome", "visitor_id"]
        assert data.variants[0].visitors["outcome"].dtype == np.float64

    def test_schema_kinds(self):
        """Booleans and 0/1 ints are binary, numbers continuous, strings categorical."""
        schema = load(visitor_frame()).schema
        assert schema.kinds == {"age": "continuous", "score": "continuous", "member": "binary",
                                "returning": "binary", "device": "categorical"}
        assert schema.categories["device"] == ("app", "tablet", "web")
        assert (schema.outcome, schema.treatment) == ("revenue", "arm")

    def test_feature_matrix_shape(self):
        """The encoded feature matrix has one row per visitor and one column per feature."""
        data = load(visitor_frame(n=30))
        assert feature_matrix(data).shape == (30, len(FEATURES))

    def test_features_none_takes_other_columns(self):
        """features=None takes every non-key, non-reserved column in frame order."""
        df = visitor_frame().assign(cell="explore", round=0)
        data = load(df, features=None, visitor_id="customer")
        assert data.schema.features == tuple(FEATURES)
        assert {"cell", "round"} <= set(data.variants[0].visitors.columns)

    def test_reserved_visitor_id_column_used(self):
        """A column named visitor_id is the visitor id when visitor_id is not given."""
        df = visitor_frame().rename(columns={"customer": "visitor_id"})
        data = load(df, features=None)
        assert data.schema.visitor_id == "visitor_id"
        assert "visitor_id" not in data.schema.features

    def test_input_not_modified(self):
        """The caller's frame is left untouched."""
        df = visitor_frame()
        before = df.copy()
        load(df)
        pd.testing.assert_frame_equal(df, before)

    def test_control_named_control_found(self):
        """Without control=, the one level named 'control' (any case) is the control."""
        df = visitor_frame(arms=("treat", "Control", "alt"))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            data = load(df, control=None)
        assert data.control == "Control"

    def test_control_fallback_warns(self):
        """Without control= and no 'control' level, the first sorted level is used, warned."""
        with pytest.warns(PytycheWarning, match=r"using 'A'"):
            data = load(visitor_frame(arms=("C", "B", "A")), control=None)
        assert data.treatments == ("A", "B", "C")

    def test_numeric_levels(self):
        """Integer arm labels sort numerically and control may be given as the number."""
        df = visitor_frame(n=40).assign(arm=lambda d: np.arange(len(d)) % 3 * 5)
        data = load(df, control=5)
        assert data.treatments == ("5", "0", "10")

    def test_bool_outcome_is_conversion(self):
        """A boolean outcome reads as conversion_rate, stored as 0.0/1.0."""
        df = visitor_frame().assign(revenue=lambda d: d["revenue"] > 0)
        data = load(df)
        assert data.metric == "conversion_rate"
        assert set(np.unique(data.outcome())) == {0.0, 1.0}

    def test_object_numbers_become_numeric(self):
        """An object column of numbers is a continuous feature."""
        df = visitor_frame().assign(age=lambda d: d["age"].astype(object))
        assert load(df).schema.kinds["age"] == "continuous"

    def test_propensity_columns_pass_through(self):
        """Propensity columns are kept and read back by ObservedExperimentData.propensities."""
        df = visitor_frame().assign(propensity_1=0.3, propensity_2=0.3)
        probs = load(df).propensities()
        assert probs is not None
        np.testing.assert_allclose(probs[0], [0.4, 0.3, 0.3])

    def test_categorical_treatment(self):
        """A pandas Categorical treatment column works like strings."""
        df = visitor_frame().assign(arm=lambda d: d["arm"].astype("category"))
        assert load(df).treatments == ("A", "B", "C")


class TestMetricInference:
    @pytest.mark.parametrize(
        ("values", "metric"),
        [
            ([0, 1, 1, 0], "conversion_rate"),
            ([1, 1, 1, 1], "conversion_rate"),
            ([0, 0, 0, 12.5, 3.0], "revenue_per_visitor"),
            ([0, 0, 0, 7, 0, 0, 0, 0, 0, 0], "revenue_per_visitor"),
            ([1.5, 2.0, 0.0, 3.1, 4.2], "continuous"),
            ([0, 0, 0, -1.0, 2.0], "continuous"),
            ([3, 4, 5, 6], "continuous"),
        ],
    )
    def test_infer(self, values, metric):
        """0/1 is conversion, >= 30% zeros with no negatives is revenue, else continuous."""
        assert infer_metric(np.array(values, dtype=float)) == metric

    def test_inferred_through_loader(self):
        """The loader infers revenue_per_visitor for the zero-inflated test outcome."""
        assert load(visitor_frame()).metric == "revenue_per_visitor"

    def test_override(self):
        """metric= overrides inference when compatible."""
        assert load(visitor_frame(), metric="continuous").metric == "continuous"

    def test_all_zero_names_both_readings(self):
        """An all-zero outcome is refused, naming the binary and the revenue reading."""
        with pytest.raises(SchemaViolation, match=r"no conversions.*no spend"):
            load(visitor_frame().assign(revenue=0.0))

    def test_all_zero_with_metric(self):
        """An all-zero outcome is refused even with metric given."""
        with pytest.raises(SchemaViolation, match=r"is 0 for all"):
            load(visitor_frame().assign(revenue=0), metric="conversion_rate")

    def test_conversion_on_wide_values(self):
        """metric='conversion_rate' on values 0..50 is refused."""
        df = visitor_frame().assign(revenue=lambda d: np.arange(len(d)) % 51)
        with pytest.raises(SchemaViolation, match=r"not 0 or 1"):
            load(df, metric="conversion_rate")

    def test_revenue_with_negatives(self):
        """metric='revenue_per_visitor' with a negative value is refused."""
        df = visitor_frame()
        df.loc[3, "revenue"] = -4.0
        with pytest.raises(SchemaViolation, match=r"negative value.*row 3"):
            load(df, metric="revenue_per_visitor")

    def test_unknown_metric(self):
        """An unknown metric id is a ValueError listing the known ids."""
        with pytest.raises(ValueError, match=r"conversion_rate"):
            load(visitor_frame(), metric="gmv")


class TestBadInput:
    def test_not_a_frame(self):
        """A non-DataFrame input is refused."""
        with pytest.raises(SchemaViolation, match=r"expected a pandas DataFrame.*got dict"):
            from_dataframe({"arm": ["A"]}, treatment="arm", outcome="revenue")

    def test_empty_frame(self):
        """A frame with no rows is refused."""
        with pytest.raises(SchemaViolation, match=r"no rows"):
            load(visitor_frame().iloc[:0])

    def test_missing_outcome_lists_columns(self):
        """A missing column is named and the existing columns are listed."""
        with pytest.raises(SchemaViolation, match=r"\['spend'\] not found.*'revenue'"):
            load(visitor_frame(), outcome="spend")

    def test_missing_feature(self):
        """A missing feature column is named."""
        with pytest.raises(SchemaViolation, match=r"\['income'\] not found"):
            load(visitor_frame(), features=["age", "income"])

    def test_duplicate_columns(self):
        """Two columns with one name are refused."""
        df = visitor_frame()
        df = pd.concat([df, df[["age"]]], axis=1)
        with pytest.raises(SchemaViolation, match=r"duplicate column name\(s\) \['age'\]"):
            load(df)

    def test_duplicate_unused_column_ignored(self):
        """A duplicated column that is not used does not block loading."""
        df = visitor_frame()
        df = pd.concat([df, df[["customer"]]], axis=1)
        assert load(df).n_visitors == len(visitor_frame())

    def test_treatment_equals_outcome(self):
        """treatment == outcome is refused."""
        with pytest.raises(SchemaViolation, match=r"same column 'arm'"):
            load(visitor_frame(), outcome="arm")

    @pytest.mark.parametrize(("value", "what"), [(np.nan, "1 missing"), (np.inf, "1 infinite")])
    def test_non_finite_outcome(self, value, what):
        """NaN or inf outcomes are refused with their count and first row."""
        df = visitor_frame()
        df.loc[7, "revenue"] = value
        with pytest.raises(SchemaViolation, match=rf"{what}.*row 7"):
            load(df)

    def test_non_numeric_outcome(self):
        """A string outcome is refused."""
        df = visitor_frame().assign(revenue=lambda d: d["revenue"].astype(str))
        with pytest.raises(SchemaViolation, match=r"outcome 'revenue' is not numeric"):
            load(df)

    def test_mixed_object_outcome(self):
        """An object outcome holding a string among numbers is refused at that row."""
        df = visitor_frame().assign(revenue=lambda d: d["revenue"].astype(object))
        df.loc[5, "revenue"] = "n/a"
        with pytest.raises(SchemaViolation, match=r"row 5 holds 'n/a'"):
            load(df)

    def test_one_level(self):
        """A treatment column with a single level is refused."""
        with pytest.raises(SchemaViolation, match=r"single level \['A'\]"):
            load(visitor_frame().assign(arm="A"))

    def test_missing_treatment_values(self):
        """Visitors without an arm are refused."""
        df = visitor_frame()
        df.loc[2, "arm"] = None
        with pytest.raises(SchemaViolation, match=r"1 missing value.*row 2"):
            load(df)

    def test_empty_arm(self):
        """An unused categorical level (an empty arm) is refused."""
        df = visitor_frame().assign(
            arm=lambda d: pd.Categorical(d["arm"], categories=["A", "B", "C", "D"])
        )
        with pytest.raises(SchemaViolation, match=r"\['D'\].*no visitors"):
            load(df)

    def test_unknown_control(self):
        """A control name that is not a level is refused, listing the levels."""
        with pytest.raises(SchemaViolation, match=r"'Z' does not exist.*levels are \['A'"):
            load(visitor_frame(), control="Z")

    def test_all_null_feature(self):
        """A feature with every value missing is refused."""
        df = visitor_frame().assign(score=np.nan)
        with pytest.raises(SchemaViolation, match=r"feature 'score' is empty"):
            load(df)

    def test_some_null_feature(self):
        """A feature with some missing values is refused with the count and a hint to impute."""
        df = visitor_frame()
        df.loc[[4, 9], "device"] = None
        with pytest.raises(SchemaViolation, match=r"'device' has 2 missing.*row 4.*impute"):
            load(df)

    def test_infinite_feature(self):
        """An infinite feature value is refused."""
        df = visitor_frame()
        df.loc[1, "score"] = -np.inf
        with pytest.raises(SchemaViolation, match=r"'score' has 1 infinite"):
            load(df)

    def test_mixed_type_feature(self):
        """A feature mixing strings and numbers is refused."""
        df = visitor_frame().assign(device=lambda d: d["device"].astype(object))
        df.loc[3, "device"] = 7
        with pytest.raises(SchemaViolation, match=r"mixes value types"):
            load(df)

    def test_datetime_feature(self):
        """A datetime feature is refused with a conversion hint."""
        df = visitor_frame().assign(seen=pd.Timestamp("2024-01-01"))
        with pytest.raises(SchemaViolation, match=r"'seen' has dtype datetime"):
            load(df, features=["seen"])

    def test_duplicate_visitor_ids(self):
        """Repeated visitor ids are refused, showing the first repeated id."""
        df = visitor_frame()
        df.loc[10, "customer"] = "c0003"
        with pytest.raises(SchemaViolation, match=r"'c0003', appears at rows \[3, 10\]"):
            load(df, visitor_id="customer")

    def test_missing_visitor_ids(self):
        """Missing visitor ids are refused."""
        df = visitor_frame()
        df.loc[0, "customer"] = None
        with pytest.raises(SchemaViolation, match=r"visitor id column 'customer' has 1 missing"):
            load(df, visitor_id="customer")

    @pytest.mark.parametrize("name", ["round", "cell", "outcome", "propensity_2"])
    def test_reserved_feature_name(self, name):
        """A feature named like a reserved column is refused."""
        df = visitor_frame().assign(**{name: 1.0})
        with pytest.raises(SchemaViolation, match=rf"'{name}'.*reserved"):
            load(df, features=["age", name])

    def test_outcome_column_clash(self):
        """A column named 'outcome' that is not the outcome is refused."""
        with pytest.raises(SchemaViolation, match=r"reserved for the outcome"):
            load(visitor_frame().assign(outcome=1.0), features=None)

    def test_feature_named_treatment(self):
        """A feature named 'treatment' is refused (visitors() adds that column)."""
        df = visitor_frame().assign(treatment=1.0)
        with pytest.raises(SchemaViolation, match=r"'treatment' would clash"):
            load(df, features=None, visitor_id="customer")

    def test_feature_is_the_outcome(self):
        """Listing the outcome among the features is refused."""
        with pytest.raises(SchemaViolation, match=r"'revenue' is also the outcome"):
            load(visitor_frame(), features=["age", "revenue"])

    def test_repeated_feature(self):
        """Naming a feature twice is refused."""
        with pytest.raises(SchemaViolation, match=r"more than once"):
            load(visitor_frame(), features=["age", "age"])

    def test_features_as_string(self):
        """features='age' (a string, not a list) is a ValueError."""
        with pytest.raises(ValueError, match=r"must be a list"):
            load(visitor_frame(), features="age")

    def test_propensity_out_of_range(self):
        """A propensity above 1 is refused."""
        df = visitor_frame().assign(propensity_1=0.3, propensity_2=1.5)
        with pytest.raises(SchemaViolation, match=r"'propensity_2'.*outside"):
            load(df)

    def test_propensity_names_mismatch(self):
        """A lone 'propensity' column with 3 arms is refused."""
        with pytest.raises(SchemaViolation, match=r"do not match the 3 treatments"):
            load(visitor_frame().assign(propensity=0.5))


class TestEncodeNewVisitors:
    def test_same_codes_as_training(self):
        """New visitors get the codes the training visitors got."""
        df = visitor_frame()
        data = load(df)
        new = df.iloc[[5, 1, 2]].drop(columns=["arm", "revenue"])
        expected = encode_new_visitors(data.schema, df).astype(np.float32)[[5, 1, 2]]
        np.testing.assert_array_equal(encode_new_visitors(data, new), expected)

    def test_schema_round_trip(self):
        """A schema restored from its dict encodes identically."""
        df = visitor_frame()
        data = load(df)
        restored = VisitorSchema.from_dict(data.schema.to_dict())
        np.testing.assert_array_equal(
            encode_new_visitors(restored, df), encode_new_visitors(data, df)
        )

    def test_unknown_level(self):
        """A categorical level never seen in training is refused."""
        data = load(visitor_frame())
        new = visitor_frame(n=3).assign(device="watch")
        with pytest.raises(SchemaViolation, match=r"'watch' was not seen"):
            encode_new_visitors(data, new)

    def test_missing_feature(self):
        """New visitors lacking a feature column are refused."""
        data = load(visitor_frame())
        with pytest.raises(SchemaViolation, match=r"missing feature columns"):
            encode_new_visitors(data, visitor_frame(n=3).drop(columns=["score"]))

    def test_bad_source(self):
        """A source that is neither data nor schema is a TypeError."""
        with pytest.raises(TypeError, match=r"VisitorSchema"):
            encode_new_visitors({"features": []}, visitor_frame())


def test_import_is_light():
    """Importing pytyche.data loads neither jax, bartz, matplotlib nor duckdb."""
    code = (
        "import sys, pytyche.data; "
        "print([m for m in ('jax', 'bartz', 'matplotlib', 'duckdb') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
