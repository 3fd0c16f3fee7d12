"""What the loop checks of a round before fitting it: the plan's cells and the round's data."""

from __future__ import annotations

import dataclasses
from typing import Any

from pytyche.contracts import (
    RESERVED_CELL_COLUMN,
    RESERVED_ROUND_COLUMN,
    CalibrationTruth,
    ObservedExperimentData,
    VariantData,
    propensity_columns,
)
from pytyche.experiment._plan import NextRoundPlan
from pytyche.experiment.cells import CONTROL_CELL, blend_probabilities
from pytyche.experiment.experiment import Round

__all__ = ["PAST_ROUNDS", "check_round_cells", "prepare_round"]

#: Cell id given to earlier rounds' rows when scoring the current round's cells.
PAST_ROUNDS = "__past__"


def check_round_cells(plan: NextRoundPlan) -> None:
    """Refuse a round whose cells use the loop's reserved id or have no Control cell."""
    ids = [c.id for c in plan.cells]
    if PAST_ROUNDS in ids:
        msg = f"cell id {PAST_ROUNDS!r} is reserved by the loop; rename that cell"
        raise ValueError(msg)
    if CONTROL_CELL not in ids:
        msg = (f"the round's cells {ids} have no {CONTROL_CELL!r} cell; per-cell lifts are "
               "measured against it, so keep one")
        raise ValueError(msg)


def prepare_round(
    data: ObservedExperimentData, truth: CalibrationTruth | None, plan: NextRoundPlan,
    round_idx: int, *, treatments: list[str], first: Round | None,
) -> ObservedExperimentData:
    """Check a round's data and complete its per-visitor record (round, propensities).

    ``treatments`` is the experiment's universe, ``first`` its first round (``None`` before
    one was played): later rounds must keep its experiment id, metric and sim/real mode.
    """
    if not isinstance(data, ObservedExperimentData):
        msg = (f"the generator returned {type(data).__name__} for round {round_idx}; it "
               "must return (ObservedExperimentData, CalibrationTruth or None)")
        raise TypeError(msg)
    for v in data.variants:
        if RESERVED_CELL_COLUMN not in v.visitors.columns:
            msg = (f"round {round_idx} data for treatment {v.name!r} lacks the reserved "
                   f"{RESERVED_CELL_COLUMN!r} column; generators must record the cell that "
                   "allocated each visitor")
            raise ValueError(msg)
    unknown = sorted(set(data.treatments) - set(treatments))
    if unknown:
        msg = (f"round {round_idx} data has treatments {unknown} outside the experiment's "
               f"treatments {treatments}")
        raise ValueError(msg)
    plan_ids = {c.id for c in plan.cells}
    cell_ids = data.column(RESERVED_CELL_COLUMN)
    unknown = sorted({str(c) for c in cell_ids} - plan_ids)
    if unknown:
        msg = (f"round {round_idx} {RESERVED_CELL_COLUMN!r} column holds ids {unknown} that "
               f"match no cell of the round's plan {sorted(plan_ids)}")
        raise ValueError(msg)
    if first is not None:
        if data.experiment_id != first.observed.experiment_id:
            msg = (f"round data experiment_id {data.experiment_id!r} does not match the "
                   f"experiment's {first.observed.experiment_id!r}")
            raise ValueError(msg)
        if data.metric != first.observed.metric:
            msg = (f"round data metric {data.metric!r} does not match the experiment's "
                   f"{first.observed.metric!r}")
            raise ValueError(msg)
        if (truth is None) != (first.truth is None):
            before = "sim (truth set)" if first.truth is not None else "real (truth None)"
            msg = (f"sim/real mode may not change between rounds: earlier rounds were "
                   f"{before}, round {round_idx} returned truth "
                   f"{'set' if truth is not None else 'None'}")
            raise ValueError(msg)
    if truth is not None and truth.n_visitors not in (0, data.n_visitors):
        msg = (f"round {round_idx} truth covers {truth.n_visitors} visitors but the data has "
               f"{data.n_visitors}")
        raise ValueError(msg)

    cols = list(propensity_columns(len(treatments)))
    variants = []
    for v in data.variants:
        frame = v.visitors
        present = [c for c in cols if c in frame.columns]
        if present and len(present) != len(cols):
            msg = (f"round {round_idx} treatment {v.name!r} has propensity columns {present}; "
                   f"give all of {cols} (over the treatments {treatments}) or none")
            raise ValueError(msg)
        extra: dict[str, Any] = {}
        if RESERVED_ROUND_COLUMN not in frame.columns:
            extra[RESERVED_ROUND_COLUMN] = round_idx
        elif not (frame[RESERVED_ROUND_COLUMN] == round_idx).all():
            msg = (f"round {round_idx} treatment {v.name!r}: the {RESERVED_ROUND_COLUMN!r} "
                   f"column holds other rounds; it must equal {round_idx}")
            raise ValueError(msg)
        if not present:
            probs = blend_probabilities(plan.cells, frame, treatments)
            extra.update({c: probs[:, j + 1] for j, c in enumerate(cols)})
        if extra:
            frame = frame.assign(**extra)
        variants.append(VariantData.from_visitors(v.name, frame) if extra else v)
    return dataclasses.replace(data, variants=tuple(variants))
