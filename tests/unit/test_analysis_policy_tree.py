"""fit_policy_tree: planted boundaries, readable leaf rules, stability, determinism."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from _analysis_helpers import (
    categorical_posterior,
    features_frame,
    make_posterior,
    planted_boundary,
    pure_noise,
)

from pytyche.analysis import analyze, fit_policy_tree, has_credible_segments
from pytyche.contracts import AllOf, ComparisonRule, EqRule, InRule
from pytyche.data import feature_matrix


@pytest.fixture(scope="module")
def boundary_tree():
    post = planted_boundary(n=2000)
    return post, fit_policy_tree(post, n_bootstrap=30, bootstrap_seed=0)


class TestPlantedBoundary:
    def test_finds_the_boundary(self, boundary_tree) -> None:
        """Two leaves split at x0 = 0: C best on the left, B on the right."""
        _, tree = boundary_tree
        assert len(tree.segments) == 2
        left, right = tree.segments
        assert isinstance(left.rule, AllOf) and len(left.rule.rules) == 1
        (rule_l,), (rule_r,) = left.rule.rules, right.rule.rules
        assert isinstance(rule_l, ComparisonRule) and rule_l.feature == "x0"
        assert rule_l.op == "<=" and rule_r.op == ">" and abs(rule_l.value) < 0.01
        assert left.best_treatment == "C" and right.best_treatment == "B"
        assert left.rule.describe().startswith("x0 <= ")

    def test_segment_summaries(self, boundary_tree) -> None:
        """Gate estimate is the best arm's effect (+1 planted); shares and P(best) add up."""
        post, tree = boundary_tree
        for seg in tree.segments:
            assert seg.gate_estimate == pytest.approx(1.0, abs=0.05)
            assert seg.gate_ci[0] < seg.gate_estimate < seg.gate_ci[1]
            assert sum(seg.arm_best_probabilities.values()) == pytest.approx(1.0)
            assert seg.n_visitors == round(seg.population_share * post.observed.n_visitors)
        assert sum(s.population_share for s in tree.segments) == pytest.approx(1.0)

    def test_allocation_follows_p_best(self, boundary_tree) -> None:
        """Each leaf's allocation sums to 1 and gives the winner all but the floors."""
        _, tree = boundary_tree
        for seg in tree.segments:
            shares = tree.allocation_map[seg.id]
            assert sum(shares.values()) == pytest.approx(1.0, abs=1e-9)
            assert shares[seg.best_treatment] == pytest.approx(1 - 2 * 0.02 / 3)

    def test_clear_boundary_is_stable(self, boundary_tree) -> None:
        """Bootstrap refits reproduce both leaves (stability > 0.8)."""
        _, tree = boundary_tree
        assert all(score > 0.8 for score in tree.stability_scores.values())
        assert [s.stability_score for s in tree.segments] == [
            tree.stability_scores[s.id] for s in tree.segments
        ]
        assert has_credible_segments(tree)

    def test_observed_shared_by_identity(self, boundary_tree) -> None:
        """The result holds the posterior's observed data itself, not a copy."""
        post, tree = boundary_tree
        assert tree.observed is post.observed

    def test_frozen(self, boundary_tree) -> None:
        """The result cannot be modified."""
        _, tree = boundary_tree
        with pytest.raises(dataclasses.FrozenInstanceError):
            tree.segments = ()  # type: ignore[misc]


class TestNoise:
    def test_noise_is_unstable(self) -> None:
        """On pure-noise CATEs no leaf is credible and the average stability is low."""
        tree = fit_policy_tree(pure_noise(n=2000), n_bootstrap=30, bootstrap_seed=0)
        scores = list(tree.stability_scores.values())
        assert len(scores) >= 3
        assert max(scores) < 0.8 and np.mean(scores) < 0.5
        assert not has_credible_segments(tree)


class TestJaccardMatch:
    def test_one_index_for_leaves_and_for_pairs(self) -> None:
        """Stability (a set against every leaf) and graduation (a set against a set) share one
        Jaccard index and one 0.5 threshold; empty sets overlap nothing."""
        from pytyche.analysis._policy_tree import jaccard_by_label, same_segment

        a = np.array([1, 1, 1, 0, 0, 0], dtype=bool)
        leaves = np.array([0, 0, 1, 1, 2, 2])
        np.testing.assert_allclose(jaccard_by_label(a, leaves), [2 / 3, 1 / 4, 0.0])
        assert same_segment(a, np.array([1, 1, 0, 0, 0, 0], dtype=bool))  # 2/3
        assert not same_segment(a, np.array([1, 0, 0, 1, 0, 0], dtype=bool))  # 1/4
        assert not same_segment(np.zeros(6, bool), np.zeros(6, bool))


