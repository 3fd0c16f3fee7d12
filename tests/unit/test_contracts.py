"""Validation of the contract types in ``pytyche.contracts``."""

from __future__ import annotations

import dataclasses
import json
import math

import duckdb
import numpy as np
import pandas as pd
import pytest

from pytyche.contracts import (
    METRIC_FAMILIES,
    RESERVED_COLUMNS,
    AlignedVisitorArray,
    AllOf,
    AnalysisResult,
    AnyOf,
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
    VariantData,
    VisitorSchema,
    metric_family_of,
    passes_ship_gate,
    propensity_columns,
    rule_from_dict,
    rule_to_dict,
)
from pytyche.errors import AlignmentViolation, SchemaViolation


def variant(name: str, n: int = 4, *, outcome: tuple[float, ...] | None = None) -> VariantData:
    """A variant of ``n`` visitors with one continuous feature."""
    y = np.asarray(outcome if outcome is not None else [0.0, 2.5] * (n // 2), dtype=float)
    frame = pd.DataFrame({"x": np.arange(len(y), dtype=float), "outcome": y})
    return VariantData.from_visitors(name, frame)


def observed(n_arms: int = 2, **kwargs) -> ObservedExperimentData:
    """Observed data with arms A, B, ... of four visitors each."""
    variants = tuple(variant(chr(ord("A") + k)) for k in range(n_arms))
    args = {"experiment_id": "e", "metric": "revenue_per_visitor", "variants": variants}
    return ObservedExperimentData(**{**args, **kwargs})


def thresholds() -> DecisionThresholds:
    """Default decision thresholds."""
    return DecisionThresholds()


def recommendation(**kwargs) -> RecommendationSummary:
    """A valid SHIP recommendation."""
    args = {"treatment": "B", "control": "A", "decision": Decision.SHIP, "expected_loss": 0.001,
            "p_positive": 0.97, "p_better": 0.9, "p_harmful": 0.03,
            "thresholds": thresholds(), "rationale": "all SHIP gates pass"}
    return RecommendationSummary(**{**args, **kwargs})


def segment(**kwargs) -> DiscoveredSegment:
    """A valid discovered segment."""
    args = {"id": 1, "rule": EqRule(feature="device", value="web"), "gate_estimate": 0.4,
            "gate_ci": (0.1, 0.7), "stability_score": 0.8, "population_share": 0.3,
            "arm_best_probabilities": {"A": 0.2, "B": 0.8}, "n_visitors": 30}
    return DiscoveredSegment(**{**args, **kwargs})


class TestEnums:
    def test_decision_values(self):
        """Decisions are the three spec strings."""
        assert [d.value for d in Decision] == ["SHIP", "CONTINUE", "STOP"]

    def test_metric_families(self):
        """Each canonical metric id maps to its family."""
        assert metric_family_of("conversion_rate") is MetricFamily.BINARY
        assert metric_family_of("continuous") is MetricFamily.CONTINUOUS
        assert metric_family_of("revenue_per_visitor") is MetricFamily.HURDLE
        assert set(METRIC_FAMILIES) == {"conversion_rate", "continuous", "revenue_per_visitor"}

    def test_unknown_metric(self):
        """An unknown metric id names the known ones."""
        with pytest.raises(ValueError, match=r"'gmv' is not a known metric.*conversion_rate"):
            metric_family_of("gmv")

    def test_claim_level(self):
        """Claim levels round-trip through their string values."""
        assert ClaimLevel("calibrated") is ClaimLevel.CALIBRATED


class TestPropensityColumns:
    def test_names(self):
        """Two arms use 'propensity'; more use propensity_1 .. propensity_{K-1}."""
        assert propensity_columns(2) == ("propensity",)
        assert propensity_columns(4) == ("propensity_1", "propensity_2", "propensity_3")

    def test_too_few(self):
        """Fewer than two treatments is refused."""
        with pytest.raises(ValueError, match=r"n_treatments=1"):
            propensity_columns(1)


class TestVisitorSchema:
    def schema(self) -> VisitorSchema:
        """A schema with one feature of each kind."""
        return VisitorSchema(features=("age", "device", "member"),
                             kinds={"age": "continuous", "device": "categorical",
                                    "member": "binary"},
                             categories={"device": ("app", "web")}, outcome="spend",
                             treatment="arm", visitor_id="id")

    def test_duplicate_features(self):
        """Duplicate feature names are refused."""
        with pytest.raises(SchemaViolation, match=r"duplicate feature names"):
            VisitorSchema(features=("a", "a"), kinds={"a": "continuous"})

    @pytest.mark.parametrize("name", [*sorted(RESERVED_COLUMNS), "propensity_1"])
    def test_reserved_feature(self, name):
        """A feature named like a reserved column is refused."""
        with pytest.raises(SchemaViolation, match=rf"feature '{name}' uses a reserved"):
            VisitorSchema(features=(name,), kinds={name: "continuous"})

    def test_bad_kind(self):
        """An unknown kind is refused, naming the feature."""
        with pytest.raises(SchemaViolation, match=r"feature 'a' has kind 'ordinal'"):
            VisitorSchema(features=("a",), kinds={"a": "ordinal"})

    def test_categorical_needs_levels(self):
        """A categorical feature without levels is refused."""
        with pytest.raises(SchemaViolation, match=r"'a' needs its levels"):
            VisitorSchema(features=("a",), kinds={"a": "categorical"})

    def test_unknown_kinds_key(self):
        """A kind for a feature not listed is refused."""
        with pytest.raises(SchemaViolation, match=r"unknown features \['b'\]"):
            VisitorSchema(features=("a",), kinds={"a": "continuous", "b": "binary"})

    def test_dict_round_trip(self):
        """to_dict / from_dict (through JSON) gives an equal schema."""
        schema = self.schema()
        assert VisitorSchema.from_dict(json.loads(json.dumps(schema.to_dict()))) == schema


class TestVariantData:
    def test_from_visitors_counts(self):
        """from_visitors counts positive outcomes and sums them."""
        v = variant("A", outcome=(0.0, 3.0, 0.0, 1.5))
        assert (v.n_visitors, v.n_conversions, v.total_revenue) == (4, 2, 4.5)

    def test_empty_name(self):
        """An empty name is refused."""
        with pytest.raises(SchemaViolation, match=r"name=''"):
            VariantData.from_visitors("", pd.DataFrame({"outcome": [1.0]}))

    def test_outcome_not_numbers(self):
        """Text in the outcome column is a SchemaViolation naming the variant, not numpy's."""
        with pytest.raises(SchemaViolation, match=r"VariantData 'A': the outcome column"):
            VariantData.from_visitors("A", pd.DataFrame({"outcome": [1.0, "twelve"]}))

    def test_not_a_frame_from_visitors(self):
        """from_visitors with a list of rows is refused as not a DataFrame."""
        with pytest.raises(SchemaViolation, match=r"must be a pandas DataFrame"):
            VariantData.from_visitors("A", [1.0, 2.0])

    def test_not_a_frame(self):
        """Visitors must be a DataFrame."""
        with pytest.raises(SchemaViolation, match=r"must be a pandas DataFrame"):
            VariantData(name="A", visitors=[1, 2], n_visitors=2, n_conversions=0,
                        total_revenue=0.0)

    def test_count_mismatch(self):
        """n_visitors must equal the row count."""
        with pytest.raises(AlignmentViolation, match=r"n_visitors=3 but visitors has 1 rows"):
            VariantData(name="A", visitors=pd.DataFrame({"outcome": [1.0]}), n_visitors=3,
                        n_conversions=0, total_revenue=1.0)

    def test_conversions_out_of_range(self):
        """n_conversions must lie in [0, n_visitors]."""
        with pytest.raises(SchemaViolation, match=r"n_conversions=5"):
            VariantData(name="A", visitors=pd.DataFrame({"outcome": [1.0]}), n_visitors=1,
                        n_conversions=5, total_revenue=1.0)

    def test_needs_outcome_column(self):
        """Visitors without the reserved outcome column are refused."""
        with pytest.raises(SchemaViolation, match=r"lack the reserved 'outcome'"):
            VariantData.from_visitors("A", pd.DataFrame({"spend": [1.0]}))


class TestObservedExperimentData:
    def test_views(self):
        """Derived views follow variant order, control first."""
        data = observed(3)
        assert data.treatments == ("A", "B", "C") and data.control == "A"
        assert data.n_visitors == 12
        np.testing.assert_array_equal(data.treatment_index(), np.repeat([0, 1, 2], 4))
        assert data.visitors()["treatment"].tolist() == ["A"] * 4 + ["B"] * 4 + ["C"] * 4
        assert data.metric_family is MetricFamily.HURDLE

    def test_list_variants_become_tuple(self):
        """A list of variants is stored as a tuple."""
        assert isinstance(observed(variants=[variant("A"), variant("B")]).variants, tuple)

    def test_one_treatment(self):
        """A single treatment is refused."""
        with pytest.raises(SchemaViolation, match=r"at least 2"):
            observed(variants=(variant("A"),))

    def test_duplicate_names(self):
        """Duplicate treatment names are refused."""
        with pytest.raises(SchemaViolation, match=r"duplicate treatment names"):
            observed(variants=(variant("A"), variant("A")))

    def test_empty_arm(self):
        """A treatment without visitors is refused."""
        empty = VariantData.from_visitors("B", pd.DataFrame({"x": [], "outcome": []}))
        with pytest.raises(SchemaViolation, match=r"'B' has no visitors"):
            observed(variants=(variant("A"), empty))

    def test_unknown_metric(self):
        """An unknown metric id is refused."""
        with pytest.raises(ValueError, match=r"'gmv'"):
            observed(metric="gmv")

    def test_schema_features_present(self):
        """A schema naming a column the visitors lack is refused."""
        schema = VisitorSchema(features=("z",), kinds={"z": "continuous"})
        with pytest.raises(SchemaViolation, match=r"lack feature columns \['z'\]"):
            observed(schema=schema)

    def test_propensities(self):
        """Propensity columns give per-arm probabilities; without them, None."""
        assert observed().propensities() is None
        variants = tuple(
            VariantData.from_visitors(n, variant(n).visitors.assign(propensity=0.25))
            for n in "AB"
        )
        np.testing.assert_allclose(observed(variants=variants).propensities()[0], [0.75, 0.25])

    def test_bad_propensities(self):
        """Propensities that sum above 1 are refused."""
        variants = tuple(
            VariantData.from_visitors(n, variant(n).visitors.assign(propensity_1=0.7,
                                                                     propensity_2=0.7))
            for n in "ABC"
        )
        with pytest.raises(SchemaViolation, match=r"sum is at most 1"):
            observed(variants=variants).propensities()

    def test_column_missing(self):
        """column() names the treatments lacking the column."""
        with pytest.raises(SchemaViolation, match=r"'cell' is missing"):
            observed().column("cell")


class TestAlignedVisitorArray:
    def test_length(self):
        """The first axis must have one entry per visitor."""
        assert len(AlignedVisitorArray(values=np.zeros((3, 2)), n_visitors=3)) == 3
        with pytest.raises(AlignmentViolation, match=r"shape \(2,\) but n_visitors=3"):
            AlignedVisitorArray(values=np.zeros(2), n_visitors=3)


class TestCalibrationTruth:
    def arr(self, n: int = 8) -> AlignedVisitorArray:
        """A per-visitor array of zeros."""
        return AlignedVisitorArray(values=np.zeros(n), n_visitors=n)

    def test_paired(self):
        """K = 2 truth exposes a one-column CATE matrix."""
        truth = CalibrationTruth(effect=0.1, metric_id="continuous",
                                 metric_family=MetricFamily.CONTINUOUS, effect_components={},
                                 cate_per_visitor=self.arr())
        assert truth.cate_matrix().shape == (8, 1) and truth.n_treatments == 2

    def test_multi(self):
        """K >= 3 truth stacks its contrast CATEs."""
        truth = CalibrationTruth(effect=0.1, metric_id="continuous",
                                 metric_family=MetricFamily.CONTINUOUS, effect_components={},
                                 contrast_cate_per_visitor=[self.arr(), self.arr()],
                                 p_per_visitor=[self.arr()] * 3)
        assert truth.cate_matrix().shape == (8, 2) and truth.n_treatments == 3

    def test_family_mismatch(self):
        """metric_family must match metric_id."""
        with pytest.raises(ValueError, match=r"does not match"):
            CalibrationTruth(effect=0.0, metric_id="continuous",
                             metric_family=MetricFamily.BINARY, effect_components={})

    def test_lengths_differ(self):
        """Per-visitor arrays of different lengths are refused."""
        with pytest.raises(AlignmentViolation, match=r"different lengths"):
            CalibrationTruth(effect=0.0, metric_id="continuous",
                             metric_family=MetricFamily.CONTINUOUS, effect_components={},
                             cate_per_visitor=self.arr(8), p0_per_visitor=self.arr(5))

    def test_paired_and_multi(self):
        """Setting both the K = 2 and the K >= 3 fields is refused."""
        with pytest.raises(ValueError, match=r"not both"):
            CalibrationTruth(effect=0.0, metric_id="continuous",
                             metric_family=MetricFamily.CONTINUOUS, effect_components={},
                             cate_per_visitor=self.arr(),
                             contrast_cate_per_visitor=[self.arr()])

    def test_p_per_visitor_count(self):
        """p_per_visitor needs K entries."""
        with pytest.raises(AlignmentViolation, match=r"needs K entries"):
            CalibrationTruth(effect=0.0, metric_id="continuous",
                             metric_family=MetricFamily.CONTINUOUS, effect_components={},
                             contrast_cate_per_visitor=[self.arr()],
                             p_per_visitor=[self.arr()])


class TestCalibrationBundle:
    def test_unpacks(self):
        """A bundle unpacks as (observed, truth)."""
        truth = CalibrationTruth(effect=0.0, metric_id="revenue_per_visitor",
                                 metric_family=MetricFamily.HURDLE, effect_components={},
                                 cate_per_visitor=AlignedVisitorArray(values=np.zeros(8),
                                                                      n_visitors=8))
        data, back = CalibrationBundle(observed=observed(), truth=truth)
        assert back is truth and data.n_visitors == 8

    def test_misaligned(self):
        """Truth covering another number of visitors is refused."""
        truth = CalibrationTruth(effect=0.0, metric_id="continuous",
                                 metric_family=MetricFamily.CONTINUOUS, effect_components={},
                                 cate_per_visitor=AlignedVisitorArray(values=np.zeros(5),
                                                                      n_visitors=5))
        with pytest.raises(AlignmentViolation, match=r"truth covers 5 visitors"):
            CalibrationBundle(observed=observed(), truth=truth)


@pytest.fixture
def rule_frame() -> pd.DataFrame:
    """Visitors with awkward names and values: a space in a column, a quote in a string."""
    return pd.DataFrame({
        "plan type": ["basic", "pro", "O'Brien", "pro", "basic", "team"],
        "age": [18, 25, 33, 47, 52, 61],
        "score": [0.1, -1.5, 2.25, 0.0, 3.5, -0.2],
        "member": [True, False, True, True, False, False],
    })


RULES = [
    EqRule(feature="plan type", value="O'Brien"),
    EqRule(feature="age", value=np.int64(33)),
    EqRule(feature="member", value=True),
    InRule(feature="plan type", values=("pro", "O'Brien")),
    InRule(feature="age", values=(18, 61)),
    ComparisonRule(feature="age", op="<", value=33),
    ComparisonRule(feature="age", op="<=", value=33),
    ComparisonRule(feature="score", op=">", value=0.0),
    ComparisonRule(feature="score", op=">=", value=0.0),
    BetweenRule(feature="score", low=-0.2, high=2.25),
    AllOf(rules=(InRule(feature="plan type", values=("pro", "basic")),
                 ComparisonRule(feature="age", op=">", value=20.0))),
    AnyOf(rules=(EqRule(feature="plan type", value="team"),
                 BetweenRule(feature="age", low=20, high=30))),
    EqRule(feature="member", value=False) | (ComparisonRule(feature="age", op=">=", value=50)
                                             & EqRule(feature="plan type", value="basic")),
    AllOf(rules=()),
]


class TestSegmentRules:
    @pytest.mark.parametrize("rule", RULES, ids=lambda r: r.describe())
    def test_query_matches_mask(self, rule, rule_frame):
        """df.query(rule.to_query()) selects exactly the rows of rule.mask(df)."""
        selected = rule_frame.query(rule.to_query()).index.to_numpy()
        np.testing.assert_array_equal(selected, np.flatnonzero(rule.mask(rule_frame)))

    @pytest.mark.parametrize("rule", RULES, ids=lambda r: r.describe())
    def test_sql_matches_mask(self, rule, rule_frame):
        """DuckDB's WHERE rule.to_sql() selects exactly the rows of rule.mask(df)."""
        con = duckdb.connect()
        con.register("visitors", rule_frame.assign(row_id=np.arange(len(rule_frame))))
        rows = con.execute(
            f"SELECT row_id FROM visitors WHERE {rule.to_sql()} ORDER BY row_id"
        ).fetchall()
        con.close()
        np.testing.assert_array_equal([r[0] for r in rows],
                                      np.flatnonzero(rule.mask(rule_frame)))

    @pytest.mark.parametrize("rule", RULES, ids=lambda r: r.describe())
    def test_dict_round_trip(self, rule):
        """rule_from_dict(rule_to_dict(rule)) equals the rule, also through JSON."""
        back = rule_from_dict(json.loads(json.dumps(rule_to_dict(rule))))
        assert rule_to_dict(back) == rule_to_dict(rule)
        assert back.describe() == rule.describe()

    def test_operators_flatten(self):
        """a & b & c is one AllOf of three rules; a | b one AnyOf."""
        a, b, c = (EqRule(feature=f, value=1) for f in "abc")
        assert len((a & b & c).rules) == 3
        assert isinstance(a | b, AnyOf)

    def test_unknown_feature(self):
        """Evaluating a rule on a frame without its feature is refused."""
        with pytest.raises(SchemaViolation, match=r"feature 'nope'"):
            EqRule(feature="nope", value=1).mask(pd.DataFrame({"a": [1]}))

    @pytest.mark.parametrize(
        ("build", "match"),
        [
            (lambda: EqRule(feature="", value=1), "EqRule: feature"),
            (lambda: InRule(feature="a", values=()), "values is empty"),
            (lambda: ComparisonRule(feature="a", op="==", value=1.0), "op='=='"),
            (lambda: ComparisonRule(feature="a", op="<", value=math.inf), "must be finite"),
            (lambda: BetweenRule(feature="a", low=2.0, high=1.0), "low=2.0 must be below"),
            (lambda: AnyOf(rules=()), "at least one rule"),
        ],
    )
    def test_bad_rules(self, build, match):
        """Malformed rules are refused with a message naming the field."""
        with pytest.raises(ValueError, match=match):
            build()

    def test_unknown_dict_type(self):
        """rule_from_dict refuses an unknown type, listing the known ones."""
        with pytest.raises(ValueError, match=r"unknown rule type 'xor'"):
            rule_from_dict({"type": "xor"})

    def test_to_dict_non_rule(self):
        """rule_to_dict refuses a non-rule."""
        with pytest.raises(TypeError, match=r"not a segment rule"):
            rule_to_dict("age > 3")


class TestDiscoveredSegment:
    def test_best_treatment(self):
        """The best treatment is the most probable one."""
        assert segment().best_treatment == "B"
        assert segment(arm_best_probabilities={}).best_treatment is None

    def test_nan_stability_allowed(self):
        """A NaN stability score means 'not computed'."""
        assert math.isnan(segment(stability_score=math.nan).stability_score)

    @pytest.mark.parametrize(
        ("field", "value", "match"),
        [
            ("gate_ci", (0.7, 0.1), "gate_ci=.*low > high"),
            ("gate_ci", [0.1, 0.7], "gate_ci=.*tuple"),
            ("stability_score", 1.5, "stability_score=1.5"),
            ("population_share", -0.1, "population_share=-0.1"),
            ("arm_best_probabilities", {"A": 0.5, "B": 0.6}, "sum to 1.1"),
        ],
    )
    def test_bad_values(self, field, value, match):
        """Bad values are refused, naming the field."""
        with pytest.raises(ValueError, match=match):
            segment(**{field: value})


class TestDecompositionSamples:
    def test_shapes(self):
        """All channels must share revenue's (S, K-1) shape."""
        ok = np.zeros((5, 2))
        DecompositionSamples(treatments=("B", "C"), revenue=ok, conversion=ok, basket=ok,
                             conversion_rate_effect=ok, basket_size_effect=ok)
        with pytest.raises(AlignmentViolation, match=r"basket has shape"):
            DecompositionSamples(treatments=("B", "C"), revenue=ok, conversion=ok,
                                 basket=np.zeros((5, 1)), conversion_rate_effect=ok,
                                 basket_size_effect=ok)
        with pytest.raises(AlignmentViolation, match=r"expected \(S, 1\)"):
            DecompositionSamples(treatments=("B",), revenue=ok, conversion=ok, basket=ok,
                                 conversion_rate_effect=ok, basket_size_effect=ok)


class TestDecisionThresholds:
    def test_defaults(self):
        """Defaults follow the spec's expected-loss rule."""
        t = DecisionThresholds()
        assert (t.loss_tolerance, t.p_positive, t.p_better) == (0.005, 0.95, 0.80)
        assert (t.p_harm, t.p_futility, t.min_practical_effect) == (0.90, 0.05, 0.02)

    @pytest.mark.parametrize(
        ("field", "value", "match"),
        [
            ("p_positive", 1.0, r"p_positive=1.0 must be a probability in \(0, 1\)"),
            ("p_harm", 0.0, "p_harm=0.0"),
            ("loss_tolerance", 0.0, "loss_tolerance=0.0 must be positive"),
            ("min_practical_effect", -0.1, "min_practical_effect=-0.1"),
            ("p_futility", 0.9, "p_futility=0.9 must be below p_better"),
        ],
    )
    def test_bad_values(self, field, value, match):
        """Bad thresholds are refused, naming the field."""
        with pytest.raises(ValueError, match=match):
            DecisionThresholds(**{field: value})

    def test_frozen(self):
        """Contracts are frozen."""
        with pytest.raises(dataclasses.FrozenInstanceError):
            DecisionThresholds().p_harm = 0.5

    @pytest.mark.parametrize(
        ("evidence", "ships"),
        [
            ((0.004, 0.96, 0.81), True),
            ((0.005, 0.96, 0.81), False),  # every bound is strict
            ((0.004, 0.95, 0.81), False),
            ((0.004, 0.96, 0.80), False),
        ],
    )
    def test_ships(self, evidence, ships):
        """The SHIP gate needs all three conditions, each strictly, at the spec's defaults."""
        assert DecisionThresholds().ships(*evidence) is ships


class TestPassesShipGate:
    def test_own_thresholds(self):
        """The gate reads the thresholds it is given, not the defaults."""
        evidence = (0.01, 0.9, 0.7)
        assert passes_ship_gate(*evidence, loss_tolerance=0.02, min_p_positive=0.8,
                                min_p_better=0.6)
        assert not passes_ship_gate(*evidence, loss_tolerance=0.005, min_p_positive=0.8,
                                    min_p_better=0.6)


class TestRecommendationSummary:
    @pytest.mark.parametrize(
        ("field", "value", "match"),
        [
            ("decision", "SHIP", "decision must be a Decision"),
            ("p_better", 1.2, "p_better=1.2"),
            ("expected_loss", -0.1, "expected_loss=-0.1"),
        ],
    )
    def test_bad_values(self, field, value, match):
        """Bad values are refused, naming the field."""
        assert recommendation().decision is Decision.SHIP
        with pytest.raises(ValueError, match=match):
            recommendation(**{field: value})


class TestComparisonResult:
    def build(self, **kwargs) -> ComparisonResult:
        """A valid comparison of B against A."""
        args = {"treatment": "B", "control": "A", "effect": 0.2, "effect_ci": (0.05, 0.35),
                "relative_effect": 0.1, "level": 0.8, "p_best": 0.9,
                "recommendation": recommendation()}
        return ComparisonResult(**{**args, **kwargs})

    @pytest.mark.parametrize(
        ("field", "value", "match"),
        [
            ("effect_ci", (0.35, 0.05), "effect_ci=.*low > high"),
            ("level", 1.0, "level=1.0"),
            ("p_best", -0.5, "p_best=-0.5"),
        ],
    )
    def test_bad_values(self, field, value, match):
        """Bad values are refused, naming the field."""
        assert self.build().effect == 0.2
        with pytest.raises(ValueError, match=match):
            self.build(**{field: value})


class TestAnalysisResult:
    def build(self, **kwargs) -> AnalysisResult:
        """A minimal valid analysis result."""
        args = {"posterior": None, "cate_per_visitor": pd.DataFrame(), "segments": [],
                "comparisons": [], "recommendations": {}, "claim_level": ClaimLevel.UNCALIBRATED,
                "calibrated": False}
        return AnalysisResult(**{**args, **kwargs})

    def test_sequences_become_tuples(self):
        """Segments and comparisons are stored as tuples."""
        result = self.build()
        assert result.segments == () and result.comparisons == ()

    def test_contradictory_calibration(self):
        """calibrated=True with an UNCALIBRATED claim is refused."""
        with pytest.raises(ValueError, match=r"contradicts"):
            self.build(calibrated=True)

    def test_bad_level(self):
        """The interval level must be in (0, 1)."""
        with pytest.raises(ValueError, match=r"level=0.0"):
            self.build(level=0.0)


class TestPolicyTreeResult:
    def build(self, **kwargs) -> PolicyTreeResult:
        """A one-leaf policy tree result."""
        args = {"tree": None, "segments": [segment(id=1)],
                "allocation_map": {1: {"A": 0.4, "B": 0.6}}, "stability_scores": {1: 0.9},
                "observed": observed()}
        return PolicyTreeResult(**{**args, **kwargs})

    def test_valid(self):
        """A consistent result builds."""
        assert self.build().segments[0].id == 1

    def test_leaf_order(self):
        """Segments must be ordered by leaf id."""
        with pytest.raises(ValueError, match=r"ordered by leaf id, got \[2, 1\]"):
            self.build(segments=[segment(id=2), segment(id=1)],
                       allocation_map={1: {"A": 1.0}, 2: {"A": 1.0}},
                       stability_scores={1: 1.0, 2: 1.0})

    def test_leaf_sets(self):
        """Allocation, stability and segments must cover the same leaves."""
        with pytest.raises(ValueError, match=r"same leaves"):
            self.build(stability_scores={3: 0.9})

    def test_allocation_sums(self):
        """Each leaf's allocation must sum to 1."""
        with pytest.raises(ValueError, match=r"leaf 1 sums to 0.5"):
            self.build(allocation_map={1: {"A": 0.2, "B": 0.3}})


class TestCalibrationRecord:
    def build(self, **kwargs) -> CalibrationRecord:
        """A valid record at two nominal levels."""
        args = {"template": "constant", "metric": "continuous", "n_visitors": 100,
                "n_treatments": 2, "seed": 0, "pooling": "none", "nominal_levels": (0.5, 0.8),
                "segment_coverage": (0.45, 0.78), "arm_coverage": (0.5, math.nan),
                "decision_correct": 1.0, "regret": 0.0}
        return CalibrationRecord(**{**args, **kwargs})

    @pytest.mark.parametrize(
        ("field", "value", "match"),
        [
            ("metric", "gmv", "'gmv'"),
            ("segment_coverage", (0.5,), "equal lengths"),
            ("nominal_levels", (0.5, 1.0), "nominal level=1.0"),
            ("arm_coverage", (0.5, 1.2), "coverage=1.2"),
            ("n_visitors", 0, "n_visitors must be positive"),
            ("n_treatments", 1, "n_treatments must be >= 2"),
        ],
    )
    def test_bad_values(self, field, value, match):
        """Bad values are refused, naming the field."""
        assert self.build().n_visitors == 100
        with pytest.raises(ValueError, match=match):
            self.build(**{field: value})
