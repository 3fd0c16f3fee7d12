"""pytyche.viz: every plot renders to a PNG of the expected size, from real analysis objects.

The analyses come from the real analysis layer run on posterior arrays with planted structure
(no MCMC); the sequential history from the real loop with its documented fit seam.
The builders here are imported by the report and CLI tests too.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from pytyche.contracts import CalibrationRecord, ObservedExperimentData, VariantData

TREATMENTS = ("control", "free_ship", "promo")


class HurdlePosterior:
    """A hurdle posterior held as arrays (the posterior array interface, nothing else)."""

    def __init__(self, observed: ObservedExperimentData, p: np.ndarray, sev: np.ndarray):
        self.observed, self.p_samples, self.sev_samples = observed, p, sev
        self.treatments = observed.treatments
        self.metric_family = observed.metric_family
        self.calibration = None
        self.diagnostics = {"rhat_sigma": 1.004, "ess_sigma": 180.0,
                            "rhat_mean_cate": [1.01, 1.02], "ess_mean_cate": [150.0, 140.0]}

    def level_samples(self) -> np.ndarray:
        return self.p_samples * self.sev_samples

    def has_decomposition(self) -> bool:
        return True


def hurdle_posterior(n: int = 1500, n_draws: int = 120, seed: int = 0) -> HurdlePosterior:
    """Three arms on revenue: free_ship lifts conversion on mobile, promo lifts basket when
    x0 > 0; draws scatter around the truth."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x0": rng.uniform(-1, 1, n), "tenure": rng.uniform(0, 10, n),
                          "device": rng.choice(["desktop", "mobile", "tablet"], n)})
    mobile = (frame["device"] == "mobile").to_numpy()
    right = frame["x0"].to_numpy() > 0
    p_true = np.column_stack([np.full(n, 0.10), np.where(mobile, 0.16, 0.10),
                              np.full(n, 0.10)])
    s_true = np.column_stack([np.full(n, 50.0), np.full(n, 50.0), np.where(right, 62.0, 46.0)])
    arms = np.arange(n) % 3
    y = np.where(rng.random(n) < p_true[np.arange(n), arms],
                 s_true[np.arange(n), arms] * rng.lognormal(0, 0.3, n), 0.0)
    frame = frame.assign(outcome=y)
    order = np.argsort(arms, kind="stable")
    variants = tuple(VariantData.from_visitors(t, frame[arms == k].reset_index(drop=True))
                     for k, t in enumerate(TREATMENTS))
    observed = ObservedExperimentData(experiment_id="viz", metric="revenue_per_visitor",
                                      variants=variants)
    shared_p = rng.normal(0, 0.01, (1, n_draws, 3))
    shared_s = rng.normal(0, 2.0, (1, n_draws, 3))
    p = np.clip(p_true[order][:, None, :] + shared_p + rng.normal(0, 0.01, (n, n_draws, 3)),
                0.001, 0.999).astype(np.float32)
    s = (s_true[order][:, None, :] + shared_s + rng.normal(0, 2.0, (n, n_draws, 3)))
    return HurdlePosterior(observed, p, s.astype(np.float32))


def hurdle_analysis(seed: int = 0):
    from pytyche.analysis import analyze

    return analyze(hurdle_posterior(seed=seed), n_bootstrap=10, bootstrap_seed=seed)


def fake_history(n_rounds: int = 3, store=None):
    """A finished 3-arm sequential experiment through the loop's fit seam (no MCMC)."""
    from test_experiment_loop import make

    from pytyche.errors import UncalibratedWarning

    exp = make(store=store, n_rounds=n_rounds)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UncalibratedWarning)
        for _ in exp:
            pass
    return exp


@pytest.fixture(scope="module")
def analysis():
    return hurdle_analysis()


@pytest.fixture(scope="module")
def history():
    return fake_history()


def render(ax, path: Path) -> tuple[int, int]:
    """Save the axes' figure at its own size and return the PNG's pixel size."""
    fig = ax.figure
    fig.savefig(path, dpi=100)
    assert path.stat().st_size > 2_000
    with Image.open(path) as img:
        assert img.format == "PNG"
        size = img.size
        pixels = np.asarray(img.convert("L"))
    assert pixels.std() > 5, "the image is blank"
    width, height = fig.get_size_inches() * 100
    assert size == (round(width), round(height))
    return size


