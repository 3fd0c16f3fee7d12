"""One completed round: :class:`Experiment`, its per-cell scoreboard, and :class:`Round`.

An :class:`Experiment` bundles what a round produced: the posterior fitted on the cumulative
data, its analysis, the cells that served traffic, what each cell observed, the engine's plan
for the next round and, in sim mode, the comparison with the truth. A :class:`Round` holds what
went into the round: the plan shipped and the round's own data (and truth).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from pytyche.contracts import CalibrationTruth, ObservedExperimentData
from pytyche.experiment.cells import CONTROL_CELL, Cell

if TYPE_CHECKING:  # pragma: no cover
    from pytyche.contracts import AnalysisResult

__all__ = ["CellObservation", "Experiment", "Round", "compute_cell_observations"]

#: Credible level of every per-cell interval (the library-wide convention).
CELL_LEVEL = 0.80


@dataclass(frozen=True, slots=True)
class CellObservation:
    """What one cell observed in one round.

    Attributes
    ----------
    id : str
        The cell's id.
    n_visitors : int
        Visitors the cell served this round.
    observed_rpv : float
        Mean observed outcome (revenue per visitor) over the cell's visitors.
    observed_rpv_ci : tuple of float
        80% credible interval of the cell's mean from the posterior draws of its visitors'
        realised arms.
    lift_vs_control : float
        ``observed_rpv`` minus the Control cell's (0.0 for the Control cell).
    lift_vs_control_ci : tuple of float
        80% credible interval of that lift ((0.0, 0.0) for the Control cell).
    lift_vs_other_cells : dict of str to float
        Point lift versus every other non-Control cell, keyed by cell id (empty for Control).
    policy_summary : str
        The cell policy's ``describe()``.
    """

    id: str
    n_visitors: int
    # the cell's own mean outcome, then its lift over Control (point and 80% interval)
    observed_rpv: float
    observed_rpv_ci: tuple[float, float]
    lift_vs_control: float
    lift_vs_control_ci: tuple[float, float]
    # point lifts over the other non-Control cells, and how the cell routed visitors
    lift_vs_other_cells: dict[str, float]
    policy_summary: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "n_visitors": self.n_visitors, "observed_rpv": self.observed_rpv,
            "observed_rpv_ci": list(self.observed_rpv_ci),
            "lift_vs_control": self.lift_vs_control,
            "lift_vs_control_ci": list(self.lift_vs_control_ci),
            "lift_vs_other_cells": dict(self.lift_vs_other_cells),
            "policy_summary": self.policy_summary,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CellObservation:
        return cls(
            id=data["id"], n_visitors=int(data["n_visitors"]),
            observed_rpv=float(data["observed_rpv"]),
            observed_rpv_ci=(float(data["observed_rpv_ci"][0]), float(data["observed_rpv_ci"][1])),
            lift_vs_control=float(data["lift_vs_control"]),
            lift_vs_control_ci=(float(data["lift_vs_control_ci"][0]),
                                float(data["lift_vs_control_ci"][1])),
            lift_vs_other_cells={k: float(v) for k, v in data["lift_vs_other_cells"].items()},
            policy_summary=data["policy_summary"],
        )


def _realised_level_draws(posterior: Any, observed: ObservedExperimentData) -> np.ndarray:
    """Draws of each visitor's expected outcome under the arm it received, shape (n, S)."""
    arm = observed.treatment_index()
    if callable(getattr(posterior, "level_samples", None)):
        level = np.asarray(posterior.level_samples())
    else:
        p = getattr(posterior, "p_samples", None)
        sev = getattr(posterior, "sev_samples", None)
        if p is None or sev is None:
            msg = (
                "the posterior carries no per-visitor level draws (neither level_samples() nor "
                "p_samples/sev_samples); refit keeping per-visitor draws"
            )
            raise ValueError(msg)
        level = np.asarray(p) * np.asarray(sev)
    if level.ndim != 3 or level.shape[0] != arm.shape[0]:
        msg = (f"posterior level draws have shape {level.shape}; expected (n={arm.shape[0]}, S, "
               "K)")
        raise ValueError(msg)
    return level[np.arange(arm.shape[0]), :, arm].astype(np.float64)


