"""Cells, policies, schedules and the recommendation engine, without any fit."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.tree import DecisionTreeClassifier

from pytyche.contracts import (
    AnalysisResult,
    ClaimLevel,
    ComparisonResult,
    ComparisonRule,
    Decision,
    DecisionThresholds,
    DiscoveredSegment,
    RecommendationSummary,
    VisitorSchema,
)
from pytyche.data import encode_new_visitors
from pytyche.experiment import (
    BaselinePolicy,
    Cell,
    ExpectedLossRule,
    ExplicitSchedule,
    FixedSchedule,
    GeometricSchedule,
    NextRoundPlan,
    ThompsonPolicy,
    TreePolicy,
    TreeRouting,
    UniformPolicy,
    blend_probabilities,
    cold_start_plan,
    draw_treatments,
    epsilon_clip,
    next_fit_num_trees_tau,
    recommend,
    validate_cell_weights,
)
from pytyche.experiment.policies import policy_from_dict, policy_to_dict
from pytyche.experiment.recommendation import cell_weights, find_graduation_candidates
from pytyche.experiment.schedule import schedule_from_dict, schedule_to_dict

T = ["control", "a", "b"]


@pytest.fixture
def visitors() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"x": rng.normal(size=400), "w": rng.uniform(size=400)})


@pytest.fixture
def schema() -> VisitorSchema:
    return VisitorSchema(features=("x", "w"), kinds={"x": "continuous", "w": "continuous"})


class TestCells:
    def test_weights_must_sum_to_one(self):
        """Weights off by more than 1e-6 are refused with the sum in the message."""
        with pytest.raises(ValueError, match=r"sum to 0\.9"):
            validate_cell_weights([Cell("control", BaselinePolicy(), 0.5),
                                   Cell("explore", UniformPolicy(), 0.4)])
        validate_cell_weights([Cell("control", BaselinePolicy(), 0.5),
                               Cell("explore", UniformPolicy(), 0.5 + 5e-7)])

    def test_bad_weight_and_duplicates(self):
        """A weight outside (0, 1] and duplicate ids are refused."""
        with pytest.raises(ValueError, match="weight"):
            Cell("control", BaselinePolicy(), 0.0)
        with pytest.raises(ValueError, match="unique"):
            validate_cell_weights([Cell("c", BaselinePolicy(), 0.5),
                                   Cell("c", BaselinePolicy(), 0.5)])

    def test_blend_is_weighted_mixture(self, visitors):
        """The propensity blend is sum_c w_c P_c and rows sum to 1."""
        cells = [Cell("control", BaselinePolicy(), 0.3), Cell("explore", UniformPolicy(), 0.7)]
        probs = blend_probabilities(cells, visitors, T)
        np.testing.assert_allclose(probs[0], [0.3 + 0.7 / 3, 0.7 / 3, 0.7 / 3])
        np.testing.assert_allclose(probs.sum(axis=1), 1.0)

    def test_analysis_blend_refuses_rows_off_one(self, visitors):
        """The analysis layer's blend (what loop_regret measures under) refuses a mixture
        whose rows do not sum to 1, and agrees with the loop's validated one otherwise."""
        from pytyche.analysis._blend import blend_probabilities as analysis_blend

        short = [Cell("control", BaselinePolicy(), 0.5), Cell("explore", UniformPolicy(), 0.4)]
        with pytest.raises(ValueError, match=r"sum to 0\.9"):
            analysis_blend(short, visitors, T)
        with pytest.raises(ValueError, match="at least one cell"):
            analysis_blend([], visitors, T)
        cells = [Cell("control", BaselinePolicy(), 0.3), Cell("explore", UniformPolicy(), 0.7)]
        np.testing.assert_array_equal(analysis_blend(cells, visitors, T),
                                      blend_probabilities(cells, visitors, T))


