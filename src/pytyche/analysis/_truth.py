"""Sim mode: how close an analysis came to the planted truth."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from pytyche.analysis._export import ExportedPolicy, assign
from pytyche.analysis._posterior import view_of
from pytyche.contracts import AnalysisResult, CalibrationTruth, PolicyTreeResult
from pytyche.errors import AlignmentViolation

__all__ = ["TruthComparison", "evaluate_against_truth"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TruthComparison:
    """Estimate-versus-truth metrics of one simulated analysis.

    Attributes
    ----------
    cate_rmse : float
        Root mean squared error of the posterior-mean CATE against the true CATE, over every
        visitor and every treatment-versus-control contrast.
    policy_accuracy : float
        Share of visitors whom the recommended policy sends to their truly best arm (any of
        them when several arms tie).
    oracle_gap_rpv : float
        ``rpv_oracle - rpv_policy``: mean outcome per visitor lost to the oracle (>= 0).
    rpv_policy : float
        True mean outcome per visitor under the recommended policy.
    rpv_uniform : float
        True mean outcome per visitor when every arm is equally likely.
    rpv_oracle : float
        True mean outcome per visitor when everyone gets their truly best arm.
    """

    cate_rmse: float
    policy_accuracy: float
    oracle_gap_rpv: float
    rpv_policy: float
    rpv_uniform: float
    rpv_oracle: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.policy_accuracy <= 1.0:
            msg = f"TruthComparison: policy_accuracy={self.policy_accuracy} must be in [0, 1]"
            raise ValueError(msg)
        if not (math.isnan(self.cate_rmse) or self.cate_rmse >= 0):
            msg = f"TruthComparison: cate_rmse={self.cate_rmse} must be >= 0"
            raise ValueError(msg)


def _policy_and_truth(first: Any, second: Any) -> tuple[Any, CalibrationTruth]:
    """Sort the two optional arguments into (policy, truth), whichever order they came in."""
    truths = [a for a in (first, second) if isinstance(a, CalibrationTruth)]
    if len(truths) != 1:
        msg = (f"evaluate_against_truth needs exactly one CalibrationTruth, got {len(truths)}; "
               "call evaluate_against_truth(posterior, tree, truth)")
        raise TypeError(msg)
    policy = second if isinstance(first, CalibrationTruth) else first
    return policy, truths[0]


def evaluate_against_truth(
    posterior_or_analysis: Any,
    policy: PolicyTreeResult | ExportedPolicy | CalibrationTruth | None = None,
    truth: CalibrationTruth | PolicyTreeResult | ExportedPolicy | None = None,
) -> TruthComparison:
    """Compare a posterior (or an analysis of it) and its policy with the simulated truth.

    The specification's argument order is ``evaluate_against_truth(posterior, tree, truth)``.
    The earlier order ``evaluate_against_truth(posterior, truth)`` and
    ``evaluate_against_truth(posterior, truth, policy)`` keeps working: the truth is told
    apart by its type (:class:`~pytyche.contracts.CalibrationTruth`), so the two orders
    cannot be confused.

    Parameters
    ----------
    posterior_or_analysis : posterior or AnalysisResult
        What was estimated. An :class:`AnalysisResult` contributes its posterior and, unless
        ``policy`` is given, its policy tree.
    policy : PolicyTreeResult or ExportedPolicy, optional
        The policy to score; its deterministic assignment of the observed visitors is used.
        Without one, each visitor gets the arm with the highest posterior-mean level.
    truth : CalibrationTruth
        Truth aligned with ``posterior.observed.visitors()``; needs ``potential_outcomes``
        (n, K) and a per-visitor CATE.

    Returns
    -------
    TruthComparison

    Raises
    ------
    TypeError
        No :class:`CalibrationTruth` among the arguments, or two of them.
    ValueError
        ``truth`` carries no potential outcomes.
    AlignmentViolation
        Truth and posterior disagree on visitor count or arm count.
    """
    policy, truth = _policy_and_truth(policy, truth)
    if isinstance(posterior_or_analysis, AnalysisResult):
        posterior = posterior_or_analysis.posterior
        if policy is None:
            policy = posterior_or_analysis.policy_tree
    else:
        posterior = posterior_or_analysis
    view = view_of(posterior)
    if truth.potential_outcomes is None:
        msg = (
            "truth.potential_outcomes is None; truth comparison needs each visitor's mean "
            "outcome under every arm (simulate with a generator that records them)"
        )
        raise ValueError(msg)
    outcomes = np.asarray(truth.potential_outcomes.values, dtype=np.float64)
    true_cate = np.asarray(truth.cate_matrix(), dtype=np.float64)
    n, k_arms = view.n_visitors, view.n_arms
    if outcomes.shape != (n, k_arms) or true_cate.shape != (n, k_arms - 1):
        msg = (
            f"truth has potential_outcomes {outcomes.shape} and CATE {true_cate.shape}; the "
            f"posterior needs ({n}, {k_arms}) and ({n}, {k_arms - 1}) in visitor order"
        )
        raise AlignmentViolation(msg)

    mean_level = view.mean_level()
    est_cate = mean_level[:, 1:] - mean_level[:, :1]
    cate_rmse = float(np.sqrt(np.mean((est_cate - true_cate) ** 2)))

    if policy is None:
        chosen = np.argmax(mean_level, axis=1)
    else:
        names = assign(policy, view.observed.visitors(), "deterministic")
        lookup = {t: i for i, t in enumerate(view.treatments)}
        chosen = np.array([lookup[t] for t in names], dtype=np.int64)
    oracle = np.argmax(outcomes, axis=1)
    rows = np.arange(n)
    rpv_policy = float(outcomes[rows, chosen].mean())
    rpv_oracle = float(outcomes[rows, oracle].mean())
    best = outcomes[rows, oracle]
    tie = 1e-12 * max(1.0, float(np.abs(outcomes).max()))  # truly tied arms are all "best"
    return TruthComparison(
        cate_rmse=cate_rmse,
        policy_accuracy=float(np.mean(outcomes[rows, chosen] >= best - tie)),
        oracle_gap_rpv=rpv_oracle - rpv_policy,
        rpv_policy=rpv_policy,
        rpv_uniform=float(outcomes.mean()),
        rpv_oracle=rpv_oracle,
    )
