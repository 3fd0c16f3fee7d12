"""Unit tests of the jax-free parts of pytyche.bcf: config, preprocessing, diagnostics, errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from pytyche.bcf import GPUBCFConfig, compute_num_trees_tau
from pytyche.bcf._preprocess import MIN_BUCKET, Binning, bucket_size, validate_inputs
from pytyche.bcf.diagnostics import ess, split_rhat
from pytyche.errors import SchemaViolation


class TestGPUBCFConfig:
    def test_defaults_match_spec(self) -> None:
        """Defaults are the specification's values."""
        c = GPUBCFConfig()
        assert (c.num_burnin, c.num_samples, c.num_trees_mu, c.num_trees_tau) == (200, 200, 200, 50)
        assert (c.max_depth, c.alpha_mu, c.beta_mu, c.alpha_tau, c.beta_tau) == (
            6, 0.95, 2.0, 0.75, 3.0)
        assert (c.num_cutpoints, c.num_chains, c.thin, c.min_samples_leaf) == (100, 1, 1, 5)
        assert c.var_tau_sev == 0.5

    @pytest.mark.parametrize(
        ("field", "value"),
        [("num_burnin", -1), ("num_samples", 0), ("max_depth", 9), ("alpha_mu", 1.0),
         ("num_cutpoints", 256), ("thin", 0), ("var_tau_sev", 0.0), ("num_chains", 1.5),
         ("beta_tau", float("nan")), ("block_size", True)],
    )
    def test_bad_value_names_field(self, field: str, value: object) -> None:
        """A bad value raises ValueError naming the field and the allowed range."""
        with pytest.raises(ValueError, match=rf"GPUBCFConfig\.{field}=.*expected"):
            GPUBCFConfig(**{field: value})

    def test_keyword_only_and_frozen(self) -> None:
        """Positional construction and mutation are refused."""
        with pytest.raises(TypeError):
            GPUBCFConfig(10)  # type: ignore[misc]
        with pytest.raises(AttributeError):
            GPUBCFConfig().thin = 2  # type: ignore[misc]


class TestComputeNumTreesTau:
    def test_nominal_target_gives_base(self) -> None:
        """Asking for the nominal coverage returns the base size."""
        assert compute_num_trees_tau(0.9) == 50

    def test_monotone_and_bounded(self) -> None:
        """Higher target coverage never gives fewer trees; bounds hold."""
        sizes = [compute_num_trees_tau(t) for t in (0.5, 0.8, 0.9, 0.95, 0.99)]
        assert sizes == sorted(sizes)
        assert 10 <= min(sizes) and max(sizes) <= 400

    def test_rejects_bad_target(self) -> None:
        """Targets outside (0, 1) are refused."""
        with pytest.raises(ValueError, match="target_coverage"):
            compute_num_trees_tau(1.0)


class TestPreprocess:
    def test_bucket_size_bounds_padding(self) -> None:
        """Buckets cover n; padding is at most 100% up to 8,192 rows, 25% up to 131,072 and
        12.5% beyond, over the 1,024-row floor."""
        for n in [1, 63, 1024, 1025, 4097, 8192, 8193, 50_000, 131_072, 131_073, 1_000_000]:
            b = bucket_size(n)
            bound = 2.0 if n <= 8192 else 1.25 if n <= 131_072 else 1.125
            assert b >= n and b <= max(MIN_BUCKET, n * bound)

    def test_bucket_sizes_are_few(self) -> None:
        """A loop's sizes share buckets: every size up to 8,192 lands on a power of two, and
        1..1,000,000 rows use 4 + 4·4 + 8·3 buckets (a power of two each doubling to 8,192,
        four steps per doubling to 131,072, eight to 2^20)."""
        small = {bucket_size(n) for n in range(1, 8193)}
        assert small == {1024, 2048, 4096, 8192}
        sizes = {bucket_size(n) for n in np.unique(np.geomspace(1, 1e6, 20_000).astype(int))}
        assert len(sizes) == 4 + 4 * 4 + 8 * 3

    def test_binning_matches_thresholds(self) -> None:
        """A point's bin is the number of cut points strictly below it."""
        X = np.array([[0.0], [1.0], [2.0], [3.0]], np.float32)
        b = Binning.fit(X, 100)
        assert b.max_split.tolist() == [3]
        assert b.transform(X).tolist() == [[0, 1, 2, 3]]
        assert b.transform(np.array([[-5.0], [9.0]], np.float32)).tolist() == [[0, 3]]

    def test_constant_column_has_no_split(self) -> None:
        """A constant feature gets zero cut points."""
        b = Binning.fit(np.ones((10, 1), np.float32), 100)
        assert b.max_split.tolist() == [0]


