"""Sim mode: a registered scenario template as a :data:`~pytyche.experiment.sequential.Generator`.

Each round draws fresh visitors from the template, splits them across the plan's cells by
weight, lets each cell's policy pick every member's treatment (a policy tree routes visitors
at this point, on their features), and observes outcomes through the generators' external
assignment hook. The truth comes back aligned with the observed rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pytyche.contracts import (
    RESERVED_CELL_COLUMN,
    RESERVED_ROUND_COLUMN,
    CalibrationTruth,
    ObservedExperimentData,
    VariantData,
)
from pytyche.experiment.cells import Cell, blend_probabilities
from pytyche.experiment.policies import assign_treatments
from pytyche.experiment.recommendation import NextRoundPlan
from pytyche.experiment.sequential import Generator

__all__ = ["allocate_cells", "simulated_experiment_generator"]


def allocate_cells(cells: Sequence[Cell], n: int, rng: np.random.Generator) -> np.ndarray:
    """Cell id of each of ``n`` visitors: counts proportional to the weights, order shuffled.

    Counts are ``floor(w·n)`` plus one for the largest remainders, so they always add up to
    ``n`` and a cell with ``w·n >= 1`` is never left empty.
    """
    weights = np.array([c.weight for c in cells], dtype=np.float64)
    raw = weights / weights.sum() * n
    counts = np.floor(raw).astype(np.int64)
    short = n - int(counts.sum())
    if short > 0:
        counts[np.argsort(-(raw - counts), kind="stable")[:short]] += 1
    labels = np.repeat(np.array([c.id for c in cells], dtype=object), counts)
    return labels[rng.permutation(n)]


def simulated_experiment_generator(
    *,
    template: str,
    metric: str,
    effect_scale: float,
    K: int,
    seed: int = 0,
    treatment_names: Sequence[str] | None = None,
    experiment_id: str | None = None,
    **template_kwargs: Any,
) -> Generator:
    """Wrap a scenario template as a sim-mode generator.

    Parameters
    ----------
    template : str
        A key of :data:`pytyche.generators.TEMPLATES`.
    metric : str
        Canonical metric id (e.g. ``"revenue_per_visitor"``).
    effect_scale : float
        Effect amplitude passed to the template.
    K : int
        Number of arms, control included (>= 2).
    seed : int, default=0
        Master seed; round ``r`` draws from ``SeedSequence((seed, r))``, so a round replayed
        with the same plan is identical and different rounds draw fresh visitors.
    treatment_names : sequence of str or None, default=None
        K distinct names replacing the template's (control first). Pass the same names as the
        experiment's ``treatments=``.
    experiment_id : str or None, default=None
        Id of the observed data (default ``"sim-<template>"``).
    **template_kwargs
        Passed to the template (``n_nuisance=``, ``baseline_rate=``, ...).

    Returns
    -------
    Generator
        ``generator(round_idx, plan) -> (observed, truth)``. The plan must carry
        ``n_visitors`` (the loop sets it from the schedule). Every visitor frame has the
        reserved ``cell`` and ``round`` columns and the propensity columns holding the
        cell-weight blend ``P(Z = k | x) = sum_c w_c · P_c(k | x)``. Treatments that receive
        nobody in a round (dropped ones) are left out of that round's data.

    Raises
    ------
    ValueError
        Unknown template, ``K < 2``, or ``treatment_names`` that are not K distinct names.
    """
    from pytyche.generators import TEMPLATES

    if template not in TEMPLATES:
        msg = f"template={template!r} is not registered; use one of {sorted(TEMPLATES)}"
        raise ValueError(msg)
    if not isinstance(K, int) or K < 2:
        msg = f"K={K!r} must be an int >= 2 (control plus at least one treatment)"
        raise ValueError(msg)
    scenario = TEMPLATES[template](metric, effect_scale, K, **template_kwargs)
    names = tuple(treatment_names) if treatment_names is not None else scenario.treatment_names
    if len(names) != K or len(set(names)) != K:
        msg = f"treatment_names={list(names)} must be exactly K={K} distinct names, control first"
        raise ValueError(msg)
    exp_id = experiment_id or f"sim-{template}"
    schema = scenario.schema

    def generate(round_idx: int, plan: NextRoundPlan) -> tuple[ObservedExperimentData,
                                                               CalibrationTruth | None]:
        from pytyche.generators import (
            CLUSTER_ID_COLUMN,
            AssignmentConfig,
            assign_and_observe,
            build_truth,
            compute_potential_outcomes,
            sample_features,
        )

        n = plan.n_visitors
        if n is None or n < 1:
            msg = (f"plan.n_visitors={n!r}: the simulated generator needs the round size; the "
                   "loop sets it from the schedule")
            raise ValueError(msg)
        unknown = [t for t in plan.treatments if t not in names]
        if unknown:
            msg = f"plan treatments {unknown} are not arms of this generator {list(names)}"
            raise ValueError(msg)
        feat_seq, route_seq, obs_seq = np.random.SeedSequence((seed, round_idx)).spawn(3)
        features = sample_features(scenario.feature_sampler, np.random.default_rng(feat_seq), n)
        features = features.reset_index(drop=True)
        truth_result = compute_potential_outcomes(features, scenario.metric_mode)
        visitors = features.drop(columns=[CLUSTER_ID_COLUMN], errors="ignore")

        route_rng = np.random.default_rng(route_seq)
        cell_ids = allocate_cells(plan.cells, n, route_rng)
        z = np.zeros(n, dtype=np.int64)
        for cell in plan.cells:  # fixed cell order: the draws depend only on (seed, round, plan)
            rows = np.flatnonzero(cell_ids == cell.id)
            if rows.size:
                z[rows] = assign_treatments(cell.policy, visitors.iloc[rows], names, route_rng)
        propensity = blend_probabilities(plan.cells, visitors, names)

        tagged = features.assign(**{RESERVED_CELL_COLUMN: cell_ids.astype(str),
                                    RESERVED_ROUND_COLUMN: round_idx})
        variants = assign_and_observe(
            tagged, truth_result, AssignmentConfig(treatment_probabilities=(1.0 / K,) * K),
            scenario.metric_mode.metric_id, np.random.default_rng(obs_seq),
            treatment_assignment=z, assignment_probabilities=propensity, treatment_names=names,
        )
        kept = [v for v in variants if v.n_visitors > 0]
        order = np.concatenate([np.asarray(v.visitors.index, dtype=np.int64) for v in kept])
        # Truth in the observed row order: the surfaces are deterministic in the features.
        reordered = compute_potential_outcomes(
            features.take(order).reset_index(drop=True), scenario.metric_mode
        )
        truth = build_truth(reordered, scenario.metric_mode)
        observed = ObservedExperimentData(
            experiment_id=exp_id, metric=scenario.metric_mode.metric_id,
            variants=tuple(VariantData.from_visitors(v.name, v.visitors.reset_index(drop=True))
                           for v in kept),
            schema=schema,
        )
        return observed, truth

    return generate

