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

This module is the engine's entry point, :func:`recommend`; its parts live by job in
``_graduation`` (candidates and the rule), ``_plan`` (the plan and its JSON form),
``_heuristics`` (drops, weights, the Optimized policy, the τ-forest size) and ``_plan_prose``
(the rationale), and are re-exported here under the names they always had.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pytyche.contracts import AnalysisResult
from pytyche.experiment._graduation import (
    ExpectedLossRule,
    GraduationCandidate,
    GraduationRule,
    find_graduation_candidates,
)
from pytyche.experiment._heuristics import (
    DEFAULT_NUM_TREES_TAU,
    cell_weights,
    clearly_losing_treatments,
    next_fit_num_trees_tau,
    optimized_policy,
    optimized_value_probability,
    segment_evidence,
)
from pytyche.experiment._plan import NextRoundPlan, cold_start_plan
from pytyche.experiment._plan_prose import plan_prose
from pytyche.experiment.cells import CONTROL_CELL, EXPLORE_CELL, OPTIMIZED_CELL, Cell
from pytyche.experiment.policies import BaselinePolicy, UniformPolicy

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
    optimized = optimized_policy(analysis, active)
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
    prose = plan_prose(round_idx=round_idx, weights=weights, optimized=optimized, active=active,
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

