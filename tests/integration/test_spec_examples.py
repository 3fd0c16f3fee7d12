"""Every code example of the specification (../shared/seeds/), scaled down, run as written.

One test per example or contract the seeds spell out, grouped by seed file, written with this
module's own names and data. Fits are real but tiny (a few hundred visitors, a handful of trees
and iterations). Compiling a sampler costs far more than running one, so the fits share their
shapes: the loop's first round, ``pt.fit`` and ``fit_hurdle_bcf`` all see the same round-0 data
(the generator replays a round exactly) and run one compiled program; the loop's second round
and the independent-pooling fit are the only other programs. Where pytyche deliberately differs
from a seed, the test checks pytyche's behaviour and ``docs/spec_deviations.md`` says why.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest

import pytyche as pt

TREATMENTS = ["control", "gift_wrap", "loyalty_points"]
N = 600
#: A 30% base conversion rate leaves every arm enough converters for the independent path.
BASE_RATE = 0.3
#: Tiny fits for every example: a few trees and iterations (the spec's defaults are 200 μ and
#: 50 τ trees; ``config_defaults`` below checks those separately).
SMALL = {"num_trees_mu": 8, "num_trees_tau": 4, "num_burnin": 10, "num_samples": 20,
         "block_size": 10, "max_depth": 4}


def small_config():
    from pytyche.bcf import GPUBCFConfig

    return GPUBCFConfig(**SMALL)


def generator(seed: int = 3):
    from pytyche.experiment import simulated_experiment_generator

    return simulated_experiment_generator(template="clustered_realistic",
                                          metric="revenue_per_visitor", effect_scale=1.0, K=3,
                                          seed=seed, treatment_names=TREATMENTS,
                                          baseline_rate=BASE_RATE)


@pytest.fixture(scope="module")
def round_zero():
    """Revenue data of three treatments with its truth: round 0 of the loop below, replayed
    (same seed, same cold-start plan), so fitting it reuses the loop's compiled sampler."""
    from pytyche.experiment import cold_start_plan

    return generator()(0, cold_start_plan(TREATMENTS, n_visitors=N))


@pytest.fixture(scope="module")
def observed(round_zero):
    return round_zero[0]


@pytest.fixture(scope="module")
def truth(round_zero):
    return round_zero[1]


@pytest.fixture(scope="module")
def posterior(observed):
    return pt.fit(observed, seed=0, progress=False, **SMALL)


@pytest.fixture(scope="module")
def finished():
    """A two-round sequential experiment on the shipped calibration, iterated with a for loop
    that hands each round to a callback."""
    study = pt.sequential_experiment(
        generator=generator(),
        schedule=pt.GeometricSchedule(initial=N, growth=2.0, n_rounds=2),
        treatments=TREATMENTS,
        calibration=pt.Calibration.from_sweep("clustered_realistic_v1"),
        fit_config=small_config(),
        analysis_options={"n_bootstrap": 5},
    )
    lines = []

    def record(snapshot):
        lines.append(snapshot.summary_one_line())

    with warnings.catch_warnings():
        # the shipped calibration was measured at the default sampler settings; these tiny
        # fits stay uncalibrated and say so
        warnings.simplefilter("ignore")
        for snapshot in study:
            record(snapshot)
    assert len(lines) == 2
    return study


# ---- 002: the glossary ---------------------------------------------------------------------


