"""The node-by-node forest evaluation equals bartz's traversal followed by a leaf gather."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from bartz.grove import traverse_forest

from pytyche.bcf._bartz_adapter import count_batch_trees
from pytyche.bcf._traverse import forest_sum


def _random_heaps(rng: np.random.Generator, num_trees: int, max_depth: int, p: int,
                  max_split: int, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random trees as bartz heaps, with the dirt bartz allows.

    Dirt: var at leaves and unused nodes is random, stale splits sit under leaves
    (unreachable), and leaf values are set everywhere, including below leaves (as bartz's
    mirroring of pruned nodes leaves them).
    """
    half = 2 ** (max_depth - 1)
    var = rng.integers(0, p, (num_trees, half)).astype(np.uint8)
    var[:, 0] = 0
    split = np.zeros((num_trees, half), np.uint8)
    p_split = rng.uniform(0.3, 0.9)
    for t in range(num_trees):  # grow each tree top-down
        live = np.zeros(2 * half, bool)
        live[1] = True
        for node in range(1, half):
            if live[node] and rng.uniform() < p_split:
                split[t, node] = rng.integers(1, max_split + 1)
                live[2 * node] = live[2 * node + 1] = True
            elif not live[node] and rng.uniform() < 0.3:
                split[t, node] = rng.integers(1, max_split + 1)  # stale, unreachable
    leaf = rng.normal(size=(num_trees, k, 2 * half)).astype(np.float32)
    return var, split, leaf


def _reference(X: np.ndarray, var: np.ndarray, split: np.ndarray,
               leaf: np.ndarray) -> np.ndarray:
    """bartz leaf indices, gathered leaf values, summed over trees in tree order."""
    idx = np.asarray(traverse_forest(jnp.asarray(X), jnp.asarray(var), jnp.asarray(split)))
    vals = np.take_along_axis(leaf, idx[:, None, :].astype(np.int64), axis=2)  # (T, k, n)
    total = np.zeros(vals.shape[1:], np.float32)
    for t in range(vals.shape[0]):  # tree order, float32 at each step
        total = total + vals[t]
    return total


@pytest.mark.parametrize("max_depth", [1, 2, 3, 4, 5, 6, 8, 9])
@pytest.mark.parametrize("k", [1, 2])
def test_forest_sum_matches_bartz_traversal(max_depth: int, k: int) -> None:
    rng = np.random.default_rng(100 * max_depth + k)
    p, n, max_split = 4, 300, 9
    X = rng.integers(0, max_split + 1, (p, n)).astype(np.uint8)
    var, split, leaf = _random_heaps(rng, 12, max(max_depth, 1), p, max_split, k)
    got = np.asarray(jax.jit(forest_sum)(jnp.asarray(X), jnp.asarray(var),
                                         jnp.asarray(split), jnp.asarray(leaf)))
    np.testing.assert_array_equal(got, _reference(X, var, split, leaf))


def test_forest_sum_stumps_and_bottom_leaves() -> None:
    """Root-only trees give their root value; a full tree reaches the bottom heap level."""
    rng = np.random.default_rng(7)
    p, n, max_depth = 3, 200, 4
    half = 2 ** (max_depth - 1)
    X = rng.integers(0, 6, (p, n)).astype(np.uint8)
    var = rng.integers(0, p, (2, half)).astype(np.uint8)
    var[:, 0] = 0
    split = np.zeros((2, half), np.uint8)
    split[1, 1:] = rng.integers(1, 6, half - 1)  # tree 1 splits at every internal node
    leaf = rng.normal(size=(2, 1, 2 * half)).astype(np.float32)
    got = np.asarray(forest_sum(jnp.asarray(X), jnp.asarray(var), jnp.asarray(split),
                                jnp.asarray(leaf)))
    ref = _reference(X, var, split, leaf)
    np.testing.assert_array_equal(got, ref)
    idx1 = np.asarray(traverse_forest(jnp.asarray(X), jnp.asarray(var), jnp.asarray(split)))[1]
    assert idx1.min() >= half  # every point of the full tree ends in the bottom level


def test_count_batch_trees_bounds() -> None:
    assert count_batch_trees(200, 53_248) == 9
    assert count_batch_trees(200, 1_000_000) == 1
    assert count_batch_trees(50, 1_000) == 50
    assert count_batch_trees(3, 0) == 3
