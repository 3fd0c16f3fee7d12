"""Unit tests of pytyche.generators.features and .surfaces."""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd
import pytest

from pytyche.data import encode_new_visitors
from pytyche.generators import (
    CopulaConfig,
    FeatureSpec,
    MixtureConfig,
    SurfaceConfig,
    add_surfaces,
    multiply_surfaces,
    sample_features,
    sigmoid_surface,
    threshold_surface,
    visitor_schema,
)


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> np.random.Generator:
    """A generator seeded from the test id."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


def _specs() -> tuple[FeatureSpec, ...]:
    return (
        FeatureSpec("x", "continuous", loc=2.0, scale=3.0),
        FeatureSpec("spend", "continuous", marginal="lognormal", loc=1.0, scale=0.5),
        FeatureSpec("flag", "binary", p=0.3),
        FeatureSpec("colour", "categorical", levels=("r", "g", "b"), weights=(0.6, 0.3, 0.1)),
    )


class TestFeatureSpec:
    @pytest.mark.parametrize(
        ("kwargs", "match"),
        [
            ({"name": "", "kind": "continuous"}, "non-empty"),
            ({"name": "outcome", "kind": "continuous"}, "reserved"),
            ({"name": "propensity_1", "kind": "continuous"}, "reserved"),
            ({"name": "cluster_id", "kind": "continuous"}, "reserved"),
            ({"name": "a", "kind": "ordinal"}, "kind"),
            ({"name": "a", "kind": "continuous", "scale": 0.0}, "scale"),
            ({"name": "a", "kind": "binary", "p": 1.2}, "probability"),
            ({"name": "a", "kind": "categorical", "levels": ("x",)}, "at least 2"),
            ({"name": "a", "kind": "categorical", "levels": ("x", "y"), "weights": (0.5, 0.6)},
             "sum to 1"),
            ({"name": "a", "kind": "continuous", "levels": ("x", "y")}, "features only"),
        ],
    )
    def test_invalid_specs_refused(self, kwargs, match):
        """Bad names, kinds and marginal parameters fail with the field named."""
        with pytest.raises(ValueError, match=match):
            FeatureSpec(**kwargs)

    def test_categorical_weights_default_uniform(self):
        """Without weights a categorical feature is uniform over its levels."""
        spec = FeatureSpec("c", "categorical", levels=("a", "b", "c"))
        assert spec.weights == pytest.approx((1 / 3, 1 / 3, 1 / 3))


class TestCopulaConfig:
    @pytest.mark.parametrize(
        ("corr", "match"),
        [
            (np.eye(3), "shape"),
            (np.array([[1.0, 0.5], [0.2, 1.0]]), "symmetric"),
            (np.array([[2.0, 0.0], [0.0, 1.0]]), "diagonal"),
            (np.array([[1.0, 1.5], [1.5, 1.0]]), r"\[-1, 1\]"),
        ],
    )
    def test_bad_correlation_refused(self, corr, match):
        """Wrong shape, asymmetry, non-unit diagonal and out-of-range entries are refused."""
        specs = (FeatureSpec("a", "continuous"), FeatureSpec("b", "continuous"))
        with pytest.raises(ValueError, match=match):
            CopulaConfig(specs, corr)

    def test_not_positive_semidefinite_refused(self):
        """A symmetric unit-diagonal matrix with a negative eigenvalue is refused."""
        specs = tuple(FeatureSpec(n, "continuous") for n in "abc")
        corr = np.array([[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]])
        with pytest.raises(ValueError, match="positive semi-definite"):
            CopulaConfig(specs, corr)

    def test_duplicate_names_refused(self):
        """Two features may not share a name."""
        specs = (FeatureSpec("a", "continuous"), FeatureSpec("a", "binary"))
        with pytest.raises(ValueError, match="duplicate"):
            CopulaConfig(specs, np.eye(2))


class TestMixtureConfig:
    def test_weights_must_match_clusters(self):
        """One weight per cluster."""
        with pytest.raises(ValueError, match="one weight per"):
            MixtureConfig(_specs(), (0.5, 0.5), ({},))

    @pytest.mark.parametrize("weights", [(0.5, 0.6), (1.0, 0.0)])
    def test_weights_positive_summing_to_one(self, weights):
        """Cluster weights are positive and sum to 1."""
        with pytest.raises(ValueError, match="positive and sum to 1"):
            MixtureConfig(_specs(), weights, ({}, {}))

    def test_unknown_feature_in_cluster_refused(self):
        """Overrides must name a declared feature."""
        with pytest.raises(ValueError, match="unknown features"):
            MixtureConfig(_specs(), (1.0,), ({"nope": {"loc": 1.0}},))

    def test_override_keys_checked_per_kind(self):
        """A binary feature's override may only set p."""
        with pytest.raises(ValueError, match="may only set"):
            MixtureConfig(_specs(), (1.0,), ({"flag": {"loc": 1.0}},))

    def test_override_values_checked(self):
        """An override probability above 1 is refused."""
        with pytest.raises(ValueError, match="probability"):
            MixtureConfig(_specs(), (1.0,), ({"flag": {"p": 1.5}},))


