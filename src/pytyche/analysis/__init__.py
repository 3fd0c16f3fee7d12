"""Analysis: turn a BCF posterior into what a user acts on.

Per-visitor effects with credible intervals, policy-tree segments with bootstrap stability,
Thompson allocations per segment, SHIP / CONTINUE / STOP decisions per treatment (overall and
per segment), operator-declared segments, policy export (assignment, JSON, SQL) and, in sim
mode, the comparison with the planted truth.

Every function reads a posterior only through its array interface (``observed``,
``treatments``, ``metric_family``, ``level_samples()``, ``has_decomposition()``,
``p_samples``, ``sev_samples``, ``calibration``), so any object providing it can be analysed.
"""

from pytyche.analysis._analyze import (
    MIN_CONVERTERS_PER_ARM,
    MIN_VISITORS_PER_ARM,
    analyze,
    claim_level,
    has_credible_segments,
)
from pytyche.analysis._compare import (
    compare_variants,
    decompose_effects,
    recommendation_summary,
)
from pytyche.analysis._design import (
    DesignScores,
    aipw_scores,
    arm_mean_scores,
    assignment_probabilities,
    crossfit_scores,
    sequential_scores,
)
from pytyche.analysis._export import (
    ExportedPolicy,
    assign,
    policy_from_json,
    policy_to_json,
    policy_to_sql,
)
from pytyche.analysis._inference import DesignInference, EffectInference
from pytyche.analysis._intervals import credible_interval
from pytyche.analysis._leaderboard import (
    GATE_LABELS,
    INTERVAL_NOTES,
    comparisons_frame,
    leaderboard,
)
from pytyche.analysis._policy_tree import (
    JACCARD_MATCH,
    fit_policy_tree,
    leaf_rules,
    split_path_rule,
)
from pytyche.analysis._segments import SegmentEffects, segment_effects
from pytyche.analysis._thompson import DEFAULT_EPSILON, prob_best, thompson_allocation
from pytyche.analysis._truth import (
    RoundRegret,
    TruthComparison,
    allocation_regret,
    evaluate_against_truth,
    loop_regret,
)
from pytyche.bcf.results import provide as _provide

__all__ = [
    "DEFAULT_EPSILON",
    "GATE_LABELS",
    "INTERVAL_NOTES",
    "JACCARD_MATCH",
    "MIN_CONVERTERS_PER_ARM",
    "MIN_VISITORS_PER_ARM",
    "DesignInference",
    "DesignScores",
    "EffectInference",
    "ExportedPolicy",
    "RoundRegret",
    "SegmentEffects",
    "TruthComparison",
    "aipw_scores",
    "allocation_regret",
    "analyze",
    "arm_mean_scores",
    "assign",
    "assignment_probabilities",
    "claim_level",
    "compare_variants",
    "comparisons_frame",
    "credible_interval",
    "crossfit_scores",
    "decompose_effects",
    "evaluate_against_truth",
    "fit_policy_tree",
    "has_credible_segments",
    "leaderboard",
    "leaf_rules",
    "loop_regret",
    "policy_from_json",
    "policy_to_json",
    "policy_to_sql",
    "prob_best",
    "recommendation_summary",
    "segment_effects",
    "sequential_scores",
    "split_path_rule",
    "thompson_allocation",
]

# The shortcuts on a posterior (posterior.summary(), .analyze(), ...) call these; bcf sits
# below this layer and never imports it (see pytyche.bcf.results.provide).
_provide(
    analyze=analyze,
    credible_interval=credible_interval,
    decompose_effects=decompose_effects,
    fit_policy_tree=fit_policy_tree,
    has_credible_segments=has_credible_segments,
)
