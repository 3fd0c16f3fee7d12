"""Unit tests of the τ intercept (`GPUBCFConfig.tau_intercept`): config, Gibbs draw, storage.

The sampler itself is exercised in tests/integration/test_tau_intercept_fit.py and
tests/statistical/test_tau_intercept.py; these tests need no fit.
"""

from __future__ import annotations

import numpy as np
import pytest

from pytyche.bcf import GPUBCFConfig
from pytyche.bcf._draws import ForestDraws, Scale


class TestConfig:
    def test_defaults(self) -> None:
        """Off by default, with bartz.bcf's prior variance of 1 (standardized units)."""
        c = GPUBCFConfig()
        assert c.tau_intercept is False
        assert c.var_tau_intercept == 1.0
        assert c.to_dict()["tau_intercept"] is False

    @pytest.mark.parametrize("value", [1, 0, "yes", None, np.bool_(True)])
    def test_tau_intercept_must_be_bool(self, value: object) -> None:
        """Only True or False: an int or string is refused, naming the field."""
        with pytest.raises(ValueError, match=r"GPUBCFConfig\.tau_intercept=.*True or False"):
            GPUBCFConfig(tau_intercept=value)  # type: ignore[arg-type]

    @pytest.mark.parametrize("value", [0.0, -1.0, 100.5, float("inf"), float("nan"), True])
    def test_var_tau_intercept_range(self, value: float) -> None:
        """The prior variance is a number in (0, 100]."""
        with pytest.raises(ValueError, match=r"GPUBCFConfig\.var_tau_intercept=.*expected"):
            GPUBCFConfig(var_tau_intercept=value)

    def test_from_options_accepts_the_fields(self) -> None:
        """Fits take the new fields as keyword arguments like every other field."""
        c = GPUBCFConfig.from_options(None, {"tau_intercept": True, "var_tau_intercept": 0.25})
        assert c.tau_intercept and c.var_tau_intercept == 0.25
        assert {"tau_intercept", "var_tau_intercept"} <= set(GPUBCFConfig.field_names())


class TestGibbsDraw:
    def test_matches_the_conjugate_full_conditional(self) -> None:
        """Many draws have the closed-form posterior mean and sd; masked entries are ignored.

        With e = r + τ₀ over the m observed entries, λ the error precision and v₀ the prior
        variance, τ₀ | · ~ N(λ Σe / P, 1/P), P = λ m + 1/v₀. 4,000 draws estimate the mean
        to within 4 / sqrt(P · 4000) and the sd to within ~2% (4 standard errors).
        """
        import jax
        import jax.numpy as jnp
        from jax import random

        from pytyche.bcf._kernel import draw_tau0

        rng = np.random.default_rng(0)
        m = 40
        r = rng.normal(0.3, 1.0, (2, m)).astype(np.float32)
        obs = np.ones((2, m), np.float32)
        obs[1, 25:] = 0.0  # component 1: 25 observed entries
        r[1, 25:] = 1e3  # masked entries hold anything finite
        tau0 = np.array([0.5, -0.2], np.float32)
        lam = np.array([1.0, 4.0], np.float32)
        prior = np.array([1.0, 0.5], np.float32)
        keys = random.split(random.key(1), 4000)
        draws, resid = jax.vmap(draw_tau0, (0, None, None, None, None, None))(
            keys, jnp.asarray(r), jnp.asarray(tau0), jnp.asarray(obs), jnp.asarray(lam),
            jnp.asarray(prior))
        draws = np.asarray(draws)
        e = (r + tau0[:, None]) * obs
        P = lam * obs.sum(axis=1) + prior
        mean = lam * e.sum(axis=1) / P
        np.testing.assert_array_less(np.abs(draws.mean(axis=0) - mean), 4 / np.sqrt(P * 4000))
        np.testing.assert_allclose(draws.std(axis=0), 1 / np.sqrt(P), rtol=0.05)
        # the residual moves by the change of τ₀ at every entry, masked ones too
        np.testing.assert_allclose(np.asarray(resid)[0], r - (draws[0] - tau0)[:, None],
                                   rtol=1e-6, atol=1e-4)

    def test_no_observed_entries_draws_from_the_prior(self) -> None:
        """An arm component without likelihood (no converters) keeps the N(0, v₀) prior."""
        import jax
        import jax.numpy as jnp
        from jax import random

        from pytyche.bcf._kernel import draw_tau0

        r = jnp.full((1, 8), 5.0)
        keys = random.split(random.key(2), 4000)
        draws, _ = jax.vmap(draw_tau0, (0, None, None, None, None, None))(
            keys, r, jnp.zeros(1), jnp.zeros((1, 8)), jnp.ones(1), jnp.full(1, 4.0))
        draws = np.asarray(draws)[:, 0]
        assert abs(draws.mean()) < 4 * 0.5 / np.sqrt(4000)
        assert abs(draws.std() - 0.5) < 0.02