class TestGlossary:
    def test_sequential_experiment(self, finished):
        """pt.sequential_experiment(...) iterates round by round; each round is an Experiment."""
        from pytyche.experiment import Experiment

        assert [e.round_idx for e in finished.history] == [0, 1]
        assert all(isinstance(e, Experiment) for e in finished.history)
        assert all(e.truth_comparison is not None for e in finished.history)  # sim mode

    def test_schedules(self):
        """The three shipped schedules, n_rounds optional (None: open-ended)."""
        doubling = pt.GeometricSchedule(initial=2_500, growth=1.5, n_rounds=4)
        assert doubling.n_rounds == 4
        assert [doubling.next_round_size(r) for r in range(5)][-1] is None
        assert pt.GeometricSchedule(800, 3.0).n_rounds is None
        assert pt.FixedSchedule(1_200, 5).n_rounds == 5
        sizes = pt.ExplicitSchedule([300, 900, 2_700])
        assert [sizes.next_round_size(r) for r in range(4)] == [300, 900, 2_700, None]

    def test_contrast_basis(self):
        """_compute_basis in bcf/preprocess.py: (n, K-1) contrast coding against control."""
        from pytyche.bcf.preprocess import _compute_basis

        received = np.array([2, 0, 0, 1])  # one visitor per arm index, control twice
        np.testing.assert_array_equal(_compute_basis(received),
                                      [[0, 1], [0, 0], [0, 0], [1, 0]])

    def test_cells_and_tree_policy(self, posterior):
        """Cells with BaselinePolicy, UniformPolicy(over=...) and TreePolicy(tree, map)."""
        from pytyche.experiment import (
            BaselinePolicy,
            Cell,
            TreePolicy,
            UniformPolicy,
            blend_probabilities,
        )

        segmentation = posterior.fit_policy_tree(n_bootstrap=0)
        splitter, leaf_shares = segmentation.tree, segmentation.allocation_map  # sklearn tree
        arm_names = list(posterior.treatments)
        holdout = Cell("control", BaselinePolicy(), weight=0.25)
        spread = Cell("explore", UniformPolicy(over=arm_names[1:]), weight=0.35)
        targeted = Cell("optimized_a", TreePolicy(splitter, leaf_shares), weight=0.4)
        round_cells = [holdout, spread, targeted]
        people = posterior.observed.visitors()
        mixed = blend_probabilities(round_cells, people, arm_names)
        assert (mixed[:, 0] >= 0.25 - 1e-12).all()  # the holdout's share goes to control
        np.testing.assert_allclose(mixed.sum(axis=1), 1.0)
        routed = targeted.policy.probabilities(people, arm_names)
        np.testing.assert_allclose(routed.sum(axis=1), 1.0)
        np.testing.assert_allclose(spread.policy.probabilities(people, arm_names)[0],
                                   [0.0, 0.5, 0.5])
        given = targeted.policy.assign(people, arm_names, np.random.default_rng(0))
        assert given.shape == (len(people),) and set(given) <= {0, 1, 2}
        for leaf, shares in leaf_shares.items():
            assert sum(shares.values()) == pytest.approx(1.0), leaf

    def test_fit_dispatch(self, observed, posterior):
        """pt.fit picks the joint hurdle fit for revenue; pooling="independent" is passed
        through verbatim to a real fit of the two channels apart, config keywords too."""
        from pytyche.bcf.config import HurdleBCFResult

        assert isinstance(posterior, HurdleBCFResult) and posterior.pooling == "joint"
        apart = pt.fit(observed, pooling="independent", seed=1, progress=False, **SMALL)
        assert isinstance(apart, HurdleBCFResult) and apart.pooling == "independent"
        assert apart.config.num_trees_tau == SMALL["num_trees_tau"]
        assert apart.has_decomposition()
        assert apart.p_samples.shape == (N, SMALL["num_samples"], 3)
        assert np.isfinite(apart.sev_samples).all() and (apart.sev_samples > 0).all()
        with pytest.raises(ValueError, match="'joint' or 'independent'"):
            pt.fit(observed, pooling="separate", progress=False, **SMALL)

    def test_fit_binary_and_continuous(self):
        """0/1 outcomes go to the probit fit (at K = 3 too), a float outcome with few zeros to
        the Gaussian one; the choice reads only the outcome values."""
        from pytyche.bcf import select_family

        conv = pt.simulate("clustered_realistic", n_visitors=N, metric="conversion_rate", K=3,
                           seed=1).observed
        assert select_family(conv.outcome()) == "binary"  # real binary fits: test_bcf_fit.py
        cont = pt.simulate("clustered_realistic", n_visitors=N, metric="continuous", K=3,
                           seed=1).observed
        assert select_family(cont.outcome()) == "continuous"
        y = np.array([0.0] * 29 + [2.5] * 71)  # 29% zeros: below the spec's 30% threshold
        assert select_family(y) == "continuous"
        assert select_family(np.array([0.0] * 30 + [2.5] * 70)) == "hurdle"

    def test_all_zero_outcome(self, observed):
        """An all-zero outcome is refused, naming both readings (conversion and revenue)."""
        zero = dataclasses.replace(observed, variants=tuple(
            dataclasses.replace(v, visitors=v.visitors.assign(outcome=0.0), total_revenue=0.0,
                                n_conversions=0)
            for v in observed.variants))
        with pytest.raises(ValueError, match=r"conversions.*revenue"):
            pt.fit(zero)

    def test_observed_stashing(self, posterior):
        """Derived results share the posterior's observed data by identity."""
        derived = posterior.fit_policy_tree(n_bootstrap=0)
        assert derived.observed is posterior.observed
        with pytest.raises(dataclasses.FrozenInstanceError):
            derived.tree = None

    def test_observed_copy_modes(self, observed):
        """view (read-only), deep and ref; anything else names the three modes."""
        from pytyche.bcf.results import stash_observed

        view = stash_observed(observed, "view")
        with pytest.raises(ValueError, match="read-only"):
            view.variants[0].visitors["outcome"].to_numpy()[0] = 1.0
        assert stash_observed(observed, "ref") is observed
        assert stash_observed(observed, "deep") is not observed
        with pytest.raises(ValueError, match=r"view.*deep.*ref"):
            pt.fit(observed, observed_copy="copy")

    def test_capability_methods(self, posterior):
        """The canonical branch on has_credible_segments / has_decomposition."""
        assert posterior.has_decomposition()
        credible = posterior.has_credible_segments()
        assert credible == posterior.has_credible_segments(threshold=0.80)  # the default
        if credible:
            assert posterior.fit_policy_tree().segments
        elif posterior.has_decomposition():
            assert posterior.p_samples.shape == posterior.sev_samples.shape
        else:
            pytest.fail("a hurdle posterior always carries its two-channel decomposition")

    def test_stability_scores(self, posterior):
        """n_bootstrap=0 gives NaN scores; a seeded bootstrap is deterministic and in [0, 1]."""
        none = posterior.fit_policy_tree(n_bootstrap=0)
        assert all(np.isnan(s) for s in none.stability_scores.values())
        a = posterior.fit_policy_tree(n_bootstrap=5, bootstrap_seed=7)
        b = posterior.fit_policy_tree(n_bootstrap=5, bootstrap_seed=7)
        assert a.stability_scores == b.stability_scores
        assert all(0.0 <= s <= 1.0 for s in a.stability_scores.values())
        default = posterior.fit_policy_tree(n_bootstrap=5)  # deterministic by default too
        assert default.stability_scores == posterior.fit_policy_tree(n_bootstrap=5).stability_scores
        assert [s.stability_score for s in a.segments] == [a.stability_scores[s.id]
                                                           for s in a.segments]

    def test_calibration_constructors(self, tmp_path, observed, posterior):
        """from_sweep(name), from_sweep(path), skip(); applies_to and the regime check."""
        from pytyche.calibrate import Calibration

        shipped = pt.Calibration.from_sweep("clustered_realistic_v1")
        path = shipped.save(tmp_path / "sweep.json")
        assert Calibration.from_sweep(str(path)).applies_to(observed) == shipped.applies_to(
            observed)
        assert shipped.metric == "revenue_per_visitor" and shipped.n_treatments == 3
        assert not pt.Calibration.skip().applied
        two_arm = dataclasses.replace(shipped, n_treatments=2, by_size=())
        with pytest.raises(ValueError, match="treatments"):
            posterior.apply_calibration(two_arm)

    def test_skip_warns_on_fit(self, observed):
        """Calibration.skip() on pt.fit warns that intervals are uncorrected."""
        with pytest.warns(pt.UncalibratedWarning, match="skip"):
            post = pt.fit(observed, calibration=pt.Calibration.skip(), progress=False, **SMALL)
        assert not post.is_calibrated

    def test_config_kwargs(self, observed):
        """Config fields as fit keywords (seed 000's num_trees_tau=); a typo lists the fields."""
        from pytyche.bcf.hurdle import fit_hurdle_bcf

        post = fit_hurdle_bcf(observed, progress=False, **SMALL)
        assert post.config.num_trees_tau == SMALL["num_trees_tau"]
        with pytest.raises(TypeError, match="num_trees_tau"):
            fit_hurdle_bcf(observed, num_tres_tau=4)

    def test_config_defaults(self):
        """The spec's forest sizes: 200 μ trees and 50 τ trees."""
        from pytyche.bcf import GPUBCFConfig, compute_num_trees_tau

        assert (GPUBCFConfig().num_trees_mu, GPUBCFConfig().num_trees_tau) == (200, 50)
        assert compute_num_trees_tau(0.9) == 50

    def test_viz(self, finished, tmp_path):
        """The five pt.viz primitives; import forms of the namespace."""
        import pytyche.viz as ptviz
        from pytyche import viz
        from pytyche.viz import plot_cells

        assert viz is ptviz and plot_cells is ptviz.plot_cells
        latest = finished.history[-1]
        tree = latest.analysis.policy_tree
        assert ptviz.plot_cells(latest.cells_shipped, ax=None) is not None
        assert ptviz.plot_policy_tree(tree, ax=None) is not None
        assert ptviz.plot_segment_intervals(latest.analysis.segments, ax=None) is not None
        # The shipped calibration was measured at the default sampler settings, so the tiny
        # fits here stay uncalibrated; attach it directly to draw what a calibrated
        # posterior draws.
        cal = pt.Calibration.from_sweep("clustered_realistic_v1").for_size(N)
        corrected = dataclasses.replace(latest.posterior, calibration=cal)
        assert ptviz.plot_calibration(corrected, reference=None, ax=None) is not None
        out = ptviz.experiment_evolution_gif(finished.history, tmp_path / "evo.gif", fps=1)
        assert out.exists() and out.stat().st_size > 0

    def test_check_setup(self):
        """pt.check_setup() reports CUDA and an install command when there is no GPU."""
        setup = pt.check_setup()
        assert isinstance(setup, pt.SetupReport)
        assert setup.cuda_available or "pip install" in setup.recommended_install

    def test_homes_of_names(self):
        """Every 'Defined as' and contract-table home of the glossary imports."""
        from pytyche.bcf import fit_binary_bcf, fit_continuous_bcf, fit_hurdle_bcf  # noqa: F401
        from pytyche.bcf.config import (  # noqa: F401
            BinaryBCFResult,
            ContinuousBCFResult,
            GPUBCFConfig,
            HurdleBCFResult,
        )
        from pytyche.bcf.hurdle.compose import _fit_independent_hurdle_bcf  # noqa: F401
        from pytyche.bcf.hurdle.model import _fit_joint_hurdle_bcf  # noqa: F401
        from pytyche.calibrate import Calibration, LayeredCalibrationCorrection  # noqa: F401
        from pytyche.compare.variants import compare_variants, recommendation_summary
        from pytyche.contracts import (  # noqa: F401
            AlignedVisitorArray,
            AnalysisResult,
            BetweenRule,
            CalibrationBundle,
            CalibrationRecord,
            CalibrationTruth,
            ClaimLevel,
            ComparisonResult,
            ComparisonRule,
            Decision,
            DecisionThresholds,
            DecompositionSamples,
            DiscoveredSegment,
            EqRule,
            InRule,
            MetricFamily,
            ObservedExperimentData,
            PolicyTreeResult,
            RecommendationSummary,
            SegmentRule,
            VariantData,
            VisitorSchema,
        )
        from pytyche.experiment import (  # noqa: F401
            Cell,
            Experiment,
            Generator,
            GraduationCandidate,
            NextRoundPlan,
            Policy,
            Round,
            Schedule,
            SequentialExperiment,
            ThompsonPolicy,
            TruthComparison,
        )

        assert {d.name for d in Decision} == {"SHIP", "CONTINUE", "STOP"}
        assert compare_variants is pt.compare_variants
        assert recommendation_summary is pt.recommendation_summary


