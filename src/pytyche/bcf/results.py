"""Posterior results of the public fits: draws on the metric's scale plus the data they came from.

Every result carries the :class:`~pytyche.contracts.ObservedExperimentData` it was fitted on
(``result.observed``), so analysis reaches its inputs through the posterior and fit-time and
analysis-time encodings cannot drift. Derived results (policy trees, calibrated copies) share
that object by identity.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import pandas as pd

from pytyche._integrity import jsonable
from pytyche.bcf._draws import control_level
from pytyche.contracts import (
    MetricFamily,
    ObservedExperimentData,
    VariantData,
    VisitorSchema,
    propensity_columns,
)
from pytyche.data import encode_new_visitors, feature_schema

if TYPE_CHECKING:
    from pytyche.bcf._arrays import BCFFit

__all__ = [
    "BinaryBCFResult",
    "ContinuousBCFResult",
    "HurdleBCFResult",
    "ObservedCopy",
    "corrects_coverage",
    "load_result",
    "provide",
    "stash_observed",
]

ObservedCopy = Literal["view", "deep", "ref"]
_OBSERVED_COPY_MODES = ("view", "deep", "ref")


def corrects_coverage(calibration: Any) -> bool:
    """Whether ``calibration`` corrects interval coverage: ``None`` and ``Calibration.skip()``
    leave intervals raw, any other calibration corrects them.

    Duck-typed on ``applied`` (bcf sits below calibrate), the one test every layer uses.
    """
    return calibration is not None and bool(getattr(calibration, "applied", True))


# --------------------------------------------------------------------------------------------
# Stashing the observed data on a posterior
# --------------------------------------------------------------------------------------------


def _read_only_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame over read-only views of `frame`'s column buffers (no data copied)."""
    columns = {}
    for name in frame.columns:
        values = frame[name].to_numpy(copy=False)
        if isinstance(values, np.ndarray) and values.dtype != object:
            view = values.view()
            view.flags.writeable = False
            columns[name] = view
        else:  # strings and extension types: pandas would copy anyway; keep the column as is
            columns[name] = frame[name]
    return pd.DataFrame(columns, index=frame.index, copy=False)


def stash_observed(
    observed: ObservedExperimentData, observed_copy: ObservedCopy = "view"
) -> ObservedExperimentData:
    """The object a posterior keeps as ``observed``.

    ``"view"`` (default) rebuilds each variant's frame over read-only views of the caller's
    buffers: nothing is copied, writing through the stash raises, but the caller's later
    in-place edits show through. ``"deep"`` takes an independent deep copy. ``"ref"`` keeps the
    caller's object itself.
    """
    if observed_copy not in _OBSERVED_COPY_MODES:
        msg = (
            f"observed_copy={observed_copy!r}; use one of {list(_OBSERVED_COPY_MODES)} "
            "('view' shares read-only buffers, 'deep' copies, 'ref' keeps the same object)"
        )
        raise ValueError(msg)
    if observed_copy == "ref":
        return observed
    if observed_copy == "deep":
        return copy.deepcopy(observed)
    variants = tuple(
        dataclasses.replace(v, visitors=_read_only_frame(v.visitors)) for v in observed.variants
    )
    return dataclasses.replace(observed, variants=variants, schema=feature_schema(observed))


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


# What the layers above supply. The shortcuts on a posterior (summary's interval,
# analyze, fit_policy_tree, has_credible_segments, decomposition) are the analysis layer's
# functions, and loading a saved calibration is the calibration layer's: each of those layers
# registers its functions here when it is imported, so bcf never imports them. A shortcut
# called before either was imported asks the package root (the composition root, above every
# layer) to import them.
_PROVIDED: dict[str, Callable[..., Any]] = {}


def provide(**functions: Callable[..., Any]) -> None:
    """Register the functions behind a posterior's shortcuts (called by ``pytyche.analysis``
    and ``pytyche.calibrate`` on import)."""
    _PROVIDED.update(functions)


def _provided(name: str) -> Callable[..., Any]:
    if name not in _PROVIDED:
        import pytyche

        pytyche.load_layers()
    return _PROVIDED[name]


