"""Plots of effects: the arm leaderboard, segment forest plot, hurdle decomposition."""

from __future__ import annotations

import math
import textwrap
from typing import TYPE_CHECKING, Any

import numpy as np

from pytyche.viz._common import DECISION_COLORS, items_of, new_axes, short_numbers

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["plot_decomposition", "plot_leaderboard", "plot_segment_intervals"]


def overall_comparisons(comparisons: Any) -> list[Any]:
    """The all-visitors ``ComparisonResult`` per treatment, from an analysis or a sequence."""
    items = getattr(comparisons, "comparisons", comparisons)
    out = [c for c in items if getattr(c, "segment_id", None) is None]
    if not out:
        msg = ("no overall comparisons (segment_id None) found; pass AnalysisResult or its "
               "comparisons")
        raise ValueError(msg)
    return out


def plot_leaderboard(comparisons: Any, ax: Axes | None = None) -> Axes:
    """Each treatment's effect versus control with its interval, ranked by P(best).

    Parameters
    ----------
    comparisons : AnalysisResult or sequence of ComparisonResult
        The overall comparisons (``segment_id is None``) are plotted; per-segment ones are
        ignored. Control is drawn at zero with the P(best) the treatments leave to it.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        Colour encodes the decision (SHIP green, CONTINUE grey, STOP orange-red).
    """
    rows = overall_comparisons(comparisons)
    control = rows[0].control
    p_control = max(0.0, 1.0 - sum(c.p_best for c in rows))
    entries = [(c.treatment, c.effect, c.effect_ci, c.p_best, c.recommendation.decision.value)
               for c in rows]
    entries.append((control, 0.0, (0.0, 0.0), p_control, "control"))
    entries.sort(key=lambda e: e[3])  # best at the top
    ax = new_axes(ax, (8.0, max(2.5, 1.2 + 0.6 * len(entries))))
    level = rows[0].level
    y = np.arange(len(entries))
    for yi, (name, effect, (low, high), _p_best, decision) in zip(y, entries, strict=True):
        color = DECISION_COLORS.get(decision, "#4d4d4d")
        if name != control:
            ax.plot([low, high], [yi, yi], color=color, linewidth=3, solid_capstyle="round")
        ax.plot(effect, yi, "o", color=color if name != control else "#4d4d4d", markersize=8)
    ax.axvline(0.0, color="#999999", linewidth=1, linestyle="--")
    labels = [n if d == "control" else f"{n}  ({d})" for n, _, _, _, d in entries]
    ax.set_yticks(y, labels)
    hi, span = _xlim_with_zero(ax, [e[2] for e in entries], label_room=0.45)
    for yi, e in zip(y, entries, strict=True):
        ax.text(hi + 0.08 * span, yi, f"P(best) {e[3]:.0%}", va="center", fontsize=9)
    ax.set_ylim(-0.6, len(entries) - 0.4)
    ax.set_xlabel(f"effect versus {control} (posterior mean, {level:.0%} interval)")
    ax.set_title("Leaderboard: effect of each treatment and its chance of being best")
    ax.spines[["top", "right"]].set_visible(False)
    return ax


def _xlim_with_zero(ax: Axes, intervals: list[Any], *, label_room: float) -> tuple[float, float]:
    """Set x limits spanning every (low, high) interval and 0, with ``label_room`` of the span
    free on the right for labels; returns the data's right edge and the span."""
    lo = min(min(low for low, _ in intervals), 0.0)
    hi = max(max(high for _, high in intervals), 0.0)
    span = (hi - lo) or 1.0
    ax.set_xlim(lo - 0.05 * span, hi + label_room * span)
    return hi, span