# ---- 000: the sequential loop ----------------------------------------------------------------


class TestSequential:
    def test_loop_surface(self, finished):
        """History, latest, plan, candidates, drops, summary and confidence of the loop."""
        assert finished.latest is finished.history[-1]
        assert finished.current_round_idx == 2
        assert finished.next_recommendation is finished.history[-1].next_recommendation
        plan = finished.next_recommendation
        sustained = finished.graduation_candidates(sustained_rounds=2)
        assert sustained == [c for c in plan.graduation_candidates if c.sustained_rounds >= 2]
        assert finished.has_graduation_candidate() is bool(sustained)  # the rule's bar is 2
        stable = [s for s in plan.segments if s.stability_score >= 0.80]
        assert finished.has_credible_segments(stability_threshold=0.80) is bool(stable)
        assert finished.has_credible_segments(stability_threshold=0.0) is bool(
            [s for s in plan.segments if not np.isnan(s.stability_score)])
        assert set(finished.dropped_treatments()) <= set(TREATMENTS)
        assert "round" in finished.summary
        assert finished.confidence in ("high", "medium", "low")
        with pytest.raises(StopIteration):
            next(finished)

    def test_truth_comparison(self, finished):
        """Sim mode carries a TruthComparison with the six metrics on every round."""
        from pytyche.experiment import TruthComparison

        tc = finished.history[-1].truth_comparison
        assert isinstance(tc, TruthComparison)
        assert tc.rpv_oracle >= tc.rpv_policy - 1e-9
        assert 0.0 <= tc.policy_accuracy <= 1.0 and tc.cate_rmse >= 0

    def test_evaluate_against_truth_order(self, truth, posterior):
        """evaluate_against_truth(posterior, tree, truth), as the loop calls it; the earlier
        (posterior, truth, tree) order gives the same answer."""
        from pytyche.analysis import evaluate_against_truth

        tree = posterior.fit_policy_tree(n_bootstrap=0)
        spec_order = evaluate_against_truth(posterior, tree, truth)
        assert spec_order == evaluate_against_truth(posterior, truth, tree)
        with pytest.raises(TypeError, match="CalibrationTruth"):
            evaluate_against_truth(posterior, tree)

    def test_uncalibrated_warning_and_open_schedule(self):
        """calibration=None warns on the first advance; run_to_completion needs n_rounds."""
        from pytyche.experiment import UncalibratedWarning

        exp = pt.sequential_experiment(generator=generator(), treatments=TREATMENTS,
                                       schedule=pt.GeometricSchedule(N, 2.0),
                                       fit_config=small_config())
        with pytest.raises(ValueError, match="n_rounds"):
            exp.run_to_completion()
        with pytest.warns(UncalibratedWarning):
            exp.advance()

    def test_floors_validated(self):
        """min_control_weight + min_explore_weight must leave room for an Optimized cell."""
        with pytest.raises(ValueError, match="Optimized"):
            pt.sequential_experiment(generator=generator(), treatments=TREATMENTS,
                                     schedule=pt.FixedSchedule(N, 1), min_control_weight=0.5,
                                     min_explore_weight=0.5)

    def test_explicit_signature(self):
        """sequential_experiment has a documented keyword signature (no **options)."""
        import inspect

        params = inspect.signature(pt.sequential_experiment).parameters
        assert not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        for name in ("generator", "schedule", "treatments", "cells", "min_control_weight",
                     "min_explore_weight", "max_segment_depth", "min_segment_share",
                     "calibration", "graduation_rule", "seed", "progress"):
            assert params[name].kind is inspect.Parameter.KEYWORD_ONLY, name
        assert params["min_control_weight"].default == 0.05
        assert params["max_segment_depth"].default == 3
        assert params["min_segment_share"].default == 0.10


