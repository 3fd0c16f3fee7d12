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

The loop's parts live by job: :mod:`._cumulative` (the cumulative data and truth, and their
row order), :mod:`._round_checks` (a round's cells and data), :mod:`._loop_config` (the
configuration in the store and resume) and :mod:`._loop_report` (summary and report).
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
    CalibrationTruth,
    ObservedExperimentData,
)
from pytyche.errors import StoreError, UncalibratedWarning
from pytyche.experiment._cumulative import build_cumulative, cumulative_truth, stitch_rounds
from pytyche.experiment._loop_config import config_record, resume_arguments
from pytyche.experiment._loop_report import experiment_report, experiment_summary
from pytyche.experiment._round_checks import PAST_ROUNDS, check_round_cells, prepare_round
from pytyche.experiment.cells import Cell, validate_cell_weights
from pytyche.experiment.experiment import Experiment, Round, compute_cell_observations
from pytyche.experiment.recommendation import (
    ExpectedLossRule,
    GraduationCandidate,
    GraduationRule,
    NextRoundPlan,
    cold_start_plan,
    recommend,
)
from pytyche.experiment.schedule import Schedule
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
        self._store = ExperimentStore.create(store, config_record(self)) if store else None

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
        try:
            exp = cls(generator=generator, progress=progress, **resume_arguments(
                st.config, store, schedule=schedule, calibration=calibration,
                graduation_rule=graduation_rule, cells=cells, fit_options=fit_options,
                analysis_options=analysis_options))
        except (KeyError, TypeError) as err:
            msg = f"store {str(store)!r} has an unreadable configuration ({err})"
            raise StoreError(msg) from err
        custom = {c.id: c.policy for c in cells} if cells is not None else None
        for r in range(st.n_rounds):
            stored = st.read_round(r, custom)
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
        check_round_cells(plan)

        data, truth = self._generator(round_idx, plan)
        data = prepare_round(data, truth, plan, round_idx, treatments=self._treatments,
                             first=self._rounds[0] if self._rounds else None)
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

        assignment = np.full(n_total, PAST_ROUNDS, dtype=object)
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
        return experiment_summary(self)

    def report(self) -> dict[str, Any]:
        """JSON-ready record of every completed round (cells, observations, decisions, truth)."""
        return experiment_report(self)


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
