"""The one module that touches bartz internals.

bartz's private step functions and state layout change between releases, so this module pins
the exact version and exposes a small surface to the rest of `pytyche.bcf`:

- `init_forest`: build a bartz `State` for one forest (public `bartz.mcmcstep.init`).
- `full_step`: bartz's public `step` (trees, leaf variance, probit latent, error precision).
- `tree_step`: the private `step_trees` only, used for the τ forests as `bartz.bcf` does.
- `resid_data` / `with_resid_data`: residuals in data units (bartz stores them scaled).
- `fit_at_training_rows`: a forest's sum at its own rows from the cached leaf indices.
- `traverse`: leaf indices of a set of trees at binned points (public `bartz.grove`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import bartz
import jax.numpy as jnp
import numpy as np
from bartz.grove import traverse_forest
from bartz.mcmcstep import DiagWishart, State, Wishart, init, make_p_nonterminal, step
from bartz.mcmcstep._step import step_trees

from pytyche.bcf._heaps import growable_leaves

BARTZ_VERSION = "0.13.0"
if bartz.__version__ != BARTZ_VERSION:  # pragma: no cover - guarded by the pin
    msg = (
        f"pytyche.bcf needs bartz=={BARTZ_VERSION} (it uses private step functions), "
        f"found {bartz.__version__}; reinstall with pip install bartz=={BARTZ_VERSION}"
    )
    raise ImportError(msg)

__all__ = [
    "BARTZ_VERSION",
    "State",
    "fit_at_training_rows",
    "full_step",
    "init_forest",
    "prognostic_fit",
    "resid_data",
    "traverse",
    "tree_step",
    "with_error_precision",
    "with_resid_data",
    "with_topology",
]


def _copy(a: Any) -> Any:
    """A fresh device copy: bartz's init donates its array arguments."""
    return jnp.array(np.asarray(a))


def init_forest(
    *,
    X: np.ndarray,
    y: np.ndarray,
    outcome_type: str | list[str],
    offset: float | np.ndarray,
    max_split: np.ndarray,
    num_trees: int,
    max_depth: int,
    alpha: float,
    beta: float,
    leaf_var: np.ndarray,
    missing: np.ndarray,
    min_points_per_leaf: int,
    error: str,
    error_rate: float = 1.0,
    error_df: float = 3.0,
) -> State:
    """Build the bartz state of one forest.

    Parameters
    ----------
    X : (q, n) uint8 binned features.
    y : (n,) or (k, n) float32 outcome (masked entries may hold anything finite).
    outcome_type : 'continuous', 'binary' or one per component.
    offset : scalar or (k,) constant added to the forest.
    max_split : (q,) cut points per feature (0 blocks splits on that feature).
    leaf_var : (k,) prior variance of one tree's leaf per component.
    missing : (n,) or (k, n) mask of entries without likelihood (padding, non-converters).
    error : 'sampled' (inverse-gamma prior, continuous k=1), 'fixed' (precision held at 1),
        'diag' (hurdle: probit component fixed at 1, severity component sampled),
        'diag_fixed' (k=2 τ forest: precision overwritten each step by the μ forest's).
    """
    k = np.asarray(leaf_var).size
    lv = np.asarray(leaf_var, np.float32)
    if k == 1:
        leaf_prior = Wishart(nu=None, rate=None, value=jnp.float32(1.0 / lv[0]))
    else:
        leaf_prior = Wishart(nu=None, rate=None, value=jnp.diag(jnp.asarray(1.0 / lv)))
    if error == "sampled":
        error_cov_inv = Wishart(nu=error_df, rate=error_rate, value=1.0)
    elif error == "fixed":
        # a dummy prior: these states never run bartz's error step
        error_cov_inv = None if outcome_type == "binary" else Wishart(0.0, 0.0, 1.0)
    elif error == "diag":
        error_cov_inv = DiagWishart.from_inv_wishart_marginal_nu(
            error_df, jnp.diag(jnp.array([0.0, error_rate])), jnp.eye(2)
        )
    elif error == "diag_fixed":
        error_cov_inv = DiagWishart.from_inv_wishart_marginal_nu(
            error_df, jnp.eye(k), jnp.eye(k)
        )
    else:  # pragma: no cover
        raise ValueError(error)
    return init(
        X=_copy(X),
        y=_copy(np.asarray(y, np.float32)),
        outcome_type=outcome_type,
        offset=_copy(np.asarray(offset, np.float32)),
        max_split=_copy(np.asarray(max_split, np.uint8)),
        num_trees=num_trees,
        p_nonterminal=make_p_nonterminal(max_depth, alpha, beta),
        leaf_prior_cov_inv=leaf_prior,
        error_cov_inv=error_cov_inv,
        missing=_copy(missing),
        min_points_per_leaf=min_points_per_leaf,
        filter_splitless_vars=int((np.asarray(max_split) == 0).sum()),
        prec_count_num_trees=count_batch_trees(num_trees, np.asarray(y).shape[-1]),
    )


