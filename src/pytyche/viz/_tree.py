"""A policy tree drawn as a diagram: splits in words, leaves with their allocation."""

from __future__ import annotations

import math
import textwrap
from typing import TYPE_CHECKING, Any

from pytyche.viz._common import new_axes, short_numbers, treatment_colors

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["plot_policy_tree"]


def _split_text(result: Any, path: list[tuple[int, bool, float]], feature: int,
                threshold: float) -> str:
    """The visitors that go left at a split, in the data's own words.

    ``path`` (the splits above the node) narrows categorical levels to those still possible,
    so a second split on ``device`` reads "device is mobile", not a list of every level.
    """
    from pytyche.analysis import split_path_rule
    from pytyche.data import feature_schema

    observed = result.observed
    schema = feature_schema(observed)
    name = schema.features[feature]
    if schema.kinds[name] == "continuous":
        return f"{name} <= {threshold:.4g}"
    same = [step for step in path if step[0] == feature]
    rule = split_path_rule([*same, (feature, True, threshold)], schema, observed.visitors())
    return short_numbers(rule.describe())


def plot_policy_tree(policy_tree_result: Any, ax: Axes | None = None) -> Axes:
    """Draw a policy tree: each split says which visitors go left; each leaf is a segment.

    Parameters
    ----------
    policy_tree_result : PolicyTreeResult or AnalysisResult
        A fitted policy tree (an analysis's ``policy_tree`` is used when given an analysis).
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        Leaves show the segment id, its share of visitors, its stability and the Thompson
        allocation of traffic over treatments.
    """
    result = getattr(policy_tree_result, "policy_tree", None) or policy_tree_result
    if not hasattr(result, "tree") or not hasattr(result, "allocation_map"):
        msg = (f"plot_policy_tree needs a PolicyTreeResult (or an AnalysisResult with one); got "
               f"{type(policy_tree_result).__name__}")
        raise ValueError(msg)
    t = result.tree.tree_
    segments = {s.id: s for s in result.segments}
    leaves = [n for n in range(t.node_count) if t.children_left[n] == t.children_right[n]]
    depth = 0
    positions: dict[int, tuple[float, int]] = {}
    paths: dict[int, list[tuple[int, bool, float]]] = {}
    order = iter(range(len(leaves)))

    def place(node: int, level: int, path: list[tuple[int, bool, float]]) -> float:
        nonlocal depth
        depth = max(depth, level)
        paths[node] = path
        left, right = int(t.children_left[node]), int(t.children_right[node])
        if left == right:
            x = float(next(order))
        else:
            f, thr = int(t.feature[node]), float(t.threshold[node])
            x = (place(left, level + 1, [*path, (f, True, thr)])
                 + place(right, level + 1, [*path, (f, False, thr)])) / 2
        positions[node] = (x, level)
        return x

    place(0, 0, [])
    width = max(len(leaves), 1)
    ax = new_axes(ax, (max(7.0, 2.6 * width), 1.6 * (depth + 1) + 0.8))
    treatments = list(result.observed.treatments)
    colors = treatment_colors(treatments)
    for node, (x, level) in positions.items():
        left, right = int(t.children_left[node]), int(t.children_right[node])
        if left != right:
            for child, tag in ((left, "yes"), (right, "no")):
                cx, cl = positions[child]
                ax.plot([x, cx], [-level, -cl], color="#aaaaaa", linewidth=1, zorder=1)
                ax.text((x + cx) / 2, -(level + cl) / 2, tag, fontsize=7, color="#666666",
                        ha="center", va="center", backgroundcolor="white", zorder=2)
            split = _split_text(result, paths[node], int(t.feature[node]),
                                float(t.threshold[node]))
            text = textwrap.fill(split + " ?", 26)
            ax.text(x, -level, text, ha="center", va="center", fontsize=8, zorder=3,
                    bbox={"boxstyle": "round,pad=0.4", "facecolor": "#f2f2f2",
                          "edgecolor": "#999999"})
        else:
            seg = segments.get(node)
            shares = result.allocation_map.get(node, {})
            lines = [f"segment S{node}"]
            if seg is not None:
                stab = seg.stability_score
                lines.append(f"{seg.population_share:.0%} of visitors"
                             + ("" if math.isnan(stab) else f" · stability {stab:.2f}"))
            lines += [f"{name}: {share:.0%}" for name, share in
                      sorted(shares.items(), key=lambda kv: -kv[1])]
            best = max(shares, key=shares.__getitem__) if shares else None
            ax.text(x, -level, "\n".join(lines), ha="center", va="top", fontsize=7.5, zorder=3,
                    bbox={"boxstyle": "round,pad=0.4", "facecolor": "white",
                          "edgecolor": colors.get(best, "#333333"), "linewidth": 2})
    ax.set_xlim(-0.6, width - 0.4)
    ax.set_ylim(-depth - 0.9, 0.4)
    ax.set_axis_off()
    ax.set_title("Policy tree: segments and their traffic allocation")
    return ax
