"""The leaderboard: one row per treatment (overall, then per segment) with its decision.

Experiment platforms open their result pages with such a table; the CLI and the HTML report
both render this one, so the two can never disagree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

__all__ = ["GATE_LABELS", "INTERVAL_NOTES", "comparisons_frame", "leaderboard"]

#: How each gate reads in a table.
GATE_LABELS = {"ship": "SHIP gate", "harm": "STOP: harm", "futility": "STOP: futility",
               "none": "no gate"}

#: What the decision interval is, per ``ComparisonResult.method``.
INTERVAL_NOTES = {
    "normal": ("design-based: AIPW estimate with the known assignment probabilities and a "
               "cross-fitted BCF outcome model, normal interval"),
    "bootstrap-t": ("design-based: AIPW estimate with the known assignment probabilities and "
                    "a cross-fitted BCF outcome model, studentised bootstrap interval"),
    "confidence sequence": ("design-based: AIPW estimate, anytime-valid confidence sequence "
                            "(valid at every round, however often you look)"),
    "posterior": "model-based: BCF posterior credible interval",
}


def leaderboard(analysis: Any) -> pd.DataFrame:
    """Per treatment, overall and then per segment: effect, decision interval, P(best),
    decision and the gate that fired, with the model-based effect beside a design-based one.

    Parameters
    ----------
    analysis : AnalysisResult

    Returns
    -------
    pandas.DataFrame
        Columns ``scope`` ("all visitors" or "S<id>: <rule>"), ``segment_id``,
        ``treatment``, ``effect``, ``low``, ``high`` (the interval decisions use, at
        ``analysis.level``), ``relative_effect``, ``p_best``, ``decision``, ``gate``,
        ``p_positive``, ``p_harmful``, ``n_claims``, ``basis``, ``method``, ``model_effect``,
        ``model_low``, ``model_high``, ``evidence`` (the decision's rationale); sorted
        within each scope by effect, best first.
    """
    rules = {s.id: s.rule.describe() for s in analysis.segments}
    rows = []
    for c in analysis.comparisons:
        r = c.recommendation
        model_ci = c.model_ci if c.model_ci is not None else (math.nan, math.nan)
        rows.append({
            "scope": "all visitors" if c.segment_id is None
            else f"S{c.segment_id}: {rules.get(c.segment_id, '')}",
            **_decision_columns(c),
            "gate": GATE_LABELS[r.gate],
            "p_positive": r.p_positive,
            "p_harmful": r.p_harmful,
            "n_claims": r.n_claims,
            "basis": c.basis,
            "method": c.method,
            "model_effect": c.model_effect if c.model_effect is not None else c.effect,
            "model_low": model_ci[0] if c.model_ci is not None else c.effect_ci[0],
            "model_high": model_ci[1] if c.model_ci is not None else c.effect_ci[1],
            "evidence": r.rationale,
        })
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame["_order"] = frame["segment_id"].fillna(-1)
    frame = frame.sort_values(["_order", "effect"], ascending=[True, False], kind="stable")
    return frame.drop(columns="_order").reset_index(drop=True)


def comparisons_frame(comparisons: Sequence[Any]) -> pd.DataFrame:
    """One row per comparison, in the given order: the leaderboard's decision columns, the
    decision's basis and the raw model-based effect (``None`` where there is none)."""
    return pd.DataFrame([{**_decision_columns(c), "basis": c.basis,
                          "model_effect": c.model_effect} for c in comparisons])


def _decision_columns(c: Any) -> dict[str, Any]:
    """The columns every comparison table opens with: where, what, how much, and the call."""
    return {
        "segment_id": c.segment_id,
        "treatment": c.treatment,
        "effect": c.effect,
        "low": c.effect_ci[0],
        "high": c.effect_ci[1],
        "relative_effect": c.relative_effect,
        "p_best": c.p_best,
        "decision": c.recommendation.decision.value,
    }
