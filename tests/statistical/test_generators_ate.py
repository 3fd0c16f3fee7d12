"""Statistical checks of the generator: what the observed data shows matches the planted truth.

Tolerance: every comparison allows 4 standard errors, with the SE computed from the simulated
data itself (Neyman's ``sqrt(s_k^2 / n_k + s_0^2 / n_0)`` for arm differences, which is
conservative for the sample ATE the truth reports). Under normality a correct generator
lands outside 4 SE with probability 6e-5 per comparison, so the ~40 comparisons here would
all pass with probability > 99.7% for any seed; the seeds are fixed, so the result is
deterministic anyway. The power checks require the planted effect to be at least 8 SE, so a
generator whose observed data ignored the arms (difference about 0) would fail the 4 SE check.
"""

from __future__ import annotations

import numpy as np
import pytest

from pytyche.generators import simulate

Z_TOL = 4.0
METRICS = ("conversion_rate", "revenue_per_visitor", "continuous")
# Effect sizes large enough for >= 8 SE at these sample sizes.
SETTINGS = {
    "conversion_rate": {"effect_scale": 0.8, "baseline_rate": 0.2},
    "revenue_per_visitor": {"effect_scale": 1.0, "baseline_rate": 0.1},
    "continuous": {"effect_scale": 0.3},
}


def _arm_difference(y: np.ndarray, arm: np.ndarray, k: int) -> tuple[float, float]:
    yk, y0 = y[arm == k], y[arm == 0]
    diff = yk.mean() - y0.mean()
    se = np.sqrt(yk.var(ddof=1) / len(yk) + y0.var(ddof=1) / len(y0))
    return float(diff), float(se)


class TestArmDifferenceMatchesTruth:
    @pytest.mark.parametrize("metric", METRICS)
    @pytest.mark.parametrize(("K", "n"), [(2, 30_000), (3, 45_000)])
    @pytest.mark.parametrize("template", ["monotone_gradient", "nonlinear"])
    def test_difference_in_means_within_4_se(self, template, metric, K, n):
        """Observed arm difference in means is within 4 SE of the true ATE, which is >= 8 SE."""
        observed, truth = simulate(template, n_visitors=n, metric=metric, K=K, seed=2024,
                                   **SETTINGS[metric])
        y, arm = observed.outcome(), observed.treatment_index()
        ate = truth.cate_matrix().mean(axis=0)
        for k in range(1, K):
            diff, se = _arm_difference(y, arm, k)
            assert abs(diff - ate[k - 1]) < Z_TOL * se, (k, diff, ate[k - 1], se)
            assert abs(ate[k - 1]) > 2 * Z_TOL * se

    @pytest.mark.parametrize("K", [2, 3])
    def test_realistic_revenue_within_4_se(self, K):
        """The archetype mixture with realistic (small) effects: difference within 4 SE."""
        observed, truth = simulate("clustered_realistic", n_visitors=60_000, K=K, seed=7)
        y, arm = observed.outcome(), observed.treatment_index()
        ate = truth.cate_matrix().mean(axis=0)
        for k in range(1, K):
            diff, se = _arm_difference(y, arm, k)
            assert abs(diff - ate[k - 1]) < Z_TOL * se


class TestHurdleChannels:
    @pytest.mark.parametrize("K", [2, 3])
    def test_conversion_and_basket(self, K):
        """Revenue: conversion share and mean basket of converters per arm match the truth.

        The basket target is the conversion-weighted mean of m_k over the arm's visitors, which
        holds only if log-baskets are drawn as N(log m - sigma^2 / 2, sigma^2).
        """
        observed, truth = simulate("reversal", n_visitors=40_000, metric="revenue_per_visitor",
                                   K=K, seed=99, baseline_rate=0.1)
        y, arm = observed.outcome(), observed.treatment_index()
        p = [a.values for a in truth.p_per_visitor] if K >= 3 else [
            truth.p0_per_visitor.values, truth.p1_per_visitor.values]
        m = [a.values for a in truth.m_per_visitor] if K >= 3 else [
            truth.m0_per_visitor.values, truth.m1_per_visitor.values]
        for k in range(K):
            mine = arm == k
            converted = y[mine] > 0
            rate_se = np.sqrt(converted.var(ddof=1) / mine.sum())
            assert abs(converted.mean() - p[k][mine].mean()) < Z_TOL * rate_se
            baskets = y[mine][converted]
            target = np.sum(p[k][mine] * m[k][mine]) / np.sum(p[k][mine])
            basket_se = baskets.std(ddof=1) / np.sqrt(len(baskets))
            assert abs(baskets.mean() - target) < Z_TOL * basket_se


class TestAssignmentShares:
    def test_shares_match_probabilities(self):
        """Arm sizes follow the fixed assignment probabilities (multinomial SE)."""
        probs = (0.5, 0.2, 0.3)
        n = 30_000
        observed, _ = simulate("null", n_visitors=n, metric="continuous", K=3, seed=1,
                               treatment_probabilities=probs)
        shares = np.array([v.n_visitors for v in observed.variants]) / n
        se = np.sqrt(np.array(probs) * (1 - np.array(probs)) / n)
        assert (np.abs(shares - probs) < Z_TOL * se).all()
