"""Decisions and policies from real (reduced) BCF fits on simulated templates.

The null case lives in ``test_decisions_design.py`` (every metric, realistic noise).
Fits are continuous-metric, K = 3, n = 3000, 30 mu / 10 tau trees, 100 + 100 iterations (see
``_analysis_fits.small_config``); every seed is fixed. Tolerances are stated per test.
"""

from __future__ import annotations

import numpy as np
import pytest

# Plain imports: a renamed or missing function fails the module loudly instead of skipping it.
from _analysis_fits import fit_observed

from pytyche.analysis import analyze, evaluate_against_truth
from pytyche.contracts import Decision
from pytyche.data import feature_schema
from pytyche.generators import simulate

pytestmark = pytest.mark.slow

N = 3000
METRIC = "continuous"


def fitted(template: str, seed: int, **template_kwargs):
    observed, truth = simulate(
        template, n_visitors=N, metric=METRIC, K=3, seed=seed, **template_kwargs
    )
    return fit_observed(observed, seed=seed), truth


def uniform_accuracy(truth) -> float:
    """Expected policy accuracy of a uniformly random arm (tied best arms all count)."""
    po = np.asarray(truth.potential_outcomes.values)
    return float(np.mean((po >= po.max(axis=1, keepdims=True) - 1e-12).mean(axis=1)))


def test_constant_ships_the_best_arm() -> None:
    """A clear constant effect growing with the arm index: the top arm is SHIPped and has
    the highest P(best)."""
    post, truth = fitted("constant", 0)
    res = analyze(post, n_bootstrap=0)
    po = np.asarray(truth.potential_outcomes.values)
    best = post.treatments[int(np.argmax(po.mean(axis=0)))]
    assert res.recommendations[best].decision == Decision.SHIP
    overall = {c.treatment: c for c in res.comparisons if c.segment_id is None}
    assert max(overall, key=lambda t: overall[t].p_best) == best


def test_reversal_policy_finds_the_boundary() -> None:
    """Effect sign flips at x1 = 0: the root split is on x1 within 0.5 of 0, accuracy is at
    least 0.3 above a uniform arm's, and the policy's true mean outcome beats uniform."""
    post, truth = fitted("reversal", 0)
    res = analyze(post, n_bootstrap=20, bootstrap_seed=0)
    tree = res.policy_tree.tree.tree_
    features = feature_schema(post.observed).features
    assert features[int(tree.feature[0])] == "x1"
    assert abs(float(tree.threshold[0])) < 0.5
    tc = evaluate_against_truth(res, truth)
    assert tc.policy_accuracy > uniform_accuracy(truth) + 0.3
    assert tc.rpv_policy > tc.rpv_uniform
    assert tc.oracle_gap_rpv < tc.rpv_oracle - tc.rpv_uniform


def test_clustered_realistic_policy_beats_uniform() -> None:
    """Four archetypes with their own responses: the policy is right for at least 0.15 more
    visitors than a uniform arm and earns more per visitor than uniform allocation."""
    post, truth = fitted("clustered_realistic", 0)
    res = analyze(post, n_bootstrap=20, bootstrap_seed=0)
    tc = evaluate_against_truth(res, truth)
    assert tc.policy_accuracy > uniform_accuracy(truth) + 0.15
    assert tc.rpv_policy > tc.rpv_uniform