@dataclass(frozen=True, eq=False)
class _BCFResult:
    """Shared behaviour of the three result types (not public)."""

    observed: ObservedExperimentData
    """The data the posterior was fitted on (see ``observed_copy``)."""
    fit: BCFFit = field(repr=False)
    """The array-level fit: draws, kept forests, diagnostics, timings."""
    calibration: Any = None
    """The :class:`~pytyche.calibrate.Calibration` applied, or None (uncalibrated)."""

    family: ClassVar[MetricFamily]

    # ---- identity -----------------------------------------------------------------------

    @property
    def config(self):
        """The :class:`GPUBCFConfig` of the fit."""
        return self.fit.config

    @property
    def seed(self) -> int:
        return self.fit.seed

    @property
    def timings(self) -> dict[str, float]:
        """Seconds spent per phase (set-up, compile, burn-in, sampling, draws)."""
        return dict(self.fit.timings)

    @property
    def diagnostics(self) -> dict[str, Any]:
        """R-hat and effective sample size of σ and of the mean CATE per arm."""
        return dict(self.fit.diagnostics)

    @property
    def treatments(self) -> tuple[str, ...]:
        return self.observed.treatments

    @property
    def metric_family(self) -> MetricFamily:
        return self.family

    @property
    def pooling(self) -> str | None:
        return self.fit.pooling

    @property
    def n_samples(self) -> int:
        """Kept posterior draws S (all chains)."""
        return int(self.fit.draws["sigma"].shape[0])

    @property
    def is_calibrated(self) -> bool:
        return corrects_coverage(self.calibration)

    def has_decomposition(self) -> bool:
        """Whether the revenue effect splits into conversion and basket-size channels."""
        return False

    # ---- draws ----------------------------------------------------------------------------

    def cate_samples(self) -> np.ndarray:
        """Per-visitor effect draws versus control on the metric's scale, (n, S, K - 1)."""
        return self.fit.draws[self.fit.cate_key]

    def level_samples(self) -> np.ndarray:
        """Expected outcome of every visitor under every arm, per draw, (n, S, K).

        Computed on the first call and kept, read-only: an analysis reads it several times,
        and at a million visitors each copy is gigabytes.
        """
        return self._levels

    @functools.cached_property
    def _levels(self) -> np.ndarray:
        levels = self._compute_levels()
        levels.setflags(write=False)
        return levels

    def _compute_levels(self) -> np.ndarray:
        # control's level plus each effect, so the levels' differences are the effect draws
        # exactly (a hurdle fit's control level is p_0·sev_0 from the stored draws)
        control = control_level(self.fit.draws)[:, :, None]
        return np.concatenate([control, control + self.cate_samples()], axis=2)

    def predict(self, new_data: pd.DataFrame) -> np.ndarray:
        """CATE draws for unseen visitors, (m, S, K - 1), on the metric's scale.

        ``new_data`` needs the training feature columns; categorical levels must have been
        seen in training. Reserved propensity columns, when present, enter μ; otherwise the
        training arm shares do.
        """
        X = encode_new_visitors(self.observed, new_data)
        draws = self.fit.predict(X, _propensities(new_data, self.observed.n_treatments))
        return draws[self.fit.cate_key]

    def predict_levels(self, new_data: pd.DataFrame) -> np.ndarray:
        """Expected outcome under every arm for unseen visitors, per draw, (m, S, K).

        The out-of-sample counterpart of :meth:`level_samples` (same columns as
        :meth:`predict`); the design-based estimates use it to score visitors a refit never saw.
        """
        X = encode_new_visitors(self.observed, new_data)
        draws = self.fit.predict(X, _propensities(new_data, self.observed.n_treatments))
        control = control_level(draws)[:, :, None]
        return np.concatenate([control, control + draws[self.fit.cate_key]], axis=2)

    # ---- summaries ------------------------------------------------------------------------

    def ate_samples(self) -> np.ndarray:
        """Average effect over the fitted visitors per draw, (S, K - 1)."""
        return self.cate_samples().mean(axis=0, dtype=np.float64)

    def summary(self, level: float = 0.80) -> pd.DataFrame:
        """Average effect per treatment versus control with a credible interval.

        Model-based (the ``basis`` column says so): the BCF posterior alone. Decisions, and
        the design-based intervals whose coverage holds whatever the model gets wrong, come
        from :func:`pytyche.analyze` (see :func:`pytyche.analysis.leaderboard`).
        """
        credible_interval = _provided("credible_interval")
        ate = self.ate_samples()
        control_mean = control_level(self.fit.draws).mean(axis=0, dtype=np.float64)
        low, high = credible_interval(ate, level=level, axis=0, calibration=self.calibration)
        rows = []
        for j, name in enumerate(self.treatments[1:]):
            rows.append(
                {
                    "treatment": name,
                    "effect": float(ate[:, j].mean()),
                    "ci_low": float(low[j]),
                    "ci_high": float(high[j]),
                    "relative_effect": float(ate[:, j].mean() / control_mean.mean())
                    if control_mean.mean() != 0
                    else float("nan"),
                    "p_positive": float((ate[:, j] > 0).mean()),
                    "level": level,
                    "basis": "model (BCF posterior)",
                }
            )
        return pd.DataFrame(rows)

    # ---- analysis shortcuts (the analysis layer does the work) ------------------------------

    def fit_policy_tree(self, max_depth: int = 3, min_segment_share: float = 0.10,
                        n_bootstrap: int = 50, bootstrap_seed: int | None = 0, **kwargs: Any):
        """Segments of the visitors where the best treatment differs; see
        :func:`pytyche.analysis.fit_policy_tree`."""
        return _provided("fit_policy_tree")(
            self, max_depth=max_depth, min_segment_share=min_segment_share,
            n_bootstrap=n_bootstrap, bootstrap_seed=bootstrap_seed, **kwargs)

    def has_credible_segments(self, threshold: float = 0.80) -> bool:
        """Whether a policy tree on this posterior has a segment with stability >= threshold."""
        return _provided("has_credible_segments")(self, threshold=threshold)

    def analyze(self, **kwargs: Any):
        """Full analysis (segments, comparisons, decisions); see :func:`pytyche.analyze`."""
        return _provided("analyze")(self, **kwargs)

    def apply_calibration(self, calibration: Any):
        """A copy of this posterior whose intervals use ``calibration``.

        A size-aware calibration is resolved for this posterior's number of visitors
        (:meth:`pytyche.Calibration.for_size`).

        Raises
        ------
        ValueError
            The calibration was fitted for another regime; the message names each mismatched
            dimension (metric, number of treatments, pooling).
        """
        return dataclasses.replace(self, calibration=calibration.checked_for(
            self.observed, pooling=self.pooling, subject="posterior", config=self.config))

    # ---- persistence ----------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the posterior to a directory (npz arrays + JSON + Parquet; no pickle).

        The directory is written next to its final place and renamed into it, so a crash
        leaves either the old result or the new one, never half of one.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
        try:
            _write_result(self, tmp)
            if path.exists():
                old = path.with_name(f".{path.name}.old")
                path.rename(old)
                tmp.rename(path)
                _remove_tree(old)
            else:
                tmp.rename(path)
        except BaseException:
            _remove_tree(tmp)
            raise
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]):
        """Read a posterior written by :meth:`save`."""
        result = load_result(path)
        if not isinstance(result, cls):
            msg = f"{path} holds a {type(result).__name__}, not a {cls.__name__}"
            raise TypeError(msg)
        return result


