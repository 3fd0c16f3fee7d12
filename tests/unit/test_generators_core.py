"""Unit tests of pytyche.generators.core: configs, potential outcomes, assignment, bundle."""

from __future__ import annotations

import dataclasses
import zlib

import numpy as np
import pandas as pd
import pytest

from pytyche.contracts import CalibrationBundle, propensity_columns
from pytyche.data import feature_matrix, feature_schema
from pytyche.errors import AlignmentViolation
from pytyche.generators import (
    AssignmentConfig,
    CartRevenueConfig,
    CopulaConfig,
    FeatureSpec,
    MetricMode,
    MixtureConfig,
    SurfaceConfig,
    V2GeneratorConfig,
    assign_and_observe,
    build_bundle,
    compute_potential_outcomes,
    generate_v2_core,
    sample_features,
    threshold_surface,
)

METRICS = ("conversion_rate", "revenue_per_visitor", "continuous")


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> np.random.Generator:
    """A generator seeded from the test id, so every test draws its own stream."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


def _copula() -> CopulaConfig:
    specs = (
        FeatureSpec("x1", "continuous"),
        FeatureSpec("x2", "continuous"),
        FeatureSpec("b1", "binary", p=0.3),
    )
    return CopulaConfig(specs, np.eye(3))


def _col(name: str) -> SurfaceConfig:
    return SurfaceConfig(lambda X: X[name].to_numpy(dtype=np.float64))


def _const(value: float) -> SurfaceConfig:
    return SurfaceConfig(lambda X: np.full(len(X), value))


def _deterministic_mode(metric: str, K: int) -> MetricMode:
    """Surfaces with p in {0, 1} and zero dispersion: the outcome is a function of x and arm."""
    x1 = _col("x1")
    p = [threshold_surface(x1, 0.0, float(k % 2 == 0), float(k % 2 == 1)) for k in range(K)]

    def basket(k: int) -> SurfaceConfig:
        return SurfaceConfig(lambda X: 10.0 * (k + 1) * (1.0 + X["x2"].to_numpy() ** 2))

    def mean(k: int) -> SurfaceConfig:
        return SurfaceConfig(lambda X: (k + 1) + X["x2"].to_numpy(dtype=np.float64))

    zero = [_const(0.0)] * K
    channels = {
        "conversion_rate": {"p": p, "m": None, "sigma": None},
        "revenue_per_visitor": {"p": p, "m": [basket(k) for k in range(K)], "sigma": zero},
        "continuous": {"p": None, "m": [mean(k) for k in range(K)], "sigma": zero},
    }[metric]
    return _mode(metric, channels["p"], channels["m"], channels["sigma"])


def _mode(metric, p, m, sigma) -> MetricMode:
    arms = p if p is not None else m
    if len(arms) == 2:
        kw = {}
        for name, surfaces in (("p", p), ("m", m), ("sigma", sigma)):
            if surfaces is not None:
                kw[f"{name}0_surface"], kw[f"{name}1_surface"] = surfaces
        return MetricMode(metric, **kw)
    return MetricMode(metric, p_surfaces=p, m_surfaces=m, sigma_surfaces=sigma)


def _config(metric: str, K: int, *, n: int = 3000, seed: int = 0) -> V2GeneratorConfig:
    return V2GeneratorConfig(
        n, _copula(), _deterministic_mode(metric, K),
        AssignmentConfig(treatment_probabilities=(1.0 / K,) * K), seed,
    )


class TestAssignmentConfig:
    def test_binary_form_gives_two_arm_probabilities(self):
        """treatment_allocation a means control 1 - a, treatment a."""
        np.testing.assert_allclose(AssignmentConfig(0.3).probabilities(2), [0.7, 0.3])

    @pytest.mark.parametrize("probs", [(0.5, 0.6), (0.2, 0.2, 0.2), (1.0, 0.0), (0.9,)])
    def test_probabilities_must_be_valid_and_sum_to_one(self, probs):
        """Probabilities outside (0, 1), not summing to 1, or fewer than 2 are refused."""
        with pytest.raises(ValueError, match="treatment_probabilities"):
            AssignmentConfig(treatment_probabilities=probs)

    @pytest.mark.parametrize("allocation", [0.0, 1.0, -0.1, float("nan")])
    def test_allocation_in_open_interval(self, allocation):
        """treatment_allocation must lie strictly between 0 and 1."""
        with pytest.raises(ValueError, match="treatment_allocation"):
            AssignmentConfig(allocation)

    def test_binary_form_refused_for_three_arms(self):
        """The allocation form cannot describe K = 3."""
        with pytest.raises(ValueError, match="treatment_probabilities"):
            AssignmentConfig(0.5).probabilities(3)


class TestMetricMode:
    def test_both_forms_refused(self):
        """Paired and list surfaces together are ambiguous."""
        s = _const(0.1)
        with pytest.raises(ValueError, match="not both"):
            MetricMode("conversion_rate", s, s, p_surfaces=[s, s, s])

    def test_list_form_needs_three_arms(self):
        """The list form is for K >= 3."""
        s = _const(0.1)
        with pytest.raises(ValueError, match="K >= 3"):
            MetricMode("conversion_rate", p_surfaces=[s, s])

    def test_list_lengths_must_agree(self):
        """A hurdle mode with 3 conversion but 4 basket surfaces is refused."""
        s = _const(0.1)
        with pytest.raises(ValueError, match="different lengths"):
            MetricMode("revenue_per_visitor", p_surfaces=[s] * 3, m_surfaces=[s] * 4,
                       sigma_surfaces=[s] * 3)

    def test_binary_metric_refuses_basket_surfaces(self):
        """Conversion has no severity channel."""
        s = _const(0.1)
        with pytest.raises(ValueError, match="must be None"):
            MetricMode("conversion_rate", s, s, s, s)

    def test_hurdle_needs_dispersion(self):
        """Revenue needs p, m and sigma for both arms."""
        s = _const(0.1)
        with pytest.raises(ValueError, match="sigma0_surface is required"):
            MetricMode("revenue_per_visitor", s, s, s, s)

    def test_continuous_refuses_conversion(self):
        """The continuous metric is carried by m (mean) and sigma (sd) only."""
        s = _const(0.1)
        with pytest.raises(ValueError, match="p_surfaces must be None"):
            MetricMode("continuous", p_surfaces=[s] * 3, m_surfaces=[s] * 3,
                       sigma_surfaces=[s] * 3)

    def test_unknown_metric(self):
        """Metric ids outside the canonical table are refused."""
        with pytest.raises(ValueError, match="not a known metric"):
            MetricMode("clicks", _const(0.1), _const(0.2))

    @pytest.mark.parametrize("K", [2, 3, 5])
    def test_arm_surfaces_normalises_forms(self, K):
        """Both forms give K-tuples per channel."""
        p, m, sigma = _deterministic_mode("revenue_per_visitor", K).arm_surfaces()
        assert len(p) == len(m) == len(sigma) == K


class TestV2GeneratorConfig:
    def test_assignment_must_match_arms(self):
        """Two assignment probabilities for a three-arm mode are refused."""
        with pytest.raises(ValueError, match="3 arms"):
            V2GeneratorConfig(100, _copula(), _deterministic_mode("conversion_rate", 3),
                              AssignmentConfig(treatment_probabilities=(0.5, 0.5)), 0)

    @pytest.mark.parametrize("n", [0, -5, 2.5])
    def test_n_visitors_positive_integer(self, n):
        """n_visitors must be a positive integer."""
        with pytest.raises(ValueError, match="n_visitors"):
            V2GeneratorConfig(n, _copula(), _deterministic_mode("conversion_rate", 2),
                              AssignmentConfig(), 0)

    def test_revenue_model_type(self):
        """A revenue model other than None or a CartRevenueConfig is refused, naming both."""
        with pytest.raises(TypeError, match="CartRevenueConfig"):
            V2GeneratorConfig(10, _copula(), _deterministic_mode("conversion_rate", 2),
                              AssignmentConfig(), 0, revenue_model=object())

    def test_treatment_names_count(self):
        """Names must cover every arm exactly once."""
        with pytest.raises(ValueError, match="treatment_names"):
            V2GeneratorConfig(10, _copula(), _deterministic_mode("conversion_rate", 2),
                              AssignmentConfig(), 0, treatment_names=("a", "b", "c"))


class TestComputePotentialOutcomes:
    def test_probability_out_of_range_refused(self, rng):
        """A p surface above 1 fails with the arm named."""
        X = sample_features(_copula(), rng, 50)
        mode = MetricMode("conversion_rate", _const(0.1), _const(1.5))
        with pytest.raises(ValueError, match="p surface of arm 1"):
            compute_potential_outcomes(X, mode)

    def test_wrong_surface_shape_refused(self, rng):
        """A surface returning a scalar instead of one value per visitor fails."""
        X = sample_features(_copula(), rng, 50)
        mode = MetricMode("conversion_rate", _const(0.1), SurfaceConfig(lambda X: 0.2))
        with pytest.raises(ValueError, match="one value per visitor"):
            compute_potential_outcomes(X, mode)

    def test_hurdle_decomposition_sums_to_effect(self, rng):
        """conv_effect + aov_effect equals the revenue effect at K = 2."""
        X = sample_features(_copula(), rng, 500)
        p0, p1 = _const(0.05), SurfaceConfig(lambda X: 0.05 + 0.01 * (X["x1"] > 0))
        m0, m1 = _const(50.0), SurfaceConfig(lambda X: 50.0 + 5.0 * X["b1"].to_numpy())
        s = _const(0.5)
        truth = compute_potential_outcomes(X, MetricMode("revenue_per_visitor", p0, p1, m0, m1,
                                                         s, s))
        comps = truth.effect_components
        assert comps["conv_effect"] + comps["aov_effect"] == pytest.approx(truth.effect)
        np.testing.assert_allclose(
            truth.conv_per_visitor.values + truth.aov_per_visitor.values,
            truth.cate_per_visitor.values,
        )

    def test_multi_arm_components(self, rng):
        """K >= 3 gives treatment_k_effect keys and effect = the best arm's ATE."""
        X = sample_features(_copula(), rng, 100)
        mode = MetricMode("conversion_rate",
                          p_surfaces=[_const(0.1), _const(0.15), _const(0.12), _const(0.05)])
        truth = compute_potential_outcomes(X, mode)
        assert set(truth.effect_components) == {f"treatment_{k}_effect" for k in (1, 2, 3)}
        assert truth.effect == pytest.approx(0.05)
        assert truth.cate_per_visitor is None and truth.p0_values is None