def _inputs(n: int = 60, K: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return (rng.normal(size=(n, 3)).astype(np.float32), np.arange(n) % K,
            rng.normal(size=n).astype(np.float32))


class TestValidateInputs:
    cfg = GPUBCFConfig()

    def test_nan_feature(self) -> None:
        """NaN in X is named with its row and column."""
        X, z, y = _inputs()
        X[4, 2] = np.nan
        with pytest.raises(SchemaViolation, match="row 4, column 2"):
            validate_inputs(X, z, y, None, self.cfg, family="continuous")

    def test_too_few_per_arm(self) -> None:
        """An arm below the minimum says how many visitors are needed."""
        X, z, y = _inputs()
        z = np.zeros_like(z)
        z[:3] = 1
        with pytest.raises(SchemaViolation, match=r"arm 1 has 3 visitors.*at least 10"):
            validate_inputs(X, z, y, None, self.cfg, family="continuous")

    def test_float_arms_refused(self) -> None:
        """Arm indices must be integers."""
        X, z, y = _inputs()
        with pytest.raises(SchemaViolation, match="integer arm indices"):
            validate_inputs(X, z.astype(float), y, None, self.cfg, family="continuous")

    def test_shape_mismatch(self) -> None:
        """y with the wrong length is refused."""
        X, z, y = _inputs()
        with pytest.raises(SchemaViolation, match="shape"):
            validate_inputs(X, z, y[:-1], None, self.cfg, family="continuous")

    def test_not_an_array(self) -> None:
        """Lists are refused with a hint."""
        X, z, y = _inputs()
        with pytest.raises(SchemaViolation, match="numpy array"):
            validate_inputs(X.tolist(), z, y, None, self.cfg, family="continuous")

    def test_binary_needs_01(self) -> None:
        """A binary fit refuses values other than 0/1."""
        X, z, y = _inputs()
        with pytest.raises(SchemaViolation, match="0/1"):
            validate_inputs(X, z, y, None, self.cfg, family="binary")

    def test_hurdle_arm_without_converters(self) -> None:
        """A hurdle arm without converters is named."""
        X, z, _ = _inputs(60, 3)
        y = np.where((z != 2) & (np.arange(60) % 2 == 0), 5.0, 0.0).astype(np.float32)
        with pytest.raises(SchemaViolation, match="arm 2 has 0 converters"):
            validate_inputs(X, z, y, None, self.cfg, family="hurdle")

    def test_propensity_shape(self) -> None:
        """Propensity must be (n, K) with rows summing to one."""
        X, z, y = _inputs()
        with pytest.raises(SchemaViolation, match="propensity must have shape"):
            validate_inputs(X, z, y, np.full((60, 3), 1 / 3), self.cfg, family="continuous")
        with pytest.raises(SchemaViolation, match="sum to 1"):
            validate_inputs(X, z, y, np.full((60, 2), 0.3), self.cfg, family="continuous")

    def test_too_many_arms(self) -> None:
        """More than 10 arms is refused."""
        X, z, y = _inputs(300, 11)
        with pytest.raises(SchemaViolation, match="2 to 10 arms"):
            validate_inputs(X, z, y, None, self.cfg, family="continuous")


class TestDiagnostics:
    def test_iid_chains(self) -> None:
        """Independent normal draws give R-hat near 1 and ESS near the draw count."""
        d = np.random.default_rng(1).normal(size=(4, 500))
        assert abs(split_rhat(d) - 1) < 0.02
        assert 1200 < ess(d) < 2800

    def test_shifted_chains_flagged(self) -> None:
        """Chains stuck at different means give a large R-hat."""
        d = np.random.default_rng(1).normal(size=(2, 200)) + np.array([[0.0], [5.0]])
        assert split_rhat(d) > 1.5

    def test_autocorrelated_chain_has_low_ess(self) -> None:
        """A sticky AR(1) chain has far fewer effective draws than draws."""
        rng = np.random.default_rng(2)
        x = np.zeros(1000)
        for t in range(1, 1000):
            x[t] = 0.95 * x[t - 1] + rng.normal()
        assert ess(x[None]) < 150


def test_import_does_not_load_jax() -> None:
    """Importing pytyche.bcf (config only) does not import JAX."""
    code = "import sys, pytyche.bcf; assert 'jax' not in sys.modules, 'jax imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
