"""Structure of one tree heap, shared by the hurdle kernel, the bartz adapter and warm starts.

Heaps follow bartz's layout: node 1 is the root, node i has children 2i and 2i+1, a row goes
right when ``x[var] >= split``, and ``split == 0`` marks a leaf. ``var_tree`` and
``split_tree`` have H = 2^(d−1) entries (the nodes that may split); node 0 is never a node.
Everything here is pure JAX on one tree (vmap over trees) with static loops over levels.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

__all__ = ["drop_unreachable", "growable_leaves", "is_leaf", "node_ranges"]


def node_ranges(
    var_tree: jax.Array, split_tree: jax.Array, max_split: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Cut range [lo, hi) still available for each variable at each node, (H, p) each.

    Built top-down one level at a time: a node inherits its parent's ranges, narrowed on the
    parent's split variable (left child: cut < split; right child: cut > split). Ranges of
    nodes below a leaf are meaningless (those nodes do not exist).
    """
    half = var_tree.shape[0]
    p = max_split.shape[0]
    lo = jnp.ones((half, p), jnp.int32)
    hi = jnp.broadcast_to(max_split + 1, (half, p)).astype(jnp.int32)
    on_var = jnp.arange(p)
    for level in range(1, half.bit_length() - 1):
        nodes = jnp.arange(1 << level, 1 << (level + 1))
        parent = nodes >> 1
        right = (nodes & 1).astype(bool)[:, None]
        is_var = on_var[None, :] == var_tree[parent].astype(jnp.int32)[:, None]
        cut = split_tree[parent].astype(jnp.int32)[:, None]
        lo_c = jnp.where(is_var & right, jnp.maximum(lo[parent], cut + 1), lo[parent])
        hi_c = jnp.where(is_var & ~right, jnp.minimum(hi[parent], cut), hi[parent])
        lo = lo.at[nodes].set(lo_c)
        hi = hi.at[nodes].set(hi_c)
    return lo, hi


def is_leaf(split_tree: jax.Array) -> jax.Array:
    """(H,) bool: existing leaves among nodes 0..H−1."""
    half = split_tree.shape[0]
    nodes = jnp.arange(half)
    internal = split_tree != 0
    exists = (nodes == 1) | ((nodes > 1) & internal[nodes >> 1])
    return exists & ~internal


def drop_unreachable(split_tree: jax.Array) -> jax.Array:
    """Zero the cuts of nodes below a leaf (heaps from elsewhere may keep stale ones)."""
    half = split_tree.shape[0]
    for level in range(1, half.bit_length() - 1):
        nodes = jnp.arange(1 << level, 1 << (level + 1))
        reachable = split_tree[nodes >> 1] != 0
        split_tree = split_tree.at[nodes].set(jnp.where(reachable, split_tree[nodes], 0))
    return split_tree


@partial(jax.jit)
@partial(jax.vmap, in_axes=(0, 0, None))
def growable_leaves(
    var_tree: jax.Array, split_tree: jax.Array, max_split: jax.Array
) -> jax.Array:
    """(T, H) bool: leaves where some variable keeps a cut in range (bartz's grow rule).

    Takes (T, H) heaps and (p,) ``max_split``; depth is bounded by the heap size H.
    """
    lo, hi = node_ranges(var_tree, split_tree, max_split)
    return is_leaf(split_tree) & (lo < hi).any(axis=1)
