"""pytyche's own hurdle forest kernel (`pytyche.bcf._hurdle_forest`).

Small states (a few hundred rows, a handful of trees) so each compiled program is cheap; the
agreement of whole fits with the bartz backend is in tests/statistical/test_hurdle_kernel.py.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from bartz.grove import traverse_forest
from jax import lax, random
from scipy.special import ndtri

from pytyche.bcf import GPUBCFConfig
from pytyche.bcf import _hurdle_forest as hf

N_REAL, N_PAD, P, T, DEPTH = 400, 448, 3, 8, 4
OFFSET1 = 0.2


def _data(seed: int = 0) -> dict[str, np.ndarray]:
    """Binned features, conversion and log-severity with signal, and padding rows."""
    rng = np.random.default_rng(seed)
    X = np.zeros((P, N_PAD), np.uint8)
    X[:, :N_REAL] = rng.integers(0, 20, (P, N_REAL))
    valid = np.arange(N_PAD) < N_REAL
    conv = valid & (rng.normal(size=N_PAD) < -0.3 + 0.1 * X[0])
    sev = np.where(conv, 0.1 * X[1] + 0.5 * rng.normal(size=N_PAD), 0.0)
    return {"X": X, "valid": valid, "conv": conv,
            "y": np.stack([conv, sev]).astype(np.float32)}


def _mu_state(d: dict[str, np.ndarray], num_trees: int = T) -> hf.HurdleForest:
    return hf.init_forest(
        X=d["X"], y=d["y"], outcome_type=["binary", "continuous"],
        offset=np.array([ndtri(d["conv"][d["valid"]].mean()), OFFSET1], np.float32),
        max_split=np.full(P, 19, np.uint8), num_trees=num_trees, max_depth=DEPTH, alpha=0.95,
        beta=2.0, leaf_var=np.full(2, 1.0 / num_trees), missing=np.stack([~d["valid"], ~d["conv"]]),
        min_points_per_leaf=5, error="diag", error_rate=0.3, error_df=3.0)


def _tau_state(d: dict[str, np.ndarray], *, max_split: int = 19, num_trees: int = T,
               depth: int = DEPTH, leaf_var: float = 0.1, min_points: int = 5,
               ) -> hf.HurdleForest:
    return hf.init_forest(
        X=d["X"], y=np.zeros((2, N_PAD), np.float32), outcome_type=["continuous"] * 2,
        offset=np.zeros(2, np.float32), max_split=np.full(P, max_split, np.uint8),
        num_trees=num_trees, max_depth=depth, alpha=0.95, beta=2.0,
        leaf_var=np.full(2, leaf_var), missing=np.stack([~d["valid"], ~d["conv"]]),
        min_points_per_leaf=min_points, error="diag_fixed")


@jax.jit
def _run(key: jax.Array, state: hf.HurdleForest) -> hf.HurdleForest:
    """60 full steps of the μ forest."""
    return lax.fori_loop(0, 60, lambda i, s: hf.full_step(random.fold_in(key, i), s), state)


def _traversed_fit(state: hf.HurdleForest) -> np.ndarray:
    """(2, n) sum of the trees by walking them at X (independent of the cached indices)."""
    idx = traverse_forest(state.X, state.var_tree, state.split_tree)
    g = np.take_along_axis(np.asarray(state.leaf), np.asarray(idx)[:, None, :], axis=2)
    return g.sum(axis=0)


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    return _data()


@pytest.fixture(scope="module")
def stepped(data: dict[str, np.ndarray]) -> tuple[hf.HurdleForest, hf.HurdleForest]:
    """(initial μ state, the state after 60 full steps)."""
    start = _mu_state(data)
    return start, _run(random.key(5), start)


class TestShapes:
    def test_surface_shapes_and_dtypes(self, stepped) -> None:
        """Every function of the kernel surface returns the bartz adapter's layout."""
        _, s = stepped
        S, H = 2**DEPTH, 2 ** (DEPTH - 1)
        var, split = hf.tree_heaps(s)
        assert var.shape == split.shape == (T, H) and var.dtype == split.dtype == jnp.uint8
        assert hf.leaf_values(s).shape == (T, 2, S) and hf.leaf_values(s).dtype == jnp.float32
        assert hf.offset(s).shape == (2,)
        for f in (hf.resid_data, hf.fit_at_training_rows, hf.total_fit):
            out = f(s)
            assert out.shape == (2, N_PAD) and out.dtype == jnp.float32
        prec = np.asarray(hf.error_precision(s))
        assert prec.shape == (2, 2) and prec[0, 0] == 1.0 and prec[0, 1] == prec[1, 0] == 0.0
        assert prec[1, 1] > 0

    def test_rejects_a_non_hurdle_forest(self, data) -> None:
        with pytest.raises(ValueError, match="outcome_type"):
            hf.init_forest(X=data["X"], y=data["y"], outcome_type="continuous", offset=0.0,
                           max_split=np.full(P, 19), num_trees=2, max_depth=3, alpha=0.9,
                           beta=2.0, leaf_var=np.ones(2), missing=np.zeros((2, N_PAD), bool),
                           min_points_per_leaf=1, error="diag")

    def test_error_precision_round_trip(self, stepped) -> None:
        _, s = stepped
        t = hf.with_error_precision(s, jnp.diag(jnp.array([1.0, 4.0])))
        np.testing.assert_array_equal(np.asarray(hf.error_precision(t)), np.diag([1.0, 4.0]))


