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
   its τ state, copy μ's error precision, (with ``tau_intercept``) draw the arm's intercept
   τ₀_j from its conjugate normal full conditional, run bartz's tree step, scatter the new
   residual back.

With ``tau_intercept`` (`GPUBCFConfig.tau_intercept`) each arm's effect is
τ_j(x) = τ₀_j + Σ trees, one scalar τ₀_j per outcome component with a N(0, v₀) prior, as in
Hahn, Murray & Carvalho (2020) and ``bartz.bcf`` (``sample_intercept``, its
``bcf_step_tau_0``): given everything else, the arm's observed entries e = r + τ₀_j are
N(τ₀_j, 1/λ) with λ the component's error precision, so τ₀_j | · ~ N(λ Σe / P, 1/P) with
P = λ·n_obs + 1/v₀, and the residual moves by the change of τ₀_j. Without it the step, its
keys and the draws are those of the model without an intercept, bit for bit.

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

__all__ = ["EngineData", "EngineState", "Record", "draw_tau0", "make_record", "make_step"]


class EngineState(NamedTuple):
    """Complete sampler state of one chain."""

    mu: Any
    """Backend state (bartz `State` or `HurdleForest`) of the prognostic forest over all
    padded rows."""
    tau: Any
    """Backend states of the τ forests, stacked on a leading axis of K−1 arms."""
    tau0: jax.Array | None = None
    """(K−1, k) float32 τ intercepts in model units, or None when the model has none."""


class EngineData(NamedTuple):
    """Fixed per-fit arrays the step and record need besides the state."""

    arm_index: jax.Array
    """(K−1, n_arm_pad) int32 rows of each arm, padded with an out-of-range index."""
    X_tau: jax.Array
    """(p, n_pad) uint8 binned features (no propensity columns)."""
    arm: jax.Array
    """(n_pad,) int32 arm of each row (0 for padding)."""
    arm_obs: jax.Array | None = None
    """(K−1, k, n_arm_pad) float32: 1 where an arm's entry carries likelihood (a real row;
    a converter for severity), 0 elsewhere. Only with τ intercepts."""
    tau0_prior_prec: jax.Array | None = None
    """(k,) float32 prior precision 1/v₀ of each τ intercept component, or None."""


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
    tau0: jax.Array
    """(K−1, k) τ intercepts (zeros in a model without them)."""


def _with_k(a: jax.Array, k: int, axis: int) -> jax.Array:
    """Insert a component axis of size 1 when the model is univariate."""
    return jnp.expand_dims(a, axis) if k == 1 else a


def draw_tau0(
    key: jax.Array, r: jax.Array, tau0: jax.Array, obs: jax.Array, prec: jax.Array,
    prior_prec: jax.Array,
) -> tuple[jax.Array, jax.Array]:
    """Gibbs draw of one arm's τ intercept; return it and the residual moved by its change.

    Parameters
    ----------
    key : PRNG key.
    r : (k, m) the arm's complete residuals in model units (outcome − μ − τ₀ − trees).
    tau0 : (k,) current intercept.
    obs : (k, m) 1.0 where an entry carries likelihood.
    prec : (k,) error precision of each component.
    prior_prec : (k,) prior precision 1/v₀.

    Returns
    -------
    tau0 : (k,) new draw ; r : (k, m) residuals with ``tau0_old − tau0_new`` added everywhere
    (masked entries too, so ``target − residual`` stays the total fit wherever the backend
    keeps it).
    """
    partial = (r + tau0[:, None]) * obs
    post_prec = prec * obs.sum(axis=-1) + prior_prec
    mean = prec * partial.sum(axis=-1) / post_prec
    new = mean + random.normal(key, mean.shape, jnp.float32) * lax.rsqrt(post_prec)
    return new, r - (new - tau0)[:, None]


def make_step(k: int, backend: ModuleType = bz, tau_intercept: bool = False) -> Any:
    """Build ``step(key, state, data) -> state`` for `k` outcome components.

    `backend` is the forest module the states belong to (`_bartz_adapter`, or
    `_hurdle_forest` for the joint hurdle); both expose the same functions. With
    `tau_intercept` the state carries ``tau0`` and the data ``arm_obs`` and
    ``tau0_prior_prec`` (see the module docstring).
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

        def one_arm_with_tau0(
            args: tuple[Any, Any, Any, Any, Any],
        ) -> tuple[tuple[Any, jax.Array], jax.Array]:
            key_j, tau_j, idx_j, t0_j, obs_j = args
            key_0, key_trees = random.split(key_j)
            r_j = jnp.take(r, idx_j, axis=-1, mode="fill", fill_value=0.0)
            lam = jnp.reshape(prec, (1,)) if k == 1 else jnp.diagonal(prec)
            t0_j, r_j = draw_tau0(key_0, _with_k(r_j, k, 0), t0_j, obs_j,
                                  lam.astype(jnp.float32), data.tau0_prior_prec)
            r_j = r_j[0] if k == 1 else r_j
            tau_j = backend.with_error_precision(backend.with_resid_data(tau_j, r_j), prec)
            tau_j = backend.tree_step(key_trees, tau_j)
            return (tau_j, t0_j), backend.resid_data(tau_j)

        tau0 = state.tau0
        if tau_intercept:
            (tau, tau0), r_arms = lax.map(
                one_arm_with_tau0,
                (keys, state.tau, data.arm_index, state.tau0, data.arm_obs))
        else:
            tau, r_arms = lax.map(one_arm, (keys, state.tau, data.arm_index))
        flat_idx = data.arm_index.reshape(-1)
        if k == 1:
            r = r.at[flat_idx].set(r_arms.reshape(-1), mode="drop")
        else:
            r = r.at[:, flat_idx].set(jnp.moveaxis(r_arms, 1, 0).reshape(k, -1), mode="drop")
        return EngineState(mu=backend.with_resid_data(mu, r), tau=tau, tau0=tau0)

    return step


def make_record(
    k: int, sigma_mode: str, backend: ModuleType = bz, tau_intercept: bool = False
) -> Any:
    """Build ``record(state, data) -> Record``.

    `sigma_mode` is 'scalar' (continuous: the error precision is a scalar), 'one' (probit) or
    'sev' (hurdle: component 1 of a diagonal precision). `backend` as in `make_step`. With
    `tau_intercept` every τ_j in the record includes its intercept τ₀_j.
    """

    def record(state: EngineState, data: EngineData) -> Record:
        mu = state.mu
        var_t, split_t = backend.tree_heaps(state.tau)
        leaves_t = _with_k(jax.vmap(backend.leaf_values)(state.tau), k, 2)  # (A, T, k, S)

        def eval_arm(args: tuple[Any, Any, Any]) -> jax.Array:
            v, s, lv = args
            return forest_sum(data.X_tau, v, s, lv)  # (k, n), visits only existing nodes

        tau_fit = lax.map(eval_arm, (var_t, split_t, leaves_t))  # (A, k, n)
        if tau_intercept:
            tau0 = state.tau0.astype(jnp.float32)
            tau_fit = tau_fit + tau0[:, :, None]
        else:
            tau0 = jnp.zeros(tau_fit.shape[:2], jnp.float32)
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
            tau0=tau0,
        )

    return record
