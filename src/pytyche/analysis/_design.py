"""Design-based effect estimates: AIPW scores with known assignment probabilities.

A randomised experiment knows each visitor's probability of every arm (the RCT's shares, or the
logged propensity columns of an adaptive round). With those probabilities ``e`` and any outcome
model ``m`` that never saw the visitor it scores, the augmented inverse-probability-weighted
pseudo-outcome

    Γ_ik = m_k(x_i) + 1{A_i = k} (Y_i − m_k(x_i)) / e_k(x_i)

has mean E[Y(k)] whatever ``m`` gets wrong (Robins, Rotnitzky & Zhao 1994); a good ``m`` only
makes it less noisy (the covariate adjustment). The BCF posterior mean is the outcome model,
cross-fitted (Chernozhukov et al. 2018): the visitors are split into folds, the model is refitted
without each fold and scores only the fold it did not see. In a sequential experiment the model
that scores round r is the fit of rounds < r, so the scores form a martingale sequence (the
setting of :mod:`pytyche.analysis._sequential`).

This module only builds the scores; :mod:`pytyche.analysis._inference` turns them into
intervals and decision distributions.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from pytyche.contracts import ObservedExperimentData, VariantData
from pytyche.data import feature_schema
from pytyche.errors import AlignmentViolation, SchemaViolation

__all__ = [
    "DesignScores",
    "aipw_scores",
    "arm_mean_scores",
    "assignment_probabilities",
    "crossfit_scores",
    "fold_labels",
    "mean_levels",
    "refit_like",
    "sequential_scores",
    "subset_observed",
]

#: Folds of the cross-fit. Two halves keep each refit at half the data (the cost of one more
#: full fit) while every visitor is scored by a model that never saw it.
DEFAULT_FOLDS = 2

#: Smallest assignment probability the scores accept. Below it one visitor's weight 1/e would
#: dominate the estimate; adaptive rounds floor every arm at ε/K (0.02/K) well above this.
MIN_PROPENSITY = 1e-4


@dataclass(frozen=True, slots=True, kw_only=True)
class DesignScores:
    """AIPW pseudo-outcomes of every visitor under every arm.

    Attributes
    ----------
    scores : numpy.ndarray
        Γ, shape (n, K), aligned with ``observed.visitors()``; the mean of column k estimates
        the average outcome under arm k, column differences estimate effects.
    propensity : numpy.ndarray
        Assignment probabilities used, shape (n, K).
    fold : numpy.ndarray
        Fold of each visitor (int, shape (n,)): the visitor was scored by a model fitted
        without its fold. In a sequential experiment this is the visitor's round.
    outcome_model : str
        What scored the visitors, for display ("cross-fitted BCF, 2 folds", ...).
    sequential : bool
        True when the scores come from rounds of an adaptive experiment, each scored by the fit
        of the earlier rounds: decisions then use anytime-valid inference.
    fold_models : tuple
        The cross-fitted posteriors, ``fold_models[f]`` fitted without fold f (empty when the
        outcome model was not a refitted BCF). Honest segments are discovered on them.
    """

    scores: np.ndarray
    propensity: np.ndarray
    fold: np.ndarray
    outcome_model: str
    sequential: bool = False
    fold_models: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        n, k = self.scores.shape
        if self.propensity.shape != (n, k) or self.fold.shape != (n,):
            msg = (f"DesignScores: scores {self.scores.shape}, propensity "
                   f"{self.propensity.shape} and fold {self.fold.shape} must align (n, K)")
            raise AlignmentViolation(msg)
        if not np.isfinite(self.scores).all():
            msg = "DesignScores: non-finite AIPW scores; check outcomes and the outcome model"
            raise ValueError(msg)

    @property
    def n_visitors(self) -> int:
        return int(self.scores.shape[0])

    @property
    def n_arms(self) -> int:
        return int(self.scores.shape[1])


def assignment_probabilities(observed: ObservedExperimentData) -> np.ndarray:
    """Each visitor's probability of every arm, shape (n, K).

    The logged propensity columns when the data carries them (adaptive rounds); otherwise the
    observed arm shares, which is the design of a completely randomised experiment.
    """
    logged = observed.propensities()
    if logged is not None:
        return logged
    counts = np.array([v.n_visitors for v in observed.variants], dtype=np.float64)
    return np.broadcast_to(counts / counts.sum(), (observed.n_visitors, counts.size)).copy()


def aipw_scores(y: Any, arm: Any, propensity: Any, mu_hat: Any) -> np.ndarray:
    """AIPW pseudo-outcomes Γ (n, K) from outcomes, arms, probabilities and predictions.

    Parameters
    ----------
    y : array_like, shape (n,)
        Observed outcome.
    arm : array_like of int, shape (n,)
        Arm received (0 = control).
    propensity : array_like, shape (n, K)
        Probability the design gave each visitor each arm.
    mu_hat : array_like, shape (n, K)
        Predicted mean outcome under each arm from a model that did not see the visitor.

    Raises
    ------
    ValueError
        A visitor received an arm whose probability is below ``MIN_PROPENSITY``.
    """
    y = np.asarray(y, dtype=np.float64)
    arm = np.asarray(arm, dtype=np.int64)
    e = np.asarray(propensity, dtype=np.float64)
    m = np.asarray(mu_hat, dtype=np.float64)
    n, k = m.shape
    if y.shape != (n,) or arm.shape != (n,) or e.shape != (n, k):
        msg = (f"aipw_scores: y {y.shape}, arm {arm.shape}, propensity {e.shape} and mu_hat "
               f"{m.shape} must describe the same n visitors and K arms")
        raise AlignmentViolation(msg)
    received = e[np.arange(n), arm]
    if (received < MIN_PROPENSITY).any():
        row = int(np.argmax(received < MIN_PROPENSITY))
        msg = (f"visitor {row} received arm {arm[row]} with logged probability "
               f"{received[row]:.3g}; an arm given with probability below {MIN_PROPENSITY:g} "
               "cannot be weighted. Check the propensity columns")
        raise ValueError(msg)
    scores = m.copy()
    rows = np.arange(n)
    scores[rows, arm] += (y - m[rows, arm]) / received
    return scores


def fold_labels(arm: np.ndarray, n_folds: int, seed: int) -> np.ndarray:
    """Fold of each visitor, balanced within every arm (deterministic given ``seed``)."""
    if n_folds < 2:
        msg = f"crossfit_folds={n_folds}: cross-fitting needs at least 2 folds"
        raise ValueError(msg)
    rng = np.random.default_rng(np.random.SeedSequence((seed, 0x5EED)))
    fold = np.empty(arm.shape[0], dtype=np.int64)
    for k in np.unique(arm):
        idx = np.flatnonzero(arm == k)
        fold[rng.permutation(idx)] = np.arange(idx.size) % n_folds
    return fold


def subset_observed(observed: ObservedExperimentData, mask: np.ndarray) -> ObservedExperimentData:
    """The visitors where ``mask`` is true (``observed.visitors()`` order), same schema."""
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != (observed.n_visitors,):
        msg = f"mask has shape {mask.shape}; expected ({observed.n_visitors},)"
        raise AlignmentViolation(msg)
    variants, start = [], 0
    for v in observed.variants:
        keep = mask[start : start + v.n_visitors]
        start += v.n_visitors
        variants.append(VariantData.from_visitors(v.name, v.visitors[keep].reset_index(drop=True)))
    return ObservedExperimentData(
        experiment_id=observed.experiment_id,
        metric=observed.metric,
        variants=tuple(variants),
        schema=feature_schema(observed),
    )


def mean_levels(posterior: Any, observed: ObservedExperimentData) -> np.ndarray:
    """Posterior-mean outcome under every arm at the visitors of ``observed``, (n, K)."""
    levels = posterior.predict_levels(observed.visitors())
    return np.asarray(levels, dtype=np.float64).mean(axis=1)


def refit_like(posterior: Any, *,
               progress: bool = False) -> Callable[[ObservedExperimentData, int], Any]:
    """A function refitting ``posterior``'s model (family, pooling, config) on other data."""

    def refit(observed: ObservedExperimentData, seed: int) -> Any:
        from pytyche.bcf import fit_for_metric

        options: dict[str, Any] = {"config": posterior.config, "progress": progress,
                                   "observed_copy": "ref"}
        if getattr(posterior, "pooling", None) is not None:
            options["pooling"] = posterior.pooling
        return fit_for_metric(observed, seed=seed, **options)

    return refit