@dataclass(frozen=True, eq=False)
class ContinuousBCFResult(_BCFResult):
    """Posterior of a Gaussian BCF: effects on the outcome's own scale."""

    family: ClassVar[MetricFamily] = MetricFamily.CONTINUOUS


@dataclass(frozen=True, eq=False)
class BinaryBCFResult(_BCFResult):
    """Posterior of a probit BCF: effects on the probability scale."""

    family: ClassVar[MetricFamily] = MetricFamily.BINARY


@dataclass(frozen=True, eq=False)
class HurdleBCFResult(_BCFResult):
    """Posterior of a hurdle BCF for zero-inflated revenue.

    Revenue per visitor under arm k is ``p_k(x) * sev_k(x)``: the conversion probability times
    the expected basket of a converter (the log-normal mean).
    """

    family: ClassVar[MetricFamily] = MetricFamily.HURDLE

    @property
    def p_samples(self) -> np.ndarray:
        """P(convert) per visitor, draw and arm, (n, S, K), stored at half precision."""
        return self.fit.draws["p"]

    @property
    def sev_samples(self) -> np.ndarray:
        """Expected basket given conversion per visitor, draw and arm, (n, S, K)."""
        return self.fit.draws["sev"]

    @property
    def rpv_cate_samples(self) -> np.ndarray:
        """Revenue-per-visitor effect versus control, (n, S, K - 1)."""
        return self.fit.draws["rpv_cate"]

    def has_decomposition(self) -> bool:
        return True

    def decomposition(self, segment: Any = None):
        """Conversion versus basket-size parts of the revenue effect per draw; see
        :func:`pytyche.analysis.decompose_effects`."""
        return _provided("decompose_effects")(self, segment)