class TestAssignAndObserve:
    @pytest.mark.parametrize("metric", METRICS)
    @pytest.mark.parametrize("K", [2, 3])
    def test_outcome_is_assigned_arms_potential_outcome(self, metric, K):
        """With p in {0, 1} and zero dispersion, each observed outcome equals the expected
        outcome of the visitor's own arm, read from the truth in the observed row order."""
        observed, truth = generate_v2_core(_config(metric, K))
        arm = observed.treatment_index()
        expected = truth.potential_outcomes.values[np.arange(observed.n_visitors), arm]
        np.testing.assert_allclose(observed.outcome(), expected, rtol=1e-12, atol=0)
        assert observed.n_visitors == truth.n_visitors

    @pytest.mark.parametrize("metric", METRICS)
    @pytest.mark.parametrize("K", [2, 3])
    def test_truth_is_variant_major(self, metric, K):
        """Truth arrays are aligned to the concatenated variant frames, not sampling order."""
        observed, truth = generate_v2_core(_config(metric, K))
        visitors = observed.visitors()
        x1, x2 = visitors["x1"].to_numpy(), visitors["x2"].to_numpy()
        po = truth.potential_outcomes.values
        for k in range(K):
            if metric == "continuous":
                np.testing.assert_array_equal(po[:, k], (k + 1) + x2)
            else:
                np.testing.assert_array_equal(
                    (po[:, k] > 0), (x1 > 0) == (k % 2 == 0)
                )
        np.testing.assert_allclose(truth.cate_matrix(), po[:, 1:] - po[:, :1])

    def test_same_draws_give_same_potential_outcomes(self, rng):
        """Outcome noise is drawn per visitor before arms apply: under two different external
        assignments, visitors given the same arm get the same outcome."""
        X = sample_features(_copula(), np.random.default_rng(1), 4000)
        K = 3
        mode = MetricMode(
            "revenue_per_visitor",
            p_surfaces=[_const(0.3)] * K,
            m_surfaces=[_const(20.0), _const(30.0), _const(40.0)],
            sigma_surfaces=[_const(0.7)] * K,
        )
        truth = compute_potential_outcomes(X, mode)
        z1, z2 = rng.integers(0, K, 4000), rng.integers(0, K, 4000)
        outs = []
        for z in (z1, z2):
            variants = assign_and_observe(X, truth, AssignmentConfig(), "revenue_per_visitor",
                                          np.random.default_rng(7), treatment_assignment=z)
            y = np.empty(4000)
            for v in variants:
                y[v.visitors.index.to_numpy()] = v.visitors["outcome"].to_numpy()
            outs.append(y)
        same = z1 == z2
        np.testing.assert_array_equal(outs[0][same], outs[1][same])
        assert not np.array_equal(outs[0][~same], outs[1][~same])

    @pytest.mark.parametrize("K", [2, 3])
    def test_external_assignment_drives_membership(self, rng, K):
        """treatment_assignment decides each visitor's arm exactly (K = 2 included)."""
        X = sample_features(_copula(), rng, 600)
        truth = compute_potential_outcomes(X, _deterministic_mode("conversion_rate", K))
        z = rng.integers(0, K, 600)
        variants = assign_and_observe(X, truth, AssignmentConfig(), "conversion_rate", rng,
                                      treatment_assignment=z)
        for k, v in enumerate(variants):
            np.testing.assert_array_equal(v.visitors.index.to_numpy(), np.flatnonzero(z == k))
            assert not any(c.startswith("propensity") for c in v.visitors.columns)

    def test_external_probabilities_written_to_propensity_columns(self, rng):
        """A per-visitor probability matrix lands in propensity_1..K-1 row by row."""
        n, K = 500, 3
        X = sample_features(_copula(), rng, n)
        truth = compute_potential_outcomes(X, _deterministic_mode("conversion_rate", K))
        probs = rng.dirichlet(np.ones(K), size=n)
        z = np.array([rng.choice(K, p=row) for row in probs])
        variants = assign_and_observe(X, truth, AssignmentConfig(), "conversion_rate", rng,
                                      treatment_assignment=z, assignment_probabilities=probs)
        for v in variants:
            rows = v.visitors.index.to_numpy()
            got = v.visitors[list(propensity_columns(K))].to_numpy()
            np.testing.assert_allclose(got, probs[rows, 1:])

    @pytest.mark.parametrize("K", [2, 3])
    def test_fixed_design_propensity(self, rng, K):
        """Internal randomisation writes the design probabilities in the reserved columns."""
        probs = (0.2, 0.8) if K == 2 else (0.5, 0.3, 0.2)
        config = V2GeneratorConfig(
            2000, _copula(), _deterministic_mode("conversion_rate", K),
            AssignmentConfig(treatment_probabilities=probs), 3,
        )
        observed, _ = generate_v2_core(config)
        np.testing.assert_allclose(observed.propensities()[0], probs)
        assert list(propensity_columns(K)) == [
            c for c in observed.variants[0].visitors.columns if c.startswith("propensity")
        ]

    @pytest.mark.parametrize(
        ("z", "match"),
        [
            (np.zeros(99, dtype=int), "shape"),
            (np.full(100, 3), r"not an arm index"),
            (np.full(100, -1), r"not an arm index"),
            (np.zeros(100), "integer"),
        ],
    )
    def test_bad_assignment_refused(self, rng, z, match):
        """Wrong length, out-of-range indices and float arrays are refused."""
        X = sample_features(_copula(), rng, 100)
        truth = compute_potential_outcomes(X, _deterministic_mode("conversion_rate", 3))
        with pytest.raises(ValueError, match=match):
            assign_and_observe(X, truth, AssignmentConfig(), "conversion_rate", rng,
                               treatment_assignment=z)

    def test_probabilities_must_allow_assigned_arm(self, rng):
        """A visitor cannot be assigned an arm its design gives probability 0."""
        X = sample_features(_copula(), rng, 10)
        truth = compute_potential_outcomes(X, _deterministic_mode("conversion_rate", 3))
        probs = np.tile([0.5, 0.5, 0.0], (10, 1))
        with pytest.raises(ValueError, match="probability 0"):
            assign_and_observe(X, truth, AssignmentConfig(), "conversion_rate", rng,
                               treatment_assignment=np.full(10, 2),
                               assignment_probabilities=probs)

    def test_probabilities_without_assignment_refused(self, rng):
        """assignment_probabilities only make sense with an external assignment."""
        X = sample_features(_copula(), rng, 10)
        truth = compute_potential_outcomes(X, _deterministic_mode("conversion_rate", 3))
        with pytest.raises(ValueError, match="together with"):
            assign_and_observe(
                X, truth, AssignmentConfig(treatment_probabilities=(0.2, 0.3, 0.5)),
                "conversion_rate", rng, assignment_probabilities=np.full((10, 3), 1 / 3),
            )

    def test_metric_must_match_truth(self, rng):
        """Observing conversion truth as revenue is refused."""
        X = sample_features(_copula(), rng, 10)
        truth = compute_potential_outcomes(X, _deterministic_mode("conversion_rate", 2))
        with pytest.raises(ValueError, match="does not match"):
            assign_and_observe(X, truth, AssignmentConfig(), "revenue_per_visitor", rng)

    def test_extra_columns_travel(self, rng):
        """Caller columns such as the reserved `cell` reach the visitor frames."""
        X = sample_features(_copula(), rng, 200)
        truth = compute_potential_outcomes(X, _deterministic_mode("conversion_rate", 3))
        X = X.assign(cell=np.where(np.arange(200) < 100, "control", "explore"))
        variants = assign_and_observe(X, truth, AssignmentConfig(), "conversion_rate", rng,
                                      treatment_assignment=np.arange(200) % 3)
        for v in variants:
            idx = v.visitors.index.to_numpy()
            np.testing.assert_array_equal(v.visitors["cell"].to_numpy(), X["cell"].to_numpy()[idx])


