"""The layered coverage correction: an isotonic map below a ceiling, a scale family above it.

Notation. ``p`` is the nominal level of an equal-tailed credible interval; ``R(p)`` is the share
of true values such intervals were measured to cover in a sweep; ``z(p) = Φ⁻¹((1 + p) / 2)`` is
the half-width, in standard deviations, of a central normal interval of mass ``p``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

__all__ = ["DEFAULT_FIT_GRID", "LayeredCalibrationCorrection", "isotonic_increasing"]

_STD = NormalDist()
#: Smallest step between consecutive knots, which keeps the map strictly increasing.
_EPS = 1e-6
#: Nominal grid on which coverage is read off tail levels when fitting.
DEFAULT_FIT_GRID: tuple[float, ...] = (*(round(0.05 * i, 2) for i in range(1, 20)), 0.975, 0.99)
_KIND = "layered"
_VERSION = 1


def _z(p: float) -> float:
    """Half-width in standard deviations of the central normal interval of mass ``p``."""
    return _STD.inv_cdf((1.0 + p) / 2.0)


def _mass(z: float) -> float:
    """Mass of the central normal interval of half-width ``z`` (inverse of :func:`_z`)."""
    return 2.0 * _STD.cdf(z) - 1.0


def isotonic_increasing(y: Sequence[float], weights: Sequence[float] | None = None) -> np.ndarray:
    """Weighted least-squares non-decreasing fit to ``y`` (pool-adjacent-violators)."""
    values = [float(v) for v in y]
    w = [1.0] * len(values) if weights is None else [float(v) for v in weights]
    blocks: list[list[float]] = []  # [mean, weight, count]
    for v, wi in zip(values, w, strict=True):
        blocks.append([v, wi, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, w2, c2 = blocks.pop()
            m1, w1, c1 = blocks.pop()
            total = w1 + w2
            mean = (m1 * w1 + m2 * w2) / total if total > 0 else (m1 + m2) / 2.0
            blocks.append([mean, total, c1 + c2])
    return np.repeat([b[0] for b in blocks], [b[2] for b in blocks]).astype(np.float64)


@dataclass(frozen=True, slots=True, kw_only=True)
class LayeredCalibrationCorrection:
    """Monotone map from nominal interval level to measured coverage, and its inverse.

    The map ``R`` has two layers, joined continuously at a ceiling level ``c``.

    **Below the ceiling** (``0 <= p <= c``), ``R`` is the weighted isotonic (non-decreasing)
    regression of the measured coverage on the nominal level, anchored at ``R(0) = 0`` and
    interpolated linearly between knots. Knots are nudged up by at least 1e-6 each so that the
    map is strictly increasing, hence invertible. The ceiling is the highest level where the
    sweep still holds enough misses to measure coverage (see :meth:`from_tail_levels`).

    **Above the ceiling** (``c < p < 1``), too few estimands fall outside the intervals to
    measure coverage directly, so the posterior is treated as locally Gaussian with a
    misstated spread: if the truth is off the posterior centre by an error of standard
    deviation ``s`` times the posterior's, a nominal-``p`` interval (half-width ``z(p)``
    posterior standard deviations) covers with probability

    ``R(p) = 2 Φ(z(p) / s) - 1``.

    The scale ``s = z(c) / z(R(c))`` makes both layers agree at the ceiling; ``s > 1`` means
    the posterior is too narrow (under-coverage), ``s = 1`` leaves it unchanged.

    **Inverse.** :meth:`adjust_level` returns the raw level whose interval was measured to
    cover ``nominal``: ``R⁻¹(q)`` is the linear interpolation of the knots for
    ``q <= R(c)`` and ``2 Φ(s · z(q)) - 1`` above, clipped to ``[min_level, max_level]``.
    When the measured coverage equals the nominal level, every knot lies on the diagonal,
    ``s = 1`` and the correction is the identity.

    Attributes
    ----------
    knots_nominal, knots_empirical : tuple of float
        Knots of the lower layer, starting at (0, 0) and ending at the ceiling.
    scale : float
        Widening factor ``s`` of the upper layer.
    max_level : float, default=0.999
        Largest raw level :meth:`adjust_level` returns.
    min_level : float, default=0.01
        Smallest raw level :meth:`adjust_level` returns.
    """

    knots_nominal: tuple[float, ...]
    knots_empirical: tuple[float, ...]
    scale: float
    max_level: float = 0.999
    min_level: float = 0.01

    def __post_init__(self) -> None:
        p = np.asarray(self.knots_nominal, dtype=np.float64)
        r = np.asarray(self.knots_empirical, dtype=np.float64)
        if p.shape != r.shape or p.size < 2 or p[0] != 0.0 or r[0] != 0.0:
            msg = (f"knots_nominal={self.knots_nominal} and knots_empirical="
                   f"{self.knots_empirical}: need equal lengths (>= 2) starting at (0, 0)")
            raise ValueError(msg)
        if np.any(np.diff(p) <= 0) or np.any(np.diff(r) <= 0) or p[-1] >= 1 or r[-1] >= 1:
            msg = (f"knots_nominal={self.knots_nominal}, knots_empirical="
                   f"{self.knots_empirical}: both must increase strictly and stay below 1; "
                   "build the correction with from_pairs or from_tail_levels")
            raise ValueError(msg)
        if not (math.isfinite(self.scale) and self.scale > 0):
            msg = f"scale={self.scale}: the widening factor must be a positive finite number"
            raise ValueError(msg)
        if not 0.0 < self.min_level < self.max_level < 1.0:
            msg = (f"min_level={self.min_level}, max_level={self.max_level}: need "
                   "0 < min_level < max_level < 1")
            raise ValueError(msg)

    # ---- construction ---------------------------------------------------------------------

    @classmethod
    def from_pairs(
        cls,
        nominal: Sequence[float],
        empirical: Sequence[float],
        *,
        weights: Sequence[float] | None = None,
        ceiling: float | None = None,
        max_level: float = 0.999,
    ) -> LayeredCalibrationCorrection:
        """Fit from (nominal level, measured coverage) pairs.

        Parameters
        ----------
        nominal : sequence of float
            Nominal levels, strictly between 0 and 1 (any order; repeats allowed).
        empirical : sequence of float
            Measured coverage at each nominal level, in [0, 1].
        weights : sequence of float, optional
            Weight of each pair in the isotonic fit (e.g. the estimands behind it).
        ceiling : float, optional
            Highest nominal level the lower layer uses; default: the largest level given.
        max_level : float, default=0.999
            Largest raw level :meth:`adjust_level` may return.
        """
        p = np.asarray(nominal, dtype=np.float64).ravel()
        r = np.asarray(empirical, dtype=np.float64).ravel()
        w = np.ones_like(p) if weights is None else np.asarray(weights, np.float64).ravel()
        if p.size == 0 or p.shape != r.shape or w.shape != p.shape:
            msg = (f"nominal ({p.size}), empirical ({r.size}) and weights ({w.size}): pass "
                   "one measured coverage and weight per nominal level, at least one")
            raise ValueError(msg)
        if np.any((p <= 0) | (p >= 1)) or np.any((r < 0) | (r > 1)) or np.any(w < 0):
            msg = (f"nominal={p.tolist()}, empirical={r.tolist()}: levels must lie in (0, 1), "
                   "coverages in [0, 1] and weights be non-negative")
            raise ValueError(msg)
        top = float(p.max()) if ceiling is None else float(ceiling)
        keep = p <= top + 1e-12
        if not keep.any():
            msg = f"ceiling={ceiling} is below every nominal level {sorted(set(p.tolist()))}"
            raise ValueError(msg)
        p, r, w = p[keep], r[keep], w[keep]
        order = np.argsort(p, kind="stable")
        p, r, w = p[order], r[order], w[order]
        fitted = isotonic_increasing(r, w)
        levels = np.unique(p)
        # one knot per distinct level: the weighted mean of the (equal) fitted values there
        values = np.array([fitted[p == lv].mean() for lv in levels])
        knots_p = [0.0]
        knots_r = [0.0]
        for lv, val in zip(levels, values, strict=True):
            v = min(max(float(val), knots_r[-1] + _EPS), 1.0 - _EPS * (len(levels) + 2))
            v = max(v, knots_r[-1] + _EPS)
            knots_p.append(float(lv))
            knots_r.append(v)
        r_c = knots_r[-1]
        scale = _z(knots_p[-1]) / _z(r_c)
        return cls(knots_nominal=tuple(knots_p), knots_empirical=tuple(knots_r), scale=scale,
                   max_level=max_level)

    @classmethod
    def from_tail_levels(
        cls,
        tail_levels: Sequence[float] | np.ndarray,
        *,
        grid: Sequence[float] = DEFAULT_FIT_GRID,
        min_misses: int = 20,
        max_ceiling: float = 0.95,
        max_level: float = 0.999,
    ) -> LayeredCalibrationCorrection:
        """Fit from per-estimand tail levels (see :func:`pytyche.calibrate.sbc.tail_levels`).

        Coverage at each grid level ``p`` is the share of tail levels ``<= p``. The ceiling is
        the largest grid level, at most ``max_ceiling``, at which at least ``min_misses``
        estimands were still missed; levels above it go to the scale layer.

        Raises
        ------
        ValueError
            Fewer than ``min_misses`` misses even at the lowest grid level.
        """
        u = np.asarray(tail_levels, dtype=np.float64).ravel()
        grid_arr = np.asarray(sorted(grid), dtype=np.float64)
        if u.size == 0:
            msg = "no tail levels: run a sweep with at least one finished fit first"
            raise ValueError(msg)
        coverage = (u[None, :] <= grid_arr[:, None] + 1e-9).mean(axis=1)
        misses = (1.0 - coverage) * u.size
        ok = (misses >= min_misses) & (grid_arr <= max_ceiling + 1e-12)
        if not ok.any():
            msg = (f"{u.size} estimands leave fewer than min_misses={min_misses} misses at "
                   f"every grid level <= {max_ceiling}; run more seeds or lower min_misses")
            raise ValueError(msg)
        ceiling = float(grid_arr[ok].max())
        return cls.from_pairs(grid_arr, coverage, weights=np.full(grid_arr.shape, u.size),
                              ceiling=ceiling, max_level=max_level)

    @classmethod
    def identity(cls) -> LayeredCalibrationCorrection:
        """The correction that changes nothing (R(p) = p)."""
        return cls.from_pairs([0.5, 0.9], [0.5, 0.9])

    # ---- evaluation -----------------------------------------------------------------------

    @property
    def ceiling(self) -> float:
        """Nominal level where the isotonic layer hands over to the scale layer."""
        return self.knots_nominal[-1]

    def coverage(self, nominal: float) -> float:
        """Measured coverage ``R(p)`` of a raw interval at level ``nominal``."""
        p = float(nominal)
        if not 0.0 <= p <= 1.0:
            msg = f"nominal={nominal}: pass a level in [0, 1]"
            raise ValueError(msg)
        if p <= self.ceiling:
            return float(np.interp(p, self.knots_nominal, self.knots_empirical))
        if p >= 1.0:
            return 1.0
        return _mass(_z(p) / self.scale)

    def adjust_level(self, nominal: float) -> float:
        """Raw level whose interval covers ``nominal`` of the time: ``R⁻¹(nominal)``, clipped.

        Parameters
        ----------
        nominal : float
            Target coverage, strictly between 0 and 1.

        Returns
        -------
        float
            The level to compute the raw credible interval at, in ``[min_level, max_level]``.
        """
        q = float(nominal)
        if not 0.0 < q < 1.0:
            msg = f"nominal={nominal}: pass a level strictly between 0 and 1"
            raise ValueError(msg)
        if q <= self.knots_empirical[-1]:
            raw = float(np.interp(q, self.knots_empirical, self.knots_nominal))
        else:
            raw = _mass(self.scale * _z(q))
        return min(max(raw, self.min_level), self.max_level)

    # ---- serialisation --------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description; :meth:`from_dict` rebuilds an equal correction."""
        return {
            "kind": _KIND,
            "version": _VERSION,
            "knots_nominal": list(self.knots_nominal),
            "knots_empirical": list(self.knots_empirical),
            "scale": self.scale,
            "max_level": self.max_level,
            "min_level": self.min_level,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LayeredCalibrationCorrection:
        """Rebuild a correction written by :meth:`to_dict`."""
        if data.get("kind") != _KIND or data.get("version") != _VERSION:
            msg = (f"correction kind={data.get('kind')!r} version={data.get('version')!r}: "
                   f"this pytyche reads kind {_KIND!r} version {_VERSION}; refit the artifact")
            raise ValueError(msg)
        return cls(knots_nominal=tuple(float(v) for v in data["knots_nominal"]),
                   knots_empirical=tuple(float(v) for v in data["knots_empirical"]),
                   scale=float(data["scale"]), max_level=float(data["max_level"]),
                   min_level=float(data["min_level"]))