class TestPolicies:
    def test_baseline_and_uniform(self, visitors):
        """Baseline gives control only; Uniform spreads over its subset."""
        np.testing.assert_array_equal(BaselinePolicy().probabilities(visitors, T)[0], [1, 0, 0])
        np.testing.assert_allclose(UniformPolicy(("control", "b")).probabilities(visitors, T)[0],
                                   [0.5, 0, 0.5])

    def test_unknown_treatment_refused(self, visitors):
        """A policy naming a treatment outside the list fails clearly."""
        with pytest.raises(ValueError, match="outside"):
            UniformPolicy(("zzz",)).probabilities(visitors, T)

    def test_epsilon_clip_floor(self):
        """Every treatment keeps at least eps/K and shares sum to 1."""
        out = epsilon_clip({"control": 1.0, "a": 0.0, "b": 0.0}, 0.02)
        assert min(out.values()) >= 0.02 / 3 - 1e-15
        assert math.isclose(sum(out.values()), 1.0)
        assert ThompsonPolicy({"control": 1.0, "a": 0.0}).allocation["a"] > 0

    def test_epsilon_clip_is_a_floor_applied_once(self):
        """The clip only lifts shares below eps/K (the others keep their proportions), so an
        allocation that honours the floor is shipped unchanged and clipping twice is once."""
        fine = {"control": 0.5, "a": 0.3, "b": 0.2}
        assert epsilon_clip(fine) == fine
        once = epsilon_clip({"control": 0.98, "a": 0.02, "b": 0.0})
        assert once["b"] == pytest.approx(0.02 / 3)
        assert once["control"] / once["a"] == pytest.approx(0.98 / 0.02)
        assert epsilon_clip(once) == once
        assert ThompsonPolicy(once).allocation == once

    def test_thompson_policy_round_trip_keeps_its_floor(self, visitors):
        """The JSON form keeps the policy's epsilon (not 0.0), and rebuilding it ships the
        same shares."""
        policy = ThompsonPolicy({"control": 0.9, "a": 0.1, "b": 0.0}, epsilon=0.06)
        data = json.loads(json.dumps(policy_to_dict(policy)))
        assert data["epsilon"] == 0.06
        again = policy_from_dict(data)
        assert again.epsilon == 0.06
        assert again.allocation == policy.allocation
        np.testing.assert_array_equal(again.probabilities(visitors, T),
                                      policy.probabilities(visitors, T))

    def test_draw_frequencies(self):
        """Drawn treatments follow the probabilities."""
        probs = np.tile([0.2, 0.3, 0.5], (20000, 1))
        z = draw_treatments(probs, np.random.default_rng(1))
        np.testing.assert_allclose(np.bincount(z, minlength=3) / 20000, [0.2, 0.3, 0.5],
                                   atol=0.015)

    def test_tree_routing_matches_sklearn(self, visitors, schema):
        """TreeRouting.apply gives sklearn's leaves; TreePolicy uses the leaf shares."""
        X = encode_new_visitors(schema, visitors)
        y = (X[:, 0] > 0.1).astype(int) + (X[:, 1] > 0.5).astype(int)
        tree = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y)
        routing = TreeRouting.from_sklearn(tree)
        np.testing.assert_array_equal(routing.apply(X), tree.apply(X))
        leaves = sorted(set(tree.apply(X)))
        alloc = {leaf: {"control": 0.2, "a": 0.8 if i % 2 else 0.0, "b": 0.0 if i % 2 else 0.8}
                 for i, leaf in enumerate(leaves)}
        policy = TreePolicy(tree, alloc, schema=schema)
        probs = policy.probabilities(visitors, T)
        first = tree.apply(X[:1])[0]
        np.testing.assert_allclose(probs[0], [alloc[first][t] for t in T])
        again = policy_from_dict(json.loads(json.dumps(policy_to_dict(policy))))
        np.testing.assert_array_equal(again.probabilities(visitors, T), probs)

    def test_tree_policy_needs_all_leaves(self, visitors, schema):
        """An allocation map missing a leaf is refused."""
        X = encode_new_visitors(schema, visitors)
        tree = DecisionTreeClassifier(max_depth=1).fit(X, X[:, 0] > 0)
        with pytest.raises(ValueError, match="lacks leaves"):
            TreePolicy(tree, {1: {"control": 1.0}}, schema=schema)


class TestSchedules:
    def test_geometric(self):
        """Geometric batches grow by the factor and stop after n_rounds."""
        s = GeometricSchedule(1000, growth=2.0, n_rounds=3)
        assert [s.next_round_size(r) for r in range(4)] == [1000, 2000, 4000, None]
        assert GeometricSchedule(10).next_round_size(50) is not None

    def test_fixed_explicit_and_roundtrip(self):
        """Fixed and explicit schedules, and their JSON form."""
        assert FixedSchedule(5, 2).next_round_size(1) == 5
        assert FixedSchedule(5, 2).next_round_size(2) is None
        e = ExplicitSchedule((3, 4))
        assert e.n_rounds == 2 and e.next_round_size(1) == 4
        for s in (GeometricSchedule(7, 1.5, 4), FixedSchedule(9), e):
            assert schedule_from_dict(schedule_to_dict(s)) == s

    def test_bad_schedule(self):
        """Non-positive sizes and shrinking growth are refused."""
        with pytest.raises(ValueError, match="growth"):
            GeometricSchedule(10, growth=0.5)
        with pytest.raises(ValueError, match="positive"):
            ExplicitSchedule((10, 0))