def compute_cell_observations(
    posterior: Any, cells: Sequence[Cell], cell_assignment: np.ndarray
) -> list[CellObservation]:
    """Per-cell observed performance, with intervals from the joint posterior.

    Parameters
    ----------
    posterior : posterior
        The round's posterior; needs ``observed`` and per-visitor level draws
        (``level_samples()`` of shape (n, S, K), or hurdle ``p_samples``/``sev_samples``).
    cells : sequence of Cell
        The round's cells; one observation per cell, in this order. One must be ``"control"``.
    cell_assignment : numpy.ndarray
        Cell id per visitor row of ``posterior.observed.visitors()``; rows that belong to no
        cell (earlier rounds) carry any other value.

    Returns
    -------
    list of CellObservation

    Raises
    ------
    ValueError
        No observed data or draws on the posterior, a length mismatch, a cell without
        visitors, or no Control cell.

    Notes
    -----
    The point estimates are empirical means of the cells' outcomes. For the intervals, each
    visitor contributes the draws of its expected outcome under the arm it actually received;
    a cell's per-draw mean over its members is reduced to an equal-tailed 80% interval
    (widened by the posterior's coverage correction when it has one). Lifts use the per-draw
    difference of the two cells' means.
    """
    from pytyche.analysis import credible_interval  # lazy: keeps the import light

    observed = getattr(posterior, "observed", None)
    if observed is None:
        msg = "the posterior carries no observed data; fit it on ObservedExperimentData"
        raise ValueError(msg)
    assignment = np.asarray(cell_assignment, dtype=object)
    if assignment.shape != (observed.n_visitors,):
        msg = (f"cell_assignment has shape {assignment.shape}; expected one cell id per visitor "
               f"({observed.n_visitors},)")
        raise ValueError(msg)
    ids = [c.id for c in cells]
    if CONTROL_CELL not in ids:
        msg = f"cells {ids} have no {CONTROL_CELL!r} cell; per-cell lifts are measured against it"
        raise ValueError(msg)
    draws = _realised_level_draws(posterior, observed)
    outcome = observed.outcome()
    calibration = getattr(posterior, "calibration", None)
    means: dict[str, np.ndarray] = {}
    points: dict[str, float] = {}
    counts: dict[str, int] = {}
    for c in cells:
        members = assignment == c.id
        n = int(np.count_nonzero(members))
        if n == 0:
            msg = f"cell {c.id!r} has no assigned visitors this round; drop it or give it weight"
            raise ValueError(msg)
        counts[c.id] = n
        means[c.id] = draws[members].mean(axis=0)
        points[c.id] = float(outcome[members].mean())

    def interval(x: np.ndarray) -> tuple[float, float]:
        low, high = credible_interval(x, CELL_LEVEL, calibration=calibration)
        return float(low), float(high)

    out = []
    for c in cells:
        if c.id == CONTROL_CELL:
            lift, lift_ci, others = 0.0, (0.0, 0.0), {}
        else:
            lift = points[c.id] - points[CONTROL_CELL]
            lift_ci = interval(means[c.id] - means[CONTROL_CELL])
            others = {o: points[c.id] - points[o] for o in ids if o not in (c.id, CONTROL_CELL)}
        out.append(CellObservation(
            id=c.id, n_visitors=counts[c.id], observed_rpv=points[c.id],
            observed_rpv_ci=interval(means[c.id]), lift_vs_control=lift,
            lift_vs_control_ci=lift_ci, lift_vs_other_cells=others,
            policy_summary=c.policy.describe(),
        ))
    return out


@dataclass(frozen=True, slots=True)
class Experiment:
    """One completed round of a sequential experiment.

    Attributes
    ----------
    round_idx : int
        Zero-based round index.
    posterior : object or None
        The posterior fitted on the cumulative data (``None`` for a round read back from a
        store: posteriors are not persisted, only their summaries).
    analysis : AnalysisResult or None
        Its analysis (``None`` likewise for a restored round).
    cells_shipped : list of Cell
        The cells that served the round.
    cell_observations : list of CellObservation
        One per shipped cell, same order.
    next_recommendation : NextRoundPlan or None
        The engine's plan for the next round.
    truth_comparison : TruthComparison or None
        Sim mode only.
    """

    round_idx: int
    posterior: Any
    analysis: AnalysisResult | None
    cells_shipped: list[Cell]
    cell_observations: list[CellObservation]
    next_recommendation: Any  # a NextRoundPlan or None; see the note on Round.plan
    truth_comparison: Any = None

    @property
    def observed(self) -> ObservedExperimentData | None:
        """The cumulative data the posterior was fitted on (``None`` when restored)."""
        return getattr(self.posterior, "observed", None)

    @property
    def restored(self) -> bool:
        """Whether the round was read back from a store (no posterior in memory)."""
        return self.posterior is None

    def summary_one_line(self) -> str:
        """A deterministic one-line summary of the round."""
        cells = ", ".join(
            f"{o.id} {o.observed_rpv:.3f} (n={o.n_visitors})" for o in self.cell_observations
        )
        text = f"round {self.round_idx}: observed mean outcome per cell: {cells}."
        if self.analysis is not None:
            decisions = ", ".join(f"{t} {s.decision.value}"
                                  for t, s in self.analysis.recommendations.items())
            n_segments = len(self.analysis.segments)
            text += f" Decisions versus control: {decisions}; {n_segments} segment(s)."
        if self.truth_comparison is not None:
            gap = getattr(self.truth_comparison, "oracle_gap_rpv", None)
            if gap is not None:
                text += f" Oracle gap {gap:.4f} per visitor."
        return text


@dataclass(frozen=True, slots=True)
class Round:
    """What went into one round: the plan shipped and the round's own data.

    Attributes
    ----------
    round_idx : int
        Zero-based round index.
    plan : NextRoundPlan
        The plan whose cells served the round.
    observed : ObservedExperimentData
        The round's visitors only (not cumulative).
    truth : CalibrationTruth or None
        Sim mode only; aligned with ``observed.visitors()``.
    """

    round_idx: int
    # A NextRoundPlan. It is typed in the docstring only: recommendation.py, which defines it,
    # reads these records, and importing it here would make the two modules a cycle.
    plan: Any
    observed: ObservedExperimentData
    truth: CalibrationTruth | None = None

    @property
    def n_visitors(self) -> int:
        return self.observed.n_visitors
