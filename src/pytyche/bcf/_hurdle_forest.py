"""pytyche's own JAX forest kernel for the joint hurdle BCF.

Every tree of a hurdle forest has one topology and two leaf values per leaf: component 0 is
the probit latent of conversion (all visitors) and component 1 is log-severity (observed on
converters only). The error is diagonal with unit variance in component 0, so the likelihood
of a leaf factorises over the components:

- component 0 needs the count and residual sum of the leaf's valid rows, an O(n) pass;
- component 1 needs the same over the leaf's converters. The converters are kept as a
  compact, padded index array with their own residuals, so this pass is O(converters).

bartz runs this model through its masked multivariate path, which carries a 2×2 precision per
row (about k²·n work per tree); this module does about n + converters per tree.

The sampler is Chipman et al.'s BART Metropolis–Hastings with grow/prune moves, following
bartz 0.13's proposal and acceptance rules (leaf picked with weight P(nonterminal | depth),
variable uniform among those with a cut point left in the node's range, cut uniform), with
conjugate normal leaves drawn for every tree after its move. Moves of all trees are proposed
in parallel from the trees at the start of the step; the trees are then visited in order,
each seeing the residual with the others' current fits.

Conventions shared with `_bartz_adapter` (the rest of `pytyche.bcf` only uses this surface):
residuals in data units; node 1 is the root and node i has children 2i and 2i+1; a row goes
right when ``x[var] >= split``; ``split == 0`` marks a leaf. Rows without likelihood (padding)
sit in node 0, a slot that is never a tree node and whose leaf value is held at 0, so they
cost nothing and are never touched. A rejected grow or an accepted prune leaves the rows in
the two dropped children until the next step, with the parent's value mirrored there (the
deferred-prune trick bartz uses to keep the per-tree pass to one gather).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from bartz.grove import traverse_forest
from jax import lax, random
from jax.scipy.special import ndtr, ndtri

from pytyche.bcf._heaps import drop_unreachable, is_leaf, node_ranges

__all__ = [
    "HurdleForest",
    "error_precision",
    "fit_at_training_rows",
    "full_step",
    "init_forest",
    "leaf_values",
    "offset",
    "prognostic_fit",
    "resid_data",
    "total_fit",
    "tree_heaps",
    "tree_step",
    "with_error_precision",
    "with_resid_data",
    "with_topology",
]

# bound beyond which the one-sided truncated normal uses its exponential tail form
_TAIL = 10.0
# interleaved accumulator copies of the per-node scatter-add (see `_segment_sums`)
_LANES = 8


class HurdleForest(NamedTuple):
    """State of one 2-component hurdle forest (all arrays; stackable across τ arms)."""

    X: jax.Array
    """(p, n) uint8 binned features."""
    max_split: jax.Array
    """(p,) int32 largest cut index per feature (0: the feature never splits)."""
    valid: jax.Array
    """(n,) bool rows with likelihood in component 0 (real visitors)."""
    is_conv: jax.Array
    """(n,) bool converters (valid rows whose severity is observed)."""
    latent: jax.Array
    """(n,) float32 component-0 target: the probit latent (μ) or the outcome (τ, zeros)."""
    resid0: jax.Array
    """(n,) float32 component-0 residual, latent − offset − trees (− other forests)."""
    conv_rows: jax.Array
    """(m,) int32 row of each converter slot; padding slots hold n (out of range)."""
    sev: jax.Array
    """(m,) float32 component-1 target at the converter slots (0 in padding slots)."""
    resid1: jax.Array
    """(m,) float32 component-1 residual at the converter slots (0 in padding slots)."""
    var_tree: jax.Array
    """(T, 2^(d-1)) uint8 split variable per node."""
    split_tree: jax.Array
    """(T, 2^(d-1)) uint8 cut per node, 0 for a leaf."""
    leaf: jax.Array
    """(T, 2, 2^d) float32 leaf values in data units (slot 0 held at 0)."""
    leaf_idx: jax.Array
    """(T, n) uint8 node of each row in each tree (0 for rows without likelihood)."""
    to_prune: jax.Array
    """(T,) bool the last move left rows in two dropped children (applied next step)."""
    move_node: jax.Array
    """(T,) int32 node of the last move."""
    offset: jax.Array
    """(2,) float32 constant added to the forest."""
    leaf_prec: jax.Array
    """(2,) float32 prior precision of one leaf per component."""
    prec: jax.Array
    """(2,) float32 error precision per component (component 0 is 1)."""
    p_nonterminal: jax.Array
    """(2^d,) float32 prior P(node is split | depth) per node, 0 on the last level."""
    min_points: jax.Array
    """() int32 fewest valid rows per leaf."""
    sigma_df: jax.Array
    """() float32 ν of the inverse-gamma prior on the severity error variance."""
    sigma_rate: jax.Array
    """() float32 rate λ of that prior: σ² ~ InvGamma(ν/2, λ/2)."""


class _Moves(NamedTuple):
    """One proposed move per tree (leading axis T)."""

    allowed: jax.Array
    grow: jax.Array
    node: jax.Array
    """int32 leaf to grow or node to prune; 2^d when no move is possible."""
    var: jax.Array
    split: jax.Array
    log_trans_prior: jax.Array
    """log of the transition × prior part of the MH ratio of the grow direction."""
    logu: jax.Array


# ---------------------------------------------------------------------------------------
# construction
# ---------------------------------------------------------------------------------------


def _node_p_nonterminal(max_depth: int, alpha: float, beta: float) -> np.ndarray:
    """P(split) = α (1 + depth)^-β per heap node; 0 at depth max_depth − 1 (and node 0)."""
    size = 2**max_depth
    depth = np.floor(np.log2(np.maximum(np.arange(size), 1))).astype(int)
    p = alpha / (1.0 + depth) ** beta
    p[depth >= max_depth - 1] = 0.0
    p[0] = 0.0
    return p.astype(np.float32)


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
    converter_pad: int | None = None,
) -> HurdleForest:
    """Build the state of one hurdle forest with root-only trees and zero leaves.

    Takes the keyword arguments `_bartz_adapter.init_forest` takes for the hurdle's μ and τ
    forests, plus `converter_pad`.

    Parameters
    ----------
    X : (p, n) uint8 binned features.
    y : (2, n) float32 outcome: conversion 0/1 (μ) or zeros (τ), and log-severity.
    outcome_type : ['binary', 'continuous'] (μ: probit component 0) or
        ['continuous', 'continuous'] (τ).
    offset : (2,) constant added to the forest.
    max_split : (p,) cut points per feature (0 blocks splits on that feature).
    leaf_var : (2,) prior variance of one tree's leaf per component.
    missing : (2, n) bool, True where an entry has no likelihood; component 1's observed
        rows (the converters) must be observed in component 0.
    error : 'diag' (μ: severity precision sampled in `full_step`) or 'diag_fixed'
        (τ: precision set from μ's each step with `with_error_precision`).
    error_rate, error_df : rate λ and degrees of freedom ν of the severity error variance
        prior, σ² ~ InvGamma(ν/2, λ/2), as bartz's `DiagWishart.from_inv_wishart_marginal_nu`.
    converter_pad : length of the compact converter arrays (at least the converter count);
        τ states of different arms must share it to be stacked. Default: the count rounded
        up to a multiple of 64.

    Returns
    -------
    HurdleForest
    """
    kinds = [outcome_type] if isinstance(outcome_type, str) else list(outcome_type)
    if kinds not in (["binary", "continuous"], ["continuous", "continuous"]):
        msg = f"hurdle forest: outcome_type={outcome_type!r} is not a 2-component hurdle"
        raise ValueError(msg)
    if error not in ("diag", "diag_fixed") or (error == "diag") != (kinds[0] == "binary"):
        msg = f"hurdle forest: error={error!r} does not fit outcome_type={kinds}"
        raise ValueError(msg)
    y = np.asarray(y, np.float32)
    miss = np.asarray(missing, bool)
    if y.ndim != 2 or y.shape[0] != 2 or miss.shape != y.shape:
        msg = f"hurdle forest: y and missing must be (2, n), got {y.shape}, {miss.shape}"
        raise ValueError(msg)
    n = y.shape[1]
    valid = ~miss[0]
    is_conv = ~miss[1] & valid
    rows = np.flatnonzero(is_conv).astype(np.int32)
    m = converter_pad if converter_pad is not None else max(64, -(-rows.size // 64) * 64)
    if m < rows.size:
        msg = f"hurdle forest: converter_pad={m} < {rows.size} converters"
        raise ValueError(msg)
    conv_rows = np.full(m, n, np.int32)
    conv_rows[: rows.size] = rows
    sev = np.zeros(m, np.float32)
    sev[: rows.size] = y[1, rows]
    off = np.broadcast_to(np.asarray(offset, np.float32), (2,)).copy()
    probit = kinds[0] == "binary"
    # bartz starts the probit latent at the offset, so the first residual is 0
    latent = np.full(n, off[0], np.float32) if probit else y[0].copy()
    resid0 = np.where(valid, latent - off[0], 0.0).astype(np.float32)
    resid1 = np.zeros(m, np.float32)
    resid1[: rows.size] = y[1, rows] - off[1]
    half = 2 ** (max_depth - 1)
    return HurdleForest(
        X=jnp.asarray(np.asarray(X, np.uint8)),
        max_split=jnp.asarray(np.asarray(max_split, np.int32)),
        valid=jnp.asarray(valid),
        is_conv=jnp.asarray(is_conv),
        latent=jnp.asarray(latent),
        resid0=jnp.asarray(resid0),
        conv_rows=jnp.asarray(conv_rows),
        sev=jnp.asarray(sev),
        resid1=jnp.asarray(resid1),
        var_tree=jnp.zeros((num_trees, half), jnp.uint8),
        split_tree=jnp.zeros((num_trees, half), jnp.uint8),
        leaf=jnp.zeros((num_trees, 2, 2 * half), jnp.float32),
        leaf_idx=jnp.asarray(np.broadcast_to(valid.astype(np.uint8), (num_trees, n)).copy()),
        to_prune=jnp.zeros(num_trees, bool),
        move_node=jnp.zeros(num_trees, jnp.int32),
        offset=jnp.asarray(off),
        leaf_prec=jnp.asarray(1.0 / np.asarray(leaf_var, np.float32).reshape(2)),
        prec=jnp.ones(2, jnp.float32),
        p_nonterminal=jnp.asarray(_node_p_nonterminal(max_depth, alpha, beta)),
        min_points=jnp.int32(min_points_per_leaf),
        sigma_df=jnp.float32(error_df),
        sigma_rate=jnp.float32(error_rate if error == "diag" else 0.0),
    )


# ---------------------------------------------------------------------------------------
# tree structure helpers (one tree; vmapped over trees)
# ---------------------------------------------------------------------------------------


def _leaf_parents(split_tree: jax.Array) -> jax.Array:
    """(H,) bool: decision nodes whose two children are leaves (the prunable nodes)."""
    half = split_tree.shape[0]
    internal = split_tree != 0
    children = jnp.arange(half) * 2
    child_internal = jnp.concatenate([internal, jnp.zeros(half, bool)])
    kids_leaves = ~child_internal[children] & ~child_internal[children + 1]
    return internal & kids_leaves & (jnp.arange(half) > 0)


def _pick(key: jax.Array, weight: jax.Array) -> jax.Array:
    """Index drawn with probability ∝ weight (≥ 0; garbage when all are 0)."""
    return random.categorical(key, jnp.where(weight > 0, jnp.log(weight), -jnp.inf))


def _propose_one(
    key: jax.Array,
    var_tree: jax.Array,
    split_tree: jax.Array,
    max_split: jax.Array,
    pnt: jax.Array,
) -> _Moves:
    """Propose a grow or prune move for one tree with bartz's proposal distribution."""
    half = var_tree.shape[0]
    k_leaf, k_prune, k_kind, k_var, k_cut, k_u = random.split(key, 6)
    lo, hi = node_ranges(var_tree, split_tree, max_split)
    avail = lo < hi  # (H, p)
    num_avail = avail.sum(axis=1)
    growable = is_leaf(split_tree) & (num_avail > 0)
    grow_w = jnp.where(growable, pnt[:half], 0.0)
    total_w = grow_w.sum()
    num_growable = growable.sum()
    prunable = _leaf_parents(split_tree)
    num_prunable = prunable.sum()

    grow_ok = num_growable > 0
    prune_ok = split_tree[1] != 0
    p_grow = jnp.where(grow_ok & prune_ok, 0.5, grow_ok.astype(jnp.float32))
    grow = random.uniform(k_kind) < p_grow
    leaf = _pick(k_leaf, grow_w)
    pnode = _pick(k_prune, prunable.astype(jnp.float32))
    node = jnp.where(grow, leaf, pnode).astype(jnp.int32)
    node = jnp.where(grow_ok | prune_ok, node, 2 * half)
    at = jnp.minimum(node, half - 1)  # a safe gather index; results unused when not allowed

    new_var = _pick(k_var, avail[at].astype(jnp.float32)).astype(jnp.int32)
    var = jnp.where(grow, new_var, var_tree[at].astype(jnp.int32))
    lo_v, hi_v = lo[at, var], hi[at, var]
    new_cut = random.randint(k_cut, (), lo_v, jnp.maximum(hi_v, lo_v + 1))
    cut = jnp.where(grow, new_cut, split_tree[at].astype(jnp.int32))

    # children as leaves: a rule is left if another variable is available or the split
    # variable keeps a range on that side; they can be grown only inside the heap
    kids = 2 * at + jnp.array([0, 1])
    kid_rule = (num_avail[at] > 1) | jnp.stack([lo_v < cut, cut + 1 < hi_v])
    kid_affluent = kid_rule & (kids < half)

    # the move seen as a grow from the smaller tree (for a prune, the tree after pruning)
    kids_w = jnp.where(kids < half, grow_w[kids % half], 0.0).sum()
    small_growable = jnp.where(grow, total_w, total_w - kids_w + pnt[at])
    prob_choose = pnt[at] / jnp.where(small_growable > 0, small_growable, 1.0)
    bigger_prunable = jnp.where(
        grow, _leaf_parents(split_tree.at[at].set(1)).sum(), num_prunable
    )
    p_grow_small = jnp.where(at == 1, 1.0, 0.5)
    # P(prune) in the bigger tree: 1 when it has no growable leaf
    big_has_growable = jnp.where(grow, (num_growable >= 2) | kid_affluent.any(), grow_ok)
    p_prune_big = jnp.where(big_has_growable, 0.5, 1.0)
    pnt_kids = pnt[kids]
    prior = pnt[at] / (1.0 - pnt[at]) * jnp.prod(1.0 - pnt_kids * kid_rule)
    log_tp = jnp.log(prior * p_prune_big / (p_grow_small * prob_choose * bigger_prunable))
    return _Moves(
        allowed=grow_ok | prune_ok,
        grow=grow,
        node=node,
        var=var,
        split=cut,
        log_trans_prior=log_tp,
        logu=jnp.log1p(-random.uniform(k_u)),
    )


# ---------------------------------------------------------------------------------------
# the tree sweep
# ---------------------------------------------------------------------------------------


def _node_loglik(count: jax.Array, total: jax.Array, leaf_prec: jax.Array,
                 prec: jax.Array) -> jax.Array:
    """Log marginal likelihood of a leaf's rows up to terms that cancel in a move ratio."""
    post = leaf_prec + count * prec
    return 0.5 * (jnp.log(leaf_prec / post) + jnp.square(prec * total) / post)


def _segment_sums(
    resid: jax.Array, idx: jax.Array, size: int
) -> tuple[jax.Array, jax.Array]:
    """Residual sum and row count per node, (size,) each.

    One scatter-add of (residual, 1) pairs into `_LANES` interleaved copies of the node
    array (row i goes to copy i mod `_LANES`), summed afterwards. On a CPU a scatter-add is
    a serial loop, and consecutive rows hitting the same node (most rows sit in two or three
    leaves) wait on each other's store; the copies break those chains, ~2.5x faster.
    """
    lanes = (jnp.arange(idx.shape[0], dtype=jnp.int32) % _LANES) * size
    pairs = jnp.stack([resid, jnp.ones_like(resid)], axis=1)
    acc = jnp.zeros((_LANES * size, 2), jnp.float32).at[idx.astype(jnp.int32) + lanes].add(pairs)
    acc = acc.reshape(_LANES, size, 2).sum(axis=0)
    return acc[:, 0], acc[:, 1]


def _sweep(
    state: HurdleForest, moves: _Moves, idx: jax.Array, idx1: jax.Array, noise: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Accept or reject each tree's move and redraw its leaves, one tree after another.

    Returns the residuals (r0, r1), the new leaves and whether each move ends in a prune.
    """
    size = state.leaf.shape[-1]
    lp = state.leaf_prec[:, None]
    pr = state.prec[:, None]
    slot0 = jnp.arange(size) == 0

    def one_tree(carry: tuple[jax.Array, jax.Array], xs: tuple[Any, ...]) -> tuple[Any, Any]:
        r0, r1 = carry
        it, it1, old, mv, eps = xs
        s0, c0 = _segment_sums(r0, it, size)
        s1, c1 = _segment_sums(r1, it1, size)
        count = jnp.stack([c0, c1])
        # the tree's own fit is added back: the partial residual of this tree
        total = jnp.stack([s0, s1]) + count * old
        kids = 2 * mv.node + jnp.array([0, 1])
        kid_count = count.at[:, kids].get(mode="fill", fill_value=0.0)
        kid_total = total.at[:, kids].get(mode="fill", fill_value=0.0)
        # after a grow the parent holds no rows; as a leaf it holds both children's
        count = count.at[:, mv.node].set(kid_count.sum(1), mode="drop")
        total = total.at[:, mv.node].set(kid_total.sum(1), mode="drop")
        loglik = (
            _node_loglik(kid_count, kid_total, lp, pr).sum()
            - _node_loglik(kid_count.sum(1), kid_total.sum(1), state.leaf_prec,
                           state.prec).sum()
        )
        log_ratio = mv.log_trans_prior + loglik
        log_ratio = jnp.where(mv.grow, log_ratio, -log_ratio)
        big_enough = jnp.all(kid_count[0] >= state.min_points)
        acc = mv.allowed & big_enough & (mv.logu <= log_ratio)
        post = lp + count * pr
        new = pr * total / post + eps * lax.rsqrt(post)
        new = jnp.where(slot0, 0.0, new)
        to_prune = acc ^ mv.grow
        # rows stay in the dropped children until the next step: mirror the parent there
        parent_val = new.at[:, mv.node].get(mode="fill", fill_value=0.0)
        mirror = jnp.where(to_prune, kids, size)
        new = new.at[:, mirror].set(parent_val[:, None], mode="drop")
        delta = old - new
        r0 = r0 + delta[0][it]
        r1 = r1 + delta[1][it1]
        return (r0, r1), (new, to_prune)

    (r0, r1), (leaf, to_prune) = lax.scan(
        one_tree, (state.resid0, state.resid1), (idx, idx1, state.leaf, moves, noise)
    )
    return r0, r1, leaf, to_prune


def _indices_for_moves(state: HurdleForest, moves: _Moves) -> jax.Array:
    """(T, n) uint8 leaf indices: last step's deferred prunes applied, then this step's
    grows as if accepted (rows of a grown leaf go to its children)."""
    size = state.leaf.shape[-1]
    idx = state.leaf_idx.astype(jnp.int32)
    node = state.move_node[:, None]
    pruned = state.to_prune[:, None] & ((idx >> 1) == node) & (idx > 0)
    idx = jnp.where(pruned, node, idx)
    grow_at = jnp.where(moves.grow, moves.node, size)[:, None]
    right = state.X[moves.var].astype(jnp.int32) >= moves.split[:, None]
    return jnp.where(idx == grow_at, 2 * grow_at + right, idx).astype(jnp.uint8)


def _as_if_grown(state: HurdleForest, moves: _Moves) -> tuple[jax.Array, jax.Array]:
    """(leaf, var_tree) with each proposed grow's leaf value copied to its children and its
    variable written, so the grown indices still evaluate the unchanged trees."""
    size = state.leaf.shape[-1]

    def one(leaf: jax.Array, var: jax.Array, mv: _Moves) -> tuple[jax.Array, jax.Array]:
        kids = jnp.where(mv.grow, 2 * mv.node + jnp.array([0, 1]), size)
        value = leaf.at[:, mv.node].get(mode="fill", fill_value=0.0)
        leaf = leaf.at[:, kids].set(value[:, None], mode="drop")
        var = var.at[jnp.where(mv.grow, mv.node, var.size)].set(mv.var.astype(var.dtype),
                                                               mode="drop")
        return leaf, var

    return jax.vmap(one)(state.leaf, state.var_tree, moves)


def _settle_splits(split_tree: jax.Array, moves: _Moves, to_prune: jax.Array) -> jax.Array:
    """Write accepted grows' cuts; zero the node of an accepted prune or rejected grow."""
    write = jnp.where(moves.grow | to_prune, moves.node, split_tree.shape[1])
    cut = jnp.where(to_prune, 0, moves.split).astype(split_tree.dtype)
    return jax.vmap(lambda st, w, c: st.at[w].set(c, mode="drop"))(split_tree, write, cut)


def tree_step(key: jax.Array, state: HurdleForest) -> HurdleForest:
    """One grow/prune move per tree and new leaves for every tree (call inside a jit).

    Parameters
    ----------
    key : PRNG key.
    state : current state; its residuals must be complete for this forest.

    Returns
    -------
    HurdleForest
        The state with new trees, leaves, leaf indices and residuals.
    """
    num_trees = state.leaf.shape[0]
    k_move, k_leaf = random.split(key)
    moves = jax.vmap(_propose_one, in_axes=(0, 0, 0, None, None))(
        random.split(k_move, num_trees), state.var_tree, state.split_tree, state.max_split,
        state.p_nonterminal,
    )
    idx = _indices_for_moves(state, moves)
    idx1 = idx.at[:, state.conv_rows].get(mode="fill", fill_value=0)
    leaf, var_tree = _as_if_grown(state, moves)
    noise = random.normal(k_leaf, leaf.shape, jnp.float32)
    r0, r1, leaf, to_prune = _sweep(state._replace(leaf=leaf), moves, idx, idx1, noise)
    return state._replace(
        resid0=r0,
        resid1=r1,
        var_tree=var_tree,
        split_tree=_settle_splits(state.split_tree, moves, to_prune),
        leaf=leaf,
        leaf_idx=idx,
        to_prune=to_prune,
        move_node=jnp.where(moves.allowed, moves.node, 0).astype(jnp.int32),
    )


# ---------------------------------------------------------------------------------------
# probit latent and severity error variance
# ---------------------------------------------------------------------------------------


def _normal_above(key: jax.Array, bound: jax.Array) -> jax.Array:
    """Standard normal draws truncated to [bound, ∞), by inverse CDF on the thinner tail.

    Far in the tail (bound > 10; the float32 tail mass underflows past ~13) it uses the
    exponential approximation bound + Exp(1)/bound, whose relative error is O(1/bound²).
    """
    k_u, k_e = random.split(key)
    u = random.uniform(k_u, bound.shape, jnp.float32)  # [0, 1)
    b = jnp.minimum(bound, _TAIL)
    low = ndtr(b)
    # bound <= 0: most mass is kept, invert the lower CDF; bound > 0: invert the upper tail
    inner = ndtri(low + (1.0 - low) * u)
    upper = -ndtri(ndtr(-b) * (1.0 - u))
    e = jnp.where(b > 0, upper, inner)
    tail = bound + random.exponential(k_e, bound.shape, jnp.float32) / jnp.maximum(bound, 1.0)
    e = jnp.where(bound > _TAIL, tail, e)
    return jnp.maximum(jnp.where(jnp.isfinite(e), e, bound), bound)


def _draw_latent(key: jax.Array, state: HurdleForest) -> HurdleForest:
    """Probit augmentation: z ~ N(fit, 1) truncated to z > 0 for converters, z <= 0 else."""
    fit = state.latent - state.resid0
    # the residual e = z − fit: e > −fit for converters, e <= −fit (i.e. −e >= fit) else
    flip = jnp.where(state.is_conv, 1.0, -1.0)
    e = flip * _normal_above(key, -flip * fit)
    resid0 = jnp.where(state.valid, e, state.resid0)
    latent = jnp.where(state.valid, fit + e, state.latent)
    return state._replace(resid0=resid0, latent=latent)


def _draw_severity_precision(key: jax.Array, state: HurdleForest) -> HurdleForest:
    """Conjugate draw of 1/σ² of log-severity over the converters.

    bartz's `DiagWishart.from_inv_wishart_marginal_nu(ν, diag([0, λ]), ·)` gives the severity
    precision a Gamma(ν/2, rate λ/2) prior; the posterior adds m/2 and Σr²/2 over the m
    converters (padding slots have zero residual and do not count).
    """
    count = (state.conv_rows < state.valid.shape[0]).sum().astype(jnp.float32)
    ss = jnp.sum(jnp.square(state.resid1))
    shape = state.sigma_df / 2 + count / 2
    rate = state.sigma_rate / 2 + ss / 2
    prec1 = random.gamma(key, shape, dtype=jnp.float32) / rate
    return state._replace(prec=jnp.stack([jnp.float32(1.0), prec1]))


def full_step(key: jax.Array, state: HurdleForest) -> HurdleForest:
    """One MCMC iteration of the μ forest: trees, probit latent, severity precision.

    Same order as bartz's `step` (trees, latent, error precision). Call inside a jit.
    """
    k_tree, k_z, k_sigma = random.split(key, 3)
    state = tree_step(k_tree, state)
    state = _draw_latent(k_z, state)
    return _draw_severity_precision(k_sigma, state)


# ---------------------------------------------------------------------------------------
# the surface the kernel reads
# ---------------------------------------------------------------------------------------


def resid_data(state: HurdleForest) -> jax.Array:
    """(2, n) residuals in data units; component 1 is 0 off the converters."""
    n = state.resid0.shape[0]
    r1 = jnp.zeros(n, jnp.float32).at[state.conv_rows].set(state.resid1, mode="drop")
    return jnp.stack([state.resid0, r1])


def with_resid_data(state: HurdleForest, r: jax.Array) -> HurdleForest:
    """Return `state` with residuals from (2, n) data units (component 1 read at converters).

    Rows without likelihood keep their residual, so padding stays untouched.
    """
    r1 = r[1].at[state.conv_rows].get(mode="fill", fill_value=0.0)
    return state._replace(resid0=jnp.where(state.valid, r[0], state.resid0), resid1=r1)


def error_precision(state: HurdleForest) -> jax.Array:
    """(2, 2) diagonal error precision; [0, 0] is the probit's 1."""
    return jnp.diag(state.prec)


def with_error_precision(state: HurdleForest, value: jax.Array) -> HurdleForest:
    """Return `state` with the error precision set from a (2, 2) matrix's diagonal."""
    return state._replace(prec=jnp.diagonal(value).astype(jnp.float32))


def leaf_values(state: HurdleForest) -> jax.Array:
    """(T, 2, 2^d) leaf heaps in data units."""
    return state.leaf


def offset(state: HurdleForest) -> jax.Array:
    """(2,) constant offset of the forest."""
    return state.offset


def tree_heaps(state: HurdleForest) -> tuple[jax.Array, jax.Array]:
    """(var_tree, split_tree), each (T, 2^(d-1)) uint8."""
    return state.var_tree, state.split_tree


def _sum_over_trees(leaf: jax.Array, idx: jax.Array) -> jax.Array:
    """Σ_t leaf[t, ..., idx[t]]: (..., n) from leaf (T, ..., S) and idx (T, n).

    A loop of one-tree gathers: XLA's CPU gather is ~40x slower on the 2-D index form.
    """
    def add_tree(t: Any, acc: jax.Array) -> jax.Array:
        return acc + jnp.take(leaf[t], idx[t].astype(jnp.int32), axis=-1)

    acc = jnp.zeros((*leaf.shape[1:-1], idx.shape[1]), jnp.float32)
    return lax.fori_loop(0, leaf.shape[0], add_tree, acc)


def fit_at_training_rows(state: HurdleForest) -> jax.Array:
    """(2, n) sum of the trees at the state's own rows, without the offset (0 on padding).

    Reads the cached leaf indices; a pending prune's children mirror the parent's value.
    """
    return _sum_over_trees(state.leaf, state.leaf_idx)


def prognostic_fit(state: HurdleForest, tau_own: jax.Array) -> jax.Array:
    """(2, n) offset plus trees at every row, from a μ state whose residual is complete.

    Component 0 comes from the complete residual at O(n): latent − residual − the row's
    contribution from the other forests (`tau_own`, (2, n), the visitor's own τ).
    Component 1 has no residual off the converters, so it sums the trees' severity leaves
    at the cached leaf indices (O(T·n), paid only when a draw is recorded).
    """
    c0 = state.latent - state.resid0 - tau_own[0]
    c1 = _sum_over_trees(state.leaf[:, 1], state.leaf_idx) + state.offset[1]
    return jnp.stack([c0, c1])


def total_fit(state: HurdleForest) -> jax.Array:
    """(2, n) target minus residual: everything fitted to the rows, offset included.

    Component 0 is ``latent − residual`` everywhere. Component 1 is ``target − residual`` at
    the converters; elsewhere there is no residual and it holds this forest's own fit
    (offset plus trees).
    """
    own = fit_at_training_rows(state)[1] + state.offset[1]
    at_conv = own.at[state.conv_rows].set(state.sev - state.resid1, mode="drop")
    return jnp.stack([state.latent - state.resid0, at_conv])


def with_topology(
    state: HurdleForest, var_tree: jax.Array, split_tree: jax.Array
) -> HurdleForest:
    """Start from given tree structures with zero leaves (for warm starts).

    Leaf indices are recomputed by traversing the trees at the state's rows; the residuals
    drop this forest's current fit, so whatever else they hold (the other forests) stays.

    Parameters
    ----------
    state : a state of the same shapes.
    var_tree, split_tree : (T, 2^(d-1)) tree heaps in the bartz convention.
    """
    fit = fit_at_training_rows(state)
    var_tree = jnp.asarray(var_tree).astype(jnp.uint8)
    split_tree = jax.vmap(drop_unreachable)(jnp.asarray(split_tree).astype(jnp.uint8))
    idx = traverse_forest(state.X, var_tree, split_tree)
    idx = jnp.where(state.valid[None], idx, 0).astype(jnp.uint8)
    fit1 = fit[1].at[state.conv_rows].get(mode="fill", fill_value=0.0)
    return state._replace(
        var_tree=var_tree,
        split_tree=split_tree,
        leaf=jnp.zeros_like(state.leaf),
        leaf_idx=idx,
        to_prune=jnp.zeros_like(state.to_prune),
        move_node=jnp.zeros_like(state.move_node),
        resid0=jnp.where(state.valid, state.resid0 + fit[0], state.resid0),
        resid1=state.resid1 + fit1,
    )
