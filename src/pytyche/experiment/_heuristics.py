"""The engine's rules of thumb: which arms to drop, the Optimized cell's policy and weight,
how much the segments can be acted on, and the next fit's τ-forest size."""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import Any

import numpy as np

from pytyche.contracts import AnalysisResult, DiscoveredSegment, PolicyTreeResult
from pytyche.experiment.policies import DEFAULT_EPSILON, ThompsonPolicy, TreePolicy, epsilon_clip

__all__ = [
    "DEFAULT_NUM_TREES_TAU",
    "cell_weights",
    "clearly_losing_treatments",
    "next_fit_num_trees_tau",
    "optimized_policy",
    "optimized_value_probability",
    "segment_evidence",
]

#: Smallest weight of an engine-proposed cell when its floor is 0 (the cell stays served).
_MIN_CELL_WEIGHT = 0.01
#: τ-forest size assumed when the previous fit does not say which one it used.
DEFAULT_NUM_TREES_TAU = 50


def segment_evidence(segments: Sequence[DiscoveredSegment]) -> float:
    """How much a set of segments can be acted on, in [0, 1].

    The population-weighted mean, over segments, of stability (NaN counts as 0) times the
    decisiveness of the segment's best-arm probabilities (0 when every arm is equally likely
    best, 1 when one arm is best with certainty).
    """
    total, weight = 0.0, 0.0
    for s in segments:
        probs = list(s.arm_best_probabilities.values())
        k = len(probs)
        decisive = (max(probs) - 1.0 / k) / (1.0 - 1.0 / k) if k >= 2 else 0.0
        stability = 0.0 if math.isnan(s.stability_score) else s.stability_score
        total += s.population_share * stability * max(0.0, decisive)
        weight += s.population_share
    return float(min(1.0, max(0.0, total / weight))) if weight > 0 else 0.0


def cell_weights(
    p_optimized_better: float, *, min_control_weight: float = 0.05,
    min_explore_weight: float = 0.05,
) -> tuple[float, float, float]:
    """(Control, Explore, Optimized) weights from P(the Optimized policy beats uniform).

    Control keeps its floor. The rest of the traffic is shared between the Optimized cell
    and the Explore cell by Thompson sampling one level up: each of the two policies gets
    the posterior probability that it is the better one (``p_optimized_better`` and its
    complement), then the Explore cell is raised to its floor when below it (the Optimized
    cell gives way) and the Optimized cell keeps at least the same floor. A floor of 0 is
    taken as 1% so that every cell stays served.

    Parameters
    ----------
    p_optimized_better : float
        Posterior probability that the Optimized cell's policy earns more per visitor than the
        Explore cell's uniform allocation (see :func:`optimized_value_probability`).
    min_control_weight, min_explore_weight : float, default=0.05
        The spec's floors of the Control and Explore cells.

    Returns
    -------
    tuple of float
        Weights summing to 1.

    Raises
    ------
    ValueError
        Negative floors, or floors that leave no room for the Optimized cell.

    Notes
    -----
    Thompson (1933) gives each action the probability that it is optimal; here the actions
    are the two non-control cells' policies, so the share follows the posterior's belief
    about which routing earns more, with no tuned constant. Control stays at its floor: it
    exists to measure the baseline (the glossary's controls-retention floor), and every
    visitor of the Control cell beyond that floor pays the full regret of the control arm,
    while the design-based decisions also use the control visitors of the other cells.
    """
    if min_control_weight < 0 or min_explore_weight < 0:
        msg = (f"min_control_weight={min_control_weight} and min_explore_weight="
               f"{min_explore_weight} must be >= 0")
        raise ValueError(msg)
    if min_control_weight + min_explore_weight >= 1.0:
        msg = (
            "min_control_weight + min_explore_weight must be < 1.0 to leave room for the "
            f"Optimized cell; got {min_control_weight} + {min_explore_weight}"
        )
        raise ValueError(msg)
    p = float(p_optimized_better)
    p = 0.5 if math.isnan(p) else min(1.0, max(0.0, p))
    # Every cell keeps at least _MIN_CELL_WEIGHT so it stays served (a zero floor would
    # otherwise leave a cell with no traffic); the Optimized cell at least the Explore floor.
    control = max(min_control_weight, _MIN_CELL_WEIGHT)
    rest = 1.0 - control
    floor = max(min_explore_weight, _MIN_CELL_WEIGHT)
    if 2.0 * floor > rest:  # floors this large leave only an even split
        floor = rest / 2.0
    explore = min(max(rest * (1.0 - p), floor), rest - floor)
    return control, explore, rest - explore


