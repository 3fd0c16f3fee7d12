"""The sequential loop without MCMC: a stand-in posterior feeds the real analysis.

`_fit_round` is the documented seam; `FakeFitExperiment` replaces the BCF fit by draws built
from the observed arm means (plus a feature-driven heterogeneity), deterministic per
(seed, round), so the loop's bookkeeping, the store and resume are tested in seconds.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pytyche.contracts import ObservedExperimentData, propensity_columns
from pytyche.data import feature_matrix
from pytyche.errors import StoreError, UncalibratedWarning
from pytyche.experiment import (
    BaselinePolicy,
    Cell,
    ExplicitSchedule,
    FixedSchedule,
    GeometricSchedule,
    SequentialExperiment,
    UniformPolicy,
    build_cumulative,
    simulated_experiment_generator,
)

TREATMENTS = ["control", "treatment_1", "treatment_2"]


@dataclass
class FakePosterior:
    observed: ObservedExperimentData
    treatments: tuple[str, ...]
    metric_family: Any
    draws: np.ndarray
    calibration: Any = None
    p_samples: Any = None
    sev_samples: Any = None
    config: Any = None

    def level_samples(self) -> np.ndarray:
        return self.draws

    def has_decomposition(self) -> bool:
        return False


def fake_posterior(observed: ObservedExperimentData, seed: int, n_draws: int = 40) -> FakePosterior:
    rng = np.random.default_rng(seed)
    y, z = observed.outcome(), observed.treatment_index()
    k = observed.n_treatments
    means = np.array([y[z == a].mean() for a in range(k)])
    ses = np.array([y[z == a].std() / np.sqrt(max(1, (z == a).sum())) for a in range(k)])
    arm_draws = means + ses * rng.standard_normal((n_draws, k))
    x = feature_matrix(observed)[:, 0].astype(np.float64)
    tilt = np.tanh((x - x.mean()) / (x.std() + 1e-9))
    het = 1.0 + 0.3 * np.arange(k)[None, :] * tilt[:, None] / k
    level = arm_draws[None, :, :] * het[:, None, :]
    return FakePosterior(observed, observed.treatments, observed.metric_family,
                         np.maximum(level, 0.0))


class FakeFitExperiment(SequentialExperiment):
    def _fit_round(self, cumulative, round_idx):
        from pytyche.analysis import analyze

        seed = int(np.random.SeedSequence((self._seed, round_idx)).generate_state(1)[0])
        return analyze(fake_posterior(cumulative, seed), max_depth=2,
                       min_segment_share=self._min_segment_share, n_bootstrap=5,
                       bootstrap_seed=self._seed)


def make(store=None, n_rounds=3, seed=0, schedule=None, **kwargs) -> FakeFitExperiment:
    gen = simulated_experiment_generator(template="clustered_realistic",
                                         metric="revenue_per_visitor", effect_scale=0.3, K=3,
                                         seed=seed, treatment_names=TREATMENTS)
    schedule = GeometricSchedule(600, n_rounds=n_rounds) if schedule is None else schedule
    return FakeFitExperiment(generator=gen, schedule=schedule,
                             treatments=TREATMENTS, seed=seed, store=store, **kwargs)


@pytest.fixture(scope="module")
def finished() -> FakeFitExperiment:
    exp = make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UncalibratedWarning)
        for _ in exp:
            pass
    return exp


class TestLoop:
    def test_runs_the_schedule(self, finished):
        """Iteration yields one Experiment per scheduled round, then stops."""
        assert [e.round_idx for e in finished.history] == [0, 1, 2]
        assert finished.current_round_idx == 3
        assert finished.latest is finished.history[-1]
        assert [r.n_visitors for r in finished.rounds] == [600, 1200, 2400]

    def test_round_zero_is_cold_start(self, finished):
        """Round 0 ships Control/Explore at 50/50."""
        cells = finished.history[0].cells_shipped
        assert [(c.id, c.weight) for c in cells] == [("control", 0.5), ("explore", 0.5)]

    def test_later_rounds_have_three_cells_with_floors(self, finished):
        """Engine plans ship Control/Explore/Optimized with each floor respected."""
        for exp in finished.history[1:]:
            ids = [c.id for c in exp.cells_shipped]
            assert ids == ["control", "explore", "optimized"]
            weights = {c.id: c.weight for c in exp.cells_shipped}
            assert weights["control"] >= 0.05 and weights["explore"] >= 0.05
            assert abs(sum(weights.values()) - 1) < 1e-9

    def test_every_visitor_records_cell_round_propensity(self, finished):
        """Every round's rows carry cell, round and propensities summing to at most 1."""
        for rnd in finished.rounds:
            frame = rnd.observed.visitors()
            assert set(frame["cell"]) <= {c.id for c in rnd.plan.cells}
            assert (frame["round"] == rnd.round_idx).all()
            probs = rnd.observed.propensities()
            assert probs is not None and np.allclose(probs.sum(axis=1), 1.0)
            assert set(propensity_columns(3)) <= set(frame.columns)

    def test_cell_observations_match_members(self, finished):
        """Per-cell counts add up to the round size and Control's lift is exactly 0."""
        for exp, rnd in zip(finished.history, finished.rounds, strict=True):
            assert sum(o.n_visitors for o in exp.cell_observations) == rnd.n_visitors
            control = exp.cell_observations[0]
            assert control.id == "control" and control.lift_vs_control == 0.0
            assert control.lift_vs_other_cells == {}

    def test_refits_on_cumulative_data(self, finished):
        """Each round's posterior sees every visitor so far."""
        sizes = [e.posterior.observed.n_visitors for e in finished.history]
        assert sizes == [600, 1800, 4200]

    def test_truth_comparison_each_round(self, finished):
        """Sim mode compares every round with the cumulative truth."""
        for exp in finished.history:
            tc = exp.truth_comparison
            assert tc is not None and tc.rpv_oracle >= tc.rpv_policy - 1e-12

    def test_summary_and_report(self, finished):
        """The prose summary and the JSON report cover every round."""
        assert "3 round(s) completed" in finished.summary
        report = finished.report()
        assert len(report["rounds"]) == 3 and report["confidence"] in ("low", "medium", "high")

    def test_schedule_exhausted_stops(self, finished):
        """advance() past the schedule raises StopIteration and changes nothing."""
        with pytest.raises(StopIteration):
            finished.advance()
        assert finished.current_round_idx == 3


