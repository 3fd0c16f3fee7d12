"""The cumulative data set: every round's rows in one experiment, and its truth.

Row order of the cumulative data
--------------------------------
Variants follow the treatments universe (control first), each concatenating its rows from
every round in round order: all rounds of the control, then all rounds of the next treatment,
and so on. Arrays aligned with one round's own rows (truth, cell ids) are moved into that
order with the position maps :func:`build_cumulative` returns (:func:`stitch_rounds`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from pytyche.contracts import (
    AlignedVisitorArray,
    CalibrationTruth,
    ObservedExperimentData,
    VariantData,
)

__all__ = ["build_cumulative", "cumulative_truth", "stitch_rounds"]


def build_cumulative(
    rounds: Sequence[ObservedExperimentData], treatments: Sequence[str] | None = None
) -> tuple[ObservedExperimentData, list[np.ndarray]]:
    """Concatenate rounds into one cumulative data set.

    Parameters
    ----------
    rounds : sequence of ObservedExperimentData
        Each round's own data, in round order.
    treatments : sequence of str or None, default=None
        Variant order of the result (names never seen are skipped); ``None`` means
        first-seen order.

    Returns
    -------
    cumulative : ObservedExperimentData
        Variant-major: every round's rows of the first variant, then of the next, ...
    positions : list of numpy.ndarray
        ``positions[r][i]`` is the cumulative row of row ``i`` of round ``r``'s own
        ``visitors()`` order.
    """
    seen: list[str] = []
    for data in rounds:
        seen.extend(v.name for v in data.variants if v.name not in seen)
    order = [t for t in treatments if t in seen] if treatments is not None else seen
    order += [t for t in seen if t not in order]
    # First cumulative row of each (round, variant) block, walking variant-major.
    block_first: dict[tuple[int, str], int] = {}
    next_row = 0
    for name in order:
        for r, data in enumerate(rounds):
            sizes = {v.name: v.n_visitors for v in data.variants}
            if name in sizes:
                block_first[(r, name)] = next_row
                next_row += sizes[name]
    positions = []
    for r, data in enumerate(rounds):
        blocks = [block_first[(r, v.name)] + np.arange(v.n_visitors) for v in data.variants]
        positions.append(np.concatenate(blocks))
    variants = []
    for name in order:
        frames = [v.visitors for data in rounds for v in data.variants if v.name == name]
        variants.append(VariantData.from_visitors(name, pd.concat(frames, ignore_index=True)))
    schemas = [data.schema for data in rounds]
    same = all(s is not None and s == schemas[0] for s in schemas)
    cumulative = ObservedExperimentData(  # differing schemas: re-infer on the whole data
        experiment_id=rounds[0].experiment_id, metric=rounds[0].metric, variants=variants,
        schema=schemas[0] if same else None,
    )
    return cumulative, positions


def stitch_rounds(arrays: Sequence[np.ndarray], positions: Sequence[np.ndarray],
                  n_total: int) -> np.ndarray:
    """Place per-round arrays (first axis = the round's own rows) into cumulative order."""
    first = np.asarray(arrays[0])
    out = np.empty((n_total, *first.shape[1:]), dtype=first.dtype)
    for pos, arr in zip(positions, arrays, strict=True):
        out[pos] = np.asarray(arr)
    return out


def cumulative_truth(
    truths: Sequence[CalibrationTruth], positions: Sequence[np.ndarray], n_total: int
) -> CalibrationTruth:
    """Merge per-round truths into one aligned with the cumulative rows.

    Per-visitor arrays are stitched with :func:`stitch_rounds`; ``effect`` and each effect
    component are visitor-weighted means.

    Raises
    ------
    ValueError
        The rounds disagree on the metric, on the effect components, or on which per-visitor
        fields they carry.
    """
    first = truths[0]
    for t in truths[1:]:
        if t.metric_id != first.metric_id or set(t.effect_components) != set(
            first.effect_components
        ):
            msg = (f"round truths disagree: metric {first.metric_id!r} vs {t.metric_id!r}, "
                   f"components {sorted(first.effect_components)} vs "
                   f"{sorted(t.effect_components)}")
            raise ValueError(msg)
    weights = np.array([len(p) for p in positions], dtype=np.float64)
    weights /= weights.sum()

    def mean_of(values: Sequence[float]) -> float:
        return float(np.dot(weights, np.asarray(values, dtype=np.float64)))

    def stitch(entries: Sequence[AlignedVisitorArray]) -> AlignedVisitorArray:
        return AlignedVisitorArray(values=stitch_rounds([e.values for e in entries], positions,
                                                        n_total), n_visitors=n_total)

    fields: dict[str, Any] = {}
    for f in dataclasses.fields(CalibrationTruth):
        values = [getattr(t, f.name) for t in truths]
        if f.name in ("effect", "metric_id", "metric_family", "effect_components"):
            continue
        if all(v is None for v in values):
            fields[f.name] = None
            continue
        if any(v is None for v in values):
            msg = f"truth field {f.name!r} is set in some rounds but not in others"
            raise ValueError(msg)
        if isinstance(values[0], list):
            if len({len(v) for v in values}) != 1:
                msg = f"truth field {f.name!r} changes length between rounds"
                raise ValueError(msg)
            fields[f.name] = [stitch([v[i] for v in values]) for i in range(len(values[0]))]
        else:
            fields[f.name] = stitch(values)
    return CalibrationTruth(
        effect=mean_of([t.effect for t in truths]),
        metric_id=first.metric_id,
        metric_family=first.metric_family,
        effect_components={k: mean_of([t.effect_components[k] for t in truths])
                           for k in first.effect_components},
        **fields,
    )
