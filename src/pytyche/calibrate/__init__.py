"""Calibration: measured interval coverage and the correction that restores it.

BART posteriors tend to under-cover. A coverage *sweep* simulates many experiments with known
truth, fits them and records how often each nominal interval covered the truth
(:func:`run_sweep`, scored by :mod:`pytyche.calibrate.sbc`). A
:class:`LayeredCalibrationCorrection` maps nominal level to measured coverage and back, and a
:class:`Calibration` pairs it with the regime (metric, number of treatments, pooling) it was
measured in. Shipped artifacts load by name (:func:`available_artifacts`).

Importing this package loads neither JAX, bartz, matplotlib nor Ray; sweeps load them in the
workers that fit.
"""

from __future__ import annotations

from pytyche.bcf.results import provide as _provide
from pytyche.calibrate.artifact import (
    ARTIFACT_FORMAT,
    Calibration,
    artifact_path,
    available_artifacts,
)
from pytyche.calibrate.correction import LayeredCalibrationCorrection
from pytyche.calibrate.sweep import (
    DEFAULT_NOMINAL_LEVELS,
    SweepEntry,
    SweepResults,
    SweepTask,
    read_sweep,
    run_sweep,
    run_task,
)
from pytyche.calibrate.workflow import run_calibrate

__all__ = [
    "ARTIFACT_FORMAT",
    "DEFAULT_NOMINAL_LEVELS",
    "Calibration",
    "LayeredCalibrationCorrection",
    "SweepEntry",
    "SweepResults",
    "SweepTask",
    "artifact_path",
    "available_artifacts",
    "read_sweep",
    "run_calibrate",
    "run_sweep",
    "run_task",
]

# A saved posterior's calibration loads through this; bcf sits below this layer and never
# imports it (see pytyche.bcf.results.provide).
_provide(calibration_from_dict=Calibration.from_dict)
