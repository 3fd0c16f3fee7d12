"""Calibration on real (tiny) fits: the sweep task, apply_calibration, skip, save/load.

Fits are tiny (n = 500, 20 μ + 8 τ trees, 20 + 20 iterations) and shared per module.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from pytyche.analysis import analyze
from pytyche.bcf import GPUBCFConfig, fit_hurdle_bcf, load_result
from pytyche.calibrate import Calibration, LayeredCalibrationCorrection, SweepTask, run_task
from pytyche.contracts import ClaimLevel
from pytyche.generators import simulate

N = 500
CFG = GPUBCFConfig(num_burnin=20, num_samples=20, num_trees_mu=20, num_trees_tau=8,
                   block_size=10)
WIDEN = LayeredCalibrationCorrection.from_pairs([0.5, 0.8, 0.9], [0.35, 0.6, 0.72])


def _calibration(**kw) -> Calibration:
    base = {"correction": WIDEN, "metric": "revenue_per_visitor", "n_treatments": 3,
            "pooling": "joint", "name": "test"}
    return Calibration(**{**base, **kw})


@pytest.fixture(scope="module")
def posterior():
    observed = simulate("clustered_realistic", n_visitors=N, metric="revenue_per_visitor", K=3,
                        seed=4).observed
    return fit_hurdle_bcf(observed, config=CFG, seed=4, progress=False)


class TestSweepTask:
    def test_run_task_scores_a_real_fit(self) -> None:
        """One task: 4 clusters x 2 treatments scored, coverage rising with the level."""
        task = SweepTask(template="clustered_realistic", metric="revenue_per_visitor", K=3,
                         n_visitors=N, seed=4, pooling="joint",
                         nominal_levels=(0.5, 0.8, 0.95), config=dataclasses.asdict(CFG))
        line = run_task(task)
        rec = line["record"]
        assert rec["segment_total"] == len(line["segment_levels"]) == 8
        assert len(line["arm_levels"]) == 2
        cov = rec["segment_coverage"]
        assert all(0 <= c <= 1 for c in cov) and list(cov) == sorted(cov)
        assert 0 <= rec["decision_correct"] <= 1 and rec["regret"] >= 0

    def test_warm_started_task_fits_a_pilot_first(self, monkeypatch) -> None:
        """With warm_start_share the scored fit starts from a pilot fit's trees."""
        import pytyche.bcf as bcf

        calls = []
        real = bcf.fit_hurdle_bcf

        def spy(observed, **kw):
            calls.append((observed.n_visitors, kw.get("warm_start") is not None))
            return real(observed, **kw)

        monkeypatch.setattr(bcf, "fit_hurdle_bcf", spy)
        task = SweepTask(template="clustered_realistic", metric="revenue_per_visitor", K=3,
                         n_visitors=N, seed=4, pooling="joint", nominal_levels=(0.8,),
                         config=dataclasses.asdict(CFG), warm_start_share=0.5)
        line = run_task(task)
        assert [warm for _, warm in calls] == [False, True]
        assert abs(calls[0][0] - N / 2) <= 3 and calls[1][0] == N  # each arm halved
        assert line["record"]["segment_total"] == 8


class TestApplyCalibration:
    def test_mismatch_names_each_dimension(self, posterior) -> None:
        """A K = 2 conversion-rate calibration is refused, naming both dimensions."""
        wrong = _calibration(metric="conversion_rate", n_treatments=2, pooling="none")
        with pytest.raises(ValueError, match="metric:") as err:
            posterior.apply_calibration(wrong)
        message = str(err.value)
        assert "n_treatments: calibration fitted with 2, data has 3" in message
        assert "pooling:" in message

    def test_pooling_mismatch_is_refused(self, posterior) -> None:
        with pytest.raises(ValueError, match="pooling: calibration fitted with 'independent'"):
            posterior.apply_calibration(_calibration(pooling="independent"))

    def test_applied_calibration_widens_intervals(self, posterior) -> None:
        """The calibrated posterior is labelled so and its 80% interval is wider."""
        calibrated = posterior.apply_calibration(_calibration())
        assert calibrated.is_calibrated and not posterior.is_calibrated
        raw = posterior.summary(level=0.8)
        wide = calibrated.summary(level=0.8)
        low_col = next(c for c in raw.columns if "low" in c)
        high_col = next(c for c in raw.columns if "high" in c)
        assert np.all(wide[high_col] - wide[low_col] > raw[high_col] - raw[low_col])

    def test_skip_stays_uncalibrated(self, posterior) -> None:
        """skip(): intervals unchanged, posterior and analysis labelled uncalibrated."""
        skipped = posterior.apply_calibration(Calibration.skip())
        assert not skipped.is_calibrated
        result = analyze(skipped)
        assert not result.calibrated
        assert result.claim_level != ClaimLevel.CALIBRATED

    def test_calibration_survives_save_and_load(self, posterior, tmp_path: Path) -> None:
        cal = _calibration()
        path = posterior.apply_calibration(cal).save(tmp_path / "post")
        again = load_result(path)
        assert again.calibration == cal and again.is_calibrated


@pytest.mark.slow
def test_shipped_artifact_through_a_sequential_round(tmp_path: Path) -> None:
    """clustered_realistic_v1 passes the regime check in the loop and labels the round."""
    import warnings

    from pytyche.errors import UncalibratedWarning
    from pytyche.experiment import (
        GeometricSchedule,
        sequential_experiment,
        simulated_experiment_generator,
    )

    names = ["control", "low_promo", "free_ship"]
    gen = simulated_experiment_generator(template="clustered_realistic",
                                         metric="revenue_per_visitor", K=3, seed=2,
                                         effect_scale=0.1,
                                         treatment_names=names)
    shipped = Calibration.from_sweep("clustered_realistic_v1")
    # The artifact's regime includes its sweep's sampler settings; fit with exactly those.
    sweep = shipped.provenance["sweep_settings"]["config"]
    same = GPUBCFConfig(**{k: sweep[k] for k in ("num_trees_mu", "num_trees_tau",
                                                 "num_burnin", "num_samples")})
    exp = sequential_experiment(
        generator=gen, schedule=GeometricSchedule(N, n_rounds=1), treatments=names, seed=2,
        calibration=shipped, fit_config=same, analysis_options={"n_bootstrap": 5},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", UncalibratedWarning)
        first = next(exp)
    assert first.posterior.is_calibrated
    assert first.posterior.calibration.name == "clustered_realistic_v1"
    # Other sampler settings: outside the regime, so the posterior stays uncalibrated.
    observed = first.posterior.observed
    from pytyche.bcf import fit_for_metric

    with pytest.warns(UncalibratedWarning, match="other sampler settings"):
        other = fit_for_metric(observed, seed=0, config=CFG, calibration=shipped,
                               progress=False)
    assert not other.is_calibrated
