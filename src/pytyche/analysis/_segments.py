"""Segment summaries, and effects on segments an operator declares with the rule algebra."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pytyche.analysis._compare import compare_in_mask, segment_level_draws, segment_mask
from pytyche.analysis._intervals import check_level, credible_interval
from pytyche.analysis._posterior import PosteriorView, view_of
from pytyche.analysis._thompson import DEFAULT_EPSILON, prob_best, thompson_allocation
from pytyche.contracts import (
    ComparisonResult,
    DecisionThresholds,
    DiscoveredSegment,
    SegmentRule,
)

__all__ = ["SegmentEffects", "segment_effects", "with_design_gate"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SegmentEffects:
    """What the posterior says about one operator-declared segment.

    Attributes
    ----------
    name : str
        The key the segment was declared under (its rule's description when declared in a
        sequence).
    segment : DiscoveredSegment
        Membership rule, best-treatment effect with interval, P(best) per arm, size.
        ``stability_score`` is NaN: a declared segment is not a bootstrap product.
    comparisons : tuple of ComparisonResult
        Each treatment versus control within the segment, with its decision.
    allocation : dict of str to float
        Thompson traffic shares in the segment (ε-floored, summing to 1).
    """

    name: str
    segment: DiscoveredSegment
    comparisons: tuple[ComparisonResult, ...]
    allocation: Mapping[str, float]


def segment_effects(
    posterior: Any,
    rules: Mapping[str, SegmentRule] | Sequence[SegmentRule],
    level: float = 0.80,
    thresholds: DecisionThresholds | None = None,
    *,
    first_id: int = 0,
    inference: Any = None,
) -> tuple[SegmentEffects, ...]:
    """Effects, P(best), allocations and decisions on segments the operator defines.

    Parameters
    ----------
    posterior : posterior
        Anything with the posterior array interface.
    rules : mapping of str to SegmentRule, or sequence of SegmentRule
        The segments, e.g. ``{"mobile returning": EqRule(feature="device", value="mobile")
        & EqRule(feature="returning", value=1)}``. Conjunctions (``AllOf``, ``&``) and
        disjunctions (``AnyOf``, ``|``) are evaluated on ``posterior.observed.visitors()``.
        Segments may overlap.
    level : float, default=0.80
        Credible level of every interval.
    thresholds : DecisionThresholds, optional
        Decision gates (spec defaults when omitted).
    first_id : int, default=0
        Id of the first segment; the others follow in declaration order.
    inference : DesignInference, optional
        Design-based inference (see :func:`pytyche.analyze`): effects, intervals and
        decisions then use the AIPW scores of the segment's visitors, with the family-wise
        error controlled over every declared segment. A declared segment was not chosen by
        looking at the outcomes, so all its visitors are used.

    Returns
    -------
    tuple of SegmentEffects
        In declaration order.

    Raises
    ------
    ValueError
        No rules were given, or a rule matches no visitor (its description is in the message).
    SchemaViolation
        A rule names a feature the data does not have.
    """
    view = view_of(posterior)
    named = _named_rules(rules)
    masks = []
    for name, rule in named:
        mask = segment_mask(view, rule)
        if not mask.any():
            msg = f"declared segment {name!r} ({rule.describe()}) matches no visitor; widen it"
            raise ValueError(msg)
        masks.append(mask)
    design = [None] * len(named) if inference is None else inference.effects(masks)
    claims = 1 if inference is None else 2 * (view.n_arms - 1) * len(named)
    out = []
    for offset, ((name, rule), mask) in enumerate(zip(named, masks, strict=True)):
        seg_id = first_id + offset
        draws = segment_level_draws(view, mask)
        comparisons = compare_in_mask(
            view,
            mask,
            level=level,
            thresholds=thresholds,
            segment_id=seg_id,
            seg_draws=draws,
            design_effects=design[offset],
            n_claims=claims,
        )
        segment = summarise_segment(
            view, mask, seg_id=seg_id, rule=rule, level=level, seg_draws=draws
        )
        if inference is not None:
            segment = with_design_gate(segment, comparisons, view.treatments[0])
        out.append(
            SegmentEffects(
                name=name,
                segment=segment,
                comparisons=comparisons,
                allocation=thompson_allocation(draws, view.treatments, DEFAULT_EPSILON),
            )
        )
    return tuple(out)


def with_design_gate(
    segment: DiscoveredSegment, comparisons: Sequence[ComparisonResult], control: str
) -> DiscoveredSegment:
    """``segment`` with its gate effect and interval taken from its design-based comparison.

    P(best) per arm is taken from the comparisons (the full posterior within the segment). The
    gate arm is the most probable best treatment, or, where control is the most probable
    best, the treatment with the largest posterior-mean effect.
    """
    mine = [c for c in comparisons if c.segment_id == segment.id]
    # P(best) from the posterior the comparisons read (the full fit), so the segment table and
    # the leaderboard agree; control takes the rest.
    p_best = {c.treatment: c.p_best for c in mine}
    p_best = {control: max(0.0, 1.0 - sum(p_best.values())), **p_best}
    best = max(p_best, key=p_best.__getitem__)
    if best == control:
        best = max(mine, key=lambda c: c.model_effect).treatment
    chosen = next(c for c in mine if c.treatment == best)
    return dataclasses.replace(segment, gate_estimate=chosen.effect, gate_ci=chosen.effect_ci,
                               arm_best_probabilities=p_best)


def summarise_segment(
    view: PosteriorView,
    mask: np.ndarray,
    *,
    seg_id: int,
    rule: SegmentRule,
    level: float = 0.80,
    stability: float = math.nan,
    seg_draws: np.ndarray | None = None,
) -> DiscoveredSegment:
    """Build the :class:`DiscoveredSegment` of the visitors in ``mask``.

    The gate estimate is the effect versus control of the segment's best treatment: the
    non-control arm with the highest posterior mean level in the segment.
    """
    lvl = check_level(level)
    draws = segment_level_draws(view, mask) if seg_draws is None else seg_draws
    best = 1 + int(np.argmax(draws[:, 1:].mean(axis=0)))
    effect = draws[:, best] - draws[:, 0]
    low, high = credible_interval(effect, lvl, calibration=view.calibration)
    p_best = prob_best(draws)
    return DiscoveredSegment(
        id=seg_id,
        rule=rule,
        gate_estimate=float(effect.mean()),
        gate_ci=(low, high),
        stability_score=float(stability),
        population_share=float(mask.mean()),
        arm_best_probabilities={
            name: float(p) for name, p in zip(view.treatments, p_best, strict=True)
        },
        n_visitors=int(mask.sum()),
    )


def _named_rules(
    rules: Mapping[str, SegmentRule] | Sequence[SegmentRule],
) -> list[tuple[str, SegmentRule]]:
    if isinstance(rules, Mapping):
        named = [(str(k), v) for k, v in rules.items()]
    else:
        named = [(r.describe(), r) for r in rules]
    if not named:
        msg = "rules is empty; declare at least one segment, e.g. {'mobile': EqRule(...)}"
        raise ValueError(msg)
    for name, rule in named:
        if not hasattr(rule, "mask"):
            msg = f"segment {name!r} is {rule!r}, not a SegmentRule; build it from EqRule etc."
            raise TypeError(msg)
    return named