class TestAllocation:
    """What the engine ships: the exported allocation, weights from the policy's value."""

    def test_optimized_cell_ships_the_exported_allocation(self, finished):
        """With nothing dropped the Optimized cell routes by the analysis' own allocation_map
        (floored once at eps/K, never clipped a second time)."""
        from pytyche.analysis import DEFAULT_EPSILON

        checked = 0
        for before, exp in zip(finished.history, finished.history[1:], strict=False):
            policy = exp.cells_shipped[2].policy
            exported = before.analysis.policy_tree.allocation_map
            if before.next_recommendation.dropped_treatments:
                continue
            checked += 1
            assert {k: dict(v) for k, v in policy.allocation_map.items()} == {
                int(k): dict(v) for k, v in exported.items()}
            smallest = min(min(v.values()) for v in policy.allocation_map.values())
            assert smallest >= DEFAULT_EPSILON / 3 - 1e-12
        assert checked >= 1

    def test_cell_weights_follow_the_policy_value(self, finished):
        """Control at its floor; Optimized/Explore split by P(Optimized beats uniform)."""
        from pytyche.experiment.recommendation import cell_weights, optimized_value_probability

        for before, exp in zip(finished.history, finished.history[1:], strict=False):
            plan = before.next_recommendation
            p = optimized_value_probability(before.analysis, plan.cells[2].policy,
                                            plan.treatments)
            assert 0.0 <= p <= 1.0
            expected = cell_weights(p)
            assert [c.weight for c in exp.cells_shipped] == pytest.approx(list(expected))
            assert f"beats uniform) {p:.2f}" in plan.prose_summary

    def test_loop_regret_against_the_truth(self, finished):
        """Round 0 (Control 50%, Explore 50%) loses half the control arm's regret plus half the
        uniform split's; the cumulative regret is the sum over rounds."""
        from pytyche.analysis import allocation_regret, loop_regret

        regrets = loop_regret(finished.rounds, TREATMENTS)
        assert [r.round_idx for r in regrets] == [0, 1, 2]
        m = np.asarray(finished.rounds[0].truth.potential_outcomes.values)
        control_only = np.zeros_like(m)
        control_only[:, 0] = 1.0
        manual = (0.5 * allocation_regret(m, control_only).sum()
                  + 0.5 * (m.max(axis=1) - m.mean(axis=1)).sum())
        assert regrets[0].regret == pytest.approx(manual)
        assert regrets[0].uniform_regret == pytest.approx((m.max(axis=1) - m.mean(axis=1)).sum())
        for r in regrets:
            assert r.regret >= 0 and r.uniform_regret > 0
            assert r.rpv_oracle >= max(r.rpv_shipped, r.rpv_uniform)
        with pytest.raises(ValueError, match="sum to 1"):
            allocation_regret(m, np.full_like(m, 0.5))


