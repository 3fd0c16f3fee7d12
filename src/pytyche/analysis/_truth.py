"""Sim mode: how close an analysis came to the planted truth."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pytyche.analysis._blend import blend_probabilities
from pytyche.analysis._export import ExportedPolicy, assign
from pytyche.analysis._posterior import view_of
from pytyche.contracts import AnalysisResult, CalibrationTruth, PolicyTreeResult
from pytyche.errors import AlignmentViolation

__all__ = [
    "RoundRegret",
    "TruthComparison",
    "allocation_regret",
    "evaluate_against_truth",
    "loop_regret",
]


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


# --------------------------------------------------------------------------------------------
# Regret of an allocation against the oracle (sim mode)
# --------------------------------------------------------------------------------------------


def allocation_regret(potential_outcomes: Any, probabilities: Any) -> np.ndarray:
    """Expected outcome each visitor loses against its truly best arm under an allocation.

    Parameters
    ----------
    potential_outcomes : array_like
        True mean outcome of every visitor under every arm, shape (n, K).
    probabilities : array_like
        Probability of every arm per visitor, shape (n, K), rows summing to 1 (what the round
        shipped: the cell-weight blend of its cells' policies).

    Returns
    -------
    numpy.ndarray
        ``max_k m_k(x) - sum_k p_k(x) m_k(x)`` per visitor, shape (n,), >= 0 up to rounding.

    Notes
    -----
    The expectation over the allocation's own randomisation (rather than the outcome lost by
    the arm actually drawn) removes the assignment noise from a regret comparison without
    changing its mean: the regret of bandit analyses, e.g. Lattimore & Szepesvári,
    *Bandit Algorithms* (2020), section 4.5, evaluated with known mean outcomes.
    """
    outcomes = np.asarray(potential_outcomes, dtype=np.float64)
    probs = np.asarray(probabilities, dtype=np.float64)
    if outcomes.ndim != 2 or probs.shape != outcomes.shape:
        msg = (f"potential_outcomes {outcomes.shape} and probabilities {probs.shape} must "
               "both be (n visitors, K arms)")
        raise ValueError(msg)
    if not np.allclose(probs.sum(axis=1), 1.0, atol=1e-6):
        msg = "each row of probabilities must sum to 1 (an allocation over the K arms)"
        raise ValueError(msg)
    return outcomes.max(axis=1) - np.einsum("nk,nk->n", probs, outcomes)


@dataclass(frozen=True, slots=True, kw_only=True)
class RoundRegret:
    """Regret of one round of an adaptive experiment and of a fixed uniform split.

    Both are summed over the round's own visitors, in the metric's units (e.g. revenue).

    Attributes
    ----------
    round_idx : int
        The round.
    n_visitors : int
        Visitors of the round.
    regret : float
        Outcome lost against the oracle by the allocation the round shipped.
    uniform_regret : float
        Outcome the same visitors would have lost under a fixed 1/K split of all K arms.
    rpv_shipped, rpv_uniform, rpv_oracle : float
        True mean outcome per visitor under the shipped allocation, the uniform split and the
        oracle.
    """

    round_idx: int
    n_visitors: int
    regret: float
    uniform_regret: float
    rpv_shipped: float
    rpv_uniform: float
    rpv_oracle: float

    @property
    def ratio(self) -> float:
        """``regret / uniform_regret`` (NaN when uniform loses nothing, e.g. no true effect)."""
        return self.regret / self.uniform_regret if self.uniform_regret > 0 else math.nan

    def to_dict(self) -> dict[str, float]:
        """JSON-ready form."""
        return {"round": self.round_idx, "n_visitors": self.n_visitors,
                "regret": self.regret, "uniform_regret": self.uniform_regret,
                "rpv_shipped": self.rpv_shipped, "rpv_uniform": self.rpv_uniform,
                "rpv_oracle": self.rpv_oracle}


def loop_regret(rounds: Sequence[Any], treatments: Sequence[str]) -> tuple[RoundRegret, ...]:
    """Regret of every round of a simulated sequential experiment against a uniform split.

    Parameters
    ----------
    rounds : sequence of Round
        ``SequentialExperiment.rounds``: each with the plan it shipped, its own visitors and
        its truth (sim mode).
    treatments : sequence of str
        The experiment's treatments universe, control first (the truth's column order).

    Returns
    -------
    tuple of RoundRegret
        One per round, in round order. Cumulative regret is the sum of ``regret`` over rounds;
        the fixed uniform split's is the sum of ``uniform_regret``.

    Raises
    ------
    ValueError
        A round has no truth with potential outcomes (real-data rounds have no regret).
    """
    names = list(treatments)
    out = []
    for rnd in rounds:
        truth = rnd.truth
        if truth is None or truth.potential_outcomes is None:
            msg = (f"round {rnd.round_idx} has no truth with potential outcomes; regret is "
                   "only known in sim mode")
            raise ValueError(msg)
        outcomes = np.asarray(truth.potential_outcomes.values, dtype=np.float64)
        visitors = rnd.observed.visitors()
        probs = blend_probabilities(rnd.plan.cells, visitors, names)
        uniform = np.full_like(outcomes, 1.0 / outcomes.shape[1])
        lost = allocation_regret(outcomes, probs)
        lost_uniform = allocation_regret(outcomes, uniform)
        out.append(RoundRegret(
            round_idx=int(rnd.round_idx), n_visitors=len(outcomes),
            regret=float(lost.sum()), uniform_regret=float(lost_uniform.sum()),
            rpv_shipped=float(np.einsum("nk,nk->n", probs, outcomes).mean()),
            rpv_uniform=float(outcomes.mean()), rpv_oracle=float(outcomes.max(axis=1).mean()),
        ))
    return tuple(out)
