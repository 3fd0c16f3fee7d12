"""Pure JAX step and record functions of the multi-arm BCF sampler.

The model, in standardized (continuous) or probit-latent (binary) units, with k = 1 outcome
component, or k = 2 for the joint hurdle (conversion latent, log-severity):

    y_i = μ(x_i, π_i) + Σ_j 1[z_i = j] τ_j(x_i) + ε_i

State: one bartz state for μ over all (padded) visitors and one bartz state per non-control
arm j for τ_j over that arm's rows only, stacked on a leading arm axis. Both kinds of state
keep residuals; the μ state's residual is the complete one (y − μ − τ_{z}) and is the source
of truth. One iteration:

1. bartz's full step on μ (trees, probit latent, error precision);
2. for each arm (`lax.map`, arms touch disjoint rows): gather the arm's residual rows into
   its τ state, copy μ's error precision, run bartz's tree step, scatter the new residual
   back.

The record of a kept iteration holds μ and every τ_j at every visitor (μ from the backend's
`prognostic_fit`: the complete residual where it exists, tree sums elsewhere; τ_j by summing
its trees at all rows with `_traverse.forest_sum`, since τ_j's state only covers its arm) and
the kept trees themselves in compact form.

The forest states come from a backend module passed to `make_step` / `make_record`:
`_bartz_adapter` by default, or `_hurdle_forest` (pytyche's own kernel, the default for the
joint hurdle; see `GPUBCFConfig.hurdle_kernel`). Both expose the same functions.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax, random

from pytyche.bcf import _bartz_adapter as bz
from pytyche.bcf._traverse import forest_sum

__all__ = ["EngineData", "EngineState", "Record", "make_record", "make_step"]


class EngineState(NamedTuple):
    """Complete sampler state of one chain."""

    mu: Any
    """Backend state (bartz `State` or `HurdleForest`) of the prognostic forest over all
    padded rows."""
    tau: Any
    """Backend states of the τ forests, stacked on a leading axis of K−1 arms."""


class EngineData(NamedTuple):
    """Fixed per-fit arrays the step and record need besides the state."""

    arm_index: jax.Array
    """(K−1, n_arm_pad) int32 rows of each arm, padded with an out-of-range index."""
    X_tau: jax.Array
    """(p, n_pad) uint8 binned features (no propensity columns)."""
    arm: jax.Array
    """(n_pad,) int32 arm of each row (0 for padding)."""


class Record(NamedTuple):
    """What one kept iteration contributes to the results (all float32 or uint8)."""

    mu_fit: jax.Array
    """(k, n_pad) μ including its offset."""
    tau_fit: jax.Array
    """(K−1, k, n_pad) τ_j at every row."""
    sigma: jax.Array
    """() error sd of the continuous component (1 for a pure probit fit)."""
    mu_var: jax.Array
    mu_split: jax.Array
    mu_leaf: jax.Array
    """(T_mu, k, 2^d) leaf heaps in data units."""
    tau_var: jax.Array
    tau_split: jax.Array
    tau_leaf: jax.Array
    """(K−1, T_tau, k, 2^d)."""


def _with_k(a: jax.Array, k: int, axis: int) -> jax.Array:
    """Insert a component axis of size 1 when the model is univariate."""
    return jnp.expand_dims(a, axis) if k == 1 else a


def make_step(k: int, backend: ModuleType = bz) -> Any:
    """Build ``step(key, state, data) -> state`` for `k` outcome components.

    `backend` is the forest module the states belong to (`_bartz_adapter`, or
    `_hurdle_forest` for the joint hurdle); both expose the same functions.
    """

    def step(key: jax.Array, state: EngineState, data: EngineData) -> EngineState:
        key_mu, key_tau = random.split(key)
        mu = backend.full_step(key_mu, state.mu)
        r = backend.resid_data(mu)
        prec = backend.error_precision(mu)
        num_arms = data.arm_index.shape[0]
        keys = random.split(key_tau, num_arms)

        def one_arm(args: tuple[Any, Any, Any]) -> tuple[Any, jax.Array]:
            key_j, tau_j, idx_j = args
            r_j = jnp.take(r, idx_j, axis=-1, mode="fill", fill_value=0.0)
            tau_j = backend.with_error_precision(backend.with_resid_data(tau_j, r_j), prec)
            tau_j = backend.tree_step(key_j, tau_j)
            return tau_j, backend.resid_data(tau_j)

        tau, r_arms = lax.map(one_arm, (keys, state.tau, data.arm_index))
        flat_idx = data.arm_index.reshape(-1)
        if k == 1:
            r = r.at[flat_idx].set(r_arms.reshape(-1), mode="drop")
        else:
            r = r.at[:, flat_idx].set(jnp.moveaxis(r_arms, 1, 0).reshape(k, -1), mode="drop")
        return EngineState(mu=backend.with_resid_data(mu, r), tau=tau)

    return step


def make_record(k: int, sigma_mode: str, backend: ModuleType = bz) -> Any:
    """Build ``record(state, data) -> Record``.

    `sigma_mode` is 'scalar' (continuous: the error precision is a scalar), 'one' (probit) or
    'sev' (hurdle: component 1 of a diagonal precision). `backend` as in `make_step`.
    """

    def record(state: EngineState, data: EngineData) -> Record:
        mu = state.mu
        var_t, split_t = backend.tree_heaps(state.tau)
        leaves_t = _with_k(jax.vmap(backend.leaf_values)(state.tau), k, 2)  # (A, T, k, S)

        def eval_arm(args: tuple[Any, Any, Any]) -> jax.Array:
            v, s, lv = args
            return forest_sum(data.X_tau, v, s, lv)  # (k, n), visits only existing nodes

        tau_fit = lax.map(eval_arm, (var_t, split_t, leaves_t))  # (A, k, n)
        # μ = (outcome or latent) − residual − the visitor's own τ: O(n), no tree gather
        tau_all = jnp.concatenate([jnp.zeros_like(tau_fit[:1]), tau_fit], axis=0)
        tau_own = jnp.take_along_axis(tau_all, data.arm[None, None, :], axis=0)[0]
        mu_fit = backend.prognostic_fit(mu, tau_own)  # (k, n) offset included
        prec = backend.error_precision(mu)
        if sigma_mode == "scalar":
            sigma = lax.rsqrt(prec)
        elif sigma_mode == "sev":
            sigma = lax.rsqrt(prec[1, 1])
        else:
            sigma = jnp.float32(1.0)
        var_m, split_m = backend.tree_heaps(mu)
        return Record(
            mu_fit=mu_fit.astype(jnp.float32),
            tau_fit=tau_fit.astype(jnp.float32),
            sigma=jnp.asarray(sigma, jnp.float32),
            mu_var=var_m,
            mu_split=split_m,
            mu_leaf=_with_k(backend.leaf_values(mu), k, 1),
            tau_var=var_t,
            tau_split=split_t,
            tau_leaf=leaves_t,
        )

    return record
