"""Typed errors and warnings raised by pytyche.

Every message names the offending column, field or value and says how to fix it.
"""

from __future__ import annotations

__all__ = [
    "AlignmentViolation",
    "JaxPrecisionError",
    "PytycheError",
    "PytycheWarning",
    "SchemaViolation",
    "SourceError",
    "StoreError",
    "UncalibratedWarning",
]


class PytycheError(Exception):
    """Base of every error pytyche raises on purpose (the CLI prints it without a traceback)."""


class SchemaViolation(PytycheError, ValueError):
    """Visitor data does not have the shape pytyche needs (columns, dtypes, values, arms)."""


class AlignmentViolation(PytycheError, ValueError):
    """Per-visitor arrays disagree on visitor count or order."""


class StoreError(PytycheError, ValueError):
    """An experiment store or a saved posterior on disk is missing, corrupted, or belongs to
    another experiment; the message names the file and how to recover."""


class SourceError(PytycheError, OSError):
    """A data file, database or output folder cannot be read or written (permissions, a
    folder where a file was expected, a damaged compressed file, an unknown ``~user``)."""


class JaxPrecisionError(PytycheError, RuntimeError):
    """JAX runs in 64-bit mode (``jax_enable_x64``), but the BCF engine is float32 throughout.

    Turn it off before fitting: ``jax.config.update('jax_enable_x64', False)``, or unset
    ``JAX_ENABLE_X64``.
    """


class PytycheWarning(UserWarning):
    """Base class of pytyche's warnings."""


class UncalibratedWarning(PytycheWarning):
    """Intervals come from a posterior with no coverage correction applied.

    Pass a :class:`pytyche.Calibration` (for example ``Calibration.from_sweep(...)``) to correct
    interval coverage, or ``Calibration.skip()`` to accept uncorrected intervals knowingly.
    """
