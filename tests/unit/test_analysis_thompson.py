"""prob_best and thompson_allocation: sums, floors, monotonicity, activity."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pytyche.analysis import prob_best, thompson_allocation

NAMES = tuple("ABCDEFGH")

draws_strategy = st.integers(2, 8).flatmap(
    lambda k: arrays(
        np.float64,
        st.tuples(st.integers(1, 40), st.just(k)),
        elements=st.floats(-5, 5, allow_nan=False, width=32),
    )
)


class TestProbBest:
    def test_counts_wins_per_draw(self) -> None:
        """P(best) is the share of draws in which each arm has the top level."""
        draws = np.array([[0.0, 1.0, 2.0], [0.0, 3.0, 2.0], [5.0, 1.0, 2.0], [0.0, 1.0, 2.0]])
        np.testing.assert_allclose(prob_best(draws), [0.25, 0.25, 0.5])

    def test_ties_split_equally(self) -> None:
        """Identical arms share each draw's win."""
        np.testing.assert_allclose(prob_best(np.ones((10, 4))), [0.25] * 4)

    def test_per_visitor_draws_use_the_segment_average(self) -> None:
        """With (n, S, K) input the winner is chosen on the visitor-average level per draw."""
        level = np.array([[[0.0, 3.0]], [[2.0, -2.0]]])  # visitor 1 favours B, 2 favours A
        np.testing.assert_allclose(prob_best(level), [1.0, 0.0])  # averages: 1.0 vs 0.5

    def test_nan_refused(self) -> None:
        """Non-finite draws are refused."""
        with pytest.raises(ValueError, match="NaN"):
            prob_best(np.array([[np.nan, 1.0]]))


class TestThompsonAllocation:
    @settings(max_examples=60, deadline=None)
    @given(draws=draws_strategy, eps=st.floats(0.0, 0.5))
    def test_sums_to_one_and_respects_floor(self, draws: np.ndarray, eps: float) -> None:
        """Shares sum to 1 within 1e-6 and no arm falls below eps / K."""
        k = draws.shape[1]
        shares = np.array(list(thompson_allocation(draws, NAMES[:k], eps).values()))
        assert abs(shares.sum() - 1.0) < 1e-6
        assert shares.min() >= eps / k - 1e-12

    @settings(max_examples=60, deadline=None)
    @given(draws=draws_strategy, eps=st.floats(0.0, 0.5))
    def test_monotone_in_prob_best(self, draws: np.ndarray, eps: float) -> None:
        """An arm more likely to be best never gets less traffic."""
        k = draws.shape[1]
        p = prob_best(draws)
        shares = np.array(list(thompson_allocation(draws, NAMES[:k], eps).values()))
        for i in range(k):
            for j in range(k):
                if p[i] > p[j]:
                    assert shares[i] >= shares[j] - 1e-12

    def test_proportional_when_floor_inactive(self) -> None:
        """Without a floor the shares equal P(best)."""
        draws = np.random.default_rng(0).normal([0, 0.2, 0.1], 1.0, (500, 3))
        shares = thompson_allocation(draws, ("A", "B", "C"), epsilon=0.0)
        np.testing.assert_allclose(list(shares.values()), prob_best(draws))

    def test_dominant_arm_keeps_the_rest_at_the_floor(self) -> None:
        """When one arm always wins, the others get exactly eps / K."""
        draws = np.tile([0.0, 1.0, 0.0, 0.0], (50, 1))
        shares = thompson_allocation(draws, ("A", "B", "C", "D"), epsilon=0.02)
        assert shares["A"] == pytest.approx(0.005)
        assert shares["B"] == pytest.approx(1 - 3 * 0.005)

    def test_inactive_arms_get_nothing(self) -> None:
        """Arms left out of `active` get 0 and the floor uses K_active."""
        draws = np.tile([0.0, 1.0, 5.0], (20, 1))
        shares = thompson_allocation(draws, ("A", "B", "C"), epsilon=0.1, active=("A", "B"))
        assert shares["C"] == 0.0
        assert shares["A"] == pytest.approx(0.05)
        assert shares["B"] == pytest.approx(0.95)

    @pytest.mark.parametrize(
        ("kwargs", "match"),
        [
            ({"epsilon": 1.0}, "epsilon"),
            ({"epsilon": -0.1}, "epsilon"),
            ({"active": ("Z",)}, "active"),
            ({"active": ()}, "active"),
        ],
    )
    def test_bad_arguments_refused(self, kwargs: dict, match: str) -> None:
        """Bad epsilon or active sets are refused with the value named."""
        with pytest.raises(ValueError, match=match):
            thompson_allocation(np.zeros((3, 2)), ("A", "B"), **kwargs)

    def test_name_count_must_match(self) -> None:
        """Names and draw columns must agree."""
        with pytest.raises(ValueError, match="3 names"):
            thompson_allocation(np.zeros((3, 2)), ("A", "B", "C"))
