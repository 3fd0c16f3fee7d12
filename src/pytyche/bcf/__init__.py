"""Bayesian Causal Forests on bartz: continuous, binary (probit) and hurdle outcomes, K arms.

Importing this package does not import JAX; the fit functions load it on first use.

Public fits take :class:`~pytyche.contracts.ObservedExperimentData` (``fit``,
``fit_continuous_bcf``, ``fit_binary_bcf``, ``fit_hurdle_bcf``) and return a result that keeps
the data. The ``fit_*_arrays`` functions are the engine underneath, on encoded arrays.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pytyche.bcf.config import GPUBCFConfig, compute_num_trees_tau

if TYPE_CHECKING:
    from pytyche.bcf._arrays import (
        BCFFit,
        fit_binary_arrays,
        fit_continuous_arrays,
        fit_hurdle_arrays,
    )
    from pytyche.bcf._draws import ForestDraws
    from pytyche.bcf._runtime import (
        check_jax_precision,
        enable_compilation_cache,
        request_compilation_cache,
    )
    from pytyche.bcf.dispatch import (
        fit,
        fit_binary_bcf,
        fit_continuous_bcf,
        fit_for_metric,
        fit_hurdle_bcf,
        select_family,
    )
    from pytyche.bcf.results import (
        BinaryBCFResult,
        ContinuousBCFResult,
        HurdleBCFResult,
        load_result,
    )

_LAZY = {
    "BCFFit": "pytyche.bcf._arrays",
    "fit_binary_arrays": "pytyche.bcf._arrays",
    "fit_continuous_arrays": "pytyche.bcf._arrays",
    "fit_hurdle_arrays": "pytyche.bcf._arrays",
    "ForestDraws": "pytyche.bcf._draws",
    "check_jax_precision": "pytyche.bcf._runtime",
    "enable_compilation_cache": "pytyche.bcf._runtime",
    "request_compilation_cache": "pytyche.bcf._runtime",
    "fit": "pytyche.bcf.dispatch",
    "fit_binary_bcf": "pytyche.bcf.dispatch",
    "fit_continuous_bcf": "pytyche.bcf.dispatch",
    "fit_for_metric": "pytyche.bcf.dispatch",
    "fit_hurdle_bcf": "pytyche.bcf.dispatch",
    "select_family": "pytyche.bcf.dispatch",
    "BinaryBCFResult": "pytyche.bcf.results",
    "ContinuousBCFResult": "pytyche.bcf.results",
    "HurdleBCFResult": "pytyche.bcf.results",
    "load_result": "pytyche.bcf.results",
}

__all__ = [
    "BCFFit",
    "BinaryBCFResult",
    "ContinuousBCFResult",
    "ForestDraws",
    "GPUBCFConfig",
    "HurdleBCFResult",
    "check_jax_precision",
    "compute_num_trees_tau",
    "enable_compilation_cache",
    "fit",
    "fit_binary_arrays",
    "fit_binary_bcf",
    "fit_continuous_arrays",
    "fit_continuous_bcf",
    "fit_for_metric",
    "fit_hurdle_arrays",
    "fit_hurdle_bcf",
    "load_result",
    "request_compilation_cache",
    "select_family",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    msg = f"module 'pytyche.bcf' has no attribute {name!r}"
    raise AttributeError(msg)
