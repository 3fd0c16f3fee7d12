"""Benchmark designs from the BCF literature, as plain arrays with the true effect.

The scenario templates (:func:`pytyche.generators.simulate`) model e-commerce visitors; these
are the small, fully specified designs that BCF papers and peers are measured on, so a fit can
be compared with `bartz.bcf` and stochtree on the same numbers:

- :func:`hmc_design`: Hahn, Murray & Carvalho (2020, Bayesian Analysis 15(3), section 6), the
  2×2 family of linear or nonlinear prognostic function and homogeneous or heterogeneous
  effect, with targeted selection (treatment more likely where the prognosis is high).
- :func:`multilevel_moderator_design`: the effect grows with the product of a normal feature
  and a three-level one, the moderator shape on which issue #13 measured pytyche behind peers.
- :func:`weak_signal_rct`: a randomized 50/50 experiment with one common effect of 0.6
  outcome standard deviations, where a tight τ prior without an intercept shrinks the effect.
- :func:`hurdle_design`: zero-inflated revenue (probit conversion, log-normal basket) whose
  conversion and basket effects are driven by the same feature or by different ones.

Every design draws its visitors in a fixed order from ``numpy.random.default_rng(seed)``, so a
seed always gives the same data, and returns an :class:`ArrayDesign`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.special import ndtr

__all__ = [
    "ArrayDesign",
    "hmc_design",
    "hurdle_design",
    "multilevel_moderator_design",
    "weak_signal_rct",
]


@dataclass(frozen=True)
class ArrayDesign:
    """One simulated two-arm data set and its truth.

    Attributes
    ----------
    X : ndarray, shape (n, p), float32
        Features.
    z : ndarray, shape (n,), int32
        Treatment (0 control, 1 treated).
    y : ndarray, shape (n,), float32
        Observed outcome.
    propensity : ndarray, shape (n, 2), float32
        The true assignment probabilities (control, treated) of each visitor.
    tau : ndarray, shape (n,), float64
        The true conditional average effect E[Y(1) − Y(0) | x] of each visitor.
    """

    X: np.ndarray
    z: np.ndarray
    y: np.ndarray
    propensity: np.ndarray
    tau: np.ndarray

    @property
    def n(self) -> int:
        return len(self.y)


def _noise_columns(rng: np.random.Generator, X: np.ndarray, n_noise: int) -> np.ndarray:
    """Append `n_noise` standard-normal features unrelated to outcome and assignment, drawn
    after everything else so that adding them leaves the other draws unchanged."""
    if n_noise == 0:
        return X
    return np.column_stack([X, rng.normal(size=(len(X), n_noise))]).astype(np.float32)


def _targeted(rng: np.random.Generator, mu: np.ndarray, x1: np.ndarray) -> np.ndarray:
    """HMC's targeted selection: P(treated) rises with the standardized prognosis."""
    n = len(mu)
    return 0.8 * ndtr(3 * mu / mu.std() - 0.5 * x1) + 0.05 + rng.uniform(size=n) / 10


