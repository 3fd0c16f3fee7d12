"""Potential-outcome surfaces: functions of the visitor features, and ways to combine them.

A surface maps the feature frame ``X`` (one row per visitor) to one number per visitor: a
conversion probability, a basket mean, a dispersion or a continuous mean under one treatment.
The combinators build new surfaces from old ones without evaluating anything; evaluation happens
once per surface when the potential outcomes are computed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "SurfaceConfig",
    "add_surfaces",
    "multiply_surfaces",
    "pointwise",
    "sigmoid_surface",
    "threshold_surface",
]


@dataclass(frozen=True, slots=True)
class SurfaceConfig:
    """One potential-outcome surface, given as a function of the visitor features.

    Attributes
    ----------
    fn : callable
        ``fn(X) -> ndarray``: receives the feature frame (one row per visitor; for mixture
        samplers it also holds ``cluster_id``) and returns a float array of shape ``(len(X),)``.
    """

    fn: Callable[[pd.DataFrame], np.ndarray]

    def __post_init__(self) -> None:
        if not callable(self.fn):
            msg = (
                f"SurfaceConfig: fn={self.fn!r} is not callable; pass a function "
                "X -> array of shape (len(X),)"
            )
            raise TypeError(msg)

    def __call__(self, X: pd.DataFrame) -> np.ndarray:
        """Evaluate the surface and check it returns one finite float per visitor."""
        values = np.asarray(self.fn(X), dtype=np.float64)
        if values.shape != (len(X),):
            msg = (
                f"surface {self.fn!r} returned shape {values.shape}; a surface must return "
                f"one value per visitor, shape ({len(X)},)"
            )
            raise ValueError(msg)
        return values


def pointwise(op: Callable[..., np.ndarray], *surfaces: SurfaceConfig) -> SurfaceConfig:
    """Surface whose value is ``op(s1(X), s2(X), ...)``: every combinator is one of these."""

    def fn(X: pd.DataFrame) -> np.ndarray:
        return op(*(s(X) for s in surfaces))

    return SurfaceConfig(fn)


def add_surfaces(s1: SurfaceConfig, s2: SurfaceConfig) -> SurfaceConfig:
    """Surface whose value is ``s1(X) + s2(X)``, visitor by visitor, on the same frame."""
    return pointwise(np.add, s1, s2)


def multiply_surfaces(s1: SurfaceConfig, s2: SurfaceConfig) -> SurfaceConfig:
    """Surface whose value is ``s1(X) * s2(X)``, visitor by visitor, on the same frame."""
    return pointwise(np.multiply, s1, s2)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    # exp of a negative argument only, so large |z| never overflows.
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def sigmoid_surface(s: SurfaceConfig) -> SurfaceConfig:
    """Surface mapping ``s(X)`` through the logistic function into (0, 1).

    Notes
    -----
    ``sigmoid(z) = 1 / (1 + exp(-z))``. Use it to turn a linear or nonlinear score on the logit
    scale into a valid conversion probability without clipping.

    Parameters
    ----------
    s : SurfaceConfig
        Score on the logit scale.

    Returns
    -------
    SurfaceConfig
    """

    return pointwise(_sigmoid, s)


def threshold_surface(
    s: SurfaceConfig, cutoff: float, above: float, below: float
) -> SurfaceConfig:
    """Step surface: ``above`` where ``s(X) > cutoff``, ``below`` elsewhere.

    A discontinuous surface, useful to check estimators that assume smooth effects.

    Parameters
    ----------
    s : SurfaceConfig
        Surface whose value is compared with ``cutoff`` (strictly greater means above).
    cutoff : float
        The boundary.
    above, below : float
        Values on either side of the boundary.

    Returns
    -------
    SurfaceConfig
    """
    for name, value in (("cutoff", cutoff), ("above", above), ("below", below)):
        if not np.isfinite(value):
            msg = f"threshold_surface: {name}={value!r} must be a finite number"
            raise ValueError(msg)

    def fn(X: pd.DataFrame) -> np.ndarray:
        return np.where(s(X) > cutoff, float(above), float(below))

    return SurfaceConfig(fn)
