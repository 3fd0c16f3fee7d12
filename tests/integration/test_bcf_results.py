"""Public fits on observed data: dispatch, the stashed data, results, predict, save/load.

The data has the same shapes as tests/integration/test_bcf_fit.py (n = 500, 4 features, the
same tiny config), so the compiled programs are shared through JAX's persistent cache.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import pytyche as pt
from pytyche.bcf import GPUBCFConfig, select_family
from pytyche.bcf.results import stash_observed

N = 500
CFG = GPUBCFConfig(num_burnin=20, num_samples=20, num_trees_mu=20, num_trees_tau=8,
                   block_size=10)


def _frame(family: str, K: int, seed: int = 0) -> pd.DataFrame:
    from test_bcf_fit import simulate

    d = simulate(family, N, K, seed)
    frame = pd.DataFrame(d["X"], columns=[f"x{j}" for j in range(4)])
    frame["arm"] = np.array(["control", "a", "b", "c"])[d["z"]]
    frame["y"] = d["y"]
    return frame


def _observed(family: str, K: int) -> pt.ObservedExperimentData:
    return pt.from_dataframe(_frame(family, K), treatment="arm", outcome="y", control="control")


@pytest.fixture(scope="module")
def hurdle_posterior() -> pt.HurdleBCFResult:
    return pt.fit(_observed("hurdle", 3), config=CFG, seed=3, progress=False)


class TestSelectFamily:
    def test_zero_one_is_binary(self):
        """Outcomes in {0, 1} get the probit model."""
        assert select_family(np.array([0, 1, 1, 0.0])) == "binary"

    def test_zero_inflated_positive_is_hurdle(self):
        """30% zeros or more, no negatives and a positive tail is revenue-like."""
        assert select_family(np.array([0, 0, 0, 2.5, 3.1, 7.0, 1.2, 9.9, 4.4, 0.0])) == "hurdle"

    def test_few_zeros_is_continuous(self):
        """Under 30% zeros stays on the Gaussian model."""
        y = np.r_[np.zeros(29), np.linspace(1, 5, 71)]
        assert select_family(y) == "continuous"

    def test_negative_values_are_continuous(self):
        """Negative values rule out the hurdle even with many zeros."""
        assert select_family(np.array([0, 0, 0, 0, -1.0, 2.0])) == "continuous"

    def test_all_zero_names_both_readings(self):
        """An all-zero outcome is refused, naming the binary and the revenue reading."""
        with pytest.raises(ValueError, match=r"conversions.*revenue|revenue.*conversions"):
            select_family(np.zeros(10))

    def test_same_data_same_choice(self):
        """Dispatch is a pure function of the outcome."""
        y = np.random.default_rng(0).exponential(size=50) * (np.arange(50) % 2)
        assert {select_family(y) for _ in range(5)} == {"hurdle"}


class TestObservedCopy:
    def test_view_is_read_only_and_shares_buffers(self):
        """'view' copies nothing and refuses writes through the stash."""
        observed = _observed("continuous", 2)
        stash = stash_observed(observed, "view")
        original = observed.variants[0].visitors["x0"].to_numpy()
        kept = stash.variants[0].visitors["x0"].to_numpy()
        assert np.shares_memory(original, kept)
        with pytest.raises(ValueError, match="read-only"):
            kept[0] = 1.0

    def test_deep_is_independent(self):
        """'deep' survives later edits of the caller's data."""
        observed = _observed("continuous", 2)
        stash = stash_observed(observed, "deep")
        observed.variants[0].visitors.loc[0, "x0"] = 123.0
        assert stash.variants[0].visitors.loc[0, "x0"] != 123.0

    def test_ref_is_the_same_object(self):
        """'ref' keeps the caller's object itself."""
        observed = _observed("continuous", 2)
        assert stash_observed(observed, "ref") is observed

    def test_unknown_mode_lists_the_valid_ones(self):
        """Anything else fails naming view, deep and ref."""
        with pytest.raises(ValueError, match=r"'view', 'deep', 'ref'"):
            stash_observed(_observed("continuous", 2), "shallow")  # type: ignore[arg-type]