def _summary(treatment, *, loss, p_pos, p_better, p_harm=0.0, segment_id=None):
    return RecommendationSummary(
        treatment=treatment, control="control", decision=Decision.CONTINUE, expected_loss=loss,
        p_positive=p_pos, p_better=p_better, p_harmful=p_harm,
        thresholds=DecisionThresholds(), rationale="test", segment_id=segment_id)


def _analysis(stability=0.9, *, p_harm_b=0.0, winning=True, threshold=0.0):
    seg_left = DiscoveredSegment(id=1, rule=ComparisonRule(feature="x", op="<=", value=threshold),
                                 gate_estimate=0.5, gate_ci=(0.2, 0.8), stability_score=stability,
                                 population_share=0.5,
                                 arm_best_probabilities={"control": 0.05, "a": 0.9, "b": 0.05})
    seg_right = DiscoveredSegment(id=2, rule=ComparisonRule(feature="x", op=">", value=threshold),
                                  gate_estimate=0.0, gate_ci=(-0.3, 0.3), stability_score=0.5,
                                  population_share=0.5,
                                  arm_best_probabilities={"control": 0.4, "a": 0.3, "b": 0.3})
    strong = dict(loss=0.001, p_pos=0.99, p_better=0.9) if winning else dict(
        loss=0.1, p_pos=0.5, p_better=0.2)
    comps = []
    for seg in (1, 2):
        for t in ("a", "b"):
            s = _summary(t, segment_id=seg, **(strong if (seg, t) == (1, "a") else
                                              dict(loss=0.1, p_pos=0.5, p_better=0.2)))
            comps.append(ComparisonResult(treatment=t, control="control", effect=0.1,
                                          effect_ci=(0.0, 0.2), relative_effect=0.1, level=0.8,
                                          p_best=0.3, recommendation=s, segment_id=seg))

    class Posterior:
        class observed:
            n_visitors = 1000

            @staticmethod
            def visitors():
                return pd.DataFrame({"x": np.linspace(-1, 1, 1000)})

    return AnalysisResult(
        posterior=Posterior(), cate_per_visitor=pd.DataFrame(), segments=(seg_left, seg_right),
        comparisons=tuple(comps),
        recommendations={"a": _summary("a", loss=0.01, p_pos=0.8, p_better=0.5),
                         "b": _summary("b", loss=0.2, p_pos=0.02, p_better=0.0,
                                       p_harm=p_harm_b)},
        claim_level=ClaimLevel.UNCALIBRATED, calibrated=False)


class _Hist:
    def __init__(self, plan):
        self.next_recommendation = plan


