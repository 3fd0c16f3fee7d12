"""The hurdle BCF for zero-inflated revenue: conversion (probit) times basket (log-normal).

``fit_hurdle_bcf`` (re-exported here from :mod:`pytyche.bcf.dispatch`, where the public fits
share their input handling) chooses one of two paths by ``pooling``:

- :mod:`pytyche.bcf.hurdle.model` — ``pooling="joint"``: both channels grow the same trees;
- :mod:`pytyche.bcf.hurdle.compose` — ``pooling="independent"``: a probit BCF and a Gaussian
  BCF on converters, fitted apart and composed draw by draw.

Importing this package does not import JAX.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytyche.bcf.dispatch import fit_hurdle_bcf
    from pytyche.bcf.results import HurdleBCFResult

__all__ = ["HurdleBCFResult", "fit_hurdle_bcf"]

_LAZY = {"fit_hurdle_bcf": "pytyche.bcf.dispatch", "HurdleBCFResult": "pytyche.bcf.results"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    msg = f"module 'pytyche.bcf.hurdle' has no attribute {name!r}"
    raise AttributeError(msg)
