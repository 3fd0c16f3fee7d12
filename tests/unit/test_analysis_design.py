"""Design-based estimates: AIPW scores, bootstrap-t, confidence sequences, adjusted gates."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from _analysis_helpers import features_frame, observed_from_frame, planted_boundary

from pytyche.analysis import (
    DesignInference,
    DesignScores,
    aipw_scores,
    analyze,
    arm_mean_scores,
    assignment_probabilities,
    recommendation_summary,
    sequential_scores,
)
from pytyche.analysis._design import fold_labels, subset_observed
from pytyche.analysis._inference import (
    bootstrap_effects,
    cs_halfwidth,
    cs_rho2,
    cs_two_sided_alpha,
    sequence_effects,
)
from pytyche.contracts import Decision, propensity_columns
from pytyche.data import feature_schema
from pytyche.errors import AlignmentViolation


def rct(n: int = 600, seed: int = 0, effect: float = 0.0, K: int = 2, metric: str = "continuous"):
    rng = np.random.default_rng(seed)
    frame = features_frame(n, rng)
    arms = rng.integers(0, K, n)
    frame["outcome"] = rng.normal(size=n) + effect * (arms > 0) + frame["x0"].to_numpy()
    treatments = tuple("ABCDE"[:K])
    observed, _ = observed_from_frame(frame, arms, treatments, metric)
    return observed


class TestAipwScores:
    def test_known_formula(self) -> None:
        """Γ_ik = m_k + 1{A = k}(Y − m_k)/e_k, visitor by visitor."""
        y = np.array([1.0, 3.0])
        arm = np.array([0, 1])
        e = np.array([[0.5, 0.5], [0.25, 0.75]])
        m = np.array([[0.0, 1.0], [2.0, 2.0]])
        got = aipw_scores(y, arm, e, m)
        np.testing.assert_allclose(got, [[0.0 + 1.0 / 0.5, 1.0], [2.0, 2.0 + 1.0 / 0.75]])

    def test_wrong_model_stays_unbiased(self) -> None:
        """A badly wrong outcome model moves no estimate on average (double robustness)."""
        rng = np.random.default_rng(1)
        n = 200_000
        arm = rng.integers(0, 2, n)
        y = 1.0 + 0.5 * arm + rng.normal(size=n)
        e = np.full((n, 2), 0.5)
        scores = aipw_scores(y, arm, e, np.full((n, 2), 7.0))
        effect = (scores[:, 1] - scores[:, 0]).mean()
        se = (scores[:, 1] - scores[:, 0]).std() / math.sqrt(n)
        assert abs(effect - 0.5) < 4 * se

    def test_refuses_unweightable_visitor(self) -> None:
        with pytest.raises(ValueError, match="probability"):
            aipw_scores([1.0], [1], [[1.0, 0.0]], [[0.0, 0.0]])

    def test_shapes_checked(self) -> None:
        with pytest.raises(AlignmentViolation):
            aipw_scores([1.0, 2.0], [0], [[0.5, 0.5]], [[0.0, 0.0]])


class TestScores:
    def test_rct_shares_are_the_design(self) -> None:
        observed = rct()
        e = assignment_probabilities(observed)
        shares = np.array([v.n_visitors for v in observed.variants]) / observed.n_visitors
        np.testing.assert_allclose(e, np.broadcast_to(shares, e.shape))

    def test_arm_means_match_difference_in_means(self) -> None:
        """With arm means as the outcome model the estimate is the difference in means up to
        the cross-fit's small-sample terms."""
        observed = rct(n=4000, seed=2, effect=0.3)
        s = arm_mean_scores(observed, seed=0)
        est = (s.scores[:, 1] - s.scores[:, 0]).mean()
        y, arm = observed.outcome(), observed.treatment_index()
        dim = y[arm == 1].mean() - y[arm == 0].mean()
        assert est == pytest.approx(dim, abs=0.01)

    def test_crossfit_uses_refits_that_never_saw_the_fold(self) -> None:
        """Each fold is scored by a model fitted on the other folds only; a refit that cannot
        run falls back to arm means with a warning instead of failing the analysis."""
        from pytyche.analysis import crossfit_scores
        from pytyche.errors import SchemaViolation

        observed = rct(n=400, seed=9)
        seen = []

        class MeanModel:
            def __init__(self, data):
                self.means = [v.visitors["outcome"].mean() for v in data.variants]

            def predict_levels(self, frame):
                return np.broadcast_to(np.array(self.means), (len(frame), 1, 2))

        def refit(data, seed):
            seen.append(data.n_visitors)
            return MeanModel(data)

        class Posterior:
            pass

        post = Posterior()
        post.observed = observed
        s = crossfit_scores(post, refit=refit, seed=1)
        assert sorted(seen) == sorted([int((s.fold != f).sum()) for f in (0, 1)])
        assert len(s.fold_models) == 2 and s.outcome_model == "cross-fitted BCF, 2 folds"

        def broken(data, seed):
            raise SchemaViolation("treatment 'B' has no converters")

        with pytest.warns(UserWarning, match="refit without fold 0 failed"):
            s = crossfit_scores(post, refit=broken)
        assert s.outcome_model.endswith("(refit failed)") and not s.fold_models

    def test_folds_balanced_within_arms(self) -> None:
        arm = np.repeat([0, 1, 2], [101, 50, 7])
        fold = fold_labels(arm, 2, seed=3)
        for k in range(3):
            counts = np.bincount(fold[arm == k], minlength=2)
            assert abs(counts[0] - counts[1]) <= 1
        np.testing.assert_array_equal(fold, fold_labels(arm, 2, seed=3))

    def test_subset_keeps_order_and_schema(self) -> None:
        observed = rct(n=300)
        mask = np.arange(300) % 3 == 0
        sub = subset_observed(observed, mask)
        assert sub.n_visitors == mask.sum()
        assert feature_schema(sub) == feature_schema(observed)
        np.testing.assert_array_equal(sub.outcome(), observed.outcome()[mask])

    def test_sequential_scores_mask_a_dropped_arm(self) -> None:
        """Rounds without an arm (dropped) carry zero probability of it and are left out of
        that arm's effect; every round is scored with its own propensities."""
        rng = np.random.default_rng(4)
        frames, arms = [], []
        for r, probs in enumerate(([1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0.0])):
            n = 600
            a = rng.choice(3, n, p=probs)
            f = features_frame(n, rng)
            f["outcome"] = rng.normal(size=n)
            f["round"] = r
            cols = propensity_columns(3)
            f[cols[0]], f[cols[1]] = probs[1], probs[2]
            frames.append(f)
            arms.append(a)
        frame = pd.concat(frames, ignore_index=True)
        observed, _ = observed_from_frame(frame, np.concatenate(arms), ("A", "B", "C"),
                                          "continuous")
        rounds = observed.column("round")
        s = sequential_scores(observed, rounds, seed=0)
        assert s.sequential and s.outcome_model == "arm means per round"
        np.testing.assert_array_equal(s.fold, rounds)
        assert (s.propensity[rounds == 1, 2] == 0).all()
        (effects,) = DesignInference(s).effects([np.ones(observed.n_visitors, bool)])
        assert effects[1].n == int((rounds == 0).sum())  # C measured in round 0 only
        assert effects[0].n == observed.n_visitors


