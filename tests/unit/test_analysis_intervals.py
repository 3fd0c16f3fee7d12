"""credible_interval: equal-tailed bounds, levels, axes and calibration."""

from __future__ import annotations

import numpy as np
import pytest
from _analysis_helpers import WidenBy
from scipy import stats

from pytyche.analysis import credible_interval


class TestCredibleInterval:
    @pytest.mark.parametrize("level", [0.5, 0.8, 0.9, 0.95])
    def test_matches_normal_quantiles(self, level: float) -> None:
        """Draws of N(0, 1) give bounds at the normal quantiles (Monte Carlo tolerance)."""
        draws = np.random.default_rng(1).standard_normal(200_000)
        low, high = credible_interval(draws, level)
        z = stats.norm.ppf((1 + level) / 2)
        # SE of a sample quantile: sqrt(q(1-q)/n) / pdf(z); 5 SEs
        tol = 5 * np.sqrt((1 - level) / 2 * (1 + level) / 2 / draws.size) / stats.norm.pdf(z)
        assert low == pytest.approx(-z, abs=tol)
        assert high == pytest.approx(z, abs=tol)

    @pytest.mark.parametrize("level", [0.5, 0.8, 0.95])
    def test_covers_nominal_share_of_new_draws(self, level: float) -> None:
        """An interval from one set of draws holds about `level` of fresh draws."""
        rng = np.random.default_rng(2)
        low, high = credible_interval(rng.normal(3.0, 2.0, 100_000), level)
        fresh = rng.normal(3.0, 2.0, 100_000)
        share = np.mean((fresh >= low) & (fresh <= high))
        assert share == pytest.approx(level, abs=0.01)

    def test_default_level_is_80_percent(self) -> None:
        """The default interval is the 10%-90% quantile range."""
        assert credible_interval(np.arange(101.0)) == (10.0, 90.0)

    def test_axis_keeps_other_axes(self) -> None:
        """Per-visitor draws (n, S, K) summarised on axis 1 give (n, K) bounds."""
        draws = np.random.default_rng(3).normal(size=(7, 50, 3))
        low, high = credible_interval(draws, 0.8, axis=1)
        assert low.shape == high.shape == (7, 3)
        assert np.all(low <= high)

    def test_calibration_widens(self) -> None:
        """A correction asking for a higher raw level widens the interval."""
        draws = np.random.default_rng(4).normal(size=10_000)
        raw = credible_interval(draws, 0.8)
        wide = credible_interval(draws, 0.8, calibration=WidenBy(0.1))
        assert wide[0] < raw[0] and wide[1] > raw[1]
        assert wide == credible_interval(draws, 0.9)

    @pytest.mark.parametrize("level", [0.0, 1.0, -0.2, 80, float("nan")])
    def test_bad_level_refused(self, level: float) -> None:
        """A level outside (0, 1) is refused with the value in the message."""
        with pytest.raises(ValueError, match="level="):
            credible_interval(np.arange(10.0), level)

    def test_bad_adjusted_level_refused(self) -> None:
        """A correction returning a level outside (0, 1) is refused."""
        with pytest.raises(ValueError, match="adjusted level"):
            credible_interval(np.arange(10.0), 0.8, calibration=WidenBy(0.5))

    def test_empty_draws_refused(self) -> None:
        """No draws, no interval."""
        with pytest.raises(ValueError, match="no draws"):
            credible_interval(np.zeros(0))