class TestHurdleResult:
    def test_type_and_decomposition(self, hurdle_posterior):
        """Revenue-like data gets the joint hurdle, which decomposes."""
        assert isinstance(hurdle_posterior, pt.HurdleBCFResult)
        assert hurdle_posterior.pooling == "joint"
        assert hurdle_posterior.has_decomposition()

    def test_shapes_follow_the_spec(self, hurdle_posterior):
        """p/sev are (n, S, K); the revenue effect is (n, S, K - 1); p is float16 (a third
        of the draws, kept at the precision a probability needs), the rest float32."""
        S = hurdle_posterior.n_samples
        assert hurdle_posterior.p_samples.shape == (N, S, 3)
        assert hurdle_posterior.sev_samples.shape == (N, S, 3)
        assert hurdle_posterior.rpv_cate_samples.shape == (N, S, 2)
        assert hurdle_posterior.p_samples.dtype == np.float16
        assert hurdle_posterior.sev_samples.dtype == np.float32
        assert hurdle_posterior.rpv_cate_samples.dtype == np.float32

    def test_levels_are_computed_once(self, hurdle_posterior):
        """level_samples() is kept after the first call (gigabytes at scale), read-only."""
        level = hurdle_posterior.level_samples()
        assert hurdle_posterior.level_samples() is level
        assert level.dtype == np.float32 and not level.flags.writeable

    def test_levels_compose_the_effect(self, hurdle_posterior):
        """Revenue per visitor is p·sev and the effect is its difference to control."""
        level = hurdle_posterior.level_samples()
        # control's level is not stored: it is p_0·sev_0 of the kept draws, exactly
        p0 = hurdle_posterior.p_samples[:, :, 0].astype(np.float32)
        np.testing.assert_array_equal(level[:, :, 0], p0 * hurdle_posterior.sev_samples[:, :, 0])
        np.testing.assert_allclose(level[..., 1:] - level[..., :1],
                                   hurdle_posterior.cate_samples(), rtol=1e-4, atol=1e-4)

    def test_observed_is_shared_by_derived_results(self, hurdle_posterior):
        """A policy tree holds the posterior's observed data by identity."""
        tree = hurdle_posterior.fit_policy_tree(n_bootstrap=0)
        assert tree.observed is hurdle_posterior.observed

    def test_summary_has_one_row_per_treatment(self, hurdle_posterior):
        """The summary lists each non-control treatment with an ordered interval."""
        table = hurdle_posterior.summary()
        assert list(table["treatment"]) == ["a", "b"]
        assert (table["ci_low"] <= table["effect"]).all()
        assert (table["effect"] <= table["ci_high"]).all()

    def test_predict_matches_in_sample_draws(self, hurdle_posterior):
        """Predicting the training visitors reproduces the in-loop draws."""
        frame = hurdle_posterior.observed.visitors().head(40)
        np.testing.assert_allclose(hurdle_posterior.predict(frame),
                                   hurdle_posterior.cate_samples()[:40], atol=2e-3, rtol=2e-3)

    def test_predict_refuses_missing_features(self, hurdle_posterior):
        """New visitors without a training feature are refused by name."""
        frame = hurdle_posterior.observed.visitors().head(5).drop(columns="x2")
        with pytest.raises(pt.SchemaViolation, match="x2"):
            hurdle_posterior.predict(frame)

    def test_save_load_round_trip(self, hurdle_posterior, tmp_path):
        """save/load restores the draws, the data and the ability to predict."""
        path = hurdle_posterior.save(tmp_path / "post")
        again = pt.HurdleBCFResult.load(path)
        np.testing.assert_array_equal(again.rpv_cate_samples, hurdle_posterior.rpv_cate_samples)
        assert again.observed.treatments == hurdle_posterior.observed.treatments
        pd.testing.assert_frame_equal(again.observed.visitors(),
                                      hurdle_posterior.observed.visitors())
        frame = hurdle_posterior.observed.visitors().head(10)
        np.testing.assert_array_equal(again.predict(frame), hurdle_posterior.predict(frame))
        assert again.config == hurdle_posterior.config and again.seed == hurdle_posterior.seed

    def test_load_wrong_type_refused(self, hurdle_posterior, tmp_path):
        """Loading a hurdle result as a continuous one fails with TypeError."""
        path = hurdle_posterior.save(tmp_path / "post")
        with pytest.raises(TypeError, match="HurdleBCFResult"):
            pt.ContinuousBCFResult.load(path)

    def test_load_of_a_non_result_is_explained(self, tmp_path):
        """A folder that is not a saved posterior says what to pass instead."""
        with pytest.raises(FileNotFoundError, match=r"meta\.json"):
            pt.load_result(tmp_path)


class TestDispatch:
    @pytest.mark.parametrize(
        ("family", "K", "expected"),
        [("continuous", 3, "ContinuousBCFResult"), ("binary", 2, "BinaryBCFResult")],
    )
    def test_fit_picks_the_family(self, family, K, expected):
        """pt.fit chooses the model from the outcome at any K."""
        post = pt.fit(_observed(family, K), config=CFG, seed=3, progress=False)
        assert type(post).__name__ == expected
        assert post.cate_samples().shape == (N, post.n_samples, K - 1)
        assert not post.has_decomposition()

    def test_fit_refuses_non_observed_input(self):
        """A DataFrame is not ObservedExperimentData; the error says how to load it."""
        with pytest.raises(TypeError, match="from_dataframe"):
            pt.fit(_frame("continuous", 2))

    def test_kwargs_are_forwarded(self):
        """An option of the chosen fit is passed through verbatim (and checked there)."""
        with pytest.raises(ValueError, match="observed_copy"):
            pt.fit(_observed("continuous", 2), observed_copy="nope")
