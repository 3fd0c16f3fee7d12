"""The round-by-round loop: :class:`SequentialExperiment` and :func:`sequential_experiment`.

One call of :meth:`SequentialExperiment.advance` (or ``next(exp)``) runs one round:

1. size the round from the schedule and take the current plan (the cold-start Control/Explore
   split in round 0, the engine's plan afterwards, or the caller's cells);
2. ask the generator for the round's visitors (and truth, in sim mode) under that plan;
3. check them against the plan and the experiment (cell ids, treatments, identity, mode) and
   complete the per-visitor record (``round`` and, when missing, the propensity columns);
4. refit on the cumulative data, analyse, score the round's cells, ask the recommendation
   engine for the next plan and, in sim mode, compare with the cumulative truth;
5. commit: write the round to the store (when there is one), then append to the history.

A failure before step 5 leaves the experiment as it was.

Row order of the cumulative data
--------------------------------
Variants follow the treatments universe (control first), each concatenating its rows from
every round in round order: all rounds of the control, then all rounds of the next treatment,
and so on. Arrays aligned with one round's own rows (truth, cell ids) are moved into that
order with the position maps :func:`build_cumulative` returns (:func:`stitch_rounds`).
"""

from __future__ import annotations

import dataclasses
import math
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from pytyche.bcf.results import corrects_coverage
from pytyche.contracts import (
    RESERVED_CELL_COLUMN,
    RESERVED_ROUND_COLUMN,
    AlignedVisitorArray,
    CalibrationTruth,
    ObservedExperimentData,
    VariantData,
    propensity_columns,
)
from pytyche.errors import StoreError, UncalibratedWarning
from pytyche.experiment.cells import CONTROL_CELL, Cell, blend_probabilities, validate_cell_weights
from pytyche.experiment.experiment import Experiment, Round, compute_cell_observations
from pytyche.experiment.policies import policy_from_dict, policy_to_dict
from pytyche.experiment.recommendation import (
    ExpectedLossRule,
    GraduationCandidate,
    GraduationRule,
    NextRoundPlan,
    cold_start_plan,
    recommend,
)
from pytyche.experiment.schedule import Schedule, schedule_from_dict, schedule_to_dict
from pytyche.experiment.store import ExperimentStore

if TYPE_CHECKING:  # pragma: no cover
    from pytyche.contracts import AnalysisResult

__all__ = [
    "Generator",
    "SequentialExperiment",
    "UncalibratedWarning",
    "build_cumulative",
    "cumulative_truth",
    "sequential_experiment",
    "stitch_rounds",
]

#: The data-source contract: ``generator(round_idx, plan) -> (observed, truth or None)``.
#: Sim-mode generators return the truth, real-data generators ``None``; every visitor frame
#: carries the reserved ``cell`` column, and may carry ``round`` and the propensity columns
#: (over the experiment's treatments universe; the loop fills them from the plan otherwise).
Generator = Callable[
    [int, NextRoundPlan], tuple[ObservedExperimentData, CalibrationTruth | None]
]

#: Cell id given to earlier rounds' rows when scoring the current round's cells.
_PAST_ROUNDS = "__past__"


# --------------------------------------------------------------------------------------------
# Cumulative assembly
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# The loop
# --------------------------------------------------------------------------------------------