def plot_segment_intervals(segments: Any, ax: Axes | None = None, *,
                           level: float = 0.80) -> Axes:
    """Forest plot of each segment's effect (best treatment versus control) and interval.

    Parameters
    ----------
    segments : sequence of DiscoveredSegment, AnalysisResult or PolicyTreeResult
        Segments with ``gate_estimate`` and ``gate_ci`` (80% intervals by default).
    ax : matplotlib.axes.Axes, optional
    level : float, default=0.80
        The level the intervals were computed at (used in the axis label only).

    Returns
    -------
    matplotlib.axes.Axes
        One row per segment, labelled with its rule in words, its population share, its best
        treatment and its bootstrap stability.
    """
    segs = items_of(segments, "segments", "plot_segment_intervals needs at least one segment")
    ax = new_axes(ax, (9.0, max(2.5, 1.0 + 0.75 * len(segs))))
    y = np.arange(len(segs))[::-1]
    labels = []
    for yi, s in zip(y, segs, strict=True):
        low, high = s.gate_ci
        stable = not math.isnan(s.stability_score) and s.stability_score >= 0.80
        color = "#0072B2" if stable else "#8c8c8c"
        ax.plot([low, high], [yi, yi], color=color, linewidth=3, solid_capstyle="round")
        ax.plot(s.gate_estimate, yi, "D", color=color, markersize=7)
        rule = textwrap.shorten(short_numbers(s.rule.describe()), 60, placeholder="…")
        labels.append(f"S{s.id}: {rule}")
        stability = "n/a" if math.isnan(s.stability_score) else f"{s.stability_score:.2f}"
        best = s.best_treatment or "?"
        ax.annotate(f"{s.population_share:.0%} of visitors · best {best} · stability {stability}",
                    (high, yi), xytext=(6, 0), textcoords="offset points", va="center",
                    fontsize=7.5, color="#333333")
    ax.axvline(0.0, color="#999999", linewidth=1, linestyle="--")
    ax.set_yticks(y, labels, fontsize=8)
    _xlim_with_zero(ax, [s.gate_ci for s in segs], label_room=0.75)
    ax.set_ylim(-0.6, len(segs) - 0.4)
    ax.set_xlabel(f"effect of the segment's best treatment versus control ({level:.0%} interval)")
    ax.set_title("Segments (blue: stability ≥ 0.80)")
    ax.spines[["top", "right"]].set_visible(False)
    return ax


def _decompositions(source: Any) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """(treatment, conversion draws, basket draws, revenue draws) per non-control arm."""
    if hasattr(source, "conversion") and hasattr(source, "treatments"):
        return [(t, source.conversion[:, j], source.basket[:, j], source.revenue[:, j])
                for j, t in enumerate(source.treatments)]
    rows = overall_comparisons(source)
    out = []
    for c in rows:
        d = c.decomposition
        if d is None:
            continue
        j = list(d.treatments).index(c.treatment) if c.treatment in d.treatments else 0
        out.append((c.treatment, d.conversion[:, j], d.basket[:, j], d.revenue[:, j]))
    if not out:
        msg = ("no hurdle decomposition to plot: the comparisons carry none (only revenue "
               "metrics fitted with a hurdle model have one)")
        raise ValueError(msg)
    return out


def plot_decomposition(decomposition: Any, ax: Axes | None = None, *,
                       level: float = 0.80) -> Axes:
    """Per treatment, how much of the revenue effect comes from conversion and from basket size.

    Parameters
    ----------
    decomposition : DecompositionSamples, AnalysisResult or sequence of ComparisonResult
        Draws of shape (S, K - 1), or comparisons whose ``decomposition`` is set (hurdle
        fits). The two parts add up to the revenue effect draw by draw.
    ax : matplotlib.axes.Axes, optional
    level : float, default=0.80
        Level of the equal-tailed intervals drawn on each bar.

    Returns
    -------
    matplotlib.axes.Axes
    """
    parts = _decompositions(decomposition)
    ax = new_axes(ax, (8.0, max(3.0, 1.5 + 0.9 * len(parts))))
    tail = (1.0 - level) / 2.0
    kinds = (("conversion", "#56B4E9"), ("basket size", "#E69F00"), ("revenue (total)", "#333333"))
    height = 0.25
    y0 = np.arange(len(parts))[::-1].astype(float)
    for k, (label, color) in enumerate(kinds):
        means, lows, highs = [], [], []
        for part in parts:
            draws = np.asarray(part[1 + k], dtype=np.float64)
            means.append(draws.mean())
            lo, hi = np.quantile(draws, [tail, 1.0 - tail])
            lows.append(lo)
            highs.append(hi)
        yk = y0 + (1 - k) * height
        m = np.asarray(means)
        ax.barh(yk, m, height=height * 0.9, color=color, label=label,
                alpha=0.9 if k < 2 else 0.75)
        ax.errorbar(m, yk, xerr=[m - np.asarray(lows), np.asarray(highs) - m], fmt="none",
                    ecolor="#222222", capsize=2, linewidth=1)
    ax.axvline(0.0, color="#999999", linewidth=1)
    ax.set_yticks(y0, [p[0] for p in parts])
    ax.set_xlabel(f"effect on revenue per visitor versus control ({level:.0%} interval)")
    ax.set_title("Where the revenue effect comes from: conversion vs basket size")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return ax