class TestBookkeeping:
    def test_residuals_match_the_trees_after_many_steps(self, stepped, data) -> None:
        """Incremental residual updates stay equal to target − offset − trees (float32)."""
        _, s = stepped
        fit = np.asarray(hf.fit_at_training_rows(s))
        v = data["valid"]
        np.testing.assert_allclose(fit[:, v], _traversed_fit(s)[:, v], atol=1e-5)
        r0 = np.asarray(s.latent - s.resid0)[v] - float(s.offset[0])
        np.testing.assert_allclose(r0, fit[0, v], atol=2e-4)
        rows = np.flatnonzero(data["conv"])
        m = rows.size
        r1 = np.asarray(s.sev - s.resid1)[:m] - OFFSET1
        np.testing.assert_allclose(r1, fit[1, rows], atol=2e-4)

    def test_total_fit_plus_residual_is_the_target(self, stepped, data) -> None:
        """total_fit + residual == latent (component 0) and log-severity (converters)."""
        _, s = stepped
        tot = np.asarray(hf.total_fit(s) + hf.resid_data(s))
        np.testing.assert_allclose(tot[0], np.asarray(s.latent), atol=1e-5)
        c = data["conv"]
        np.testing.assert_allclose(tot[1, c], data["y"][1, c], atol=1e-5)

    def test_prognostic_fit_is_offset_plus_trees(self, stepped) -> None:
        _, s = stepped
        want = np.asarray(hf.fit_at_training_rows(s)) + np.asarray(s.offset)[:, None]
        got = np.asarray(hf.prognostic_fit(s, jnp.zeros((2, N_PAD))))
        v = np.asarray(s.valid)
        np.testing.assert_allclose(got[:, v], want[:, v], atol=2e-4)

    def test_resid_data_round_trip(self, stepped, data) -> None:
        """with_resid_data reads component 1 at converters only and leaves padding alone."""
        _, s = stepped
        r = np.asarray(hf.resid_data(s))
        assert not r[1, ~data["conv"]].any()
        t = hf.with_resid_data(s, jnp.asarray(r) + 1.0)
        np.testing.assert_allclose(np.asarray(hf.resid_data(t))[:, data["conv"]],
                                   r[:, data["conv"]] + 1.0)
        np.testing.assert_array_equal(np.asarray(t.resid0)[~data["valid"]],
                                      np.asarray(s.resid0)[~data["valid"]])


class TestProbitAndPadding:
    def test_latent_signs_agree_with_conversion(self, stepped, data) -> None:
        _, s = stepped
        z = np.asarray(s.latent)[data["valid"]]
        assert np.array_equal(z > 0, data["conv"][data["valid"]])

    def test_padding_rows_are_untouched(self, stepped, data) -> None:
        """Padding rows keep their initial latent and residual and never enter a tree."""
        start, s = stepped
        pad = ~data["valid"]
        assert np.array_equal(np.asarray(s.latent)[pad], np.asarray(start.latent)[pad])
        assert np.array_equal(np.asarray(s.resid0)[pad], np.asarray(start.resid0)[pad])
        assert not np.asarray(s.leaf_idx)[:, pad].any()
        assert not np.asarray(s.leaf)[:, :, 0].any()

    def test_trees_grow_and_sigma_moves(self, stepped) -> None:
        start, s = stepped
        assert np.asarray(s.split_tree).any()
        assert float(s.prec[1]) != float(start.prec[1])