# ---- 001: the per-round snapshot ---------------------------------------------------------------


class TestExperimentSnapshot:
    def test_experiment_and_cell_observations(self, finished):
        """Experiment fields, its observed alias, and one CellObservation per shipped cell."""
        from pytyche.experiment import CellObservation

        e = finished.history[0]
        assert e.posterior is e.analysis.posterior and e.observed is e.posterior.observed
        assert [o.id for o in e.cell_observations] == [c.id for c in e.cells_shipped]
        control = next(o for o in e.cell_observations if o.id == "control")
        assert isinstance(control, CellObservation)
        assert control.lift_vs_control == 0.0 and control.lift_vs_control_ci == (0.0, 0.0)
        assert control.lift_vs_other_cells == {}
        assert isinstance(e.summary_one_line(), str)

    def test_compute_cell_observations(self, finished):
        """compute_cell_observations(posterior, cells, cell_assignment) in cells order."""
        from pytyche.contracts import RESERVED_CELL_COLUMN
        from pytyche.experiment import compute_cell_observations

        e = finished.history[0]
        assignment = e.posterior.observed.visitors()[RESERVED_CELL_COLUMN].to_numpy()
        obs = compute_cell_observations(e.posterior, e.cells_shipped, assignment)
        assert [o.id for o in obs] == [c.id for c in e.cells_shipped]
        with pytest.raises(ValueError):
            compute_cell_observations(e.posterior, e.cells_shipped, assignment[:-1])