class TestBootstrapT:
    def test_interval_and_draws_agree(self) -> None:
        """The confidence distribution's quantiles are the interval's bounds."""
        rng = np.random.default_rng(5)
        d = rng.exponential(size=(3000, 1)) - 1.0
        (inf,) = bootstrap_effects(d, np.ones_like(d, bool), np.zeros_like(d), seed=1)
        low, high = inf.interval(0.90)
        assert np.mean(inf.draws < low) == pytest.approx(0.05, abs=0.002)
        assert np.mean(inf.draws > high) == pytest.approx(0.05, abs=0.002)
        assert inf.method == "bootstrap-t" and inf.n == 3000

    def test_skew_shifts_the_interval(self) -> None:
        """Right-skewed scores: the bootstrap-t interval reaches further up than down."""
        rng = np.random.default_rng(6)
        y = (rng.uniform(size=2000) < 0.05) * rng.lognormal(3.0, 1.0, 2000)
        d = y[:, None]
        (inf,) = bootstrap_effects(d, np.ones_like(d, bool), np.zeros_like(d), seed=2)
        low, high = inf.interval(0.90)
        assert high - inf.estimate > inf.estimate - low

    def test_deterministic(self) -> None:
        d = np.random.default_rng(7).normal(size=(500, 2))
        m = np.ones_like(d, bool)
        a = bootstrap_effects(d, m, d, seed=3)
        b = bootstrap_effects(d, m, d, seed=3)
        np.testing.assert_array_equal(a[1].draws, b[1].draws)

    def test_constant_scores(self) -> None:
        d = np.ones((50, 1))
        (inf,) = bootstrap_effects(d, np.ones_like(d, bool), d, seed=0)
        assert inf.interval(0.8) == (1.0, 1.0) and inf.se == 0.0

    def test_too_few_visitors(self) -> None:
        d = np.ones((5, 1))
        with pytest.raises(ValueError, match="at least 2"):
            bootstrap_effects(d, np.eye(5, 1, dtype=bool), d)


