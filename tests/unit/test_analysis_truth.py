"""TruthComparison and evaluate_against_truth on hand-built truth."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from _analysis_helpers import ArrayPosterior, planted_boundary

from pytyche.analysis import TruthComparison, analyze, evaluate_against_truth, fit_policy_tree
from pytyche.contracts import (
    AlignedVisitorArray,
    CalibrationTruth,
    MetricFamily,
    ObservedExperimentData,
    VariantData,
)
from pytyche.errors import AlignmentViolation

#: Truth per visitor and arm (visitor 4 has three tied arms).
OUTCOMES = np.array([[1, 2, 3], [1, 2, 3], [5, 1, 1], [0, 4, 1], [2, 2, 2], [1, 0, 0]], dtype=float)
#: Posterior-mean levels: picks arms 1, 2, 0, 2, 1, 0.
ESTIMATE = np.array([[1, 3, 2], [1, 2, 4], [5, 1, 1], [0, 1, 4], [0, 1, 0], [1, 0, 0]], dtype=float)


def truth_for(outcomes: np.ndarray) -> CalibrationTruth:
    n = len(outcomes)
    cate = outcomes[:, 1:] - outcomes[:, :1]
    return CalibrationTruth(
        effect=float(cate.mean()),
        metric_id="continuous",
        metric_family=MetricFamily.CONTINUOUS,
        effect_components={},
        contrast_cate_per_visitor=[
            AlignedVisitorArray(values=cate[:, j], n_visitors=n) for j in range(cate.shape[1])
        ],
        potential_outcomes=AlignedVisitorArray(values=outcomes, n_visitors=n),
    )


@pytest.fixture
def hand_built() -> ArrayPosterior:
    frame = pd.DataFrame({"x0": np.arange(6.0), "outcome": np.zeros(6)})
    observed = ObservedExperimentData(
        experiment_id="hand",
        metric="continuous",
        variants=tuple(
            VariantData.from_visitors(name, frame.iloc[2 * k : 2 * k + 2].reset_index(drop=True))
            for k, name in enumerate("ABC")
        ),
    )
    spread = np.array([0.5, -0.5])[None, :, None]  # two draws around the mean
    return ArrayPosterior(observed=observed, level=ESTIMATE[:, None, :] + spread)


class TestEvaluateAgainstTruth:
    def test_arithmetic(self, hand_built) -> None:
        """Every field matches the hand computation (ties count as correct)."""
        tc = evaluate_against_truth(hand_built, truth_for(OUTCOMES))
        assert tc.cate_rmse == pytest.approx(np.sqrt(22 / 12))
        assert tc.policy_accuracy == pytest.approx(4 / 6)
        assert tc.rpv_policy == pytest.approx(14 / 6)
        assert tc.rpv_oracle == pytest.approx(3.0)
        assert tc.rpv_uniform == pytest.approx(31 / 18)
        assert tc.oracle_gap_rpv == pytest.approx(4 / 6)

    def test_perfect_estimate(self, hand_built) -> None:
        """Estimating the truth exactly gives zero error and no gap."""
        exact = dataclasses.replace(hand_built, level=OUTCOMES[:, None, :].repeat(2, axis=1))
        tc = evaluate_against_truth(exact, truth_for(OUTCOMES))
        assert tc.cate_rmse == 0.0 and tc.policy_accuracy == 1.0 and tc.oracle_gap_rpv == 0.0

    def test_policy_tree_on_planted_boundary(self) -> None:
        """A tree that finds the planted boundary matches the oracle and beats uniform."""
        post = planted_boundary(n=1000, n_draws=30)
        frame = post.observed.visitors()
        base = 10 + 0.5 * frame["x1"].to_numpy()
        right = frame["x0"].to_numpy() > 0
        outcomes = np.column_stack(
            [base, base + np.where(right, 1.0, -0.5), base + np.where(right, -0.5, 1.0)]
        )
        truth = truth_for(outcomes)
        policy = fit_policy_tree(post, n_bootstrap=0)
        tc = evaluate_against_truth(post, truth, policy)
        assert tc.policy_accuracy == 1.0 and tc.oracle_gap_rpv == pytest.approx(0.0)
        assert tc.rpv_policy > tc.rpv_uniform + 0.5
        via_analysis = evaluate_against_truth(analyze(post, n_bootstrap=0), truth)
        assert via_analysis == tc

    def test_needs_potential_outcomes(self, hand_built) -> None:
        """Truth without potential outcomes is refused."""
        truth = dataclasses.replace(truth_for(OUTCOMES), potential_outcomes=None)
        with pytest.raises(ValueError, match="potential_outcomes"):
            evaluate_against_truth(hand_built, truth)

    def test_misaligned_truth_refused(self, hand_built) -> None:
        """Truth for a different number of visitors is refused."""
        with pytest.raises(AlignmentViolation, match="visitor order"):
            evaluate_against_truth(hand_built, truth_for(OUTCOMES[:3]))

    def test_frozen(self, hand_built) -> None:
        """TruthComparison cannot be modified."""
        tc = evaluate_against_truth(hand_built, truth_for(OUTCOMES))
        assert isinstance(tc, TruthComparison)
        with pytest.raises(dataclasses.FrozenInstanceError):
            tc.cate_rmse = 0.0  # type: ignore[misc]
