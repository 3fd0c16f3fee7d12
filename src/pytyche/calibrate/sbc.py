"""Simulation-based coverage ("SBC" in pytyche): intervals, decisions and regret vs planted truth.

This is not the rank-uniformity diagnostic of Talts et al. (2018). It scores one fitted posterior
against the :class:`~pytyche.contracts.CalibrationTruth` of the simulation it came from:

* **tail levels**: for an estimand with posterior draws ``x_1..x_S`` and true value ``t``, the
  smallest equal-tailed level whose interval contains ``t``. With ``F`` the empirical CDF that
  inverts :func:`numpy.quantile` (linear interpolation between order statistics),
  ``u = |2 F(t) - 1|``, and the level-``p`` interval covers ``t`` exactly when ``u <= p``. One
  ``u`` per estimand therefore gives the coverage at every nominal level, including the
  adjusted levels a calibration asks for, without refitting.
* **segments**: the truth's clusters (the latent customer archetypes of the simulation). They
  are fixed before the fit, so the estimand, the mean CATE over a cluster's visitors, does not
  move with the posterior, which a policy tree's leaves would. Each (cluster, treatment) pair is
  one estimand: its draws are the per-visitor CATE draws averaged over the cluster's visitors.
* **arms**: the average effect of each treatment over all visitors.
* **decisions**: a treatment is shipped when its posterior probability of a positive average
  effect exceeds one half; the oracle ships it when its true average effect is positive.
* **regret**: visitors are routed to the arm with the highest posterior-mean outcome; regret is
  the mean, over visitors, of the best arm's true mean outcome minus the routed arm's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pytyche.contracts import CalibrationTruth

__all__ = [
    "arm_tail_levels",
    "coverage_at",
    "decision_agreement",
    "evaluate_posterior",
    "policy_regret",
    "segment_tail_levels",
    "tail_levels",
]

#: Tolerance when comparing a tail level with a nominal level (float rounding of quantiles).
_TOL = 1e-9


def tail_levels(draws: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Smallest equal-tailed level whose interval contains the truth, per estimand.

    Parameters
    ----------
    draws : numpy.ndarray
        Posterior draws, shape (m, S): m estimands, S draws each.
    truth : numpy.ndarray
        True values, shape (m,).

    Returns
    -------
    numpy.ndarray
        Shape (m,), values in [0, 1]; 1 when the truth lies outside the range of the draws.
    """
    draws = np.asarray(draws, dtype=np.float64)
    truth = np.asarray(truth, dtype=np.float64)
    if draws.ndim != 2 or truth.shape != (draws.shape[0],) or draws.shape[1] < 2:
        msg = (f"draws.shape={draws.shape} and truth.shape={truth.shape}: expected (m, S) "
               "draws with S >= 2 and (m,) truths")
        raise ValueError(msg)
    ordered = np.sort(draws, axis=1)
    S = ordered.shape[1]
    positions = np.arange(S, dtype=np.float64) / (S - 1)
    out = np.empty(truth.shape[0])
    for i, (row, t) in enumerate(zip(ordered, truth, strict=True)):
        if t < row[0] or t > row[-1]:
            out[i] = 1.0
            continue
        cdf = float(np.interp(t, row, positions))
        out[i] = abs(2.0 * cdf - 1.0)
    return out


def coverage_at(levels: np.ndarray, nominal: Sequence[float] | np.ndarray) -> np.ndarray:
    """Share of estimands covered at each nominal level, from their tail levels.

    Returns NaN per level when ``levels`` is empty.
    """
    u = np.asarray(levels, dtype=np.float64).ravel()
    p = np.asarray(nominal, dtype=np.float64).ravel()
    if u.size == 0:
        return np.full(p.shape, np.nan)
    return (u[None, :] <= p[:, None] + _TOL).mean(axis=1)


def _segment_ids(truth: CalibrationTruth) -> np.ndarray:
    if truth.cluster_ids is None:
        msg = ("the simulation's truth has no cluster_ids, so there are no segments to score; "
               "use a template with latent clusters (e.g. 'clustered_realistic')")
        raise ValueError(msg)
    return np.asarray(truth.cluster_ids.values)


