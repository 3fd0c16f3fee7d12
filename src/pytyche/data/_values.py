"""How values and rows appear in error messages."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["first_row", "shown"]


def shown(value: Any) -> str:
    """``repr`` of a value with NumPy scalars shown as plain Python ones (``2``, not
    ``np.int64(2)``)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def first_row(mask: np.ndarray) -> int:
    """Position of the first ``True`` of a boolean mask (the row an error message names);
    call it only when ``mask.any()``."""
    return int(np.flatnonzero(mask)[0])
