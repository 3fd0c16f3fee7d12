"""The R(p) calibration curve: nominal interval level against measured coverage."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from pytyche.viz._common import as_float_array, mapping_or_attr, new_axes

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["calibration_curve", "plot_calibration"]


def calibration_curve(source: Any) -> tuple[np.ndarray, np.ndarray]:
    """Read ``(nominal, empirical)`` coverage arrays from any accepted calibration input.

    Accepted, in this order:

    - an object or mapping with ``nominal`` and ``empirical`` sequences;
    - an object with a ``curve()`` method returning one of these forms;
    - a ``CalibrationRecord`` (``nominal_levels`` and ``segment_coverage``);
    - a ``(nominal, empirical)`` pair of sequences.

    Raises
    ------
    ValueError
        Nothing usable, arrays of different lengths, or values outside [0, 1].
    """
    curve = getattr(source, "curve", None)
    if callable(curve):
        return calibration_curve(curve())
    nominal = mapping_or_attr(source, "nominal")
    empirical = mapping_or_attr(source, "empirical")
    if nominal is None and not isinstance(source, Mapping):
        nominal = getattr(source, "nominal_levels", None)
        empirical = getattr(source, "segment_coverage", None)
    if nominal is None and isinstance(source, tuple | list) and len(source) == 2:
        nominal, empirical = source
    if nominal is None or empirical is None:
        msg = (f"cannot read a calibration curve from {type(source).__name__}; pass an object "
               "or mapping with `nominal` and `empirical` arrays, a CalibrationRecord, or a "
               "(nominal, empirical) pair")
        raise ValueError(msg)
    x = as_float_array(nominal, "nominal")
    y = as_float_array(empirical, "empirical")
    if x.shape != y.shape:
        msg = f"nominal has {x.size} levels but empirical has {y.size}; give one per level"
        raise ValueError(msg)
    finite = np.isfinite(y)
    if ((x < 0) | (x > 1)).any() or ((y[finite] < 0) | (y[finite] > 1)).any():
        msg = "nominal levels and empirical coverages must lie in [0, 1] (0.8, not 80)"
        raise ValueError(msg)
    order = np.argsort(x)
    return x[order], y[order]


def _calibration_of_posterior(source: Any) -> Any:
    """The calibration a fitted posterior carries, or ``source`` itself if it is no posterior."""
    if not (hasattr(source, "observed") and hasattr(source, "is_calibrated")):
        return source
    if not source.is_calibrated:
        msg = ("plot_calibration: this posterior carries no calibration (fitted without one, "
               "or with Calibration.skip()); pass calibration=Calibration.from_sweep(...) to "
               "the fit, or call posterior.apply_calibration(...) first")
        raise ValueError(msg)
    return source.calibration


def plot_calibration(calibration_or_curve: Any, reference: Any = None,
                     ax: Axes | None = None, *, label: str = "measured coverage",
                     reference_label: str = "uncalibrated") -> Axes:
    """R(p): how often an interval of nominal level p actually covered the truth.

    Parameters
    ----------
    calibration_or_curve : calibrated posterior, Calibration, mapping, CalibrationRecord or pair
        The curve to draw. A calibrated posterior (``pt.fit(..., calibration=...)`` or
        ``posterior.apply_calibration(...)``), as the glossary calls it, draws the
        calibration it carries, already resolved for its number of visitors. Otherwise see
        :func:`calibration_curve` for the accepted forms (the simplest is
        ``{"nominal": [0.5, 0.8, 0.9], "empirical": [0.41, 0.70, 0.83]}``).
    reference : same forms, optional
        A second curve drawn dashed, typically the uncalibrated posterior.
    ax : matplotlib.axes.Axes, optional
    label, reference_label : str
        Legend entries of the two curves.

    Returns
    -------
    matplotlib.axes.Axes
        Points on the diagonal are perfectly calibrated; below it, intervals are too narrow.
        A size-aware :class:`~pytyche.Calibration` also gets one thin line per measured size
        (coverage falls as the number of visitors grows).

    Raises
    ------
    ValueError
        A posterior without an applied calibration, or an unreadable curve.
    """
    calibration_or_curve = _calibration_of_posterior(calibration_or_curve)
    if reference is not None:
        reference = _calibration_of_posterior(reference)
    x, y = calibration_curve(calibration_or_curve)
    ax = new_axes(ax, (5.5, 5.0))
    ax.plot([0, 1], [0, 1], color="#999999", linewidth=1, linestyle=":",
            label="perfect calibration")
    if reference is not None:
        rx, ry = calibration_curve(reference)
        ax.plot(rx, ry, marker="s", linestyle="--", color="#D55E00", label=reference_label)
    sizes = tuple(getattr(calibration_or_curve, "sizes", ()) or ())
    for i, n in enumerate(sizes):  # a size-aware Calibration: one thin line per measured size
        sx, sy = calibration_curve(calibration_or_curve.curve(n_visitors=n))
        from matplotlib import colormaps

        colour = colormaps["viridis"](0.85 * i / max(len(sizes) - 1, 1))
        ax.plot(sx, sy, color=colour, linewidth=1.2, label=f"{n:,} visitors")
    ax.plot(x, y, marker="o", color="#0072B2" if not sizes else "#555555", linewidth=2,
            markersize=4 if sizes else 6, label=f"{label} (all sizes)" if sizes else label)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("nominal interval level p")
    ax.set_ylabel("empirical coverage R(p)")
    ax.set_title("Calibration: nominal vs measured coverage")
    ax.legend(loc="upper left", frameon=False, fontsize=8)
    ax.grid(alpha=0.3)
    return ax
