"""Equal-tailed credible intervals, optionally widened by a coverage correction."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["check_level", "credible_interval"]


def check_level(level: float, *, name: str = "level") -> float:
    """Return ``level`` as a float after checking it lies strictly between 0 and 1."""
    value = float(level)
    if not (math.isfinite(value) and 0.0 < value < 1.0):
        msg = f"{name}={level!r} must be a credible level in (0, 1), for example 0.80"
        raise ValueError(msg)
    return value


def credible_interval(
    draws: Any,
    level: float = 0.80,
    *,
    axis: int = 0,
    calibration: Any = None,
) -> tuple[Any, Any]:
    """Equal-tailed credible interval of posterior draws.

    Parameters
    ----------
    draws : array_like
        Posterior draws. The draw axis is ``axis``; every other axis is kept.
    level : float, default=0.80
        Nominal probability mass inside the interval.
    axis : int, default=0
        Axis holding the draws (``1`` for per-visitor arrays of shape (n, S, K)).
    calibration : object, optional
        A coverage correction with ``adjust_level(level) -> float``. When given, the raw
        interval is taken at the adjusted level, the one measured to achieve ``level``.

    Returns
    -------
    low, high : float or numpy.ndarray
        Lower and upper bounds, the draw axis removed (floats for 1-D draws).

    Raises
    ------
    ValueError
        ``level`` (or the adjusted level) is outside (0, 1), or there are no draws.

    Notes
    -----
    The bounds are the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of the draws
    (linear interpolation between order statistics).

    Examples
    --------
    >>> import numpy as np
    >>> low, high = credible_interval(np.arange(101.0), level=0.80)
    >>> float(low), float(high)
    (10.0, 90.0)
    """
    nominal = check_level(level)
    effective = nominal
    if calibration is not None:
        effective = check_level(calibration.adjust_level(nominal), name="adjusted level")
    arr = np.asarray(draws, dtype=np.float64)
    if arr.ndim == 0 or arr.shape[axis] == 0:
        msg = f"draws with shape {arr.shape} hold no draws on axis {axis}; pass posterior draws"
        raise ValueError(msg)
    tail = round((1.0 - effective) / 2.0, 12)  # 0.1, not 0.09999999999999998, at 0.80
    bounds = np.quantile(arr, [tail, 1.0 - tail], axis=axis)
    low, high = bounds[0], bounds[1]
    if np.ndim(low) == 0:
        return float(low), float(high)
    return low, high
