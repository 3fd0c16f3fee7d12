"""Plots of a round's cell structure and of how traffic and revenue move across rounds."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pytyche.viz._common import (
    DEFAULT_DPI,
    cell_colors,
    experiments_of,
    new_axes,
    round_treatment_shares,
    treatment_colors,
)

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = [
    "experiment_evolution_gif",
    "plot_allocation_over_rounds",
    "plot_cells",
    "plot_rpv_by_cell",
]


def _cell_rows(cells: Any) -> list[tuple[str, float, str]]:
    """(id, weight, policy description) per cell, from the accepted inputs of plot_cells."""
    source = cells
    for attr in ("cells_shipped", "cells"):  # an Experiment, a NextRoundPlan
        if hasattr(source, attr) and not isinstance(source, Mapping):
            source = getattr(source, attr)
            break
    if isinstance(source, Mapping):
        return [(str(k), float(v), "") for k, v in source.items()]
    rows = []
    for c in source:
        policy = getattr(c, "policy", None)
        text = policy.describe() if callable(getattr(policy, "describe", None)) else ""
        rows.append((str(c.id), float(c.weight), text))
    if not rows:
        msg = "plot_cells needs at least one cell"
        raise ValueError(msg)
    return rows


def plot_cells(cells: Any, ax: Axes | None = None) -> Axes:
    """Horizontal bars of one round's cell weights, each labelled with its policy.

    Parameters
    ----------
    cells : sequence of Cell, mapping of str to float, Experiment or NextRoundPlan
        The cells of one round: ``Cell`` objects (id, weight, policy), a plain
        ``{cell_id: weight}`` mapping, a completed round (its ``cells_shipped``) or a plan
        (its ``cells``).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new 8 x 3.5 inch figure when omitted.

    Returns
    -------
    matplotlib.axes.Axes
    """
    rows = _cell_rows(cells)
    ax = new_axes(ax, (8.0, max(2.2, 0.9 + 0.55 * len(rows))))
    ids = [r[0] for r in rows]
    weights = np.array([r[1] for r in rows])
    palette = cell_colors(ids)
    colors = [palette[cid] for cid in ids]
    y = np.arange(len(rows))[::-1]
    ax.barh(y, weights, color=colors, height=0.6)
    for yi, (_, w, text) in zip(y, rows, strict=True):
        ax.text(w + 0.01, yi, f"{w:.0%}", va="center", fontsize=9, fontweight="bold")
        if text:
            ax.text(0.01, yi - 0.42, textwrap.shorten(text, 90), va="center", fontsize=7.5,
                    color="#333333")
    ax.set_yticks(y, ids)
    ax.set_xlim(0, 1.08)
    ax.set_ylim(-0.9, len(rows) - 0.4)
    ax.xaxis.set_major_formatter(_percent())
    ax.set_xlabel("share of the round's traffic")
    ax.set_title("Cells and their weights")
    ax.spines[["top", "right"]].set_visible(False)
    return ax


def _percent() -> Any:
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(xmax=1.0, decimals=0)


def plot_allocation_over_rounds(history: Any, ax: Axes | None = None) -> Axes:
    """Stacked bars: share of each round's visitors that received each treatment.

    Parameters
    ----------
    history : SequentialExperiment or sequence of Experiment
        See :func:`pytyche.viz._common.round_treatment_shares` for what each form needs.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    shares = round_treatment_shares(history)
    ax = new_axes(ax, (8.0, 4.0))
    colors = treatment_colors(list(shares.columns))
    x = np.arange(len(shares))
    bottom = np.zeros(len(shares))
    for t in shares.columns:
        values = shares[t].to_numpy()
        ax.bar(x, values, bottom=bottom, color=colors[t], label=t, width=0.6)
        for xi, b, v in zip(x, bottom, values, strict=True):
            if v >= 0.06:
                ax.text(xi, b + v / 2, f"{v:.0%}", ha="center", va="center", fontsize=8,
                        color="white", fontweight="bold")
        bottom += values
    ax.set_xticks(x, [f"round {int(r)}" for r in shares.index])
    ax.set_ylim(0, 1)
    ax.yaxis.set_major_formatter(_percent())
    ax.set_ylabel("share of the round's visitors")
    ax.set_title("Traffic per treatment, round by round")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return ax


