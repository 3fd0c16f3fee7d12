"""How values appear in error messages."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["shown"]


def shown(value: Any) -> str:
    """``repr`` of a value with NumPy scalars shown as plain Python ones (``2``, not
    ``np.int64(2)``)."""
    return repr(value.item() if isinstance(value, np.generic) else value)
