"""Preprocessing before a BCF fit: the arm contrast basis, input checks, feature binning.

This is the module the specification names for the (K − 1)-column contrast coding
(``_compute_basis``). The code lives in :mod:`pytyche.bcf._preprocess`, next to the binning
and row layout that use it, and is re-exported here unchanged::

    >>> import numpy as np
    >>> from pytyche.bcf.preprocess import _compute_basis
    >>> _compute_basis(np.array([0, 1, 2, 0])).shape
    (4, 2)

The engine does not multiply a dense basis into the τ forests; :func:`prepare` turns each
basis column into the list of rows it selects (``Prepared.arm_index``), which gives the same
sums at the cost of the treated rows only.
"""

from __future__ import annotations

from pytyche.bcf._preprocess import (
    MAX_ARMS,
    Binning,
    Prepared,
    _compute_basis,
    bucket_size,
    min_visitors_per_arm,
    prepare,
    standardize,
    validate_inputs,
)

__all__ = [
    "MAX_ARMS",
    "Binning",
    "Prepared",
    "_compute_basis",
    "bucket_size",
    "min_visitors_per_arm",
    "prepare",
    "standardize",
    "validate_inputs",
]