class TestLeafRules:
    def test_categorical_and_binary_rules_read_in_levels(self) -> None:
        """Categorical splits decode to levels (In/Eq) and binary splits to EqRule 0/1."""
        post = categorical_posterior()
        tree = fit_policy_tree(post, n_bootstrap=0)
        atoms = [a for s in tree.segments for a in s.rule.rules]
        devices = [a for a in atoms if a.feature == "device"]
        flags = [a for a in atoms if a.feature == "returning"]
        assert devices and flags
        assert all(isinstance(a, InRule | EqRule) for a in devices)
        seen = {v for a in devices for v in (a.values if isinstance(a, InRule) else (a.value,))}
        assert seen <= {"desktop", "mobile", "tablet"}
        assert all(isinstance(a, EqRule) and a.value in (0, 1) for a in flags)
        assert all(type(a.value) is int for a in flags)
        winners = {s.rule.describe(): s.best_treatment for s in tree.segments}
        assert "B" in winners.values() and "C" in winners.values()

    @pytest.mark.parametrize("make", [categorical_posterior, planted_boundary, pure_noise])
    def test_rules_reproduce_tree_membership(self, make) -> None:
        """Each leaf's rule selects exactly the visitors the tree puts in that leaf."""
        post = make()
        tree = fit_policy_tree(post, n_bootstrap=0)
        leaves = tree.tree.apply(feature_matrix(post.observed))
        frame = post.observed.visitors()
        for seg in tree.segments:
            np.testing.assert_array_equal(seg.rule.mask(frame), leaves == seg.id)

    def test_single_leaf_when_one_arm_wins_everywhere(self) -> None:
        """No split without a reason: one leaf whose rule is everyone."""
        rng = np.random.default_rng(0)
        frame = features_frame(500, rng)
        mean = np.tile([1.0, 2.0, 0.0], (500, 1))
        tree = fit_policy_tree(make_posterior(mean, frame), n_bootstrap=5, bootstrap_seed=0)
        (seg,) = tree.segments
        assert seg.rule == AllOf(rules=()) and seg.best_treatment == "B"
        assert seg.stability_score == 1.0


class TestOptions:
    def test_min_segment_share_bounds_leaf_size(self) -> None:
        """No leaf is smaller than min_segment_share of the visitors."""
        tree = fit_policy_tree(pure_noise(n=1000), min_segment_share=0.2, n_bootstrap=0)
        assert min(s.population_share for s in tree.segments) >= 0.2

    def test_no_bootstrap_gives_nan(self) -> None:
        """n_bootstrap=0 skips stability: every score is NaN."""
        tree = fit_policy_tree(planted_boundary(n=500, n_draws=20), n_bootstrap=0)
        assert all(math.isnan(v) for v in tree.stability_scores.values())
        assert not has_credible_segments(tree)

    def test_deterministic_by_default(self) -> None:
        """Without a bootstrap seed the scores are still reproducible: the default seed is 0,
        for the tree and for analyze, never fresh entropy."""
        post = pure_noise(n=800, n_draws=20)
        a, b = (fit_policy_tree(post, n_bootstrap=10) for _ in range(2))
        seeded = fit_policy_tree(post, n_bootstrap=10, bootstrap_seed=0)
        assert a.segments == b.segments == seeded.segments
        assert a.stability_scores == b.stability_scores == seeded.stability_scores
        first, second = (analyze(post, n_bootstrap=10, decisions="model") for _ in range(2))
        assert first.policy_tree.stability_scores == second.policy_tree.stability_scores
        assert first.policy_tree.stability_scores == seeded.stability_scores

    def test_deterministic_given_seed(self) -> None:
        """Same bootstrap seed, same result; the scores depend on the seed only."""
        post = pure_noise(n=800, n_draws=20)
        a = fit_policy_tree(post, n_bootstrap=10, bootstrap_seed=3)
        b = fit_policy_tree(post, n_bootstrap=10, bootstrap_seed=3)
        assert a.segments == b.segments and a.stability_scores == b.stability_scores

    @pytest.mark.parametrize(
        ("kwargs", "match"),
        [
            ({"max_depth": 0}, "max_depth"),
            ({"max_depth": 2.5}, "max_depth"),
            ({"min_segment_share": 0.0}, "min_segment_share"),
            ({"min_segment_share": 0.6}, "min_segment_share"),
            ({"n_bootstrap": -1}, "n_bootstrap"),
            ({"level": 1.5}, "level"),
        ],
    )
    def test_bad_hyperparameters_refused(self, kwargs: dict, match: str) -> None:
        """Out-of-range settings are refused with the value and the accepted range."""
        with pytest.raises(ValueError, match=match):
            fit_policy_tree(planted_boundary(n=200, n_draws=5), **kwargs)
