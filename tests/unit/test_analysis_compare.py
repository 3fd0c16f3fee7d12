"""recommendation_summary gates, compare_variants and the hurdle decomposition."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from _analysis_helpers import WidenBy, hurdle_posterior, planted_boundary

from pytyche.analysis import (
    compare_variants,
    credible_interval,
    decompose_effects,
    recommendation_summary,
)
from pytyche.contracts import ComparisonRule, Decision, DecisionThresholds
from pytyche.errors import AlignmentViolation

S = 1000
CONTROL = np.full(S, 100.0)  # practical threshold 2.0, loss tolerance 0.5 (absolute)


def draws(*parts: tuple[int, float]) -> np.ndarray:
    """Effect draws made of (count, value) blocks summing to S."""
    out = np.concatenate([np.full(count, value) for count, value in parts])
    assert out.size == S
    return out


def decide(effect: np.ndarray, **kw: float) -> tuple[Decision, str]:
    th = DecisionThresholds(**kw) if kw else DecisionThresholds()
    rec = recommendation_summary(effect, CONTROL, th, treatment="B", control="A")
    return rec.decision, rec.rationale


class TestRecommendationSummary:
    def test_clear_win_ships(self) -> None:
        """Every draw well above the practical threshold: SHIP, named as the SHIP gate."""
        decision, why = decide(draws((S, 5.0)))
        assert decision == Decision.SHIP and why.startswith("SHIP gate")

    @pytest.mark.parametrize(("n_pos", "expected"), [(950, "CONTINUE"), (951, "SHIP")])
    def test_p_positive_gate_is_strict(self, n_pos: int, expected: str) -> None:
        """P(positive) must exceed 0.95: exactly 0.95 does not ship."""
        decision, _ = decide(draws((n_pos, 5.0), (S - n_pos, -1e-4)))
        assert decision == Decision(expected)

    @pytest.mark.parametrize(("n_better", "expected"), [(800, "CONTINUE"), (801, "SHIP")])
    def test_p_better_gate_is_strict(self, n_better: int, expected: str) -> None:
        """P(better by 2% of control) must exceed 0.80: exactly 0.80 does not ship."""
        decision, _ = decide(draws((n_better, 5.0), (S - n_better, 1.0)))
        assert decision == Decision(expected)

    @pytest.mark.parametrize(("loss", "expected"), [(12.5, "CONTINUE"), (12.4, "SHIP")])
    def test_expected_loss_gate_is_strict(self, loss: float, expected: str) -> None:
        """Expected loss must be below 0.005 of control: exactly at the tolerance does not ship."""
        decision, _ = decide(draws((960, 5.0), (40, -loss)))  # E[loss] = 40 * loss / 1000
        assert decision == Decision(expected)

    @pytest.mark.parametrize(("n_harm", "expected"), [(900, "CONTINUE"), (901, "STOP")])
    def test_harm_gate_is_strict(self, n_harm: int, expected: str) -> None:
        """STOP for harm needs P(harm) above 0.90."""
        decision, why = decide(draws((n_harm, -1.0), (S - n_harm, 5.0)))
        assert decision == Decision(expected)
        assert ("STOP (harm)" in why) == (expected == "STOP")

    @pytest.mark.parametrize(("n_better", "expected"), [(50, "CONTINUE"), (49, "STOP")])
    def test_futility_gate_is_strict(self, n_better: int, expected: str) -> None:
        """STOP for futility needs P(better) below 0.05."""
        decision, why = decide(draws((n_better, 5.0), (S - n_better, 1.0)))
        assert decision == Decision(expected)
        assert ("futility" in why) == (expected == "STOP")

    @pytest.mark.parametrize(("n_better", "claims", "expected"),
                             [(49, 4, "CONTINUE"), (13, 4, "CONTINUE"), (12, 4, "STOP")])
    def test_futility_is_adjusted_like_the_other_claims(self, n_better, claims,
                                                        expected) -> None:
        """Over m claims futility needs m · P(better) below 0.05 (P(better) < 0.0125 at
        m = 4), as harm and SHIP are simultaneous over them; the rationale says so."""
        rec = recommendation_summary(draws((n_better, 5.0), (S - n_better, 1.0)), CONTROL,
                                     treatment="B", control="A", n_claims=claims)
        assert rec.decision == Decision(expected)
        if expected == "STOP":
            assert rec.gate == "futility" and "< 0.05/4" in rec.rationale

    def test_reports_the_probabilities(self) -> None:
        """The summary carries P(positive), P(better), P(harm) and relative expected loss."""
        rec = recommendation_summary(
            draws((700, 5.0), (100, 1.0), (200, -3.0)),
            CONTROL,
            treatment="B",
            control="A",
            segment_id=4,
        )
        assert (rec.p_positive, rec.p_better, rec.p_harmful) == (0.8, 0.7, 0.2)
        assert rec.expected_loss == pytest.approx(0.2 * 3.0 / 100)
        assert rec.segment_id == 4 and rec.thresholds == DecisionThresholds()

    def test_thresholds_are_used(self) -> None:
        """A looser P(positive) threshold lets a weaker effect ship."""
        effect = draws((900, 5.0), (100, -1e-4))
        assert decide(effect)[0] == Decision.CONTINUE
        assert decide(effect, p_positive=0.85)[0] == Decision.SHIP

    def test_zero_control_mean_blocks_ship(self) -> None:
        """With a zero baseline a possible loss is infinite relative loss: no SHIP."""
        rec = recommendation_summary(
            draws((990, 5.0), (10, -1.0)), np.zeros(S), treatment="B", control="A"
        )
        assert rec.expected_loss == float("inf") and rec.decision != Decision.SHIP

    def test_misaligned_draws_refused(self) -> None:
        """Effect and control draws must pair up."""
        with pytest.raises(AlignmentViolation, match="one value per posterior draw"):
            recommendation_summary(np.ones(5), np.ones(4), treatment="B", control="A")


class TestCompareVariants:
    def test_effect_is_mean_cate_over_the_segment(self) -> None:
        """Effect draws are the visitor average of CATE draws; the interval is theirs."""
        post = planted_boundary(n=600, n_draws=100)
        mask = post.observed.visitors()["x0"].to_numpy() > 0
        results = compare_variants(post, mask, level=0.9, segment_id=7)
        cate = post.cate_samples()[mask].mean(axis=0, dtype=np.float64)  # (S, K-1)
        for j, res in enumerate(results):
            assert res.treatment == "BC"[j] and res.control == "A" and res.segment_id == 7
            assert res.effect == pytest.approx(cate[:, j].mean(), rel=1e-6)
            np.testing.assert_allclose(res.effect_ci, credible_interval(cate[:, j], 0.9), rtol=1e-5)
            assert res.level == 0.9 and res.recommendation.segment_id == 7

    def test_rule_and_mask_agree(self) -> None:
        """A SegmentRule and its mask give the same comparison."""
        post = planted_boundary(n=600, n_draws=100)
        rule = ComparisonRule(feature="x0", op=">", value=0.0)
        by_rule = compare_variants(post, rule)
        by_mask = compare_variants(post, rule.mask(post.observed.visitors()))
        assert by_rule == by_mask

    def test_p_best_and_decisions_follow_the_planted_effects(self) -> None:
        """Where x0 > 0, B is best and shipped and C is stopped."""
        post = planted_boundary(n=600, n_draws=100)
        b, c = compare_variants(post, ComparisonRule(feature="x0", op=">", value=0.0))
        assert b.p_best == 1.0 and c.p_best == 0.0
        assert b.recommendation.decision == Decision.SHIP
        assert c.recommendation.decision == Decision.STOP
        assert b.relative_effect == pytest.approx(0.1, abs=0.01)

    def test_calibration_widens_effect_interval(self) -> None:
        """A calibrated posterior reports wider intervals than the raw one."""
        raw = planted_boundary(n=300, n_draws=100)
        cal = dataclasses.replace(raw, calibration=WidenBy(0.1))
        lo_r, hi_r = compare_variants(raw)[0].effect_ci
        lo_c, hi_c = compare_variants(cal)[0].effect_ci
        assert lo_c < lo_r and hi_c > hi_r

    def test_empty_segment_refused(self) -> None:
        """A segment with no visitor is refused."""
        post = planted_boundary(n=300, n_draws=20)
        with pytest.raises(ValueError, match="no visitors"):
            compare_variants(post, ComparisonRule(feature="x0", op=">", value=5.0))

    def test_results_are_frozen(self) -> None:
        """Comparison results cannot be modified."""
        res = compare_variants(planted_boundary(n=300, n_draws=20))[0]
        with pytest.raises(dataclasses.FrozenInstanceError):
            res.effect = 0.0  # type: ignore[misc]


class TestDecomposition:
    def test_parts_add_up_to_the_revenue_effect(self) -> None:
        """Conversion part + basket part equals the revenue effect, draw by draw."""
        post = hurdle_posterior()
        dec = decompose_effects(post)
        np.testing.assert_allclose(dec.conversion + dec.basket, dec.revenue, rtol=1e-12)
        level_effect = post.cate_samples().mean(axis=0, dtype=np.float64)
        np.testing.assert_allclose(dec.revenue, level_effect, rtol=1e-4)
        assert dec.treatments == ("B", "C") and dec.revenue.shape == (100, 2)

    def test_parts_match_their_formulas(self) -> None:
        """Conversion part is mean((p_k - p_0) s_0); basket part mean(p_k (s_k - s_0))."""
        post = hurdle_posterior(n=90, n_draws=10)
        p = post.p_samples.astype(np.float64)
        s = post.sev_samples.astype(np.float64)
        dec = decompose_effects(post)
        np.testing.assert_allclose(
            dec.conversion[:, 1], ((p[..., 2] - p[..., 0]) * s[..., 0]).mean(axis=0), rtol=1e-5
        )
        np.testing.assert_allclose(
            dec.basket[:, 0], (p[..., 1] * (s[..., 1] - s[..., 0])).mean(axis=0), rtol=1e-5
        )
        np.testing.assert_allclose(
            dec.conversion_rate_effect[:, 0], (p[..., 1] - p[..., 0]).mean(axis=0), rtol=1e-5
        )

    def test_attached_per_arm_to_hurdle_comparisons(self) -> None:
        """Each hurdle comparison carries its own arm's decomposition."""
        b, c = compare_variants(hurdle_posterior())
        assert b.decomposition.treatments == ("B",) and c.decomposition.treatments == ("C",)
        assert b.effect == pytest.approx(float(b.decomposition.revenue.mean()), rel=1e-4)

    def test_non_hurdle_has_none(self) -> None:
        """Continuous posteriors carry no decomposition and refuse to compute one."""
        post = planted_boundary(n=300, n_draws=20)
        assert compare_variants(post)[0].decomposition is None
        with pytest.raises(ValueError, match="only hurdle"):
            decompose_effects(post)
