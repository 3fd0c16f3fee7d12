"""Posterior arrays for the analysis tests.

:class:`ArrayPosterior` is a real implementation of the posterior array interface that simply
holds the arrays it is given, so analysis code can be exercised on draws whose truth is known.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pytyche.contracts import MetricFamily, ObservedExperimentData, VariantData


@dataclass(frozen=True, slots=True, kw_only=True)
class ArrayPosterior:
    """Posterior draws held as arrays, aligned with ``observed.visitors()``."""

    observed: ObservedExperimentData
    level: np.ndarray
    p_samples: np.ndarray | None = None
    sev_samples: np.ndarray | None = None
    calibration: Any = None

    @property
    def treatments(self) -> tuple[str, ...]:
        return self.observed.treatments

    @property
    def metric_family(self) -> MetricFamily:
        return self.observed.metric_family

    def level_samples(self) -> np.ndarray:
        return self.level

    def cate_samples(self) -> np.ndarray:
        return self.level[..., 1:] - self.level[..., :1]

    def has_decomposition(self) -> bool:
        return self.p_samples is not None


@dataclass(frozen=True, slots=True)
class WidenBy:
    """A coverage correction that asks for a fixed higher raw level."""

    extra: float

    def adjust_level(self, level: float) -> float:
        return level + self.extra


def observed_from_frame(
    frame: pd.DataFrame, arms: np.ndarray, treatments: tuple[str, ...], metric: str
) -> tuple[ObservedExperimentData, np.ndarray]:
    """Split ``frame`` by arm index into variants (control first).

    Returns the observed data and the permutation that puts the original rows in
    ``observed.visitors()`` order.
    """
    order = np.argsort(arms, kind="stable")
    variants = tuple(
        VariantData.from_visitors(name, frame[arms == k].reset_index(drop=True))
        for k, name in enumerate(treatments)
    )
    observed = ObservedExperimentData(experiment_id="test", metric=metric, variants=variants)
    return observed, order


def features_frame(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Two continuous features, a categorical device and a binary returning flag."""
    return pd.DataFrame(
        {
            "x0": rng.uniform(-1, 1, n),
            "x1": rng.uniform(-1, 1, n),
            "device": rng.choice(["desktop", "mobile", "tablet"], n),
            "returning": rng.integers(0, 2, n),
        }
    )


def make_posterior(
    mean_level: np.ndarray,
    frame: pd.DataFrame,
    *,
    n_draws: int = 200,
    draw_sd: float = 0.3,
    shared_sd: float = 0.05,
    seed: int = 0,
    treatments: tuple[str, ...] | None = None,
    metric: str = "continuous",
    calibration: Any = None,
) -> ArrayPosterior:
    """Posterior draws scattered around ``mean_level`` (n, K) for the visitors in ``frame``.

    Each draw adds independent per-visitor noise (``draw_sd``) and a per-draw, per-arm shift
    shared by all visitors (``shared_sd``), so segment averages stay uncertain.
    """
    rng = np.random.default_rng(seed)
    n, k = mean_level.shape
    names = treatments or tuple("ABCDEFGH"[:k])
    arms = np.arange(n) % k
    frame = frame.assign(outcome=rng.normal(size=n))
    observed, order = observed_from_frame(frame, arms, names, metric)
    noise = rng.normal(0, draw_sd, (n, n_draws, k)) + rng.normal(0, shared_sd, (1, n_draws, k))
    level = (mean_level[:, None, :] + noise)[order].astype(np.float32)
    return ArrayPosterior(observed=observed, level=level, calibration=calibration)


def planted_boundary(n: int = 2000, seed: int = 0, **kw: Any) -> ArrayPosterior:
    """Three arms; B is best when x0 > 0, C when x0 <= 0; control A never best."""
    rng = np.random.default_rng(seed)
    frame = features_frame(n, rng)
    base = 10 + 0.5 * frame["x1"].to_numpy()
    right = frame["x0"].to_numpy() > 0
    mean = np.column_stack(
        [base, base + np.where(right, 1.0, -0.5), base + np.where(right, -0.5, 1.0)]
    )
    return make_posterior(mean, frame, seed=seed, **kw)


def pure_noise(n: int = 2000, seed: int = 0, **kw: Any) -> ArrayPosterior:
    """Three arms whose posterior-mean levels are independent noise per visitor."""
    rng = np.random.default_rng(seed)
    frame = features_frame(n, rng)
    mean = 10 + rng.normal(0, 0.3, (n, 3))
    return make_posterior(mean, frame, seed=seed, **kw)


def hurdle_posterior(n: int = 600, n_draws: int = 100, seed: int = 0) -> ArrayPosterior:
    """A revenue posterior with conversion and basket draws; level = p * sev."""
    rng = np.random.default_rng(seed)
    frame = features_frame(n, rng)
    k = 3
    arms = np.arange(n) % k
    frame = frame.assign(outcome=np.where(rng.random(n) < 0.3, rng.gamma(2.0, 20.0, n), 0.0))
    observed, _ = observed_from_frame(frame, arms, ("A", "B", "C"), "revenue_per_visitor")
    p = np.clip(rng.normal([0.10, 0.12, 0.09], 0.01, (n, n_draws, k)), 0.01, 0.99)
    sev = rng.gamma(50.0, [1.0, 0.95, 1.2], (n, n_draws, k))
    return ArrayPosterior(
        observed=observed,
        level=(p * sev).astype(np.float32),
        p_samples=p.astype(np.float32),
        sev_samples=sev.astype(np.float32),
    )


def categorical_posterior(n: int = 1500, seed: int = 0) -> ArrayPosterior:
    """Three arms: B best for returning mobile/tablet visitors, C for everyone else."""
    rng = np.random.default_rng(seed)
    frame = features_frame(n, rng)
    favour_b = frame["device"].isin(["mobile", "tablet"]).to_numpy() & (
        frame["returning"].to_numpy() == 1
    )
    base = np.full(n, 5.0)
    mean = np.column_stack(
        [base, base + np.where(favour_b, 1.0, 0.0), base + np.where(favour_b, 0.0, 1.0)]
    )
    return make_posterior(mean, frame, seed=seed)
