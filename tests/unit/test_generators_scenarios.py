"""Unit tests of pytyche.generators.scenarios: every template builds, and each plants the
heterogeneity its name promises."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pytyche.contracts import CalibrationBundle
from pytyche.data import feature_matrix, feature_schema
from pytyche.generators import ARCHETYPES, TEMPLATES, Scenario, simulate

METRICS = ("conversion_rate", "revenue_per_visitor", "continuous")
N = 4000


def _frame_and_cate(template: str, metric: str, K: int, n: int = N, **kwargs):
    observed, truth = simulate(template, n_visitors=n, metric=metric, K=K, seed=3, **kwargs)
    return observed.visitors(), truth.cate_matrix(), truth


class TestRegistry:
    def test_names(self):
        """The registry holds exactly the nine documented templates."""
        assert set(TEMPLATES) == {
            "constant", "reversal", "sparse_benefit", "nonlinear", "monotone_gradient",
            "interaction_only", "clustered", "clustered_realistic", "null",
        }

    @pytest.mark.parametrize("template", sorted(TEMPLATES))
    def test_documented(self, template):
        """Every template says in its docstring what heterogeneity it plants."""
        assert len(TEMPLATES[template].__doc__ or "") > 80

    @pytest.mark.parametrize("template", sorted(TEMPLATES))
    @pytest.mark.parametrize("metric", METRICS)
    @pytest.mark.parametrize("K", [2, 3, 10])
    def test_builds_and_validates(self, template, metric, K):
        """Every template x metric x K gives a valid bundle with aligned truth."""
        bundle = simulate(template, n_visitors=2000, metric=metric, K=K, seed=1)
        assert isinstance(bundle, CalibrationBundle)
        observed, truth = bundle
        assert observed.n_treatments == truth.n_treatments == K
        assert observed.metric == truth.metric_id == metric
        assert truth.n_visitors == observed.n_visitors == 2000
        assert truth.cate_matrix().shape == (2000, K - 1)
        assert truth.potential_outcomes.values.shape == (2000, K)
        assert np.isfinite(truth.potential_outcomes.values).all()
        assert feature_matrix(observed).shape[0] == 2000
        assert "cluster_id" not in observed.visitors().columns
        y = observed.outcome()
        if metric == "conversion_rate":
            assert set(np.unique(y)) <= {0.0, 1.0}
        elif metric == "revenue_per_visitor":
            assert (y >= 0).all() and (y == 0).mean() > 0.8

    @pytest.mark.parametrize("template", sorted(TEMPLATES))
    def test_deterministic_per_seed(self, template):
        """Same seed, same bundle; another seed, other outcomes."""
        a, b, c = (simulate(template, n_visitors=1500, metric="continuous", K=3, seed=s)
                   for s in (4, 4, 5))
        for va, vb in zip(a.observed.variants, b.observed.variants, strict=True):
            pd.testing.assert_frame_equal(va.visitors, vb.visitors)
        np.testing.assert_array_equal(a.truth.cate_matrix(), b.truth.cate_matrix())
        assert not np.array_equal(a.observed.outcome(), c.observed.outcome())

    def test_template_returns_scenario(self):
        """A template only describes the process; it draws nothing."""
        scenario = TEMPLATES["clustered_realistic"]("revenue_per_visitor", None, 3)
        assert isinstance(scenario, Scenario)
        assert scenario.effect_scale == pytest.approx(0.1)
        assert scenario.treatment_names == ("control", "low_promo", "free_ship")
        assert scenario.n_treatments == 3

    @pytest.mark.parametrize(
        ("kwargs", "error", "match"),
        [
            ({"template": "nope"}, ValueError, "not registered"),
            ({"template": "constant", "K": 1}, ValueError, "K=1"),
            ({"template": "constant", "metric": "clicks"}, ValueError, "not a known metric"),
            ({"template": "constant", "baseline_rate": 1.5}, ValueError, "baseline_rate"),
            ({"template": "constant", "outcome_mean": 0.0}, ValueError, "outcome_mean"),
            ({"template": "constant", "treatment_probabilities": (0.5, 0.5)}, ValueError,
             "3 arms"),
            ({"template": "constant", "typo": 1}, TypeError, "typo"),
        ],
    )
    def test_bad_arguments(self, kwargs, error, match):
        """Bad template names, K, metrics and template options fail loudly."""
        kwargs = {"n_visitors": 100, **kwargs}
        with pytest.raises(error, match=match):
            simulate(**kwargs)

    def test_effect_out_of_range_refused(self):
        """An effect that would push a conversion probability past 1 is refused, not clipped."""
        with pytest.raises(ValueError, match="probability"):
            simulate("constant", n_visitors=500, metric="conversion_rate", K=2,
                     effect_scale=50.0, baseline_rate=0.3)


class TestNull:
    @pytest.mark.parametrize("metric", METRICS)
    @pytest.mark.parametrize("K", [2, 3, 10])
    def test_cate_exactly_zero(self, metric, K):
        """Every arm's surfaces equal control's, so the true CATE is exactly 0."""
        _, cate, truth = _frame_and_cate("null", metric, K, n=1000)
        assert not cate.any()
        assert truth.effect == 0.0
        assert all(v == 0.0 for v in truth.effect_components.values())


class TestConstant:
    @pytest.mark.parametrize("metric", METRICS)
    @pytest.mark.parametrize("K", [2, 3, 10])
    def test_same_effect_for_everyone(self, metric, K):
        """Per arm the CATE does not vary beyond rounding, and it grows with the arm index."""
        _, cate, _ = _frame_and_cate("constant", metric, K, n=2000)
        means = cate.mean(axis=0)
        assert np.ptp(cate, axis=0).max() <= 1e-12 * np.abs(means).max()
        assert (means > 0).all() and (np.diff(means) > 0).all()

    def test_revenue_lift_is_relative_to_baseline(self):
        """Revenue lift of the top arm = baseline_rate x basket_mean x effect_scale."""
        _, cate, _ = _frame_and_cate("constant", "revenue_per_visitor", 2, n=500,
                                     effect_scale=0.2)
        assert cate[0, 0] == pytest.approx(0.05 * 60.0 * 0.2)


class TestReversal:
    @pytest.mark.parametrize("metric", METRICS)
    @pytest.mark.parametrize("K", [2, 3, 10])
    def test_sign_flips_at_x1_zero(self, metric, K):
        """Odd arms help x1 > 0 and hurt x1 <= 0; even arms the reverse; no zero effects."""
        X, cate, _ = _frame_and_cate("reversal", metric, K)
        right = X["x1"].to_numpy() > 0
        for j in range(K - 1):
            sign = 1.0 if (j + 1) % 2 == 1 else -1.0
            assert (sign * cate[right, j] > 0).all()
            assert (sign * cate[~right, j] < 0).all()


class TestSparseBenefit:
    @pytest.mark.parametrize("metric", METRICS)
    @pytest.mark.parametrize("K", [2, 3, 10])
    def test_small_segment_benefits(self, metric, K):
        """10-20% of visitors benefit from each arm; nobody is harmed; the rest see exactly 0."""
        X, cate, _ = _frame_and_cate("sparse_benefit", metric, K)
        for j in range(K - 1):
            positive = cate[:, j] > 0
            assert 0.10 <= positive.mean() <= 0.20
            assert not cate[~positive, j].any()
            feature = "x1" if (j + 1) % 2 == 1 else "x2"
            np.testing.assert_array_equal(positive, X[feature].to_numpy() > 1.0364333894937898)


class TestNonlinear:
    def test_continuous_cate_follows_formula(self):
        """Continuous CATE = a_k (0.5 + sin(1.5 x1 + phi_k) + 0.25 x2^2), phi_k = (k-1) pi/3."""
        X, cate, _ = _frame_and_cate("nonlinear", "continuous", 3, effect_scale=0.2)
        x1, x2 = X["x1"].to_numpy(), X["x2"].to_numpy()
        for j, a in enumerate((0.1, 0.2)):
            expected = a * (0.5 + np.sin(1.5 * x1 + j * math.pi / 3) + 0.25 * x2**2)
            np.testing.assert_allclose(cate[:, j], expected, rtol=1e-10, atol=1e-14)

    @pytest.mark.parametrize("metric", METRICS)
    def test_both_signs_and_not_linear(self, metric):
        """The effect has positive and negative regions and a linear fit misses much of it."""
        X, cate, _ = _frame_and_cate("nonlinear", metric, 2)
        assert (cate > 0).any() and (cate < 0).any()
        design = np.column_stack([np.ones(len(X)), X[["x1", "x2", "x3", "b1"]].to_numpy()])
        fitted = design @ np.linalg.lstsq(design, cate[:, 0], rcond=None)[0]
        r2 = 1 - np.var(cate[:, 0] - fitted) / np.var(cate[:, 0])
        assert r2 < 0.8


class TestMonotoneGradient:
    @pytest.mark.parametrize("metric", METRICS)
    @pytest.mark.parametrize("K", [2, 3])
    def test_effect_increases_with_x1(self, metric, K):
        """Mean CATE rises across x1 deciles for every arm."""
        X, cate, _ = _frame_and_cate("monotone_gradient", metric, K)
        decile = pd.qcut(X["x1"], 10, labels=False).to_numpy()
        for j in range(K - 1):
            means = np.bincount(decile, weights=cate[:, j]) / np.bincount(decile)
            assert (np.diff(means) > 0).all()
            assert (cate[:, j] > 0).all()

    def test_continuous_exactly_monotone(self):
        """On the continuous scale the CATE is a strictly increasing function of x1 alone."""
        X, cate, _ = _frame_and_cate("monotone_gradient", "continuous", 2)
        order = np.argsort(X["x1"].to_numpy())
        assert (np.diff(cate[order, 0]) >= 0).all()


class TestInteractionOnly:
    @pytest.mark.parametrize("metric", METRICS)
    @pytest.mark.parametrize("K", [2, 3])
    def test_effect_only_where_both_conditions_hold(self, metric, K):
        """The CATE is non-zero exactly where x2 > 0 and x1 is on the arm's side of 0."""
        X, cate, _ = _frame_and_cate("interaction_only", metric, K)
        x1, x2 = X["x1"].to_numpy(), X["x2"].to_numpy()
        for j in range(K - 1):
            side = x1 > 0 if (j + 1) % 2 == 1 else x1 <= 0
            np.testing.assert_array_equal(cate[:, j] != 0, side & (x2 > 0))
            assert (cate[:, j] >= 0).all()


