"""Simulation-based coverage scoring: tail levels, coverage, decisions and regret."""

from __future__ import annotations

import numpy as np
import pytest

from pytyche.analysis import credible_interval
from pytyche.calibrate.sbc import (
    arm_tail_levels,
    coverage_at,
    decision_agreement,
    policy_regret,
    segment_tail_levels,
    tail_levels,
)


class TestTailLevels:
    def test_agrees_with_credible_interval(self) -> None:
        """u <= p exactly when the level-p credible interval covers the truth."""
        rng = np.random.default_rng(0)
        draws = rng.normal(size=(200, 50))
        truth = rng.normal(scale=1.5, size=200)
        u = tail_levels(draws, truth)
        for p in (0.5, 0.8, 0.9):
            low, high = credible_interval(draws, p, axis=1)
            covered = (truth >= low) & (truth <= high)
            np.testing.assert_array_equal(u <= p + 1e-9, covered)

    def test_outside_the_draws_is_one(self) -> None:
        assert tail_levels(np.array([[0.0, 1.0, 2.0]]), np.array([5.0]))[0] == 1.0

    def test_calibrated_posterior_gives_uniform_levels(self) -> None:
        """Truth drawn from the posterior itself: coverage matches every nominal level."""
        rng = np.random.default_rng(1)
        draws = rng.normal(size=(4000, 400))
        u = tail_levels(draws, rng.normal(size=4000))
        np.testing.assert_allclose(coverage_at(u, [0.5, 0.8, 0.9]), [0.5, 0.8, 0.9], atol=0.03)

    def test_bad_shapes(self) -> None:
        with pytest.raises(ValueError, match=r"draws\.shape"):
            tail_levels(np.zeros((3, 4)), np.zeros(2))


class TestScores:
    def setup_method(self) -> None:
        rng = np.random.default_rng(2)
        self.true = np.column_stack([np.full(60, 0.5), np.full(60, -0.2)])
        self.draws = self.true[:, None, :] + rng.normal(scale=0.1, size=(60, 40, 2))
        self.segments = np.repeat([0, 1, 2], 20)

    def test_segment_and_arm_shapes(self) -> None:
        assert segment_tail_levels(self.draws, self.true, self.segments).shape == (6,)
        assert arm_tail_levels(self.draws, self.true).shape == (2,)

    def test_decisions_match_the_oracle(self) -> None:
        assert decision_agreement(self.draws, self.true) == 1.0
        assert decision_agreement(-self.draws, self.true) == 0.0

    def test_regret(self) -> None:
        po = np.array([[1.0, 2.0, 0.0], [3.0, 1.0, 0.0]])
        right = np.broadcast_to(po[:, None, :], (2, 5, 3))
        assert policy_regret(right, po) == 0.0
        wrong = np.broadcast_to(-po[:, None, :], (2, 5, 3))  # routes to the worst arm
        assert policy_regret(wrong, po) == pytest.approx((2.0 + 3.0) / 2)

    def test_coverage_of_nothing_is_nan(self) -> None:
        assert np.isnan(coverage_at([], [0.8])).all()
