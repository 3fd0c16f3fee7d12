"""pytyche: adaptive A/B/N experiments with heterogeneous treatment effects.

Fit a Bayesian Causal Forest to visitor data, find the segments where treatments differ, split
the next round's traffic by Thompson sampling, and decide SHIP / CONTINUE / STOP per treatment.

The public names below are loaded on first use, so ``import pytyche`` stays fast and does not
import JAX, bartz or matplotlib.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# Public name -> module that defines it. One table, so `dir(pytyche)` and the lazy loader agree.
_EXPORTS: dict[str, str] = {
    # contracts and errors
    **{
        name: "pytyche.contracts"
        for name in (
            "AlignedVisitorArray", "AllOf", "AnalysisResult", "AnyOf", "BetweenRule",
            "CalibrationBundle", "CalibrationRecord", "CalibrationTruth", "ClaimLevel",
            "ComparisonResult", "ComparisonRule", "Decision", "DecisionThresholds",
            "DecompositionSamples", "DiscoveredSegment", "EqRule", "InRule", "MetricFamily",
            "ObservedExperimentData", "PolicyTreeResult", "RecommendationSummary",
            "VariantData", "VisitorSchema",
        )
    },
    **{
        name: "pytyche.errors"
        for name in ("AlignmentViolation", "PytycheError", "SchemaViolation",
                     "UncalibratedWarning")
    },
    **{
        name: "pytyche.data"
        for name in ("encode_new_visitors", "from_dataframe", "read_csv", "read_parquet",
                     "read_sql")
    },
    **{
        name: "pytyche.bcf"
        for name in ("BinaryBCFResult", "ContinuousBCFResult", "GPUBCFConfig", "HurdleBCFResult",
                     "compute_num_trees_tau", "fit", "fit_binary_bcf", "fit_continuous_bcf",
                     "fit_hurdle_bcf", "load_result")
    },
    **{
        name: "pytyche.analysis"
        for name in ("TruthComparison", "analyze", "compare_variants", "credible_interval",
                     "evaluate_against_truth", "fit_policy_tree", "recommendation_summary",
                     "segment_effects", "thompson_allocation")
    },
    **{
        name: "pytyche.experiment"
        for name in ("BaselinePolicy", "Cell", "ExplicitSchedule", "FixedSchedule",
                     "GeometricSchedule", "NextRoundPlan", "SequentialExperiment",
                     "ThompsonPolicy", "TreePolicy", "UniformPolicy", "real_data_generator",
                     "sequential_experiment", "simulated_experiment_generator")
    },
    "simulate": "pytyche.generators",
    "Calibration": "pytyche.calibrate",
    "LayeredCalibrationCorrection": "pytyche.calibrate",
    "StoreError": "pytyche.errors",
    "SetupReport": "pytyche._setup",
    "check_setup": "pytyche._setup",
    "enable_compilation_cache": "pytyche.bcf",
}

_SUBMODULES = frozenset(
    {"analysis", "bcf", "calibrate", "compare", "contracts", "data", "errors", "experiment",
     "generators", "viz"}
)

__all__ = sorted(_EXPORTS)


def load_layers() -> None:
    """Import the analysis and calibration layers.

    They register the functions behind a posterior's shortcuts (``summary``, ``analyze``,
    ``fit_policy_tree``, ``has_credible_segments``, ``decomposition``, loading a saved
    calibration) with :mod:`pytyche.bcf.results`, which calls this on first use: the model
    layer never imports the layers above it, and this root, which sits above all of them,
    wires them together.
    """
    importlib.import_module("pytyche.analysis")
    importlib.import_module("pytyche.calibrate")


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"pytyche.{name}")
    msg = f"module 'pytyche' has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS, *_SUBMODULES})
