"""Shared pieces of the fuzz suites: the base frame, and what counts as a clean outcome.

A clean error is one pytyche raises on purpose (a :class:`~pytyche.errors.PytycheError`), a
``FileNotFoundError`` for a path that does not exist, or a ``TypeError`` / ``ValueError`` for
an argument of the wrong type or value, always with a message. Anything else (``KeyError``,
``AttributeError``, ``RecursionError``, pyarrow or zip errors, ...) is a crash.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from pytyche.errors import PytycheError

N = 30


def base_frame(n: int = N, seed: int = 0) -> pd.DataFrame:
    """Two arms, a continuous outcome, a numeric and a categorical feature."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "arm": np.array(["control", "B"])[np.arange(n) % 2],
        "y": rng.normal(10.0, 2.0, n).round(3),
        "x": rng.normal(size=n).round(4),
        "g": rng.choice(["web", "app", "tablet"], n),
    })


def is_clean(err: BaseException) -> bool:
    """Whether ``err`` is an intended, explained error rather than a crash."""
    if not str(err).strip():
        return False
    if isinstance(err, PytycheError | FileNotFoundError):
        return True
    return type(err) in (TypeError, ValueError)


def run(fn: Callable[[], Any]) -> tuple[str, Any]:
    """``("accept", value)`` or ``("error", exception)``; a crash fails the calling test."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return "accept", fn()
        except Exception as err:
            if not is_clean(err):
                raise AssertionError(f"crash instead of a clean error: {type(err).__name__}: "
                                     f"{err}") from err
            return "error", err