def _forests(tau_offset: np.ndarray | None, S: int = 3, K: int = 3, k: int = 1) -> ForestDraws:
    """Single-leaf forests with random leaves (no splits), p = 2 features."""
    rng = np.random.default_rng(4)
    half, full, p = 2, 4, 2
    u8 = np.uint8
    return ForestDraws(
        mu_var=np.zeros((S, 2, half), u8), mu_split=np.zeros((S, 2, half), u8),
        mu_leaf=rng.normal(size=(S, 2, k, full)).astype(np.float32),
        tau_var=np.zeros((S, K - 1, 2, half), u8), tau_split=np.zeros((S, K - 1, 2, half), u8),
        tau_leaf=rng.normal(size=(S, K - 1, 2, k, full)).astype(np.float32),
        sigma=np.ones(S, np.float32),
        cutpoints=np.sort(rng.normal(size=(p + K - 1, 3)), axis=1).astype(np.float32),
        max_split=np.full(p + K - 1, 3, np.int32), arm_shares=np.full(K, 1.0 / K),
        mu_offset=np.zeros(k, np.float32), scale=Scale("continuous", 0.0, 1.0),
        tau_offset=tau_offset,
    )


class TestStoredIntercepts:
    def test_prediction_adds_the_intercept(self) -> None:
        """τ_j at new visitors is the trees' sum plus that draw's τ₀_j, at every visitor."""
        t0 = np.arange(6, dtype=np.float32).reshape(3, 2, 1)
        X = np.random.default_rng(5).normal(size=(7, 2)).astype(np.float32)
        _, tau_without = _forests(None).raw_predict(X)
        mu_with, tau_with = _forests(t0).raw_predict(X)
        assert tau_with.shape == (3, 2, 1, 7)
        expected = np.broadcast_to(t0[..., None], (3, 2, 1, 7))
        np.testing.assert_allclose(tau_with - tau_without, expected, atol=1e-5)
        np.testing.assert_array_equal(mu_with, _forests(None).raw_predict(X)[0])

    def test_save_and_load_keep_the_intercepts(self, tmp_path) -> None:
        """The intercepts survive a round trip; a model without them loads as None."""
        t0 = np.random.default_rng(6).normal(size=(3, 2, 1)).astype(np.float32)
        _forests(t0).save(tmp_path / "with.npz")
        _forests(None).save(tmp_path / "without.npz")
        np.testing.assert_array_equal(ForestDraws.load(tmp_path / "with.npz").tau_offset, t0)
        assert ForestDraws.load(tmp_path / "without.npz").tau_offset is None
        with np.load(tmp_path / "without.npz") as f:
            assert "tau_offset" not in f.files  # files of models without τ₀ are unchanged

    def test_load_refuses_a_misshapen_intercept(self, tmp_path) -> None:
        """A tau_offset that does not match the forests (draws, arms, components) is refused."""
        _forests(np.zeros((3, 1, 1), np.float32)).save(tmp_path / "bad.npz")
        with pytest.raises(ValueError, match="tau_offset has shape"):
            ForestDraws.load(tmp_path / "bad.npz")
