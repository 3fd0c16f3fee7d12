"""The specification's home of treatment comparison: ``pytyche.compare.variants``.

The functions are implemented in :mod:`pytyche.analysis` (``pytyche.analysis._compare``) and
re-exported unchanged; see :mod:`pytyche.compare.variants`.
"""

from pytyche.compare.variants import compare_variants, decompose_effects, recommendation_summary

__all__ = ["compare_variants", "decompose_effects", "recommendation_summary"]