class TestBuildBundle:
    def test_reset_index_variants_refused(self, rng):
        """Variants whose index no longer locates the sampled rows cannot be aligned."""
        X = sample_features(_copula(), rng, 300)
        mode = _deterministic_mode("conversion_rate", 3)
        truth = compute_potential_outcomes(X, mode)
        variants = assign_and_observe(
            X, truth, AssignmentConfig(treatment_probabilities=(0.4, 0.3, 0.3)),
            "conversion_rate", rng,
        )
        broken = [dataclasses.replace(v, visitors=v.visitors.reset_index(drop=True))
                  for v in variants]
        with pytest.raises(AlignmentViolation, match="permutation"):
            build_bundle(broken, truth, mode, "x")

    def test_observed_frames_get_fresh_index(self):
        """The bundle's frames are indexed 0..n_k-1."""
        observed, _ = generate_v2_core(_config("conversion_rate", 3, n=300))
        for v in observed.variants:
            pd.testing.assert_index_equal(v.visitors.index, pd.RangeIndex(v.n_visitors))


class TestGenerateV2Core:
    @pytest.mark.parametrize("metric", METRICS)
    def test_same_seed_same_bundle(self, metric):
        """The same config gives identical observed frames and truth."""
        a, b = (generate_v2_core(_config(metric, 3, seed=11)) for _ in range(2))
        assert isinstance(a, CalibrationBundle)
        for va, vb in zip(a.observed.variants, b.observed.variants, strict=True):
            pd.testing.assert_frame_equal(va.visitors, vb.visitors)
        np.testing.assert_array_equal(a.truth.potential_outcomes.values,
                                      b.truth.potential_outcomes.values)

    def test_different_seed_different_bundle(self):
        """Another seed draws other visitors."""
        a = generate_v2_core(_config("continuous", 3, seed=1))
        b = generate_v2_core(_config("continuous", 3, seed=2))
        assert not np.array_equal(a.truth.potential_outcomes.values[:50],
                                  b.truth.potential_outcomes.values[:50])

    def test_mixture_cluster_ids_in_truth_only(self):
        """cluster_id is kept in the truth, aligned to observed rows, and never observed."""
        specs = (FeatureSpec("x1", "continuous"), FeatureSpec("flag", "binary"))
        sampler = MixtureConfig(
            specs, (0.25, 0.25, 0.25, 0.25),
            ({"flag": {"p": 1.0}}, {"flag": {"p": 1.0}}, {"flag": {"p": 0.0}},
             {"flag": {"p": 0.0}}),
        )
        config = V2GeneratorConfig(
            2000, sampler, _deterministic_mode("conversion_rate", 3),
            AssignmentConfig(treatment_probabilities=(0.4, 0.3, 0.3)), 5,
        )
        observed, truth = generate_v2_core(config)
        visitors = observed.visitors()
        assert "cluster_id" not in visitors.columns
        assert "cluster_id" not in feature_schema(observed).features
        clusters = truth.cluster_ids.values
        np.testing.assert_array_equal(visitors["flag"].to_numpy() == 1, clusters < 2)
        assert set(np.unique(clusters)) == {0, 1, 2, 3}

    def test_schema_from_feature_specs(self):
        """The observed schema lists the sampler's features with their kinds."""
        observed, _ = generate_v2_core(_config("conversion_rate", 2, n=200))
        schema = observed.schema
        assert schema.features == ("x1", "x2", "b1")
        assert schema.kinds["b1"] == "binary"
        assert feature_matrix(observed).shape == (200, 3)


