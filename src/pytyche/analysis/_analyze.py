"""``analyze``: from a posterior (or observed data) to everything a user acts on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from pytyche.analysis._compare import compare_in_mask
from pytyche.analysis._intervals import check_level, credible_interval
from pytyche.analysis._policy_tree import fit_policy_tree
from pytyche.analysis._posterior import PosteriorView, view_of
from pytyche.analysis._segments import segment_effects
from pytyche.contracts import (
    AnalysisResult,
    ClaimLevel,
    DecisionThresholds,
    MetricFamily,
    ObservedExperimentData,
    SegmentRule,
)

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
) -> AnalysisResult:
    """Turn a posterior into per-visitor effects, segments, comparisons and decisions.

    Parameters
    ----------
    posterior : posterior or ObservedExperimentData
        A fitted posterior (anything with the posterior array interface). Observed data is
        first fitted with ``pytyche.bcf.fit(observed, seed=seed, **fit_options)``.
    level : float, default=0.80
        Credible level of every interval.
    thresholds : DecisionThresholds, optional
        SHIP / STOP gates (spec defaults when omitted).
    max_depth, min_segment_share, n_bootstrap, bootstrap_seed
        Policy tree settings, see :func:`fit_policy_tree`.
    segments : mapping of str to SegmentRule, or sequence of SegmentRule, optional
        Operator-declared segments analysed next to the policy tree's leaves. They are
        appended to ``segments`` and ``comparisons`` with ids following the largest leaf id,
        in declaration order.
    seed : int, default=0
        Seed of the fit when ``posterior`` is observed data.
    fit_options : mapping, optional
        Extra keyword arguments of ``pytyche.bcf.fit`` when ``posterior`` is observed data.

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
    The claim level is INSUFFICIENT_DATA when an arm has fewer than 30 visitors, or, for a
    hurdle metric, fewer than 5 converters; otherwise CALIBRATED when the posterior carries a
    coverage correction and UNCALIBRATED when it does not.
    """
    if isinstance(posterior, ObservedExperimentData):
        posterior = _fit(posterior, seed=seed, options=fit_options)
    lvl = check_level(level)
    view = view_of(posterior)
    tree = fit_policy_tree(
        view,
        max_depth=max_depth,
        min_segment_share=min_segment_share,
        n_bootstrap=n_bootstrap,
        bootstrap_seed=bootstrap_seed,
        level=lvl,
    )
    all_visitors = np.ones(view.n_visitors, dtype=bool)
    overall = compare_in_mask(view, all_visitors, level=lvl, thresholds=thresholds)
    leaves = tree.tree.apply(view.observed.feature_matrix())
    per_leaf = [
        c
        for seg in tree.segments
        for c in compare_in_mask(
            view, leaves == seg.id, level=lvl, thresholds=thresholds, segment_id=seg.id
        )
    ]
    found = list(tree.segments)
    if segments is not None:
        first_id = max(s.id for s in tree.segments) + 1
        declared = segment_effects(
            view, segments, level=lvl, thresholds=thresholds, first_id=first_id
        )
        found.extend(d.segment for d in declared)
        per_leaf.extend(c for d in declared for c in d.comparisons)
    calibrated = view.calibration is not None and getattr(view.calibration, "applied", True)
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
    )


def _fit(observed: ObservedExperimentData, *, seed: int, options: Mapping[str, Any] | None) -> Any:
    """Fit observed data with ``pytyche.bcf.fit`` (imported here, so JAX loads only now)."""
    from pytyche.bcf import fit

    return fit(observed, seed=seed, **dict(options or {}))


def cate_frame(view: PosteriorView, level: float) -> pd.DataFrame:
    """Per-visitor posterior-mean CATE and interval per treatment, in visitor order."""
    columns: dict[str, Any] = {"treatment": view.observed.visitors()["treatment"].to_numpy()}
    for k, name in enumerate(view.treatments[1:], start=1):
        cate = view.level[:, :, k] - view.level[:, :, 0]  # (n, S), float32
        low, high = credible_interval(cate, level, axis=1, calibration=view.calibration)
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
