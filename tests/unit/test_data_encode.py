"""Feature encoding and schema inference (``pytyche.data._encode``, ``pytyche.data._schema``)."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pandas as pd
import pytest

from pytyche.contracts import ObservedExperimentData, VariantData, VisitorSchema
from pytyche.data import encode_new_visitors, feature_matrix, feature_schema, infer_schema
from pytyche.errors import SchemaViolation


def schema() -> VisitorSchema:
    """A schema with one feature of each kind."""
    return VisitorSchema(features=("age", "device", "member"),
                         kinds={"age": "continuous", "device": "categorical",
                                "member": "binary"},
                         categories={"device": ("app", "web")})


def observed(*, with_schema: bool = True) -> ObservedExperimentData:
    """Two arms of three visitors with one feature of each kind."""
    frames = [
        pd.DataFrame({"age": [30.0, 41.0, 25.0], "device": ["web", "app", "web"],
                      "member": [True, False, True], "outcome": [0.0, 1.0, 2.0]}),
        pd.DataFrame({"age": [52.0, 19.0, 33.0], "device": ["app", "app", "web"],
                      "member": [False, False, True], "outcome": [1.0, 0.0, 3.0]}),
    ]
    variants = tuple(VariantData.from_visitors(n, f) for n, f in zip("AB", frames, strict=True))
    return ObservedExperimentData(experiment_id="e", metric="continuous", variants=variants,
                                  schema=schema() if with_schema else None)


class TestEncodeNewVisitors:
    def test_encode(self):
        """Encoding maps levels to positions and booleans to 0/1."""
        frame = pd.DataFrame({"age": [30, 41], "device": ["web", "app"], "member": [True, False]})
        np.testing.assert_array_equal(encode_new_visitors(schema(), frame),
                                      [[30, 1, 1], [41, 0, 0]])

    def test_unknown_level(self):
        """A level never seen is refused, naming the value."""
        frame = pd.DataFrame({"age": [30], "device": ["tv"], "member": [1]})
        with pytest.raises(SchemaViolation, match=r"'tv' was not seen"):
            encode_new_visitors(schema(), frame)

    def test_missing_column(self):
        """A missing feature column is refused."""
        with pytest.raises(SchemaViolation, match=r"missing feature columns \['member'\]"):
            encode_new_visitors(schema(), pd.DataFrame({"age": [1], "device": ["web"]}))

    def test_bad_binary(self):
        """A binary feature outside 0/1 is refused."""
        frame = pd.DataFrame({"age": [30], "device": ["web"], "member": [2]})
        with pytest.raises(SchemaViolation, match=r"binary feature 'member' has value"):
            encode_new_visitors(schema(), frame)

    def test_nan(self):
        """A missing continuous value is refused, asking to impute."""
        frame = pd.DataFrame({"age": [np.nan], "device": ["web"], "member": [1]})
        with pytest.raises(SchemaViolation, match=r"'age' has 1 missing.*impute"):
            encode_new_visitors(schema(), frame)


class TestInferSchema:
    def test_kinds(self):
        """Bools and 0/1 numbers are binary, numbers continuous, strings categorical sorted."""
        frame = pd.DataFrame({"b": [True, False], "i": [0, 1], "x": [0.5, 2.0],
                              "s": ["z", "a"]})
        inferred = infer_schema(frame, ["b", "i", "x", "s"])
        assert inferred.kinds == {"b": "binary", "i": "binary", "x": "continuous",
                                  "s": "categorical"}
        assert inferred.categories == {"s": ("a", "z")}


class TestFeatureSchema:
    def test_given(self):
        """The data's own schema is returned as is."""
        data = observed()
        assert feature_schema(data) is data.schema

    def test_inferred(self):
        """Without one, every non-reserved column is a feature, inferred over all visitors."""
        inferred = feature_schema(observed(with_schema=False))
        assert inferred.features == ("age", "device", "member")
        assert inferred.kinds == schema().kinds and inferred.categories == schema().categories


class TestFeatureMatrix:
    def test_values(self):
        """Every visitor in variant order, encoded by the schema."""
        data = observed()
        expected = np.concatenate([encode_new_visitors(schema(), v.visitors)
                                   for v in data.variants])
        assert feature_matrix(data).dtype == np.float32
        np.testing.assert_array_equal(feature_matrix(data), expected)

    def test_encoded_once(self):
        """A second call returns the same array, which no caller can write to."""
        data = observed(with_schema=False)
        first = feature_matrix(data)
        assert feature_matrix(data) is first
        with pytest.raises(ValueError, match="read-only"):
            first[0, 0] = 1.0

    def test_refresh_reads_frames_edited_in_place(self):
        """refresh=True (what a fit asks for) encodes the frames as they are now."""
        data = observed(with_schema=False)
        stale = feature_matrix(data)
        frame = data.variants[0].visitors
        name = frame.columns[0]
        if pd.api.types.is_numeric_dtype(frame[name]):
            frame.loc[frame.index[0], name] = frame[name].iloc[0] + 1
        else:
            frame.loc[frame.index[0], name] = frame[name].iloc[-1]
        fresh = feature_matrix(data, refresh=True)
        assert feature_matrix(data) is fresh
        assert not np.array_equal(fresh, stale)

    def test_not_part_of_the_value(self):
        """The kept matrix is out of repr and equality, and a replaced copy re-encodes."""
        data = observed()
        before = repr(data)
        matrix = feature_matrix(data)
        assert repr(data) == before
        kept = {f.name: f for f in dataclasses.fields(data)}["_feature_matrix"]
        assert not (kept.init or kept.compare or kept.repr)
        other = dataclasses.replace(data, variants=data.variants[::-1])
        np.testing.assert_array_equal(feature_matrix(other)[:3], matrix[3:])

    def test_deep_copy(self):
        """A deep copy carries equal features."""
        data = observed()
        feature_matrix(data)
        np.testing.assert_array_equal(feature_matrix(copy.deepcopy(data)), feature_matrix(data))
