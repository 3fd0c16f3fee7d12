"""Compare each treatment with control, and turn one comparison into a decision.

The specification places these in ``compare.variants``; they are implemented in
``pytyche.analysis._compare`` and re-exported here as the very same functions (same objects,
same signatures), so either import path gives identical results:

- :func:`compare_variants` — per treatment against control on a posterior (optionally within
  a segment): a :class:`~pytyche.contracts.ComparisonResult` per treatment with lift
  intervals and the decision evidence.
- :func:`recommendation_summary` — effect draws and control-mean draws to a
  :class:`~pytyche.contracts.RecommendationSummary`: SHIP when the expected loss is below
  tolerance and the lift is both probably positive and probably meaningful, STOP on probable
  harm or futility, CONTINUE otherwise (thresholds in
  :class:`~pytyche.contracts.DecisionThresholds`).
- :func:`decompose_effects` — the hurdle split of a revenue effect into conversion and
  basket-size parts.
"""

from pytyche.analysis._compare import compare_variants, decompose_effects, recommendation_summary

__all__ = ["compare_variants", "decompose_effects", "recommendation_summary"]