class TestNormal:
    def test_interval_is_estimate_plus_minus_z_se(self) -> None:
        from pytyche.analysis._inference import normal_effects

        d = np.random.default_rng(13).normal(1.0, 2.0, size=(400, 1))
        (inf,) = normal_effects(d, np.ones_like(d, bool), np.zeros_like(d))
        se = d.std(ddof=1) / math.sqrt(400)
        assert inf.se == pytest.approx(se)
        low, high = inf.interval(0.90)
        assert low == pytest.approx(d.mean() - 1.644854 * se, rel=1e-3)
        assert high == pytest.approx(d.mean() + 1.644854 * se, rel=1e-3)
        assert np.mean(inf.draws <= 0) == pytest.approx(0.5 * math.erfc(d.mean() / se
                                                                         / math.sqrt(2)),
                                                        abs=2e-3)


class TestConfidenceSequence:
    def test_wider_than_fixed_and_tightest_near_t_star(self) -> None:
        rho2 = cs_rho2(1000)
        fixed = 1.959964 / math.sqrt(1000)
        assert cs_halfwidth(1.0, 1000, 0.05, rho2) > fixed
        ratio = [cs_halfwidth(1.0, t, 0.05, rho2) * math.sqrt(t) for t in (100, 1000, 10000)]
        assert ratio[1] < ratio[0] and ratio[1] < ratio[2]

    def test_alpha_inverts_the_boundary(self) -> None:
        rho2 = cs_rho2(500)
        half = cs_halfwidth(2.0, 800, 0.03, rho2)
        assert cs_two_sided_alpha(half, 2.0, 800, rho2) == pytest.approx(0.03, rel=1e-6)

    def test_one_sided_probability(self) -> None:
        """P(d <= 0) of the confidence distribution is half the two-sided α at 0."""
        rng = np.random.default_rng(8)
        d = rng.normal(0.08, 1.0, size=(2000, 1))
        (inf,) = sequence_effects(d, np.ones_like(d, bool), np.zeros_like(d), t_star=1000)
        alpha = cs_two_sided_alpha(d.mean(), d.std(ddof=1), 2000, cs_rho2(1000))
        assert np.mean(inf.draws <= 0) == pytest.approx(alpha / 2, abs=1e-3)
        low, high = inf.interval(0.9)
        assert inf.method == "confidence sequence" and low < inf.estimate < high