# ---- 003: the generator core -------------------------------------------------------------------


class TestGeneratorCore:
    @staticmethod
    def features():
        from pytyche.generators.core import FeatureSpec

        return (FeatureSpec("tenure", "continuous"), FeatureSpec("device", "categorical"),
                FeatureSpec("member", "binary"))

    def test_pipeline_stages(self):
        """sample_features → compute_potential_outcomes → assign_and_observe → build_bundle."""
        from pytyche.generators.core import (
            AssignmentConfig,
            CopulaConfig,
            MetricMode,
            SurfaceConfig,
            assign_and_observe,
            build_bundle,
            compute_potential_outcomes,
            sample_features,
            sigmoid_surface,
        )

        rng = np.random.default_rng(0)
        sampler = CopulaConfig(self.features(), np.eye(3))
        X = sample_features(sampler, rng, 400)
        assert list(X.columns) == ["tenure", "device", "member"]
        assert set(X["device"]) <= {"desktop", "mobile", "tablet"}
        lin = SurfaceConfig(lambda X: -2.0 + 0.3 * X["tenure"].to_numpy())
        mode = MetricMode("conversion_rate", p0_surface=sigmoid_surface(lin),
                          p1_surface=sigmoid_surface(lin))
        truth = compute_potential_outcomes(X, mode)
        variants = assign_and_observe(X, truth, AssignmentConfig(), "conversion_rate", rng)
        assert [v.name for v in variants] == ["control", "treatment"]
        bundle = build_bundle(variants, truth, mode, "exp-1")
        assert bundle.observed.n_visitors == 400
        assert bundle.truth.cate_per_visitor.n_visitors == 400

    def test_generate_v2_core_with_cart_revenue(self):
        """V2GeneratorConfig(revenue_model=CartRevenueConfig(...)): cart spend, analytic truth."""
        from pytyche.generators.core import (
            AssignmentConfig,
            CartRevenueConfig,
            MetricMode,
            MixtureConfig,
            SurfaceConfig,
            V2GeneratorConfig,
            generate_v2_core,
        )

        const = lambda v: SurfaceConfig(lambda X: np.full(len(X), v))  # noqa: E731
        mode = MetricMode("revenue_per_visitor", const(0.3), const(0.35), const(40.0),
                          const(48.0), const(0.5), const(0.5))
        mixture = MixtureConfig(self.features(), (0.6, 0.4),
                                ({"tenure": {"loc": 0.0}}, {"tenure": {"loc": 2.0}}))
        cart = CartRevenueConfig(prices=(15.0, 30.0, 55.0), base_probabilities=(0.6, 0.3, 0.2))
        config = V2GeneratorConfig(4_000, mixture, mode, AssignmentConfig(), seed=1,
                                   revenue_model=cart)
        observed, truth = generate_v2_core(config)
        spend = observed.outcome()
        assert (spend[spend > 0] >= 15.0).all()  # a converter's cart is never empty
        expected = np.array([0.3 * cart.expected_basket(np.array([40.0]))[0],
                             0.35 * cart.expected_basket(np.array([48.0]))[0]])
        np.testing.assert_allclose(np.asarray(truth.potential_outcomes.values)[0], expected)
        assert truth.cluster_ids is not None

    def test_surface_algebra(self):
        """add, multiply, sigmoid and threshold surfaces compose callables of X."""
        from pytyche.generators.core import (
            SurfaceConfig,
            add_surfaces,
            multiply_surfaces,
            sigmoid_surface,
            threshold_surface,
        )

        X = pd.DataFrame({"x": [-1.0, 0.0, 2.0]})
        x = SurfaceConfig(lambda X: X["x"].to_numpy())
        np.testing.assert_allclose(add_surfaces(x, x)(X), [-2, 0, 4])
        np.testing.assert_allclose(multiply_surfaces(x, x)(X), [1, 0, 4])
        np.testing.assert_allclose(sigmoid_surface(x)(X)[1], 0.5)
        np.testing.assert_allclose(threshold_surface(x, 0.0, 1.0, -1.0)(X), [-1, -1, 1])