class TestRecommendation:
    def test_rule_defaults(self):
        """ExpectedLossRule carries the spec defaults."""
        rule = ExpectedLossRule()
        assert (rule.tolerance, rule.p_positive, rule.p_better, rule.sustained_rounds,
                rule.min_stability) == (0.005, 0.95, 0.80, 2, 0.80)
        assert rule.fires(_summary("a", loss=0.001, p_pos=0.99, p_better=0.9))
        assert not rule.fires(_summary("a", loss=0.006, p_pos=0.99, p_better=0.9))

    def test_cold_start(self):
        """Round 0 is Control/Explore 50/50 with Explore uniform over everything."""
        plan = cold_start_plan(T, n_visitors=100)
        assert [(c.id, c.weight) for c in plan.cells] == [("control", 0.5), ("explore", 0.5)]
        assert plan.cells[1].policy.over == tuple(T)

    def test_cell_weight_floors(self):
        """Control sits at its floor; Optimized and Explore share the rest by P(Optimized
        beats uniform), each at least the Explore floor."""
        assert cell_weights(1.0) == pytest.approx((0.05, 0.05, 0.9))
        c, e, o = cell_weights(1.0, min_control_weight=0.2, min_explore_weight=0.1)
        assert (c, e) == (0.2, 0.1) and o == pytest.approx(0.7)
        assert cell_weights(0.0) == pytest.approx((0.05, 0.9, 0.05))
        assert cell_weights(0.6) == pytest.approx((0.05, 0.38, 0.57))
        assert cell_weights(float("nan")) == pytest.approx((0.05, 0.475, 0.475))
        with pytest.raises(ValueError, match="room"):
            cell_weights(0.5, min_control_weight=0.6, min_explore_weight=0.4)

    def test_plan_drops_harmful_and_lists_candidates(self):
        """A treatment with P(harm) above 0.9 is dropped; a stable winning segment is listed."""
        plan = recommend(_analysis(p_harm_b=0.95), treatments=T)
        assert plan.treatments == ("control", "a") and plan.dropped_treatments == ("b",)
        assert [c.id for c in plan.cells] == ["control", "explore", "optimized"]
        assert plan.cells[1].policy.over == ("control", "a")
        assert [(g.treatment, g.segment.id, g.sustained_rounds)
                for g in plan.graduation_candidates] == [("a", 1, 1)]
        assert "Dropped" in plan.prose_summary

    def test_graduation_sustained_and_stability_gate(self):
        """The streak grows over overlapping segments; unstable segments never qualify."""
        first = recommend(_analysis(), treatments=T)
        second = recommend(_analysis(threshold=0.05), history=[_Hist(first)], treatments=T)
        assert [g.sustained_rounds for g in second.graduation_candidates] == [2]
        assert find_graduation_candidates(_analysis(stability=0.79)) == ()
        assert find_graduation_candidates(_analysis(stability=float("nan"))) == ()

    def test_drops_follow_the_evidence(self):
        """A drop lasts while P(harm) stays above the threshold; when later evidence no longer
        shows harm the treatment is reinstated, and the plan says so."""
        first = recommend(_analysis(p_harm_b=0.95), treatments=T)
        assert first.dropped_treatments == ("b",)
        still = recommend(_analysis(p_harm_b=0.95), history=[_Hist(first)], treatments=T)
        assert still.dropped_treatments == ("b",) and "Still dropped: b" in still.rationale
        back = recommend(_analysis(), history=[_Hist(first)], treatments=T)
        assert back.dropped_treatments == () and "Reinstated" in back.rationale

    def test_plan_json_roundtrip(self):
        """A plan survives its JSON form (thompson fallback without a tree)."""
        plan = recommend(_analysis(), treatments=T)
        again = NextRoundPlan.from_dict(json.loads(json.dumps(plan.to_dict())))
        assert again.to_dict() == plan.to_dict()

    def test_plan_segments_share_the_policy_files_serde(self):
        """Plans write segments as policy files do (one segment_to_dict, NaN as null) and read
        segments written by earlier stores (NaN numbers, no n_visitors)."""
        import dataclasses

        from pytyche.analysis._export import segment_to_dict

        plan = recommend(_analysis(), treatments=T)
        blank = dataclasses.replace(plan.segments[0], gate_estimate=math.nan,
                                    stability_score=math.nan)
        plan = dataclasses.replace(plan, segments=(blank, *plan.segments[1:]))
        data = json.loads(json.dumps(plan.to_dict(), allow_nan=False))
        assert data["segments"][0] == segment_to_dict(blank)
        assert data["segments"][0]["gate_estimate"] is None
        old = {**data["segments"][0], "gate_estimate": math.nan}
        del old["n_visitors"]
        again = NextRoundPlan.from_dict({**data, "segments": [old]})
        assert math.isnan(again.segments[0].gate_estimate) and again.segments[0].n_visitors == 0

    def test_num_trees_tau(self):
        """More heterogeneity means more tau trees, within the base..n/100 bounds."""
        class Tree:
            segments = _analysis().segments

        flat = next_fit_num_trees_tau(None, None, 100_000, base=50)
        rich = next_fit_num_trees_tau(None, Tree(), 100_000, base=50)
        assert flat == 50 and 50 < rich <= 72
        assert next_fit_num_trees_tau(None, Tree(), 1000, base=50) == 50


def test_import_is_light():
    """`import pytyche.experiment` loads neither jax, bartz nor matplotlib."""
    import subprocess
    import sys

    code = ("import sys, pytyche.experiment\n"
            "print([m for m in ('jax', 'bartz', 'matplotlib') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
