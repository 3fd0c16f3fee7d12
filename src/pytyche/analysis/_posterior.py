"""Read a posterior through its array interface, once.

Every analysis function works on a :class:`PosteriorView`: the observed data, treatment names,
metric family and the per-visitor draws, pulled from the posterior a single time and checked
for alignment. The analysis therefore depends only on what a posterior exposes
(``observed``, ``treatments``, ``metric_family``, ``level_samples()``, ``has_decomposition()``,
``p_samples``, ``sev_samples``, ``calibration``), never on how the engine computed it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pytyche.contracts import MetricFamily, ObservedExperimentData
from pytyche.errors import AlignmentViolation


@dataclass(frozen=True, slots=True, kw_only=True)
class PosteriorView:
    """The arrays an analysis needs, aligned with ``observed.visitors()``.

    Attributes
    ----------
    observed : ObservedExperimentData
        The data the posterior was fitted on (shared by identity).
    treatments : tuple of str
        Arm names, control first.
    metric_family : MetricFamily
    level : numpy.ndarray
        Expected outcome of every visitor under every arm per draw, shape (n, S, K).
    p : numpy.ndarray or None
        P(convert) draws, shape (n, S, K); hurdle posteriors only.
    sev : numpy.ndarray or None
        Expected basket given conversion, shape (n, S, K); hurdle posteriors only.
    calibration : object or None
        Coverage correction with ``adjust_level(level) -> float``; None when uncalibrated.
    """

    observed: ObservedExperimentData
    treatments: tuple[str, ...]
    metric_family: MetricFamily
    level: np.ndarray
    p: np.ndarray | None
    sev: np.ndarray | None
    calibration: Any

    @property
    def n_visitors(self) -> int:
        return int(self.level.shape[0])

    @property
    def n_draws(self) -> int:
        return int(self.level.shape[1])

    @property
    def n_arms(self) -> int:
        return int(self.level.shape[2])

    @property
    def has_decomposition(self) -> bool:
        return self.p is not None and self.sev is not None

    def mean_level(self) -> np.ndarray:
        """Posterior mean level per visitor and arm, float64, shape (n, K)."""
        return self.level.mean(axis=1, dtype=np.float64)


def view_of(posterior: Any) -> PosteriorView:
    """Pull the arrays out of ``posterior`` and check that they line up.

    Raises
    ------
    AlignmentViolation
        The draws do not have one row per observed visitor or one column per treatment.
    """
    if isinstance(posterior, PosteriorView):
        return posterior
    observed = posterior.observed
    treatments = tuple(posterior.treatments)
    level = np.asarray(posterior.level_samples())
    n, k_arms = observed.n_visitors, len(treatments)
    if level.ndim != 3 or level.shape[0] != n or level.shape[2] != k_arms:
        msg = (
            f"posterior.level_samples() has shape {level.shape}; expected (n={n}, S, "
            f"K={k_arms}) aligned with observed.visitors() and treatments {treatments}"
        )
        raise AlignmentViolation(msg)
    if level.shape[1] < 1:
        msg = "posterior.level_samples() holds no draws (S = 0); fit with at least one draw"
        raise AlignmentViolation(msg)
    if treatments != observed.treatments:
        msg = (
            f"posterior.treatments={treatments} differ from observed.treatments="
            f"{observed.treatments}; they must list the same arms, control first"
        )
        raise AlignmentViolation(msg)
    p = sev = None
    if posterior.has_decomposition():
        p = np.asarray(posterior.p_samples)
        sev = np.asarray(posterior.sev_samples)
        for name, arr in (("p_samples", p), ("sev_samples", sev)):
            if arr.shape != level.shape:
                msg = f"posterior.{name} has shape {arr.shape}; level draws have {level.shape}"
                raise AlignmentViolation(msg)
    return PosteriorView(
        observed=observed,
        treatments=treatments,
        metric_family=MetricFamily(posterior.metric_family),
        level=level,
        p=p,
        sev=sev,
        calibration=getattr(posterior, "calibration", None),
    )