def _hmc_features(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    x1, x2, x3 = rng.normal(size=(3, n))
    x4 = rng.integers(0, 2, n).astype(float)
    x5 = rng.integers(1, 4, n).astype(float)
    return x1, x2, x3, x4, x5


def _two_arm(rng: np.random.Generator, X: np.ndarray, mu: np.ndarray, tau: np.ndarray,
             pi: np.ndarray, n_noise: int) -> ArrayDesign:
    z = (rng.uniform(size=len(mu)) < pi).astype(np.int32)
    y = mu + tau * z + rng.normal(size=len(mu))
    X = _noise_columns(rng, X.astype(np.float32), n_noise)
    return ArrayDesign(X=X, z=z, y=y.astype(np.float32),
                       propensity=np.column_stack([1 - pi, pi]).astype(np.float32),
                       tau=np.asarray(tau, dtype=np.float64))


def hmc_design(n: int, *, heterogeneous: bool = True, linear: bool = True, seed: int = 0,
               n_noise: int = 0) -> ArrayDesign:
    """Hahn, Murray & Carvalho (2020) simulation: five features, targeted selection, unit noise.

    μ(x) = 1 + g(x5) + x1·x3 (linear) or −6 + g(x5) + 6·|x3 − 1| (nonlinear), with
    g = (2, −1, −4) on the levels 1, 2, 3 of x5; τ(x) = 1 + 2·x2·x4 (heterogeneous) or 3.

    Parameters
    ----------
    n : int
        Visitors.
    heterogeneous, linear : bool
        The cell of the 2×2 family.
    seed : int
        Seed of the draws.
    n_noise : int, default=0
        Extra standard-normal features unrelated to anything (p = 5 + n_noise).

    Examples
    --------
    >>> d = hmc_design(1000, seed=0)
    >>> d.X.shape, d.propensity.shape, bool(np.allclose(d.tau, 1 + 2 * d.X[:, 1] * d.X[:, 3]))
    ((1000, 5), (1000, 2), True)
    """
    rng = np.random.default_rng(seed)
    x1, x2, x3, x4, x5 = _hmc_features(rng, n)
    g = np.select([x5 == 1, x5 == 2], [2.0, -1.0], -4.0)
    mu = 1 + g + x1 * x3 if linear else -6 + g + 6 * np.abs(x3 - 1)
    tau = 1 + 2 * x2 * x4 if heterogeneous else np.full(n, 3.0)
    X = np.column_stack([x1, x2, x3, x4, x5])
    return _two_arm(rng, X, mu, tau, _targeted(rng, mu, x1), n_noise)


def multilevel_moderator_design(n: int, *, seed: int = 0, n_noise: int = 0) -> ArrayDesign:
    """HMC's linear μ with an effect moderated by a normal and a three-level feature at once.

    τ(x) = 0.5 + x2·(x5 − 1): no slope on level 1 of x5, slope 1 on level 2, 2 on level 3. A
    forest must split on x5 and then on x2 within its upper levels, which is where issue #13
    measured pytyche's CATE RMSE 1.14× that of `bartz.bcf`.
    """
    rng = np.random.default_rng(seed)
    x1, x2, x3, x4, x5 = _hmc_features(rng, n)
    g = np.select([x5 == 1, x5 == 2], [2.0, -1.0], -4.0)
    mu = 1 + g + x1 * x3
    X = np.column_stack([x1, x2, x3, x4, x5])
    tau = 0.5 + x2 * (x5 - 1)
    return _two_arm(rng, X, mu, tau, _targeted(rng, mu, x1), n_noise)


def weak_signal_rct(n: int, *, seed: int = 0, effect: float = 1.5) -> ArrayDesign:
    """A randomized 50/50 experiment with one common effect under noise sd 2.

    μ(x) = x1 + 0.5·x3², τ = `effect` (1.5, i.e. 0.6 noise sd), five standard-normal features.
    """
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5)).astype(np.float32)
    z = rng.integers(0, 2, n).astype(np.int32)
    y = X[:, 0] + 0.5 * X[:, 2] ** 2 + effect * z + 2.0 * rng.normal(size=n)
    return ArrayDesign(X=X, z=z, y=y.astype(np.float32),
                       propensity=np.full((n, 2), 0.5, np.float32), tau=np.full(n, effect))


def hurdle_design(n: int, *, drivers: Literal["shared", "separate"] = "separate", seed: int = 0,
                  n_noise: int = 5) -> ArrayDesign:
    """Zero-inflated revenue from a 50/50 randomized experiment (about 4% buy).

    Conversion is probit, P(buy | x, z) = Φ(−1.9 + 0.3·x1 − 0.2·x4 + z·τc(x)); a buyer's
    log basket is normal with mean 3 + 0.4·x1 + 0.3·[x5 = 3] + z·τs(x) and sd 0.6. The
    conversion effect τc = 0.2 + 0.15·x2 always moves with x2; the basket effect τs is
    0.1 + 0.15·x2 (`drivers="shared"`) or 0.1 + 0.15·x3 (`"separate"`: the two channels'
    effects are driven by different features). `tau` is the revenue-per-visitor effect,
    Φ(lat₁)·E[basket₁] − Φ(lat₀)·E[basket₀].
    """
    if drivers not in ("shared", "separate"):
        raise ValueError(f"drivers must be 'shared' or 'separate', got {drivers!r}")
    rng = np.random.default_rng(seed)
    x1, x2, x3, x4, x5 = _hmc_features(rng, n)
    X = np.column_stack([x1, x2, x3, x4, x5]).astype(np.float32)
    z = rng.integers(0, 2, n).astype(np.int32)
    lat0 = -1.9 + 0.3 * x1 - 0.2 * x4
    tau_c = 0.2 + 0.15 * x2
    m0 = 3.0 + 0.4 * x1 + 0.3 * (x5 == 3)
    tau_s = 0.1 + 0.15 * (x2 if drivers == "shared" else x3)
    sd = 0.6
    buy = rng.normal(size=n) < lat0 + tau_c * z
    log_basket = m0 + tau_s * z + sd * rng.normal(size=n)
    y = np.where(buy, np.exp(log_basket), 0.0)
    rpv0 = ndtr(lat0) * np.exp(m0 + sd**2 / 2)
    rpv1 = ndtr(lat0 + tau_c) * np.exp(m0 + tau_s + sd**2 / 2)
    return ArrayDesign(X=_noise_columns(rng, X, n_noise), z=z, y=y.astype(np.float32),
                       propensity=np.full((n, 2), 0.5, np.float32), tau=rpv1 - rpv0)