def optimized_value_probability(
    analysis: AnalysisResult, policy: Any, active: Sequence[str]
) -> float:
    """Posterior probability that ``policy`` earns more per visitor than uniform over ``active``.

    For every posterior draw, the policy's value is the mean over the analysed visitors of
    ``sum_k P(k | x) · level_k(x)`` and the uniform policy's the mean of the active arms'
    levels; the result is the share of draws in which the policy's value is the larger
    (ties count one half).

    Parameters
    ----------
    analysis : AnalysisResult
        Its posterior supplies the per-visitor level draws and the visitors.
    policy : Policy
        The Optimized cell's policy.
    active : sequence of str
        The Explore cell's treatments.

    Returns
    -------
    float
        In [0, 1]; NaN when the posterior carries no level draws (e.g. a stand-in object).
    """
    try:
        from pytyche.analysis._posterior import view_of

        view = view_of(analysis.posterior)
        level = np.asarray(view.level)  # (n, S, K)
        visitors = view.observed.visitors()
    except (AttributeError, TypeError, ValueError):
        return math.nan
    names = list(view.treatments)
    probs = np.asarray(policy.probabilities(visitors, names), dtype=np.float64)  # (n, K)
    uniform = np.zeros(len(names))
    uniform[[names.index(t) for t in active if t in names]] = 1.0
    uniform /= uniform.sum()
    value_policy = np.einsum("nk,nsk->s", probs, level) / len(visitors)
    value_uniform = level.mean(axis=0) @ uniform
    diff = value_policy - value_uniform
    return float(np.mean(diff > 0) + 0.5 * np.mean(diff == 0))


def clearly_losing_treatments(analysis: AnalysisResult) -> list[str]:
    """Treatments whose overall P(harm) exceeds their analysis' ``p_harm`` threshold."""
    return [
        name for name, summary in analysis.recommendations.items()
        if summary.p_harmful > summary.thresholds.p_harm
    ]


