"""``analyze``: from a posterior (or observed data) to everything a user acts on."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from pytyche.analysis._compare import compare_in_mask
from pytyche.analysis._design import (
    DEFAULT_FOLDS,
    DesignScores,
    arm_mean_scores,
    crossfit_scores,
)
from pytyche.analysis._inference import DesignInference
from pytyche.analysis._intervals import check_level, credible_interval
from pytyche.analysis._policy_tree import fit_policy_tree
from pytyche.analysis._posterior import PosteriorView, view_of
from pytyche.analysis._segments import segment_effects, with_design_gate
from pytyche.bcf.results import corrects_coverage
from pytyche.contracts import (
    AnalysisResult,
    ClaimLevel,
    DecisionThresholds,
    MetricFamily,
    ObservedExperimentData,
    SegmentRule,
)
from pytyche.data import feature_matrix
from pytyche.errors import AlignmentViolation

__all__ = ["MIN_CONVERTERS_PER_ARM", "MIN_VISITORS_PER_ARM", "analyze", "has_credible_segments"]

#: Below this many visitors in some arm the claim level is INSUFFICIENT_DATA.
MIN_VISITORS_PER_ARM = 30
#: Below this many converters in some arm of a hurdle experiment, likewise.
MIN_CONVERTERS_PER_ARM = 5


def analyze(
    posterior: Any,
    *,
    level: float = 0.80,
    thresholds: DecisionThresholds | None = None,
    max_depth: int = 3,
    min_segment_share: float = 0.10,
    n_bootstrap: int = 50,
    bootstrap_seed: int | None = 0,
    segments: Mapping[str, SegmentRule] | Sequence[SegmentRule] | None = None,
    seed: int = 0,
    fit_options: Mapping[str, Any] | None = None,
    decisions: str = "design",
    design: DesignScores | None = None,
    crossfit_folds: int = DEFAULT_FOLDS,
    interval: str = "normal",
    progress: bool = False,
) -> AnalysisResult:
    """Turn a posterior into per-visitor effects, segments, comparisons and decisions.

    Parameters
    ----------
    posterior : posterior or ObservedExperimentData
        A fitted posterior (anything with the posterior array interface). Observed data is
        first fitted with ``pytyche.bcf.fit(observed, seed=seed, **fit_options)``.
    level : float, default=0.80
        Level of every interval.
    thresholds : DecisionThresholds, optional
        SHIP / STOP gates (spec defaults when omitted).
    max_depth, min_segment_share, n_bootstrap, bootstrap_seed
        Policy tree settings, see :func:`fit_policy_tree`.
    segments : mapping of str to SegmentRule, or sequence of SegmentRule, optional
        Operator-declared segments analysed next to the policy tree's leaves. They are
        appended to ``segments`` and ``comparisons`` with ids following the largest leaf id,
        in declaration order.
    seed : int, default=0
        Seed of the fit when ``posterior`` is observed data, and of the cross-fit split and
        the bootstrap of design-based intervals.
    fit_options : mapping, optional
        Extra keyword arguments of ``pytyche.bcf.fit`` when ``posterior`` is observed data.
    decisions : {"design", "model"}, default="design"
        ``"design"``: effects, intervals and SHIP / STOP read design-based AIPW estimates
        (known assignment probabilities, cross-fitted BCF outcome model), whose error rates
        hold whatever the model gets wrong; segments are discovered on one half of the
        visitors and measured on the other. ``"model"``: they read the BCF posterior
        (model-based; can be overconfident at small n and on heavy-tailed revenue).
    design : DesignScores, optional
        Precomputed scores (a sequential experiment passes its round-by-round scores, which
        switch the intervals to anytime-valid confidence sequences). Default: cross-fit the
        posterior's model (:func:`pytyche.analysis.crossfit_scores`); a posterior that cannot
        be refitted (no ``config`` / ``predict_levels``) is scored with arm means instead.
    crossfit_folds : int, default=2
        Folds of the default cross-fit.
    interval : {"normal", "bootstrap-t"}, default="normal"
        Design-based interval of one analysis (sequential scores always use the confidence
        sequence). The normal interval is the measured default; see
        :func:`pytyche.analysis._inference.normal_effects`.
    progress : bool, default=False
        Progress bars of the cross-fit's refits.

    Returns
    -------
    AnalysisResult
        ``cate_per_visitor`` has one row per visitor (``observed.visitors()`` order) with the
        observed ``treatment`` and, per non-control treatment ``t``, ``cate_<t>`` (posterior
        mean), ``cate_<t>_low`` and ``cate_<t>_high`` (interval bounds). ``comparisons``
        lists every treatment versus control overall, then per segment;
        ``recommendations`` holds the overall decision per treatment.

    Notes
    -----
    Design-based decisions control the family-wise error: overall, over the 2(K − 1)
    directional claims (each treatment better or worse than control); per segment, over
    2(K − 1) claims per segment. The claim level is INSUFFICIENT_DATA when an arm has fewer
    than 30 visitors, or, for a hurdle metric, fewer than 5 converters; otherwise CALIBRATED
    when the posterior carries a coverage correction and UNCALIBRATED when it does not.
    """
    if isinstance(posterior, ObservedExperimentData):
        posterior = _fit(posterior, seed=seed, options=fit_options)
    lvl = check_level(level)
    if decisions not in ("design", "model"):
        msg = f"decisions={decisions!r} must be 'design' (the default) or 'model'"
        raise ValueError(msg)
    view = view_of(posterior)
    tree_options = {"max_depth": max_depth, "min_segment_share": min_segment_share,
                    "n_bootstrap": n_bootstrap, "bootstrap_seed": bootstrap_seed, "level": lvl}
    if decisions == "model":
        return _assemble(posterior, view, fit_policy_tree(view, **tree_options), lvl,
                         thresholds, segments)
    scores = design if design is not None else default_design(
        posterior, crossfit_folds, seed, progress=progress)
    if scores.n_visitors != view.n_visitors or scores.n_arms != view.n_arms:
        msg = (f"design scores cover {scores.n_visitors} visitors and {scores.n_arms} arms; "
               f"the posterior has {view.n_visitors} and {view.n_arms}")
        raise AlignmentViolation(msg)
    inference = DesignInference(scores, seed=seed, method=interval)
    if scores.fold_models:
        # Honest segments: the tree is grown on the model that never saw fold 0, and its
        # leaves are measured on fold 0's scores (which that same model produced).
        tree = fit_policy_tree(scores.fold_models[0], **tree_options)
        measured = scores.fold == 0
    else:
        tree = fit_policy_tree(view, **tree_options)
        measured = np.ones(view.n_visitors, dtype=bool)
    return _assemble(posterior, view, tree, lvl, thresholds, segments,
                     inference=inference, measured=measured)


def _assemble(
    posterior: Any,
    view: PosteriorView,
    tree: Any,
    lvl: float,
    thresholds: DecisionThresholds | None,
    declared: Mapping[str, SegmentRule] | Sequence[SegmentRule] | None,
    *,
    inference: DesignInference | None = None,
    measured: np.ndarray | None = None,
) -> AnalysisResult:
    """Comparisons overall and per segment, design-based when ``inference`` is given."""
    everyone = np.ones(view.n_visitors, dtype=bool)
    leaves = tree.tree.apply(feature_matrix(view.observed))
    leaf_masks = [leaves == seg.id for seg in tree.segments]
    k_minus_1 = view.n_arms - 1
    overall_claims = 2 * k_minus_1
    segment_claims = 2 * k_minus_1 * max(1, len(tree.segments))
    found = list(tree.segments)
    if inference is None:
        overall = compare_in_mask(view, everyone, level=lvl, thresholds=thresholds)
        per_leaf = [c for seg, mask in zip(tree.segments, leaf_masks, strict=True)
                    for c in compare_in_mask(view, mask, level=lvl, thresholds=thresholds,
                                             segment_id=seg.id)]
    else:
        honest = [mask & measured for mask in leaf_masks]
        effects = inference.effects([everyone, *honest])
        overall = compare_in_mask(view, everyone, level=lvl, thresholds=thresholds,
                                  design_effects=effects[0], n_claims=overall_claims)
        per_leaf = []
        for i, seg in enumerate(tree.segments):
            per_leaf.extend(compare_in_mask(
                view, leaf_masks[i], level=lvl, thresholds=thresholds, segment_id=seg.id,
                design_effects=effects[i + 1], n_claims=segment_claims))
        found = [with_design_gate(seg, per_leaf, view.treatments[0]) for seg in tree.segments]
        tree = dataclasses.replace(tree, segments=tuple(found))
    if declared is not None:
        first_id = max(s.id for s in tree.segments) + 1
        made = segment_effects(view, declared, level=lvl, thresholds=thresholds,
                               first_id=first_id, inference=inference)
        found.extend(d.segment for d in made)
        per_leaf.extend(c for d in made for c in d.comparisons)
    calibrated = corrects_coverage(view.calibration)
    return AnalysisResult(
        posterior=posterior,
        cate_per_visitor=cate_frame(view, lvl),
        segments=tuple(found),
        comparisons=(*overall, *per_leaf),
        recommendations={c.treatment: c.recommendation for c in overall},
        claim_level=claim_level(view.observed, calibrated=calibrated),
        calibrated=calibrated,
        level=lvl,
        policy_tree=tree,
        decision_basis="model" if inference is None else "design",
        design=None if inference is None else inference.scores,
    )


def default_design(posterior: Any, n_folds: int, seed: int, *,
                   progress: bool = False) -> DesignScores:
    """Cross-fitted BCF scores, or arm-mean scores for a posterior that cannot be refitted."""
    if hasattr(posterior, "config") and hasattr(posterior, "predict_levels"):
        return crossfit_scores(posterior, n_folds=n_folds, seed=seed, progress=progress)
    return arm_mean_scores(view_of(posterior).observed, n_folds=n_folds, seed=seed)


def _fit(observed: ObservedExperimentData, *, seed: int, options: Mapping[str, Any] | None) -> Any:
    """Fit observed data with ``pytyche.bcf.fit`` (imported here, so JAX loads only now)."""
    from pytyche.bcf import fit

    return fit(observed, seed=seed, **dict(options or {}))


def cate_frame(view: PosteriorView, level: float) -> pd.DataFrame:
    """Per-visitor posterior-mean CATE and interval per treatment, in visitor order.

    The intervals are raw posterior intervals even for a calibrated posterior: a calibration
    is measured on segment means (its estimand), which says nothing about the coverage of one
    visitor's effect.
    """
    columns: dict[str, Any] = {"treatment": view.observed.visitors()["treatment"].to_numpy()}
    for k, name in enumerate(view.treatments[1:], start=1):
        cate = view.level[:, :, k] - view.level[:, :, 0]  # (n, S), float32
        low, high = credible_interval(cate, level, axis=1)
        columns[f"cate_{name}"] = cate.mean(axis=1, dtype=np.float64)
        columns[f"cate_{name}_low"] = low
        columns[f"cate_{name}_high"] = high
    return pd.DataFrame(columns)


def claim_level(observed: ObservedExperimentData, *, calibrated: bool) -> ClaimLevel:
    """How strongly the analysis of ``observed`` may be read (see :func:`analyze`)."""
    hurdle = observed.metric_family == MetricFamily.HURDLE
    for v in observed.variants:
        if v.n_visitors < MIN_VISITORS_PER_ARM or (
            hurdle and v.n_conversions < MIN_CONVERTERS_PER_ARM
        ):
            return ClaimLevel.INSUFFICIENT_DATA
    return ClaimLevel.CALIBRATED if calibrated else ClaimLevel.UNCALIBRATED


def has_credible_segments(posterior_or_policy: Any, threshold: float = 0.80) -> bool:
    """Whether at least one segment's stability score reaches ``threshold``.

    Parameters
    ----------
    posterior_or_policy : posterior, PolicyTreeResult, ExportedPolicy or AnalysisResult
        Segments are read from a policy or analysis; a posterior gets a default policy tree
        (``bootstrap_seed=0``) first.
    threshold : float, default=0.80
        Stability needed to call a segment credible.

    Returns
    -------
    bool
        False when no score was computed (all NaN).
    """
    if not 0.0 <= float(threshold) <= 1.0:
        msg = f"threshold={threshold!r} must be a stability score in [0, 1]; the default is 0.80"
        raise ValueError(msg)
    source = posterior_or_policy
    if not hasattr(source, "segments"):
        source = fit_policy_tree(source, bootstrap_seed=0)
    scores = [s.stability_score for s in source.segments]
    return any(score >= threshold for score in scores if not np.isnan(score))
