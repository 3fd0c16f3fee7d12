"""Policy tree: one decision tree over the posterior's best arms, its leaves as segments."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from sklearn.tree import DecisionTreeClassifier

from pytyche.analysis._compare import segment_level_draws
from pytyche.analysis._intervals import check_level
from pytyche.analysis._posterior import view_of
from pytyche.analysis._segments import summarise_segment
from pytyche.analysis._thompson import DEFAULT_EPSILON, thompson_allocation
from pytyche.contracts import (
    AllOf,
    ComparisonRule,
    EqRule,
    InRule,
    PolicyTreeResult,
    SegmentRule,
    VisitorSchema,
)
from pytyche.data import feature_matrix, feature_schema

__all__ = ["fit_policy_tree"]

#: Jaccard overlap a bootstrap leaf needs with a segment to count as reproducing it.
JACCARD_MATCH = 0.5
#: Weight floor, relative to the mean margin, so visitors with near-tied arms still count a bit.
_MARGIN_FLOOR = 0.01
#: Fixed seed of sklearn's feature permutation (only breaks exact ties between splits).
_TREE_RANDOM_STATE = 0
#: Smallest weighted impurity decrease worth a split: pure nodes show rounding-level impurity
#: (~1e-15) that would otherwise be split on meaningless features.
_MIN_IMPURITY_DECREASE = 1e-7


def fit_policy_tree(
    posterior: Any,
    max_depth: int = 3,
    min_segment_share: float = 0.10,
    n_bootstrap: int = 50,
    bootstrap_seed: int | None = 0,
    *,
    level: float = 0.80,
    epsilon: float = DEFAULT_EPSILON,
) -> PolicyTreeResult:
    """Segment visitors by which arm the posterior favours for them.

    Parameters
    ----------
    posterior : posterior
        Anything with the posterior array interface.
    max_depth : int, default=3
        Depth of the tree (at most ``2 ** max_depth`` segments).
    min_segment_share : float, default=0.10
        Smallest segment, as a share of visitors (``min_samples_leaf = ceil(share * n)``).
    n_bootstrap : int, default=50
        Bootstrap refits used to score each segment's stability; 0 skips them (scores NaN).
    bootstrap_seed : int or None, default=0
        Seed of the bootstrap resampling. With the default the whole result is deterministic
        given the posterior and the hyperparameters, as the glossary requires of the policy
        tree; None draws fresh entropy (stability scores then vary from call to call).
    level : float, default=0.80
        Credible level of the segments' gate intervals.
    epsilon : float, default=0.02
        Exploration floor of each leaf's Thompson allocation.

    Returns
    -------
    PolicyTreeResult
        The sklearn tree (fitted on ``feature_matrix(posterior.observed)``), one
        :class:`DiscoveredSegment` per leaf ordered by leaf id, the Thompson allocation and
        the stability score per leaf, and ``observed`` shared by identity.

    Raises
    ------
    ValueError
        A hyperparameter is out of range (the message gives the accepted range).

    Notes
    -----
    Each visitor is labelled with the arm of highest posterior-mean level (control included)
    and weighted by its margin: the gap between the best and second-best arm plus 1% of the
    mean gap, so the tree works hardest where the choice matters. The stability score of a
    leaf is the share of bootstrap trees (same hyperparameters, fitted on visitors resampled
    with their posterior-mean CATEs) having a leaf whose members among the original visitors
    overlap the segment with Jaccard index at least 0.5.
    """
    max_depth, min_leaf, n_bootstrap = _check_hyperparameters(
        max_depth, min_segment_share, n_bootstrap
    )
    lvl = check_level(level)
    view = view_of(posterior)
    observed = view.observed
    schema = feature_schema(observed)
    X = feature_matrix(observed)
    n = view.n_visitors
    min_samples_leaf = max(1, math.ceil(min_leaf * n))

    mean_level = view.mean_level()
    gains = mean_level - mean_level[:, :1]  # posterior-mean CATE per arm, control column 0
    tree = _grow(X, gains, max_depth, min_samples_leaf)
    leaves = tree.apply(X)
    leaf_ids = np.unique(leaves)
    scores = _stability(
        X, gains, leaves, leaf_ids, max_depth, min_samples_leaf, n_bootstrap, bootstrap_seed
    )
    rules = leaf_rules(tree, schema, observed.visitors())
    # Let the bare sklearn tree be turned into a policy on its own (TreePolicy(tree, map)).
    tree.feature_schema_ = schema

    segments, allocation = [], {}
    for leaf in leaf_ids:
        leaf_id = int(leaf)
        mask = leaves == leaf
        draws = segment_level_draws(view, mask)
        segments.append(
            summarise_segment(
                view,
                mask,
                seg_id=leaf_id,
                rule=rules[leaf_id],
                level=lvl,
                stability=scores[leaf_id],
                seg_draws=draws,
            )
        )
        allocation[leaf_id] = thompson_allocation(draws, view.treatments, epsilon)
    return PolicyTreeResult(
        tree=tree,
        segments=tuple(segments),
        allocation_map=allocation,
        stability_scores=scores,
        observed=observed,
    )


def _check_hyperparameters(
    max_depth: int, min_segment_share: float, n_bootstrap: int
) -> tuple[int, float, int]:
    if (
        isinstance(max_depth, bool)
        or not isinstance(max_depth, int | np.integer)
        or not (1 <= max_depth <= 10)
    ):
        msg = f"max_depth={max_depth!r} must be an integer in [1, 10]; the default is 3"
        raise ValueError(msg)
    share = float(min_segment_share)
    if not (math.isfinite(share) and 0.0 < share <= 0.5):
        msg = f"min_segment_share={min_segment_share!r} must be in (0, 0.5]; the default is 0.10"
        raise ValueError(msg)
    if (
        isinstance(n_bootstrap, bool)
        or not isinstance(n_bootstrap, int | np.integer)
        or (n_bootstrap < 0)
    ):
        msg = f"n_bootstrap={n_bootstrap!r} must be an integer >= 0 (0 skips stability scores)"
        raise ValueError(msg)
    return int(max_depth), share, int(n_bootstrap)


def _labels_and_weights(gains: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best arm per visitor and its margin over the runner-up (plus a small floor)."""
    labels = np.argmax(gains, axis=1)
    if gains.shape[1] == 1:
        return labels, np.ones(len(gains))
    top_two = np.sort(gains, axis=1)[:, -2:]
    margin = top_two[:, 1] - top_two[:, 0]
    mean_margin = float(margin.mean())
    floor = _MARGIN_FLOOR * mean_margin if mean_margin > 0 else 1.0
    return labels, margin + floor