class TestStitch:
    def test_positions_map_rounds_into_variant_major_order(self, finished):
        """Round rows placed by the position map reproduce the cumulative frame."""
        rounds = [r.observed for r in finished.rounds]
        cumulative, positions = build_cumulative(rounds, TREATMENTS)
        whole = cumulative.visitors()
        for data, pos in zip(rounds, positions, strict=True):
            local = data.visitors()
            np.testing.assert_array_equal(whole["outcome"].to_numpy()[pos],
                                          local["outcome"].to_numpy())
            assert (whole["treatment"].to_numpy()[pos] == local["treatment"].to_numpy()).all()
        assert sorted(np.concatenate(positions).tolist()) == list(range(cumulative.n_visitors))


class TestGuards:
    def test_warns_uncalibrated_once(self):
        """calibration=None warns on the first round only."""
        exp = make(n_rounds=2)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            exp.advance()
            exp.advance()
        assert sum(issubclass(w.category, UncalibratedWarning) for w in caught) == 1

    def test_skip_warns_like_no_calibration(self):
        """Calibration.skip() labels the run uncalibrated and warns once as well."""
        from pytyche.calibrate import Calibration

        exp = make(n_rounds=2, calibration=Calibration.skip())
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            exp.advance()
            exp.advance()
        assert sum(issubclass(w.category, UncalibratedWarning) for w in caught) == 1

    def test_floors_must_leave_room(self):
        """Floors summing to 1 or more are refused."""
        with pytest.raises(ValueError, match="min_control_weight"):
            make(min_control_weight=0.5, min_explore_weight=0.5)

    def test_open_ended_run_to_completion_refused(self):
        """run_to_completion needs a bounded schedule."""
        gen = simulated_experiment_generator(template="constant", metric="revenue_per_visitor",
                                             effect_scale=0.1, K=3,
                                             treatment_names=TREATMENTS)
        exp = FakeFitExperiment(generator=gen, schedule=FixedSchedule(500),
                                treatments=TREATMENTS)
        with pytest.raises(ValueError, match="n_rounds is None"):
            exp.run_to_completion()

    def test_missing_cell_column_leaves_state(self):
        """Round data without the cell column fails and leaves history untouched."""
        good = simulated_experiment_generator(template="constant",
                                              metric="revenue_per_visitor", effect_scale=0.1, K=3,
                                             treatment_names=TREATMENTS)

        def bad(round_idx, plan):
            observed, truth = good(round_idx, plan)
            variants = tuple(type(v).from_visitors(v.name, v.visitors.drop(columns=["cell"]))
                             for v in observed.variants)
            return ObservedExperimentData(experiment_id=observed.experiment_id,
                                          metric=observed.metric, variants=variants), truth

        exp = FakeFitExperiment(generator=bad, schedule=FixedSchedule(300, 2),
                                treatments=TREATMENTS)
        with pytest.raises(ValueError, match="'cell' column"):
            exp.advance()
        assert exp.history == [] and exp.current_round_idx == 0

    def test_cell_override_needs_control_and_unit_sum(self):
        """advance(cells=...) is checked before any data is drawn."""
        exp = make(n_rounds=1)
        with pytest.raises(ValueError, match="sum to"):
            exp.advance(cells=[Cell("control", BaselinePolicy(), 0.5),
                               Cell("explore", UniformPolicy(), 0.4)])
        with pytest.raises(ValueError, match="'control' cell"):
            exp.advance(cells=[Cell("explore", UniformPolicy(), 1.0)])

    def test_cell_override_is_shipped(self):
        """An override replaces the round's cells, floors aside."""
        exp = make(n_rounds=1)
        cells = [Cell("control", BaselinePolicy(), 0.9), Cell("explore", UniformPolicy(), 0.1)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UncalibratedWarning)
            result = exp.advance(cells=cells)
        assert [c.weight for c in result.cells_shipped] == [0.9, 0.1]

    def test_mode_flip_refused(self):
        """A generator switching from sim to real mode is refused."""
        sim = simulated_experiment_generator(template="constant",
                                             metric="revenue_per_visitor", effect_scale=0.1, K=3,
                                             treatment_names=TREATMENTS)

        def flip(round_idx, plan):
            observed, truth = sim(round_idx, plan)
            return observed, (truth if round_idx == 0 else None)

        exp = FakeFitExperiment(generator=flip, schedule=ExplicitSchedule((300, 300)),
                                treatments=TREATMENTS)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UncalibratedWarning)
            exp.advance()
            with pytest.raises(ValueError, match="sim/real mode"):
                exp.advance()
        assert exp.current_round_idx == 1