class TestAdjustedGates:
    def test_bonferroni_over_claims(self) -> None:
        """P(positive) 0.98 alone ships; simultaneous over 4 claims it is 0.92 and does not."""
        draws = np.concatenate([np.full(980, 5.0), np.full(20, -1.0)])
        control = np.full(1000, 100.0)
        one = recommendation_summary(draws, control, treatment="B", control="A")
        four = recommendation_summary(draws, control, treatment="B", control="A", n_claims=4,
                                      basis="design")
        assert one.decision == Decision.SHIP and one.p_positive == pytest.approx(0.98)
        assert four.decision == Decision.CONTINUE and four.p_positive == pytest.approx(0.92)
        assert four.basis == "design" and four.n_claims == 4 and "4 directional" in four.rationale

    def test_bad_claims(self) -> None:
        with pytest.raises(ValueError, match="n_claims"):
            recommendation_summary(np.ones(3), np.ones(3), treatment="B", control="A",
                                   n_claims=0)


class TestDesignAnalysis:
    def test_defaults_are_design_based(self) -> None:
        """A posterior that cannot be refitted is scored by arm means; every comparison says
        so and carries the posterior's numbers beside its own."""
        post = planted_boundary(n=900, n_draws=40)
        res = analyze(post, n_bootstrap=0)
        assert res.decision_basis == "design" and isinstance(res.design, DesignScores)
        assert res.design.outcome_model.startswith("arm means")
        for c in res.comparisons:
            assert c.basis == "design" and c.method == "normal"
            assert c.model_effect is not None and c.model_ci is not None and c.se > 0
        overall = [c for c in res.comparisons if c.segment_id is None]
        per_segment = [c for c in res.comparisons if c.segment_id is not None]
        assert all(c.recommendation.n_claims == 4 for c in overall)
        assert all(c.recommendation.n_claims == 4 * len(res.segments) for c in per_segment)
        assert res.segments == res.policy_tree.segments

    def test_design_effect_is_the_data_not_the_model(self) -> None:
        """Draws that claim a huge effect cannot make a design-based decision SHIP when the
        outcomes show none."""
        post = planted_boundary(n=900, n_draws=40)
        fake = post.level.copy()
        fake[..., 1:] += 50.0
        lying = dataclasses.replace(post, level=fake)
        model = analyze(lying, n_bootstrap=0, decisions="model")
        design = analyze(lying, n_bootstrap=0)
        assert any(r.decision == Decision.SHIP for r in model.recommendations.values())
        y, arm = post.observed.outcome(), post.observed.treatment_index()
        for c in (c for c in design.comparisons if c.segment_id is None):
            k = post.observed.treatments.index(c.treatment)
            assert c.effect == pytest.approx(y[arm == k].mean() - y[arm == 0].mean(), abs=0.05)

    def test_compare_variants_reads_given_scores(self) -> None:
        """compare_variants with design scores gives the analysis' overall comparisons."""
        from pytyche.analysis import compare_variants

        post = planted_boundary(n=900, n_draws=40)
        res = analyze(post, n_bootstrap=0)
        direct = compare_variants(post, design=res.design)
        overall = [c for c in res.comparisons if c.segment_id is None]
        assert [c.effect for c in direct] == [c.effect for c in overall]
        assert [c.recommendation.decision for c in direct] == [
            c.recommendation.decision for c in overall]
        assert all(c.basis == "model" for c in compare_variants(post))

    def test_interval_choice(self) -> None:
        """The normal interval is the default; the bootstrap-t is an option; anything else is
        refused with the choices."""
        post = planted_boundary(n=600, n_draws=20)
        boot = analyze(post, n_bootstrap=0, interval="bootstrap-t")
        assert {c.method for c in boot.comparisons} == {"bootstrap-t"}
        with pytest.raises(ValueError, match="bootstrap-t"):
            analyze(post, n_bootstrap=0, interval="percentile")

    def test_unknown_mode(self) -> None:
        with pytest.raises(ValueError, match="decisions"):
            analyze(planted_boundary(n=300, n_draws=10), decisions="bayes")

    def test_misaligned_scores(self) -> None:
        post = planted_boundary(n=300, n_draws=10)
        other = arm_mean_scores(planted_boundary(n=200, n_draws=10).observed)
        with pytest.raises(AlignmentViolation):
            analyze(post, design=other, n_bootstrap=0)
