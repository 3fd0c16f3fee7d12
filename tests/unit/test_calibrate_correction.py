"""LayeredCalibrationCorrection: monotone, invertible, identity on the diagonal, JSON round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from pytyche.calibrate import LayeredCalibrationCorrection
from pytyche.calibrate.correction import isotonic_increasing

GRID = np.round(np.arange(0.05, 0.96, 0.05), 2)


def _under_covering(scale: float = 1.6) -> LayeredCalibrationCorrection:
    """Coverage of a posterior `scale` times too narrow: R(p) = 2Φ(z_p / scale) - 1."""
    z = stats.norm.ppf((1 + GRID) / 2)
    return LayeredCalibrationCorrection.from_pairs(GRID, 2 * stats.norm.cdf(z / scale) - 1)


class TestIsotonic:
    def test_pools_violators(self) -> None:
        """Decreasing neighbours are replaced by their weighted mean."""
        out = isotonic_increasing([0.1, 0.5, 0.3, 0.7], [1, 1, 3, 1])
        np.testing.assert_allclose(out, [0.1, 0.35, 0.35, 0.7])


class TestLayeredCorrection:
    def test_identity_when_empirical_equals_nominal(self) -> None:
        """Measured coverage equal to the nominal level leaves every level unchanged."""
        corr = LayeredCalibrationCorrection.from_pairs(GRID, GRID)
        assert corr.scale == pytest.approx(1.0)
        for p in (0.3, 0.5, 0.8, 0.9, 0.97, 0.99):
            assert corr.adjust_level(p) == pytest.approx(p, abs=1e-5)

    def test_monotone_and_continuous_at_ceiling(self) -> None:
        """R(p) increases strictly across both layers and joins them at the ceiling."""
        corr = _under_covering()
        ps = np.linspace(0.001, 0.999, 999)
        r = np.array([corr.coverage(p) for p in ps])
        assert np.all(np.diff(r) > 0)
        c = corr.ceiling
        assert corr.coverage(c + 1e-9) == pytest.approx(corr.coverage(c), abs=1e-6)

    def test_adjust_level_inverts_coverage(self) -> None:
        """coverage(adjust_level(q)) == q wherever the raw level is not clipped."""
        corr = _under_covering()
        for q in (0.2, 0.5, 0.7, 0.8, 0.9):
            assert corr.coverage(corr.adjust_level(q)) == pytest.approx(q, abs=1e-6)

    def test_scale_layer_recovers_gaussian_widening(self) -> None:
        """For an exactly Gaussian under-coverage the fitted scale is the true factor."""
        corr = _under_covering(1.6)
        assert corr.scale == pytest.approx(1.6, rel=1e-3)
        q = 0.9
        expected = 2 * stats.norm.cdf(1.6 * stats.norm.ppf((1 + q) / 2)) - 1
        assert corr.adjust_level(q) == pytest.approx(min(expected, 0.999), abs=1e-4)

    def test_adjust_level_is_clipped(self) -> None:
        """Severe under-coverage never asks for a level above max_level."""
        corr = _under_covering(5.0)
        assert corr.adjust_level(0.95) == corr.max_level == 0.999

    def test_non_monotone_measurements_are_smoothed(self) -> None:
        """Noisy measured coverage still gives a strictly increasing map."""
        noisy = np.clip(GRID - 0.05 + 0.04 * np.sin(GRID * 40), 0.0, 1.0)
        corr = LayeredCalibrationCorrection.from_pairs(GRID, noisy)
        assert np.all(np.diff(corr.knots_empirical) > 0)

    def test_json_round_trip(self) -> None:
        """to_dict → JSON → from_dict gives an equal correction."""
        corr = _under_covering()
        again = LayeredCalibrationCorrection.from_dict(json.loads(json.dumps(corr.to_dict())))
        assert again == corr

    def test_from_tail_levels_picks_supported_ceiling(self) -> None:
        """The ceiling is the largest grid level that still has `min_misses` misses."""
        u = np.random.default_rng(0).uniform(size=400)  # calibrated: coverage(p) = p
        corr = LayeredCalibrationCorrection.from_tail_levels(u, min_misses=30)
        assert corr.ceiling == pytest.approx(0.9)  # 400 * 0.05 = 20 misses at 0.95 < 30
        assert corr.adjust_level(0.8) == pytest.approx(0.8, abs=0.06)

    @pytest.mark.parametrize(
        ("kwargs", "match"),
        [({"nominal": [0.5, 1.2], "empirical": [0.4, 0.9]}, "levels must lie"),
         ({"nominal": [0.5], "empirical": [0.4, 0.9]}, "one measured coverage"),
         ({"nominal": [0.5, 0.8], "empirical": [0.4, 0.7], "ceiling": 0.3}, "below every")],
    )
    def test_bad_input_names_the_problem(self, kwargs: dict, match: str) -> None:
        with pytest.raises(ValueError, match=match):
            LayeredCalibrationCorrection.from_pairs(**kwargs)

    def test_rejects_out_of_range_nominal(self) -> None:
        with pytest.raises(ValueError, match=r"nominal=1\.0"):
            _under_covering().adjust_level(1.0)

    def test_too_few_misses_raises(self) -> None:
        with pytest.raises(ValueError, match="min_misses"):
            LayeredCalibrationCorrection.from_tail_levels([0.1, 0.2], min_misses=20)
