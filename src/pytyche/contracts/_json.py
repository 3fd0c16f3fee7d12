"""JSON-ready scalars: numpy scalars stored as the Python values they hold."""

from __future__ import annotations

from typing import Any

import numpy as np


def json_scalar(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value

