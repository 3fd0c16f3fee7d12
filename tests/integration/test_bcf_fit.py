"""Integration tests of the array-level BCF fits: shapes, reproducibility, predict, save/load.

Fits are tiny (n = 500, 20 μ + 8 τ trees, 20 + 20 iterations) and shared through
module-scoped fixtures, so each compiled program is built once.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.special import ndtr

from pytyche.bcf import (
    BCFFit,
    ForestDraws,
    GPUBCFConfig,
    fit_binary_arrays,
    fit_continuous_arrays,
    fit_hurdle_arrays,
)
from pytyche.errors import SchemaViolation

N = 500
CFG = GPUBCFConfig(num_burnin=20, num_samples=20, num_trees_mu=20, num_trees_tau=8,
                   block_size=10)


def simulate(family: str, n: int, K: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Small multi-arm simulator: linear prognostic term, arm effects a_j + b_j·x2."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    z = (np.arange(n) % K).astype(np.int32)
    rng.shuffle(z)
    a = np.linspace(0.5, -0.3, K - 1)
    b = np.linspace(0.3, 0.0, K - 1)
    tau = a[None] + b[None] * X[:, [1]]  # (n, K-1)
    own = np.where(z > 0, tau[np.arange(n), np.maximum(z - 1, 0)], 0.0)
    if family == "continuous":
        y = X[:, 0] + own + 0.5 * rng.normal(size=n)
    elif family == "binary":
        y = (rng.normal(size=n) < -0.3 + 0.5 * X[:, 0] + own).astype(np.float32)
    else:
        conv = rng.normal(size=n) < -0.5 + 0.4 * X[:, 0] + 0.5 * own
        y = np.where(conv, np.exp(1.0 + 0.3 * X[:, 2] + 0.5 * own + 0.5 * rng.normal(size=n)),
                     0.0)
    return {"X": X, "z": z, "y": np.asarray(y, np.float32), "tau": tau}


def _fit(family: str, K: int, seed: int = 3, config: GPUBCFConfig = CFG,
         pooling: str = "joint") -> BCFFit:
    d = simulate(family, N, K)
    if family == "continuous":
        return fit_continuous_arrays(d["X"], d["z"], d["y"], seed=seed, config=config,
                                     progress=False)
    if family == "binary":
        return fit_binary_arrays(d["X"], d["z"], d["y"], seed=seed, config=config,
                                 progress=False)
    return fit_hurdle_arrays(d["X"], d["z"], d["y"], seed=seed, config=config,
                             pooling=pooling, progress=False)  # type: ignore[arg-type]


FITS = [("continuous", 2, "joint"), ("continuous", 3, "joint"), ("binary", 2, "joint"),
        ("binary", 3, "joint"), ("hurdle", 2, "joint"), ("hurdle", 3, "joint"),
        ("hurdle", 2, "independent")]


@pytest.fixture(scope="module", params=FITS, ids=lambda f: f"{f[0]}-K{f[1]}-{f[2]}")
def fitted(request: pytest.FixtureRequest) -> tuple[str, int, BCFFit]:
    family, K, pooling = request.param
    return family, K, _fit(family, K, pooling=pooling)


class TestShapes:
    def test_draw_shapes_and_dtypes(self, fitted: tuple[str, int, BCFFit]) -> None:
        """Per-visitor draws are float32 (a hurdle's P(convert) float16) with (n, S, ·) layout
        for every family and K."""
        family, K, fit = fitted
        S = CFG.num_samples
        d = fit.draws
        if family == "hurdle":
            assert d["p"].shape == d["sev"].shape == (N, S, K)
            assert d["rpv_cate"].shape == (N, S, K - 1)
            assert ((d["p"] > 0) & (d["p"] <= 1)).all() and (d["sev"] > 0).all()
            # p is stored at half precision (rounding error at most 2^-11 relative); the
            # effect was computed from the single-precision p, so the two agree to that
            level = d["p"].astype(np.float32) * d["sev"]
            bound = 2.0**-11 * (level[..., 1:] + level[..., :1]) + 1e-5
            assert (np.abs(d["rpv_cate"] - (level[..., 1:] - level[..., :1])) <= bound).all()
        else:
            assert d["cate"].shape == (N, S, K - 1)
        if family == "binary":
            assert (np.abs(d["cate"]) < 1).all()
        if family == "hurdle":
            assert "mu" not in d  # control's level is p_0 · sev_0, not kept
        else:
            assert d["mu"].shape == (N, S)
        assert d["sigma"].shape == (S,)
        for key, v in d.items():
            half = family == "hurdle" and key == "p"  # P(convert) is kept at half precision
            assert v.dtype == (np.float16 if half else np.float32) and np.isfinite(v).all()
        assert fit.num_arms == K and fit.n == N

    def test_predict_on_training_rows_matches_draws(
        self, fitted: tuple[str, int, BCFFit]
    ) -> None:
        """Evaluating the kept forests at the training X reproduces the in-loop draws."""
        family, K, fit = fitted
        d = simulate(family, N, K)
        pred = fit.predict(d["X"])
        for key in fit.draws:
            # P(convert) is stored at half precision: two roundings of values within 2e-4
            # of each other may land one half-precision step (2^-10 relative) apart
            tol = 2e-4 + (2.0**-10 if fit.draws[key].dtype == np.float16 else 0.0)
            np.testing.assert_allclose(pred[key].astype(np.float32), fit.draws[key],
                                       rtol=tol, atol=2e-4)

    def test_diagnostics_present(self, fitted: tuple[str, int, BCFFit]) -> None:
        """R-hat and ESS are reported for σ and each arm's mean effect."""
        _, K, fit = fitted
        assert len(fit.diagnostics["rhat_mean_cate"]) == K - 1
        if fit.family == "binary":  # σ is fixed at 1 in a probit fit: its ESS says nothing
            np.testing.assert_array_equal(fit.draws["sigma"], 1.0)
        else:
            assert fit.diagnostics["ess_sigma"] > 0


class TestReproducibility:
    def test_same_seed_same_draws(self) -> None:
        """Two fits with one seed give bit-identical draws."""
        a = _fit("continuous", 2)
        b = _fit("continuous", 2)
        np.testing.assert_array_equal(a.draws["cate"], b.draws["cate"])
        np.testing.assert_array_equal(a.draws["sigma"], b.draws["sigma"])

    def test_block_size_does_not_change_draws(self) -> None:
        """Grouping iterations into blocks of another size leaves the draws unchanged."""
        a = _fit("continuous", 2)
        cfg = GPUBCFConfig(**{**CFG.to_dict(), "block_size": 7})
        b = _fit("continuous", 2, config=cfg)
        np.testing.assert_array_equal(a.draws["cate"], b.draws["cate"])

    def test_other_seed_other_draws(self) -> None:
        """A different seed gives different draws."""
        a = _fit("continuous", 2)
        b = _fit("continuous", 2, seed=4)
        assert not np.array_equal(a.draws["cate"], b.draws["cate"])

    def test_thin_and_chains(self) -> None:
        """Thinning and two sequential chains give chain-major draws and finite diagnostics."""
        cfg = GPUBCFConfig(**{**CFG.to_dict(), "num_chains": 2, "thin": 2, "num_samples": 10})
        fit = _fit("continuous", 2, config=cfg)
        assert fit.draws["cate"].shape == (N, 20, 1)
        assert np.isfinite(fit.diagnostics["rhat_sigma"])
        first = _fit("continuous", 2, config=GPUBCFConfig(**{**cfg.to_dict(), "num_chains": 1}))
        np.testing.assert_array_equal(first.draws["cate"], fit.draws["cate"][:, :10])


class TestSaveLoad:
    def test_round_trip(self, tmp_path: Path) -> None:
        """Saved forests load back identical and predict the same draws (no pickle)."""
        fit = _fit("hurdle", 3)
        f = fit.forests[0]
        path = tmp_path / "forests.npz"
        f.save(path)
        g = ForestDraws.load(path)
        for name in ("mu_var", "mu_split", "mu_leaf", "tau_var", "tau_split", "tau_leaf",
                     "sigma", "cutpoints", "max_split", "arm_shares", "mu_offset"):
            np.testing.assert_array_equal(getattr(f, name), getattr(g, name))
        assert g.scale == f.scale
        X = simulate("hurdle", 50, 3, seed=9)["X"]
        a, b = f.predict(X), g.predict(X)
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])

    def test_predict_new_visitors_shape(self) -> None:
        """Predicting unseen visitors gives draws for those visitors."""
        fit = _fit("binary", 3)
        X = simulate("binary", 37, 3, seed=5)["X"]
        pred = fit.predict(X)
        assert pred["cate"].shape == (37, CFG.num_samples, 2)

    def test_predict_rejects_wrong_width(self) -> None:
        """New X with another feature count is refused."""
        fit = _fit("binary", 2)
        with pytest.raises(ValueError, match="shape"):
            fit.predict(np.zeros((5, 7), np.float32))


class TestErrors:
    def test_bad_pooling(self) -> None:
        """An unknown pooling names the valid ones."""
        d = simulate("hurdle", N, 2)
        with pytest.raises(ValueError, match="'joint' or 'independent'"):
            fit_hurdle_arrays(d["X"], d["z"], d["y"], pooling="shared", progress=False)  # type: ignore[arg-type]

    def test_bad_seed(self) -> None:
        """A negative seed is refused."""
        d = simulate("continuous", N, 2)
        with pytest.raises(SchemaViolation, match="seed"):
            fit_continuous_arrays(d["X"], d["z"], d["y"], seed=-1, progress=False)


def test_binary_cate_is_probability_difference() -> None:
    """Binary CATE equals Φ(μ + τ) − Φ(μ) built from the raw forest draws."""
    fit = _fit("binary", 2)
    d = simulate("binary", N, 2)
    mu, tau = fit.forests[0].raw_predict(d["X"])
    expect = (ndtr(mu[:, 0] + tau[:, 0, 0]) - ndtr(mu[:, 0])).T
    np.testing.assert_allclose(fit.draws["cate"][:, :, 0], expect, atol=2e-4)