class TestTruncatedNormal:
    def test_one_sided_draws_have_the_right_mean(self) -> None:
        """E[e | e >= b] = φ(b) / (1 − Φ(b)); 20,000 draws per bound, 5 standard errors.

        Past b = 10 the kernel's exponential tail form has mean b + 1/b, above the exact
        mean by about 2/b³; that bias is added to the tolerance there.
        """
        from scipy.stats import norm

        bounds = np.array([-4.0, -1.0, 0.0, 0.5, 2.0, 5.0, 9.0, 12.0], np.float32)
        e = np.asarray(hf._normal_above(random.key(0), jnp.tile(jnp.asarray(bounds), 20000)))
        e = e.reshape(20000, bounds.size)
        assert np.all(e >= bounds) and np.isfinite(e).all()
        for j, b in enumerate(bounds.astype(float)):
            mean = norm.pdf(b) / norm.sf(b)
            var = 1 + b * mean - mean**2
            bias = 2 / b**3 if b > 10 else 0.0
            assert abs(e[:, j].mean() - mean) < 5 * np.sqrt(var / 20000) + bias, b


class TestLeafPosterior:
    def test_root_leaf_has_the_conjugate_posterior(self, data) -> None:
        """One root-only tree (no cut points: no moves) on fixed residuals.

        Component c's leaf is N(λ_c S_c / P_c, 1/P_c) with P_c = 1/v + n_c λ_c, where n_c
        and S_c are the count and residual sum of the rows with likelihood (valid rows;
        converters for component 1). 4000 independent draws: the mean is checked to 4
        standard errors and the variance to 10%.
        """
        base = _tau_state(data, max_split=0, num_trees=1, leaf_var=0.5)
        rng = np.random.default_rng(1)
        r = rng.normal(0.7, 1.0, (2, N_PAD)).astype(np.float32)
        lam = np.array([1.0, 2.5], np.float32)
        s = hf.with_error_precision(hf.with_resid_data(base, jnp.asarray(r)),
                                    jnp.diag(jnp.asarray(lam)))
        keys = random.split(random.key(2), 4000)
        leaves = jax.jit(jax.vmap(lambda k: hf.tree_step(k, s).leaf[0, :, 1]))(keys)
        leaves = np.asarray(leaves)
        rows = [data["valid"], data["conv"]]
        for c in range(2):
            n_c, s_c = rows[c].sum(), r[c, rows[c]].astype(np.float64).sum()
            post = 1 / 0.5 + n_c * lam[c]
            mean, sd = lam[c] * s_c / post, post**-0.5
            assert abs(leaves[:, c].mean() - mean) < 4 * sd / np.sqrt(len(keys))
            assert abs(leaves[:, c].std() / sd - 1) < 0.1


def _leaf_count_prior(alpha: float, beta: float, depth: int) -> np.ndarray:
    """P(number of leaves = k), k = 0.., under P(split at depth d) = α (1 + d)^-β.

    Assumes every node keeps a split rule (so splitting depends on depth only): a subtree
    at depth d is one leaf w.p. 1 − p_d, else two independent subtrees at depth d + 1.
    """
    dist = np.array([0.0, 1.0])  # the last level never splits
    for d in range(depth - 2, -1, -1):
        p = alpha * (1 + d) ** -beta
        pair = np.convolve(dist, dist)
        one_leaf = np.eye(1, pair.size, 1)[0]
        dist = (1 - p) * one_leaf + p * pair
    return dist


