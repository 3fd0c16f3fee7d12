"""Warm starts: trees carried over by threshold, admissibility, bartz caches, public API."""

from __future__ import annotations

import numpy as np

from pytyche.bcf._warm import remap_topology

CUTS = np.array([[1.0, 2.0, 3.0, np.inf], [10.0, 20.0, np.inf, np.inf]], np.float32)
MAX_SPLIT = np.array([3, 2])


def _tree(nodes: dict[int, tuple[int, int]], H: int = 4) -> tuple[np.ndarray, np.ndarray]:
    var = np.zeros((1, H), np.uint8)
    split = np.zeros((1, H), np.uint8)
    for node, (v, s) in nodes.items():
        var[0, node], split[0, node] = v, s
    return var, split


class TestRemapTopology:
    def test_same_bins_leave_trees_unchanged(self) -> None:
        var, split = _tree({1: (0, 2), 2: (1, 1), 3: (0, 3)})
        v2, s2 = remap_topology(var, split, CUTS, CUTS, MAX_SPLIT)
        assert np.array_equal(v2, var) and np.array_equal(s2, split)

    def test_thresholds_follow_the_feature_values(self) -> None:
        """Split 2 on feature 0 means x > 2.0; with a new cut list it is the bin of 2.0."""
        new = np.array([[0.5, 1.5, 2.0, 2.5], [10.0, 20.0, np.inf, np.inf]], np.float32)
        var, split = _tree({1: (0, 2)})
        _, s2 = remap_topology(var, split, CUTS, new, np.array([4, 2]))
        assert s2[0, 1] == 3  # new cut #3 (1-based) is 2.0

    def test_feature_without_cut_points_turns_the_subtree_into_a_leaf(self) -> None:
        var, split = _tree({1: (1, 1), 2: (0, 2), 3: (0, 1)})
        v2, s2 = remap_topology(var, split, CUTS, CUTS, np.array([3, 0]))
        assert not s2.any() and not v2.any()

    def test_split_outside_the_ancestors_range_becomes_a_leaf(self) -> None:
        """Two old cut points that fall into one new bin leave the child no room to split."""
        new = np.array([[2.5, np.inf, np.inf, np.inf], [10.0, 20.0, np.inf, np.inf]],
                       np.float32)
        var, split = _tree({1: (0, 1), 3: (0, 2)})  # root x > 1, right child x > 2
        _, s2 = remap_topology(var, split, CUTS, new, np.array([1, 2]))
        assert s2[0, 1] == 1 and s2[0, 3] == 0


class TestBartzTopology:
    def test_caches_match_the_new_trees(self) -> None:
        from pytyche.bcf import _bartz_adapter as bz

        rng = np.random.default_rng(0)
        n = 300
        X = rng.integers(0, 10, (3, n)).astype(np.uint8)
        state = bz.init_forest(
            X=X, y=rng.normal(size=n).astype(np.float32), outcome_type="continuous",
            offset=0.0, max_split=np.array([9, 9, 9]), num_trees=2, max_depth=4, alpha=0.95,
            beta=2.0, leaf_var=np.array([0.1]), missing=np.zeros(n, bool),
            min_points_per_leaf=5, error="sampled")
        var = np.zeros((2, 8), np.uint8)
        split = np.zeros((2, 8), np.uint8)
        var[0, 1], split[0, 1] = 2, 5  # tree 0: root splits x2 at bin 5
        warm = bz.with_topology(state, var, split)
        f = warm.forest
        idx = np.asarray(f.leaf_indices)
        assert set(np.unique(idx[0])) == {2, 3} and set(np.unique(idx[1])) == {1}
        assert np.array_equal(idx[0] == 3, X[2] >= 5)
        counts = np.asarray(f.count_tree)
        assert counts[0, 2] + counts[0, 3] == n and counts[1, 1] == n
        assert np.asarray(f.affluence_tree)[0].tolist() == [False, False, True, True,
                                                             False, False, False, False]
        assert not np.asarray(f.leaf_tree).any()