_RESULT_TYPES: dict[str, type[_BCFResult]] = {
    "continuous": ContinuousBCFResult,
    "binary": BinaryBCFResult,
    "hurdle": HurdleBCFResult,
}


def result_type(family: str) -> type[_BCFResult]:
    """The result class of a fit family ('continuous', 'binary', 'hurdle')."""
    return _RESULT_TYPES[family]


def _propensities(frame: pd.DataFrame, n_treatments: int) -> np.ndarray | None:
    cols = propensity_columns(n_treatments)
    if not all(c in frame.columns for c in cols):
        return None
    treated = frame[list(cols)].to_numpy(dtype=np.float64)
    return np.concatenate([1.0 - treated.sum(axis=1, keepdims=True), treated], axis=1)


# --------------------------------------------------------------------------------------------
# Save / load
# --------------------------------------------------------------------------------------------


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def _write_result(result: _BCFResult, folder: Path) -> None:
    from pytyche.bcf._persist import write_posterior

    fit = result.fit
    observed = result.observed
    meta = {
        "family": fit.family,
        "pooling": fit.pooling,
        "num_arms": fit.num_arms,
        "n": fit.n,
        "seed": fit.seed,
        "config": dataclasses.asdict(fit.config),
        "diagnostics": jsonable(fit.diagnostics),
        "timings": fit.timings,
        "n_forests": len(fit.forests),
        "experiment_id": observed.experiment_id,
        "metric": observed.metric,
        "treatments": list(observed.treatments),
        "schema": feature_schema(observed).to_dict(),
        "calibration": None if result.calibration is None else result.calibration.to_dict(),
    }
    write_posterior(result, folder, meta)


def load_result(path: str | os.PathLike[str]) -> _BCFResult:
    """Read any posterior written by ``save``; the type follows what was saved.

    Every file is checked against the manifest written last by ``save`` (sizes, checksums,
    array shapes, treatment labels in order); see :mod:`pytyche.bcf._persist`.

    Raises
    ------
    FileNotFoundError
        ``path`` is not a saved posterior at all.
    StoreError
        The folder is incomplete, damaged or inconsistent; the message names the file.
    """
    import io

    from pytyche.bcf._arrays import BCFFit
    from pytyche.bcf._draws import ForestDraws
    from pytyche.bcf._persist import META, TREATMENT_COLUMN, build_failure, read_posterior
    from pytyche.bcf.config import GPUBCFConfig

    parts = read_posterior(path)
    meta, table, folder = parts.meta, parts.table, Path(path).expanduser()
    current = META
    try:
        labels = table[TREATMENT_COLUMN].astype(str)
        variants = tuple(
            VariantData.from_visitors(
                name, table.loc[labels == name].drop(columns=TREATMENT_COLUMN)
                .reset_index(drop=True))
            for name in meta["treatments"]
        )
        schema = VisitorSchema.from_dict(meta["schema"])
        observed = ObservedExperimentData(
            experiment_id=meta["experiment_id"], metric=meta["metric"], variants=variants,
            schema=schema,
        )
        encode_new_visitors(schema, table)  # every stored feature value must still encode
        config = GPUBCFConfig(**meta["config"])
        forests = []
        for i, data in enumerate(parts.forests):
            current = f"forest_{i}.npz"
            forest = ForestDraws.load(io.BytesIO(data))
            if forest.num_arms != meta["num_arms"] or forest.num_draws != _n_draws(parts):
                msg = (f"holds {forest.num_draws} draws of {forest.num_arms} arms, the draws "
                       f"{_n_draws(parts)} of {meta['num_arms']}")
                raise ValueError(msg)
            forests.append(forest)
        current = META
        fit = BCFFit(
            family=meta["family"], pooling=meta["pooling"], num_arms=meta["num_arms"],
            n=meta["n"], config=config, seed=meta["seed"], draws=parts.draws,
            forests=tuple(forests), diagnostics=meta["diagnostics"], timings=meta["timings"],
        )
        calibration = None
        if meta.get("calibration") is not None:
            calibration = _provided("calibration_from_dict")(meta["calibration"])
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError,
            OSError, EOFError) as err:
        raise build_failure(folder, current, err) from err
    return result_type(meta["family"])(observed=observed, fit=fit, calibration=calibration)


def _n_draws(parts: Any) -> int:
    """Kept draws S of a checked posterior (the length of its sigma draws)."""
    return int(parts.draws["sigma"].shape[0])
