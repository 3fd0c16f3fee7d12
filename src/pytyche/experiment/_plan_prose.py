"""The plan's plain-language rationale (``NextRoundPlan.prose_summary``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from pytyche.contracts import AnalysisResult
from pytyche.experiment._graduation import GraduationCandidate

__all__ = ["plan_prose"]


def plan_prose(
    *,
    round_idx: int,
    weights: tuple[float, float, float],
    optimized: Any,
    active: Sequence[str],
    dropped: Sequence[str],
    newly_dropped: Sequence[str],
    analysis: AnalysisResult,
    reinstated: Sequence[str] = (),
    candidates: Sequence[GraduationCandidate],
    evidence: float,
    p_better: float = math.nan,
) -> str:
    control, explore, opt = weights
    lines = [
        f"Plan for round {round_idx}: Control {control:.0%}, Explore {explore:.0%}, Optimized "
        f"{opt:.0%} ({optimized.describe()}); P(Optimized policy beats uniform) "
        f"{p_better:.2f}; segment evidence {evidence:.2f}.",
    ]
    decisions = "; ".join(
        f"{name} {summary.decision.value} (P(positive) {summary.p_positive:.2f}, expected loss "
        f"{summary.expected_loss:.4f})"
        for name, summary in analysis.recommendations.items()
    )
    if decisions:
        lines.append(f"Overall versus control: {decisions}.")
    lines.append(f"Active treatments: {', '.join(active)}.")
    if newly_dropped:
        lines.append(
            f"Dropped this round as clearly losing (P(harm) above threshold): "
            f"{', '.join(newly_dropped)}."
        )
    elif dropped:
        lines.append(f"Still dropped: {', '.join(dropped)}.")
    if reinstated:
        lines.append(f"Reinstated (P(harm) back under the threshold): {', '.join(reinstated)}.")
    sustained = [c for c in candidates if c.sustained_rounds >= 2]
    if sustained:
        pairs = "; ".join(f"{c.treatment} in segment {c.segment.id} ({c.segment.rule.describe()}, "
                          f"{c.sustained_rounds} rounds)" for c in sustained)
        lines.append(f"Graduation candidates for the operator to review: {pairs}.")
    elif candidates:
        lines.append(f"{len(candidates)} (treatment, segment) pair(s) cleared the graduation "
                     "rule for the first time; one more round decides.")
    return " ".join(lines)