def next_fit_num_trees_tau(
    posterior: Any, tree: PolicyTreeResult | None, cumulative_n: int, *, base: int | None = None
) -> int:
    """τ-forest size for the next fit, from how heterogeneous the last fit found the effects.

    Parameters
    ----------
    posterior : object
        The previous fit; its ``config.num_trees_tau`` is the base size when present.
    tree : PolicyTreeResult or None
        The previous policy tree; its segments' effects and intervals measure heterogeneity.
    cumulative_n : int
        Visitors the next fit will see.
    base : int or None, default=None
        Base size overriding the posterior's.

    Returns
    -------
    int
        ``base · c²`` rounded, where ``c`` widens intervals from 90% to a target coverage of
        ``0.90 + 0.05·h`` (``h`` in [0, 1]: the spread of segment effects over their mean
        interval half-width, capped at 1). More heterogeneity → more τ trees, at most about
        1.42× the base; never more than ``max(base, cumulative_n // 100)``.

    Notes
    -----
    A heuristic in the spirit of :func:`pytyche.bcf.config.compute_num_trees_tau`: a richer
    τ forest spreads posterior uncertainty over more leaves, which widens intervals where the
    effect surface is rough.
    """
    if cumulative_n < 1:
        msg = f"cumulative_n={cumulative_n} must be a positive visitor count"
        raise ValueError(msg)
    if base is None:
        config = getattr(posterior, "config", None)
        base = int(getattr(config, "num_trees_tau", DEFAULT_NUM_TREES_TAU))
    h = 0.0
    if tree is not None and len(tree.segments) >= 2:
        gates = np.array([s.gate_estimate for s in tree.segments], dtype=np.float64)
        half = np.array([(s.gate_ci[1] - s.gate_ci[0]) / 2 for s in tree.segments])
        scale = float(np.nanmean(half))
        if np.isfinite(scale) and scale > 0:
            h = float(min(1.0, np.nanstd(gates) / scale))
    nd = NormalDist()
    target = 0.90 + 0.05 * h
    c = nd.inv_cdf((1.0 + target) / 2.0) / nd.inv_cdf(0.95)
    size = round(base * c * c)
    return int(max(1, min(size, max(base, cumulative_n // 100))))


def optimized_policy(analysis: AnalysisResult, active: Sequence[str]) -> Any:
    """The Optimized cell's policy: the policy tree with its Thompson shares per segment.

    The tree's ``allocation_map`` is already ε-clipped (floored at ε/K by
    :func:`pytyche.analysis.thompson_allocation`) and is shipped as is, so what the analysis
    exports is what visitors get. When treatments were dropped, each segment's allocation is
    recomputed over the active ones only (P(best among the active arms), floored at
    ε/K_active) from the posterior's draws, or, without draws, the dropped arms' shares are
    removed and the rest renormalised and floored.
    """
    tree = analysis.policy_tree
    if tree is not None:
        served = {t for v in tree.allocation_map.values() for t, share in v.items() if share > 0}
        if served <= set(active):  # the exported map itself (arms with no share left out)
            return TreePolicy(tree, {leaf: {t: v for t, v in shares.items() if t in active}
                                     for leaf, shares in tree.allocation_map.items()})
        from pytyche.analysis._thompson import thompson_allocation  # lazy: sklearn-free import

        draws = _leaf_draws(analysis, tree)
        allocation = {}
        for leaf, shares in tree.allocation_map.items():
            names = list(shares)
            if draws is not None and int(leaf) in draws:
                shares_active = thompson_allocation(draws[int(leaf)], names, DEFAULT_EPSILON,
                                                    active=[t for t in active if t in names])
                allocation[int(leaf)] = {t: v for t, v in shares_active.items() if t in active}
                continue
            kept = {t: float(shares.get(t, 0.0)) for t in active}
            if sum(kept.values()) <= 0:
                kept = dict.fromkeys(active, 1.0)
            allocation[int(leaf)] = epsilon_clip(kept, DEFAULT_EPSILON)
        return TreePolicy(tree, allocation)
    shares = dict.fromkeys(active, 0.0)
    total = 0.0
    for s in analysis.segments:
        for t in active:
            shares[t] += s.population_share * float(s.arm_best_probabilities.get(t, 0.0))
        total += s.population_share
    if total <= 0 or sum(shares.values()) <= 0:
        shares = dict.fromkeys(active, 1.0)
    return ThompsonPolicy(shares, epsilon=DEFAULT_EPSILON)


def _leaf_draws(analysis: AnalysisResult, tree: PolicyTreeResult) -> dict[int, np.ndarray] | None:
    """Segment-average level draws (S, K) per leaf of ``tree``; None without posterior draws."""
    try:
        from pytyche.analysis._posterior import view_of

        view = view_of(analysis.posterior)
        level = np.asarray(view.level)
        leaves = TreePolicy(tree, tree.allocation_map).leaves(view.observed.visitors())
    except (AttributeError, TypeError, ValueError):
        return None
    return {int(leaf): level[leaves == leaf].mean(axis=0) for leaf in tree.allocation_map
            if np.any(leaves == leaf)} or None
