"""analyze and has_credible_segments on array posteriors."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest
from _analysis_helpers import (
    WidenBy,
    features_frame,
    hurdle_posterior,
    make_posterior,
    planted_boundary,
    pure_noise,
)

from pytyche.analysis import analyze, has_credible_segments
from pytyche.contracts import (
    AnalysisResult,
    ClaimLevel,
    Decision,
    EqRule,
    ObservedExperimentData,
    VariantData,
)


@pytest.fixture(scope="module")
def boundary():
    post = planted_boundary(n=1500, n_draws=60)
    return post, analyze(post, n_bootstrap=10, decisions="model")


class TestAnalyze:
    def test_comparisons_overall_then_per_segment(self, boundary) -> None:
        """K-1 overall comparisons first, then K-1 per policy-tree segment."""
        _, res = boundary
        assert isinstance(res, AnalysisResult)
        ids = [c.segment_id for c in res.comparisons]
        assert ids[:2] == [None, None]
        leaf_ids = [s.id for s in res.segments]
        assert ids[2:] == [i for i in leaf_ids for _ in range(2)]
        assert res.segments == res.policy_tree.segments

    def test_recommendations_are_the_overall_ones(self, boundary) -> None:
        """Per treatment, the overall decision; here neither arm wins everywhere."""
        _, res = boundary
        assert set(res.recommendations) == {"B", "C"}
        for c in res.comparisons[:2]:
            assert res.recommendations[c.treatment] == c.recommendation
        per_segment = {
            (c.segment_id, c.treatment): c.recommendation.decision for c in res.comparisons[2:]
        }
        assert Decision.SHIP in per_segment.values() and Decision.STOP in per_segment.values()

    def test_cate_per_visitor(self, boundary) -> None:
        """One row per visitor: observed arm, mean CATE and interval per treatment."""
        post, res = boundary
        frame = res.cate_per_visitor
        assert list(frame.columns) == [
            "treatment",
            "cate_B",
            "cate_B_low",
            "cate_B_high",
            "cate_C",
            "cate_C_low",
            "cate_C_high",
        ]
        assert len(frame) == post.observed.n_visitors
        np.testing.assert_allclose(
            frame["cate_C"], post.cate_samples()[:, :, 1].mean(axis=1), rtol=1e-4, atol=1e-5
        )
        assert (frame["cate_B_low"] <= frame["cate_B"]).all()
        assert (frame["cate_B"] <= frame["cate_B_high"]).all()
        np.testing.assert_array_equal(frame["treatment"], post.observed.visitors()["treatment"])

    def test_claim_level_uncalibrated(self, boundary) -> None:
        """No correction: UNCALIBRATED, calibrated False, 80% level."""
        post, res = boundary
        assert res.claim_level == ClaimLevel.UNCALIBRATED and not res.calibrated
        assert res.level == 0.8 and res.posterior is post

    def test_claim_level_calibrated(self) -> None:
        """A posterior carrying a correction gives CALIBRATED and wider intervals."""
        raw = planted_boundary(n=600, n_draws=40)
        cal = dataclasses.replace(raw, calibration=WidenBy(0.1))
        r_raw = analyze(raw, n_bootstrap=0, decisions="model")
        r_cal = analyze(cal, n_bootstrap=0, decisions="model")
        assert r_cal.claim_level == ClaimLevel.CALIBRATED and r_cal.calibrated
        lo_raw, hi_raw = r_raw.comparisons[0].effect_ci
        lo_cal, hi_cal = r_cal.comparisons[0].effect_ci
        assert lo_cal < lo_raw and hi_cal > hi_raw
        # A calibration's estimand is segment means: per-visitor intervals stay raw.
        assert r_cal.cate_per_visitor.equals(r_raw.cate_per_visitor)

    def test_insufficient_visitors(self) -> None:
        """An arm with fewer than 30 visitors makes the claim INSUFFICIENT_DATA."""
        rng = np.random.default_rng(0)
        post = make_posterior(rng.normal(size=(60, 3)), features_frame(60, rng), n_draws=20)
        assert analyze(post, n_bootstrap=0).claim_level == ClaimLevel.INSUFFICIENT_DATA

    def test_insufficient_converters(self) -> None:
        """A hurdle arm with fewer than 5 converters makes the claim INSUFFICIENT_DATA."""
        post = hurdle_posterior(n=300, n_draws=20)
        variants = list(post.observed.variants)
        dry = variants[2].visitors.assign(outcome=0.0)
        dry.loc[:2, "outcome"] = 10.0  # 3 converters
        variants[2] = VariantData.from_visitors("C", dry)
        observed = ObservedExperimentData(
            experiment_id="t", metric="revenue_per_visitor", variants=tuple(variants)
        )
        res = analyze(dataclasses.replace(post, observed=observed), n_bootstrap=0)
        assert res.claim_level == ClaimLevel.INSUFFICIENT_DATA
        assert res.comparisons[0].decomposition is not None

    def test_declared_segments_follow_the_leaves(self) -> None:
        """Declared segments are appended with ids after the largest leaf id."""
        post = planted_boundary(n=600, n_draws=30)
        res = analyze(
            post, n_bootstrap=0, segments={"mobile": EqRule(feature="device", value="mobile")}
        )
        leaf_ids = [s.id for s in res.policy_tree.segments]
        declared = res.segments[-1]
        assert declared.id == max(leaf_ids) + 1 and len(res.segments) == len(leaf_ids) + 1
        assert [c.segment_id for c in res.comparisons[-2:]] == [declared.id] * 2

    def test_frozen(self, boundary) -> None:
        """The result cannot be modified."""
        _, res = boundary
        with pytest.raises(dataclasses.FrozenInstanceError):
            res.level = 0.9  # type: ignore[misc]

    def test_bad_level_refused(self, boundary) -> None:
        """Interval levels outside (0, 1) are refused."""
        post, _ = boundary
        with pytest.raises(ValueError, match="level="):
            analyze(post, level=80)

    def test_comparisons_frame_is_the_leaderboards_columns(self, boundary) -> None:
        """comparisons_frame keeps the comparisons' order and shares the leaderboard's columns
        (one row builder), with the raw model-based effect."""
        from pytyche.analysis import comparisons_frame, leaderboard

        _, res = boundary
        frame, board = comparisons_frame(res.comparisons), leaderboard(res)
        assert list(frame.columns) == ["segment_id", "treatment", "effect", "low", "high",
                                       "relative_effect", "p_best", "decision", "basis",
                                       "model_effect"]
        assert frame["treatment"].tolist() == [c.treatment for c in res.comparisons]
        keys = ["segment_id", "treatment"]
        shared = [c for c in frame.columns if c in board.columns and c != "model_effect"]
        merged = frame[shared].merge(board[shared], on=keys, suffixes=("", "_board"))
        assert len(merged) == len(frame)
        for col in set(shared) - set(keys):
            assert merged[col].tolist() == merged[f"{col}_board"].tolist()

    def test_observed_data_is_fitted_first(self) -> None:
        """Observed data goes through pytyche.bcf.fit before the analysis."""
        from pytyche.bcf import GPUBCFConfig

        post = planted_boundary(n=600, n_draws=5)
        tiny = GPUBCFConfig(num_burnin=10, num_samples=10, num_trees_mu=10, num_trees_tau=5)
        res = analyze(post.observed, n_bootstrap=0,
                      fit_options={"progress": False, "observed_copy": "ref", "config": tiny})
        assert res.posterior.observed is post.observed


class TestHasCredibleSegments:
    def test_on_posterior_policy_and_analysis(self, boundary) -> None:
        """A clear boundary is credible whatever form the segments come in."""
        post, res = boundary
        assert has_credible_segments(post)
        assert has_credible_segments(res.policy_tree)
        assert has_credible_segments(res)

    def test_noise_is_not_credible(self) -> None:
        """Pure-noise segments are not credible at the default 0.80."""
        assert not has_credible_segments(pure_noise(n=1500, n_draws=20))

    def test_threshold_checked(self, boundary) -> None:
        """Thresholds outside [0, 1] are refused."""
        _, res = boundary
        with pytest.raises(ValueError, match="threshold"):
            has_credible_segments(res, threshold=80)


def test_import_stays_light() -> None:
    """Importing pytyche.analysis loads neither JAX, bartz nor matplotlib."""
    code = (
        "import sys, pytyche.analysis; "
        "print(sorted(m for m in ('jax', 'bartz', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