class TestClustered:
    @pytest.mark.parametrize("template", ["clustered", "clustered_realistic"])
    @pytest.mark.parametrize("metric", METRICS)
    def test_four_clusters_with_distinct_effects(self, template, metric):
        """Truth carries 4 cluster ids and the cluster-mean CATEs differ within each arm."""
        _, cate, truth = _frame_and_cate(template, metric, 3)
        clusters = truth.cluster_ids.values
        assert set(np.unique(clusters)) == {0, 1, 2, 3}
        counts = np.bincount(clusters)
        for j in range(2):
            means = np.bincount(clusters, weights=cate[:, j]) / counts
            assert np.ptp(means) > 0.5 * np.abs(means).max()
            assert len(np.unique(np.round(means / np.abs(means).max(), 6))) >= 3

    def test_clustered_effect_constant_within_cluster(self):
        """In `clustered`, the continuous CATE is one value per cluster, one cluster at 0."""
        _, cate, truth = _frame_and_cate("clustered", "continuous", 2)
        clusters = truth.cluster_ids.values
        values = [np.unique(np.round(cate[clusters == c, 0], 12)) for c in range(4)]
        assert all(len(v) == 1 for v in values)
        assert sorted(float(v[0]) for v in values)[1] == 0.0  # lifts 1.5, -1, 0.5, 0


