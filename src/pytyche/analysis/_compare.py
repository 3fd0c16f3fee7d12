"""Treatment-versus-control comparisons and the SHIP / CONTINUE / STOP gates."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pytyche.analysis._inference import DesignInference, EffectInference
from pytyche.analysis._intervals import check_level, credible_interval
from pytyche.analysis._posterior import PosteriorView, view_of
from pytyche.analysis._thompson import prob_best
from pytyche.contracts import (
    ComparisonResult,
    Decision,
    DecisionThresholds,
    DecompositionSamples,
    RecommendationSummary,
)
from pytyche.errors import AlignmentViolation

__all__ = ["compare_variants", "decompose_effects", "recommendation_summary"]


def recommendation_summary(
    effect_draws: Any,
    control_mean_draws: Any,
    thresholds: DecisionThresholds | None = None,
    *,
    treatment: str,
    control: str,
    segment_id: int | None = None,
    n_claims: int = 1,
    basis: str = "model",
) -> RecommendationSummary:
    """Apply the SHIP / STOP gates to draws of one treatment effect.

    Parameters
    ----------
    effect_draws : array_like
        Draws of the average effect (treatment minus control), shape (S,): posterior draws, or
        the draws of a design-based confidence distribution.
    control_mean_draws : array_like
        Draws of the control arm's average level over the same visitors, shape (S,).
    thresholds : DecisionThresholds, optional
        Gate thresholds (spec defaults when omitted).
    treatment, control : str
        Names carried into the summary.
    segment_id : int, optional
        Segment the decision applies to (None: all visitors).
    n_claims : int, default=1
        Directional claims in the family whose error is controlled (Bonferroni). The
        design-based analysis passes 2(K − 1): every treatment, better or worse.
    basis : {"model", "design"}, default="model"
        What the draws are, carried into the summary.

    Returns
    -------
    RecommendationSummary

    Notes
    -----
    With effect draws ``d``, control means ``c`` and ``m = n_claims``:

    - ``p_positive = 1 − m · P(d <= 0)`` and ``p_harmful = 1 − m · P(d >= 0)`` (floored at 0):
      with confidence-distribution draws, ``1 − P(d > 0)`` is a one-sided p-value, so these
      are Bonferroni-simultaneous confidence levels and ``p_positive > 0.95`` holds the
      family-wise false-SHIP rate at 5%; at ``m = 1`` they are plain ``P(d > 0)``, ``P(d < 0)``;
    - ``p_better = P(d > r · |c|)`` with ``r = thresholds.min_practical_effect``, per draw;
    - ``expected_loss = E[max(0, -d)] / |E[c]|``, the expected shortfall of shipping relative
      to the control mean (infinite when that mean is 0 and some draw loses).

    SHIP when expected loss < ``loss_tolerance`` and ``p_positive`` > its threshold and
    ``p_better`` > its threshold; otherwise STOP when ``p_harmful`` > ``p_harm`` or
    ``m · p_better`` < ``p_futility``; otherwise CONTINUE. Futility is a directional claim
    too ("the effect is below the practical threshold", with confidence ``1 − p_better``), so
    it is adjusted like the others: unadjusted, each arm would be stopped for futility at
    5% one-sided per look although its effect clears the threshold (measured: 1 of 10
    sequential experiments STOPped the truth-best arm of ``sparse_benefit``, true lift
    4.5%). The two branches cannot both fire because the SHIP thresholds exceed the STOP
    ones.
    """
    th = DecisionThresholds() if thresholds is None else thresholds
    d = np.asarray(effect_draws, dtype=np.float64).ravel()
    c = np.asarray(control_mean_draws, dtype=np.float64).ravel()
    if d.size == 0 or d.shape != c.shape:
        msg = (
            f"effect_draws has shape {np.shape(effect_draws)} and control_mean_draws "
            f"{np.shape(control_mean_draws)}; pass one value per posterior draw for both"
        )
        raise AlignmentViolation(msg)
    if not (np.isfinite(d).all() and np.isfinite(c).all()):
        msg = "effect or control-mean draws contain NaN or inf; check the posterior"
        raise ValueError(msg)
    claims = _check_claims(n_claims)
    p_positive = simultaneous(float(np.mean(d > 0)), claims)
    p_harmful = simultaneous(float(np.mean(d < 0)), claims)
    p_better = float(np.mean(d > th.min_practical_effect * np.abs(c)))
    raw_loss = float(np.mean(np.maximum(-d, 0.0)))
    scale = abs(float(c.mean()))
    if scale > 0:
        expected_loss = raw_loss / scale
    else:
        expected_loss = 0.0 if raw_loss == 0 else float("inf")

    if th.ships(expected_loss, p_positive, p_better):
        decision = Decision.SHIP
        rationale = (
            f"SHIP gate: expected loss {expected_loss:.4g} < {th.loss_tolerance:g}, "
            f"P(positive) {p_positive:.3f} > {th.p_positive:g} and P(better by "
            f"{th.min_practical_effect:.0%}) {p_better:.3f} > {th.p_better:g}"
        )
    elif p_harmful > th.p_harm:
        decision = Decision.STOP
        rationale = f"STOP (harm) gate: P(harm) {p_harmful:.3f} > {th.p_harm:g}"
    elif claims * p_better < th.p_futility:
        decision = Decision.STOP
        per_claim = f"{th.p_futility:g}" if claims == 1 else f"{th.p_futility:g}/{claims}"
        rationale = (
            f"STOP (futility) gate: P(better by {th.min_practical_effect:.0%}) "
            f"{p_better:.3f} < {per_claim}"
        )
    else:
        decision = Decision.CONTINUE
        rationale = (
            f"CONTINUE: no gate fired (expected loss {expected_loss:.4g}, P(positive) "
            f"{p_positive:.3f}, P(better) {p_better:.3f}, P(harm) {p_harmful:.3f})"
        )
    return RecommendationSummary(
        treatment=treatment,
        control=control,
        decision=decision,
        expected_loss=expected_loss,
        p_positive=p_positive,
        p_better=p_better,
        p_harmful=p_harmful,
        thresholds=th,
        rationale=rationale + _claims_note(claims, basis),
        segment_id=segment_id,
        basis=basis,
        n_claims=claims,
    )


def simultaneous(probability: float, n_claims: int) -> float:
    """Bonferroni-adjusted confidence ``1 − m (1 − p)``, floored at 0 (``p`` itself at m = 1)."""
    if n_claims == 1:
        return probability
    return max(0.0, 1.0 - n_claims * (1.0 - probability))


def _check_claims(n_claims: int) -> int:
    if isinstance(n_claims, bool) or not isinstance(n_claims, int | np.integer) or n_claims < 1:
        msg = f"n_claims={n_claims!r} must be a positive integer (1: no multiplicity adjustment)"
        raise ValueError(msg)
    return int(n_claims)


def _claims_note(n_claims: int, basis: str) -> str:
    source = "design-based" if basis == "design" else "posterior"
    if n_claims == 1:
        return f" [{source}]"
    return f" [{source}; probabilities simultaneous over {n_claims} directional claims]"


def compare_variants(
    posterior: Any,
    segment: Any = None,
    level: float = 0.80,
    thresholds: DecisionThresholds | None = None,
    *,
    segment_id: int | None = None,
    design: Any = None,
) -> tuple[ComparisonResult, ...]:
    """Compare every treatment with control, over all visitors or within a segment.

    Parameters
    ----------
    posterior : posterior
        Anything with the posterior array interface (``observed``, ``treatments``,
        ``level_samples()``, ...).
    segment : SegmentRule or array_like of bool, optional
        Visitors to average over: a rule evaluated on ``posterior.observed.visitors()`` or a
        boolean mask aligned with it. None means every visitor.
    level : float, default=0.80
        Credible level of the effect intervals.
    thresholds : DecisionThresholds, optional
        Gate thresholds (spec defaults when omitted).
    segment_id : int, optional
        Id written into the results.
    design : DesignScores, optional
        AIPW scores of the posterior's visitors (:func:`pytyche.analysis.crossfit_scores`,
        or ``AnalysisResult.design``). Given, the effects, intervals and decisions are
        design-based, family-wise over the 2(K − 1) directional claims, as in
        :func:`pytyche.analyze`; omitted, they read the posterior (model-based).

    Returns
    -------
    tuple of ComparisonResult
        One per non-control treatment, in treatment order.

    Raises
    ------
    ValueError
        The segment holds no visitors, or ``level`` is outside (0, 1).
    """
    view = view_of(posterior)
    mask = segment_mask(view, segment)
    if design is None:
        return compare_in_mask(view, mask, level=level, thresholds=thresholds,
                               segment_id=segment_id)
    if design.n_visitors != view.n_visitors or design.n_arms != view.n_arms:
        msg = (f"design scores cover {design.n_visitors} visitors and {design.n_arms} arms; "
               f"the posterior has {view.n_visitors} and {view.n_arms}")
        raise AlignmentViolation(msg)
    (effects,) = DesignInference(design).effects([mask])
    return compare_in_mask(view, mask, level=level, thresholds=thresholds,
                           segment_id=segment_id, design_effects=effects,
                           n_claims=2 * (view.n_arms - 1))


def decompose_effects(posterior: Any, segment: Any = None) -> DecompositionSamples:
    """Split each treatment's revenue effect into its conversion and basket-size parts.

    Parameters
    ----------
    posterior : posterior
        A hurdle posterior (``has_decomposition()`` true).
    segment : SegmentRule or array_like of bool, optional
        Visitors to average over (default: all).

    Returns
    -------
    DecompositionSamples
        Arrays of shape (S, K - 1).

    Notes
    -----
    Per visitor and draw, with conversion probability ``p`` and expected basket ``s``:
    ``p_k s_k - p_0 s_0 = (p_k - p_0) s_0 + p_k (s_k - s_0)``. The first term is the conversion
    part, the second the basket part; averaging over the segment keeps the identity, so
    ``conversion + basket == revenue`` draw by draw.
    """
    view = view_of(posterior)
    return decompose_in_mask(view, segment_mask(view, segment))


# ---- shared machinery (also used by the policy tree and declared segments) ----------------


def segment_mask(view: PosteriorView, segment: Any) -> np.ndarray:
    """Boolean membership of each visitor in ``segment`` (a rule, a mask or None)."""
    n = view.n_visitors
    if segment is None:
        return np.ones(n, dtype=bool)
    if hasattr(segment, "mask"):
        mask = np.asarray(segment.mask(view.observed.visitors()), dtype=bool)
    else:
        mask = np.asarray(segment)
        if mask.dtype != bool:
            msg = f"segment mask has dtype {mask.dtype}; pass a boolean array or a SegmentRule"
            raise ValueError(msg)
    if mask.shape != (n,):
        msg = f"segment mask has shape {mask.shape}; expected ({n},), one entry per visitor"
        raise AlignmentViolation(msg)
    return mask


def segment_level_draws(view: PosteriorView, mask: np.ndarray) -> np.ndarray:
    """Segment-average level per draw and arm, float64, shape (S, K)."""
    if not mask.any():
        msg = "the segment holds no visitors; widen its rule"
        raise ValueError(msg)
    if mask.all():
        return view.level.mean(axis=0, dtype=np.float64)
    return view.level[mask].mean(axis=0, dtype=np.float64)


def compare_in_mask(
    view: PosteriorView,
    mask: np.ndarray,
    *,
    level: float = 0.80,
    thresholds: DecisionThresholds | None = None,
    segment_id: int | None = None,
    seg_draws: np.ndarray | None = None,
    design_effects: Sequence[EffectInference] | None = None,
    n_claims: int = 1,
) -> tuple[ComparisonResult, ...]:
    """:func:`compare_variants` on a visitor mask (``seg_draws`` reuses averaged draws).

    With ``design_effects`` (one per non-control arm) the effect, its interval and the
    decision are design-based; the posterior mean and credible interval ride along as
    ``model_effect`` / ``model_ci``. P(best) and the decomposition always read the posterior.
    """
    lvl = check_level(level)
    th = DecisionThresholds() if thresholds is None else thresholds
    draws = segment_level_draws(view, mask) if seg_draws is None else seg_draws
    control_draws = draws[:, 0]
    p_best = prob_best(draws)
    decomposition = decompose_in_mask(view, mask) if view.has_decomposition else None
    control = view.treatments[0]
    if design_effects is not None and len(design_effects) != view.n_arms - 1:
        msg = (f"design_effects has {len(design_effects)} entries; pass one per non-control "
               f"treatment ({view.n_arms - 1})")
        raise AlignmentViolation(msg)
    out = []
    for k, name in enumerate(view.treatments[1:], start=1):
        effect = draws[:, k] - control_draws
        model_ci = credible_interval(effect, lvl, calibration=view.calibration)
        model_effect = float(effect.mean())
        fields: dict[str, Any]
        if design_effects is None:
            control_mean = float(control_draws.mean())
            fields = {"effect": model_effect, "effect_ci": model_ci,
                      "recommendation": recommendation_summary(
                          effect, control_draws, th, treatment=name, control=control,
                          segment_id=segment_id, n_claims=n_claims)}
        else:
            de = design_effects[k - 1]
            control_mean = de.control_mean
            fields = {"effect": de.estimate, "effect_ci": de.interval(lvl), "basis": "design",
                      "method": de.method, "se": de.se, "model_effect": model_effect,
                      "model_ci": model_ci,
                      "recommendation": recommendation_summary(
                          de.draws, np.full(de.draws.shape, de.control_mean), th,
                          treatment=name, control=control, segment_id=segment_id,
                          n_claims=n_claims, basis="design")}
        estimate = fields["effect"]
        out.append(
            ComparisonResult(
                treatment=name,
                control=control,
                relative_effect=estimate / control_mean if control_mean != 0 else float("nan"),
                level=lvl,
                p_best=float(p_best[k]),
                segment_id=segment_id,
                decomposition=None if decomposition is None else _one_arm(decomposition, k - 1),
                **fields,
            )
        )
    return tuple(out)


def decompose_in_mask(view: PosteriorView, mask: np.ndarray) -> DecompositionSamples:
    """:func:`decompose_effects` on a visitor mask."""
    if not view.has_decomposition:
        msg = (
            f"a {view.metric_family.value} posterior has no conversion/basket decomposition; "
            "only hurdle (revenue) posteriors do"
        )
        raise ValueError(msg)
    if not mask.any():
        msg = "the segment holds no visitors; widen its rule"
        raise ValueError(msg)
    p = view.p if mask.all() else view.p[mask]  # (m, S, K)
    p = p.astype(np.float32, copy=False)  # engines may store it at half precision
    s = view.sev if mask.all() else view.sev[mask]
    p0, s0 = p[..., :1], s[..., :1]
    pk, sk = p[..., 1:], s[..., 1:]
    conversion = ((pk - p0) * s0).mean(axis=0, dtype=np.float64)
    basket = (pk * (sk - s0)).mean(axis=0, dtype=np.float64)
    return DecompositionSamples(
        treatments=view.treatments[1:],
        revenue=conversion + basket,
        conversion=conversion,
        basket=basket,
        conversion_rate_effect=(pk - p0).mean(axis=0, dtype=np.float64),
        basket_size_effect=(sk - s0).mean(axis=0, dtype=np.float64),
    )


def _one_arm(dec: DecompositionSamples, j: int) -> DecompositionSamples:
    return DecompositionSamples(
        treatments=(dec.treatments[j],),
        revenue=dec.revenue[:, j : j + 1],
        conversion=dec.conversion[:, j : j + 1],
        basket=dec.basket[:, j : j + 1],
        conversion_rate_effect=dec.conversion_rate_effect[:, j : j + 1],
        basket_size_effect=dec.basket_size_effect[:, j : j + 1],
    )
