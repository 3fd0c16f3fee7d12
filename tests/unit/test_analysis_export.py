"""Policy export: assign, JSON round trip, SQL through DuckDB."""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pandas as pd
import pytest
from _analysis_helpers import (
    categorical_posterior,
    features_frame,
    make_posterior,
    planted_boundary,
)

from pytyche.analysis import (
    ExportedPolicy,
    assign,
    fit_policy_tree,
    policy_from_json,
    policy_to_json,
    policy_to_sql,
)
from pytyche.data import feature_matrix, feature_schema
from pytyche.errors import SchemaViolation


@pytest.fixture(scope="module", params=["boundary", "categorical", "bool_flag"])
def fitted(request):
    if request.param == "boundary":
        post = planted_boundary(n=1500, n_draws=30)
    elif request.param == "categorical":
        post = categorical_posterior()
    else:  # a bool-typed binary feature and a quoted column name
        rng = np.random.default_rng(5)
        frame = features_frame(1200, rng)
        frame["is mobile"] = frame["device"] == "mobile"
        favour = frame["is mobile"].to_numpy()
        mean = np.column_stack([np.full(1200, 1.0), 1.0 + favour, 2.0 - favour])
        post = make_posterior(mean, frame.drop(columns="device"), n_draws=30)
    return post, fit_policy_tree(post, n_bootstrap=5, bootstrap_seed=1)


def visitors(post) -> pd.DataFrame:
    return post.observed.visitors()


class TestAssign:
    def test_deterministic_sends_each_leaf_to_its_best_arm(self, fitted) -> None:
        """Deterministic routing matches the tree's leaves and each leaf's best arm."""
        post, policy = fitted
        frame = visitors(post)
        leaves = policy.tree.apply(feature_matrix(post.observed))
        best = {s.id: s.best_treatment for s in policy.segments}
        expected = np.array([best[leaf] for leaf in leaves], dtype=object)
        np.testing.assert_array_equal(assign(policy, frame), expected)

    def test_thompson_follows_the_allocation(self) -> None:
        """Thompson routing draws arms at the leaf's shares and is reproducible by seed."""
        post = planted_boundary(n=1500, n_draws=30)
        policy = fit_policy_tree(post, n_bootstrap=0)
        frame = pd.concat([visitors(post)] * 20, ignore_index=True)
        a = assign(policy, frame, "thompson", seed=0)
        np.testing.assert_array_equal(a, assign(policy, frame, "thompson", seed=0))
        share_a = np.mean(a == "A")
        assert share_a == pytest.approx(0.02 / 3, abs=0.002)  # floor only: A is never best

    def test_unroutable_rows_refused(self, fitted) -> None:
        """A row no segment matches (missing value) is refused, not silently routed."""
        post, policy = fitted
        frame = visitors(post).head(3).copy()
        for col in frame.columns:
            if col not in ("treatment", "outcome"):
                frame[col] = frame[col].astype(object)
        frame.iloc[1, :] = None
        # the fixture's policy splits; a single leaf would route everyone and test nothing
        assert any(len(s.rule.rules) > 0 for s in policy.segments)
        with pytest.raises(SchemaViolation, match="match no segment"):
            assign(policy, frame)

    def test_bad_mode_refused(self, fitted) -> None:
        """Unknown routing modes list the valid ones."""
        post, policy = fitted
        with pytest.raises(ValueError, match="deterministic"):
            assign(policy, visitors(post), mode="greedy")  # type: ignore[arg-type]


class TestJson:
    def test_round_trip_assigns_the_same_rows(self, fitted) -> None:
        """A policy read back from JSON routes every visitor identically."""
        post, policy = fitted
        loaded = policy_from_json(policy_to_json(policy))
        assert isinstance(loaded, ExportedPolicy)
        frame = visitors(post)
        np.testing.assert_array_equal(assign(loaded, frame), assign(policy, frame))
        np.testing.assert_array_equal(
            assign(loaded, frame, "thompson", seed=2), assign(policy, frame, "thompson", seed=2)
        )

    def test_round_trip_keeps_segments_and_allocations(self, fitted) -> None:
        """Segments, allocations, scores and schema survive; JSON again is identical."""
        post, policy = fitted
        text = policy_to_json(policy)
        loaded = policy_from_json(text)
        assert loaded.segments == policy.segments
        assert loaded.allocation_map == policy.allocation_map
        assert loaded.treatments == post.observed.treatments
        assert loaded.schema == feature_schema(post.observed)
        assert policy_to_json(loaded) == text

    def test_nan_scores_written_as_null(self) -> None:
        """Uncomputed stability survives as NaN (null in the file)."""
        policy = fit_policy_tree(planted_boundary(n=400, n_draws=10), n_bootstrap=0)
        text = policy_to_json(policy)
        assert "NaN" not in text
        assert all(math.isnan(v) for v in policy_from_json(text).stability_scores.values())

    def test_foreign_json_refused(self) -> None:
        """JSON that is not a pytyche policy is refused."""
        with pytest.raises(ValueError, match="not a pytyche policy"):
            policy_from_json('{"a": 1}')


class TestSql:
    def test_duckdb_reproduces_deterministic_assignment(self, fitted) -> None:
        """The CASE expression run in DuckDB routes each visitor as assign does."""
        post, policy = fitted
        frame = visitors(post)
        con = duckdb.connect()
        con.register("visitors", frame)
        sql = f"SELECT {policy_to_sql(policy, treatment_column='arm')} FROM visitors"
        got = con.execute(sql).fetchdf()["arm"].to_numpy(dtype=object)
        np.testing.assert_array_equal(got, assign(policy, frame))

    def test_json_loaded_policy_gives_same_sql(self, fitted) -> None:
        """SQL from the JSON-loaded policy is the same text."""
        _, policy = fitted
        assert policy_to_sql(policy_from_json(policy_to_json(policy))) == policy_to_sql(policy)

    def test_expression_shape(self, fitted) -> None:
        """A bare CASE ... END without alias, with the alias when asked."""
        _, policy = fitted
        bare = policy_to_sql(policy)
        assert bare.startswith("CASE WHEN") and bare.endswith("ELSE NULL END")
        assert policy_to_sql(policy, "t").endswith('END AS "t"')