class TestTreePrior:
    def test_flat_likelihood_samples_the_tree_prior(self, data) -> None:
        """With a negligible likelihood the moves must sample bartz's tree prior.

        Depth ≤ 4 (three levels may split), 3 features with 19 cuts each, so every node that
        may split keeps a rule (at most two ancestors use up at most two features) and no
        count limit binds (min 1 row, ≥ 400 rows spread over 20³ cells). The number of
        leaves then has the closed form of `_leaf_count_prior`; this checks the whole MH
        ratio (leaf choice ∝ P(split | depth), prune choice, P(grow)/P(prune), prior).
        128 trees × 500 draws thinned by 8, after 100 burn-in steps. Each leaf count with
        prior mass ≥ 1% must lie within 4.5 binomial standard errors (N = 64,000 draws;
        the correct kernel stays under 3 over seeds, while choosing the leaf to grow
        uniformly instead of ∝ P(split | depth) gives about 9).
        """
        alpha, beta = 0.95, 2.0
        s = _tau_state(data, num_trees=128, depth=4, leaf_var=1e-9, min_points=1)

        @jax.jit
        def draws(key: jax.Array, state: hf.HurdleForest) -> jax.Array:
            def block(st: hf.HurdleForest, k: jax.Array) -> tuple[hf.HurdleForest, jax.Array]:
                st = lax.fori_loop(0, 8, lambda i, x: hf.tree_step(random.fold_in(k, i), x), st)
                return st, (st.split_tree != 0).sum(axis=1) + 1

            state = lax.fori_loop(0, 100, lambda i, x: hf.tree_step(random.fold_in(key, i), x),
                                  state)
            return lax.scan(block, state, random.split(key, 500))[1]

        leaves = np.asarray(draws(random.key(3), s)).ravel()
        want = _leaf_count_prior(alpha, beta, 4)
        got = np.bincount(leaves, minlength=want.size)[: want.size] / leaves.size
        k = want >= 0.01
        z = (got[k] - want[k]) / np.sqrt(want[k] * (1 - want[k]) / leaves.size)
        assert np.abs(z).max() < 4.5, (got, want)


class TestWithTopology:
    def test_fresh_state_takes_the_given_trees(self, stepped, data) -> None:
        """Trees are copied, leaves zeroed, indices recomputed, residuals unchanged."""
        start, s = stepped
        var, split = hf.tree_heaps(s)
        w = hf.with_topology(start, var, split)
        assert np.array_equal(np.asarray(w.split_tree), np.asarray(split))
        assert np.array_equal(np.asarray(w.var_tree), np.asarray(var))
        assert not np.asarray(w.leaf).any()
        idx = traverse_forest(w.X, var, split)
        v = data["valid"]
        assert np.array_equal(np.asarray(w.leaf_idx)[:, v], np.asarray(idx)[:, v])
        assert not np.asarray(w.leaf_idx)[:, ~v].any()
        np.testing.assert_array_equal(np.asarray(w.resid0), np.asarray(start.resid0))
        np.testing.assert_array_equal(np.asarray(w.resid1), np.asarray(start.resid1))

    def test_stepped_state_drops_its_own_fit(self, stepped, data) -> None:
        """From a state with leaves, the residual gains back this forest's fit."""
        _, s = stepped
        fit = np.asarray(hf.fit_at_training_rows(s))
        w = hf.with_topology(s, *hf.tree_heaps(s))
        v = data["valid"]
        np.testing.assert_allclose(np.asarray(w.resid0)[v], np.asarray(s.resid0)[v] + fit[0, v],
                                   atol=1e-5)
        rows = np.flatnonzero(data["conv"])
        np.testing.assert_allclose(np.asarray(w.resid1)[: rows.size],
                                   np.asarray(s.resid1)[: rows.size] + fit[1, rows], atol=1e-5)

    def test_stale_cuts_below_leaves_are_dropped(self, stepped) -> None:
        start, _ = stepped
        var = np.zeros((T, 2 ** (DEPTH - 1)), np.uint8)
        split = np.zeros_like(var)
        split[:, 1] = 3  # root splits
        split[:, 4] = 2  # node 4's parent (2) is a leaf: unreachable
        w = hf.with_topology(start, var, split)
        assert np.asarray(w.split_tree)[:, 4].sum() == 0
        assert (np.asarray(w.split_tree)[:, 1] == 3).all()


class TestConfig:
    def test_hurdle_kernel_default_and_choice(self) -> None:
        """The joint hurdle runs on this kernel by default; 'bartz' keeps the old path."""
        from pytyche.bcf import _bartz_adapter as bz
        from pytyche.bcf._state import forest_backend

        assert GPUBCFConfig().hurdle_kernel == "pytyche"
        assert forest_backend("hurdle", GPUBCFConfig()) is hf
        assert forest_backend("hurdle", GPUBCFConfig(hurdle_kernel="bartz")) is bz
        assert forest_backend("continuous", GPUBCFConfig()) is bz

    def test_unknown_kernel_is_refused(self) -> None:
        with pytest.raises(ValueError, match=r"GPUBCFConfig\.hurdle_kernel='jax'.*expected"):
            GPUBCFConfig(hurdle_kernel="jax")

    def test_round_trips_through_a_dict(self) -> None:
        cfg = GPUBCFConfig(hurdle_kernel="bartz")
        assert GPUBCFConfig(**cfg.to_dict()) == cfg
