"""Evaluate kept forests at binned points (jitted, batched over rows, mapped over draws)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from pytyche.bcf import _bartz_adapter as bz

__all__ = ["evaluate_draws"]


def _forest_sum(Xb: jax.Array, var: jax.Array, split: jax.Array, leaf: jax.Array) -> jax.Array:
    """Σ over trees of the leaf each point reaches: (k, m) from (T, H), (T, k, 2H)."""
    idx = bz.traverse(Xb, var, split).astype(jnp.int32)  # (T, m)
    g = jnp.take_along_axis(leaf[:, :, None, :], idx[:, None, :, None], axis=3)
    return g[..., 0].sum(axis=0)


@jax.jit
def _eval_batch(
    X_mu: jax.Array,
    X_tau: jax.Array,
    mu_var: jax.Array,
    mu_split: jax.Array,
    mu_leaf: jax.Array,
    tau_var: jax.Array,
    tau_split: jax.Array,
    tau_leaf: jax.Array,
) -> tuple[jax.Array, jax.Array]:
    def one_draw(args: tuple[jax.Array, ...]) -> tuple[jax.Array, jax.Array]:
        mv, ms, ml, tv, ts, tl = args
        mu = _forest_sum(X_mu, mv, ms, ml)
        tau = jax.vmap(_forest_sum, (None, 0, 0, 0))(X_tau, tv, ts, tl)
        return mu, tau

    return lax.map(one_draw, (mu_var, mu_split, mu_leaf, tau_var, tau_split, tau_leaf))


def evaluate_draws(
    trees: tuple[np.ndarray, ...], mu_offset: np.ndarray, Xb: np.ndarray, p: int,
    batch_rows: int,
) -> tuple[np.ndarray, np.ndarray]:
    """μ (S, k, m) with offset, τ (S, K − 1, k, m) at binned points Xb (p + K − 1, m).

    ``trees`` are a :class:`~pytyche.bcf._draws.ForestDraws`' arrays in the order
    ``(mu_var, mu_split, mu_leaf, tau_var, tau_split, tau_leaf)``; ``mu_offset`` is its (k,)
    μ constant. Taking arrays rather than the container keeps this module below ``_draws``.
    """
    m = Xb.shape[1]
    mu_leaf, tau_leaf = trees[2], trees[5]
    S, A, k = mu_leaf.shape[0], tau_leaf.shape[1], mu_leaf.shape[2]
    mu_out = np.empty((S, k, m), np.float32)
    tau_out = np.empty((S, A, k, m), np.float32)
    # Batches padded to a power of two: predicting sets of slightly different sizes (the
    # folds of a cross-fit, rounds of a loop) reuses one compiled program per bucket.
    rows = min(batch_rows, 1 << max(8, (max(m, 1) - 1).bit_length()))
    device_trees = [jnp.asarray(a) for a in trees]
    for start in range(0, m, rows):  # fixed-size row batches: one compile per batch size
        stop = min(start + rows, m)
        block = np.zeros((Xb.shape[0], rows), np.uint8)
        block[:, : stop - start] = Xb[:, start:stop]
        xb = jnp.asarray(block)
        mu, tau = _eval_batch(xb, xb[:p], *device_trees)
        mu_out[:, :, start:stop] = np.asarray(mu)[:, :, : stop - start]
        tau_out[:, :, :, start:stop] = np.asarray(tau)[..., : stop - start]
    mu_out += np.asarray(mu_offset, np.float32).reshape(1, k, 1)
    return mu_out, tau_out
