"""segment_effects: operator-declared segments with the rule algebra."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _analysis_helpers import categorical_posterior

from pytyche.analysis import compare_variants, segment_effects
from pytyche.contracts import ComparisonRule, Decision, EqRule, InRule
from pytyche.errors import SchemaViolation

MOBILE_RETURNING = EqRule(feature="device", value="mobile") & EqRule(feature="returning", value=1)
NOT_RETURNING_OR_DESKTOP = EqRule(feature="returning", value=0) | EqRule(
    feature="device", value="desktop"
)


@pytest.fixture(scope="module")
def post():
    return categorical_posterior(n=1200)


class TestSegmentEffects:
    def test_conjunction_and_disjunction(self, post) -> None:
        """Each declared segment gets its members, best arm, P(best) and decisions."""
        out = segment_effects(
            post,
            {"mobile returning": MOBILE_RETURNING, "others": NOT_RETURNING_OR_DESKTOP},
            first_id=10,
        )
        frame = post.observed.visitors()
        (mr, others) = out
        assert (mr.name, mr.segment.id, others.segment.id) == ("mobile returning", 10, 11)
        assert mr.segment.n_visitors == int(MOBILE_RETURNING.mask(frame).sum())
        assert others.segment.n_visitors == int(NOT_RETURNING_OR_DESKTOP.mask(frame).sum())
        assert mr.segment.best_treatment == "B" and others.segment.best_treatment == "C"
        b, c = mr.comparisons
        assert b.recommendation.decision == Decision.SHIP and b.segment_id == 10
        assert c.recommendation.decision != Decision.SHIP  # C equals control there
        assert mr.segment.gate_estimate == pytest.approx(1.0, abs=0.05)
        assert math.isnan(mr.segment.stability_score)
        for seg in out:
            assert sum(seg.allocation.values()) == pytest.approx(1.0)
            assert sum(seg.segment.arm_best_probabilities.values()) == pytest.approx(1.0)

    def test_same_numbers_as_compare_variants(self, post) -> None:
        """Declared segments use the same interval machinery as compare_variants."""
        rule = InRule(feature="device", values=("mobile", "tablet"))
        (seg,) = segment_effects(post, [rule], level=0.9)
        assert seg.comparisons == compare_variants(post, rule, level=0.9, segment_id=0)
        assert seg.name == rule.describe()

    def test_segments_may_overlap(self, post) -> None:
        """Overlapping segments are each analysed on all their members."""
        wide = ComparisonRule(feature="x0", op=">", value=-0.5)
        narrow = ComparisonRule(feature="x0", op=">", value=0.0)
        a, b = segment_effects(post, [wide, narrow])
        assert a.segment.n_visitors > b.segment.n_visitors
        assert a.segment.population_share + b.segment.population_share > 1.0

    def test_empty_segment_refused(self, post) -> None:
        """A segment that matches nobody is refused, naming it."""
        with pytest.raises(ValueError, match=r"'ghosts'.*matches no visitor"):
            segment_effects(post, {"ghosts": EqRule(feature="device", value="watch")})

    def test_unknown_feature_refused(self, post) -> None:
        """A rule on a column the data lacks raises SchemaViolation."""
        with pytest.raises(SchemaViolation, match="browser"):
            segment_effects(post, [EqRule(feature="browser", value="x")])

    def test_no_rules_refused(self, post) -> None:
        """At least one segment must be declared."""
        with pytest.raises(ValueError, match="rules is empty"):
            segment_effects(post, {})

    def test_non_rule_refused(self, post) -> None:
        """Only SegmentRules are accepted."""
        with pytest.raises(TypeError, match="not a SegmentRule"):
            segment_effects(post, {"bad": np.ones(3)})  # type: ignore[dict-item]