class TestStoreResume:
    def test_resume_equals_uninterrupted(self, tmp_path, finished):
        """Two rounds, a fresh process-like resume, round three: identical to one run."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UncalibratedWarning)
            first = make(store=tmp_path / "s")
            first.advance()
            first.advance()
            del first
            gen = simulated_experiment_generator(template="clustered_realistic",
                                                 metric="revenue_per_visitor", effect_scale=0.3,
                                                 K=3, seed=0, treatment_names=TREATMENTS)
            resumed = FakeFitExperiment.resume(tmp_path / "s", generator=gen)
            assert resumed.current_round_idx == 2 and resumed.history[0].restored
            third = resumed.advance()
        ref = finished.history[2]
        assert [c.weight for c in third.cells_shipped] == [c.weight for c in ref.cells_shipped]
        assert third.cell_observations == ref.cell_observations
        pd.testing.assert_frame_equal(third.posterior.observed.visitors(),
                                      ref.posterior.observed.visitors())
        np.testing.assert_array_equal(third.posterior.level_samples(),
                                      ref.posterior.level_samples())
        assert third.next_recommendation.to_dict() == ref.next_recommendation.to_dict()

    def test_existing_store_refused_for_new_experiment(self, tmp_path):
        """A new experiment will not overwrite a store."""
        (tmp_path / "s").mkdir()
        (tmp_path / "s" / "notes.txt").write_text("hi")
        with pytest.raises(StoreError, match="already holds"):
            make(store=tmp_path / "s")

    def test_corrupted_round_detected(self, tmp_path):
        """A damaged round file fails resume with StoreError."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UncalibratedWarning)
            exp = make(store=tmp_path / "s", n_rounds=1)
            exp.advance()
        target = tmp_path / "s" / "round_000" / "data_0.parquet"
        target.write_bytes(target.read_bytes()[:-10] + b"0123456789")
        with pytest.raises(StoreError, match="checksum"):
            FakeFitExperiment.resume(tmp_path / "s", generator=lambda r, p: None)


