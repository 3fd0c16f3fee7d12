"""Shared plumbing of the plots: figure creation, colours, reading histories.

Nothing here imports matplotlib at module level; every helper that needs it imports it inside
the function, so ``import pytyche.viz`` stays cheap.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "DECISION_COLORS",
    "DEFAULT_DPI",
    "cell_colors",
    "experiments_of",
    "figure_png",
    "items_of",
    "new_axes",
    "round_treatment_shares",
    "short_numbers",
    "treatment_colors",
]

#: Resolution of every figure pytyche creates (pixels = inches x DPI).
DEFAULT_DPI = 100

# Colour-blind friendly (Okabe-Ito), control first in grey.
_TREATMENT_PALETTE = ("#7f7f7f", "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9",
                      "#D55E00", "#F0E442", "#000000", "#999933")
_CELL_COLORS = {"control": "#7f7f7f", "explore": "#56B4E9"}
_OPTIMIZED_PALETTE = ("#E69F00", "#009E73", "#CC79A7", "#D55E00", "#0072B2")

#: Colour of each decision in every plot and in the HTML report.
DECISION_COLORS = {"SHIP": "#009E73", "CONTINUE": "#8c8c8c", "STOP": "#D55E00"}


def new_axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    """``ax`` itself, or the axes of a new Agg-rendered figure of ``figsize`` inches.

    The figure is a bare :class:`matplotlib.figure.Figure` (no pyplot state, so nothing opens
    a window and nothing leaks between calls); save it with ``ax.figure.savefig(path)``.
    """
    if ax is not None:
        return ax
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=DEFAULT_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig.add_subplot()


def figure_png(fig: Figure, *, dpi: int = DEFAULT_DPI) -> bytes:
    """The figure rendered as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def treatment_colors(treatments: Sequence[str]) -> dict[str, str]:
    """A stable colour per treatment, control (the first) in grey."""
    return {t: _TREATMENT_PALETTE[i % len(_TREATMENT_PALETTE)] for i, t in enumerate(treatments)}


def cell_colors(cell_ids: Sequence[str]) -> dict[str, str]:
    """Grey for Control, light blue for Explore, then one warm colour per other cell."""
    out: dict[str, str] = {}
    others = 0
    for cid in cell_ids:
        if cid in _CELL_COLORS:
            out[cid] = _CELL_COLORS[cid]
        else:
            out[cid] = _OPTIMIZED_PALETTE[others % len(_OPTIMIZED_PALETTE)]
            others += 1
    return out


_LONG_NUMBER = re.compile(r"(?<![\w.])-?\d+\.\d{4,}")


def short_numbers(text: str, digits: int = 4) -> str:
    """``text`` with long decimals shortened to ``digits`` significant digits, for display."""
    return _LONG_NUMBER.sub(lambda m: f"{float(m.group()):.{digits}g}", text)


def items_of(source: Any, attribute: str, empty: str) -> list[Any]:
    """``source.<attribute>`` as a list, or ``source`` itself when it has no such attribute
    (a plain sequence); ``empty`` is the error message when there is nothing to plot."""
    out = list(getattr(source, attribute, source))
    if not out:
        raise ValueError(empty)
    return out


def experiments_of(history: Any) -> list[Any]:
    """The completed rounds (``Experiment`` objects) of a sequential experiment or a list."""
    return items_of(history, "history",
                    "the history holds no completed rounds; run at least one round first")


def round_treatment_shares(history: Any) -> pd.DataFrame:
    """Share of each round's visitors that received each treatment.

    Parameters
    ----------
    history : SequentialExperiment or sequence of Experiment
        A sequential experiment (its ``rounds`` hold each round's own data, also after a
        resume) or its ``history`` (the latest round's cumulative data must then carry the
        reserved ``round`` column, as the loop writes it).

    Returns
    -------
    pandas.DataFrame
        Index: round (0-based); columns: treatments in experiment order; rows sum to 1.
    """
    rounds = getattr(history, "rounds", None)
    if rounds:
        rows = {r.round_idx: {v.name: v.n_visitors for v in r.observed.variants} for r in rounds}
        treatments = list(getattr(history, "treatments", []) or rounds[0].observed.treatments)
        counts = pd.DataFrame.from_dict(rows, orient="index")
    else:
        experiments = experiments_of(history)
        observed = next((e.observed for e in reversed(experiments)
                         if getattr(e, "observed", None) is not None), None)
        if observed is None or "round" not in observed.variants[0].visitors.columns:
            msg = ("cannot tell which treatment each round's visitors received: pass the "
                   "SequentialExperiment itself (its rounds carry the data), or a history whose "
                   "latest round still holds its posterior")
            raise ValueError(msg)
        treatments = list(observed.treatments)
        frame = pd.DataFrame({"round": observed.column("round"),
                              "treatment": observed.visitors()["treatment"].to_numpy()})
        counts = frame.groupby(["round", "treatment"]).size().unstack(fill_value=0)
    counts = counts.reindex(columns=treatments, fill_value=0).fillna(0).sort_index()
    totals = counts.sum(axis=1).replace(0, np.nan)
    return counts.div(totals, axis=0).fillna(0.0)


def as_float_array(values: Any, name: str) -> np.ndarray:
    """A 1-D float array, or a ValueError naming ``name``."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        msg = f"{name} must be a non-empty 1-D sequence of numbers; got shape {arr.shape}"
        raise ValueError(msg)
    return arr


def mapping_or_attr(obj: Any, name: str) -> Any:
    """``obj[name]`` for mappings, ``obj.name`` otherwise (None when absent)."""
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)
