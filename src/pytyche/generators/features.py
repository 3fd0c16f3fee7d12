"""Visitor feature samplers: a Gaussian copula or a mixture of populations.

Both strategies return a :class:`pandas.DataFrame` with one column per :class:`FeatureSpec`:
continuous features as float64, binary features as int8 0/1, categorical features as a pandas
``Categorical`` whose categories are the spec's ``levels`` in order. The mixture sampler adds a
``cluster_id`` column (int32) so surfaces can depend on the latent population; the generator
moves it into the truth and never shows it in observed data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from pytyche.contracts import RESERVED_COLUMNS, VisitorSchema

__all__ = [
    "CLUSTER_ID_COLUMN",
    "DEFAULT_LEVELS",
    "CopulaConfig",
    "FeatureSamplerConfig",
    "FeatureSpec",
    "MixtureConfig",
    "default_levels",
    "sample_features",
    "visitor_schema",
]

#: Column added by :class:`MixtureConfig` sampling: the latent population of each visitor.
CLUSTER_ID_COLUMN = "cluster_id"

_KINDS = ("continuous", "categorical", "binary")
_MARGINALS = ("normal", "lognormal", "uniform")
# Per-kind keys a MixtureConfig cluster may override.
_CLUSTER_KEYS: dict[str, frozenset[str]] = {
    "continuous": frozenset({"loc", "scale"}),
    "binary": frozenset({"p"}),
    "categorical": frozenset({"weights"}),
}


def _is_taken_name(name: str) -> bool:
    head, _, tail = name.partition("_")
    propensity = name == "propensity" or (head == "propensity" and tail.isdigit())
    return name in RESERVED_COLUMNS or propensity or name in ("treatment", CLUSTER_ID_COLUMN)


def _check_weights(owner: str, weights: Any, n_levels: int) -> tuple[float, ...]:
    w = tuple(float(v) for v in weights)
    if len(w) != n_levels:
        msg = f"{owner}: weights={w} has {len(w)} entries for {n_levels} levels"
        raise ValueError(msg)
    if any(not math.isfinite(v) or v < 0 for v in w) or abs(sum(w) - 1.0) > 1e-9:
        msg = f"{owner}: weights={w} must be non-negative and sum to 1"
        raise ValueError(msg)
    return w


def _check_p(owner: str, p: Any) -> float:
    if not (isinstance(p, (int, float, np.floating)) and 0.0 <= float(p) <= 1.0):
        msg = f"{owner}: p={p!r} must be a probability in [0, 1]"
        raise ValueError(msg)
    return float(p)


def _check_loc_scale(owner: str, loc: Any, scale: Any) -> None:
    if not math.isfinite(float(loc)):
        msg = f"{owner}: loc={loc!r} must be finite"
        raise ValueError(msg)
    if not (math.isfinite(float(scale)) and float(scale) > 0):
        msg = f"{owner}: scale={scale!r} must be positive and finite"
        raise ValueError(msg)


#: Levels a categorical FeatureSpec gets when none are given, by (lower-cased) feature name.
DEFAULT_LEVELS: dict[str, tuple[str, ...]] = {
    "device": ("desktop", "mobile", "tablet"),
    "channel": ("direct", "search", "social", "email"),
    "browser": ("chrome", "safari", "firefox", "edge"),
    "os": ("windows", "macos", "ios", "android"),
    "region": ("north", "south", "east", "west"),
    "country": ("us", "uk", "de", "fr"),
    "segment": ("new", "returning", "loyal"),
}


def default_levels(name: str) -> tuple[str, ...]:
    """Levels of a categorical feature declared without any (see :data:`DEFAULT_LEVELS`)."""
    known = DEFAULT_LEVELS.get(name.lower())
    return known if known is not None else tuple(f"{name}_{i}" for i in range(3))


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """One feature column and its marginal distribution.

    Attributes
    ----------
    name : str
        Column name; must not be a reserved visitor column, ``treatment`` or ``cluster_id``.
    kind : {"continuous", "categorical", "binary"}
        Feature type.
    marginal : {"normal", "lognormal", "uniform"}, default="normal"
        Continuous features only: ``loc + scale * Z``, ``exp(loc + scale * Z)`` or
        ``loc + scale * U`` with Z standard normal and U uniform on (0, 1).
    loc, scale : float, default=0.0, 1.0
        Location and scale of a continuous marginal (``scale > 0``).
    p : float, default=0.5
        Binary features only: probability of a 1.
    levels : tuple, default=()
        Categorical features only: the levels, at least two, in code order. Left empty, a
        feature named like a usual e-commerce attribute gets that attribute's levels
        (``"device"``: desktop, mobile, tablet; see :data:`DEFAULT_LEVELS`), any other name
        three levels ``"<name>_0"``, ``"<name>_1"``, ``"<name>_2"``; so
        ``FeatureSpec("device", "categorical")`` works as the specification writes it.
    weights : tuple of float or None, default=None
        Categorical features only: level probabilities (uniform when None).
    """

    name: str
    kind: Literal["continuous", "categorical", "binary"]
    _: KW_ONLY
    marginal: Literal["normal", "lognormal", "uniform"] = "normal"
    loc: float = 0.0
    scale: float = 1.0
    p: float = 0.5
    levels: tuple[Any, ...] = ()
    weights: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            msg = f"FeatureSpec: name={self.name!r} must be a non-empty string"
            raise ValueError(msg)
        owner = f"FeatureSpec {self.name!r}"
        if _is_taken_name(self.name):
            msg = (
                f"{owner}: the name is reserved (outcome, visitor_id, cell, round, propensity*, "
                "treatment, cluster_id); rename the feature"
            )
            raise ValueError(msg)
        if self.kind not in _KINDS:
            msg = f"{owner}: kind={self.kind!r}; use one of {_KINDS}"
            raise ValueError(msg)
        if self.marginal not in _MARGINALS:
            msg = f"{owner}: marginal={self.marginal!r}; use one of {_MARGINALS}"
            raise ValueError(msg)
        _check_loc_scale(owner, self.loc, self.scale)
        _check_p(owner, self.p)
        object.__setattr__(self, "levels", tuple(self.levels))
        if self.kind == "categorical" and not self.levels:
            object.__setattr__(self, "levels", default_levels(self.name))
        if self.kind == "categorical":
            if len(self.levels) < 2 or len(set(self.levels)) != len(self.levels):
                msg = f"{owner}: levels={self.levels!r} must hold at least 2 distinct levels"
                raise ValueError(msg)
            weights = self.weights
            if weights is None:
                weights = (1.0 / len(self.levels),) * len(self.levels)
                # Make the uniform default sum to exactly 1 for the check below.
                weights = (*weights[:-1], 1.0 - sum(weights[:-1]))
            object.__setattr__(self, "weights", _check_weights(owner, weights, len(self.levels)))
        elif self.levels or self.weights is not None:
            msg = f"{owner}: levels/weights apply to categorical features only (kind={self.kind!r})"
            raise ValueError(msg)


def _check_features(owner: str, features: Any) -> tuple[FeatureSpec, ...]:
    features = tuple(features)
    if not features or not all(isinstance(f, FeatureSpec) for f in features):
        msg = f"{owner}: features must be a non-empty tuple of FeatureSpec"
        raise ValueError(msg)
    names = [f.name for f in features]
    if len(set(names)) != len(names):
        msg = f"{owner}: duplicate feature names in {names}"
        raise ValueError(msg)
    return features


@dataclass(frozen=True, slots=True)
class CopulaConfig:
    """Gaussian copula sampler: correlated latent normals mapped to each feature's marginal.

    Attributes
    ----------
    features : tuple of FeatureSpec
        The features, in column order; their number is the copula's dimension.
    correlation : ndarray
        Correlation matrix of the latent normals, shape ``(p, p)``: symmetric, unit diagonal,
        positive semi-definite. Binary and categorical features are thresholds of their latent
        normal, so their correlations are those of the latent variables.
    """

    features: tuple[FeatureSpec, ...]
    correlation: np.ndarray

    def __post_init__(self) -> None:
        features = _check_features("CopulaConfig", self.features)
        object.__setattr__(self, "features", features)
        corr = np.array(self.correlation, dtype=np.float64)
        p = len(features)
        if corr.shape != (p, p):
            msg = f"CopulaConfig: correlation has shape {corr.shape}; expected ({p}, {p})"
            raise ValueError(msg)
        if not np.isfinite(corr).all() or not np.allclose(corr, corr.T, atol=1e-10):
            msg = "CopulaConfig: correlation must be a finite symmetric matrix"
            raise ValueError(msg)
        if not np.allclose(np.diag(corr), 1.0, atol=1e-10):
            msg = f"CopulaConfig: correlation diagonal is {np.diag(corr)}; it must be all 1"
            raise ValueError(msg)
        if np.abs(corr).max() > 1.0 + 1e-10:
            msg = "CopulaConfig: correlation entries must lie in [-1, 1]"
            raise ValueError(msg)
        smallest = float(np.linalg.eigvalsh(corr).min())
        if smallest < -1e-8:
            msg = (
                f"CopulaConfig: correlation is not positive semi-definite (smallest eigenvalue "
                f"{smallest:.3g}); use a valid correlation matrix"
            )
            raise ValueError(msg)
        corr.setflags(write=False)
        object.__setattr__(self, "correlation", corr)


@dataclass(frozen=True, slots=True)
class MixtureConfig:
    """Mixture of populations: draw a latent cluster, then features from that cluster.

    Within a cluster the features are independent; each cluster may override a feature's
    parameters, so the populations differ in their feature distributions.

    Attributes
    ----------
    features : tuple of FeatureSpec
        Features shared by every cluster (the spec gives the defaults).
    weights : tuple of float
        Cluster probabilities: strictly positive, summing to 1 (within 1e-9).
    cluster_params : tuple of dict
        One dict per cluster, keyed by feature name. Each value is a dict overriding that
        feature's parameters in the cluster: ``{"loc", "scale"}`` for continuous features,
        ``{"p"}`` for binary ones and ``{"weights"}`` for categorical ones. Features a cluster
        does not mention keep their spec's parameters.
    """

    features: tuple[FeatureSpec, ...]
    weights: tuple[float, ...]
    cluster_params: tuple[dict[str, Any], ...]

    def __post_init__(self) -> None:
        features = _check_features("MixtureConfig", self.features)
        object.__setattr__(self, "features", features)
        weights = tuple(float(w) for w in self.weights)
        object.__setattr__(self, "weights", weights)
        params = tuple(self.cluster_params)
        object.__setattr__(self, "cluster_params", params)
        if not weights or len(weights) != len(params):
            msg = (
                f"MixtureConfig: {len(weights)} weights for {len(params)} clusters; give one "
                "weight per cluster_params entry"
            )
            raise ValueError(msg)
        if any(not (math.isfinite(w) and w > 0) for w in weights) or abs(sum(weights) - 1) > 1e-9:
            msg = f"MixtureConfig: weights={weights} must be positive and sum to 1"
            raise ValueError(msg)
        by_name = {f.name: f for f in features}
        for c, cluster in enumerate(params):
            if not isinstance(cluster, Mapping):
                msg = f"MixtureConfig: cluster_params[{c}] must be a dict keyed by feature name"
                raise ValueError(msg)
            unknown = sorted(set(cluster) - set(by_name))
            if unknown:
                msg = (
                    f"MixtureConfig: cluster_params[{c}] names unknown features {unknown}; "
                    f"features are {sorted(by_name)}"
                )
                raise ValueError(msg)
            for name, override in cluster.items():
                spec = by_name[name]
                owner = f"MixtureConfig cluster {c}, feature {name!r}"
                allowed = _CLUSTER_KEYS[spec.kind]
                if not isinstance(override, Mapping) or set(override) - allowed:
                    msg = f"{owner}: override {override!r} may only set keys {sorted(allowed)}"
                    raise ValueError(msg)
                merged = _cluster_value(spec, cluster)
                if spec.kind == "continuous":
                    _check_loc_scale(owner, merged["loc"], merged["scale"])
                elif spec.kind == "binary":
                    _check_p(owner, merged["p"])
                else:
                    _check_weights(owner, merged["weights"], len(spec.levels))

    @property
    def n_clusters(self) -> int:
        return len(self.weights)


FeatureSamplerConfig = CopulaConfig | MixtureConfig
"""Either feature-sampling strategy; both give the same frame layout."""


def _cluster_value(spec: FeatureSpec, cluster: Mapping[str, Any]) -> dict[str, Any]:
    base = {"loc": spec.loc, "scale": spec.scale, "p": spec.p, "weights": spec.weights}
    base.update(cluster.get(spec.name, {}))
    return base


def _continuous_from_normal(spec: FeatureSpec, z: np.ndarray, loc: Any, scale: Any) -> np.ndarray:
    if spec.marginal == "uniform":
        return loc + scale * ndtr(z)
    values = loc + scale * z
    return np.exp(values) if spec.marginal == "lognormal" else values


def _categorical(spec: FeatureSpec, codes: np.ndarray) -> pd.Categorical:
    return pd.Categorical.from_codes(codes.astype(np.int16), categories=list(spec.levels))


def _sample_copula(config: CopulaConfig, rng: np.random.Generator, n: int) -> pd.DataFrame:
    eigval, eigvec = np.linalg.eigh(config.correlation)
    root = eigvec * np.sqrt(np.clip(eigval, 0.0, None))
    latent = rng.standard_normal((n, len(config.features))) @ root.T
    columns: dict[str, Any] = {}
    for j, spec in enumerate(config.features):
        z = latent[:, j]
        if spec.kind == "continuous":
            columns[spec.name] = _continuous_from_normal(spec, z, spec.loc, spec.scale)
        elif spec.kind == "binary":
            columns[spec.name] = (z > ndtri(1.0 - spec.p)).astype(np.int8)
        else:
            assert spec.weights is not None
            cuts = ndtri(np.cumsum(spec.weights)[:-1])
            columns[spec.name] = _categorical(spec, np.searchsorted(cuts, z))
    return pd.DataFrame(columns)


def _sample_mixture(config: MixtureConfig, rng: np.random.Generator, n: int) -> pd.DataFrame:
    n_clusters = config.n_clusters
    cluster = rng.choice(n_clusters, size=n, p=np.asarray(config.weights)).astype(np.int32)
    columns: dict[str, Any] = {}
    for spec in config.features:
        values = [_cluster_value(spec, params) for params in config.cluster_params]
        if spec.kind == "continuous":
            loc = np.array([v["loc"] for v in values], dtype=np.float64)[cluster]
            scale = np.array([v["scale"] for v in values], dtype=np.float64)[cluster]
            if spec.marginal == "uniform":
                columns[spec.name] = loc + scale * rng.random(n)
            else:
                z = rng.standard_normal(n)
                columns[spec.name] = _continuous_from_normal(spec, z, loc, scale)
        elif spec.kind == "binary":
            p = np.array([v["p"] for v in values], dtype=np.float64)[cluster]
            columns[spec.name] = (rng.random(n) < p).astype(np.int8)
        else:
            u = rng.random(n)
            codes = np.empty(n, dtype=np.int16)
            for c in range(n_clusters):
                members = cluster == c
                cum = np.cumsum(values[c]["weights"])[:-1]
                codes[members] = np.searchsorted(cum, u[members], side="right")
            columns[spec.name] = _categorical(spec, codes)
    columns[CLUSTER_ID_COLUMN] = cluster
    return pd.DataFrame(columns)


def sample_features(
    config: FeatureSamplerConfig, rng: np.random.Generator, n: int
) -> pd.DataFrame:
    """Draw ``n`` visitors' features from a sampler config.

    Parameters
    ----------
    config : CopulaConfig or MixtureConfig
        The sampling strategy.
    rng : numpy.random.Generator
        Source of randomness; the caller seeds it.
    n : int
        Number of visitors (rows), positive.

    Returns
    -------
    pandas.DataFrame
        Shape ``(n, p)`` with columns named and typed by ``config.features`` (see the module
        docstring); a :class:`MixtureConfig` adds the ``cluster_id`` column.

    Raises
    ------
    TypeError
        ``config`` is neither a CopulaConfig nor a MixtureConfig.
    ValueError
        ``n`` is not a positive integer.
    """
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        msg = f"sample_features: n={n!r} must be a positive integer"
        raise ValueError(msg)
    if isinstance(config, CopulaConfig):
        return _sample_copula(config, rng, int(n))
    if isinstance(config, MixtureConfig):
        return _sample_mixture(config, rng, int(n))
    msg = (
        f"sample_features: config of type {type(config).__name__}; use CopulaConfig or "
        "MixtureConfig"
    )
    raise TypeError(msg)


def visitor_schema(config: FeatureSamplerConfig) -> VisitorSchema:
    """The :class:`~pytyche.contracts.VisitorSchema` of the frames a sampler config produces.

    Categorical levels keep the spec's order, so codes match the sampled ``Categorical``.
    ``cluster_id`` is not a feature: it never reaches observed data.
    """
    return VisitorSchema(
        features=tuple(f.name for f in config.features),
        kinds={f.name: f.kind for f in config.features},
        categories={f.name: f.levels for f in config.features if f.kind == "categorical"},
    )