class TestResumeRefusesWhatItCannotStore:
    """Options a store cannot hold are refused up front, or asked for again on resume."""

    def test_non_json_option_refused_at_creation(self, tmp_path):
        """An analysis option JSON cannot hold fails when the store is created, by name."""
        with pytest.raises(StoreError, match=r"analysis_options \['weights'\]"):
            make(store=tmp_path / "s", analysis_options={"weights": object()})

    def test_custom_rule_must_be_passed_again(self, tmp_path):
        """A custom graduation rule is recorded by name; resume without it is refused."""
        from pytyche.experiment import ExpectedLossRule

        class StrictRule(ExpectedLossRule):
            pass

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UncalibratedWarning)
            make(store=tmp_path / "s", n_rounds=2, graduation_rule=StrictRule()).advance()
        with pytest.raises(StoreError, match="graduation_rule="):
            FakeFitExperiment.resume(tmp_path / "s", generator=lambda r, p: None)
        resumed = FakeFitExperiment.resume(tmp_path / "s", generator=lambda r, p: None,
                                           graduation_rule=StrictRule())
        assert isinstance(resumed._graduation_rule, StrictRule)

    def test_calibration_must_be_passed_again(self, tmp_path):
        """A calibrated experiment does not resume uncalibrated without being told."""
        from pytyche.calibrate import Calibration

        cal = Calibration.from_sweep("clustered_realistic_v1")
        make(store=tmp_path / "s", n_rounds=2, calibration=cal)
        with pytest.raises(StoreError, match="calibration="):
            FakeFitExperiment.resume(tmp_path / "s", generator=lambda r, p: None)
        resumed = FakeFitExperiment.resume(tmp_path / "s", generator=lambda r, p: None,
                                           calibration=cal)
        assert resumed._calibration is cal

    def test_non_json_fit_option_refused_at_creation(self, tmp_path):
        """A fit option JSON cannot hold fails when the store is created, by name."""
        with pytest.raises(StoreError, match=r"fit_options \['callback'\]"):
            make(store=tmp_path / "s", fit_options={"callback": print})

    def test_unstorable_fit_config_refused_at_creation(self, tmp_path):
        """A fit config the store cannot write is refused up front, not dropped on resume."""
        with pytest.raises(StoreError, match="fit_config of type dict"):
            make(store=tmp_path / "s", fit_config={"num_trees_mu": 20})

    def test_custom_schedule_must_be_passed_again(self, tmp_path):
        """A schedule of the user's own type is not stored; resume without it is refused."""

        class TwoRounds:
            n_rounds = 2

            def next_round_size(self, round_idx):
                return 600 if round_idx < 2 else None

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UncalibratedWarning)
            make(store=tmp_path / "s", schedule=TwoRounds()).advance()
        gen = lambda r, p: None  # noqa: E731
        with pytest.raises(StoreError, match=r"custom schedule.*schedule="):
            FakeFitExperiment.resume(tmp_path / "s", generator=gen)
        resumed = FakeFitExperiment.resume(tmp_path / "s", generator=gen, schedule=TwoRounds())
        assert isinstance(resumed._schedule, TwoRounds) and resumed.current_round_idx == 1

    def test_custom_cell_policy_must_be_passed_again(self, tmp_path):
        """Round-0 cells with a policy of the user's own type are not stored; resume without
        cells= is refused, naming the cells."""

        @dataclass(frozen=True)
        class ControlOnly:
            def probabilities(self, visitors, treatments):
                return BaselinePolicy().probabilities(visitors, treatments)

            def describe(self):
                return "control only"

            def to_dict(self):
                return {}

        cells = [Cell("control", ControlOnly(), 0.2), Cell("explore", UniformPolicy(), 0.8)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UncalibratedWarning)
            make(store=tmp_path / "s", cells=cells).advance()
        with pytest.raises(StoreError, match=r"\['control'\] used custom policies.*cells="):
            FakeFitExperiment.resume(tmp_path / "s", generator=lambda r, p: None)
        resumed = FakeFitExperiment.resume(tmp_path / "s", generator=lambda r, p: None,
                                           cells=cells)
        assert resumed.current_round_idx == 1
        assert resumed._rounds[0].plan.cell("control").policy == ControlOnly()

    def test_subclass_of_a_shipped_policy_is_not_read_back_as_the_base(self, tmp_path):
        """A subclass of UniformPolicy is stored as the user's own type, so resume asks for
        it instead of silently routing with a plain UniformPolicy."""

        @dataclass(frozen=True)
        class ControlHeavy(UniformPolicy):
            def to_dict(self):
                return {}

        cells = [Cell("control", BaselinePolicy(), 0.2), Cell("explore", ControlHeavy(), 0.8)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UncalibratedWarning)
            make(store=tmp_path / "s", cells=cells).advance()
        with pytest.raises(StoreError, match=r"\['explore'\] used custom policies.*cells="):
            FakeFitExperiment.resume(tmp_path / "s", generator=lambda r, p: None)
        resumed = FakeFitExperiment.resume(tmp_path / "s", generator=lambda r, p: None,
                                           cells=cells)
        assert type(resumed._rounds[0].plan.cell("explore").policy) is ControlHeavy

    def test_skip_calibration_restored(self, tmp_path):
        """Calibration.skip() carries nothing to restore; resume labels the run the same."""
        from pytyche.calibrate import Calibration

        make(store=tmp_path / "s", n_rounds=2, calibration=Calibration.skip())
        resumed = FakeFitExperiment.resume(tmp_path / "s", generator=lambda r, p: None)
        assert resumed._calibration is not None and not resumed._calibration.applied


