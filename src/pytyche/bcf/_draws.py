"""Kept forests in compact form, their evaluation on new visitors, and outcome-scale draws."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import ndtr

from pytyche.bcf._preprocess import Binning

__all__ = ["ForestDraws", "Scale", "VisitorDraws", "control_level", "outcome_draws",
           "outcome_draws_from"]

FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class Scale:
    """How model units map back to the outcome (standardization of y or log-severity)."""

    kind: str
    """'continuous', 'binary' or 'hurdle'."""
    mean: float = 0.0
    """Mean subtracted from y (continuous) or log-severity (hurdle)."""
    sd: float = 1.0
    """Standard deviation y or log-severity was divided by."""


#: Visitors converted to outcome scale at a time: bounds the float temporaries to a few
#: hundred MB whatever n is (a 1M-visitor hurdle fit would otherwise hold several GB of them).
_CHUNK_ROWS = 32768


#: Storage type of a hurdle fit's per-visitor conversion probabilities.
P_DTYPE = np.float16


class VisitorDraws:
    """Per-visitor model-unit draws, gathered visitors first in row chunks as the sampler
    keeps them.

    The sampler hands over kept draws a block at a time, draws first: μ (S_b, k, n_pad) and
    τ (S_b, K − 1, k, n_pad). Outcome-scale arrays are visitors first, (n, S, ...). Holding the
    model units in row chunks lets :func:`outcome_draws_from` release each chunk as soon as its
    rows are converted, so the model-unit and the outcome-scale copies of the draws are never
    both whole in memory (at 1M visitors and K = 3 they are 4.8 and 7.2 GB).

    Parameters
    ----------
    n : int
        Real visitors (rows past `n` of the padded blocks are dropped).
    num_draws : int
        Kept draws over all chains, S.
    k : int
        Outcome components (1, or 2 for the joint hurdle).
    num_arms : int
        K, control included.
    """

    def __init__(self, n: int, num_draws: int, k: int, num_arms: int,
                 chunk_rows: int = _CHUNK_ROWS) -> None:
        self.n, self.num_draws, self.k, self.num_arms = n, num_draws, k, num_arms
        width = k * num_arms  # μ's k components, then τ_j's for j = 1..K−1
        self.starts = list(range(0, n, chunk_rows))
        self.chunks: list[np.ndarray | None] = [
            np.empty((min(chunk_rows, n - a), num_draws, width), np.float32) for a in self.starts
        ]

    def add(self, offset: int, mu: np.ndarray, tau: np.ndarray) -> None:
        """Store kept draws ``offset .. offset + S_b``: μ (S_b, k, ≥ n), τ (S_b, K−1, k, ≥ n)."""
        s_b, k = mu.shape[0], self.k
        draws = slice(offset, offset + s_b)
        for a, chunk in zip(self.starts, self.chunks, strict=True):
            if chunk is None:
                raise RuntimeError("draws added after their conversion started")
            rows = slice(a, a + len(chunk))
            chunk[:, draws, :k] = mu[:, :, rows].transpose(2, 0, 1)
            chunk[:, draws, k:] = tau[:, :, :, rows].reshape(s_b, -1, len(chunk)).transpose(2, 0, 1)

    @classmethod
    def from_arrays(cls, mu: np.ndarray, tau: np.ndarray) -> VisitorDraws:
        """From μ (S, k, n) and τ (S, K − 1, k, n) arrays."""
        S, k, n = mu.shape
        out = cls(n, S, k, tau.shape[1] + 1)
        out.add(0, mu, tau)
        return out

    def take_chunks(self):
        """Yield ``(rows, μ (S, k, c), τ (S, K − 1, k, c))`` once per chunk, releasing each."""
        k, K = self.k, self.num_arms
        for i, a in enumerate(self.starts):
            chunk = self.chunks[i]
            if chunk is None:
                raise RuntimeError("these draws were already converted (they are read once)")
            self.chunks[i] = None
            c = len(chunk)
            mu = chunk[:, :, :k].transpose(1, 2, 0)
            tau = chunk[:, :, k:].reshape(c, self.num_draws, K - 1, k).transpose(1, 2, 3, 0)
            del chunk
            yield slice(a, a + c), mu, tau

    def to_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """μ (S, k, n) and τ (S, K − 1, k, n) arrays (consumes the chunks)."""
        S, k, K = self.num_draws, self.k, self.num_arms
        mu = np.empty((S, k, self.n), np.float32)
        tau = np.empty((S, K - 1, k, self.n), np.float32)
        for rows, m, t in self.take_chunks():
            mu[:, :, rows] = m
            tau[:, :, :, rows] = t
        return mu, tau


def _allocate(kind: str, n: int, S: int, K: int, sigma: np.ndarray) -> dict[str, np.ndarray]:
    f32 = np.float32
    if kind == "hurdle":
        # P(convert) is kept at half precision (relative error below 5e-4, far inside the
        # posterior's spread): it is a third of a hurdle fit's per-visitor draws. The effect
        # and the severity are computed from the single-precision value.
        # Control's revenue per visitor is not kept: it is p_0 · sev_0 (control_level).
        return {"p": np.empty((n, S, K), P_DTYPE), "sev": np.empty((n, S, K), f32),
                "rpv_cate": np.empty((n, S, K - 1), f32), "sigma": sigma}
    return {"cate": np.empty((n, S, K - 1), f32), "mu": np.empty((n, S), f32),
            "sigma": sigma}


def _out_sigma(scale: Scale, sigma: np.ndarray) -> np.ndarray:
    return ((1.0 if scale.kind == "binary" else scale.sd) * sigma).astype(np.float32)


def _convert(scale: Scale, sig: np.ndarray, out: dict[str, np.ndarray], rows: slice,
             m_c: np.ndarray, t_c: np.ndarray) -> None:
    """Write the outcome-scale draws of `rows` from μ (S, k, c) and τ (S, K−1, k, c)."""
    if scale.kind == "continuous":
        out["cate"][rows] = (scale.sd * t_c[:, :, 0, :]).transpose(2, 0, 1)
        out["mu"][rows] = (scale.mean + scale.sd * m_c[:, 0, :]).T
    elif scale.kind == "binary":
        p0 = ndtr(m_c[:, 0, :])  # (S, c)
        pj = ndtr(m_c[:, None, 0, :] + t_c[:, :, 0, :])  # (S, K-1, c)
        out["cate"][rows] = (pj - p0[:, None]).transpose(2, 0, 1)
        out["mu"][rows] = p0.T
    else:
        lat = np.concatenate([m_c[:, None], m_c[:, None] + t_c], axis=1)  # (S, K, 2, c)
        p = ndtr(lat[:, :, 0, :]).astype(np.float32)
        log_sev = scale.mean + scale.sd * lat[:, :, 1, :]
        sev = np.exp(log_sev + 0.5 * sig[:, None, None] ** 2).astype(np.float32)
        rpv = p * sev  # (S, K, c)
        out["p"][rows] = p.transpose(2, 0, 1)
        out["sev"][rows] = sev.transpose(2, 0, 1)
        out["rpv_cate"][rows] = (rpv[:, 1:] - rpv[:, :1]).transpose(2, 0, 1)


def control_level(draws: dict[str, np.ndarray]) -> np.ndarray:
    """Control arm's expected outcome per visitor and draw, (n, S), from outcome-scale draws.

    Continuous and binary fits keep it as ``mu``; a hurdle fit does not (at a million visitors
    the copy is 0.8 GB) and it is p_0 · sev_0 here.
    """
    if "mu" in draws:
        return draws["mu"]
    return draws["p"][:, :, 0].astype(np.float32) * draws["sev"][:, :, 0]


def outcome_draws(
    scale: Scale, mu: np.ndarray, tau: np.ndarray, sigma: np.ndarray
) -> dict[str, np.ndarray]:
    """Turn model-unit draws into outcome-scale arrays laid out (visitors, draws, ...).

    Parameters
    ----------
    scale : how model units map to the outcome.
    mu : (S, k, n) μ draws in model units (offset included).
    tau : (S, K − 1, k, n) τ_j draws.
    sigma : (S,) error sd in model units.

    Returns
    -------
    dict
        continuous: ``cate`` (n, S, K−1), ``mu`` (n, S), ``sigma`` (S,).
        binary: ``cate`` (n, S, K−1) on the probability scale Φ(μ+τ)−Φ(μ), ``mu`` (n, S)
        the control arm's probability Φ(μ), ``sigma`` (S,) (all ones).
        hurdle: ``p`` (n, S, K) float16 and ``sev`` (n, S, K) (sev is the log-normal mean
        exp(m + σ²/2) of a converter's value), ``rpv_cate`` (n, S, K−1) =
        p_j·sev_j − p_0·sev_0 and ``sigma`` (S,) the log-severity sd; control's revenue per
        visitor is :func:`control_level` of them.

    Notes
    -----
    Visitors are converted in chunks straight into the (n, S, ...) outputs, so the only
    full-size arrays are the outputs themselves.
    """
    S, _, n = mu.shape
    sig = _out_sigma(scale, sigma)
    out = _allocate(scale.kind, n, S, tau.shape[1] + 1, sig)
    for start in range(0, n, _CHUNK_ROWS):
        rows = slice(start, min(start + _CHUNK_ROWS, n))
        _convert(scale, sig, out, rows, mu[:, :, rows], tau[:, :, :, rows])
    return out


def outcome_draws_from(scale: Scale, draws: VisitorDraws,
                       sigma: np.ndarray) -> dict[str, np.ndarray]:
    """:func:`outcome_draws` from a :class:`VisitorDraws`, releasing its chunks as it goes
    (the model-unit draws are gone afterwards)."""
    sig = _out_sigma(scale, sigma)
    out = _allocate(scale.kind, draws.n, draws.num_draws, draws.num_arms, sig)
    for rows, m_c, t_c in draws.take_chunks():
        _convert(scale, sig, out, rows, m_c, t_c)
    return out


_ARRAYS = (
    "mu_var",
    "mu_split",
    "mu_leaf",
    "tau_var",
    "tau_split",
    "tau_leaf",
    "sigma",
    "cutpoints",
    "max_split",
    "arm_shares",
)


@dataclass(frozen=True, slots=True, eq=False)
class ForestDraws:
    """The kept trees of a fit, enough to evaluate every draw of μ and τ_j on new visitors.

    Heaps are bartz's layout: node i has children 2i and 2i+1; ``split == 0`` marks a leaf;
    a point goes right when its binned value is >= split. Leaf values are in model units.
    """

    mu_var: np.ndarray
    """(S, T_mu, 2^(d−1)) uint8 split feature per internal node (features, then propensity)."""
    mu_split: np.ndarray
    """(S, T_mu, 2^(d−1)) uint8 split bin (0 = leaf)."""
    mu_leaf: np.ndarray
    """(S, T_mu, k, 2^d) float32 leaf values (without the offset)."""
    tau_var: np.ndarray
    """(S, K−1, T_tau, 2^(d−1)) uint8."""
    tau_split: np.ndarray
    """(S, K−1, T_tau, 2^(d−1)) uint8."""
    tau_leaf: np.ndarray
    """(S, K−1, T_tau, k, 2^d) float32."""
    sigma: np.ndarray
    """(S,) error sd in model units."""
    cutpoints: np.ndarray
    """(p + K − 1, m) float32 bin edges for features then propensity columns."""
    max_split: np.ndarray
    """(p + K − 1,) int32."""
    arm_shares: np.ndarray
    """(K,) propensity used for new visitors when none is given."""
    mu_offset: np.ndarray
    """(k,) constant of the μ forest."""
    scale: Scale
    meta: dict[str, Any] = field(default_factory=dict)
    tau_offset: np.ndarray | None = None
    """(S, K−1, k) float32 τ intercept τ₀_j of every draw (`GPUBCFConfig.tau_intercept`),
    added to τ_j at every visitor; None for a model without intercepts."""

    @property
    def num_draws(self) -> int:
        """Number of kept draws S."""
        return int(self.mu_var.shape[0])

    @property
    def num_arms(self) -> int:
        """Arms K including control."""
        return int(self.arm_shares.shape[0])

    def raw_predict(
        self, X: np.ndarray, propensity: np.ndarray | None = None, *, batch_rows: int = 16384
    ) -> tuple[np.ndarray, np.ndarray]:
        """μ and τ_j draws in model units at new visitors.

        Returns
        -------
        mu : (S, k, m) float32 ; tau : (S, K − 1, k, m) float32
        """
        from pytyche.bcf._predict import evaluate_draws

        X = np.asarray(X, np.float32)
        K = self.num_arms
        p = self.cutpoints.shape[0] - (K - 1)
        if X.ndim != 2 or X.shape[1] != p:
            msg = f"X must have shape (m, {p}) like the training features, got {X.shape}"
            raise ValueError(msg)
        if not np.isfinite(X).all():
            msg = "X has non-finite values; impute them as for training"
            raise ValueError(msg)
        m = X.shape[0]
        if propensity is None:
            propensity = np.broadcast_to(self.arm_shares.astype(np.float32), (m, K))
        if np.shape(propensity) != (m, K):
            msg = f"propensity must have shape ({m}, {K}), got {np.shape(propensity)}"
            raise ValueError(msg)
        binning = Binning(self.cutpoints, self.max_split)
        Xb = binning.transform(np.concatenate([X, propensity[:, 1:]], axis=1))
        trees = (self.mu_var, self.mu_split, self.mu_leaf,
                 self.tau_var, self.tau_split, self.tau_leaf)
        mu, tau = evaluate_draws(trees, self.mu_offset, Xb, p, batch_rows)
        if self.tau_offset is not None:
            tau += np.asarray(self.tau_offset, np.float32)[..., None]
        return mu, tau

    def predict(
        self, X: np.ndarray, propensity: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        """Outcome-scale draws at new visitors, same keys and layout as the fit's draws."""
        mu, tau = self.raw_predict(X, propensity)
        return outcome_draws(self.scale, mu, tau, self.sigma)

    def save(self, path: str | Path) -> None:
        """Write to a compressed .npz (arrays plus a JSON header; no pickle)."""
        header = {
            "format_version": FORMAT_VERSION,
            "scale": {"kind": self.scale.kind, "mean": self.scale.mean, "sd": self.scale.sd},
            "meta": self.meta,
        }
        arrays = {a: getattr(self, a) for a in _ARRAYS}
        if self.tau_offset is not None:  # absent for models without τ intercepts
            arrays["tau_offset"] = self.tau_offset
        np.savez_compressed(
            path,
            header=np.frombuffer(json.dumps(header).encode(), np.uint8),
            mu_offset=self.mu_offset,
            **arrays,
        )

    @classmethod
    def load(cls, path: str | Path) -> ForestDraws:
        """Read what `save` wrote."""
        with np.load(path, allow_pickle=False) as f:
            header = json.loads(bytes(f["header"]).decode())
            if header.get("format_version") != FORMAT_VERSION:
                msg = f"{path}: unknown forest format {header.get('format_version')!r}"
                raise ValueError(msg)
            arrays = {a: f[a] for a in _ARRAYS}
            mu_offset = f["mu_offset"]
            tau_offset = f["tau_offset"] if "tau_offset" in f.files else None
        expected = (*arrays["tau_var"].shape[:2], arrays["mu_leaf"].shape[2])
        if tau_offset is not None and tau_offset.shape != expected:
            msg = (f"{path}: tau_offset has shape {tau_offset.shape}, the forests need "
                   f"{expected} (draws, non-control arms, components)")
            raise ValueError(msg)
        return cls(
            **arrays, mu_offset=mu_offset, scale=Scale(**header["scale"]), meta=header["meta"],
            tau_offset=tau_offset,
        )
