"""Cells: the assignment cohorts that share one round's traffic.

A round's traffic is split across cells by weight; each cell routes its visitors to treatments
through its :class:`~pytyche.experiment.policies.Policy`. The canonical structure is a Control
cell (baseline only), an Explore cell (uniform over the active treatments) and, from the second
round on, one or more Optimized cells (a policy tree with per-segment Thompson shares).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

    from pytyche.experiment.policies import Policy

__all__ = [
    "CONTROL_CELL",
    "EXPLORE_CELL",
    "OPTIMIZED_CELL",
    "WEIGHT_TOLERANCE",
    "Cell",
    "blend_probabilities",
    "validate_cell_weights",
]

#: Id of the canonical Control cell; per-cell lifts are measured against it.
CONTROL_CELL = "control"
#: Id of the canonical Explore cell.
EXPLORE_CELL = "explore"
#: Id (or id prefix, when a round carries several) of the engine's Optimized cell.
OPTIMIZED_CELL = "optimized"
#: How far a round's cell weights may sum away from 1.
WEIGHT_TOLERANCE = 1e-6


@dataclass(frozen=True, slots=True)
class Cell:
    """One assignment cohort of a round.

    Parameters
    ----------
    id : str
        Cell id, recorded per visitor in the reserved ``cell`` column. The Control cell must be
        called ``"control"``.
    policy : Policy
        How the cell routes each of its visitors to a treatment.
    weight : float
        Share of the round's traffic, in (0, 1].

    Examples
    --------
    >>> from pytyche.experiment import BaselinePolicy, UniformPolicy
    >>> cells = [Cell("control", BaselinePolicy(), 0.5), Cell("explore", UniformPolicy(), 0.5)]
    >>> validate_cell_weights(cells)
    """

    id: str
    policy: Policy
    weight: float

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            msg = f"Cell: id={self.id!r} must be a non-empty string such as 'explore'"
            raise ValueError(msg)
        weight = float(self.weight)
        if not (math.isfinite(weight) and 0.0 < weight <= 1.0):
            msg = f"Cell {self.id!r}: weight={self.weight!r} not in (0, 1]; use a share like 0.3"
            raise ValueError(msg)
        object.__setattr__(self, "weight", weight)
        if not callable(getattr(self.policy, "probabilities", None)):
            msg = (
                f"Cell {self.id!r}: policy {self.policy!r} has no probabilities(visitors, "
                "treatments) method; use BaselinePolicy, UniformPolicy, ThompsonPolicy, "
                "TreePolicy or a class implementing the Policy protocol"
            )
            raise TypeError(msg)

    @property
    def name(self) -> str:
        """Alias of :attr:`id`."""
        return self.id


def validate_cell_weights(cells: Sequence[Cell]) -> None:
    """Check that ``cells`` can serve one round.

    Parameters
    ----------
    cells : sequence of Cell
        The round's cells.

    Raises
    ------
    ValueError
        No cells, duplicate ids, or weights that do not sum to 1 (within
        :data:`WEIGHT_TOLERANCE`).
    """
    if not cells:
        msg = "a round needs at least one cell; pass e.g. [Cell('control', BaselinePolicy(), 1.0)]"
        raise ValueError(msg)
    ids = [c.id for c in cells]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        msg = f"cell ids must be unique within a round; {dupes} appear more than once in {ids}"
        raise ValueError(msg)
    total = math.fsum(c.weight for c in cells)
    if abs(total - 1.0) > WEIGHT_TOLERANCE:
        weights = {c.id: c.weight for c in cells}
        msg = (
            f"cell weights {weights} sum to {total:.9g}, not 1 (tolerance {WEIGHT_TOLERANCE:g}); "
            "rescale them so they add up to 1"
        )
        raise ValueError(msg)


def blend_probabilities(
    cells: Sequence[Cell], visitors: pd.DataFrame, treatments: Sequence[str]
) -> np.ndarray:
    """Probability of each treatment for each visitor under a round's whole cell structure.

    The cells are checked with :func:`validate_cell_weights`, then mixed by
    :func:`pytyche.analysis._blend.blend_probabilities`, the one implementation (analysis
    measures a round's regret under the same mixture); see it for the parameters. The import
    is deferred so that importing the experiment layer loads neither the analysis layer nor
    scikit-learn.
    """
    from pytyche.analysis._blend import blend_probabilities as blend

    validate_cell_weights(cells)
    return blend(cells, visitors, treatments)
