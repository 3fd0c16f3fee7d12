"""The propensity a round's cell structure gives each visitor: the weighted mixture of its cells.

It lives here, below the experiment loop, because analysis needs it too: the regret of a shipped
round (:func:`pytyche.analysis.loop_regret`) is measured under exactly the probabilities the
loop served. The cells are any objects with a ``weight`` and a ``policy`` whose
``probabilities(visitors, treatments)`` returns rows that sum to 1, such as
:class:`pytyche.experiment.Cell`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["blend_probabilities"]

#: How far a blended row may sum away from 1 (cell weights are checked to 1e-6 when a round's
#: cells are built; this leaves room for the policies' own rounding).
_ROW_TOLERANCE = 1e-5


class _WeightedPolicy(Protocol):
    @property
    def weight(self) -> float: ...

    @property
    def policy(self) -> Any: ...


def blend_probabilities(
    cells: Sequence[_WeightedPolicy], visitors: pd.DataFrame, treatments: Sequence[str]
) -> np.ndarray:
    """Probability of each treatment for each visitor under a round's whole cell structure.

    A visitor lands in cell ``c`` with probability ``w_c`` and then receives treatment ``k``
    with probability ``P_c(k | x)``, so its propensity is ``sum_c w_c · P_c(k | x)``.

    Parameters
    ----------
    cells : sequence of Cell
        The round's cells (weights summing to 1).
    visitors : pandas.DataFrame
        Visitor features, one row per visitor.
    treatments : sequence of str
        Column order of the result (the experiment's treatments universe, control first).

    Returns
    -------
    numpy.ndarray
        Shape (n, len(treatments)); rows sum to 1.

    Raises
    ------
    ValueError
        No cells, or the blended rows do not sum to 1 (weights that do not add up to 1, or a
        policy whose probabilities do not).
    """
    if not cells:
        msg = "a round needs at least one cell; pass e.g. [Cell('control', BaselinePolicy(), 1.0)]"
        raise ValueError(msg)
    out = np.zeros((len(visitors), len(treatments)), dtype=np.float64)
    for c in cells:
        out += c.weight * np.asarray(c.policy.probabilities(visitors, treatments), dtype=np.float64)
    off = np.abs(out.sum(axis=1) - 1.0)
    if off.size and float(off.max()) > _ROW_TOLERANCE:
        weights = {getattr(c, "id", i): c.weight for i, c in enumerate(cells)}
        msg = (
            f"the cells' blended probabilities sum to {float(out.sum(axis=1)[off.argmax()]):.9g} "
            f"for a visitor, not 1 (cell weights {weights}); weights must add up to 1 and each "
            "policy's probabilities per visitor too"
        )
        raise ValueError(msg)
    return out