def crossfit_scores(
    posterior: Any,
    *,
    n_folds: int = DEFAULT_FOLDS,
    seed: int = 0,
    refit: Callable[[ObservedExperimentData, int], Any] | None = None,
    progress: bool = False,
) -> DesignScores:
    """AIPW scores of ``posterior.observed`` with a cross-fitted BCF as the outcome model.

    Parameters
    ----------
    posterior : BCF result
        The full-data fit; its model (family, pooling, config) is refitted once per fold on the
        other folds' visitors.
    n_folds : int, default=2
        Number of folds.
    seed : int, default=0
        Seed of the fold split and of the refits.
    refit : callable, optional
        ``refit(observed, seed) -> posterior`` replacing the refit of ``posterior``'s model
        (any object with ``predict_levels``).
    progress : bool, default=False
        Progress bars of the refits.

    Returns
    -------
    DesignScores
    """
    observed = posterior.observed
    arm = observed.treatment_index().astype(np.int64)
    fold = fold_labels(arm, n_folds, seed)
    if refit is None:
        refit = refit_like(posterior, progress=progress)
    mu_hat = np.empty((observed.n_visitors, observed.n_treatments))
    models = []
    for f in range(n_folds):
        held_out = fold == f
        try:
            train = subset_observed(observed, ~held_out)
            model = refit(train, int(np.random.SeedSequence((seed, f)).generate_state(1)[0]))
        except (SchemaViolation, ValueError) as err:
            # A fold too small to fit (an arm without converters, say): the design still
            # holds, so score with arm means and say so rather than fail the analysis.
            warnings.warn(f"cross-fit refit without fold {f} failed ({err}); design-based "
                          "estimates use arm means as the outcome model", stacklevel=2)
            fallback = arm_mean_scores(observed, n_folds=n_folds, seed=seed)
            return dataclasses.replace(
                fallback, outcome_model=f"{fallback.outcome_model} (refit failed)")
        mu_hat[held_out] = mean_levels(model, subset_observed(observed, held_out))
        models.append(model)
    propensity = assignment_probabilities(observed)
    return DesignScores(
        scores=aipw_scores(observed.outcome(), arm, propensity, mu_hat),
        propensity=propensity,
        fold=fold,
        outcome_model=f"cross-fitted BCF, {n_folds} folds",
        fold_models=tuple(models),
    )


