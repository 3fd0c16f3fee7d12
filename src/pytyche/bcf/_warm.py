"""Warm starts: begin a fit from the tree structures a previous fit ended with.

A warm start carries over topology only (split variables and thresholds); leaf values start
at zero and are redrawn in the first sweep over the trees, so the previous fit's outcome
scale does not need to match. Thresholds are carried as feature values, not bin indices: a
previous split "x > t" is re-expressed on the new fit's cut points, and a node whose
re-expressed rule is no longer admissible (a feature with no cut points left, or a split
outside the range its ancestors allow) becomes a leaf, dropping its subtree.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import numpy as np

from pytyche.bcf._heaps import drop_unreachable, node_ranges

__all__ = ["WarmStart", "remap_topology", "warm_start_from"]


@dataclass(frozen=True, slots=True)
class WarmStart:
    """Tree structures to start the μ and τ forests from, on the new fit's bins."""

    mu_var: np.ndarray
    """(T_mu, 2^(d−1)) uint8."""
    mu_split: np.ndarray
    tau_var: np.ndarray
    """(K−1, T_tau, 2^(d−1)) uint8."""
    tau_split: np.ndarray


# one tree's helpers applied to (T, H) heaps; compiled once per heap shape
_ranges = jax.jit(jax.vmap(node_ranges, in_axes=(0, 0, None)))
_drop = jax.jit(jax.vmap(drop_unreachable))


def remap_topology(
    var: np.ndarray,
    split: np.ndarray,
    old_cutpoints: np.ndarray,
    new_cutpoints: np.ndarray,
    new_max_split: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Re-express trees binned on ``old_cutpoints`` on ``new_cutpoints``.

    Parameters
    ----------
    var, split : (..., H) uint8 heaps (node 1 is the root; ``split == 0`` marks a leaf).
    old_cutpoints, new_cutpoints : (q, m) float32 cut points per feature (+inf padded).
    new_max_split : (q,) number of real cut points per feature in the new binning.

    Returns
    -------
    var, split : uint8 heaps of the same shape, admissible under the new binning.
    """
    shape = np.shape(var)
    var = np.asarray(var, np.uint8).reshape(-1, shape[-1])
    split = np.asarray(split, np.uint8).reshape(-1, shape[-1])
    v = var.astype(np.int64)
    # "go right when x > t" with t the old cut; on the new cuts that is the bin after the
    # last cut below t (+inf padding never counts)
    threshold = old_cutpoints[v, np.maximum(split.astype(np.int64) - 1, 0)]
    mapped = (new_cutpoints[v] < threshold[..., None]).sum(axis=-1) + 1
    lo, hi = (np.asarray(a) for a in _ranges(var, mapped.astype(np.int32),
                                              np.asarray(new_max_split, np.int32)))
    rows, nodes = np.indices(v.shape)
    admissible = (split > 0) & (lo[rows, nodes, v] <= mapped) & (mapped < hi[rows, nodes, v])
    # an inadmissible node becomes a leaf; its subtree goes with it
    new_split = np.asarray(_drop(np.where(admissible, mapped, 0).astype(np.uint8)))
    new_var = np.where(new_split > 0, var, 0).astype(np.uint8)
    return new_var.reshape(shape), new_split.reshape(shape)


def warm_start_from(forests: object, new_cutpoints: np.ndarray, new_max_split: np.ndarray,
                    *, num_features: int, num_trees_mu: int, num_trees_tau: int,
                    num_arms: int, half_tree_size: int) -> WarmStart:
    """The last kept draw's trees of ``forests`` (a fit's `ForestDraws`), on the new bins.

    Raises
    ------
    ValueError
        The previous fit has other forest sizes, depth, number of arms or features.
    """
    mu_var, mu_split = forests.mu_var[-1], forests.mu_split[-1]
    tau_var, tau_split = forests.tau_var[-1], forests.tau_split[-1]
    expected = {
        "μ trees": (mu_var.shape[0], num_trees_mu),
        "τ trees": (tau_var.shape[1], num_trees_tau),
        "non-control arms": (tau_var.shape[0], num_arms - 1),
        "tree depth (heap size)": (mu_var.shape[-1], half_tree_size),
        "features incl. propensity columns": (forests.cutpoints.shape[0],
                                              new_cutpoints.shape[0]),
    }
    wrong = [f"{name}: previous fit {old}, this fit {new}"
             for name, (old, new) in expected.items() if old != new]
    if wrong:
        msg = ("warm_start: the previous posterior does not match this fit (" + "; ".join(wrong)
               + "); warm-start only from a fit with the same config, arms and features")
        raise ValueError(msg)
    old_cuts = np.asarray(forests.cutpoints, np.float32)
    mv, ms = remap_topology(mu_var, mu_split, old_cuts, new_cutpoints, new_max_split)
    # τ forests split on the features only (no propensity columns)
    p = num_features
    tv, ts = remap_topology(tau_var, tau_split, old_cuts[:p], new_cutpoints[:p],
                            new_max_split[:p])
    return WarmStart(mu_var=mv, mu_split=ms, tau_var=tv, tau_split=ts)