def _storable(name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` as stored in the store's config; refuse what JSON cannot hold.

    A resumed experiment must run with the options of the original one, so an option that
    cannot be written is an error here rather than silently missing after ``resume``.
    """
    import json

    bad = []
    for key, value in options.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            bad.append(key)
    if bad:
        msg = (f"{name} {sorted(bad)} cannot be written to the experiment store (not JSON: "
               f"numbers, strings, lists and dicts only), so resume could not restore them; "
               "pass plain values, or run without store=")
        raise StoreError(msg)
    return dict(options)


def _calibration_record(calibration: Any) -> dict[str, Any] | None:
    """What the store keeps about the calibration: enough for resume to insist on it."""
    if calibration is None:
        return None
    return {"name": str(getattr(calibration, "name", type(calibration).__name__)),
            "applied": bool(getattr(calibration, "applied", True))}


class SequentialExperiment:
    """An adaptive experiment run round by round; iterate it to advance.

    The instance is its own iterator: ``next(exp)`` and ``exp.advance()`` run one round and
    return its :class:`~pytyche.experiment.experiment.Experiment`; iteration stops when the
    schedule is over. The configuration is fixed at construction; a single round's cells can
    be overridden with ``advance(cells=...)``.

    The loop assumes a designed experiment: the operator ships the plan's cells and
    policies, the platform assigns visitors by them, and every visitor's cell and assignment
    probabilities are recorded. Observational data with unknown confounding is out of scope.

    Parameters
    ----------
    generator : Generator
        ``generator(round_idx, plan) -> (observed, truth or None)``; see :data:`Generator`.
    schedule : Schedule
        Visitors per round and number of rounds.
    treatments : sequence of str
        The treatments universe, control first. Dropped treatments stay in it.
    cells : list of Cell or None, default=None
        Round-0 cells replacing the cold-start Control/Explore 50/50 split.
    min_control_weight, min_explore_weight : float, default=0.05
        Floors of the Control and Explore cells in engine-proposed plans.
    max_segment_depth : int, default=3
        Depth bound of the policy tree.
    min_segment_share : float, default=0.10
        Smallest population share of a segment.
    calibration : Calibration or None, default=None
        Coverage correction passed to every fit; ``None`` runs uncalibrated and warns once
        (:class:`~pytyche.errors.UncalibratedWarning`).
    graduation_rule : GraduationRule or None, default=None
        ``None`` means :class:`~pytyche.experiment.recommendation.ExpectedLossRule`.
    seed : int, default=0
        Master seed: round ``r`` is fitted with a seed drawn from
        ``SeedSequence((seed, r))``; it also seeds the policy tree's stability bootstrap.
    progress : bool, default=False
        Show the fits' progress bars and one line per round on stderr.
    store : str or path or None, default=None
        Directory in which every completed round is committed atomically; it must be new or
        empty (continue an existing one with :meth:`resume`).
    fit_config : GPUBCFConfig or None, default=None
        BCF settings of every fit (``None``: the spec defaults). This and the two option
        mappings below are the seam for small test and demo fits.
    fit_options : mapping or None, default=None
        Extra keyword arguments of ``pytyche.bcf.fit``.
    analysis_options : mapping or None, default=None
        Extra keyword arguments of ``pytyche.analysis.analyze`` (e.g. ``n_bootstrap``).

    Raises
    ------
    ValueError
        ``min_control_weight + min_explore_weight`` is not below 1, fewer than two
        treatments, or ``cells`` whose weights do not sum to 1.
    StoreError
        ``store`` already holds files.
    """

    def __init__(
        self,
        *,
        generator: Generator,
        treatments: Sequence[str],
        schedule: Schedule,
        seed: int = 0,
        calibration: Any = None,
        cells: list[Cell] | None = None,
        min_explore_weight: float = 0.05,
        min_control_weight: float = 0.05,
        min_segment_share: float = 0.10,
        max_segment_depth: int = 3,
        graduation_rule: GraduationRule | None = None,
        progress: bool = False,
        store: str | Path | None = None,
        fit_config: Any = None,
        fit_options: Mapping[str, Any] | None = None,
        analysis_options: Mapping[str, Any] | None = None,
    ) -> None:
        if min_control_weight + min_explore_weight >= 1.0:
            msg = (
                "min_control_weight + min_explore_weight must be < 1.0 to leave room for the "
                f"Optimized cell; got {min_control_weight} + {min_explore_weight} = "
                f"{min_control_weight + min_explore_weight}"
            )
            raise ValueError(msg)
        if min_control_weight < 0 or min_explore_weight < 0:
            msg = (f"min_control_weight={min_control_weight} and min_explore_weight="
                   f"{min_explore_weight} must be >= 0")
            raise ValueError(msg)
        names = list(treatments)
        if len(names) < 2 or len(set(names)) != len(names):
            msg = f"treatments={names} must list at least 2 distinct names, control first"
            raise ValueError(msg)
        if cells is not None:
            validate_cell_weights(cells)
        self._treatments = names
        self._cells = None if cells is None else list(cells)
        self._generator, self._schedule = generator, schedule
        self._min_control_weight = float(min_control_weight)
        self._min_explore_weight = float(min_explore_weight)
        self._max_segment_depth = int(max_segment_depth)
        self._min_segment_share = float(min_segment_share)
        self._calibration = calibration
        self._graduation_rule = graduation_rule
        self._seed = int(seed)
        self._progress = bool(progress)
        self._fit_config = fit_config
        self._fit_options = dict(fit_options or {})
        self._analysis_options = dict(analysis_options or {})
        self._history: list[Experiment] = []
        self._rounds: list[Round] = []
        self._current_plan: NextRoundPlan | None = None
        self._warned_uncalibrated = False
        self._store = ExperimentStore.create(store, self._config_dict()) if store else None

    # ---- configuration persistence -------------------------------------------------------

    def _config_dict(self) -> dict[str, Any]:
        """The configuration written to the store; refuses what resume could not restore."""
        rule = self._graduation_rule
        config = self._fit_config
        if config is not None and not callable(getattr(config, "to_dict", None)):
            msg = (f"fit_config of type {type(config).__name__} cannot be written to the "
                   "experiment store; pass a GPUBCFConfig")
            raise StoreError(msg)
        if rule is None or type(rule) is ExpectedLossRule:  # a subclass may change behaviour
            rule_record = None if rule is None else dataclasses.asdict(rule)
        else:  # kept by name only: resume asks for it again instead of using the default
            rule_record = {"custom": type(rule).__qualname__}
        return {
            "treatments": self._treatments,
            "schedule": schedule_to_dict(self._schedule),
            "cells": ([{"id": c.id, "weight": c.weight, "policy": policy_to_dict(c.policy)}
                       for c in self._cells] if self._cells is not None else None),
            "min_control_weight": self._min_control_weight,
            "min_explore_weight": self._min_explore_weight,
            "max_segment_depth": self._max_segment_depth,
            "min_segment_share": self._min_segment_share,
            "graduation_rule": rule_record,
            "seed": self._seed,
            "fit_config": None if config is None else config.to_dict(),
            "fit_options": _storable("fit_options", self._fit_options),
            "analysis_options": _storable("analysis_options", self._analysis_options),
            "calibration": _calibration_record(self._calibration),
        }

    @classmethod
    def resume(
        cls,
        store: str | Path,
        *,
        generator: Generator,
        schedule: Schedule | None = None,
        calibration: Any = None,
        graduation_rule: GraduationRule | None = None,
        progress: bool = False,
        fit_options: Mapping[str, Any] | None = None,
        analysis_options: Mapping[str, Any] | None = None,
        cells: list[Cell] | None = None,
    ) -> SequentialExperiment:
        """Continue an experiment from its store, after its last committed round.

        The configuration (treatments, schedule, floors, seed, fit settings) comes from the
        store; what cannot be stored (the generator, a calibration, a custom schedule, rule
        or round-0 cell policy) is passed again, and resume refuses to go on without it
        rather than silently using a default. With the same generator and seeds the
        remaining rounds equal those of an uninterrupted run. Restored rounds have no
        posterior in memory (``Experiment.posterior`` is ``None``); their plans, cell
        observations and truth comparisons are read back.

        Parameters
        ----------
        cells : list of Cell or None, default=None
            The round-0 cells, needed only when they used a custom policy (shipped policies
            are read back from the store).

        Raises
        ------
        StoreError
            The directory is not a store or is corrupted, or the experiment used a custom
            schedule, graduation rule or cell policy, or a calibration, and it was not passed
            again (the message names the argument).
        """
        st = ExperimentStore.open(store)
        cfg = st.config
        try:
            if schedule is None:
                if cfg.get("schedule") is None:
                    msg = (f"store {str(store)!r} used a custom schedule, which is not stored; "
                           "pass schedule= to resume")
                    raise StoreError(msg)
                schedule = schedule_from_dict(cfg["schedule"])
            stored_rule = cfg.get("graduation_rule")
            if graduation_rule is None and stored_rule is not None:
                if "custom" in stored_rule:
                    msg = (f"store {str(store)!r} used the custom graduation rule "
                           f"{stored_rule['custom']}, which is not stored; pass "
                           "graduation_rule= to resume")
                    raise StoreError(msg)
                graduation_rule = ExpectedLossRule(**stored_rule)
            stored_cal = cfg.get("calibration")
            if calibration is None and stored_cal is not None and not stored_cal["applied"]:
                from pytyche.calibrate import Calibration

                calibration = Calibration.skip()  # nothing to restore but the label
            if calibration is None and stored_cal is not None:
                msg = (f"store {str(store)!r} ran with calibration {stored_cal['name']!r}, "
                       "which is not stored; pass calibration= (the same Calibration) to "
                       "resume")
                raise StoreError(msg)
            fit_config = None
            if cfg.get("fit_config") is not None:
                from pytyche.bcf.config import GPUBCFConfig

                fit_config = GPUBCFConfig(**cfg["fit_config"])
            if cells is None and cfg.get("cells") is not None:
                custom = [c["id"] for c in cfg["cells"] if c["policy"].get("type") == "custom"]
                if custom:
                    msg = (f"store {str(store)!r}: round-0 cells {custom} used custom "
                           "policies, which are not stored; pass cells= to resume")
                    raise StoreError(msg)
                cells = [Cell(c["id"], policy_from_dict(c["policy"]), float(c["weight"]))
                         for c in cfg["cells"]]
            exp = cls(
                generator=generator, schedule=schedule, treatments=cfg["treatments"],
                cells=cells, min_control_weight=cfg["min_control_weight"],
                min_explore_weight=cfg["min_explore_weight"],
                max_segment_depth=cfg["max_segment_depth"],
                min_segment_share=cfg["min_segment_share"], calibration=calibration,
                graduation_rule=graduation_rule, seed=cfg["seed"], progress=progress,
                fit_config=fit_config,
                fit_options=fit_options if fit_options is not None else cfg.get("fit_options"),
                analysis_options=(analysis_options if analysis_options is not None
                                  else cfg.get("analysis_options")),
            )
        except (KeyError, TypeError) as err:
            msg = f"store {str(store)!r} has an unreadable configuration ({err})"
            raise StoreError(msg) from err
        for r in range(st.n_rounds):
            stored = st.read_round(r)
            exp._rounds.append(Round(r, stored.plan, stored.observed, stored.truth))
            exp._history.append(Experiment(
                round_idx=r, posterior=None, analysis=None, cells_shipped=list(stored.plan.cells),
                cell_observations=stored.cell_observations, next_recommendation=stored.next_plan,
                truth_comparison=stored.truth_comparison,
            ))
            exp._current_plan = stored.next_plan
        exp._store = st
        return exp

    # ---- iteration ------------------------------------------------------------------------

    def __iter__(self) -> SequentialExperiment:
        return self

    def __next__(self) -> Experiment:
        return self.advance()

    def advance(self, cells: list[Cell] | None = None) -> Experiment:
        """Play the next round: get its data, refit, analyze, plan; return the round's record.

        Parameters
        ----------
        cells : list of Cell or None, default=None
            This round's cells instead of the plan's (weights must sum to 1; the engine's
            floors do not apply). Later rounds go back to the engine's plans.

        Raises
        ------
        StopIteration
            The schedule is over.
        ValueError
            Bad override cells; round data without the ``cell`` column, with cell ids or
            treatments outside the plan or universe, or changing the experiment id, metric or
            sim/real mode.
        """
        round_idx = len(self._history)
        size = self._schedule.next_round_size(round_idx)
        if size is None:  # the schedule is exhausted
            raise StopIteration
        plan = self._current_plan or cold_start_plan(self._treatments, n_visitors=size)
        chosen = cells if cells is not None else (
            self._cells if self._current_plan is None else None)
        updates: dict[str, Any] = {"n_visitors": size}
        if chosen is not None:
            updates["cells"] = tuple(chosen)
        plan = dataclasses.replace(plan, **updates)
        ids = [c.id for c in plan.cells]
        if _PAST_ROUNDS in ids:
            msg = f"cell id {_PAST_ROUNDS!r} is reserved by the loop; rename that cell"
            raise ValueError(msg)
        if CONTROL_CELL not in ids:
            msg = (f"the round's cells {ids} have no {CONTROL_CELL!r} cell; per-cell lifts are "
                   "measured against it, so keep one")
            raise ValueError(msg)

        data, truth = self._generator(round_idx, plan)
        data = self._prepare_round(data, truth, plan, round_idx)
        if not corrects_coverage(self._calibration) and not self._warned_uncalibrated:
            self._warned_uncalibrated = True
            warnings.warn(
                "running uncalibrated BCF posteriors (no calibration, or Calibration.skip()): "
                "interval coverage may be optimistic at scale; pass "
                "calibration=Calibration.from_sweep(...) to sequential_experiment to correct "
                "it",
                UncalibratedWarning,
                stacklevel=3,
            )
        rounds = [r.observed for r in self._rounds] + [data]
        cumulative, positions = build_cumulative(rounds, self._treatments)
        n_total = cumulative.n_visitors
        analysis = self._fit_round(cumulative, round_idx)
        posterior = analysis.posterior

        assignment = np.full(n_total, _PAST_ROUNDS, dtype=object)
        assignment[positions[-1]] = data.column(RESERVED_CELL_COLUMN).astype(object)
        served = [c for c in plan.cells if np.any(assignment == c.id)]
        cell_observations = compute_cell_observations(posterior, served, assignment)

        next_plan = recommend(
            analysis,
            seed=self._seed,
            history=self._history,
            schedule=self._schedule,
            treatments=self._treatments,
            graduation_rule=self._graduation_rule,
            min_explore_weight=self._min_explore_weight,
            min_control_weight=self._min_control_weight,
            min_segment_share=self._min_segment_share,
            max_segment_depth=self._max_segment_depth,
            base_num_trees_tau=self._base_num_trees_tau(),
        )
        truth_comparison = None
        if truth is not None:
            from pytyche.analysis import evaluate_against_truth

            truths = [r.truth for r in self._rounds if r.truth is not None] + [truth]
            truth_comparison = evaluate_against_truth(
                analysis, cumulative_truth(truths, positions, n_total)
            )
        experiment = Experiment(
            round_idx=round_idx, cells_shipped=list(plan.cells), posterior=posterior,
            analysis=analysis, truth_comparison=truth_comparison,
            cell_observations=cell_observations, next_recommendation=next_plan,
        )
        if self._store is not None:
            self._store.commit_round(
                round_idx, plan=plan, observed=data, truth=truth, next_plan=next_plan,
                cell_observations=cell_observations, truth_comparison=truth_comparison,
                posterior_summary=_posterior_summary(analysis),
                summary={"line": experiment.summary_one_line(),
                         "n_visitors_round": data.n_visitors, "n_visitors_cumulative": n_total},
            )
        self._rounds.append(Round(round_idx, plan, data, truth))
        self._history.append(experiment)
        self._current_plan = next_plan
        return experiment

    def run_to_completion(self) -> SequentialExperiment:
        """Advance until the schedule ends or a graduation candidate appears; returns ``self``.

        Raises
        ------
        ValueError
            The schedule is open-ended (``n_rounds is None``): advance by hand instead.
        """
        if self._schedule.n_rounds is None:
            msg = ("run_to_completion needs a bounded schedule but schedule.n_rounds is None; "
                   "advance round by round or give the schedule n_rounds")
            raise ValueError(msg)
        while not self.has_graduation_candidate():
            try:
                self.advance()
            except StopIteration:
                break
        return self

    # ---- the per-round fit (test seam) ----------------------------------------------------

    def _base_num_trees_tau(self) -> int:
        config = self._fit_config
        if config is None:
            from pytyche.bcf.config import GPUBCFConfig

            config = GPUBCFConfig()
        return int(config.num_trees_tau)

    def _fit_round(self, cumulative: ObservedExperimentData, round_idx: int) -> AnalysisResult:
        """Fit the cumulative data and analyse it (override in tests to skip the MCMC).

        The fit seed is drawn from ``SeedSequence((seed, round_idx))``; rounds after the first
        use the τ-forest size the previous plan recommended.
        """
        from pytyche.analysis import analyze

        fit_seed = int(np.random.SeedSequence((self._seed, round_idx)).generate_state(1)[0])
        if self._progress:
            print(f"round {round_idx}: fitting {cumulative.n_visitors:,} cumulative visitors",
                  file=sys.stderr, flush=True)
        options = dict(self._fit_options)
        config = self._fit_config
        plan = self._current_plan
        if plan is not None and plan.fit_num_trees_tau is not None:
            if config is None:
                from pytyche.bcf.config import GPUBCFConfig

                config = GPUBCFConfig()
            config = dataclasses.replace(config, num_trees_tau=plan.fit_num_trees_tau)
        if config is not None:
            options["config"] = config
        if self._calibration is not None:
            options["calibration"] = self._calibration
        from pytyche.bcf import fit_for_metric

        with warnings.catch_warnings():
            # advance() has already said once that this experiment runs uncalibrated; the
            # per-fit warning of Calibration.skip() would repeat it every round.
            warnings.simplefilter("ignore", UncalibratedWarning)
            posterior = fit_for_metric(cumulative, seed=fit_seed, progress=self._progress,
                                       **options)
        analysis_options = {"max_depth": self._max_segment_depth,
                            "min_segment_share": self._min_segment_share,
                            "bootstrap_seed": self._seed, **self._analysis_options}
        if analysis_options.get("decisions", "design") == "design":
            # Every round is a look: round-by-round AIPW scores with the logged propensities
            # make the decisions' intervals anytime-valid confidence sequences.
            from pytyche.analysis import sequential_scores

            analysis_options.setdefault("design", sequential_scores(
                cumulative, cumulative.column(RESERVED_ROUND_COLUMN), seed=self._seed))
        return analyze(posterior, **analysis_options)

    # ---- validation -------------------------------------------------------------------------

    def _prepare_round(
        self, data: ObservedExperimentData, truth: CalibrationTruth | None, plan: NextRoundPlan,
        round_idx: int,
    ) -> ObservedExperimentData:
        """Check a round's data and complete its per-visitor record (round, propensities)."""
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
        unknown = sorted(set(data.treatments) - set(self._treatments))
        if unknown:
            msg = (f"round {round_idx} data has treatments {unknown} outside the experiment's "
                   f"treatments {self._treatments}")
            raise ValueError(msg)
        plan_ids = {c.id for c in plan.cells}
        cell_ids = data.column(RESERVED_CELL_COLUMN)
        unknown = sorted({str(c) for c in cell_ids} - plan_ids)
        if unknown:
            msg = (f"round {round_idx} {RESERVED_CELL_COLUMN!r} column holds ids {unknown} that "
                   f"match no cell of the round's plan {sorted(plan_ids)}")
            raise ValueError(msg)
        if self._rounds:
            first = self._rounds[0]
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

        cols = list(propensity_columns(len(self._treatments)))
        variants = []
        for v in data.variants:
            frame = v.visitors
            present = [c for c in cols if c in frame.columns]
            if present and len(present) != len(cols):
                msg = (f"round {round_idx} treatment {v.name!r} has propensity columns {present}; "
                       f"give all of {cols} (over the treatments {self._treatments}) or none")
                raise ValueError(msg)
            extra: dict[str, Any] = {}
            if RESERVED_ROUND_COLUMN not in frame.columns:
                extra[RESERVED_ROUND_COLUMN] = round_idx
            elif not (frame[RESERVED_ROUND_COLUMN] == round_idx).all():
                msg = (f"round {round_idx} treatment {v.name!r}: the {RESERVED_ROUND_COLUMN!r} "
                       f"column holds other rounds; it must equal {round_idx}")
                raise ValueError(msg)
            if not present:
                probs = blend_probabilities(plan.cells, frame, self._treatments)
                extra.update({c: probs[:, j + 1] for j, c in enumerate(cols)})
            if extra:
                frame = frame.assign(**extra)
            variants.append(VariantData.from_visitors(v.name, frame) if extra else v)
        return dataclasses.replace(data, variants=tuple(variants))

    # ---- state ------------------------------------------------------------------------------

    @property
    def history(self) -> list[Experiment]:
        """Completed rounds, oldest first (a copy)."""
        return list(self._history)

    @property
    def rounds(self) -> list[Round]:
        """What went into each completed round (plan shipped, the round's own data)."""
        return list(self._rounds)

    @property
    def current_round_idx(self) -> int:
        """Index the next round will get (= number of rounds played)."""
        return len(self._history)

    @property
    def latest(self) -> Experiment | None:
        """Most recent round's record; ``None`` until a round has been played."""
        return None if not self._history else self._history[-1]

    @property
    def next_recommendation(self) -> NextRoundPlan | None:
        """What the engine proposes for the coming round; ``None`` until a round was played."""
        latest = self.latest
        return None if latest is None else latest.next_recommendation

    @property
    def treatments(self) -> list[str]:
        """The treatments universe, control first."""
        return list(self._treatments)

    @property
    def store(self) -> ExperimentStore | None:
        """The store rounds are committed to, if any."""
        return self._store

    def cumulative_data(self) -> ObservedExperimentData | None:
        """All completed rounds' data in cumulative (variant-major) order."""
        if not self._rounds:
            return None
        return build_cumulative([r.observed for r in self._rounds], self._treatments)[0]

    # ---- capability checks ------------------------------------------------------------------

    def graduation_candidates(self, sustained_rounds: int = 2) -> list[GraduationCandidate]:
        """Latest candidates that cleared the graduation rule for ≥ ``sustained_rounds``."""
        plan = self.next_recommendation
        if plan is None:
            return []
        return [c for c in plan.graduation_candidates if c.sustained_rounds >= sustained_rounds]

    def has_graduation_candidate(self) -> bool:
        """Whether a candidate meets the rule's sustained-rounds bar (2 by default)."""
        rule = self._graduation_rule or ExpectedLossRule()
        return bool(self.graduation_candidates(rule.sustained_rounds))

    def has_credible_segments(self, stability_threshold: float = 0.80) -> bool:
        """Whether a latest-round segment is at least ``stability_threshold`` stable."""
        plan = self.next_recommendation
        if plan is None:
            return False
        return any(not math.isnan(s.stability_score) and s.stability_score >= stability_threshold
                   for s in plan.segments)

    def dropped_treatments(self) -> list[str]:
        """Treatments the engine has taken out of the active list (in universe order)."""
        active = set(() if self.next_recommendation is None else
                     self.next_recommendation.treatments)
        return [] if self.next_recommendation is None else [
            name for name in self._treatments if name not in active]

    @property
    def confidence(self) -> Literal["high", "medium", "low"]:
        """``high`` with credible segments and a graduation candidate, ``medium`` with
        credible segments only, ``low`` otherwise."""
        credible = self.has_credible_segments(0.80)
        if credible and self.has_graduation_candidate():
            return "high"
        return "medium" if credible else "low"

    @property
    def summary(self) -> str:
        """Deterministic prose about the experiment so far."""
        if not self._history:
            return (f"No rounds completed yet. Treatments: {', '.join(self._treatments)}; each "
                    "next(exp) or advance() runs one round.")
        latest = self._history[-1]
        plan = latest.next_recommendation
        assert plan is not None
        paragraphs = [
            f"{len(self._history)} round(s) completed; confidence is {self.confidence}. "
            f"Latest {latest.summary_one_line()}",
            plan.prose_summary,
        ]
        if candidates := self.graduation_candidates():
            listed = "; ".join(f"{c.treatment} (segment {c.segment.id})" for c in candidates)
            paragraphs.append(f"Ready to graduate: {listed}.")
        if gone := self.dropped_treatments():
            paragraphs.append("No longer tested: " + ", ".join(gone) + ".")
        return "\n\n".join(paragraphs)

    def report(self) -> dict[str, Any]:
        """JSON-ready record of every completed round (cells, observations, decisions, truth)."""
        rounds = []
        for exp, rnd in zip(self._history, self._rounds, strict=True):
            plan = exp.next_recommendation
            entry: dict[str, Any] = {
                "round": exp.round_idx,
                "n_visitors": rnd.n_visitors,
                "cells": [{"id": c.id, "weight": c.weight, "policy": c.policy.describe()}
                          for c in exp.cells_shipped],
                "cell_observations": [o.to_dict() for o in exp.cell_observations],
                "next_plan": {
                    "cells": {c.id: c.weight for c in plan.cells},
                    "treatments": list(plan.treatments),
                    "dropped_treatments": list(plan.dropped_treatments),
                    "rationale": plan.prose_summary,
                } if plan is not None else None,
                "summary": exp.summary_one_line(),
            }
            if exp.analysis is not None:
                entry["decisions"] = {t: s.decision.value
                                      for t, s in exp.analysis.recommendations.items()}
                entry["comparisons"] = [
                    {"treatment": c.treatment, "segment_id": c.segment_id, "effect": c.effect,
                     "effect_ci": list(c.effect_ci), "p_best": c.p_best,
                     "decision": c.recommendation.decision.value}
                    for c in exp.analysis.comparisons
                ]
                entry["segments"] = [
                    {"id": s.id, "rule": s.rule.describe(), "gate_estimate": s.gate_estimate,
                     "gate_ci": list(s.gate_ci), "stability_score": s.stability_score,
                     "population_share": s.population_share}
                    for s in exp.analysis.segments
                ]
            tc = exp.truth_comparison
            if tc is not None:
                names = getattr(tc, "__dataclass_fields__", None) or dict(tc)
                entry["truth_comparison"] = {
                    k: float(getattr(tc, k) if not isinstance(tc, dict) else tc[k]) for k in names
                }
            rounds.append(entry)
        return {"treatments": self._treatments, "confidence": self.confidence,
                "dropped_treatments": self.dropped_treatments(),
                "graduation_candidates": [
                    {"treatment": c.treatment, "segment": c.segment.id,
                     "rule": c.segment.rule.describe(), "sustained_rounds": c.sustained_rounds}
                    for c in self.graduation_candidates()],
                "summary": self.summary, "rounds": rounds}


def _posterior_summary(analysis: Any) -> dict[str, np.ndarray]:
    frame = getattr(analysis, "cate_per_visitor", None)
    if not isinstance(frame, pd.DataFrame):
        return {}
    return {str(c): frame[c].to_numpy(dtype=np.float64) for c in frame.columns
            if pd.api.types.is_numeric_dtype(frame[c])}


def sequential_experiment(
    *,
    generator: Generator,
    treatments: Sequence[str],
    schedule: Schedule,
    seed: int = 0,
    calibration: Any = None,
    cells: list[Cell] | None = None,
    min_explore_weight: float = 0.05,
    min_control_weight: float = 0.05,
    min_segment_share: float = 0.10,
    max_segment_depth: int = 3,
    graduation_rule: GraduationRule | None = None,
    progress: bool = False,
    store: str | Path | None = None,
    fit_config: Any = None,
    fit_options: Mapping[str, Any] | None = None,
    analysis_options: Mapping[str, Any] | None = None,
) -> SequentialExperiment:
    """Start a sequential experiment (the L1 entry point).

    The function form of :class:`SequentialExperiment`, with the same keyword-only
    parameters (documented there). The defaults follow the specification: Control and
    Explore floors of 5% each, policy trees of depth 3 with segments of at least 10% of the
    visitors. Iterate the result (``next(exp)`` or ``for r in exp``) to run rounds, or call
    ``run_to_completion()`` on a bounded schedule.

    Parameters
    ----------
    generator, treatments, schedule
        Where each round's data comes from, the treatments universe (control first) and the
        visitors per round.
    seed, calibration, cells, min_explore_weight, min_control_weight, min_segment_share,
    max_segment_depth, graduation_rule, progress, store, fit_config, fit_options,
    analysis_options
        See :class:`SequentialExperiment`.

    Returns
    -------
    SequentialExperiment

    Examples
    --------
    >>> from pytyche.experiment import GeometricSchedule, simulated_experiment_generator
    >>> gen = simulated_experiment_generator(template="clustered_realistic",
    ...                                      metric="revenue_per_visitor", effect_scale=1.0, K=3)
    >>> exp = sequential_experiment(generator=gen, schedule=GeometricSchedule(2000, n_rounds=3),
    ...                             treatments=["control", "treatment_1", "treatment_2"])
    >>> # for r in exp: print(r.summary_one_line())
    """
    return SequentialExperiment(
        generator=generator, treatments=treatments, schedule=schedule, seed=seed,
        calibration=calibration, cells=cells, min_explore_weight=min_explore_weight,
        min_control_weight=min_control_weight, min_segment_share=min_segment_share,
        max_segment_depth=max_segment_depth, graduation_rule=graduation_rule,
        progress=progress, store=store, fit_config=fit_config, fit_options=fit_options,
        analysis_options=analysis_options,
    )