class TestClusteredRealistic:
    @pytest.mark.parametrize(
        ("K", "names"),
        [
            (2, ("control", "low_promo")),
            (3, ("control", "low_promo", "free_ship")),
            (5, ("control", "low_promo", "free_ship", "treatment_3", "treatment_4")),
        ],
    )
    def test_arm_names(self, K, names):
        """control / low_promo / free_ship, then generic names for extra arms."""
        observed, _ = simulate("clustered_realistic", n_visitors=1000, K=K, seed=0)
        assert observed.treatments == names

    def test_realistic_rates_and_baskets(self):
        """Archetype conversion is 3-8% and mean baskets $40-$130."""
        observed, truth = simulate("clustered_realistic", n_visitors=20_000, K=3, seed=0)
        clusters = truth.cluster_ids.values
        counts = np.bincount(clusters)
        p0 = np.bincount(clusters, weights=truth.p_per_visitor[0].values) / counts
        m0 = np.bincount(clusters, weights=truth.m_per_visitor[0].values) / counts
        assert ((p0 > 0.025) & (p0 < 0.085)).all()
        assert ((m0 > 40) & (m0 < 130)).all()
        assert len(ARCHETYPES) == 4
        assert set(feature_schema(observed).features) >= {
            "device", "is_returning", "past_spend", "sessions", "region"}

    def test_extra_arms_distinct(self):
        """Arms beyond free_ship have effects distinct from each other and from the first two."""
        _, cate, _ = _frame_and_cate("clustered_realistic", "continuous", 6)
        means = cate.mean(axis=0)
        assert len(np.unique(np.round(means, 8))) == 5
