"""P(arm best) from joint draws and the ε-floored Thompson allocation built on it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["DEFAULT_EPSILON", "floor_shares", "prob_best", "thompson_allocation"]

#: Exploration floor of the Thompson allocation: each active arm gets at least ε / K_active.
DEFAULT_EPSILON = 0.02


def prob_best(level_draws: Any) -> np.ndarray:
    """Posterior probability that each arm has the highest average level.

    Parameters
    ----------
    level_draws : array_like
        Either segment-average levels of shape (S, K) or per-visitor levels of shape
        (n, S, K), which are first averaged over the visitors, draw by draw.

    Returns
    -------
    numpy.ndarray
        Shape (K,), non-negative, summing to 1.

    Notes
    -----
    In each draw the arm with the largest average level wins; an exact tie splits that draw's
    win equally among the tied arms, so identical arms get identical probabilities.
    """
    draws = _segment_draws(level_draws)
    top = draws.max(axis=1, keepdims=True)
    winners = draws == top
    wins = winners / winners.sum(axis=1, keepdims=True)
    return wins.mean(axis=0)


def thompson_allocation(
    level_draws: Any,
    treatments: Sequence[str],
    epsilon: float = DEFAULT_EPSILON,
    *,
    active: Sequence[str] | None = None,
) -> dict[str, float]:
    """Thompson traffic shares for one segment: proportional to P(best), floored at ε / K.

    Parameters
    ----------
    level_draws : array_like
        Joint posterior draws of the arms' levels in the segment, shape (S, K), or per visitor,
        shape (n, S, K).
    treatments : sequence of str
        Arm names, in the draws' column order.
    epsilon : float, default=0.02
        Total exploration mass: every active arm receives at least ``epsilon / K_active``.
    active : sequence of str, optional
        Arms that may receive traffic (default: all). Inactive arms get 0 and are left out
        of the P(best) contest.

    Returns
    -------
    dict of str to float
        Share per treatment, in ``treatments`` order, summing to 1.

    Raises
    ------
    ValueError
        ``epsilon`` is outside [0, 1), the names do not match the draws, or ``active`` names
        an unknown arm or is empty.

    Notes
    -----
    The floor is applied by water-filling: arms whose proportional share falls below the floor
    are pinned to it and the remaining mass is shared among the others in proportion to their
    P(best), repeated until no share is below the floor. The result sums to one exactly (up to
    rounding), honours the floor, and keeps the order of the P(best) values.
    """
    eps = float(epsilon)
    if not (math.isfinite(eps) and 0.0 <= eps < 1.0):
        msg = f"epsilon={epsilon!r} must be in [0, 1); the default exploration floor is 0.02"
        raise ValueError(msg)
    names = tuple(treatments)
    draws = _segment_draws(level_draws)
    if draws.shape[1] != len(names):
        msg = f"treatments has {len(names)} names but the draws have {draws.shape[1]} arms"
        raise ValueError(msg)
    chosen = names if active is None else tuple(active)
    unknown = [a for a in chosen if a not in names]
    if unknown or not chosen:
        msg = f"active={list(chosen)} must be a non-empty subset of treatments {list(names)}"
        raise ValueError(msg)
    idx = [names.index(a) for a in names if a in chosen]
    shares = np.zeros(len(names))
    shares[idx] = floor_shares(prob_best(draws[:, idx]), eps / len(idx))
    return {name: float(s) for name, s in zip(names, shares, strict=True)}


def floor_shares(weights: np.ndarray, floor: float) -> np.ndarray:
    """Shares proportional to ``weights`` with every share at least ``floor`` (water-filling).

    Parameters
    ----------
    weights : numpy.ndarray
        Non-negative weights, shape (K,), with a positive sum.
    floor : float
        Smallest share, with ``floor * K <= 1``.

    Returns
    -------
    numpy.ndarray
        Shares summing to 1. Weights whose proportional share is already at least the floor
        keep their proportions, so applying the floor to its own output changes nothing.
    """
    weights = np.asarray(weights, dtype=np.float64)
    k = len(weights)
    pinned = np.zeros(k, dtype=bool)
    shares = weights / weights.sum()
    for _ in range(k):
        free_mass = 1.0 - floor * pinned.sum()
        free_weight = weights[~pinned].sum()
        shares = np.where(pinned, floor, 0.0)
        if free_weight > 0:
            shares[~pinned] = free_mass * weights[~pinned] / free_weight
        else:
            shares[~pinned] = free_mass / (~pinned).sum()
        low = ~pinned & (shares < floor)
        if not low.any():
            break
        pinned |= low
    return shares


def _segment_draws(level_draws: Any) -> np.ndarray:
    arr = np.asarray(level_draws, dtype=np.float64)
    if arr.ndim == 3:
        arr = arr.mean(axis=0)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        msg = (
            f"level draws have shape {np.shape(level_draws)}; pass (S, K) segment draws or "
            "(n, S, K) per-visitor draws"
        )
        raise ValueError(msg)
    if not np.isfinite(arr).all():
        msg = "level draws contain NaN or inf; check the posterior"
        raise ValueError(msg)
    return arr