def arm_mean_scores(observed: ObservedExperimentData, *, n_folds: int = DEFAULT_FOLDS,
                    seed: int = 0) -> DesignScores:
    """AIPW scores whose outcome model is each arm's mean in the other folds (no covariates).

    The cheapest honest outcome model: no refit, and the estimate is then close to the
    difference in means. Used where the posterior cannot be refitted, and round by round in
    a sequential experiment (:func:`sequential_scores`).
    """
    arm = observed.treatment_index().astype(np.int64)
    y = observed.outcome()
    fold = fold_labels(arm, n_folds, seed)
    propensity = assignment_probabilities(observed)
    mu_hat = _arm_means_out_of_fold(y, arm, fold, observed.n_treatments)
    return DesignScores(
        scores=aipw_scores(y, arm, propensity, mu_hat),
        propensity=propensity,
        fold=fold,
        outcome_model=f"arm means, {n_folds} folds",
    )


def _arm_means_out_of_fold(y: np.ndarray, arm: np.ndarray, fold: np.ndarray,
                           k_arms: int) -> np.ndarray:
    """Per visitor and arm, the arm's mean outcome among the other folds' visitors.

    Falls back to the arm's mean over all folds when the other folds lack it, and to 0 for
    an arm nobody here received (such an arm's scores are masked out by the inference: the
    visitors had no chance of it).
    """
    mu_hat = np.zeros((y.size, k_arms))
    for k in range(k_arms):
        given = arm == k
        if not given.any():
            continue
        overall = y[given].mean()
        for f in np.unique(fold):
            pick = given & (fold != f)
            mu_hat[fold == f, k] = y[pick].mean() if pick.any() else overall
    return mu_hat


def sequential_scores(observed: ObservedExperimentData, rounds: Any, *,
                      n_folds: int = DEFAULT_FOLDS, seed: int = 0) -> DesignScores:
    """AIPW scores of the cumulative data of a sequential experiment, round by round.

    Each round is scored on its own, with its logged assignment probabilities and an outcome
    model of arm means cross-fitted within the round. Given the earlier rounds, a round's
    scores then have mean equal to the effect whatever the allocation did, which is what the
    confidence sequence needs; and the scores depend on nothing but the stored round data,
    so a resumed experiment reproduces them exactly.

    Parameters
    ----------
    observed : ObservedExperimentData
        The cumulative data (every round so far).
    rounds : array_like of int, shape (n,)
        Round of each visitor (``observed.visitors()`` order).
    n_folds : int
        Folds of the within-round cross-fit.
    seed : int
        Seed of the within-round fold split.
    """
    rounds = np.asarray(rounds, dtype=np.int64)
    if rounds.shape != (observed.n_visitors,):
        msg = f"rounds has shape {rounds.shape}; expected ({observed.n_visitors},)"
        raise AlignmentViolation(msg)
    arm = observed.treatment_index().astype(np.int64)
    y = observed.outcome()
    propensity = assignment_probabilities(observed)
    mu_hat = np.zeros((y.size, observed.n_treatments))
    for r in np.unique(rounds):
        pick = rounds == r
        fold = fold_labels(arm[pick], n_folds, seed + int(r))
        mu_hat[pick] = _arm_means_out_of_fold(y[pick], arm[pick], fold, observed.n_treatments)
    return DesignScores(scores=aipw_scores(y, arm, propensity, mu_hat), propensity=propensity,
                        fold=rounds, outcome_model="arm means per round", sequential=True)