class TestImport:
    def test_no_heavy_imports(self):
        """Importing pytyche.generators pulls in neither jax, bartz nor matplotlib."""
        import subprocess
        import sys

        code = (
            "import sys, pytyche.generators; "
            "print(sorted(m for m in ('jax', 'bartz', 'matplotlib') if m in sys.modules))"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True).stdout.strip()
        assert out == "[]"


class TestCartRevenue:
    """Cart-based revenue (seed 003's ``revenue_model=CartRevenueConfig(...)``)."""

    CART = CartRevenueConfig(prices=(20.0, 35.0, 60.0), base_probabilities=(0.5, 0.3, 0.1))

    @staticmethod
    def _mode(K: int) -> MetricMode:
        p = [_const(0.3 + 0.1 * k) for k in range(K)]
        m = [SurfaceConfig(lambda X, k=k: 30.0 + 10.0 * k + 5.0 * (X["x1"].to_numpy() > 0))
             for k in range(K)]
        sigma = [_const(0.5)] * K
        if K == 2:
            return MetricMode("revenue_per_visitor", p[0], p[1], m[0], m[1], sigma[0], sigma[1])
        return MetricMode("revenue_per_visitor", p_surfaces=p, m_surfaces=m,
                          sigma_surfaces=sigma)

    def test_config_checks(self):
        """Prices must be positive and each category needs one base probability in (0, 1)."""
        with pytest.raises(ValueError, match="one probability per category"):
            CartRevenueConfig(prices=(10.0, 20.0), base_probabilities=(0.5,))
        with pytest.raises(ValueError, match="strictly"):
            CartRevenueConfig(prices=(10.0,), base_probabilities=(1.0,))
        with pytest.raises(ValueError, match="positive prices"):
            CartRevenueConfig(prices=(0.0,), base_probabilities=(0.5,))

    def test_reference_basket_gives_base_probabilities(self):
        """At m = m_ref every category has its base probability; more m fills carts more."""
        pi = self.CART.inclusion_probabilities(np.array([self.CART.m_ref, 2 * self.CART.m_ref]))
        np.testing.assert_allclose(pi[0], self.CART.base_probabilities)
        assert (pi[1] > pi[0]).all() and (pi[1] < 1).all()

    def test_samples_match_the_analytical_mean(self):
        """Cart sums are positive and average to the closed-form expected spend (4 MC se)."""
        rng = np.random.default_rng(3)
        m = np.full(100_000, 40.0)
        spend = self.CART.sample(m, rng.random((m.size, 3)))
        assert (spend > 0).all()
        expected = self.CART.expected_basket(m[:1])[0]
        assert abs(spend.mean() - expected) < 4 * spend.std() / np.sqrt(m.size)
        assert set(np.unique(spend)) <= {sum(c) for c in
                                         [(a, b, d) for a in (0, 20) for b in (0, 35)
                                          for d in (0, 60)]}

    @pytest.mark.parametrize("K", [2, 3])
    def test_bundle_truth_uses_cart_expectation(self, K):
        """The truth's potential outcomes are p times the cart's expected spend, and the
        observed converters' revenue averages to it per arm."""
        config = V2GeneratorConfig(20_000, _copula(), self._mode(K),
                                   AssignmentConfig(treatment_probabilities=(1 / K,) * K), 7,
                                   revenue_model=self.CART)
        observed, truth = generate_v2_core(config)
        X = observed.visitors()
        high = X["x1"].to_numpy() > 0
        po = np.asarray(truth.potential_outcomes.values)
        for k in range(K):
            m = 30.0 + 10.0 * k + 5.0 * high
            np.testing.assert_allclose(po[:, k], (0.3 + 0.1 * k) * self.CART.expected_basket(m))
        offset = 0
        for k, variant in enumerate(observed.variants):
            y = variant.visitors["outcome"].to_numpy()
            rows = slice(offset, offset + len(y))
            offset += len(y)
            assert abs(y.mean() - po[rows, k].mean()) < 4 * y.std() / np.sqrt(len(y))
        if K == 2:
            cate = np.asarray(truth.cate_per_visitor.values)
            np.testing.assert_allclose(cate, po[:, 1] - po[:, 0])
            comps = truth.effect_components
            assert comps["conv_effect"] + comps["aov_effect"] == pytest.approx(truth.effect)