# Trees per batch times rows per tree handled at once by bartz's count / precision updates.
_COUNT_BATCH_ELEMENTS = 2**19


def count_batch_trees(num_trees: int, n: int) -> int:
    """Trees per batch for bartz's per-leaf count and precision updates (its CPU path).

    bartz's 'auto' setting vectorizes all trees at once up to 2^27 tree·rows, and XLA's CPU
    code for that is ~8x slower than batches of ~2^19 tree·rows (200 trees at n = 50k: 43 ms
    vs 5 ms for the counts alone). The sums are exact (integer counts, 0/1 precision
    scales), so the batch size changes only the speed. GPUs ignore this setting.
    """
    return max(1, min(num_trees, _COUNT_BATCH_ELEMENTS // max(n, 1)))


def full_step(key: Any, state: State) -> State:
    """bartz's public MCMC step for one forest (call inside a jit)."""
    return step(key, state)


def tree_step(key: Any, state: State) -> State:
    """Grow/prune moves and leaf draws only (bartz private `step_trees`)."""
    return step_trees(key, state)


def _unit(state: State) -> Any:
    u = state.resid_unit
    return u if u.ndim == 0 else u[:, None]


def resid_data(state: State) -> Any:
    """Residuals in data units, (n,) or (k, n)."""
    return state.resid.astype(jnp.float32) * _unit(state)


def with_resid_data(state: State, r: Any) -> State:
    """Return `state` with residuals set from data units."""
    return replace(state, resid=(r / _unit(state)).astype(state.resid.dtype))


def with_error_precision(state: State, value: Any) -> State:
    """Return `state` with its error precision value replaced (τ forests borrow μ's)."""
    return replace(state, error_cov_inv=replace(state.error_cov_inv, value=value))


def error_precision(state: State) -> Any:
    """The current error precision value (scalar or (k, k))."""
    return state.error_cov_inv.value


def leaf_values(state: State) -> Any:
    """Leaf heaps in data units: (T, 2^d) or (T, k, 2^d) float32."""
    f = state.forest
    unit = f.leaf_unit
    lt = f.leaf_tree.astype(jnp.float32)
    return lt * (unit if unit.ndim == 0 else unit[:, None])


def offset(state: State) -> Any:
    """The forest's constant offset, scalar or (k,)."""
    return state.forest.offset


def tree_heaps(state: State) -> tuple[Any, Any]:
    """(var_tree, split_tree), each (T, 2^(d-1))."""
    return state.forest.var_tree, state.forest.split_tree


def fit_at_training_rows(state: State) -> Any:
    """Sum of the trees at the state's own rows, (n,) or (k, n), without the offset.

    Uses the cached leaf indices; bartz mirrors a pruned node's value onto its dangling
    children, so pending prunes do not matter.
    """
    leaves = leaf_values(state)
    idx = state.forest.leaf_indices.astype(jnp.int32)
    if leaves.ndim == 2:
        return jnp.take_along_axis(leaves, idx, axis=1).sum(axis=0)
    g = jnp.take_along_axis(leaves[:, :, None, :], idx[:, None, :, None], axis=3)[..., 0]
    return g.sum(axis=0)


def total_fit(state: State) -> Any:
    """Offset plus all trees acting on the residual, (n,) or (k, n), from the residual alone.

    The μ state's residual is complete (outcome or probit latent minus μ minus the visitor's
    own τ), so ``target − residual`` is the whole fit at O(n) cost, without touching trees.
    Masked entries carry ``offset − fit`` in bartz's residual, so the identity holds there too.
    """
    target = state.y.astype(jnp.float32)
    if state.z is not None:
        if state.binary_indices is None:
            target = state.z
        else:
            target = target.at[state.binary_indices, :].set(state.z)
    return target - resid_data(state)


def prognostic_fit(state: State, tau_own: Any) -> Any:
    """μ (offset included) at every row, (k, n), from a μ state with a complete residual.

    ``total_fit`` minus the visitor's own τ (``tau_own``, (k, n)): O(n), no tree traversal.
    """
    fit = total_fit(state)
    return (fit if fit.ndim == 2 else fit[None]) - tau_own


def traverse(X: Any, var_tree: Any, split_tree: Any) -> Any:
    """Leaf index of every point in every tree: (..., T, n) from X (q, n) uint8."""
    return traverse_forest(X, var_tree, split_tree)


def with_topology(state: State, var_tree: np.ndarray, split_tree: np.ndarray) -> State:
    """Return ``state`` (fresh from `init_forest`) with its trees set to the given structures.

    Leaves start at zero, so the residuals `init_forest` set (outcome minus offset) stay
    valid; the caches bartz keeps per tree are rebuilt from the new leaf indices: the data
    points per node (`count_tree`), their summed precision scale (`prec_tree`) and the mask
    of growable leaves (`affluence_tree`).
    """
    f = state.forest
    var = np.asarray(var_tree, np.uint8)
    split = np.asarray(split_tree, np.uint8)
    if var.shape != f.var_tree.shape or split.shape != f.split_tree.shape:
        msg = (f"tree heaps {var.shape}/{split.shape} do not match the forest's "
               f"{tuple(f.var_tree.shape)}")
        raise ValueError(msg)
    idx = np.asarray(traverse(state.X, jnp.asarray(var), jnp.asarray(split)))
    T, H = var.shape
    size = 2 * H
    counts = np.zeros((T, size), np.uint32)
    for t in range(T):
        counts[t] = np.bincount(idx[t], minlength=size)
    prec_tree = f.prec_tree
    if prec_tree is not None:
        ps = np.asarray(state.prec_scale, np.float32)  # (n,) or (k, k, n)
        flat = ps.reshape(-1, ps.shape[-1])
        sums = np.stack([np.stack([np.bincount(idx[t], weights=row, minlength=size)
                                   for row in flat]) for t in range(T)])
        prec_tree = jnp.asarray(sums.reshape((T, *ps.shape[:-1], size)), jnp.float32)
    affluent = np.asarray(growable_leaves(jnp.asarray(var), jnp.asarray(split), f.max_split))
    if f.min_points_per_decision_node is not None:
        affluent &= counts[:, :H] >= int(f.min_points_per_decision_node)
    forest = replace(
        f,
        var_tree=jnp.asarray(var),
        split_tree=jnp.asarray(split),
        leaf_tree=jnp.zeros_like(f.leaf_tree),
        leaf_indices=jnp.asarray(idx.astype(np.asarray(f.leaf_indices).dtype)),
        affluence_tree=jnp.asarray(affluent),
        count_tree=None if f.count_tree is None else jnp.asarray(counts),
        prec_tree=prec_tree,
        to_prune=jnp.zeros_like(f.to_prune),
        move_node=jnp.zeros_like(f.move_node),
    )
    return replace(state, forest=forest)
