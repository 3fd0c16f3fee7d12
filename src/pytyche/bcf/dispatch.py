"""Public fits on observed experiment data, and ``pytyche.fit``'s choice among them.

The fit functions here turn an :class:`~pytyche.contracts.ObservedExperimentData` into the
arrays the engine takes (encoded features, arm index, outcome, assignment propensities), run
the array-level fit, and wrap the draws in a result that keeps the data.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np

from pytyche.bcf.config import GPUBCFConfig
from pytyche.bcf.results import (
    BinaryBCFResult,
    ContinuousBCFResult,
    HurdleBCFResult,
    ObservedCopy,
    corrects_coverage,
    stash_observed,
)
from pytyche.contracts import MetricFamily, ObservedExperimentData
from pytyche.data import (
    HURDLE_ZERO_SHARE,
    check_fittable,
    check_observed,
    feature_matrix,
    fittable_outcomes,
    infer_metric,
)
from pytyche.errors import UncalibratedWarning

__all__ = [
    "HURDLE_ZERO_SHARE",
    "fit",
    "fit_binary_bcf",
    "fit_continuous_bcf",
    "fit_for_metric",
    "fit_hurdle_bcf",
    "select_family",
]

# The fit each inferred metric gets. The rule and its 30% zero share (HURDLE_ZERO_SHARE,
# re-exported here) live once, in pytyche.data._metric.infer_metric.
_FAMILY_OF_METRIC = {"conversion_rate": "binary", "revenue_per_visitor": "hurdle",
                     "continuous": "continuous"}
# The likelihood of each array-level fit, for the data checks in the user's terms.
_FAMILY_OF_ENGINE = {"fit_continuous_arrays": "continuous", "fit_binary_arrays": "binary",
                     "fit_hurdle_arrays": "hurdle"}


def _engine_inputs(observed: ObservedExperimentData):
    check_observed(observed)
    return (
        feature_matrix(observed, refresh=True),
        observed.treatment_index(),
        observed.outcome(),
        observed.propensities(),
    )


def _fit_public(result_type: type, engine: str, observed: ObservedExperimentData, *,
                observed_copy: ObservedCopy, calibration: Any, pooling: str | None = None,
                warm_start: Any = None, config: GPUBCFConfig | None = None,
                config_fields: dict[str, Any], caller: str, **engine_kwargs: Any):
    """Check everything cheap first, then run the array-level `engine` and wrap its draws.

    The data are checked by treatment, column and visitor (:func:`check_fittable`) before
    they become arrays, so what the engine's own checks would report as "X row 35, column 0"
    or "arm 1" reaches the user as the column, the treatment and the visitor.
    """
    from pytyche.bcf import _arrays
    from pytyche.bcf._preprocess import min_visitors_per_arm

    engine_kwargs["config"] = GPUBCFConfig.from_options(config, config_fields, caller=caller)
    check_observed(observed)
    check_fittable(observed, family=_FAMILY_OF_ENGINE[engine],
                   min_visitors=min_visitors_per_arm(engine_kwargs["config"]))
    X, z, y, propensity = _engine_inputs(observed)
    stash = stash_observed(observed, observed_copy)
    calibration = _calibration_for(observed, calibration, pooling, engine_kwargs["config"])
    if pooling is not None:
        engine_kwargs["pooling"] = pooling
    if warm_start is not None:
        engine_kwargs["warm_start"] = _warm_forests(warm_start, result_type, pooling)
    result = getattr(_arrays, engine)(X, z, y, propensity=propensity, **engine_kwargs)
    return result_type(observed=stash, fit=result, calibration=calibration)


def _calibration_for(observed: ObservedExperimentData, calibration: Any, pooling: str | None,
                     config: GPUBCFConfig):
    """Validate a calibration against the data's regime before spending time on the fit.

    ``Calibration.skip()`` warns (:class:`~pytyche.errors.UncalibratedWarning`): the glossary
    has the library say so when a fit runs uncorrected on purpose. Python's default warning
    filter shows it once per calling line.
    """
    if calibration is None:
        return None
    if not corrects_coverage(calibration):
        warnings.warn(
            "fitting with Calibration.skip(): this posterior's intervals are not corrected for "
            "coverage and may be too narrow at scale; pass Calibration.from_sweep(...) to "
            "correct them",
            UncalibratedWarning,
            stacklevel=4,
        )
    return calibration.checked_for(observed, pooling=pooling, subject="data", config=config)


def _warm_forests(previous: Any, result_type: type, pooling: str | None):
    """The trees of ``previous`` to warm-start from, after checking it is the same kind of fit."""
    if not isinstance(previous, result_type):
        msg = (f"warm_start: expected a {result_type.__name__} from an earlier fit of the same "
               f"kind, got {type(previous).__name__}")
        raise TypeError(msg)
    if pooling is not None and previous.fit.pooling != pooling:
        msg = (f"warm_start: the previous posterior used pooling={previous.fit.pooling!r}, "
               f"this fit pooling={pooling!r}; warm-start from a fit with the same pooling")
        raise ValueError(msg)
    return previous.fit.forests


def fit_continuous_bcf(
    observed: ObservedExperimentData,
    *,
    config: GPUBCFConfig | None = None,
    seed: int = 0,
    progress: bool = True,
    observed_copy: ObservedCopy = "view",
    calibration: Any = None,
    warm_start: Any = None,
    **config_fields: Any,
) -> ContinuousBCFResult:
    """Fit a Gaussian BCF with one τ forest per non-control treatment (K = 2..10).

    Parameters
    ----------
    observed : ObservedExperimentData
        Visitors, control first. Reserved propensity columns, when present, give each
        visitor's assignment probabilities; otherwise the design is taken as a plain RCT.
    config : GPUBCFConfig, optional
        Sampler settings (trees, iterations, priors); ``GPUBCFConfig()`` by default.
    seed : int, default=0
        Same seed, same draws (on the same device).
    progress : bool, default=True
        Show a progress bar over burn-in and sampling.
    observed_copy : {"view", "deep", "ref"}, default="view"
        How the posterior keeps ``observed``; see :func:`stash_observed`.
    calibration : Calibration, optional
        Coverage correction for the posterior's intervals.
    warm_start : ContinuousBCFResult, optional
        A posterior of an earlier fit with the same config, treatments and features (for
        example the previous round of a sequential experiment, on fewer visitors). Every
        forest starts from the tree structures of its last draw instead of single leaves;
        thresholds are carried as feature values, so the new data may bin differently.
    **config_fields
        Any :class:`GPUBCFConfig` field, e.g. ``num_trees_tau=20``: applied on top of
        ``config`` (or of the defaults). A misspelt name raises ``TypeError`` listing the
        valid fields.

    Returns
    -------
    ContinuousBCFResult

    Raises
    ------
    TypeError
        An unknown keyword argument.
    SchemaViolation
        Data the model cannot fit, named by column, treatment and visitor (see
        :func:`pytyche.data.check_fittable`): a missing, non-numeric, infinite or too large
        value, no feature, more than 10 treatments, a constant outcome, or a treatment with
        too few visitors (10, or 2 × ``min_samples_leaf``).
    ValueError
        A calibration for another regime, or a config value out of range.
    """
    return _fit_public(ContinuousBCFResult, "fit_continuous_arrays", observed, config=config,
                       seed=seed, progress=progress, observed_copy=observed_copy,
                       calibration=calibration, warm_start=warm_start,
                       config_fields=config_fields, caller="fit_continuous_bcf")


def fit_binary_bcf(
    observed: ObservedExperimentData,
    *,
    config: GPUBCFConfig | None = None,
    seed: int = 0,
    progress: bool = True,
    observed_copy: ObservedCopy = "view",
    calibration: Any = None,
    warm_start: Any = None,
    **config_fields: Any,
) -> BinaryBCFResult:
    """Fit a probit BCF to a 0/1 outcome; effects are differences in probability.

    Parameters are those of :func:`fit_continuous_bcf`.
    """
    return _fit_public(BinaryBCFResult, "fit_binary_arrays", observed, config=config,
                       seed=seed, progress=progress, observed_copy=observed_copy,
                       calibration=calibration, warm_start=warm_start,
                       config_fields=config_fields, caller="fit_binary_bcf")


def fit_hurdle_bcf(
    observed: ObservedExperimentData,
    *,
    pooling: Literal["joint", "independent"] = "joint",
    config: GPUBCFConfig | None = None,
    seed: int = 0,
    progress: bool = True,
    observed_copy: ObservedCopy = "view",
    calibration: Any = None,
    warm_start: Any = None,
    **config_fields: Any,
) -> HurdleBCFResult:
    """Fit a hurdle BCF to zero-inflated revenue: conversion (probit) times basket (log-normal).

    Parameters
    ----------
    pooling : {"joint", "independent"}, default="joint"
        ``"joint"`` lets the two channels share every tree's topology, so the revenue effect
        splits cleanly into a conversion part and a basket-size part and each channel borrows
        strength from the other. ``"independent"`` fits the channels separately (a probit
        BCF on everyone, a Gaussian BCF on converters' log basket) and composes their draws:
        the two-stage baseline of the literature. The two paths live in
        :mod:`pytyche.bcf.hurdle.model` and :mod:`pytyche.bcf.hurdle.compose`.

    Other parameters (config fields as keywords included) are those of
    :func:`fit_continuous_bcf`.

    Examples
    --------
    >>> posterior = fit_hurdle_bcf(observed, num_trees_tau=20, seed=0)  # doctest: +SKIP
    """
    return _fit_public(HurdleBCFResult, "fit_hurdle_arrays", observed, config=config,
                       seed=seed, progress=progress, observed_copy=observed_copy,
                       calibration=calibration, pooling=pooling, warm_start=warm_start,
                       config_fields=config_fields, caller="fit_hurdle_bcf")


def select_family(y: np.ndarray) -> str:
    """Which fit an outcome gets: 'binary', 'hurdle' or 'continuous'.

    Values all in {0, 1} → binary; at least :data:`HURDLE_ZERO_SHARE` zeros, no negatives and a
    positive tail → hurdle; anything else → continuous.

    Raises
    ------
    ValueError
        Every outcome is zero: it could be a conversion metric with no conversions or revenue
        with no spend, and neither can be fitted.
    """
    # One rule: the data layer's metric inference (an all-zero outcome is refused there).
    return _FAMILY_OF_METRIC[infer_metric(np.asarray(y, dtype=np.float64))]


def fit(observed: ObservedExperimentData, **kwargs: Any):
    """Fit the BCF the outcome calls for, at any number of treatments (2..10).

    The choice depends only on the outcome values (see :func:`select_family`), so the same
    data always gets the same model. Keyword arguments go unchanged to the chosen function
    (``pooling=`` only makes sense for revenue-like outcomes).

    Returns
    -------
    BinaryBCFResult, HurdleBCFResult or ContinuousBCFResult

    Examples
    --------
    >>> import pytyche as pt
    >>> observed = pt.read_csv("visitors.csv", treatment="arm", outcome="revenue")  # doctest: +SKIP
    >>> posterior = pt.fit(observed, seed=0)  # doctest: +SKIP
    """
    check_observed(observed)
    # The outcome checked by treatment and visitor first: select_family sees bare values.
    family = select_family(np.concatenate(fittable_outcomes(observed)))
    if family == "binary":
        return fit_binary_bcf(observed, **kwargs)
    if family == "hurdle":
        return fit_hurdle_bcf(observed, **kwargs)
    return fit_continuous_bcf(observed, **kwargs)



def fit_for_metric(observed: ObservedExperimentData, **kwargs: Any):
    """Fit the BCF of ``observed.metric``'s family (declared, not read off the outcome).

    Use it where the metric is known up front (a sequential experiment, a simulation, a
    ``--metric`` given on the command line): a batch of data that happens to have, say, no
    zeros then cannot switch the model. Keyword arguments go to the chosen fit.
    """
    check_observed(observed)
    family = observed.metric_family
    if family == MetricFamily.BINARY:
        return fit_binary_bcf(observed, **kwargs)
    if family == MetricFamily.HURDLE:
        return fit_hurdle_bcf(observed, **kwargs)
    return fit_continuous_bcf(observed, **kwargs)