class TestSampleFeatures:
    def test_copula_columns_and_dtypes(self, rng):
        """Continuous as float64, binary as int8 0/1, categorical as Categorical."""
        X = sample_features(CopulaConfig(_specs(), np.eye(4)), rng, 1000)
        assert list(X.columns) == ["x", "spend", "flag", "colour"]
        assert X["x"].dtype == np.float64 and X["flag"].dtype == np.int8
        assert isinstance(X["colour"].dtype, pd.CategoricalDtype)
        assert list(X["colour"].cat.categories) == ["r", "g", "b"]
        assert (X["spend"] > 0).all()

    def test_copula_marginals(self, rng):
        """Marginal moments and shares match the specs within Monte Carlo error (5 SE)."""
        n = 40_000
        X = sample_features(CopulaConfig(_specs(), np.eye(4)), rng, n)
        assert abs(X["x"].mean() - 2.0) < 5 * 3.0 / np.sqrt(n)
        assert abs(np.log(X["spend"]).mean() - 1.0) < 5 * 0.5 / np.sqrt(n)
        assert abs(X["flag"].mean() - 0.3) < 5 * np.sqrt(0.21 / n)
        share = X["colour"].value_counts(normalize=True)
        assert abs(share["r"] - 0.6) < 5 * np.sqrt(0.24 / n)
        assert abs(share["b"] - 0.1) < 5 * np.sqrt(0.09 / n)

    def test_copula_correlation(self, rng):
        """Latent correlation shows up between continuous features (Fisher SE ~ 1/sqrt(n))."""
        specs = (FeatureSpec("a", "continuous"), FeatureSpec("b", "continuous"))
        corr = np.array([[1.0, 0.6], [0.6, 1.0]])
        X = sample_features(CopulaConfig(specs, corr), rng, 20_000)
        assert abs(np.corrcoef(X["a"], X["b"])[0, 1] - 0.6) < 5 / np.sqrt(20_000)

    def test_mixture_cluster_parameters(self, rng):
        """Each cluster's overrides shape its members' features; cluster_id is added."""
        config = MixtureConfig(
            _specs(), (0.3, 0.7),
            ({"x": {"loc": -5.0, "scale": 0.1}, "flag": {"p": 1.0},
              "colour": {"weights": (0.0, 0.0, 1.0)}},
             {"x": {"loc": 5.0, "scale": 0.1}, "flag": {"p": 0.0}}),
        )
        X = sample_features(config, rng, 5000)
        c = X["cluster_id"].to_numpy()
        assert set(np.unique(c)) == {0, 1}
        assert abs((c == 0).mean() - 0.3) < 5 * np.sqrt(0.21 / 5000)
        assert (X["x"][c == 0] < 0).all() and (X["x"][c == 1] > 0).all()
        assert (X["flag"][c == 0] == 1).all() and (X["flag"][c == 1] == 0).all()
        assert (X["colour"][c == 0] == "b").all()

    @pytest.mark.parametrize("n", [0, -1, 1.5])
    def test_bad_n(self, rng, n):
        """n must be a positive integer."""
        with pytest.raises(ValueError, match="positive integer"):
            sample_features(CopulaConfig(_specs(), np.eye(4)), rng, n)

    def test_unknown_config_type(self, rng):
        """Only the two sampler configs are accepted."""
        with pytest.raises(TypeError, match="CopulaConfig or"):
            sample_features({"features": ()}, rng, 10)

    def test_schema_matches_sampled_frame(self, rng):
        """visitor_schema encodes a sampled frame with the spec's level codes."""
        config = CopulaConfig(_specs(), np.eye(4))
        X = sample_features(config, rng, 100)
        encoded = encode_new_visitors(visitor_schema(config), X)
        np.testing.assert_array_equal(encoded[:, 3], X["colour"].cat.codes.to_numpy())


class TestSurfaces:
    @staticmethod
    def _frame() -> pd.DataFrame:
        return pd.DataFrame({"a": [-2.0, 0.0, 3.0], "b": [1.0, 2.0, 3.0]})

    def test_add_and_multiply(self):
        """Combinators act element-wise."""
        a = SurfaceConfig(lambda X: X["a"].to_numpy())
        b = SurfaceConfig(lambda X: X["b"].to_numpy())
        X = self._frame()
        np.testing.assert_array_equal(add_surfaces(a, b)(X), [-1.0, 2.0, 6.0])
        np.testing.assert_array_equal(multiply_surfaces(a, b)(X), [-2.0, 0.0, 9.0])

    def test_sigmoid_stable_and_bounded(self):
        """sigmoid maps any score into [0, 1] without overflow and sigmoid(0) = 0.5."""
        s = sigmoid_surface(SurfaceConfig(lambda X: np.array([-1e4, 0.0, 1e4])))
        np.testing.assert_array_equal(s(self._frame()), [0.0, 0.5, 1.0])

    def test_threshold_is_strict(self):
        """Values at the cutoff count as below."""
        s = threshold_surface(SurfaceConfig(lambda X: X["a"].to_numpy()), 0.0, 1.0, -1.0)
        np.testing.assert_array_equal(s(self._frame()), [-1.0, -1.0, 1.0])

    def test_not_callable_refused(self):
        """A surface must wrap a function."""
        with pytest.raises(TypeError, match="not callable"):
            SurfaceConfig(0.5)


class TestDefaultLevels:
    def test_known_name_gets_its_levels(self):
        """FeatureSpec("device", "categorical") gets device levels, uniform weights."""
        from pytyche.generators import FeatureSpec

        spec = FeatureSpec("device", "categorical")
        assert spec.levels == ("desktop", "mobile", "tablet")
        assert sum(spec.weights) == 1.0

    def test_other_name_gets_numbered_levels(self):
        """An unknown name gets three levels named after it; explicit levels still win."""
        from pytyche.generators import FeatureSpec

        assert FeatureSpec("plan", "categorical").levels == ("plan_0", "plan_1", "plan_2")
        assert FeatureSpec("device", "categorical", levels=("app", "web")).levels == ("app",
                                                                                       "web")