def plot_rpv_by_cell(history: Any, ax: Axes | None = None) -> Axes:
    """Cumulative mean outcome per visitor (revenue per visitor) of each cell over rounds.

    Solid lines are cumulative means (every visitor the cell has served so far); the faint
    points with bars are each round's own mean and its 80% interval.

    Parameters
    ----------
    history : SequentialExperiment or sequence of Experiment
        Completed rounds; each carries ``cell_observations``.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    experiments = experiments_of(history)
    ax = new_axes(ax, (8.0, 4.0))
    ids: list[str] = []
    for e in experiments:
        ids.extend(o.id for o in e.cell_observations if o.id not in ids)
    palette = cell_colors(ids)
    for i, cid in enumerate(ids):
        rounds, cumulative, points, lows, highs = [], [], [], [], []
        total = count = 0.0
        for e in experiments:
            obs = next((o for o in e.cell_observations if o.id == cid), None)
            if obs is None:
                continue
            total += obs.observed_rpv * obs.n_visitors
            count += obs.n_visitors
            rounds.append(e.round_idx)
            cumulative.append(total / count)
            points.append(obs.observed_rpv)
            lows.append(obs.observed_rpv_ci[0])
            highs.append(obs.observed_rpv_ci[1])
        color = palette[cid]
        offset = (i - (len(ids) - 1) / 2) * 0.06
        r = np.asarray(rounds, dtype=float)
        ax.plot(r, cumulative, marker="o", color=color, label=cid, linewidth=2)
        # The interval comes from the posterior, the point is the empirical mean: draw them
        # apart, since the point need not lie inside the interval.
        ax.vlines(r + offset, lows, highs, color=color, alpha=0.35, linewidth=2)
        ax.plot(r + offset, points, "s", color=color, alpha=0.45, markersize=4)
    ax.set_xticks(sorted({e.round_idx for e in experiments}))
    ax.set_xlabel("round")
    ax.set_ylabel("mean outcome per visitor")
    ax.set_title("Revenue per visitor by cell (line: cumulative; faint: round, 80% CI)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return ax


def experiment_evolution_gif(
    history: Any, output_path: str | Path, fps: float = 1
) -> Path:
    """An animated GIF with one frame per round: the cells and the traffic per treatment.

    Parameters
    ----------
    history : SequentialExperiment or sequence of Experiment
        Completed rounds (see :func:`plot_allocation_over_rounds` for what each form needs).
    output_path : str or path
        Where to write the GIF (parent folders are created).
    fps : float, default=1
        Frames per second.

    Returns
    -------
    pathlib.Path
        ``output_path``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from PIL import Image

    if not fps > 0:
        msg = f"fps={fps!r} must be positive; 1 shows one round per second"
        raise ValueError(msg)
    experiments = experiments_of(history)
    shares = round_treatment_shares(history)
    colors = treatment_colors(list(shares.columns))
    frames = []
    for e in experiments:
        fig = Figure(figsize=(10.0, 4.0), dpi=DEFAULT_DPI, layout="constrained")
        canvas = FigureCanvasAgg(fig)
        left, right = fig.subplots(1, 2, width_ratios=[1.5, 1.0])
        plot_cells(e.cells_shipped, ax=left)
        row = shares.loc[e.round_idx] if e.round_idx in shares.index else None
        names = list(shares.columns)
        values = [float(row[t]) if row is not None else 0.0 for t in names]
        y = np.arange(len(names))[::-1]
        right.barh(y, values, color=[colors[t] for t in names], height=0.6)
        for yi, v in zip(y, values, strict=True):
            right.text(v + 0.01, yi, f"{v:.0%}", va="center", fontsize=9)
        right.set_yticks(y, names)
        right.set_xlim(0, 1.1)
        right.xaxis.set_major_formatter(_percent())
        right.set_title("Visitors per treatment")
        right.spines[["top", "right"]].set_visible(False)
        fig.suptitle(f"Round {e.round_idx}", fontsize=13, fontweight="bold")
        canvas.draw()
        rgba = np.asarray(canvas.buffer_rgba())
        frames.append(Image.fromarray(rgba[..., :3].copy()))
    path = Path(output_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    paletted = [f.convert("P", palette=Image.Palette.ADAPTIVE, colors=255) for f in frames]
    paletted[0].save(path, format="GIF", save_all=True, append_images=paletted[1:],
                     duration=round(1000 / fps), loop=0)
    return path


