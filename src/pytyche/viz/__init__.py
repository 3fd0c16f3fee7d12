"""Plots of experiments and analyses (matplotlib, imported only when a plot is drawn).

Every static plot takes ``ax=None`` and returns the axes it drew on; without ``ax`` it draws on
a new Agg figure (no window, no pyplot state), which ``ax.figure.savefig(path)`` writes out::

    import pytyche.viz as ptviz
    ax = ptviz.plot_leaderboard(analysis)
    ax.figure.savefig("leaderboard.png")

``import pytyche.viz`` does not import matplotlib; the first plot does.
"""

from pytyche.viz._calibration import calibration_curve, plot_calibration
from pytyche.viz._cells import (
    experiment_evolution_gif,
    plot_allocation_over_rounds,
    plot_cells,
    plot_rpv_by_cell,
)
from pytyche.viz._common import (
    DECISION_COLORS,
    figure_png,
    round_treatment_shares,
    short_numbers,
)
from pytyche.viz._effects import plot_decomposition, plot_leaderboard, plot_segment_intervals
from pytyche.viz._tree import plot_policy_tree

__all__ = [
    "DECISION_COLORS",
    "calibration_curve",
    "experiment_evolution_gif",
    "figure_png",
    "plot_allocation_over_rounds",
    "plot_calibration",
    "plot_cells",
    "plot_decomposition",
    "plot_leaderboard",
    "plot_policy_tree",
    "plot_rpv_by_cell",
    "plot_segment_intervals",
    "round_treatment_shares",
    "short_numbers",
]
