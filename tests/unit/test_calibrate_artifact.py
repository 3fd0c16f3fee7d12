"""Calibration: regime checks, skip, serialisation, from_sweep and the shipped registry."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from pytyche.calibrate import (
    Calibration,
    LayeredCalibrationCorrection,
    available_artifacts,
)
from pytyche.generators import simulate

CORR = LayeredCalibrationCorrection.from_pairs([0.5, 0.8, 0.9], [0.4, 0.7, 0.8])


def _calibration(**kw) -> Calibration:
    base = {"correction": CORR, "metric": "revenue_per_visitor", "n_treatments": 3,
            "pooling": "joint", "name": "t"}
    return Calibration(**{**base, **kw})


def _observed(metric: str = "revenue_per_visitor", K: int = 3):
    return simulate("clustered_realistic", n_visitors=300, metric=metric, K=K, seed=0).observed


class TestRegime:
    def test_matching_regime_applies(self) -> None:
        cal = _calibration()
        assert cal.applies_to(_observed())
        assert cal.mismatches(_observed(), pooling="joint") == []

    def test_each_mismatched_dimension_is_named_with_both_values(self) -> None:
        """Metric, n_treatments and pooling each get one message with both values."""
        cal = _calibration()
        out = cal.mismatches(_observed("conversion_rate", K=2), pooling=None)
        assert len(out) == 3
        assert out[0].startswith("metric:") and "'revenue_per_visitor'" in out[0]
        assert "'conversion_rate'" in out[0]
        assert out[1].startswith("n_treatments:") and "3" in out[1] and "2" in out[1]
        assert out[2].startswith("pooling:") and "'joint'" in out[2] and "'none'" in out[2]

    def test_pooling_mismatch_alone(self) -> None:
        out = _calibration().mismatches(_observed(), pooling="independent")
        assert out == ["pooling: calibration fitted with 'joint', posterior uses "
                       "'independent'"]
        assert not _calibration().applies_to(_observed(), pooling="independent")

    def test_sampler_settings_are_part_of_the_regime(self) -> None:
        """A posterior fitted with other trees or iterations than the sweep stays
        uncalibrated (None, with a warning naming the settings); the same settings apply."""
        from pytyche.bcf import GPUBCFConfig
        from pytyche.errors import UncalibratedWarning

        sweep = {"num_trees_mu": 30, "num_trees_tau": 10, "num_burnin": 100,
                 "num_samples": 100, "num_chains": 1}
        cal = _calibration(provenance={"sweep_settings": {"config": sweep}})
        same = GPUBCFConfig(**sweep)
        assert cal.config_mismatch(same) is None
        assert cal.checked_for(_observed(), pooling="joint", subject="data",
                                   config=same) is cal
        default = GPUBCFConfig()
        assert "num_trees_mu 30 (calibration) vs 200 (fit)" in cal.config_mismatch(default)
        with pytest.warns(UncalibratedWarning, match="stays uncalibrated"):
            assert cal.checked_for(_observed(), pooling="joint", subject="data",
                                       config=default) is None

    def test_pooling_is_the_fitted_models(self) -> None:
        """A continuous fit of revenue data pools nothing: a joint-hurdle calibration does not
        apply to it, although the metric is revenue."""

        with pytest.raises(ValueError, match="posterior uses 'none'"):
            _calibration().checked_for(_observed(), pooling=None, subject="data")

    def test_adjust_level_delegates_to_correction(self) -> None:
        assert _calibration().adjust_level(0.8) == pytest.approx(CORR.adjust_level(0.8))


class TestSkip:
    def test_skip_changes_nothing_and_is_not_applied(self) -> None:
        """skip() applies to any data, keeps levels raw, and is flagged not applied."""
        cal = Calibration.skip()
        assert not cal.applied
        assert cal.mismatches(_observed("conversion_rate", K=2), pooling=None) == []
        assert cal.adjust_level(0.8) == 0.8

    def test_one_predicate_says_what_corrects_coverage(self) -> None:
        """None and skip() leave intervals raw, an applied calibration corrects them; the
        posterior, the analysis, the loop and the plots all ask this one function."""
        from pytyche.bcf.results import corrects_coverage

        assert not corrects_coverage(None)
        assert not corrects_coverage(Calibration.skip())
        assert corrects_coverage(_calibration())

    def test_skip_round_trips(self) -> None:
        again = Calibration.from_dict(json.loads(json.dumps(Calibration.skip().to_dict())))
        assert again == Calibration.skip()

    def test_applied_calibration_needs_a_regime(self) -> None:
        with pytest.raises(ValueError, match="skip"):
            Calibration(correction=CORR, metric=None, n_treatments=3, pooling="joint")


class TestSerialisation:
    def test_save_and_from_sweep_path(self, tmp_path: Path) -> None:
        cal = _calibration(provenance={"note": "x"})
        path = cal.save(tmp_path / "cal.json")
        again = Calibration.from_sweep(path)
        assert again == cal and again.provenance == {"note": "x"}

    def test_unknown_name_lists_shipped(self) -> None:
        with pytest.raises(ValueError, match="clustered_realistic_v1"):
            Calibration.from_sweep("no_such_artifact")

    def test_other_json_is_rejected(self, tmp_path: Path) -> None:
        path = tmp_path / "x.json"
        path.write_text('{"a": 1}')
        with pytest.raises(ValueError, match="neither a calibration artifact"):
            Calibration.from_sweep(path)


class TestRegistry:
    def test_lists_and_loads_clustered_realistic_v1(self) -> None:
        """The shipped artifact loads, with its regime, versions and sweep settings."""
        assert "clustered_realistic_v1" in available_artifacts()
        cal = Calibration.from_sweep("clustered_realistic_v1")
        assert (cal.metric, cal.n_treatments, cal.pooling) == ("revenue_per_visitor", 3, "joint")
        assert cal.name == "clustered_realistic_v1" and cal.applied
        assert {"pytyche", "bartz"} <= set(cal.provenance["sweep_versions"])
        assert cal.provenance["sweep_settings"]["template"] == "clustered_realistic"
        assert cal.adjust_level(0.8) >= 0.8

    def test_import_stays_light(self) -> None:
        """Importing pytyche.calibrate loads no JAX, bartz, matplotlib or Ray."""
        import subprocess

        code = ("import sys, pytyche.calibrate; "
                "print([m for m in ('jax', 'bartz', 'matplotlib', 'ray') if m in sys.modules])")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True)
        assert out.stdout.strip() == "[]"


class TestCurveAndExports:
    def test_curve_is_the_fitted_map(self):
        """curve() gives the correction's coverage at each nominal level, monotone."""
        import pytyche as pt

        cal = pt.Calibration.from_sweep("clustered_realistic_v1")
        curve = cal.curve([0.5, 0.8, 0.9])
        assert curve["nominal"] == [0.5, 0.8, 0.9]
        assert curve["empirical"] == sorted(curve["empirical"])
        assert curve["empirical"][1] == cal.correction.coverage(0.8)

    def test_cli_lists_the_calibrate_verb(self):
        """`pytyche calibrate --help` documents the sweep options."""
        from typer.testing import CliRunner

        from pytyche.cli import app

        result = CliRunner().invoke(app, ["calibrate", "--help"])
        assert result.exit_code == 0
        assert "--sweep" in result.output and "--backend" in result.output


