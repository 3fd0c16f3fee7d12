"""Validation helpers shared by the contract modules: one message style, one place."""

from __future__ import annotations

import math

import numpy as np


def require(ok: bool, msg: str, error: type[Exception] = ValueError) -> None:
    if not ok:
        raise error(msg)


def check_probability(owner: str, name: str, value: float, *, open_interval: bool = False) -> None:
    finite = isinstance(value, (int, float, np.floating)) and math.isfinite(value)
    inside = 0.0 < value < 1.0 if open_interval and finite else finite and 0.0 <= value <= 1.0
    bounds = "(0, 1)" if open_interval else "[0, 1]"
    require(bool(inside), f"{owner}: {name}={value!r} must be a probability in {bounds}")


def check_interval(owner: str, name: str, ci: tuple[float, float]) -> None:
    require(
        isinstance(ci, tuple) and len(ci) == 2,
        f"{owner}: {name}={ci!r} must be a (low, high) tuple",
    )
    low, high = ci
    require(
        not (math.isfinite(low) and math.isfinite(high)) or low <= high,
        f"{owner}: {name}={ci!r} has low > high; pass (low, high)",
    )

