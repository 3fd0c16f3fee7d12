"""The recommendation engine: from one round's analysis to the next round's plan.

Given the analysis of the cumulative data, the engine

* drops treatments that are clearly losing (P(harm) above the analysis' ``p_harm``
  threshold). With the default design-based decisions P(harm) is a simultaneous,
  anytime-valid confidence, so the chance of ever dropping a treatment that does not harm is
  controlled like a false SHIP. A drop lasts while the evidence says so: a treatment whose
  P(harm) falls back under the threshold is reinstated. Control is never dropped and at least
  one treatment stays active;
* lays out the next round's cells: Control (baseline), Explore (uniform over the active
  treatments) and Optimized (the policy tree with ε-clipped Thompson shares per segment);
* weighs the cells: Control at its floor, the rest split between Optimized and Explore by
  the posterior probability that the Optimized policy beats uniform (see :func:`cell_weights`);
* lists graduation candidates: (treatment, segment) pairs whose evidence has cleared the
  :class:`GraduationRule` for consecutive rounds;
* sizes the next fit's τ forest (:func:`next_fit_num_trees_tau`);
* writes a prose rationale.

The operator may ship the plan as is, change it, or replace it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from pytyche.contracts import (
    AnalysisResult,
    DecisionThresholds,
    DiscoveredSegment,
    PolicyTreeResult,
    RecommendationSummary,
    passes_ship_gate,
    rule_from_dict,
    rule_to_dict,
)
from pytyche.experiment.cells import (
    CONTROL_CELL,
    EXPLORE_CELL,
    OPTIMIZED_CELL,
    Cell,
    validate_cell_weights,
)
from pytyche.experiment.policies import (
    DEFAULT_EPSILON,
    BaselinePolicy,
    ThompsonPolicy,
    TreePolicy,
    UniformPolicy,
    epsilon_clip,
    policy_from_dict,
    policy_to_dict,
)

if TYPE_CHECKING:  # pragma: no cover
    from pytyche.experiment.experiment import Experiment
    from pytyche.experiment.schedule import Schedule

__all__ = [
    "DEFAULT_NUM_TREES_TAU",
    "ExpectedLossRule",
    "GraduationCandidate",
    "GraduationRule",
    "NextRoundPlan",
    "cell_weights",
    "clearly_losing_treatments",
    "cold_start_plan",
    "find_graduation_candidates",
    "next_fit_num_trees_tau",
    "optimized_value_probability",
    "recommend",
    "segment_evidence",
]

#: Smallest weight of an engine-proposed cell when its floor is 0 (the cell stays served).
_MIN_CELL_WEIGHT = 0.01
#: τ-forest size assumed when the previous fit does not say which one it used.
DEFAULT_NUM_TREES_TAU = 50


# --------------------------------------------------------------------------------------------
# Graduation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class GraduationCandidate:
    """A (treatment, segment) pair whose evidence has cleared the graduation rule.

    The library never graduates anything itself; it lists candidates and the operator decides.

    Attributes
    ----------
    treatment : str
        The treatment that would be rolled out.
    segment : DiscoveredSegment
        Where (the latest round's segment).
    sustained_rounds : int
        Consecutive rounds, ending with the latest, in which the pair cleared the rule.
    expected_loss, p_positive, p_better : float
        The latest round's evidence (see :class:`~pytyche.contracts.RecommendationSummary`).
    """

    treatment: str
    segment: DiscoveredSegment
    sustained_rounds: int
    expected_loss: float
    p_positive: float
    p_better: float

    def __post_init__(self) -> None:
        if self.sustained_rounds < 1:
            msg = f"GraduationCandidate: sustained_rounds={self.sustained_rounds} must be >= 1"
            raise ValueError(msg)


@runtime_checkable
class GraduationRule(Protocol):
    """Decides whether one round's evidence for a (treatment, segment) pair counts.

    Attributes
    ----------
    sustained_rounds : int
        Consecutive rounds the rule must hold before the pair is a candidate.
    min_stability : float
        Segments with a lower bootstrap stability score are never candidates.
    """

    sustained_rounds: int
    min_stability: float

    def fires(self, summary: RecommendationSummary) -> bool:
        """Whether this round's evidence clears the rule."""
        ...


#: The analysis' SHIP gate at the spec's defaults: graduation asks the same evidence of a segment.
_SHIP_DEFAULTS = DecisionThresholds()


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpectedLossRule:
    """The default graduation rule: small expected loss and a probable, practical gain.

    Parameters
    ----------
    tolerance : float, default=0.005
        Expected loss of shipping (relative to the control mean) must be below this.
    p_positive : float, default=0.95
        P(effect > 0) must exceed this.
    p_better : float, default=0.80
        P(effect above the practical threshold) must exceed this.
    sustained_rounds : int, default=2
        Consecutive rounds the three conditions must hold.
    min_stability : float, default=0.80
        Segments less stable than this are never candidates.
    """

    tolerance: float = _SHIP_DEFAULTS.loss_tolerance
    p_positive: float = _SHIP_DEFAULTS.p_positive
    p_better: float = _SHIP_DEFAULTS.p_better
    sustained_rounds: int = 2
    min_stability: float = 0.80

    def __post_init__(self) -> None:
        if not (math.isfinite(self.tolerance) and self.tolerance > 0):
            msg = f"ExpectedLossRule: tolerance={self.tolerance!r} must be positive (e.g. 0.005)"
            raise ValueError(msg)
        for name in ("p_positive", "p_better", "min_stability"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                msg = f"ExpectedLossRule: {name}={value!r} must be a probability in [0, 1]"
                raise ValueError(msg)
        if not isinstance(self.sustained_rounds, int) or self.sustained_rounds < 1:
            msg = f"ExpectedLossRule: sustained_rounds={self.sustained_rounds!r} must be >= 1"
            raise ValueError(msg)

    def fires(self, summary: RecommendationSummary) -> bool:
        return passes_ship_gate(
            summary.expected_loss, summary.p_positive, summary.p_better,
            loss_tolerance=self.tolerance, min_p_positive=self.p_positive,
            min_p_better=self.p_better,
        )


def find_graduation_candidates(
    analysis: AnalysisResult,
    *,
    previous: Sequence[GraduationCandidate] = (),
    rule: GraduationRule | None = None,
) -> tuple[GraduationCandidate, ...]:
    """Every (treatment, segment) pair of this analysis that clears ``rule``.

    Parameters
    ----------
    analysis : AnalysisResult
        The round's analysis; its per-segment comparisons carry the evidence.
    previous : sequence of GraduationCandidate, default=()
        The previous round's list (every pair that cleared the rule, whatever its streak).
    rule : GraduationRule or None, default=None
        ``None`` means :class:`ExpectedLossRule` at its defaults.

    Returns
    -------
    tuple of GraduationCandidate
        One per pair clearing the rule this round. ``sustained_rounds`` is one more than the
        streak of the previous round's pair for the same treatment whose segment overlaps
        this one (Jaccard ≥ 0.5 of members among the current visitors, the policy tree's
        own stability match), else 1.
    """
    from pytyche.analysis._policy_tree import same_segment  # lazy: sklearn loads on use

    rule = rule if rule is not None else ExpectedLossRule()
    segments = {s.id: s for s in analysis.segments}
    frame = None
    out: list[GraduationCandidate] = []
    for comp in analysis.comparisons:
        segment = segments.get(comp.segment_id) if comp.segment_id is not None else None
        if segment is None:
            continue
        stability = segment.stability_score
        if math.isnan(stability) or stability < rule.min_stability:
            continue
        if not rule.fires(comp.recommendation):
            continue
        streak = 1
        earlier = [c for c in previous if c.treatment == comp.treatment]
        if earlier:
            if frame is None:
                frame = analysis.posterior.observed.visitors()
            mask = np.asarray(segment.rule.mask(frame), dtype=bool)
            for cand in earlier:
                other = np.asarray(cand.segment.rule.mask(frame), dtype=bool)
                if same_segment(mask, other):
                    streak = max(streak, cand.sustained_rounds + 1)
        summary = comp.recommendation
        out.append(GraduationCandidate(
            treatment=comp.treatment, segment=segment, sustained_rounds=streak,
            expected_loss=float(summary.expected_loss), p_positive=float(summary.p_positive),
            p_better=float(summary.p_better),
        ))
    return tuple(out)


# --------------------------------------------------------------------------------------------
# The plan
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class NextRoundPlan:
    """What the next round should ship, and why.

    Attributes
    ----------
    cells : tuple of Cell
        The cells with their weights (summing to 1) and policies.
    treatments : tuple of str
        Active treatments, control first.
    dropped_treatments : tuple of str
        Treatments of the universe no longer served.
    prose_summary : str
        Plain-language rationale.
    tree : PolicyTreeResult or None
        The policy tree behind the Optimized cell (``None`` in a cold-start plan and in a
        plan read back from a store).
    segments : tuple of DiscoveredSegment
        The analysis' segments the plan was built from.
    graduation_candidates : tuple of GraduationCandidate
        Every pair clearing the graduation rule this round, with its streak.
    n_visitors : int or None
        Planned size of the round, when known.
    fit_num_trees_tau : int or None
        τ-forest size for the fit after the round (``None``: the fit configuration's).
    """

    cells: tuple[Cell, ...]
    treatments: tuple[str, ...]
    dropped_treatments: tuple[str, ...] = ()
    prose_summary: str = ""
    tree: PolicyTreeResult | None = None
    segments: tuple[DiscoveredSegment, ...] = ()
    graduation_candidates: tuple[GraduationCandidate, ...] = ()
    n_visitors: int | None = None
    fit_num_trees_tau: int | None = None

    def __post_init__(self) -> None:
        for name in ("cells", "treatments", "dropped_treatments", "segments",
                     "graduation_candidates"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        validate_cell_weights(self.cells)
        if len(self.treatments) < 1:
            msg = "NextRoundPlan: treatments is empty; list the active treatments, control first"
            raise ValueError(msg)

    @property
    def rationale(self) -> str:
        """Alias of :attr:`prose_summary`."""
        return self.prose_summary

    def cell(self, cell_id: str) -> Cell:
        """The cell called ``cell_id``."""
        for c in self.cells:
            if c.id == cell_id:
                return c
        msg = f"plan has no cell {cell_id!r}; its cells are {[c.id for c in self.cells]}"
        raise KeyError(msg)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the policy tree object itself is not kept; its routing is)."""
        return {
            "cells": [{"id": c.id, "weight": c.weight, "policy": policy_to_dict(c.policy)}
                      for c in self.cells],
            "treatments": list(self.treatments),
            "dropped_treatments": list(self.dropped_treatments),
            "prose_summary": self.prose_summary,
            "segments": [segment_to_dict(s) for s in self.segments],
            "graduation_candidates": [
                {"treatment": g.treatment, "segment": segment_to_dict(g.segment),
                 "sustained_rounds": g.sustained_rounds, "expected_loss": g.expected_loss,
                 "p_positive": g.p_positive, "p_better": g.p_better}
                for g in self.graduation_candidates
            ],
            "n_visitors": self.n_visitors,
            "fit_num_trees_tau": self.fit_num_trees_tau,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NextRoundPlan:
        """Rebuild a plan from :meth:`to_dict` output."""
        return cls(
            cells=tuple(Cell(c["id"], policy_from_dict(c["policy"]), float(c["weight"]))
                        for c in data["cells"]),
            treatments=tuple(data["treatments"]),
            dropped_treatments=tuple(data.get("dropped_treatments", ())),
            prose_summary=data.get("prose_summary", ""),
            segments=tuple(segment_from_dict(s) for s in data.get("segments", ())),
            graduation_candidates=tuple(
                GraduationCandidate(
                    treatment=g["treatment"], segment=segment_from_dict(g["segment"]),
                    sustained_rounds=int(g["sustained_rounds"]),
                    expected_loss=float(g["expected_loss"]), p_positive=float(g["p_positive"]),
                    p_better=float(g["p_better"]),
                )
                for g in data.get("graduation_candidates", ())
            ),
            n_visitors=data.get("n_visitors"),
            fit_num_trees_tau=data.get("fit_num_trees_tau"),
        )


def segment_to_dict(segment: DiscoveredSegment) -> dict[str, Any]:
    """JSON-ready form of a segment (NaN stability is written as ``None``)."""
    stability = segment.stability_score
    return {
        "id": int(segment.id), "rule": rule_to_dict(segment.rule),
        "gate_estimate": float(segment.gate_estimate),
        "gate_ci": [float(segment.gate_ci[0]), float(segment.gate_ci[1])],
        "stability_score": None if math.isnan(stability) else float(stability),
        "population_share": float(segment.population_share),
        "arm_best_probabilities": {k: float(v) for k, v in segment.arm_best_probabilities.items()},
        "n_visitors": int(segment.n_visitors),
    }


def segment_from_dict(data: Mapping[str, Any]) -> DiscoveredSegment:
    """Inverse of :func:`segment_to_dict`."""
    stability = data.get("stability_score")
    return DiscoveredSegment(
        id=int(data["id"]), rule=rule_from_dict(data["rule"]),
        gate_estimate=float(data["gate_estimate"]),
        gate_ci=(float(data["gate_ci"][0]), float(data["gate_ci"][1])),
        stability_score=float("nan") if stability is None else float(stability),
        population_share=float(data["population_share"]),
        arm_best_probabilities=dict(data["arm_best_probabilities"]),
        n_visitors=int(data.get("n_visitors", 0)),
    )


def cold_start_plan(
    treatments: Sequence[str], *, n_visitors: int | None = None, control_weight: float = 0.5
) -> NextRoundPlan:
    """The first round's plan: a Control cell and an Explore cell (50/50 by default).

    Parameters
    ----------
    treatments : sequence of str
        The treatments universe, control first (at least two).
    n_visitors : int or None, default=None
        Planned size of the round.
    control_weight : float, default=0.5
        Share of the Control cell; Explore gets the rest.
    """
    names = tuple(treatments)
    if len(names) < 2 or len(set(names)) != len(names):
        msg = f"treatments={list(names)} must list at least 2 distinct names, control first"
        raise ValueError(msg)
    if not 0.0 < control_weight < 1.0:
        msg = f"control_weight={control_weight!r} must be in (0, 1) so both cells get traffic"
        raise ValueError(msg)
    cells = (
        Cell(CONTROL_CELL, BaselinePolicy(names[0]), control_weight),
        Cell(EXPLORE_CELL, UniformPolicy(names), 1.0 - control_weight),
    )
    prose = (
        f"Cold start: no data yet, so {control_weight:.0%} of visitors go to the Control cell "
        f"({names[0]}) and {1 - control_weight:.0%} to the Explore cell, uniform over "
        f"{', '.join(names)}."
    )
    return NextRoundPlan(cells=cells, treatments=names, prose_summary=prose,
                         n_visitors=n_visitors)


# --------------------------------------------------------------------------------------------
# Engine pieces
# --------------------------------------------------------------------------------------------


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


def _optimized_policy(analysis: AnalysisResult, active: Sequence[str]) -> Any:
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


def _prose(
    *,
    round_idx: int,
    weights: tuple[float, float, float],
    optimized: Any,
    active: Sequence[str],
    dropped: Sequence[str],
    newly_dropped: Sequence[str],
    analysis: AnalysisResult,
    reinstated: Sequence[str] = (),
    candidates: Sequence[GraduationCandidate],
    evidence: float,
    p_better: float = math.nan,
) -> str:
    control, explore, opt = weights
    lines = [
        f"Plan for round {round_idx}: Control {control:.0%}, Explore {explore:.0%}, Optimized "
        f"{opt:.0%} ({optimized.describe()}); P(Optimized policy beats uniform) "
        f"{p_better:.2f}; segment evidence {evidence:.2f}.",
    ]
    decisions = "; ".join(
        f"{name} {summary.decision.value} (P(positive) {summary.p_positive:.2f}, expected loss "
        f"{summary.expected_loss:.4f})"
        for name, summary in analysis.recommendations.items()
    )
    if decisions:
        lines.append(f"Overall versus control: {decisions}.")
    lines.append(f"Active treatments: {', '.join(active)}.")
    if newly_dropped:
        lines.append(
            f"Dropped this round as clearly losing (P(harm) above threshold): "
            f"{', '.join(newly_dropped)}."
        )
    elif dropped:
        lines.append(f"Still dropped: {', '.join(dropped)}.")
    if reinstated:
        lines.append(f"Reinstated (P(harm) back under the threshold): {', '.join(reinstated)}.")
    sustained = [c for c in candidates if c.sustained_rounds >= 2]
    if sustained:
        pairs = "; ".join(f"{c.treatment} in segment {c.segment.id} ({c.segment.rule.describe()}, "
                          f"{c.sustained_rounds} rounds)" for c in sustained)
        lines.append(f"Graduation candidates for the operator to review: {pairs}.")
    elif candidates:
        lines.append(f"{len(candidates)} (treatment, segment) pair(s) cleared the graduation "
                     "rule for the first time; one more round decides.")
    return " ".join(lines)


def recommend(
    analysis: AnalysisResult,
    *,
    treatments: Sequence[str],
    history: Sequence[Experiment] = (),
    schedule: Schedule | None = None,
    seed: int = 0,
    graduation_rule: GraduationRule | None = None,
    min_explore_weight: float = 0.05,
    min_control_weight: float = 0.05,
    min_segment_share: float = 0.10,
    max_segment_depth: int = 3,
    base_num_trees_tau: int | None = None,
) -> NextRoundPlan:
    """Build the next round's plan from this round's analysis.

    Parameters
    ----------
    analysis : AnalysisResult
        The analysis of the cumulative data (with its policy tree when segments were found).
    history : sequence of Experiment, default=()
        Earlier rounds, oldest first (their plans carry earlier drops and graduation streaks).
    treatments : sequence of str
        The treatments universe, control first.
    schedule : Schedule or None, default=None
        Used to record the next round's planned size.
    min_control_weight, min_explore_weight : float, default=0.05
        Floors of the Control and Explore cells.
    max_segment_depth, min_segment_share : int, float
        Recorded for symmetry with the analysis; the tree comes from ``analysis``.
    graduation_rule : GraduationRule or None, default=None
        ``None`` means :class:`ExpectedLossRule` at its defaults.
    seed : int, default=0
        Unused by the deterministic engine; kept so callers can pass the experiment's seed.
    base_num_trees_tau : int or None, default=None
        Base τ-forest size for :func:`next_fit_num_trees_tau` (``None``: the posterior's).

    Returns
    -------
    NextRoundPlan
    """
    del max_segment_depth, min_segment_share, seed  # the tree arrives fitted in `analysis`
    universe = list(treatments)
    previous = history[-1].next_recommendation if history else None
    earlier_dropped = set(previous.dropped_treatments) if previous is not None else set()
    losing = [t for t in clearly_losing_treatments(analysis) if t in universe[1:]]
    dropped_set = set(losing)  # reversible: only what this round's evidence still shows
    active = [t for t in universe if t not in dropped_set]
    if len(active) < 2:  # keep the least harmful non-control treatment alive
        candidates = [t for t in universe[1:] if t in analysis.recommendations] or universe[1:]
        keep = min(candidates, key=lambda t: analysis.recommendations[t].p_harmful
                   if t in analysis.recommendations else 1.0)
        dropped_set.discard(keep)
        active = [t for t in universe if t not in dropped_set]
    dropped = tuple(t for t in universe if t in dropped_set)
    newly_dropped = [t for t in dropped if t not in earlier_dropped]
    reinstated = [t for t in universe if t in earlier_dropped and t not in dropped_set]

    evidence = segment_evidence(analysis.segments)
    optimized = _optimized_policy(analysis, active)
    p_better = optimized_value_probability(analysis, optimized, active)
    weights = cell_weights(p_better, min_control_weight=min_control_weight,
                           min_explore_weight=min_explore_weight)
    cells = (
        Cell(CONTROL_CELL, BaselinePolicy(universe[0]), weights[0]),
        Cell(EXPLORE_CELL, UniformPolicy(tuple(active)), weights[1]),
        Cell(OPTIMIZED_CELL, optimized, weights[2]),
    )
    candidates = find_graduation_candidates(
        analysis,
        previous=previous.graduation_candidates if previous is not None else (),
        rule=graduation_rule,
    )
    round_idx = len(history) + 1
    n_next = schedule.next_round_size(round_idx) if schedule is not None else None
    posterior = analysis.posterior
    cumulative_n = int(getattr(getattr(posterior, "observed", None), "n_visitors", 0) or 1)
    prose = _prose(round_idx=round_idx, weights=weights, optimized=optimized, active=active,
                   dropped=dropped, newly_dropped=newly_dropped, reinstated=reinstated,
                   analysis=analysis,
                   candidates=candidates, evidence=evidence, p_better=p_better)
    return NextRoundPlan(
        cells=cells,
        treatments=tuple(active),
        dropped_treatments=dropped,
        prose_summary=prose,
        tree=analysis.policy_tree,
        segments=tuple(analysis.segments),
        graduation_candidates=candidates,
        n_visitors=n_next,
        fit_num_trees_tau=next_fit_num_trees_tau(posterior, analysis.policy_tree,
                                                 cumulative_n + (n_next or 0),
                                                 base=base_num_trees_tau),
    )