SMALL = LayeredCalibrationCorrection.from_pairs([0.5, 0.8, 0.9], [0.48, 0.77, 0.87])
LARGE = LayeredCalibrationCorrection.from_pairs([0.5, 0.8, 0.9], [0.36, 0.65, 0.77])


class TestSizeAware:
    """One correction per measured size, resolved for a posterior's number of visitors."""

    def _sized(self) -> Calibration:
        return _calibration(by_size=((1_000, SMALL), (30_000, LARGE)))

    def test_measured_sizes_use_their_own_correction(self) -> None:
        cal = self._sized()
        assert cal.sizes == (1_000, 30_000)
        assert cal.for_size(1_000).adjust_level(0.8) == pytest.approx(SMALL.adjust_level(0.8))
        assert cal.for_size(30_000).adjust_level(0.8) == pytest.approx(LARGE.adjust_level(0.8))

    def test_between_sizes_the_raw_level_lies_between_and_grows_with_n(self) -> None:
        """Coverage falls with n here, so the raw level needed for 80% must rise with n."""
        cal = self._sized()
        levels = [cal.for_size(n).adjust_level(0.8) for n in (1_000, 3_000, 10_000, 30_000)]
        assert levels == sorted(levels) and len(set(levels)) == 4
        # halfway in log n, R(0.8) is the mean of the two measured curves
        mid = cal.for_size(round((1_000 * 30_000) ** 0.5)).correction
        assert mid.coverage(0.8) == pytest.approx((0.77 + 0.65) / 2, abs=1e-3)

    def test_outside_the_measured_sizes_the_nearest_applies(self) -> None:
        cal = self._sized()
        assert cal.for_size(10).correction == SMALL
        assert cal.for_size(50_000).correction == LARGE

    def test_far_past_the_largest_size_warns(self) -> None:
        from pytyche.errors import PytycheWarning

        with pytest.warns(PytycheWarning, match="measured up to 30,000 visitors"):
            self._sized().for_size(100_000)

    def test_resolved_is_plain_and_resolving_again_is_a_no_op(self) -> None:
        resolved = self._sized().for_size(5_000)
        assert resolved.by_size == () and resolved.for_size(50) is resolved
        assert resolved.provenance["resolved_for_n_visitors"] == 5_000
        assert _calibration().for_size(5_000) == _calibration()

    def test_round_trips_through_json(self) -> None:
        cal = self._sized()
        again = Calibration.from_dict(json.loads(json.dumps(cal.to_dict())))
        assert again == cal and again.by_size == cal.by_size

    def test_sizes_must_ascend(self) -> None:
        with pytest.raises(ValueError, match="ascending"):
            _calibration(by_size=((30_000, LARGE), (1_000, SMALL)))

    def test_attaching_to_a_posterior_resolves_for_its_size(self) -> None:
        """The fit entry point resolves the calibration for the data's visitor count."""

        observed = _observed()  # 300 visitors: below the smallest size
        assert self._sized().checked_for(observed, pooling="joint",
                                   subject="data").correction == SMALL
