"""What the loop says about itself: the prose summary and the JSON-ready report.

Both read only the experiment's public state, so they describe what a caller can see.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from pytyche.experiment.sequential import SequentialExperiment

__all__ = ["experiment_report", "experiment_summary"]


def experiment_summary(loop: SequentialExperiment) -> str:
    """Deterministic prose about the experiment so far (``SequentialExperiment.summary``)."""
    if not loop.history:
        return (f"No rounds completed yet. Treatments: {', '.join(loop.treatments)}; each "
                "next(exp) or advance() runs one round.")
    latest = loop.history[-1]
    plan = latest.next_recommendation
    assert plan is not None
    paragraphs = [
        f"{len(loop.history)} round(s) completed; confidence is {loop.confidence}. "
        f"Latest {latest.summary_one_line()}",
        plan.prose_summary,
    ]
    if candidates := loop.graduation_candidates():
        listed = "; ".join(f"{c.treatment} (segment {c.segment.id})" for c in candidates)
        paragraphs.append(f"Ready to graduate: {listed}.")
    if gone := loop.dropped_treatments():
        paragraphs.append("No longer tested: " + ", ".join(gone) + ".")
    return "\n\n".join(paragraphs)


def experiment_report(loop: SequentialExperiment) -> dict[str, Any]:
    """JSON-ready record of every completed round (``SequentialExperiment.report``)."""
    rounds = []
    for exp, rnd in zip(loop.history, loop.rounds, strict=True):
        plan = exp.next_recommendation
        entry: dict[str, Any] = {
            "round": exp.round_idx,
            "n_visitors": rnd.n_visitors,
            "cells": [{"id": c.id, "weight": c.weight, "policy": c.policy.describe()}
                      for c in exp.cells_shipped],
            "cell_observations": [o.to_dict() for o in exp.cell_observations],
            "next_plan": {
                "cells": {c.id: c.weight for c in plan.cells},
                "treatments": list(plan.treatments),
                "dropped_treatments": list(plan.dropped_treatments),
                "rationale": plan.prose_summary,
            } if plan is not None else None,
            "summary": exp.summary_one_line(),
        }
        if exp.analysis is not None:
            entry["decisions"] = {t: s.decision.value
                                  for t, s in exp.analysis.recommendations.items()}
            entry["comparisons"] = [
                {"treatment": c.treatment, "segment_id": c.segment_id, "effect": c.effect,
                 "effect_ci": list(c.effect_ci), "p_best": c.p_best,
                 "decision": c.recommendation.decision.value}
                for c in exp.analysis.comparisons
            ]
            entry["segments"] = [
                {"id": s.id, "rule": s.rule.describe(), "gate_estimate": s.gate_estimate,
                 "gate_ci": list(s.gate_ci), "stability_score": s.stability_score,
                 "population_share": s.population_share}
                for s in exp.analysis.segments
            ]
        tc = exp.truth_comparison
        if tc is not None:
            names = getattr(tc, "__dataclass_fields__", None) or dict(tc)
            entry["truth_comparison"] = {
                k: float(getattr(tc, k) if not isinstance(tc, dict) else tc[k]) for k in names
            }
        rounds.append(entry)
    return {"treatments": loop.treatments, "confidence": loop.confidence,
            "dropped_treatments": loop.dropped_treatments(),
            "graduation_candidates": [
                {"treatment": c.treatment, "segment": c.segment.id,
                 "rule": c.segment.rule.describe(), "sustained_rounds": c.sustained_rounds}
                for c in loop.graduation_candidates()],
            "summary": loop.summary, "rounds": rounds}