# ---- 004: the sim-mode generator adapter -------------------------------------------------------


class TestSimulatedGenerator:
    def test_generator_contract(self):
        """generator(round_idx, plan) returns (observed, truth) with cell and propensity
        columns, deterministically per (seed, round)."""
        from pytyche.contracts import RESERVED_CELL_COLUMN, propensity_columns
        from pytyche.experiment import cold_start_plan

        gen = generator(seed=4)
        plan = cold_start_plan(TREATMENTS, n_visitors=300)
        observed, truth = gen(0, plan)
        assert truth is not None and observed.treatments == tuple(TREATMENTS)
        frame = observed.visitors()
        assert RESERVED_CELL_COLUMN in frame
        assert set(frame[RESERVED_CELL_COLUMN]) <= {c.id for c in plan.cells}
        assert all(c in frame for c in propensity_columns(3))
        again, _ = gen(0, plan)
        pd.testing.assert_frame_equal(again.visitors(), frame)
        other, _ = gen(1, plan)
        assert not other.visitors().equals(frame)

    def test_bad_template_and_names(self):
        """An unknown template and a wrong number of names are refused."""
        from pytyche.experiment import simulated_experiment_generator

        with pytest.raises(ValueError, match="template"):
            simulated_experiment_generator(template="nope", metric="revenue_per_visitor",
                                           effect_scale=1.0, K=3)
        with pytest.raises(ValueError):
            simulated_experiment_generator(template="clustered_realistic",
                                           metric="revenue_per_visitor", effect_scale=1.0, K=3,
                                           treatment_names=["a", "b"])