class TestLazyImport:
    def test_import_does_not_load_matplotlib(self):
        """`import pytyche` and `import pytyche.viz` leave matplotlib unloaded."""
        code = ("import sys, pytyche, pytyche.viz; "
                "sys.exit(1 if 'matplotlib' in sys.modules else 0)")
        assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


class TestStaticPlots:
    def test_cells(self, history, tmp_path):
        """plot_cells draws the latest round's three cells, top to bottom in plan order; a plain
        mapping works too."""
        from pytyche.viz import plot_cells

        cells = history.history[-1].cells_shipped
        ax = plot_cells(cells)
        top_down = sorted(ax.get_yticklabels(), key=lambda t: -t.get_position()[1])
        assert [t.get_text() for t in top_down] == [c.id for c in cells]
        assert len(cells) == 3
        assert render(ax, tmp_path / "cells.png") == (800, 255)
        assert render(plot_cells({"control": 0.5, "explore": 0.5}), tmp_path / "m.png")[0] == 800

    def test_policy_tree(self, analysis, tmp_path):
        """plot_policy_tree draws the analysis's tree, one box per node."""
        from pytyche.viz import plot_policy_tree

        ax = plot_policy_tree(analysis)
        n_nodes = analysis.policy_tree.tree.tree_.node_count
        assert len(ax.texts) >= n_nodes
        render(ax, tmp_path / "tree.png")

    def test_segment_intervals(self, analysis, tmp_path):
        """One forest-plot row per segment, labelled by its rule."""
        from pytyche.viz import plot_segment_intervals

        ax = plot_segment_intervals(analysis.segments)
        assert len(ax.get_yticklabels()) == len(analysis.segments)
        assert all(t.get_text().startswith("S") for t in ax.get_yticklabels())
        render(ax, tmp_path / "segments.png")

    def test_leaderboard(self, analysis, tmp_path):
        """Control plus one row per treatment, each with its P(best)."""
        from pytyche.viz import plot_leaderboard

        ax = plot_leaderboard(analysis)
        assert len(ax.get_yticklabels()) == 3
        assert sum("P(best)" in t.get_text() for t in ax.texts) == 3
        render(ax, tmp_path / "leaderboard.png")

    def test_decomposition(self, analysis, tmp_path):
        """Conversion, basket and total bars per treatment, from comparisons or draws."""
        from pytyche.analysis import decompose_effects
        from pytyche.viz import plot_decomposition

        render(plot_decomposition(analysis), tmp_path / "decomp.png")
        ax = plot_decomposition(decompose_effects(analysis.posterior))
        assert [t.get_text() for t in ax.get_yticklabels()] == ["free_ship", "promo"]

    def test_decomposition_refuses_non_hurdle(self, history):
        """Comparisons without a decomposition give a clear error."""
        from pytyche.viz import plot_decomposition

        with pytest.raises(ValueError, match="hurdle"):
            plot_decomposition(history.history[-1].analysis)

    def test_calibration_inputs(self, tmp_path):
        """A mapping, an object, a CalibrationRecord and a pair all draw the same curve."""
        from pytyche.viz import calibration_curve, plot_calibration

        curve = {"nominal": [0.5, 0.8, 0.9, 0.95], "empirical": [0.45, 0.77, 0.88, 0.94]}
        record = CalibrationRecord(
            template="t", metric="revenue_per_visitor", n_visitors=1000, n_treatments=3,
            seed=0, pooling="joint", nominal_levels=(0.5, 0.8, 0.9, 0.95),
            segment_coverage=(0.45, 0.77, 0.88, 0.94), arm_coverage=(0.5, 0.8, 0.9, 0.95),
            decision_correct=1.0, regret=0.0)
        pair = (curve["nominal"], curve["empirical"])
        for source in (curve, record, pair):
            np.testing.assert_allclose(calibration_curve(source)[1], curve["empirical"])
        raw = {"nominal": curve["nominal"], "empirical": [0.30, 0.55, 0.66, 0.74]}
        ax = plot_calibration(curve, reference=raw)
        assert render(ax, tmp_path / "calibration.png") == (550, 500)

    def test_size_aware_calibration_draws_a_line_per_size(self, tmp_path):
        """The shipped artifact draws its pooled curve plus one line per measured size."""
        from pytyche.calibrate import Calibration
        from pytyche.viz import plot_calibration

        cal = Calibration.from_sweep("clustered_realistic_v1")
        ax = plot_calibration(cal)
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert [f"{n:,} visitors" for n in cal.sizes] == [t for t in labels if "visitors" in t]
        assert len(cal.sizes) >= 2 and "measured coverage (all sizes)" in labels
        assert render(ax, tmp_path / "calibration_sizes.png") == (550, 500)

    def test_calibrated_posterior(self, tmp_path):
        """A calibrated posterior draws the calibration it carries, resolved for its size; an
        uncalibrated one is refused with the fix."""
        import dataclasses

        from pytyche.bcf.results import HurdleBCFResult
        from pytyche.calibrate import Calibration
        from pytyche.viz import calibration_curve, plot_calibration

        cal = Calibration.from_sweep("clustered_realistic_v1").for_size(3_000)

        class Posterior:  # the two attributes plot_calibration reads off a posterior
            observed = object()
            calibration = cal
            is_calibrated = True

        ax = plot_calibration(Posterior())
        drawn = [line for line in ax.get_lines() if line.get_label() == "measured coverage"]
        assert len(drawn) == 1
        np.testing.assert_allclose(drawn[0].get_ydata(), calibration_curve(cal)[1])
        assert render(ax, tmp_path / "calibrated_posterior.png") == (550, 500)
        # the real result type has the attributes the stand-in mimics
        assert isinstance(HurdleBCFResult.is_calibrated, property)
        assert "observed" in {f.name for f in dataclasses.fields(HurdleBCFResult)}

        class Uncalibrated(Posterior):
            calibration = Calibration.skip()
            is_calibrated = False

        with pytest.raises(ValueError, match="apply_calibration"):
            plot_calibration(Uncalibrated())

    def test_calibration_bad_input(self):
        """Percentages instead of shares, and unreadable objects, are refused."""
        from pytyche.viz import plot_calibration

        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            plot_calibration({"nominal": [50, 80], "empirical": [40, 70]})
        with pytest.raises(ValueError, match="nominal"):
            plot_calibration(object())

    def test_allocation_over_rounds(self, history, tmp_path):
        """One stacked bar per round; a round's shares add to 1."""
        from pytyche.viz import plot_allocation_over_rounds, round_treatment_shares

        shares = round_treatment_shares(history)
        assert list(shares.index) == [0, 1, 2]
        np.testing.assert_allclose(shares.sum(axis=1), 1.0)
        np.testing.assert_allclose(round_treatment_shares(history.history), shares)
        render(plot_allocation_over_rounds(history), tmp_path / "alloc.png")

    def test_rpv_by_cell(self, history, tmp_path):
        """One cumulative line per cell that ever served traffic."""
        from pytyche.viz import plot_rpv_by_cell

        ax = plot_rpv_by_cell(history)
        assert {t.get_text() for t in ax.get_legend().get_texts()} == {"control", "explore",
                                                                       "optimized"}
        render(ax, tmp_path / "rpv.png")

    def test_given_axes_is_used(self, analysis):
        """With ax given, the plot draws there and returns it."""
        from matplotlib.figure import Figure

        from pytyche.viz import plot_leaderboard, plot_segment_intervals

        fig = Figure()
        left, right = fig.subplots(1, 2)
        assert plot_leaderboard(analysis, ax=left) is left
        assert plot_segment_intervals(analysis, ax=right) is right


class TestGif:
    def test_one_frame_per_round(self, history, tmp_path):
        """The GIF has one frame per round at the requested pace and loops."""
        from pytyche.viz import experiment_evolution_gif

        path = experiment_evolution_gif(history, tmp_path / "out" / "evolution.gif", fps=2)
        with Image.open(path) as img:
            assert img.format == "GIF" and img.n_frames == 3
            assert img.size == (1000, 400)
            assert img.info["duration"] == 500

    def test_bad_fps(self, history, tmp_path):
        """fps must be positive."""
        from pytyche.viz import experiment_evolution_gif

        with pytest.raises(ValueError, match="fps"):
            experiment_evolution_gif(history, tmp_path / "x.gif", fps=0)