def _grow(
    X: np.ndarray, gains: np.ndarray, max_depth: int, min_samples_leaf: int
) -> DecisionTreeClassifier:
    labels, weights = _labels_and_weights(gains)
    tree = DecisionTreeClassifier(
        max_depth=max_depth,
        min_samples_leaf=min_samples_leaf,
        min_impurity_decrease=_MIN_IMPURITY_DECREASE,
        random_state=_TREE_RANDOM_STATE,
    )
    return tree.fit(X, labels, sample_weight=weights)


def _stability(
    X: np.ndarray,
    gains: np.ndarray,
    leaves: np.ndarray,
    leaf_ids: np.ndarray,
    max_depth: int,
    min_samples_leaf: int,
    n_bootstrap: int,
    seed: int | None,
) -> dict[int, float]:
    """Share of bootstrap trees reproducing each leaf (Jaccard >= 0.5 on the original rows)."""
    if n_bootstrap == 0:
        return {int(leaf): math.nan for leaf in leaf_ids}
    rng = np.random.default_rng(seed)
    n = len(X)
    members = {int(leaf): leaves == leaf for leaf in leaf_ids}
    hits = dict.fromkeys(members, 0)
    for _ in range(n_bootstrap):
        idx = rng.integers(0, n, size=n)
        boot = _grow(X[idx], gains[idx], max_depth, min_samples_leaf).apply(X)
        for leaf, mask in members.items():
            hits[leaf] += int(jaccard_by_label(mask, boot).max() >= JACCARD_MATCH)
    return {leaf: hits[leaf] / n_bootstrap for leaf in members}