def segment_tail_levels(
    cate_draws: np.ndarray, true_cate: np.ndarray, segment_ids: np.ndarray
) -> np.ndarray:
    """Tail levels of segment-mean effects, one per (segment, treatment), segment-major.

    Parameters
    ----------
    cate_draws : numpy.ndarray
        Per-visitor effect draws, shape (n, S, k).
    true_cate : numpy.ndarray
        True per-visitor effects, shape (n, k).
    segment_ids : numpy.ndarray
        Segment label per visitor, shape (n,).
    """
    draws, truths = [], []
    for seg in np.unique(segment_ids):
        mask = segment_ids == seg
        draws.append(cate_draws[mask].mean(axis=0, dtype=np.float64).T)  # (k, S)
        truths.append(true_cate[mask].mean(axis=0))
    return tail_levels(np.concatenate(draws), np.concatenate(truths))


def arm_tail_levels(cate_draws: np.ndarray, true_cate: np.ndarray) -> np.ndarray:
    """Tail levels of each treatment's average effect over all visitors, shape (k,)."""
    ate = cate_draws.mean(axis=0, dtype=np.float64).T  # (k, S)
    return tail_levels(ate, true_cate.mean(axis=0))


def decision_agreement(cate_draws: np.ndarray, true_cate: np.ndarray) -> float:
    """Share of treatments whose ship call (P(effect > 0) > 1/2) matches the oracle's."""
    ate = cate_draws.mean(axis=0, dtype=np.float64)  # (S, k)
    shipped = (ate > 0).mean(axis=0) > 0.5
    oracle = true_cate.mean(axis=0) > 0
    return float((shipped == oracle).mean())


def policy_regret(level_draws: np.ndarray, potential_outcomes: np.ndarray) -> float:
    """Mean per-visitor loss of routing by posterior-mean outcome instead of by the truth.

    Parameters
    ----------
    level_draws : numpy.ndarray
        Per-visitor outcome draws under every arm, shape (n, S, K).
    potential_outcomes : numpy.ndarray
        True mean outcome under every arm, shape (n, K).
    """
    routed = level_draws.mean(axis=1, dtype=np.float64).argmax(axis=1)
    rows = np.arange(potential_outcomes.shape[0])
    return float((potential_outcomes.max(axis=1) - potential_outcomes[rows, routed]).mean())


def evaluate_posterior(
    posterior: Any, truth: CalibrationTruth, *, nominal_levels: Sequence[float]
) -> dict[str, Any]:
    """Score one posterior against its simulation's truth.

    Parameters
    ----------
    posterior : BCF result
        Anything with ``cate_samples()`` (n, S, k) and ``level_samples()`` (n, S, K).
    truth : CalibrationTruth
        The truth of the simulation; needs ``cluster_ids`` (the segments).
    nominal_levels : sequence of float
        Levels at which coverage is reported.

    Returns
    -------
    dict
        ``segment_levels`` and ``arm_levels`` (tail levels, lists of float),
        ``segment_coverage``, ``arm_coverage`` (tuples, one per nominal level),
        ``segment_hits``, ``segment_total``, ``decision_correct`` and ``regret``.
    """
    cate = np.asarray(posterior.cate_samples())
    true_cate = truth.cate_matrix()
    seg_u = segment_tail_levels(cate, true_cate, _segment_ids(truth))
    arm_u = arm_tail_levels(cate, true_cate)
    regret = float("nan")
    if truth.potential_outcomes is not None:
        regret = policy_regret(np.asarray(posterior.level_samples()),
                               np.asarray(truth.potential_outcomes.values, dtype=np.float64))
    seg_cov = coverage_at(seg_u, nominal_levels)
    return {
        "segment_levels": [float(u) for u in seg_u],
        "arm_levels": [float(u) for u in arm_u],
        "segment_coverage": tuple(float(c) for c in seg_cov),
        "arm_coverage": tuple(float(c) for c in coverage_at(arm_u, nominal_levels)),
        "segment_hits": tuple(round(float(c) * seg_u.size) for c in seg_cov),
        "segment_total": int(seg_u.size),
        "decision_correct": decision_agreement(cate, true_cate),
        "regret": regret,
    }