class TestShapes:
    def test_two_arms(self):
        """K = 2 runs through the simulated generator and the loop."""
        gen = simulated_experiment_generator(template="reversal", metric="revenue_per_visitor",
                                             effect_scale=0.3, K=2,
                                             treatment_names=["control", "treatment"])
        exp = FakeFitExperiment(generator=gen, schedule=FixedSchedule(400, 2),
                                treatments=["control", "treatment"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UncalibratedWarning)
            exp.advance()
            second = exp.advance()
        frame = exp.rounds[1].observed.visitors()
        assert "propensity" in frame.columns
        assert [c.id for c in second.cells_shipped] == ["control", "explore", "optimized"]

    def test_several_optimized_cells(self, finished):
        """Two Optimized cells in one round are served and scored separately."""
        exp = make(n_rounds=2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UncalibratedWarning)
            exp.advance()
            plan = exp.next_recommendation
            tree_policy = plan.cell("optimized").policy
            cells = [Cell("control", BaselinePolicy(), 0.2), Cell("explore", UniformPolicy(), 0.2),
                     Cell("optimized_a", tree_policy, 0.3),
                     Cell("optimized_b", UniformPolicy(("treatment_1",)), 0.3)]
            result = exp.advance(cells=cells)
        obs = {o.id: o for o in result.cell_observations}
        assert set(obs) == {"control", "explore", "optimized_a", "optimized_b"}
        assert set(obs["optimized_a"].lift_vs_other_cells) == {"explore", "optimized_b"}
        b_rows = exp.rounds[1].observed.visitors().query("cell == 'optimized_b'")
        assert set(b_rows["treatment"]) == {"treatment_1"}