def jaccard_by_label(members: np.ndarray, labels: np.ndarray, n_labels: int = 0) -> np.ndarray:
    """Jaccard index of the rows in ``members`` with the rows of each label.

    Parameters
    ----------
    members : numpy.ndarray
        (n,) bool, one visitor set.
    labels : numpy.ndarray
        (n,) non-negative ints, a partition of the same visitors (a tree's leaves).
    n_labels : int, default=0
        At least this many labels are scored (labels no row has score 0).

    Returns
    -------
    numpy.ndarray
        (max(labels) + 1 or n_labels,) float64; 0 where both sets are empty.
    """
    sizes = np.bincount(labels, minlength=n_labels)
    inter = np.bincount(labels[members], minlength=len(sizes))
    union = np.count_nonzero(members) + sizes - inter
    return np.divide(inter, union, out=np.zeros(len(sizes)), where=union > 0)


def same_segment(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two (n,) bool visitor sets are one segment: Jaccard >= :data:`JACCARD_MATCH`."""
    return bool(jaccard_by_label(a, np.asarray(b, dtype=np.intp), 2)[1] >= JACCARD_MATCH)


def leaf_rules(
    tree: DecisionTreeClassifier, schema: VisitorSchema, frame: pd.DataFrame
) -> dict[int, SegmentRule]:
    """The rule of every leaf of ``tree``, in the data's own terms.

    Thresholds on continuous features become ``ComparisonRule`` (``<=`` left, ``>`` right,
    the tightest bound per side kept), categorical codes are decoded to their levels
    (``EqRule`` for one level, ``InRule`` for several) and binary features become ``EqRule``
    with a value of the column's own type. ``frame`` supplies those column types.
    """
    t = tree.tree_
    out: dict[int, SegmentRule] = {}

    def walk(node: int, path: list[tuple[int, bool, float]]) -> None:
        left, right = int(t.children_left[node]), int(t.children_right[node])
        if left == right:  # a leaf
            out[node] = split_path_rule(path, schema, frame)
            return
        feature, threshold = int(t.feature[node]), float(t.threshold[node])
        walk(left, [*path, (feature, True, threshold)])
        walk(right, [*path, (feature, False, threshold)])

    walk(0, [])
    return out


def split_path_rule(
    path: list[tuple[int, bool, float]], schema: VisitorSchema, frame: pd.DataFrame
) -> AllOf:
    """The segment rule of a path of tree splits, in the data's own terms.

    ``path`` lists (encoded feature index, went left, threshold) from the root down. Repeated
    splits on a feature are merged (one interval per continuous feature, the still-possible
    levels of a categorical one), and codes are decoded back to the user's values.
    """
    order: list[str] = []
    bounds: dict[str, list[float]] = {}  # continuous: [lower (>), upper (<=)]
    allowed: dict[str, set[int]] = {}  # categorical / binary: codes still possible
    for j, goes_left, threshold in path:
        name = schema.features[j]
        if name not in order:
            order.append(name)
        kind = schema.kinds[name]
        if kind == "continuous":
            low, high = bounds.setdefault(name, [-math.inf, math.inf])
            bounds[name] = [low, min(high, threshold)] if goes_left else [max(low, threshold), high]
        else:
            n_codes = len(schema.categories[name]) if kind == "categorical" else 2
            codes = allowed.setdefault(name, set(range(n_codes)))
            keep = {c for c in codes if (c <= threshold) == goes_left}
            allowed[name] = keep
    rules: list[SegmentRule] = []
    for name in order:
        kind = schema.kinds[name]
        if kind == "continuous":
            low, high = bounds[name]
            if math.isfinite(low):
                rules.append(ComparisonRule(feature=name, op=">", value=low))
            if math.isfinite(high):
                rules.append(ComparisonRule(feature=name, op="<=", value=high))
        elif kind == "binary":
            (code,) = allowed[name]  # a binary split always leaves one value
            rules.append(EqRule(feature=name, value=_binary_value(frame[name], code)))
        else:
            levels = tuple(schema.categories[name][c] for c in sorted(allowed[name]))
            rules.append(
                EqRule(feature=name, value=levels[0])
                if len(levels) == 1
                else InRule(feature=name, values=levels)
            )
    return AllOf(rules=tuple(rules))


def _binary_value(column: pd.Series, code: int) -> Any:
    if pd.api.types.is_bool_dtype(column):
        return bool(code)
    if pd.api.types.is_integer_dtype(column):
        return int(code)
    return float(code)
